/* HTTP client on libcurl's multi interface, driven by the runtime's libuv loop: many requests run
 * concurrently on one thread, each reporting its response head, body chunks (raw, or parsed as
 * Server-Sent Events) and completion through callbacks fired from seer_loop_run_once. TLS, proxies
 * from the environment (http_proxy, https_proxy, no_proxy) and HTTP/2 come from libcurl. */
#ifndef SEER_HTTP_H
#define SEER_HTTP_H

#include <stddef.h>

#include "seer/error.h"
#include "seer/loop.h"
#include "seer/sse.h"

typedef struct seer_http_client seer_http_client;
typedef struct seer_http_request seer_http_request;

/* Body delivery: collected and handed over at completion, passed on chunk by chunk, or parsed as
 * an event stream (then only events, not bytes, reach the callbacks). Streaming applies to 2xx
 * responses only (and for SSE, to a text/event-stream content type): any other response is a
 * document, such as an API's JSON error, and is collected into the result's body instead. */
enum { SEER_HTTP_BUFFER = 0, SEER_HTTP_STREAM = 1, SEER_HTTP_SSE = 2 };

/* A collected body (a whole API answer or error document) larger than this is refused: a broken
 * or hostile server must not make the host buffer without bound. The response head is capped at
 * SEER_HTTP_MAX_HEAD. */
#define SEER_HTTP_MAX_BODY ((size_t)64 << 20)
#define SEER_HTTP_MAX_HEAD ((size_t)256 << 10)

typedef struct seer_http_result {
  int code;          /* SEER_OK when a complete response arrived (any HTTP status) */
  long status;       /* HTTP status, 0 if none was received */
  const char *error; /* what went wrong when code != SEER_OK */
  const char *kind;  /* "ok", "timeout", "connect", "network", "tls", "invalid", "aborted",
                      * "too_large" */
  int buffered;      /* the body was collected: BUFFER mode, or a non-2xx response, or an SSE
                      * request answered with another content type */
  const char *body;  /* when buffered: the whole body (NUL-terminated), else NULL */
  size_t body_len;
  const char *headers; /* raw final response head: "Name: value\r\n" lines */
  size_t headers_len;
  double elapsed; /* seconds from start to completion */
} seer_http_result;

typedef struct seer_http_opts {
  const char *method; /* default "GET", or "POST" when a body is given */
  const char *url;
  const char *const *headers; /* NULL-terminated "Name: value" strings */
  const char *body;           /* copied; may be NULL */
  size_t body_len;
  double timeout_s;         /* whole transfer; 0: none */
  double connect_timeout_s; /* 0: libcurl's default (300 s) */
  double idle_timeout_s;    /* abort when no byte arrives for this long; 0: never */
  int accept_encoding;      /* 1: offer gzip/deflate/br and decode the body transparently */
  int mode;                 /* SEER_HTTP_BUFFER, _STREAM or _SSE */
  size_t max_body; /* most bytes a collected body may hold; 0: SEER_HTTP_MAX_BODY. Past it the
                    * request fails ("too_large") instead of growing without bound. */
  /* The final response head is complete (after any 1xx). */
  void (*on_head)(seer_http_request *r, long status, const char *headers, size_t len, void *ud);
  /* SEER_HTTP_STREAM: a body chunk. Return nonzero to abort the transfer ("aborted"). */
  int (*on_data)(seer_http_request *r, const char *data, size_t len, void *ud);
  /* SEER_HTTP_SSE: an event. Return nonzero to abort the transfer ("aborted"). */
  int (*on_event)(seer_http_request *r, const seer_sse_event *ev, void *ud);
  /* Always called exactly once unless the request is cancelled first; r is freed after it. */
  void (*on_done)(seer_http_request *r, const seer_http_result *res, void *ud);
  void *ud;
} seer_http_opts;

/* One client per loop; it shares connections (keep-alive, HTTP/2 multiplexing) between requests.
 * max_host_connections bounds the sockets opened to one host (0: 256); further requests queue. */
int seer_http_client_new(seer_loop *loop, long max_host_connections, seer_http_client **out,
                         seer_error *err);
/* Cancels outstanding requests (no callbacks) and frees the client. loop_gone: the loop was already
 * freed, so its handles must not be touched (runtime shutdown frees the loop first). */
void seer_http_client_free(seer_http_client *c, int loop_gone);
/* Starts a request; callbacks fire from the loop, never from inside this call. */
int seer_http_request_start(seer_http_client *c, const seer_http_opts *opts,
                            seer_http_request **out, seer_error *err);
/* Stops a request; on_done is not called and r is invalid afterwards. Safe from inside callbacks
 * of the same request (the transfer is then stopped when the callback returns). */
void seer_http_request_cancel(seer_http_request *r);
/* Requests started but not yet done or cancelled. */
size_t seer_http_client_active(const seer_http_client *c);

#endif
