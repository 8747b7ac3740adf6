/* fuzz_sse.c: the SSE parser fed a hostile event stream twice, whole and in chunks split at
 * input-chosen points (inside fields, between CR and LF, inside the BOM). Both feeds must produce
 * the same events; a difference aborts, so split-dependent parsing is a finding, not just crashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seer/buf.h"
#include "seer/sse.h"

/* Every event, serialized with its lengths, so two runs compare byte for byte. */
static int record(const seer_sse_event *ev, void *ud) {
  seer_buf *b = ud;
  if (strlen(ev->data) > ev->data_len)
    abort(); /* data is NUL-terminated at data_len or holds NULs */
  seer_buf_printf(b, "E%zu:%s|D%zu:", strlen(ev->event), ev->event, ev->data_len);
  seer_buf_append(b, ev->data, ev->data_len);
  seer_buf_printf(b, "|I%zu:%s|R%ld\n", strlen(ev->id), ev->id, ev->retry_ms);
  return 0;
}

static void parse(const char *s, size_t n, const uint8_t *splits, size_t nsplits, seer_buf *out) {
  seer_sse_parser p;
  seer_sse_init(&p);
  size_t at = 0, k = 0;
  while (at < n) {
    /* Chunk lengths 0..15 from the split bytes (0 feeds an empty chunk), the rest in one piece. */
    size_t len = k < nsplits ? (size_t)(splits[k++] & 15) : n - at;
    if (len > n - at) len = n - at;
    if (seer_sse_feed(&p, s + at, len, record, out) != 0) abort();
    at += len;
  }
  seer_buf_printf(out, "pending %d events %zu\n", seer_sse_pending(&p), p.events);
  seer_sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Layout: one byte N, then N split bytes, then the stream. */
  if (size < 1) return 0;
  size_t nsplits = data[0];
  if (nsplits > size - 1) nsplits = size - 1;
  const uint8_t *splits = data + 1;
  const char *stream = (const char *)data + 1 + nsplits;
  size_t n = size - 1 - nsplits;
  seer_buf whole = SEER_BUF_INIT, chunked = SEER_BUF_INIT;
  parse(stream, n, NULL, 0, &whole);
  parse(stream, n, splits, nsplits, &chunked);
  if (whole.len != chunked.len || memcmp(whole.data, chunked.data, whole.len) != 0) {
    fprintf(stderr,
            "fuzz_sse: events differ when the stream is split\nwhole:\n%.*s\nchunked:\n%.*s\n",
            (int)whole.len, whole.data, (int)chunked.len, chunked.data);
    abort();
  }
  seer_buf_free(&whole);
  seer_buf_free(&chunked);
  return 0;
}
