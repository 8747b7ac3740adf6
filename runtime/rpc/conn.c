/* conn.c: owns one RPC stream connection on the loop: outgoing connects (unix and tcp, a unix
 * socket opened without following a symlink), reading into the frame reader and cutting frames
 * out of it under the connection's limits, queued writes, the owner's timer, and the close
 * sequence that tells the owner why the connection ended. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc_internal.h"

/* How much free space each read gets at least: big frames arrive in big reads. */
#define READ_CHUNK (256 * 1024)
/* How long a connection whose write failed keeps reading what the peer sent before it went. */
#define DRAIN_AFTER_WRITE_FAILURE_MS 1000

static void set_opts(seer_rpc_conn *c, const seer_rpc_conn_opts *opts) {
  if (opts) c->opts = *opts;
  seer_rpc_limits_normalize(&c->opts.limits);
}

/* libuv writes to sockets with write(), which raises SIGPIPE when the peer has gone: a peer that
 * hangs up while we send would kill the whole process. The write fails with EPIPE instead once
 * SIGPIPE is ignored; a program that installed its own handler keeps it. (Children spawned through
 * libuv get the default disposition back.) */
static void ignore_sigpipe(void) {
  struct sigaction old;
  if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
      !(old.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);
}

seer_rpc_conn *seer_rpc__conn_new(seer_loop *loop, int tcp) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, ignore_sigpipe);
  seer_rpc_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (seer_rpc_reader_init(&c->rd) != 0) {
    seer_rpc_reader_destroy(&c->rd);
    free(c);
    return NULL;
  }
  c->loop = loop;
  c->tcp = tcp;
  c->refs = 2;
  set_opts(c, NULL);
  uv_loop_t *uv = seer_loop_uv(loop);
  if (tcp)
    uv_tcp_init(uv, &c->u.tcp);
  else
    uv_pipe_init(uv, &c->u.pipe, 0);
  c->u.handle.data = c;
  uv_timer_init(uv, &c->timer);
  uv_unref((uv_handle_t *)&c->timer);
  c->timer.data = c;
  return c;
}

static void release(seer_rpc_conn *c) {
  if (--c->refs > 0) return;
  seer_rpc_reader_destroy(&c->rd);
  seer_rpc__tls_free(c->tls);
  free(c->close_reason);
  free(c);
}

static void on_closed(uv_handle_t *h) {
  seer_rpc_conn *c = h->data;
  if (c->cbs.on_close) c->cbs.on_close(c, c->close_reason, c->ud);
  release(c);
}

static void on_timer_closed(uv_handle_t *h) { release(h->data); }

/* Closes the stream handle (on_close follows) and the timer. */
static void close_handles(seer_rpc_conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_timer_closed);
  uv_close(&c->u.handle, on_closed);
}

