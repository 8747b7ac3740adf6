/* sse.c: owns the incremental Server-Sent Events parser. Chunks arrive split anywhere (inside a
 * field, between CR and LF), so the parser keeps the partial line and the event being assembled
 * between calls; field rules follow the WHATWG event-stream interpretation. */
#include "seer/sse.h"

#include <string.h>

#include "seer/error.h"

void seer_sse_init(seer_sse_parser *p) {
  memset(p, 0, sizeof *p);
  p->retry_ms = -1;
}

void seer_sse_free(seer_sse_parser *p) {
  seer_buf_free(&p->line);
  seer_buf_free(&p->data);
  seer_buf_free(&p->event);
  seer_buf_free(&p->id);
}

int seer_sse_pending(const seer_sse_parser *p) {
  return p->line.len > 0 || p->has_data || p->event.len > 0;
}

static int dispatch(seer_sse_parser *p, seer_sse_cb cb, void *ud) {
  int rc = 0;
  if (p->has_data) {
    if (seer_buf_terminate(&p->data) || seer_buf_terminate(&p->event) || seer_buf_terminate(&p->id))
      return SEER_ENOMEM;
    seer_sse_event ev = {.event = p->event.len ? p->event.data : "message",
                         .data = p->data.data,
                         .data_len = p->data.len,
                         .id = p->id.len ? p->id.data : "",
                         .retry_ms = p->retry_ms};
    p->events++;
    rc = cb(&ev, ud);
  }
  /* The event name and data reset after every blank line; the last event id persists. */
  p->data.len = 0;
  p->event.len = 0;
  p->has_data = 0;
  return rc;
}

static int field(seer_sse_parser *p, const char *line, size_t len) {
  if (len > 0 && line[0] == ':') return 0; /* comment, e.g. keep-alive pings */
  const char *colon = memchr(line, ':', len);
  size_t name_len = colon ? (size_t)(colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  size_t value_len = colon ? len - name_len - 1 : 0;
  if (value_len > 0 && value[0] == ' ') value++, value_len--;
#define IS(s) (name_len == sizeof(s) - 1 && memcmp(line, s, sizeof(s) - 1) == 0)
  if (IS("data")) {
    if (p->data.len + value_len + 1 > SEER_SSE_MAX_EVENT) return SEER_EFORMAT;
    if (p->has_data && seer_buf_appendc(&p->data, '\n')) return SEER_ENOMEM;
    p->has_data = 1;
    return seer_buf_append(&p->data, value, value_len);
  }
  if (IS("event")) {
    p->event.len = 0;
    return seer_buf_append(&p->event, value, value_len);
  }
  if (IS("id")) {
    if (memchr(value, '\0', value_len)) return 0; /* ignored by the spec */
    p->id.len = 0;
    return seer_buf_append(&p->id, value, value_len);
  }
  if (IS("retry")) {
    long ms = 0;
    if (value_len == 0) return 0;
    for (size_t i = 0; i < value_len; i++) {
      if (value[i] < '0' || value[i] > '9' || ms > 100000000L) return 0;
      ms = ms * 10 + (value[i] - '0');
    }
    p->retry_ms = ms;
  }
#undef IS
  return 0; /* unknown fields are ignored */
}

static int end_of_line(seer_sse_parser *p, const char *line, size_t len, seer_sse_cb cb, void *ud) {
  if (!p->bom_checked) {
    p->bom_checked = 1;
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) line += 3, len -= 3;
  }
  if (len == 0) return dispatch(p, cb, ud);
  return field(p, line, len);
}

int seer_sse_feed(seer_sse_parser *p, const char *data, size_t len, seer_sse_cb cb, void *ud) {
  size_t i = 0;
  if (p->skip_lf && len > 0) {
    p->skip_lf = 0;
    if (data[0] == '\n') i = 1;
  }
  while (i < len) {
    /* Find the next CR or LF; the bytes before it complete the buffered partial line. */
    size_t j = i;
    while (j < len && data[j] != '\n' && data[j] != '\r')
      j++;
    if (p->line.len + (j - i) > SEER_SSE_MAX_EVENT) return SEER_EFORMAT;
    if (j == len) return seer_buf_append(&p->line, data + i, len - i);
    int rc;
    if (p->line.len) {
      if (seer_buf_append(&p->line, data + i, j - i)) return SEER_ENOMEM;
      rc = end_of_line(p, p->line.data, p->line.len, cb, ud);
      p->line.len = 0;
    } else {
      rc = end_of_line(p, data + i, j - i, cb, ud);
    }
    if (rc) return rc;
    if (data[j] == '\r') {
      if (j + 1 < len) {
        if (data[j + 1] == '\n') j++;
      } else {
        p->skip_lf = 1;
      }
    }
    i = j + 1;
  }
  return 0;
}
