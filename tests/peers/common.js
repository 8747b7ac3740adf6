// common.js: what the provider peers share: an HTTP server on 127.0.0.1 with an ephemeral port
// (printed as the first stdout line, `{"port": N}`), JSON/SSE writers, request-body reading, the
// provider-neutral scenario scripts the tests run, and per-conversation attempt counting.
// Built-in modules only: the peers run with a bare `node`.
'use strict';
const http = require('http');
const crypto = require('crypto');

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(process.argv[i]);
  if (m) args[m[1]] = m[2] === undefined ? true : m[2];
}
const API_KEY = args.key || 'test-key';
const LATENCY_MS = Number(args.latency || 0);

function rid(prefix) { return prefix + crypto.randomBytes(8).toString('hex'); }

// A validation failure: the peer answers 400 in the provider's error format, quoting `message`.
class Invalid extends Error {}
function check(cond, message) { if (!cond) throw new Invalid(message); }

const stats = { requests: 0, by_key: {}, invalid: [], cache_control: {}, last_body: null };

// Attempts per conversation turn, so that "fail once, then succeed" scenarios are stateless across
// concurrent conversations: the key is the first user message plus the turn number.
function attempt(key, turn) {
  const k = key + '#' + turn;
  stats.by_key[k] = (stats.by_key[k] || 0) + 1;
  return stats.by_key[k] - 1;
}

// The last "scenario:NAME" in the first user message names the script (an interrupted first turn
// leaves the user's next text in that same message).
function scenarioOf(firstUserText) {
  const all = [...(firstUserText || '').matchAll(/scenario:([a-z_]+)/g)];
  return all.length ? all[all.length - 1][1] : 'hello';
}

// Scenario scripts, provider-neutral. step(turn, results, attemptNo) returns one of
//   { text, thinking? }                       a final answer
//   { text?, tools: [{name, input}] }          tool calls (parallel when more than one)
//   { error: status, type, message, retry_after? }
//   { cut: true }                              the stream stops mid-event
//   { hang: true }                             headers and a first event, then nothing
// `results` are the tool results the model received last turn: [{content, is_error}].
function fmt(results) {
  return results.map((r) => (r.is_error ? 'ERROR(' + r.content + ')' : r.content)).join(' | ');
}
const SCENARIOS = {
  hello: () => ({ text: 'Hello from the peer.' }),
  multi_turn: (turn, results) => {
    if (turn === 0) return { text: 'Let me add.', tools: [{ name: 'add', input: { a: 2, b: 3 } }] };
    if (turn === 1) return { tools: [{ name: 'add', input: { a: Number(results[0].content), b: 10 } }] };
    return { text: 'The answer is ' + fmt(results) + '.' };
  },
  parallel: (turn, results) => {
    if (turn === 0) {
      return { tools: [{ name: 'add', input: { a: 1, b: 2 } }, { name: 'add', input: { a: 3, b: 4 } },
        { name: 'echo', input: { text: 'hi', tags: ['x', 'y'] } }] };
    }
    return { text: 'Results: ' + fmt(results) };
  },
  tool_error: (turn, results) => (turn === 0 ? { tools: [{ name: 'fail', input: { why: 'boom' } }] }
    : { text: 'Saw: ' + fmt(results) }),
  invalid_input: (turn, results) => (turn === 0 ? { tools: [{ name: 'add', input: { a: 'x' } }] }
    : { text: 'Saw: ' + fmt(results) }),
  unknown_tool: (turn, results) => (turn === 0 ? { tools: [{ name: 'nope', input: {} }] }
    : { text: 'Saw: ' + fmt(results) }),
  rate_limited: (turn, results, n) => (n === 0
    ? { error: 429, type: 'rate_limit', message: 'Rate limited, slow down', retry_after: 1 }
    : { text: 'OK after retry.' }),
  overloaded: () => ({ error: 529, type: 'overloaded', message: 'Overloaded' }),
  server_error: () => ({ error: 500, type: 'server', message: 'Internal server error' }),
  bad_request: () => ({ error: 400, type: 'invalid_request', message: 'max_tokens: must be at most 8192' }),
  cut: (turn, results, n) => (n === 0 ? { cut: true } : { text: 'Recovered after the cut.' }),
  max_turns: () => ({ tools: [{ name: 'add', input: { a: 1, b: 1 } }] }),
  hang: () => ({ hang: true }),
  thinking: () => ({ thinking: 'The user wants a greeting.', text: 'Hi, after thinking.' }),
  // examples/scoped-sandbox-intro: the agent requires the served library from run_lua.
  scoped_example: (turn, results) => (turn === 0
    ? { text: 'Let me look at the model.', tools: [{ name: 'run_lua', input: { code:
      'local mt = require("model_tools") local info = mt.get_model_info() '
      + 'return info.name .. " has " .. #mt.get_embedding("cat").embedding .. " dims"' } }] }
    : { text: 'Findings: ' + fmt(results) }),
  // examples/sae-features: find the feature that separates two sets of texts, then steer with it.
  sae_features: (turn, results) => (turn === 0
    ? { text: 'Let me find the feature.', tools: [{ name: 'run_lua', input: { code:
      'local t = require("sae_tools") '
      + 'local f = t.find_features({"The cat chased the dog", "Birds sing"}, {"Stocks fell sharply", "The bank raised rates"}, 3) '
      + 'local top = t.top_features("The cat chased the dog", 3) '
      + 'local s = t.steer("Once upon a time", f[1].id, 8, 8) '
      + 'local c = t.clamp("Once upon a time", f[1].id, 10, 8) '
      + 'return ("feature %d (difference %.3f, %d tokens read) steered: changed=%s baseline=%q steered=%q clamped=%q")'
      + ':format(f[1].id, f[1].difference, #top, tostring(s.changed), s.baseline, s.steered, c.text)' } }] }
    : { text: 'Findings: ' + fmt(results) }),
  // examples/scoped-sandbox-mcp: the agent calls the sandbox's interface as MCP tools.
  scoped_mcp: (turn, results) => (turn === 0
    ? { tools: [{ name: 'mcp__model_tools__get_model_info', input: {} },
      { name: 'mcp__model_tools__get_embedding', input: { text: 'cat' } }] }
    : { text: 'Findings: ' + fmt(results).slice(0, 300) }),
  // tests/lua/mcp_client_spec.lua: the tools of a server written with the official SDK, a call that
  // times out, then a crash of that server.
  mcp_tools: (turn, results) => {
    if (turn === 0) {
      return { tools: [{ name: 'mcp__calc__add', input: { a: 2, b: 40 } }, { name: 'mcp__calc__fail', input: { why: 'no' } },
        { name: 'mcp__calc__add', input: { a: 'x' } }, { name: 'mcp__calc__slow', input: { s: 30 } }] };
    }
    if (turn === 1) return { tools: [{ name: 'mcp__calc__crash', input: {} }] };
    if (turn === 2) return { tools: [{ name: 'mcp__calc__add', input: { a: 1, b: 1 } }] };
    return { text: 'After the crash: ' + fmt(results) };
  },
  session: (turn, results) => {
    const steps = [
      { tools: [{ name: 'write_file', input: { path: 'notes/a.txt', content: 'alpha' } }] },
      { tools: [{ name: 'read_file', input: { path: 'notes/a.txt' } }, { name: 'list_files', input: { path: 'notes' } },
        { name: 'read_file', input: { path: '../outside.txt' } }, { name: 'read_file', input: { path: 'link/secret' } }] },
      { tools: [{ name: 'run_lua', input: { code: 'print("hi from lua") return 6 * 7' } },
        { name: 'run_lua', input: { code: 'error("kaput")' } }] },
    ];
    if (turn < steps.length) return steps[turn];
    return { text: 'Done: ' + fmt(results) };
  },
};

