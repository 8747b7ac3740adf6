// gemini.js: a local Gemini API (POST /v1beta/models/{model}:streamGenerateContent?alt=sse) for the
// harness tests. It validates requests as documented (x-goog-api-key, user/model turns, function
// responses answering the previous turn's function calls by name and id, functionDeclarations,
// systemInstruction, generationConfig) and streams GenerateContentResponse chunks (the last with a
// finishReason and usageMetadata), or answers with the google.rpc error shape (RetryInfo on 429).
'use strict';
const P = require('./common');

const STATUS = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 529: 'UNAVAILABLE' };

function err(res, code, message, details) {
  P.sendJSON(res, code, { error: { code, message, status: STATUS[code] || 'UNKNOWN', details: details || [] } });
}

function textOf(parts) { return (parts || []).map((p) => p.text || '').join(''); }

function validate(req, url, b) {
  P.check(req.headers['x-goog-api-key'] === P.API_KEY, 'API key not valid. Please pass a valid API key.');
  P.check(url.searchParams.get('alt') === 'sse', 'this peer serves alt=sse streams only');
  P.check(Array.isArray(b.contents) && b.contents.length > 0, '* GenerateContentRequest.contents: contents is not specified');
  if (b.systemInstruction !== undefined) P.check(Array.isArray(b.systemInstruction.parts) && typeof b.systemInstruction.parts[0].text === 'string', 'systemInstruction.parts must hold text');
  if (b.tools !== undefined) {
    P.check(Array.isArray(b.tools) && b.tools.length > 0, 'tools must be a non-empty list');
    for (const t of b.tools) {
      P.check(Array.isArray(t.functionDeclarations), 'tools[].functionDeclarations must be a list');
      t.functionDeclarations.forEach((f, i) => {
        P.check(/^[a-zA-Z_][a-zA-Z0-9_.-]{0,63}$/.test(f.name), `functionDeclarations[${i}].name: Invalid function name`);
        if (f.parameters) {
          P.check(f.parameters.type === 'object' || f.parameters.type === 'OBJECT', `functionDeclarations[${i}].parameters.type must be OBJECT`);
          P.check(f.parameters.additionalProperties === undefined, `Invalid JSON payload received. Unknown name "additionalProperties" at 'tools[0].function_declarations[${i}].parameters'`);
        }
      });
    }
  }
  if (b.generationConfig !== undefined) {
    const g = b.generationConfig;
    if (g.maxOutputTokens !== undefined) P.check(Number.isInteger(g.maxOutputTokens) && g.maxOutputTokens > 0, 'generationConfig.maxOutputTokens must be a positive integer');
    if (g.temperature !== undefined) P.check(typeof g.temperature === 'number' && g.temperature >= 0 && g.temperature <= 2, 'generationConfig.temperature must be within [0, 2]');
  }
  let pending = null;
  let results = [];
  let turn = 0;
  b.contents.forEach((c, i) => {
    P.check(c.role === 'user' || c.role === 'model', `contents[${i}].role must be user or model`);
    P.check(Array.isArray(c.parts) && c.parts.length > 0, `contents[${i}].parts must not be empty`);
    if (c.role === 'model') {
      turn++;
      pending = c.parts.filter((p) => p.functionCall).map((p) => p.functionCall);
      for (const fc of pending) P.check(fc.args && typeof fc.args === 'object' && !Array.isArray(fc.args), `contents[${i}]: functionCall.args must be an object`);
      if (pending.length === 0) pending = null;
    } else {
      const responses = c.parts.filter((p) => p.functionResponse).map((p) => p.functionResponse);
      if (pending) {
        P.check(responses.length === pending.length, `Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.`);
        results = responses.map((r, j) => {
          P.check(r.name === pending[j].name, `contents[${i}].parts[${j}]: functionResponse.name ${r.name} does not match the call ${pending[j].name}`);
          if (pending[j].id) P.check(r.id === pending[j].id, `contents[${i}].parts[${j}]: functionResponse.id must echo the call's id`);
          P.check(r.response && typeof r.response === 'object', `contents[${i}].parts[${j}]: functionResponse.response must be an object`);
          const isErr = r.response.error !== undefined;
          return { content: String(isErr ? r.response.error : r.response.result), is_error: isErr };
        });
        pending = null;
      } else {
        P.check(responses.length === 0, `contents[${i}]: functionResponse without a preceding functionCall`);
        results = [];
      }
    }
  });
  P.check(b.contents[b.contents.length - 1].role === 'user', 'the last content must have role user');
  return { first: textOf(b.contents[0].parts), turn, results };
}

function chunk(res, obj) { res.write('data: ' + JSON.stringify(obj) + '\r\n\r\n'); }

function respond(res, model, step) {
  P.startSSE(res);
  const base = (parts, extra) => Object.assign({ candidates: [{ content: { parts, role: 'model' }, index: 0 }],
    usageMetadata: { promptTokenCount: 40, totalTokenCount: 40 }, modelVersion: model, responseId: P.rid('') }, extra || {});
  if (step.cut) {
    chunk(res, base([{ text: 'Partial ' }]));
    res.write('data: {"candidates": [{"content": {"parts": [{"text": "and then');
    res.socket.destroy();
    return;
  }
  if (step.hang) { chunk(res, base([{ text: '' }])); return; }
  res.cork(); // the rest is ready at once: send it in one segment, as a zero-latency server would
  if (step.thinking) chunk(res, base([{ text: step.thinking, thought: true }]));
  const parts = [];
  if (step.text) for (const p of P.pieces(step.text, 3)) parts.push([{ text: p }]);
  if (step.tools) parts.push(step.tools.map((t, i) => Object.assign({ functionCall: { name: t.name, args: t.input, id: P.rid('fc_') } },
    i === 0 ? { thoughtSignature: 'c2ln' } : {})));
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    const c = base(p);
    if (last) {
      c.candidates[0].finishReason = 'STOP';
      c.usageMetadata = { promptTokenCount: 40, candidatesTokenCount: 12, totalTokenCount: 52 };
    }
    chunk(res, c);
  });
  res.end();
}

P.serve('gemini', async (req, res, url, text) => {
  const m = /^\/v1beta\/models\/([^/:]+):streamGenerateContent$/.exec(url.pathname);
  if (req.method !== 'POST' || !m) return err(res, 404, `Not found: ${req.method} ${url.pathname}`);
  let b;
  try { b = JSON.parse(text); } catch (e) { return err(res, 400, 'Invalid JSON payload received.'); }
  P.stats.last_body = b;
  let v;
  try { v = validate(req, url, b); } catch (e) {
    if (!(e instanceof P.Invalid)) throw e;
    P.stats.invalid.push(e.message);
    return err(res, e.message.startsWith('API key') ? 403 : 400, e.message);
  }
  const step = P.script(v.first, v.turn, v.results);
  if (step.error) {
    const details = step.retry_after ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: step.retry_after + 's' }] : [];
    return err(res, step.error, step.message, details);
  }
  respond(res, m[1], step);
});
