/* http.c: owns the HTTP client: a libcurl multi handle whose sockets and timer are watched by the
 * runtime's libuv loop (uv_poll per socket, one uv_timer), the per-request state (headers, body
 * buffer or SSE parser), and completion reporting with errors classified for retry policies.
 * Poll and timer handles are unreferenced so that idle keep-alive connections never keep the loop
 * alive; a check handle is referenced exactly while requests are in flight. */
#include "seer/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>
#include <unistd.h>

#include "seer/buf.h"
#include "seer/log.h"

typedef struct sock_ctx {
  uv_poll_t poll;
  seer_http_client *c;
  curl_socket_t fd;
  int parked; /* stopped after CURL_POLL_REMOVE and kept for the fd's next transfer */
  struct sock_ctx *prev, *next;
} sock_ctx;

/* Watchers kept stopped for reuse. libcurl removes a keep-alive connection's socket after every
 * transfer and adds it back for the next; a fresh uv_poll per transfer costs five system calls
 * (libuv's epoll ADD+DEL probe, FIONBIO, and an epoll DEL on init and on close) of the ~14 a
 * loopback turn makes, so the stopped watcher is kept and restarted with one epoll ADD. A parked
 * watcher is stopped (not in epoll), so if its fd is closed and the number reused, the next start
 * registers whatever socket libcurl then hands over under that number, which is what it asks for.
 */
#define MAX_PARKED_SOCKS 16

struct seer_http_request {
  seer_http_client *c;
  CURL *easy;
  struct curl_slist *headers;
  seer_http_opts o; /* callbacks, ud and mode; the string fields are not kept */
  seer_buf head;
  seer_buf body;
  seer_sse_parser sse;
  long status;
  int head_done;
  int cancelled;
  int finishing;
  double start;
  double last_activity; /* for the idle timeout */
  char method[16];
  char *url;
  const char *too_large; /* "body" or "head" when a cap stopped the transfer */
  char errbuf[CURL_ERROR_SIZE];
  seer_http_request *prev, *next;
};

struct seer_http_client {
  CURLM *multi;
  uv_loop_t *uv;
  uv_timer_t timer;
  uv_check_t busy; /* referenced and started while requests are in flight */
  uv_timer_t idle; /* ticks while a request has an idle timeout */
  size_t idle_watched;
  int loop_gone;
  int in_curl;          /* inside curl_multi_socket_action: removing handles must wait */
  size_t active;        /* requests not yet finished or cancelled */
  size_t cancel_queued; /* cancelled while in_curl, removed after the action returns */
  int closes_pending;   /* handle closes still to run before the client can be freed */
  int freeing;
  seer_http_request *requests;
  sock_ctx *socks;
  int n_parked;
  CURL *idle_easy[32]; /* finished handles, reset and reused: creating one per request costs more
                        * than a loopback round trip's worth of CPU */
  int n_idle_easy;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void on_busy(uv_check_t *h) {}

static void update_busy(seer_http_client *c) {
  if (c->loop_gone || c->freeing) return;
  if (c->active > 0 && !uv_is_active((uv_handle_t *)&c->busy))
    uv_check_start(&c->busy, on_busy);
  else if (c->active == 0 && uv_is_active((uv_handle_t *)&c->busy))
    uv_check_stop(&c->busy);
}

/* ---- request lifetime ---- */

static void request_free(seer_http_request *r) {
  seer_http_client *c = r->c;
  if (r->easy) {
    curl_multi_remove_handle(c->multi, r->easy);
    if (!c->freeing && c->n_idle_easy < (int)(sizeof c->idle_easy / sizeof c->idle_easy[0])) {
      curl_easy_reset(r->easy);
      c->idle_easy[c->n_idle_easy++] = r->easy;
    } else {
      curl_easy_cleanup(r->easy);
    }
  }
  curl_slist_free_all(r->headers);
  seer_buf_free(&r->head);
  seer_buf_free(&r->body);
  seer_sse_free(&r->sse);
  free(r->url);
  if (r->prev)
    r->prev->next = r->next;
  else if (c->requests == r)
    c->requests = r->next;
  if (r->next) r->next->prev = r->prev;
  if (c->active > 0) c->active--;
  if (r->o.idle_timeout_s > 0 && c->idle_watched > 0 && --c->idle_watched == 0 && !c->loop_gone &&
      !c->freeing)
    uv_timer_stop(&c->idle);
  free(r);
  update_busy(c);
}

static void sweep_cancelled(seer_http_client *c) {
  if (c->cancel_queued == 0 || c->in_curl) return;
  c->cancel_queued = 0;
  seer_http_request *r = c->requests;
  while (r) {
    seer_http_request *next = r->next;
    if (r->cancelled) request_free(r);
    r = next;
  }
}

void seer_http_request_cancel(seer_http_request *r) {
  if (!r || r->cancelled || r->finishing) return;
  r->cancelled = 1;
  if (r->c->in_curl) {
    /* curl forbids removing a handle from inside its callbacks; the write and header callbacks
     * see the flag and stop the transfer, and the sweep after the action frees it. */
    r->c->cancel_queued++;
    return;
  }
  request_free(r);
}

size_t seer_http_client_active(const seer_http_client *c) { return c->active; }

/* ---- completion ---- */

static const char *error_kind(CURLcode rc) {
  switch (rc) {
  case CURLE_OK: return "ok";
  case CURLE_OPERATION_TIMEDOUT: return "timeout";
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT: return "connect";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE: return "tls";
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_BAD_FUNCTION_ARGUMENT: return "invalid";
  case CURLE_WRITE_ERROR:
  case CURLE_ABORTED_BY_CALLBACK: return "aborted";
  default: return "network";
  }
}

/* Finds a request id header (Anthropic "request-id", OpenAI "x-request-id", Google
 * "x-goog-request-id") in the raw head, for the log line that ties a failure to the provider. */
static void find_request_id(const seer_buf *head, char *out, size_t out_size) {
  static const char *const names[] = {"request-id:", "x-request-id:", "x-goog-request-id:"};
  out[0] = '\0';
  const char *p = head->data, *end = head->data + head->len;
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((eol ? eol : end) - p);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      size_t k = strlen(names[i]);
      if (n > k && strncasecmp(p, names[i], k) == 0) {
        const char *v = p + k;
        while (v < p + n && (*v == ' ' || *v == '\t'))
          v++;
        size_t vn = (size_t)(p + n - v);
        while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == ' '))
          vn--;
        if (vn >= out_size) vn = out_size - 1;
        memcpy(out, v, vn);
        out[vn] = '\0';
        return;
      }
    }
    p = eol ? eol + 1 : NULL;
  }
}

