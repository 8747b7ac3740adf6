"""Drives `seer-lua kernel` through Debian's jupyter_client (KernelManager on the installed
kernelspec): the client checks message order and signatures; this script checks what the
replies say. Usage: python3 kernel_client.py KERNEL_NAME (JUPYTER_PATH must find the spec)."""
import faulthandler
import json
import os
import queue
import sys
import time

import zmq
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

TIMEOUT = 60
name = sys.argv[1]

# A hang outside the bounded waits below (inside jupyter_client, or at exit) prints every thread's
# stack and exits after 300 s (a run takes ~10 s), rather than running into ctest's 900 s limit
# with nothing to show where it stopped.
faulthandler.dump_traceback_later(300, exit=True)


km = None


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    if km is not None and km.has_kernel:
        km.shutdown_kernel(now=True)
    sys.stderr.flush()
    # Not sys.exit: a kernel left running (a lost interrupt) holds ctest's output pipe, and
    # jupyter_client's objects can block the interpreter's exit; either turns a failure into a hang.
    os._exit(1)


def on_uncaught(kind, value, tb):
    """A timeout (queue.Empty) or any other error: print it, stop the kernel, exit 1."""
    import traceback
    traceback.print_exception(kind, value, tb)
    fail(f"{kind.__name__} {value}")


sys.excepthook = on_uncaught


def check(cond, msg):
    if not cond:
        fail(msg)


T0 = time.monotonic()


def step(what):
    if os.environ.get("KERNEL_TEST_TIMES"):
        print(f"{time.monotonic() - T0:7.2f}s {what}", file=sys.stderr)


def run(kc, code, **kw):
    """Execute code; return (reply content, [iopub messages for it, up to idle])."""
    msg_id = kc.execute(code, **kw)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    out = []
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        out.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    return reply["content"], out


def wait_for_output(msg_id, text):
    """Wait until the cell msg_id has printed `text`: it is running, so an interrupt sent now is
    one it can take (an interrupt before the cell starts is dropped, as IPython drops it)."""
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream"
                and text in m["content"]["text"]):
            return


def of(msgs, t):
    return [m["content"] for m in msgs if m["msg_type"] == t]


def stream_text(msgs, name="stdout"):
    return "".join(c["text"] for c in of(msgs, "stream") if c["name"] == name)


# ensure_native_kernel=False: otherwise the spec lookup imports ipykernel and IPython (seconds).
# The connection file goes to JUPYTER_RUNTIME_DIR (a plain KernelManager would pick a temp file),
# where kernel_client.sh finds any kernel left running when the test ends.
km = KernelManager(kernel_name=name, kernel_spec_manager=KernelSpecManager(ensure_native_kernel=False),
                   connection_file=os.path.join(os.environ["JUPYTER_RUNTIME_DIR"],
                                                f"kernel-{os.getpid()}-{name}.json"))
km.start_kernel()
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=TIMEOUT)

step("kernel_info")
# kernel_info
kc.kernel_info()
info = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(info["language_info"]["name"] == "lua", f"language_info: {info}")
check(info["protocol_version"] == "5.3", f"protocol_version: {info}")
check("seer-lua" in info["banner"] and ("5.4" in info["banner"] or "LuaJIT" in info["banner"]),
      f"banner: {info['banner']!r}")

step("execute: busy")
# execute: busy, execute_input, stream, result, idle
reply, msgs = run(kc, 'print("hello", 42)\nio.write("a", 1, "\\n")\nx = 40\nx + 2')
check(reply["status"] == "ok", f"execute reply: {reply}")
types = [m["msg_type"] for m in msgs]
check(types[0] == "status" and msgs[0]["content"]["execution_state"] == "busy", f"order: {types}")
check(types[1] == "execute_input", f"order: {types}")
check(stream_text(msgs) == "hello\t42\na1\n", f"stream: {stream_text(msgs)!r}")
res = of(msgs, "execute_result")
check(len(res) == 1 and res[0]["data"]["text/plain"] == "42", f"result: {res}")
check(res[0]["execution_count"] == reply["execution_count"] == 1, f"counts: {res} {reply}")

# tables print as the REPL prints them; a later cell sees globals from an earlier one
reply, msgs = run(kc, "{a = x, b = {1, 2}}")
check(of(msgs, "execute_result")[0]["data"]["text/plain"] == '{ a = 40, b = { 1, 2 } }',
      f"table result: {of(msgs, 'execute_result')}")
check(reply["execution_count"] == 2, f"count: {reply}")

step("error: ename")
# error: ename/evalue/traceback in the reply and on iopub; the kernel lives on
reply, msgs = run(kc, 'local function f() error("boom") end\nf()')
check(reply["status"] == "error" and "boom" in reply["evalue"], f"error reply: {reply}")
errs = of(msgs, "error")
check(len(errs) == 1 and errs[0]["ename"] == "LuaError", f"error msg: {errs}")
check(any("cell[3]:1" in line for line in errs[0]["traceback"]), f"traceback: {errs[0]['traceback']}")
reply, msgs = run(kc, "1 +")
check(reply["status"] == "error" and reply["ename"] == "SyntaxError", f"syntax error: {reply}")
reply, msgs = run(kc, "x")
check(reply["status"] == "ok" and of(msgs, "execute_result")[0]["data"]["text/plain"] == "40",
      "kernel did not live on after an error")