void seer_rpc__conn_discard(seer_rpc_conn *c) {
  c->closing = 1;
  c->cbs.on_close = NULL;
  close_handles(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  seer_rpc_conn *c = req->handle->data;
  free(req);
  close_handles(c);
}

/* Starts closing. flush: let queued writes (such as an error answer) reach the peer first. */
static void begin_close(seer_rpc_conn *c, const char *reason, int flush) {
  if (c->closing) return;
  c->closing = 1;
  if (reason && !c->close_reason) c->close_reason = strdup(reason);
  if (c->write_failed) flush = 0; /* nothing more reaches the peer */
  if (c->reading) {
    uv_read_stop(&c->u.stream);
    c->reading = 0;
  }
  uv_timer_stop(&c->timer);
  if (flush && !c->connecting && c->pending_bytes > 0 && uv_is_writable(&c->u.stream)) {
    uv_shutdown_t *req = malloc(sizeof *req);
    if (req && uv_shutdown(req, &c->u.stream, on_shutdown) == 0) return;
    free(req);
  }
  close_handles(c);
}

void seer_rpc_conn_close(seer_rpc_conn *c) {
  if (c) begin_close(c, NULL, 1);
}

/* ---- writing ---- */

static void on_drain_timeout(uv_timer_t *t) { begin_close(t->data, NULL, 0); }

/* A write failed: the peer hung up or reset the connection, often right after it answered why
 * (a server refusing a frame answers, then hangs up while the rest of the frame is still on its
 * way). Closing at once would throw that answer away unread. So sending stops, reading goes on
 * until the peer's end or for at most DRAIN_AFTER_WRITE_FAILURE_MS, and then the connection closes
 * with the write's failure as its reason. */
static void write_failed(seer_rpc_conn *c, const char *msg) {
  if (c->closing || c->write_failed) return;
  if (!c->reading) {
    begin_close(c, msg, 0);
    return;
  }
  c->write_failed = 1;
  c->close_reason = strdup(msg);
  uv_timer_start(&c->timer, on_drain_timeout, DRAIN_AFTER_WRITE_FAILURE_MS, 0);
}

typedef struct {
  uv_write_t req;
  seer_rpc_conn *c;
  char *data;
  size_t len;
} write_req;

static void on_written(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  seer_rpc_conn *c = w->c;
  c->pending_bytes -= w->len;
  free(w->data);
  free(w);
  if (status < 0 && status != UV_ECANCELED) {
    char msg[160];
    snprintf(msg, sizeof msg, "write failed: %s", uv_strerror(status));
    write_failed(c, msg);
  }
}

/* Queues bytes for the socket as they are (ciphertext on a TLS connection). */
static int write_owned(seer_rpc_conn *c, char *data, size_t len, seer_error *err) {
  if (c->closing || c->write_failed) {
    free(data);
    return seer_errorf(err, SEER_ESTATE, "rpc: connection to %s is closed", c->peer);
  }
  if (len == 0) {
    free(data);
    return SEER_OK;
  }
  /* Fast path: the socket usually takes the whole frame at once, with no request to allocate. */
  uv_buf_t buf = uv_buf_init(data, (unsigned)len);
  if (c->pending_bytes == 0) {
    int n = uv_try_write(&c->u.stream, &buf, 1);
    if (n == (int)len) {
      free(data);
      return SEER_OK;
    }
    if (n > 0) { /* the rest is queued from where the socket stopped: no copy */
      len -= (size_t)n;
      buf = uv_buf_init(data + n, (unsigned)len);
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      free(data);
      char msg[160];
      snprintf(msg, sizeof msg, "write failed: %s", uv_strerror(n));
      write_failed(c, msg);
      return seer_errorf(err, SEER_EIO, "rpc: %s: %s", c->peer, msg);
    }
  }
  write_req *w = malloc(sizeof *w);
  if (!w) {
    free(data);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  w->c = c;
  w->data = data;
  w->len = len;
  int rc = uv_write(&w->req, &c->u.stream, &buf, 1, on_written);
  if (rc != 0) {
    free(data);
    free(w);
    return seer_errorf(err, SEER_EIO, "rpc: write to %s failed: %s", c->peer, uv_strerror(rc));
  }
  c->pending_bytes += len;
  return SEER_OK;
}

/* Sends what the TLS session has to say (handshake messages, records, alerts). */
static void tls_flush(seer_rpc_conn *c) {
  size_t n;
  char *out;
  while (!c->closing && (out = seer_rpc__tls_take_output(c->tls, &n)) != NULL)
    if (write_owned(c, out, n, NULL) != SEER_OK) return;
}

int seer_rpc_conn_send_owned(seer_rpc_conn *c, char *data, size_t len, seer_error *err) {
  if (c->closing || c->write_failed || c->connecting) {
    free(data);
    return seer_errorf(err, SEER_ESTATE, "rpc: connection to %s is %s", c->peer,
                       c->connecting ? "not connected yet" : "closed");
  }
  if (!c->tls) return write_owned(c, data, len, err);
  char msg[400];
  int rc = seer_rpc__tls_write(c->tls, data, len, msg, sizeof msg);
  free(data);
  if (rc != 0) return seer_errorf(err, SEER_EIO, "rpc: %s: %s", c->peer, msg);
  tls_flush(c);
  return SEER_OK;
}

int seer_rpc_conn_send(seer_rpc_conn *c, const void *data, size_t len, seer_error *err) {
  /* The socket usually takes a small frame at once, straight from the caller's buffer: only what
   * it leaves is copied and queued. */
  if (!c->closing && !c->write_failed && !c->connecting && !c->tls && c->pending_bytes == 0 &&
      len > 0) {
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(&c->u.stream, &buf, 1);
    if (n == (int)len) return SEER_OK;
    if (n > 0) {
      data = (const char *)data + n;
      len -= (size_t)n;
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      char msg[160];
      snprintf(msg, sizeof msg, "write failed: %s", uv_strerror(n));
      write_failed(c, msg);
      return seer_errorf(err, SEER_EIO, "rpc: %s: %s", c->peer, msg);
    }
  }
  char *copy = malloc(len ? len : 1);
  if (!copy) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  memcpy(copy, data, len);
  return seer_rpc_conn_send_owned(c, copy, len, err);
}

size_t seer_rpc_conn_pending_bytes(const seer_rpc_conn *c) { return c->pending_bytes; }
const char *seer_rpc_conn_peer(const seer_rpc_conn *c) { return c->peer; }

/* ---- reading and framing ---- */

/* A frame we cannot take: answer (server side) so the peer learns why, then hang up. The process
 * and every other connection carry on. */
static void frame_error(seer_rpc_conn *c, const char *msg) {
  if (c->opts.answer_errors) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 3);
    const char *kv[] = {"type", "FrameError", "message", msg, "traceback", ""};
    for (int i = 0; i < 6; i++) {
      msgpack_pack_str(&pk, strlen(kv[i]));
      msgpack_pack_str_body(&pk, kv[i], strlen(kv[i]));
    }
    msgpack_pack_nil(&pk);
    size_t n = sb.size;
    seer_rpc_conn_send_owned(c, msgpack_sbuffer_release(&sb), n, NULL);
  }
  begin_close(c, msg, 1);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  seer_rpc_conn *c = h->data;
  size_t avail;
  if (c->tls) { /* ciphertext: the session's own buffer */
    char *in = seer_rpc__tls_in_buffer(c->tls, &avail);
    *buf = uv_buf_init(in, (unsigned)avail);
    return;
  }
  char *dst = seer_rpc_reader_space(&c->rd, READ_CHUNK, &avail);
  if (!dst) {
    *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init(dst, (unsigned)(avail > (1u << 30) ? 1u << 30 : avail));
}

/* Hands out every complete frame buffered, each checked against the limits before msgpack-c
 * decodes it; a frame that breaks one ends the connection (and only it). The limits are read per
 * frame, so a handler that raises them (after seer.auth) affects the next frame. */
static void cut_frames(seer_rpc_conn *c) {
  char msg[256];
  if (c->opts.raw) {
    size_t n = c->rd.end - c->rd.start;
    const char *data = c->rd.buf + c->rd.start;
    c->rd.start = c->rd.end;
    if (n > 0 && c->cbs.on_bytes) c->cbs.on_bytes(c, data, n, c->ud);
    return;
  }
  while (!c->closing) {
    msgpack_object obj;
    int rc = seer_rpc_reader_next(&c->rd, &c->opts.limits, &obj, msg, sizeof msg);
    if (rc == SEER_RPC_FRAME_READY) {
      if (c->cbs.on_message) c->cbs.on_message(c, &obj, c->ud);
      continue;
    }
    if (rc == SEER_RPC_FRAME_ERROR) frame_error(c, msg);
    break;
  }
}

static void connect_failed(seer_rpc_conn *c, const char *what, int status);

/* Decrypts what the TLS session holds into the frame reader, while reading is on. */
static void tls_pump(seer_rpc_conn *c) {
  char msg[400];
  while (!c->closing && c->reading) {
    size_t avail, got;
    char *dst = seer_rpc_reader_space(&c->rd, READ_CHUNK, &avail);
    if (!dst) {
      begin_close(c, "out of memory", 0);
      return;
    }
    int r = seer_rpc__tls_read(c->tls, dst, avail, &got, msg, sizeof msg);
    if (r < 0) {
      tls_flush(c);
      begin_close(c, msg, 0);
      return;
    }
    if (r == 0) break;
    seer_rpc_reader_commit(&c->rd, got);
    cut_frames(c);
  }
  if (!c->closing) tls_flush(c);
}

/* n bytes of ciphertext arrived: the handshake first (a client's on_connect waits for it and
 * for the pin), then records. */
static void tls_on_read(seer_rpc_conn *c, size_t n) {
  char msg[400];
  if (seer_rpc__tls_feed(c->tls, n) != 0) {
    begin_close(c, "TLS: the peer sent more than 1 MiB that is not a TLS record", 0);
    return;
  }
  if (!seer_rpc__tls_established(c->tls)) {
    int r = seer_rpc__tls_handshake(c->tls, msg, sizeof msg);
    tls_flush(c);
    if (r < 0) {
      if (c->connecting)
        connect_failed(c, msg, -1);
      else
        begin_close(c, msg, 0);
      return;
    }
    if (r == 0 || c->closing) return;
    if (c->connecting) {
      c->connecting = 0;
      if (c->cbs.on_connect) c->cbs.on_connect(c, 0, NULL, c->ud);
    }
  }
  tls_pump(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  seer_rpc_conn *c = s->data;
  if (nread > 0 && c->tls) {
    tls_on_read(c, (size_t)nread);
  } else if (nread > 0) {
    seer_rpc_reader_commit(&c->rd, (size_t)nread);
    cut_frames(c);
  } else if (nread == UV_EOF && c->connecting) { /* a TLS handshake cut short */
    connect_failed(c, "TLS: the server hung up during the handshake (does it speak TLS?)", -1);
  } else if (nread == UV_EOF) {
    begin_close(c, "connection closed by the peer", 0);
  } else if (nread < 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "read failed: %s", uv_strerror((int)nread));
    if (c->connecting)
      connect_failed(c, msg, (int)nread);
    else
      begin_close(c, msg, 0);
  }
}

static void start_reading(seer_rpc_conn *c) {
  if (c->closing || c->reading) return;
  int rc = uv_read_start(&c->u.stream, alloc_cb, on_read);
  if (rc != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "cannot read: %s", uv_strerror(rc));
    begin_close(c, msg, 0);
    return;
  }
  c->reading = 1;
}

