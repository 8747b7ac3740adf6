// anthropic.js: a local Anthropic Messages API (POST /v1/messages) for the harness tests. It
// validates requests as the API documents them (headers, message alternation, tool_use/tool_result
// pairing, tool and system shapes, cache_control, thinking) and answers with the documented
// streaming event sequence, or with the documented error shapes and statuses.
'use strict';
const P = require('./common');

function err(res, status, type, message, headers) {
  P.sendJSON(res, status, { type: 'error', error: { type, message } },
    Object.assign({ 'request-id': P.rid('req_') }, headers || {}));
}

const ERROR_TYPES = { 400: 'invalid_request_error', 401: 'authentication_error', 429: 'rate_limit_error',
  500: 'api_error', 529: 'overloaded_error' };

function blocksOf(content) {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  P.check(Array.isArray(content), 'messages: content must be a string or an array of content blocks');
  return content;
}

function checkCache(cc, where) {
  if (cc === undefined) return false;
  P.check(cc && cc.type === 'ephemeral', where + '.cache_control: type must be "ephemeral"');
  return true;
}

// Returns { first, turn, results } after validating the whole request body.
function validate(req, b) {
  P.check(req.headers['x-api-key'] === P.API_KEY, 'x-api-key header: invalid API key');
  P.check(req.headers['anthropic-version'] === '2023-06-01', 'anthropic-version header: must be 2023-06-01');
  P.check(/^application\/json/.test(req.headers['content-type'] || ''), 'content-type must be application/json');
  P.check(typeof b.model === 'string' && b.model.length > 0, 'model: Field required');
  P.check(Number.isInteger(b.max_tokens) && b.max_tokens > 0, 'max_tokens: Field required (a positive integer)');
  P.check(b.stream === true, 'stream: this peer only serves streaming requests');
  if (b.temperature !== undefined) P.check(typeof b.temperature === 'number' && b.temperature >= 0 && b.temperature <= 1, 'temperature: must be within [0, 1]');
  let cached = { system: false, tools: false };
  if (b.system !== undefined) {
    if (typeof b.system !== 'string') {
      P.check(Array.isArray(b.system), 'system: must be a string or a list of text blocks');
      b.system.forEach((s, i) => {
        P.check(s.type === 'text' && typeof s.text === 'string', `system.${i}: must be a text block`);
        if (checkCache(s.cache_control, `system.${i}`)) cached.system = true;
      });
    }
  }
  const toolNames = new Set();
  if (b.tools !== undefined) {
    P.check(Array.isArray(b.tools), 'tools: must be a list');
    b.tools.forEach((t, i) => {
      P.check(typeof t.name === 'string' && /^[a-zA-Z0-9_-]{1,64}$/.test(t.name), `tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
      P.check(t.input_schema && t.input_schema.type === 'object', `tools.${i}.input_schema: type must be "object"`);
      if (t.description !== undefined) P.check(typeof t.description === 'string', `tools.${i}.description: must be a string`);
      if (checkCache(t.cache_control, `tools.${i}`)) cached.tools = i === b.tools.length - 1;
      toolNames.add(t.name);
    });
  }
  if (b.thinking !== undefined) {
    P.check(b.thinking.type === 'enabled' && Number.isInteger(b.thinking.budget_tokens) && b.thinking.budget_tokens >= 1024,
      'thinking.budget_tokens: must be an integer >= 1024');
    P.check(b.thinking.budget_tokens < b.max_tokens, 'thinking.budget_tokens: must be less than max_tokens');
  }
  P.check(Array.isArray(b.messages) && b.messages.length > 0, 'messages: at least one message is required');
  let pending = null; // tool_use ids the next user message must answer
  let results = [];
  let turn = 0;
  b.messages.forEach((m, i) => {
    P.check(m.role === (i % 2 === 0 ? 'user' : 'assistant'), `messages.${i}.role: roles must alternate between "user" and "assistant", starting with "user"`);
    const blocks = blocksOf(m.content);
    if (m.role === 'assistant') {
      turn++;
      P.check(blocks.length > 0, `messages.${i}: assistant content must not be empty`);
      pending = [];
      for (const bl of blocks) {
        P.check(['text', 'tool_use', 'thinking', 'redacted_thinking'].includes(bl.type), `messages.${i}: unexpected block type ${bl.type}`);
        if (bl.type === 'tool_use') {
          P.check(typeof bl.id === 'string' && typeof bl.name === 'string' && bl.input && typeof bl.input === 'object' && !Array.isArray(bl.input),
            `messages.${i}: tool_use blocks need id, name and an object input`);
          pending.push(bl.id);
        }
        if (bl.type === 'thinking') P.check(typeof bl.signature === 'string', `messages.${i}: thinking blocks must be sent back with their signature`);
      }
      if (pending.length === 0) pending = null;
    } else {
      results = [];
      if (pending) {
        const ids = blocks.filter((bl) => bl.type === 'tool_result').map((bl) => bl.tool_use_id);
        P.check(ids.length === pending.length && pending.every((id) => ids.includes(id)),
          `messages.${i}: tool_use ids were found without tool_result blocks immediately after: ${pending.join(', ')}`);
        let seenOther = false;
        for (const bl of blocks) {
          if (bl.type === 'tool_result') {
            P.check(!seenOther, `messages.${i}: tool_result blocks must come first in the content`);
            const content = typeof bl.content === 'string' ? bl.content
              : (bl.content || []).map((c) => (c.type === 'text' ? c.text : '')).join('');
            results[pending.indexOf(bl.tool_use_id)] = { content, is_error: bl.is_error === true };
          } else seenOther = true;
        }
      } else {
        P.check(!blocks.some((bl) => bl.type === 'tool_result'), `messages.${i}: tool_result without a preceding tool_use`);
      }
    }
  });
  P.check(b.messages[b.messages.length - 1].role === 'user', 'messages: the last message must have role "user"');
  const first = blocksOf(b.messages[0].content).map((bl) => bl.text || '').join('');
  P.stats.cache_control[P.scenarioOf(first)] = cached;
  return { first, turn, results, toolNames };
}

function sse(res, type, data) {
  res.write(`event: ${type}\ndata: ${JSON.stringify(Object.assign({ type }, data))}\n\n`);
}

function respond(res, b, step) {
  const id = P.rid('msg_');
  P.startSSE(res, { 'request-id': P.rid('req_') });
  sse(res, 'message_start', { message: { id, type: 'message', role: 'assistant', content: [], model: b.model,
    stop_reason: null, stop_sequence: null,
    usage: { input_tokens: 25, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 20 } } });
  if (step.cut) {
    sse(res, 'content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    res.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del');
    res.socket.destroy();
    return;
  }
  if (step.hang) {
    sse(res, 'ping', {});
    return; // never ends: the client cancels
  }
  res.cork(); // the rest is ready at once: send it in one segment, as a zero-latency server would
  sse(res, 'ping', {});
  let index = 0;
  if (step.thinking) {
    sse(res, 'content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    for (const p of P.pieces(step.thinking, 2)) sse(res, 'content_block_delta', { index, delta: { type: 'thinking_delta', thinking: p } });
    sse(res, 'content_block_delta', { index, delta: { type: 'signature_delta', signature: 'sig-' + id } });
    sse(res, 'content_block_stop', { index });
    index++;
  }
  if (step.text) {
    sse(res, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const p of P.pieces(step.text, 3)) sse(res, 'content_block_delta', { index, delta: { type: 'text_delta', text: p } });
    sse(res, 'content_block_stop', { index });
    index++;
  }
  for (const t of step.tools || []) {
    sse(res, 'content_block_start', { index, content_block: { type: 'tool_use', id: P.rid('toolu_'), name: t.name, input: {} } });
    sse(res, 'content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
    for (const p of P.pieces(JSON.stringify(t.input), 3)) sse(res, 'content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } });
    sse(res, 'content_block_stop', { index });
    index++;
  }
  sse(res, 'message_delta', { delta: { stop_reason: step.tools ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 12 } });
  sse(res, 'message_stop', {});
  res.end();
}

P.serve('anthropic', async (req, res, url, text) => {
  if (req.method !== 'POST' || url.pathname !== '/v1/messages') return err(res, 404, 'not_found_error', `Not found: ${req.method} ${url.pathname}`);
  let b;
  try { b = JSON.parse(text); } catch (e) { return err(res, 400, 'invalid_request_error', 'invalid JSON body: ' + e.message); }
  P.stats.last_body = b;
  let v;
  try { v = validate(req, b); } catch (e) {
    if (!(e instanceof P.Invalid)) throw e;
    P.stats.invalid.push(e.message);
    return err(res, e.message.startsWith('x-api-key') ? 401 : 400, e.message.startsWith('x-api-key') ? 'authentication_error' : 'invalid_request_error', e.message);
  }
  const step = P.script(v.first, v.turn, v.results);
  if (step.error) {
    const headers = step.retry_after ? { 'retry-after': String(step.retry_after) } : {};
    return err(res, step.error, ERROR_TYPES[step.error] || 'api_error', step.message, headers);
  }
  respond(res, b, step);
});