step("stop_on_error")
# stop_on_error: a request queued behind a failing cell is aborted, not run
first = kc.execute('local t = os.clock() while os.clock() - t < 0.3 do end error("first")')
second = kc.execute("flag = 1")
replies = {}
while len(replies) < 2:
    m = kc.get_shell_msg(timeout=TIMEOUT)
    replies[m["parent_header"]["msg_id"]] = m["content"]
check(replies[first]["status"] == "error" and replies[second]["status"] == "aborted", f"abort: {replies}")
reply, msgs = run(kc, "flag == nil")
check(of(msgs, "execute_result")[0]["data"]["text/plain"] == "true", "an aborted cell ran")

step("rich display")
# rich display: display() and __repr_html / __repr_svg / __repr_png hooks; tensors as HTML
reply, msgs = run(kc, 'v = setmetatable({}, {__repr_html = function() return "<b>hi</b>" end,\n'
                      '  __repr_png = function() return "\\137PNG" end})\n'
                      'display(v)\nv')
dd = of(msgs, "display_data")
check(len(dd) == 1 and dd[0]["data"]["text/html"] == "<b>hi</b>", f"display_data: {dd}")
check(dd[0]["data"]["image/png"] == "iVBORw==", f"png base64: {dd[0]['data']}")
check(of(msgs, "execute_result")[0]["data"]["text/html"] == "<b>hi</b>", "execute_result html")
reply, msgs = run(kc, 'seer.tensor.from({{1, 2, 3, 4, 5, 6, 7, 8}, {9, 10, 11, 12, 13, 14, 15, 16}})')
html = of(msgs, "execute_result")[0]["data"].get("text/html", "")
check("<table" in html and "<td>1</td>" in html and "<td>16</td>" in html and "…" in html
      and "<td>5</td>" not in html, f"tensor html: {html}")

step("complete, inspect")
# complete, inspect, is_complete, history, comm_info
kc.complete("pri", 3)
c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(c["status"] == "ok" and "print" in c["matches"] and c["cursor_start"] == 0
      and c["cursor_end"] == 3, f"complete: {c}")
kc.complete("t = seer.tensor.ze", 17)
c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check("zeros" in c["matches"] or "seer.tensor.zeros" in c["matches"], f"field completion: {c}")
kc.inspect("seer.tensor.zeros", 12)
c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(c["status"] == "ok" and c["found"] and "zeros(shape" in c["data"]["text/plain"], f"inspect: {c}")
kc.inspect("not_a_name_anywhere", 5)
c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(c["status"] == "ok" and not c["found"], f"inspect of nothing: {c}")
for code, want in [("for i = 1, 3 do", "incomplete"), ("x = 1", "complete"), ("x = = 1", "invalid")]:
    kc.is_complete(code)
    c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
    check(c["status"] == want, f"is_complete({code!r}): {c}")
kc.history(hist_access_type="tail", n=2)
c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(c["status"] == "ok" and [h[2] for h in c["history"]][-1].startswith("seer.tensor.from"),
      f"history: {c}")
kc.comm_info()
c = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(c["status"] == "ok" and c["comms"] == {}, f"comm_info: {c}")

step("stdin")
# io.read and io.stdin in a cell ask the client (input_request on stdin) when the request allowed it
msg_id = kc.execute('io.write("name? ") local a = io.read() local n = io.stdin:read("n") print(a .. "!", n + 1)',
                    allow_stdin=True)
for value in ("seer", "41"):
    req = kc.get_stdin_msg(timeout=TIMEOUT)
    check(req["msg_type"] == "input_request" and req["parent_header"]["msg_id"] == msg_id
          and req["content"]["password"] is False, f"input_request: {req}")
    kc.input(value)
reply = kc.get_shell_msg(timeout=TIMEOUT)
while reply["parent_header"].get("msg_id") != msg_id:
    reply = kc.get_shell_msg(timeout=TIMEOUT)
check(reply["content"]["status"] == "ok", f"reading input: {reply['content']}")
out = []
while not out or out[-1]["msg_type"] != "status" or out[-1]["content"]["execution_state"] != "idle":
    m = kc.get_iopub_msg(timeout=TIMEOUT)
    if m["parent_header"].get("msg_id") == msg_id:
        out.append(m)
check(stream_text(out) == "name? seer!\t42\n", f"stream around input: {stream_text(out)!r}")
# without allow_stdin it fails at once, asking nothing
reply, msgs = run(kc, "io.read()", allow_stdin=False)
check(reply["status"] == "error" and "allow_stdin = false" in reply["evalue"], f"io.read without stdin: {reply}")
try:
    stray = kc.get_stdin_msg(timeout=0.2)