void seer_rpc_conn_pause(seer_rpc_conn *c, int paused) {
  if (c->closing || c->connecting) return;
  if (paused && c->reading) {
    uv_read_stop(&c->u.stream);
    c->reading = 0;
  } else if (!paused) {
    start_reading(c);
    if (c->tls && seer_rpc__tls_established(c->tls)) tls_pump(c); /* records it already holds */
  }
}

int seer_rpc_conn_use_tls(seer_rpc_conn *c, const seer_rpc_tls_ctx *ctx, seer_error *err) {
  if (c->tls || c->reading || c->closing)
    return seer_errorf(err, SEER_ESTATE, "rpc: TLS must be set up before the connection is used");
  c->tls = seer_rpc__tls_new(ctx, err);
  return c->tls ? SEER_OK : (err ? err->code : SEER_EIO);
}

void seer_rpc_conn_start(seer_rpc_conn *c, const seer_rpc_conn_opts *opts,
                         const seer_rpc_conn_cbs *cbs, void *ud) {
  set_opts(c, opts);
  c->cbs = *cbs;
  c->ud = ud;
  start_reading(c);
}

/* ---- connecting ---- */

static void connect_failed(seer_rpc_conn *c, const char *what, int status) {
  seer_error e;
  seer_errorf(&e, SEER_EIO, "rpc: cannot connect to %s: %s%s", c->peer, what,
              status == UV_ENOENT || status == UV_ECONNREFUSED ? " (is the server running?)" : "");
  c->connecting = 0;
  if (c->cbs.on_connect) c->cbs.on_connect(c, status, &e, c->ud);
  begin_close(c, e.msg, 0);
}

