// server.js: a tiny OpenAI-compatible Chat Completions server (POST /v1/chat/completions,
// streaming), with no model and no key, so that an agent loop can be watched end to end without
// an account. It plays a scripted model: offered a `run_lua` tool (a session's), it calls it once
// with a short program; given the tool's result, it answers with it; otherwise it says what it
// was given. Offered a notebook session's tools, it starts the session and runs one cell that
// looks at the model (NOTEBOOK_CELL). Any other OpenAI-compatible server (llama.cpp's
// llama-server, vLLM, Ollama) is used the same way, through base_url / OPENAI_BASE_URL.
//
//   node examples/local-openai-server/server.js [--port N]   # prints {"port": N} when listening
//
// Node.js built-ins only; it listens on 127.0.0.1.
'use strict';
const http = require('http');

const PROGRAM = 'return ("%s, in the session sandbox: 6 * 7 = %d"):format(_VERSION, 6 * 7)';

// Offered a notebook session's tools (examples/notebook-intro), it starts the session, runs this
// cell in the notebook, and answers with what the cell printed.
const NOTEBOOK_CELL = [
  'local ids = tokenizer:encode("The quick brown fox")',
  'local out = model:forward(ids, {hidden_states = true, logits = "last"})',
  'local norms = {}',
  'for _, h in out.hidden_states:layers() do norms[#norms + 1] = h:norm() end',
  'print(("%d layers; after %d tokens it predicts %q"):format(model.num_layers, #ids,',
  '  tokenizer:decode({out.logits:argmax()})))',
  'seer.plot.line{y = norms, title = "hidden-state norm by layer", xlabel = "layer", ylabel = "norm"}',
].join('\n');

function text_of(content) {
  return typeof content === 'string' ? content : JSON.stringify(content);
}

function notebook_reply(messages, tools) {
  const tool = (name) => tools.find((t) => t === name || t.endsWith('__' + name));
  const results = messages.filter((m) => m.role === 'tool');
  if (results.length === 0) return { call: { name: tool('start_new_session'), args: { experiment_name: 'intro' } } };
  if (results.length === 1) {
    const m = /"session_id"\s*:\s*"([^"]+)"/.exec(text_of(results[0].content));
    if (!m) return { text: 'start_new_session gave no session_id: ' + text_of(results[0].content).slice(0, 500) };
    return { call: { name: tool('execute_code'), args: { session_id: m[1], code: NOTEBOOK_CELL } } };
  }
  return { text: 'The notebook answered: ' + text_of(results[results.length - 1].content).slice(0, 2000) };
}

function reply(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1] || {};
  const offered = (body.tools || []).map((t) => t.function && t.function.name).filter(Boolean);
  if (offered.some((t) => t.endsWith('execute_code')) && offered.some((t) => t.endsWith('start_new_session'))) {
    return notebook_reply(messages, offered);
  }
  if (last.role === 'tool') {
    return { text: 'The tool answered: ' + String(last.content).slice(0, 2000) };
  }
  const tools = (body.tools || []).map((t) => t.function && t.function.name).filter(Boolean);
  if (tools.includes('run_lua')) return { call: { name: 'run_lua', args: { code: PROGRAM } } };
  const user = messages.filter((m) => m.role === 'user').pop();
  const asked = user ? String(user.content).slice(0, 200) : '';
  return { text: `I am a scripted local server, not a model. You asked: "${asked}". ` +
    `Tools offered: ${tools.length ? tools.join(', ') : 'none'}.` };
}

function send(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

function stream(res, body, r) {
  const id = 'chatcmpl-local-' + Date.now();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish) => res.write('data: ' + JSON.stringify({ id, object: 'chat.completion.chunk',
    created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish || null }] }) + '\n\n');
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  chunk({ role: 'assistant', content: '' });
  if (r.text) chunk({ content: r.text });
  if (r.call) {
    chunk({ tool_calls: [{ index: 0, id: 'call_' + Date.now(), type: 'function',
      function: { name: r.call.name, arguments: JSON.stringify(r.call.args) } }] });
  }
  chunk({}, r.call ? 'tool_calls' : 'stop');
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  res.write('data: ' + JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model,
    choices: [], usage }) + '\n\n');
  res.end('data: [DONE]\n\n');
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method !== 'POST' || path !== '/v1/chat/completions') {
    return send(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } });
  }
  let size = 0;
  const parts = [];
  req.on('data', (d) => {
    size += d.length;
    if (size > 16 * 1024 * 1024) req.destroy(); // a bound on what it buffers
    else parts.push(d);
  });
  req.on('end', () => {
    let body;
    try { body = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch (e) {
      return send(res, 400, { error: { message: 'the body is not JSON', type: 'invalid_request_error' } });
    }
    const r = reply(body);
    if (body.stream) return stream(res, body, r);
    const message = { role: 'assistant', content: r.text || null };
    if (r.call) {
      message.tool_calls = [{ id: 'call_' + Date.now(), type: 'function',
        function: { name: r.call.name, arguments: JSON.stringify(r.call.args) } }];
    }
    send(res, 200, { id: 'chatcmpl-local', object: 'chat.completion', created: Math.floor(Date.now() / 1000),
      model: body.model, choices: [{ index: 0, message, finish_reason: r.call ? 'tool_calls' : 'stop' }] });
  });
});

const i = process.argv.indexOf('--port');
server.listen(i > 0 ? Number(process.argv[i + 1]) : 0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