static size_t max_body(const seer_http_request *r) {
  return r->o.max_body ? r->o.max_body : SEER_HTTP_MAX_BODY;
}

static void finish(seer_http_request *r, CURLcode rc, const char *override_msg) {
  seer_http_result res;
  memset(&res, 0, sizeof res);
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
  res.code = rc == CURLE_OK ? SEER_OK : rc == CURLE_OPERATION_TIMEDOUT ? SEER_ETIMEOUT : SEER_EIO;
  res.kind = error_kind(rc);
  char msg[CURL_ERROR_SIZE + 512];
  if (rc != CURLE_OK && r->too_large) {
    res.kind = "too_large";
    if (r->too_large[0] == 'b')
      snprintf(msg, sizeof msg,
               "http: the response body from %.300s is larger than %zu bytes; stopped reading it "
               "(raise max_body if so large an answer is expected)",
               r->url, max_body(r));
    else
      snprintf(msg, sizeof msg,
               "http: the response headers from %.300s are larger than %zu bytes; stopped reading",
               r->url, SEER_HTTP_MAX_HEAD);
    override_msg = msg;
  }
  if (rc != CURLE_OK) {
    if (override_msg != msg)
      snprintf(msg, sizeof msg, "%s",
               override_msg   ? override_msg
               : r->errbuf[0] ? r->errbuf
                              : curl_easy_strerror(rc));
    res.error = msg;
  }
  seer_buf_terminate(&r->body);
  seer_buf_terminate(&r->head);
  res.buffered = r->o.mode == SEER_HTTP_BUFFER;
  if (r->o.mode == SEER_HTTP_BUFFER) {
    res.body = r->body.data ? r->body.data : "";
    res.body_len = r->body.len;
  }
  res.headers = r->head.data ? r->head.data : "";
  res.headers_len = r->head.len;
  res.elapsed = seer_loop_now() - r->start;
  if (seer_log_level() <= SEER_LOG_DEBUG) {
    char rid[128];
    find_request_id(&r->head, rid, sizeof rid);
    if (rc == CURLE_OK)
      seer_log(SEER_LOG_DEBUG, "http", "%s %s -> %ld in %.3f s%s%s", r->method, r->url, res.status,
               res.elapsed, rid[0] ? ", request id " : "", rid);
    else
      seer_log(SEER_LOG_DEBUG, "http", "%s %s failed after %.3f s (%s): %s%s%s", r->method, r->url,
               res.elapsed, res.kind, res.error, rid[0] ? ", request id " : "", rid);
  }
  if (r->o.on_done) r->o.on_done(r, &res, r->o.ud);
}