function script(firstUserText, turn, results) {
  const name = scenarioOf(firstUserText);
  const fn = SCENARIOS[name];
  if (!fn) throw new Invalid('peer: unknown scenario ' + name);
  return fn(turn, results, attempt(firstUserText, turn));
}

// Splits s into n roughly equal pieces (n >= 1), so that deltas and JSON arrive in fragments.
function pieces(s, n) {
  const out = [];
  const size = Math.max(1, Math.ceil(s.length / n));
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [''];
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJSON(res, status, obj, headers) {
  const body = JSON.stringify(obj);
  res.writeHead(status, Object.assign({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    headers || {}));
  res.end(body);
}

function startSSE(res, headers) {
  res.writeHead(200, Object.assign({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }, headers || {}));
}

// Runs the peer: handle(req, res, url, bodyText) does the provider's work. Control endpoints:
// GET /_peer/stats, POST /_peer/reset.
function serve(name, handle) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      const body = await readBody(req);
      if (url.pathname === '/_peer/stats') return sendJSON(res, 200, stats);
      if (url.pathname === '/_peer/reset') {
        stats.requests = 0; stats.by_key = {}; stats.invalid = []; stats.cache_control = {};
        return sendJSON(res, 200, { ok: true });
      }
      stats.requests++;
      if (LATENCY_MS > 0) await new Promise((r) => setTimeout(r, LATENCY_MS));
      await handle(req, res, url, body);
    } catch (e) {
      if (!res.headersSent) sendJSON(res, 500, { error: { message: 'peer crashed: ' + e.stack } });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 60000;
  server.maxConnections = 100000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port, peer: name }) + '\n');
  });
  // The test setup kills the peer; with --lifeline, a closed stdin (the parent died) ends it too.
  if (args.lifeline) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}

module.exports = { args, API_KEY, rid, Invalid, check, stats, script, scenarioOf, pieces, sendJSON, startSSE, serve };
