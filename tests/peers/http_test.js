// http_test.js: a plain HTTP server for seer.http's tests: echo, statuses, slow and stalled
// responses, chunked streams, event streams split at awkward byte boundaries (inside a field,
// between CR and LF), a gzip body, a stream that is cut mid-body, and answers too large to buffer
// (a big body, a gzip bomb, a flood of headers).
'use strict';
const zlib = require('zlib');
const P = require('./common');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

P.serve('http_test', async (req, res, url, body) => {
  const p = url.pathname;
  if (p === '/echo') {
    return P.sendJSON(res, 200, { method: req.method, headers: req.headers, body, query: url.search },
      { 'x-request-id': 'req-echo-1', 'set-cookie': ['a=1', 'b=2'] });
  }
  let m = /^\/status\/(\d+)$/.exec(p);
  if (m) return P.sendJSON(res, Number(m[1]), { error: { message: 'status ' + m[1] } });
  if (p === '/slow') {
    await sleep(Number(url.searchParams.get('ms') || 1000));
    return P.sendJSON(res, 200, { slow: true });
  }
  if (p === '/stall') { // headers, one chunk, then silence
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first');
    return;
  }
  if (p === '/chunks') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (let i = 1; i <= 5; i++) { res.write('chunk' + i + ';'); await sleep(5); }
    return res.end();
  }
  if (p === '/sse') {
    // Three events, written in pieces that split a field name, a CRLF pair and a multi-line data.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const wire = ': comment\r\nevent: greet\r\ndata: hello\r\n\r\n' + 'id: 7\ndata: line1\ndata: line2\n\n' +
      'data: {"n":3}\rretry: 250\r\r' + 'event: ignored-without-data\n\n' + 'data:no-space\n\n';
    const cuts = [3, 14, 31, 32, 50, 51, 70, 90, 101];
    let prev = 0;
    for (const c of cuts) { res.write(wire.slice(prev, c)); prev = c; await sleep(2); }
    res.write(wire.slice(prev));
    return res.end();
  }
  if (p === '/sse-error') { // an SSE request answered with a JSON error document
    return P.sendJSON(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '2' });
  }
  if (p === '/gzip') {
    const text = 'compressible '.repeat(1000);
    const gz = zlib.gzipSync(Buffer.from(text));
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': gz.length });
    return res.end(gz);
  }
  if (p === '/big') { // n bytes in 64 KiB chunks; status from ?status
    const n = Number(url.searchParams.get('n'));
    res.writeHead(Number(url.searchParams.get('status') || 200), { 'content-type': 'text/plain' });
    for (let left = n; left > 0; left -= 65536) res.write('x'.repeat(Math.min(left, 65536)));
    return res.end();
  }
  if (p === '/gzip-bomb') { // 16 MiB of zeros in a few KiB
    const gz = zlib.gzipSync(Buffer.alloc(16 << 20));
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': gz.length });
    return res.end(gz);
  }
  if (p === '/header-flood') { // 400 headers of 1 KiB each, written raw
    let head = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n';
    for (let i = 0; i < 400; i++) head += `x-filler-${i}: ${'y'.repeat(1024)}\r\n`;
    return res.socket.end(head + '\r\nok');
  }
  if (p === '/cut') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
    res.write('only part of it');
    await sleep(5);
    return res.socket.destroy();
  }
  P.sendJSON(res, 404, { error: 'no route ' + p });
});
