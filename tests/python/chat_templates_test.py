"""Chat templates rendered by seer-lua must be byte-identical to jinja2 set up as transformers sets
it up (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson,
raise_exception, strftime_now, {% generation %}), and identical on every run.

Templates: the four fixture tokenizers' own, and the hub corpus in tests/fixtures/chat_templates
(manifest.json says where each came from). Inputs: plain chats, and a tool-use conversation whose
tools and arguments are ordered JSON with keys out of alphabetical order. seer-lua renders every
case in several fresh processes (each with its own string hash seed) from JSON decoded by
seer.json, so any key order that depends on the hash seed or on sorting shows up as a difference.
"""

import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "chat_templates")
DRIVER = os.path.join(ROOT, "tests", "python", "chat_templates_render.lua")
SEER_LUA = os.environ["SEER_LUA_BIN"]
TOKENIZERS = os.path.join(os.environ["SEER_TEST_CACHE"], "tokenizers")
RUNS = 3  # fresh seer-lua processes per case set


def transformers_env():
    """jinja2 configured as transformers' _compile_jinja_template does."""

    class AssistantTracker(jinja2.ext.Extension):
        # transformers' {% generation %}: the body renders in place.
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

        def _render(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = transformers_env()
_compiled = {}


def compiled(source):
    if source not in _compiled:
        _compiled[source] = ENV.from_string(source)
    return _compiled[source]


def token_text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and isinstance(v.get("content"), str):
        return v["content"]
    return None


def special_vars(tokenizer_dir):
    """The special-token variables transformers passes, from tokenizer_config.json."""
    with open(os.path.join(tokenizer_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    out = {}
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        t = token_text(cfg.get(k))
        if t is not None:
            out[k] = t
    if isinstance(cfg.get("additional_special_tokens"), list):
        out["additional_special_tokens"] = [
            token_text(v) for v in cfg["additional_special_tokens"] if token_text(v) is not None
        ]
    ct = cfg.get("chat_template")
    if isinstance(ct, list):
        ct = next((t["template"] for t in ct if t.get("name") == "default"), None)
    return out, ct


# ---- inputs: key order deliberately not alphabetical anywhere ----

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city, in °C or °F (\"metric\" by default)",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "City and country, e.g. Oslo, Norway"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "description": "Forecast days", "minimum": 1},
                },
                "required": ["location"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the documentation",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query", "limit"],
            },
        },
    },
]

CHAT = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Hello, how are you?"},
    {"role": "assistant", "content": "Fine, thanks. How can I help?"},
    {"role": "user", "content": "Tell me a joke about ünïcode 🎉."},
]

TOOL_CHAT = [
    {"role": "system", "content": "You can check the weather."},
    {"role": "user", "content": "What's the weather in Oslo?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call12345",
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"unit": "celsius", "location": "Oslo, Norway"}},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
    {"role": "assistant", "content": "It is 21 °C and clear in Oslo."},
    {"role": "user", "content": "Thanks!"},
]


