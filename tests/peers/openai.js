// openai.js: a local OpenAI Chat Completions API (POST /v1/chat/completions) for the harness tests.
// It validates requests as documented (Bearer auth, message roles, assistant tool_calls answered by
// tool messages with matching tool_call_id, function tool shapes, streaming with include_usage) and
// streams chat.completion.chunk objects (content and tool_call argument deltas by index, a usage
// chunk, then [DONE]), or answers with the documented error object.
'use strict';
const P = require('./common');

function err(res, status, type, message, headers, code) {
  P.sendJSON(res, status, { error: { message, type, param: null, code: code || null } },
    Object.assign({ 'x-request-id': P.rid('req_') }, headers || {}));
}
const ERROR_TYPES = { 400: 'invalid_request_error', 401: 'invalid_request_error', 429: 'rate_limit_exceeded',
  500: 'server_error', 529: 'server_error' };

function validate(req, b) {
  P.check(req.headers.authorization === 'Bearer ' + P.API_KEY, 'Incorrect API key provided');
  P.check(typeof b.model === 'string' && b.model.length > 0, "you must provide a model parameter");
  P.check(b.stream === true, 'stream: this peer only serves streaming requests');
  P.check(b.stream_options && b.stream_options.include_usage === true, 'stream_options.include_usage should be true');
  if (b.max_tokens !== undefined) P.check(Number.isInteger(b.max_tokens) && b.max_tokens > 0, "Invalid 'max_tokens'");
  if (b.temperature !== undefined) P.check(typeof b.temperature === 'number' && b.temperature >= 0 && b.temperature <= 2, "Invalid 'temperature'");
  const names = new Set();
  if (b.tools !== undefined) {
    P.check(Array.isArray(b.tools) && b.tools.length > 0, "Invalid 'tools': empty array. Expected an array with minimum length 1");
    b.tools.forEach((t, i) => {
      P.check(t.type === 'function' && t.function && /^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name), `Invalid 'tools[${i}]'`);
      P.check(!t.function.parameters || t.function.parameters.type === 'object', `Invalid schema for function '${t.function.name}'`);
      if (t.function.parameters && t.function.parameters.required !== undefined) P.check(Array.isArray(t.function.parameters.required), `Invalid schema for function '${t.function.name}': required must be an array`);
      names.add(t.function.name);
    });
  }
  P.check(Array.isArray(b.messages) && b.messages.length > 0, "Invalid 'messages': empty array");
  let pending = null;
  let results = [];
  let turn = 0;
  let first = null;
  b.messages.forEach((m, i) => {
    P.check(['system', 'developer', 'user', 'assistant', 'tool'].includes(m.role), `Invalid 'messages[${i}].role'`);
    if (m.role === 'tool') {
      P.check(pending && pending.includes(m.tool_call_id), `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.`);
      P.check(typeof m.content === 'string', `messages[${i}].content must be a string`);
      const isErr = m.content.startsWith('Error: ');
      results[pending.indexOf(m.tool_call_id)] = { content: isErr ? m.content.slice(7) : m.content, is_error: isErr };
      return;
    }
    if (pending) {
      const answered = results.filter((x) => x).length;
      P.check(answered === pending.length, `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${pending.join(', ')}`);
      pending = null;
    }
    if (m.role === 'user') {
      if (first === null) first = typeof m.content === 'string' ? m.content : (m.content || []).map((c) => c.text || '').join('');
      results = [];
    }
    if (m.role === 'assistant') {
      turn++;
      P.check(m.content === null || typeof m.content === 'string', `messages[${i}].content must be a string or null`);
      if (m.tool_calls !== undefined) {
        P.check(Array.isArray(m.tool_calls) && m.tool_calls.length > 0, `Invalid 'messages[${i}].tool_calls': empty array`);
        pending = m.tool_calls.map((tc, j) => {
          P.check(typeof tc.id === 'string' && tc.type === 'function' && tc.function && typeof tc.function.name === 'string' && typeof tc.function.arguments === 'string',
            `Invalid 'messages[${i}].tool_calls[${j}]'`);
          return tc.id;
        });
        results = [];
      } else P.check(typeof m.content === 'string', `messages[${i}]: assistant messages need content or tool_calls`);
    }
  });
  if (pending) P.check(results.filter((x) => x).length === pending.length, 'tool_calls without responses');
  const last = b.messages[b.messages.length - 1];
  P.check(last.role === 'user' || last.role === 'tool', 'the last message must be from the user or a tool');
  return { first: first || '', turn, results };
}

function chunk(res, b, id, delta, finish, extra) {
  const c = Object.assign({ id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: b.model,
    system_fingerprint: 'fp_peer', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish || null }] }, extra || {});
  res.write('data: ' + JSON.stringify(c) + '\n\n');
}

function respond(res, b, step) {
  const id = P.rid('chatcmpl-');
  P.startSSE(res, { 'x-request-id': P.rid('req_') });
  chunk(res, b, id, { role: 'assistant', content: '', refusal: null });
  if (step.cut) {
    res.write('data: {"id":"' + id + '","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"cont');
    res.socket.destroy();
    return;
  }
  if (step.hang) return;
  res.cork(); // the rest is ready at once: send it in one segment, as a zero-latency server would
  if (step.thinking) for (const p of P.pieces(step.thinking, 2)) chunk(res, b, id, { reasoning_content: p });
  if (step.text) for (const p of P.pieces(step.text, 3)) chunk(res, b, id, { content: p });
  (step.tools || []).forEach((t, i) => {
    chunk(res, b, id, { tool_calls: [{ index: i, id: P.rid('call_'), type: 'function', function: { name: t.name, arguments: '' } }] });
    for (const p of P.pieces(JSON.stringify(t.input), 3)) chunk(res, b, id, { tool_calls: [{ index: i, function: { arguments: p } }] });
  });
  chunk(res, b, id, {}, step.tools ? 'tool_calls' : 'stop');
  const usage = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42, prompt_tokens_details: { cached_tokens: 0 } };
  res.write('data: ' + JSON.stringify({ id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: b.model, choices: [], usage }) + '\n\n');
  res.write('data: [DONE]\n\n');
  res.end();
}

P.serve('openai', async (req, res, url, text) => {
  if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') return err(res, 404, 'invalid_request_error', `Unknown request URL: ${req.method} ${url.pathname}`);
  let b;
  try { b = JSON.parse(text); } catch (e) { return err(res, 400, 'invalid_request_error', 'We could not parse the JSON body of your request.'); }
  P.stats.last_body = b;
  let v;
  try { v = validate(req, b); } catch (e) {
    if (!(e instanceof P.Invalid)) throw e;
    P.stats.invalid.push(e.message);
    const auth = e.message.startsWith('Incorrect API key');
    return err(res, auth ? 401 : 400, 'invalid_request_error', e.message, {}, auth ? 'invalid_api_key' : null);
  }
  const step = P.script(v.first, v.turn, v.results);
  if (step.error) {
    const headers = step.retry_after ? { 'retry-after': String(step.retry_after), 'retry-after-ms': String(step.retry_after * 1000) } : {};
    return err(res, step.error, ERROR_TYPES[step.error] || 'server_error', step.message, headers);
  }
  respond(res, b, step);
});
