"""`seer-lua mcp` against the official MCP Python SDK (ClientSession + stdio_client).

The SDK spawns the server three ways: in-process (`seer-lua mcp tools.lua`), proxying `seer-lua
serve` over tcp with a token (`--connect`), and from a real sandbox, with the config that
`serve(..., {expose_as = "mcp"})` returned used verbatim. Each is driven through the handshake
(2025-11-25) and the stateless revision (2026-07-28, server/discover). It lists the tools and checks
their schemas, calls every tool (one raises, one gets bad arguments), and closes; the sandbox run
also kills the sandbox mid-session and expects a tool error, not a hang.
"""

import json
import os
import subprocess
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

LUA = os.environ["SEER_LUA_BIN"]
SRC = os.environ.get("SEER_SOURCE_DIR", ".")
FIX = os.path.join(SRC, "tests/lua/fixtures/mcp")
TOOLS = os.path.join(FIX, "tools.lua")

EXPECTED = ["add", "greet", "grid", "info", "fail", "nap", "big", "bytes"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def text_of(result):
    return "".join(c.text for c in result.content if c.type == "text")


async def exercise(params, label, era, sandbox_ctl=None):
    errlog = open(os.devnull, "w") if os.environ.get("MCP_TEST_QUIET") else sys.stderr
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(30):
                if era == "modern":
                    d = await session.discover()
                    check("2026-07-28" in d.supported_versions, f"{label}: discover lists 2026-07-28")
                    check(session.protocol_version == "2026-07-28", f"{label}: modern version adopted")
                else:
                    init = await session.initialize()
                    check(init.protocol_version == "2025-11-25", f"{label}: negotiated {init.protocol_version}")
                    check(init.capabilities.tools is not None, f"{label}: tools capability")
                    await session.send_ping()

                tools = (await session.list_tools()).tools
                names = [t.name for t in tools]
                check(names == EXPECTED, f"{label}: tools in definition order, got {names}")
                by = {t.name: t for t in tools}
                add = by["add"]
                check(add.description == "Add two numbers.", f"{label}: add description {add.description!r}")
                s = add.input_schema
                check(s["type"] == "object" and s["required"] == ["a", "b"], f"{label}: add required {s}")
                check(s["properties"]["a"] == {"type": "number", "description": "the first"},
                      f"{label}: add.a schema {s['properties']['a']}")
                check(add.output_schema["properties"]["result"]["type"] == "number", f"{label}: add output schema")
                g = by["greet"].input_schema
                check(g["required"] == ["name"] and g["properties"]["loud"]["type"] == "boolean",
                      f"{label}: greet schema {g}")
                check(by["fail"].output_schema is None, f"{label}: fail has no output schema")

                r = await session.call_tool("add", {"a": 2, "b": 3.5})
                check(not r.is_error and r.structured_content == {"result": 5.5} and text_of(r) == "5.5",
                      f"{label}: add -> {r}")
                r = await session.call_tool("greet", {"name": "ann", "loud": True})
                check(r.structured_content == {"result": "HELLO ANN"}, f"{label}: greet -> {r}")
                r = await session.call_tool("greet", {"name": "bob"})
                check(text_of(r) == "hello bob", f"{label}: greet default -> {r}")
                r = await session.call_tool("grid", {"v": 1.5})
                check(r.structured_content == {"result": [[1.5] * 3] * 2}, f"{label}: tensor as nested lists {r}")
                r = await session.call_tool("info", {})
                info = r.structured_content["result"]
                check(info["tags"] == ["a", "b"] and info["calls"] >= 1, f"{label}: info -> {r}")
                r = await session.call_tool("nap", {"s": 0.01})
                check(text_of(r) == "slept 0.01", f"{label}: nap -> {r}")

                r = await session.call_tool("fail", {"why": "testing"})
                t = text_of(r)
                check(r.is_error and "failed on purpose: testing" in t and "traceback" in t,
                      f"{label}: error with message and traceback -> {t!r}")
                check("stray print" not in t, f"{label}: print kept off the protocol")

                r = await session.call_tool("add", {"a": "two"})
                t = text_of(r)
                check(r.is_error and "missing required property 'b'" in t and "expected number" in t,
                      f"{label}: bad arguments -> {t!r}")
                r = await session.call_tool("add", {"a": 1, "b": 2, "c": 3})
                check(r.is_error and "unexpected property 'c'" in text_of(r), f"{label}: extra argument {r}")

                r = await session.call_tool("big", {"n": 2 * 1024 * 1024})
                check(not r.is_error and "truncated" in text_of(r) and len(text_of(r)) < 1100000
                      and r.structured_content["truncated"]["limit"] == 1024 * 1024,
                      f"{label}: a large result is truncated and says so")

                r = await session.call_tool("bytes", {})
                check(r.structured_content == {"result": "\ufffdab"} and text_of(r) == "\ufffdab",
                      f"{label}: bytes that are not UTF-8 become U+FFFD {r}")
                r = await session.call_tool("bytes", {"fail": True})
                check(r.is_error and text_of(r).startswith("bad \ufffd byte"), f"{label}: an error with bad bytes {r}")

                if sandbox_ctl:
                    await sandbox_ctl()
                    with anyio.fail_after(10):
                        r = await session.call_tool("add", {"a": 1, "b": 1})
                    check(r.is_error and "gone" in text_of(r), f"{label}: sandbox gone -> {text_of(r)!r}")


def run(params, label, sandbox_ctl=None):
    for era in ("handshake", "modern"):
        anyio.run(exercise, params, f"{label}/{era}", era, sandbox_ctl if era == "modern" else None)


def main():
    # 1. In-process.
    run(StdioServerParameters(command=LUA, args=["mcp", TOOLS]), "in-process")

    # 2. Proxying `seer-lua serve` over tcp with a token.
    token = "t0ken-" + os.urandom(6).hex()
    serve = subprocess.Popen([LUA, "serve", TOOLS, "--listen", "tcp:127.0.0.1:0"], stdout=subprocess.PIPE,
                             env={**os.environ, "SEER_RPC_TOKEN": token}, text=True)
    try:
        line = serve.stdout.readline().strip()
        check(line.startswith("listening on tcp:"), f"serve ready line {line!r}")
        addr = line.split(" ", 2)[2]
        run(StdioServerParameters(command=LUA, args=["mcp", "--connect", addr], env={"SEER_RPC_TOKEN": token}),
            "connect")
    finally:
        serve.terminate()
        serve.wait(10)

    # 3. From a sandbox, with serve(..., {expose_as = "mcp"})'s config used as it is.
    host = subprocess.Popen([LUA, os.path.join(FIX, "host.lua")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        config = json.loads(host.stdout.readline())
        check(list(config) == ["probe"], f"config names the server: {config}")
        entry = config["probe"]
        check(entry["type"] == "stdio" and os.path.isabs(entry["command"]), f"stdio entry {entry}")
        check(entry["args"][:2] == ["mcp", "--connect"], f"entry args {entry['args']}")
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"])

        async def kill_sandbox():
            host.stdin.write("kill\n")
            host.stdin.flush()
            await anyio.to_thread.run_sync(host.stdout.readline)

        run(params, "sandbox", kill_sandbox)
    finally:
        host.stdin.close()
        host.wait(30)

    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("mcp_sdk: all checks passed")


if __name__ == "__main__":
    main()