# Templates for the Jinja features hub templates use, beyond the corpus; each renders over TOOL_CHAT
# and TOOLS. Every Jinja mapping keeps insertion order, as Python dicts do; dictsort sorts.
FEATURES = {
    "dict-order": (
        "{% for t in tools %}{% set p = t.function.parameters.properties %}"
        "{{ p.keys()|list }}|{{ p.values()|map(attribute='type')|join(',') }}|"
        "{% for k, v in p.items() %}{{ k }}={{ v.type }};{% endfor %}|{{ p|dictsort }}|{{ p|list }}|"
        "{{ t.function.parameters }}\n{% endfor %}"
        "{% set d = {'z': 1, 'a': 2, 'm': 3} %}{{ d }}{{ d|items|list }}{{ d|dictsort(reverse=true) }}"
        "{{ d|dictsort(by='value') }}{{ dict(d, b=0) }}"
    ),
    "tojson-options": (
        "{% for t in tools %}{{ t|tojson }}\n{{ t|tojson(indent=2) }}\n{{ t|tojson(indent='\t') }}\n"
        "{{ t|tojson(separators=(',', ':')) }}\n{{ t|tojson(sort_keys=true) }}\n"
        "{{ t|tojson(ensure_ascii=true) }}\n{{ t|tojson(indent=0, sort_keys=true) }}\n{% endfor %}"
        "{{ messages[2].tool_calls[0].function.arguments|tojson }}{{ {'k': [1.5, none, true, '\u00e9\U0001f389']}|tojson(ensure_ascii=true) }}"
    ),
    "recursive-loop": (
        "{% for k, v in tools[0].function.parameters.items() recursive %}"
        "[{{ loop.depth }}:{{ loop.depth0 }}:{{ k }}"
        "{% if v is mapping %}{{ loop(v.items()) }}{% else %}={{ v|string }}{% endif %}]"
        "{% endfor %}"
        "{% for m in [{'n': 'a', 'c': [{'n': 'b', 'c': []}, {'n': 'c', 'c': [{'n': 'd', 'c': []}]}]}] recursive %}"
        "{{ m.n }}{% if m.c %}({{ loop(m.c) }}){% endif %}{% if not loop.last %},{% endif %}{% endfor %}"
    ),
    "call-block": (
        "{% macro box(title, sep='-') %}<{{ title }}{{ sep }}{{ caller() }}{{ sep }}{{ caller() }}>{% endmacro %}"
        "{% macro each(items) %}{% for i in items %}{{ caller(i, loop.index) }}{% endfor %}{% endmacro %}"
        "{% for m in messages %}{% call box(m.role, sep='|') %}{{ m.role|upper }}#{{ loop.index }}{% endcall %}{% endfor %}"
        "{% call(x, n) each(['p', 'q']) %}{{ n }}{{ x }};{% endcall %}"
        "{% call(t) each(tools) %}{{ t.function.name }} {% endcall %}"
    ),
    "filter-block": (
        "{% filter upper %}{% for m in messages %}{{ m.role }} {% endfor %}{% endfilter %}|"
        "{% filter replace('a', 'A') %}{{ messages[1].content }}{% endfilter %}|"
        "{% filter trim %}   padded   {% endfilter %}|{% filter indent(2, first=true) %}x\ny{% endfilter %}"
    ),
    "loop-attrs": (
        "{% for m in messages %}{{ loop.index }}/{{ loop.revindex }}/{{ loop.length }} "
        "{{ loop.cycle('odd', 'even') }} prev={{ loop.previtem.role if loop.previtem is defined else '-' }}"
        " next={{ loop.nextitem.role if loop.nextitem is defined else '-' }}"
        " {{ loop.first }} {{ loop.last }}\n{% endfor %}"
        "{% for x in range(10) if x is odd %}{{ loop.index0 }}:{{ x }}{{ ',' if not loop.last }}{% endfor %}"
        "{% for x in [] %}never{% else %}empty{% endfor %}"
        "{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"
        "{% for i in range(6) %}{{ loop.changed(i // 2) }}{% endfor %}"
    ),
    "scoping": (
        "{% set x = 'o' %}{% for i in range(3) %}{% if i == 0 %}{% set x = 'a' %}{% endif %}{{ x }}{% endfor %}{{ x }}|"
        "{% for i in range(3) %}{% if i == 0 %}{% set y = 'a' %}{% endif %}{{ y|default('u') }}{% endfor %}|"
        "{% with a = 1, b = x %}{{ a }}{{ b }}{% set x = 'w' %}{{ x }}{% endwith %}{{ x }}|"
        "{% if true %}{% set z = 'leaks' %}{% endif %}{{ z }}|"
        "{{ 'a b c'.rsplit(' ', 1) }}{{ 'a::b::c'.rsplit('::', 5) }}{{ 'abc'.rsplit('b', 0) }}{{ 'aaa'.rsplit('aa') }}"
    ),
    "namespace": (
        "{% set ns = namespace(count=0, items=[], last=none, keys='k') %}"
        "{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.items = ns.items + [m.role] %}"
        "{% set ns.last = m %}{% endfor %}{{ ns.count }} {{ ns.items }} {{ ns.last.role }} {{ ns.keys }}"
        "{% set ns2 = namespace({'a': 1}, b=2) %}{{ ns2.a }}{{ ns2.b }}{{ ns2.missing is defined }}"
        "{% macro bump(n) %}{% set n.count = n.count + 10 %}{% endmacro %}{{ bump(ns) }}{{ ns.count }}"
        "{% set a, b = 'xy' %}{% set c, d = [1, 2] %}{{ a }}{{ b }}{{ c + d }}"
        "{% set outer = 1 %}{% for i in range(2) %}{% set outer = i + 5 %}{% endfor %}{{ outer }}"
    ),
    "unsupported": "{% include 'other.jinja' %}",
    "splat-and-strings": (
        "{% macro f(a, b, c='C') %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ f(*['A', 'B']) }}{{ f('x', **{'b': 'y', 'c': 'z'}) }}"
        "{{ '%s-%03d|%.2f|%r|%5s|%-3d|%%'|format('a', 3, 1.5, 'q', 'r', 7) }}{{ '%s and %s' % ('x', 'y') }}{{ '<%s>' % 'z' }}{{ messages[1].content.split(' ')|reverse|join('_') }}"
        "{{ ' x '.strip() ~ 'Abc'.lower() ~ 'abc'.upper() ~ 'a,b'.split(',')|length }}"
    ),
}