static void check_done(seer_http_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    seer_http_request *r = NULL;
    CURLcode rc = m->data.result;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r) continue;
    if (!r->cancelled) {
      r->finishing = 1; /* a cancel from inside on_done must not free r under us */
      finish(r, rc, NULL);
    }
    request_free(r);
  }
  sweep_cancelled(c);
}

static void socket_action(seer_http_client *c, curl_socket_t s, int flags) {
  int running;
  c->in_curl++;
  curl_multi_socket_action(c->multi, s, flags, &running);
  c->in_curl--;
  sweep_cancelled(c);
  check_done(c);
}

/* ---- libcurl <-> libuv glue ---- */

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *sc = h->data;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  uv_os_fd_t fd;
  uv_fileno((uv_handle_t *)h, &fd);
  socket_action(sc->c, (curl_socket_t)fd, flags);
}

static void on_sock_closed(uv_handle_t *h) {
  sock_ctx *sc = h->data;
  seer_http_client *c = sc->c;
  free(sc);
  if (c->freeing && --c->closes_pending == 0) free(c);
}

static void sock_close(seer_http_client *c, sock_ctx *sc) {
  if (sc->prev)
    sc->prev->next = sc->next;
  else
    c->socks = sc->next;
  if (sc->next) sc->next->prev = sc->prev;
  if (sc->parked) c->n_parked--;
  if (c->loop_gone) {
    free(sc); /* the loop closed the handle already, with no callback */
    return;
  }
  if (c->freeing) c->closes_pending++;
  uv_poll_stop(&sc->poll);
  uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
}

/* CURL_POLL_REMOVE: stop the watcher and keep it for the fd's next transfer (closing the oldest
 * parked one past MAX_PARKED_SOCKS: the list is newest first, so that is the last parked). */
static void sock_park(seer_http_client *c, sock_ctx *sc) {
  if (c->loop_gone || c->freeing) {
    sock_close(c, sc);
    return;
  }
  uv_poll_stop(&sc->poll);
  sc->parked = 1;
  if (++c->n_parked <= MAX_PARKED_SOCKS) return;
  sock_ctx *oldest = NULL;
  for (sock_ctx *p = c->socks; p; p = p->next)
    if (p->parked && p != sc) oldest = p;
  if (oldest) sock_close(c, oldest);
}

static sock_ctx *sock_unpark(seer_http_client *c, curl_socket_t s) {
  for (sock_ctx *p = c->socks; p; p = p->next)
    if (p->parked && p->fd == s) {
      p->parked = 0;
      c->n_parked--;
      return p;
    }
  return NULL;
}

/* CURLOPT_CLOSESOCKETFUNCTION: libcurl has removed the socket (parking its watcher) and closes
 * it now; the watcher goes first, while the fd is still this socket. */
static int on_close_socket(void *userp, curl_socket_t s) {
  seer_http_client *c = userp;
  for (sock_ctx *p = c->socks; p; p = p->next)
    if (p->parked && p->fd == s) {
      sock_close(c, p);
      break;
    }
  return close(s);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  seer_http_client *c = userp;
  sock_ctx *sc = socketp;
  seer_log(SEER_LOG_TRACE, "http", "socket %d what %d ctx %p", (int)s, what, (void *)sc);
  if (what == CURL_POLL_REMOVE) {
    if (sc) {
      curl_multi_assign(c->multi, s, NULL);
      sock_park(c, sc);
    }
    return 0;
  }
  if (c->loop_gone) return -1;
  if (!sc && (sc = sock_unpark(c, s)) != NULL) curl_multi_assign(c->multi, s, sc);
  if (!sc) {
    sc = calloc(1, sizeof *sc);
    if (!sc) return -1;
    int prc = uv_poll_init_socket(c->uv, &sc->poll, s);
    if (prc != 0) {
      seer_log(SEER_LOG_WARN, "http", "cannot watch socket %d: %s", (int)s, uv_strerror(prc));
      free(sc);
      return -1;
    }
    sc->poll.data = sc;
    sc->c = c;
    sc->fd = s;
    uv_unref((uv_handle_t *)&sc->poll);
    sc->next = c->socks;
    if (c->socks) c->socks->prev = sc;
    c->socks = sc;
    curl_multi_assign(c->multi, s, sc);
  }
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  uv_poll_start(&sc->poll, ev, on_poll);
  return 0;
}

