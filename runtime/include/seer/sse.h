/* Incremental parser for Server-Sent Events (the WHATWG "text/event-stream" format), fed with
 * arbitrary chunks of a response body. Used by the HTTP client's SSE mode and usable on its own. */
#ifndef SEER_SSE_H
#define SEER_SSE_H

#include <stddef.h>

#include "seer/buf.h"

typedef struct seer_sse_event {
  const char *event; /* the "event:" field, "message" when absent */
  const char *data;  /* "data:" lines joined with "\n", NUL-terminated */
  size_t data_len;
  const char *id; /* the last event id seen so far on this stream ("" if none) */
  long retry_ms;  /* the last valid "retry:" value, -1 if none */
} seer_sse_event;

/* Returns 0 to continue, anything else to stop parsing (seer_sse_feed then returns that value). */
typedef int (*seer_sse_cb)(const seer_sse_event *ev, void *ud);

typedef struct seer_sse_parser {
  seer_buf line;  /* the current, incomplete line */
  seer_buf data;  /* data lines of the event being assembled */
  seer_buf event; /* its event name */
  seer_buf id;    /* last event id */
  long retry_ms;
  int has_data; /* a data field was seen (an empty "data:" still dispatches) */
  int skip_lf;  /* the previous chunk ended in CR: a leading LF belongs to that line break */
  int bom_checked;
  size_t events; /* events dispatched so far */
} seer_sse_parser;

/* The stream is the peer's: one line, or one event's joined data, larger than this is refused
 * (SEER_EFORMAT from seer_sse_feed) instead of being buffered without bound. */
#define SEER_SSE_MAX_EVENT ((size_t)64 << 20)

void seer_sse_init(seer_sse_parser *p);
/* Parses len bytes; calls cb for every complete event. Returns 0, SEER_ENOMEM, SEER_EFORMAT (a line
 * or an event over SEER_SSE_MAX_EVENT), or cb's nonzero. */
int seer_sse_feed(seer_sse_parser *p, const char *data, size_t len, seer_sse_cb cb, void *ud);
/* 1 if bytes of an unfinished event are buffered (the stream ended mid-event). */
int seer_sse_pending(const seer_sse_parser *p);
void seer_sse_free(seer_sse_parser *p);

#endif