except queue.Empty:
    stray = None
check(stray is None, f"a message on stdin without allow_stdin: {stray}")
# an interrupt ends a wait for input, and the kernel goes on
msg_id = kc.execute("io.read()", allow_stdin=True)
req = kc.get_stdin_msg(timeout=TIMEOUT)
check(req["msg_type"] == "input_request", f"input_request: {req}")
km.interrupt_kernel()
reply = kc.get_shell_msg(timeout=TIMEOUT)
while reply["parent_header"].get("msg_id") != msg_id:
    reply = kc.get_shell_msg(timeout=TIMEOUT)
check(reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt",
      f"interrupting a wait for input: {reply['content']}")
reply, msgs = run(kc, "1 + 1")
check(reply["status"] == "ok", f"kernel unusable after an interrupted input: {reply}")

step("malformed")
# malformed and badly signed messages are dropped; the kernel answers the next good one
conn = km.get_connection_info()
ctx = zmq.Context()
raw = ctx.socket(zmq.DEALER)
raw.connect(f"tcp://{conn['ip']}:{conn['shell_port']}")
bad = Session(key=b"not-the-key", username="intruder")
bad.send(raw, "execute_request", {"code": "os.exit(3)", "silent": False})
raw.send_multipart([b"<IDS|MSG>", b"0" * 64, b"{", b"{}", b"{}", b"{}"])
raw.send_multipart([b"no delimiter at all"])
good = Session(key=conn["key"])
good.send(raw, "execute_request", {"code": '"{"', "silent": True})  # signed, but not JSON below
raw.send_multipart([b"<IDS|MSG>", good.sign([b"[1]", b"{}", b"{}", b"{}"]), b"[1]", b"{}", b"{}", b"{}"])
time.sleep(0.5)
reply, msgs = run(kc, "x")
check(reply["status"] == "ok" and km.is_alive(), "kernel died on bad messages")
raw.close(0)
ctx.term()

step("interrupt a running")
# interrupt a running loop (interrupt_mode from the kernelspec: signal or message)
msg_id = kc.execute('print("looping") io.stdout:flush() while true do end')
wait_for_output(msg_id, "looping")
time.sleep(0.2)
km.interrupt_kernel()
reply = kc.get_shell_msg(timeout=TIMEOUT)["content"]
check(reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", f"interrupt: {reply}")
reply, msgs = run(kc, "x")
check(reply["status"] == "ok", f"kernel unusable after interrupt: {reply}")

step("interrupt a model forward")
# interrupt a model's forward pass: the C forward polls the interrupt flag between layers, so one
# long forward stops where it is (the error names the layer), not only the Lua around it (its
# last layer included: the pass checks again before its final norm). The loop
# would run for hours; each forward (16 rows of 512 tokens) takes seconds, the Lua between them
# microseconds.
fixture = os.path.join(os.environ["SEER_FIXTURES"], "models", "llama")
reply, msgs = run(kc, "m = seer.model.load(%s)\nrows = {}\n"
                      "for b = 1, 16 do rows[b] = {} for t = 1, 512 do rows[b][t] = (b * 7 + t * 13) %% 500 + 3 end end"
                  % json.dumps(fixture))
check(reply["status"] == "ok", f"loading the fixture model: {reply}")
# A SIGINT can also land in the microseconds of Lua between two forwards (or after a pass's last
# check), and then the cell stops with a plain "interrupted": timing, not a failure of the forward.
# Up to three tries; a forward that never takes the interrupt fails all three.
for attempt in range(3):
    msg_id = kc.execute('print("forwarding") io.stdout:flush() '
                        "for i = 1, 100000 do m:forward(rows, {logits = false}) end")
    wait_for_output(msg_id, "forwarding")
    time.sleep(0.5 + 0.3 * attempt)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    reply = reply["content"]
    check(reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt",
          f"interrupting a forward: {reply}")
    if "forward interrupted" in reply["evalue"]:
        break
    print(f"interrupt try {attempt + 1} landed outside the forward: {reply['evalue']}", file=sys.stderr)
check("forward interrupted" in reply["evalue"], f"interrupting a forward: {reply}")
reply, msgs = run(kc, "#m:forward({5, 6, 7}).logits:shape()")
check(reply["status"] == "ok", f"kernel unusable after interrupting a forward: {reply}")

step("restart: a fresh")
# restart: a fresh state
km.restart_kernel(now=False)
kc.wait_for_ready(timeout=TIMEOUT)
reply, msgs = run(kc, "x == nil")
check(of(msgs, "execute_result")[0]["data"]["text/plain"] == "true", "restart kept state")
check(reply["execution_count"] == 1, f"restart count: {reply}")

step("shutdown")
# shutdown
kc.stop_channels()
km.shutdown_kernel(now=False)
check(not km.is_alive(), "kernel still alive after shutdown")
print("kernel_client: ok")
sys.stdout.flush()
os._exit(0)  # jupyter_client objects warn from __del__ at interpreter exit otherwise