static void on_timer(uv_timer_t *t) {
  seer_http_client *c = t->data;
  socket_action(c, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
  seer_http_client *c = userp;
  seer_log(SEER_LOG_TRACE, "http", "timer %ld", timeout_ms);
  if (c->loop_gone || c->freeing) return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* libcurl's low-speed check averages over several seconds, so a stalled stream would be noticed
 * late; this tick ends a request as soon as no byte has arrived for its idle timeout. */
static void on_idle_tick(uv_timer_t *t) {
  seer_http_client *c = t->data;
  double now = seer_loop_now();
  seer_http_request *r = c->requests;
  while (r) {
    seer_http_request *next = r->next;
    if (!r->cancelled && r->o.idle_timeout_s > 0 && now - r->last_activity > r->o.idle_timeout_s) {
      char msg[128];
      snprintf(msg, sizeof msg, "no data received for %g s (idle timeout)", r->o.idle_timeout_s);
      r->finishing = 1;
      finish(r, CURLE_OPERATION_TIMEDOUT, msg);
      request_free(r);
      next = c->requests; /* callbacks may have changed the list: rescan (finished ones are gone) */
    }
    r = next;
  }
}

/* ---- client ---- */

int seer_http_client_new(seer_loop *loop, long max_host_connections, seer_http_client **out,
                         seer_error *err) {
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return seer_errorf(err, SEER_EIO, "http: libcurl initialisation failed: %s",
                       curl_easy_strerror(curl_init_rc));
  seer_http_client *c = calloc(1, sizeof *c);
  if (!c) return seer_errorf(err, SEER_ENOMEM, "http: out of memory");
  c->multi = curl_multi_init();
  if (!c->multi) {
    free(c);
    return seer_errorf(err, SEER_ENOMEM, "http: curl_multi_init failed");
  }
  c->uv = seer_loop_uv(loop);
  uv_timer_init(c->uv, &c->timer);
  c->timer.data = c;
  uv_unref((uv_handle_t *)&c->timer);
  uv_check_init(c->uv, &c->busy);
  c->busy.data = c;
  uv_timer_init(c->uv, &c->idle);
  c->idle.data = c;
  uv_unref((uv_handle_t *)&c->idle);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  /* Bounded sockets per host: a thousand agents on one API must not run out of descriptors;
   * transfers beyond the bound wait in curl's queue (HTTP/2 multiplexes them instead). */
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    max_host_connections > 0 ? max_host_connections : 256L);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 512L);
  *out = c;
  return SEER_OK;
}

static void on_client_handle_closed(uv_handle_t *h) {
  seer_http_client *c = h->data;
  if (--c->closes_pending == 0) free(c);
}

void seer_http_client_free(seer_http_client *c, int loop_gone) {
  if (!c) return;
  c->loop_gone = loop_gone;
  c->freeing = 1;
  while (c->requests) {
    c->requests->cancelled = 1;
    request_free(c->requests);
  }
  while (c->n_idle_easy > 0)
    curl_easy_cleanup(c->idle_easy[--c->n_idle_easy]);
  curl_multi_cleanup(c->multi); /* may report sockets removed: sock_close handles both cases */
  c->multi = NULL;
  while (c->socks)
    sock_close(c, c->socks);
  if (loop_gone) {
    free(c);
    return;
  }
  c->closes_pending += 3;
  uv_close((uv_handle_t *)&c->idle, on_client_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_client_handle_closed);
  uv_close((uv_handle_t *)&c->busy, on_client_handle_closed);
}

/* ---- request callbacks (run inside curl_multi_socket_action) ---- */

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  seer_http_request *r = ud;
  size_t len = size * n;
  if (r->cancelled) return 0;
  r->last_activity = seer_loop_now();
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    r->head.len = 0; /* a new response (after 1xx or a redirect) replaces the previous head */
    return len;
  }
  if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && !r->head_done) {
      r->head_done = 1;
      r->status = status;
      /* Error responses (and an SSE request answered with something other than an event stream)
       * carry a document, not a stream: collect it so that the caller can quote it. */
      char *ctype = NULL;
      curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype);
      if (r->o.mode != SEER_HTTP_BUFFER && (status < 200 || status >= 300))
        r->o.mode = SEER_HTTP_BUFFER;
      if (r->o.mode == SEER_HTTP_SSE &&
          (!ctype || strncasecmp(ctype, "text/event-stream", 17) != 0))
        r->o.mode = SEER_HTTP_BUFFER;
      if (r->o.on_head)
        r->o.on_head(r, status, r->head.data ? r->head.data : "", r->head.len, r->o.ud);
      if (r->cancelled) return 0;
    }
    return len;
  }
  if (r->head.len + len > SEER_HTTP_MAX_HEAD) {
    r->too_large = "head";
    return 0;
  }
  return seer_buf_append(&r->head, data, len) == 0 ? len : 0;
}