static void on_connected(uv_connect_t *req, int status) {
  seer_rpc_conn *c = req->data;
  if (c->closing) return; /* closed while connecting: on_close reports it */
  if (status < 0) {
    connect_failed(c, uv_strerror(status), status);
    return;
  }
  if (c->tcp) uv_tcp_nodelay(&c->u.tcp, 1);
  if (c->tls) { /* connected once the handshake is done and the pin checked (tls_on_read) */
    char msg[400];
    start_reading(c);
    int r = seer_rpc__tls_handshake(c->tls, msg, sizeof msg);
    tls_flush(c);
    if (r < 0) connect_failed(c, msg, -1);
    return;
  }
  c->connecting = 0;
  start_reading(c);
  if (c->cbs.on_connect) c->cbs.on_connect(c, 0, NULL, c->ud);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  seer_rpc_conn *c = req->data;
  if (c->closing) {
    uv_freeaddrinfo(res);
    release(c);
    return;
  }
  if (status < 0 || !res) {
    connect_failed(c, status < 0 ? uv_strerror(status) : "no address", status);
  } else {
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->u.tcp, res->ai_addr, on_connected);
    if (rc != 0) connect_failed(c, uv_strerror(rc), rc);
  }
  uv_freeaddrinfo(res);
  release(c);
}