def cases_for(tokenizer_dir, template, extra_vars):
    """(seer case, jinja2 variables) pairs for one template."""
    out = []
    string_args = json.loads(json.dumps(TOOL_CHAT))
    for m in string_args:
        for tc in m.get("tool_calls", []):
            tc["function"]["arguments"] = json.dumps(tc["function"]["arguments"])
    for name, messages, tools, agp in (
        ("chat", CHAT, None, True),
        ("tools-string-arguments", string_args, TOOLS, False),
        ("chat-no-system", CHAT[1:3], None, False),
        ("tools", TOOL_CHAT, TOOLS, True),
        ("tools-first-turn", TOOL_CHAT[:2], TOOLS, True),
    ):
        kwargs = dict(extra_vars)
        kwargs["add_generation_prompt"] = agp
        if tools is not None:
            kwargs["tools"] = tools
        out.append((name, {"tokenizer": tokenizer_dir, "template": template, "messages": messages, "kwargs": kwargs}))
    return out


def sorted_keys(v):
    if isinstance(v, dict):
        return {k: sorted_keys(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [sorted_keys(x) for x in v]
    return v


def render_jinja2(source, host_vars, case):
    if case.get("plain"):
        case = sorted_keys(case)
    variables = dict(host_vars)
    variables.update(messages=case["messages"], tools=None, documents=None)
    variables.update(case["kwargs"])
    try:
        return {"text": compiled(source).render(**variables)}
    except Exception as e:  # raise_exception, or the template failing on these inputs (TypeError, ...)
        return {"error": str(e), "raised": type(e) is jinja2.exceptions.TemplateError}


def render_seer(cases):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
        path = f.name
    try:
        outputs = []
        for _ in range(RUNS):
            r = subprocess.run([SEER_LUA, DRIVER, path], capture_output=True, timeout=120)
            if r.returncode != 0:
                sys.exit(f"seer-lua driver failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
            outputs.append(r.stdout)
        return outputs
    finally:
        os.unlink(path)


def main():
    host = os.path.join(TOKENIZERS, "llama3")
    host_vars, _ = special_vars(host)
    entries = []  # (label, source, jinja2 base vars, case)
    for name in sorted(os.listdir(TOKENIZERS)):
        tdir = os.path.join(TOKENIZERS, name)
        tvars, source = special_vars(tdir)
        if source is None:
            continue
        for cname, case in cases_for(tdir, None, {}):
            entries.append((f"{name} (fixture tokenizer) / {cname}", source, tvars, case))
    with open(os.path.join(CORPUS, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    if len(manifest) < 20:
        sys.exit(f"the corpus has {len(manifest)} templates; the test wants at least 20")
    for m in manifest:
        with open(os.path.join(CORPUS, m["file"]), encoding="utf-8") as f:
            source = f.read()
        for cname, case in cases_for(host, source, m["vars"]):
            entries.append((f"{m['model']} / {cname}", source, host_vars, case))

    # Tables built in Lua without order information: keys sorted, the same on every run. jinja2
    # renders the same inputs with every dict's keys sorted.
    for name in sorted(os.listdir(TOKENIZERS)):
        tdir = os.path.join(TOKENIZERS, name)
        tvars, source = special_vars(tdir)
        if source is None:
            continue
        case = {"tokenizer": tdir, "template": None, "messages": TOOL_CHAT[:2], "plain": True,
                "kwargs": {"add_generation_prompt": True, "tools": TOOLS}}
        entries.append((f"{name} (fixture tokenizer) / tools from plain Lua tables", source, tvars, case))

    for fname, source in FEATURES.items():
        case = {"tokenizer": host, "template": source, "messages": TOOL_CHAT,
                "kwargs": {"add_generation_prompt": False, "tools": TOOLS}}
        entries.append((f"feature {fname}", source, host_vars, case))

    want = [render_jinja2(src, hv, case) for _, src, hv, case in entries]
    runs = render_seer([case for _, _, _, case in entries])
    failures = []
    for k in range(1, RUNS):
        if runs[k] != runs[0]:
            a, b = json.loads(runs[0]), json.loads(runs[k])
            for (label, *_), x, y in zip(entries, a, b):
                if x != y:
                    failures.append(f"{label}: run {k + 1} differs from run 1 (order depends on the process)")
    got = json.loads(runs[0])
    rendered = errors = 0
    for (label, *_), w, g in zip(entries, want, got):
        if "text" in w:
            rendered += 1
            if g.get("text") != w["text"]:
                if "error" in g:
                    failures.append(f"{label}: seer-lua failed: {g['error']}")
                else:
                    failures.append(f"{label}: output differs\n--- jinja2\n{w['text']!r}\n--- seer-lua\n{g['text']!r}")
        else:
            errors += 1
            print(f"raised by jinja2 too: {label}: {w['error'][:100]}")
            if "error" not in g:
                failures.append(f"{label}: jinja2 raised {w['error']!r}, seer-lua rendered")
            elif w.get("raised") and not g["error"].endswith(w["error"]):
                failures.append(f"{label}: raise_exception message differs: {w['error']!r} vs {g['error']!r}")
    for f in failures:
        print("FAIL", f)
    print(f"{len(entries)} cases ({rendered} rendered, {errors} raised by the template), "
          f"{len(manifest)} corpus templates, {RUNS} seer-lua processes: {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