static int on_sse_event(const seer_sse_event *ev, void *ud) {
  seer_http_request *r = ud;
  int rc = r->o.on_event ? r->o.on_event(r, ev, r->o.ud) : 0;
  return rc || r->cancelled;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  seer_http_request *r = ud;
  size_t len = size * n;
  if (r->cancelled) return 0;
  r->last_activity = seer_loop_now();
  switch (r->o.mode) {
  case SEER_HTTP_STREAM:
    if (r->o.on_data && r->o.on_data(r, data, len, r->o.ud)) return 0;
    break;
  case SEER_HTTP_SSE:
    if (seer_sse_feed(&r->sse, data, len, on_sse_event, r) != 0) return 0;
    /* End of this chunk's events: a binding that batches events (one call into Lua per chunk, not
     * per event) is told here with on_data(r, NULL, 0), when it set on_data in SSE mode. */
    if (!r->cancelled && r->o.on_data && r->o.on_data(r, NULL, 0, r->o.ud)) return 0;
    break;
  default:
    if (r->body.len + len > max_body(r)) {
      r->too_large = "body";
      return 0;
    }
    if (seer_buf_append(&r->body, data, len) != 0) return 0;
  }
  return r->cancelled ? 0 : len;
}

/* ---- starting a request ---- */

int seer_http_request_start(seer_http_client *c, const seer_http_opts *o, seer_http_request **out,
                            seer_error *err) {
  if (c->in_curl)
    return seer_errorf(err, SEER_ESTATE,
                       "http: cannot start a request from inside another request's callback");
  if (!o->url || !*o->url) return seer_errorf(err, SEER_EINVAL, "http: a url is required");
  if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
    return seer_errorf(err, SEER_EINVAL, "http: url '%s' must start with http:// or https://",
                       o->url);
  const char *method = o->method && *o->method ? o->method : o->body ? "POST" : "GET";
  if (strlen(method) >= sizeof((seer_http_request *)0)->method)
    return seer_errorf(err, SEER_EINVAL, "http: method '%s' is too long", method);
  seer_http_request *r = calloc(1, sizeof *r);
  if (!r) return seer_errorf(err, SEER_ENOMEM, "http: out of memory");
  r->c = c;
  r->o = *o;
  r->o.url = NULL;
  r->o.method = NULL;
  r->o.headers = NULL;
  r->o.body = NULL;
  snprintf(r->method, sizeof r->method, "%s", method);
  r->url = strdup(o->url);
  seer_sse_init(&r->sse);
  r->easy = c->n_idle_easy > 0 ? c->idle_easy[--c->n_idle_easy] : curl_easy_init();
  if (!r->url || !r->easy) {
    curl_easy_cleanup(r->easy);
    free(r->url);
    free(r);
    return seer_errorf(err, SEER_ENOMEM, "http: out of memory");
  }
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, o->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  if (o->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body);
  } else if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "");
  }
  /* No "Expect: 100-continue" round trip for large bodies: the APIs answer the request directly. */
  struct curl_slist *h = curl_slist_append(NULL, "Expect:");
  for (const char *const *p = o->headers; h && p && *p; p++) {
    struct curl_slist *n = curl_slist_append(h, *p);
    if (!n) {
      curl_slist_free_all(h);
      h = NULL;
    } else {
      h = n;
    }
  }
  if (!h) {
    curl_easy_cleanup(e);
    free(r->url);
    free(r);
    return seer_errorf(err, SEER_ENOMEM, "http: out of memory");
  }
  r->headers = h;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  if (o->timeout_s > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000 + 0.5));
  if (o->connect_timeout_s > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_s * 1000 + 0.5));
  if (o->accept_encoding) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  r->start = r->last_activity = seer_loop_now();
  r->next = c->requests;
  if (c->requests) c->requests->prev = r;
  c->requests = r;
  c->active++;
  CURLMcode mrc = curl_multi_add_handle(c->multi, e);
  if (mrc != CURLM_OK) {
    r->cancelled = 1;
    r->o.idle_timeout_s = 0; /* not counted as watched yet */
    request_free(r);
    return seer_errorf(err, SEER_EIO, "http: cannot start request to %s: %s", o->url,
                       curl_multi_strerror(mrc));
  }
  if (o->idle_timeout_s > 0 && c->idle_watched++ == 0)
    uv_timer_start(&c->idle, on_idle_tick, 100, 100);
  update_busy(c);
  *out = r;
  return SEER_OK;
}