int seer_rpc_connect(seer_loop *loop, const char *addr, const seer_rpc_conn_opts *opts,
                     const seer_rpc_conn_cbs *cbs, void *ud, seer_rpc_conn **out, seer_error *err) {
  seer_rpc_addr a;
  if (seer_rpc_addr_parse(addr, &a, err) != SEER_OK) return err ? err->code : SEER_EINVAL;
  seer_rpc_conn *c = seer_rpc__conn_new(loop, a.kind == SEER_RPC_TCP);
  if (!c) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  c->addr = a;
  seer_rpc_addr_format(&a, c->peer, sizeof c->peer);
  set_opts(c, opts);
  c->cbs = *cbs;
  c->ud = ud;
  c->connecting = 1;
  if (a.kind == SEER_RPC_UNIX) {
    char via[64];
    int fd = seer_rpc__open_socket_path(a.path, via, sizeof via, err);
    if (fd == -2) { /* a symlink or not a socket: refused before any connect */
      c->cbs.on_close = NULL;
      c->cbs.on_connect = NULL;
      begin_close(c, NULL, 0);
      return err ? err->code : SEER_EINVAL;
    }
    c->connect_req.data = c;
    uv_pipe_connect(&c->connect_req, &c->u.pipe, fd >= 0 ? via : a.path, on_connected);
    if (fd >= 0) close(fd); /* libuv connected (or failed) synchronously; the callback reports it */
  } else {
    char port[16];
    snprintf(port, sizeof port, "%d", a.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    c->refs++;
    int rc = uv_getaddrinfo(seer_loop_uv(loop), &c->gai, on_resolved, a.host, port, &hints);
    if (rc != 0) {
      c->refs--;
      c->cbs.on_close = NULL;
      c->cbs.on_connect = NULL;
      begin_close(c, NULL, 0);
      return seer_errorf(err, SEER_EIO, "rpc: cannot resolve '%s': %s", a.host, uv_strerror(rc));
    }
  }
  *out = c;
  return SEER_OK;
}

void seer_rpc_conn_set_limits(seer_rpc_conn *c, const seer_rpc_limits *limits) {
  c->opts.limits = *limits;
  seer_rpc_limits_normalize(&c->opts.limits);
}

static void on_timer(uv_timer_t *t) {
  seer_rpc_conn *c = t->data;
  if (!c->closing && c->cbs.on_timer) c->cbs.on_timer(c, c->ud);
}

void seer_rpc_conn_set_timer(seer_rpc_conn *c, double seconds) {
  if (c->closing || c->write_failed) return; /* the drain's deadline holds the timer */
  if (seconds <= 0) {
    uv_timer_stop(&c->timer);
    return;
  }
  double ms = seconds * 1000.0;
  uv_timer_start(&c->timer, on_timer, ms > 1e15 ? (uint64_t)1e15 : (uint64_t)(ms + 0.999), 0);
}

void seer_rpc_conn_keep_alive(seer_rpc_conn *c, int on) {
  if (c->closing) return;
  if (on)
    uv_ref(&c->u.handle);
  else
    uv_unref(&c->u.handle);
}
