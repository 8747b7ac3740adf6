/* client.c: owns the blocking RPC client for C programs (no loop, no Lua): connect, optional
 * seer.auth, and one call at a time over plain sockets with msgpack-c on both sides. Answers are
 * read through the frame reader (limits) against a deadline per call. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc_internal.h"

struct seer_rpc_client {
  int fd;
  uint32_t next_id;
  double call_timeout;
  seer_rpc_reader rd;
  seer_rpc_limits limits;
  msgpack_sbuffer out;
  char peer[300];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void set_timeouts(int fd, double timeout_s) {
  if (timeout_s <= 0) return;
  struct timeval tv = {.tv_sec = (time_t)timeout_s,
                       .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int open_socket(const seer_rpc_addr *a, double timeout_s, const char *peer, int *out,
                       seer_error *err) {
  if (a->kind == SEER_RPC_UNIX) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "rpc: socket");
    set_timeouts(fd, timeout_s);
    char via[64];
    int pfd = seer_rpc__open_socket_path(a->path, via, sizeof via, err);
    if (pfd == -2) {
      close(fd);
      return err ? err->code : SEER_EINVAL;
    }
    const char *target = pfd >= 0 ? via : a->path;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, target, strlen(target) + 1);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    if (pfd >= 0) close(pfd);
    if (rc != 0) {
      close(fd);
      return seer_error_errno(err, SEER_EIO, e, "rpc: cannot connect to %s", peer);
    }
    *out = fd;
    return SEER_OK;
  }
  char port[16];
  snprintf(port, sizeof port, "%d", a->port);
  struct addrinfo hints, *res, *ai;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(a->host, port, &hints, &res);
  if (rc != 0)
    return seer_errorf(err, SEER_EIO, "rpc: cannot resolve '%s': %s", a->host, gai_strerror(rc));
  int e = 0;
  for (ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    set_timeouts(fd, timeout_s);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      freeaddrinfo(res);
      *out = fd;
      return SEER_OK;
    }
    e = errno;
    close(fd);
  }
  freeaddrinfo(res);
  return seer_error_errno(err, SEER_EIO, e, "rpc: cannot connect to %s", peer);
}

static int write_all(seer_rpc_client *c, const char *p, size_t n, seer_error *err) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return seer_error_errno(err, SEER_EIO, errno, "rpc: write to %s", c->peer);
    }
    p += w;
    n -= (size_t)w;
  }
  return SEER_OK;
}

static int timed_out(seer_rpc_client *c, seer_error *err) {
  return seer_errorf(err, SEER_ETIMEOUT,
                     "rpc: %s did not answer within %g s (%zu bytes of a frame received)", c->peer,
                     c->call_timeout, seer_rpc_reader_pending(&c->rd));
}

/* Reads until a whole frame is decoded into *res (a zone of its own, holding a copy of the frame:
 * the reader's buffer moves on), or the deadline passes. */
static int read_frame(seer_rpc_client *c, double deadline, msgpack_unpacked *res, seer_error *err) {
  for (;;) {
    const char *frame;
    size_t size;
    char msg[256];
    int rc = seer_rpc_reader_frame(&c->rd, &c->limits, &frame, &size, msg, sizeof msg);
    if (rc == SEER_RPC_FRAME_ERROR)
      return seer_errorf(err, SEER_EFORMAT, "rpc: bad frame from %s: %s", c->peer, msg);
    if (rc == SEER_RPC_FRAME_READY) {
      msgpack_unpacked_destroy(res);
      res->zone = msgpack_zone_new(size > 8192 ? size + 4096 : 8192);
      char *copy = res->zone ? msgpack_zone_malloc_no_align(res->zone, size) : NULL;
      if (!copy) return seer_errorf(err, SEER_ENOMEM, "out of memory");
      memcpy(copy, frame, size);
      size_t off = 0;
      if (msgpack_unpack(copy, size, &off, res->zone, &res->data) != MSGPACK_UNPACK_SUCCESS)
        return seer_errorf(err, SEER_EFORMAT, "rpc: bad frame from %s: msgpack-c refused it",
                           c->peer);
      return SEER_OK;
    }
    double left = deadline - now_s();
    if (left <= 0) return timed_out(c, err);
    /* The socket's receive timeout is the call timeout, so the first read of a call blocks in one
     * syscall; later reads of the same call wait in poll() for what is left of the deadline. */
    int flags = 0;
    if (left < c->call_timeout - 0.001) {
      struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
      int pr = poll(&pfd, 1, left > 86400.0 ? 86400 * 1000 : (int)(left * 1000.0) + 1);
      if (pr < 0 && errno != EINTR) return seer_error_errno(err, SEER_EIO, errno, "rpc: poll");
      if (pr <= 0) continue;
      flags = MSG_DONTWAIT;
    }
    size_t avail;
    char *dst = seer_rpc_reader_space(&c->rd, 256 * 1024, &avail);
    if (!dst) return seer_errorf(err, SEER_ENOMEM, "out of memory");
    ssize_t n = recv(c->fd, dst, avail, flags);
    if (n == 0)
      return seer_errorf(err, SEER_EIO, "rpc: connection to %s closed by the peer", c->peer);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!flags) return timed_out(c, err); /* SO_RCVTIMEO: the whole call timeout passed */
        continue;
      }
      return seer_error_errno(err, SEER_EIO, errno, "rpc: read from %s", c->peer);
    }
    seer_rpc_reader_commit(&c->rd, (size_t)n);
  }
}

static int str_eq(const msgpack_object *o, const char *s) {
  return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
         memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Turns an error object {type, message, traceback} into err. */
static int server_error(seer_rpc_client *c, const char *method, const msgpack_object *e,
                        seer_error *err) {
  const char *parts[3] = {"Error", "(no message)", ""};
  int lens[3] = {5, 12, 0};
  if (e->type == MSGPACK_OBJECT_MAP) {
    for (uint32_t i = 0; i < e->via.map.size; i++) {
      const msgpack_object *k = &e->via.map.ptr[i].key, *v = &e->via.map.ptr[i].val;
      if (v->type != MSGPACK_OBJECT_STR) continue;
      int slot = str_eq(k, "type") ? 0 : str_eq(k, "message") ? 1 : str_eq(k, "traceback") ? 2 : -1;
      if (slot < 0) continue;
      parts[slot] = v->via.str.ptr;
      lens[slot] = (int)v->via.str.size;
    }
  } else if (e->type == MSGPACK_OBJECT_STR) {
    parts[1] = e->via.str.ptr;
    lens[1] = (int)e->via.str.size;
  }
  return seer_errorf(err, SEER_EINVAL, "rpc: %s: %.*s: %.*s%s%.*s", method, lens[0], parts[0],
                     lens[1], parts[1], lens[2] ? "\n" : "", lens[2], parts[2]);
}

void seer_rpc_client_set_timeout(seer_rpc_client *c, double seconds) {
  c->call_timeout = seconds > 0 ? seconds : SEER_RPC_DEFAULT_CALL_TIMEOUT;
  if (c->fd < 0) return;
  /* 0 (no timeout) when waiting forever; else the call timeout, rounded up to a microsecond. */
  double t = isinf(c->call_timeout) || c->call_timeout > 1e9 ? 0 : c->call_timeout;
  struct timeval tv = {.tv_sec = (time_t)t,
                       .tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6) + (t > 0 ? 1 : 0)};
  if (tv.tv_usec >= 1000000) {
    tv.tv_sec++;
    tv.tv_usec -= 1000000;
  }
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int seer_rpc_client_call(seer_rpc_client *c, const char *method, const char *params,
                         size_t params_len, msgpack_unpacked *result, seer_error *err) {
  if (c->fd < 0)
    return seer_errorf(err, SEER_ESTATE,
                       "rpc: the connection to %s is closed (an earlier call "
                       "failed)",
                       c->peer);
  double deadline = now_s() + c->call_timeout;
  uint32_t id = c->next_id++;
  msgpack_sbuffer_clear(&c->out);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->out, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 0);
  msgpack_pack_uint32(&pk, id);
  msgpack_pack_str(&pk, strlen(method));
  msgpack_pack_str_body(&pk, method, strlen(method));
  if (params)
    msgpack_sbuffer_write(&c->out, params, params_len);
  else
    msgpack_pack_array(&pk, 0);
  int rc = write_all(c, c->out.data, c->out.size, err);
  for (;;) {
    if (rc == SEER_OK) rc = read_frame(c, deadline, result, err);
    if (rc != SEER_OK) { /* the stream is out of step (or gone): no later call may use it */
      close(c->fd);
      c->fd = -1;
      return rc;
    }
    const msgpack_object *o = &result->data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
        o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        o->via.array.ptr[0].via.u64 != 1)
      continue; /* notifications and anything else are not ours */
    const msgpack_object *mid = &o->via.array.ptr[1];
    const msgpack_object *e = &o->via.array.ptr[2];
    if (mid->type == MSGPACK_OBJECT_NIL && e->type != MSGPACK_OBJECT_NIL)
      return server_error(c, method, e, err); /* connection-level error (bad frame) */
    if (mid->type != MSGPACK_OBJECT_POSITIVE_INTEGER || mid->via.u64 != id) continue;
    if (e->type != MSGPACK_OBJECT_NIL) return server_error(c, method, e, err);
    /* Hand back only the result: the zone stays owned by *result. */
    msgpack_object r = o->via.array.ptr[3];
    result->data = r;
    return SEER_OK;
  }
}

int seer_rpc_client_connect(const char *addr, const char *token, double timeout_s,
                            seer_rpc_client **out, seer_error *err) {
  seer_rpc_addr a;
  if (seer_rpc_addr_parse(addr, &a, err) != SEER_OK) return err ? err->code : SEER_EINVAL;
  seer_rpc_client *c = calloc(1, sizeof *c);
  if (!c) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  seer_rpc_addr_format(&a, c->peer, sizeof c->peer);
  c->next_id = 1;
  c->fd = -1;
  c->call_timeout = SEER_RPC_DEFAULT_CALL_TIMEOUT;
  c->limits = seer_rpc_limits_default();
  msgpack_sbuffer_init(&c->out);
  if (seer_rpc_reader_init(&c->rd) != 0) {
    seer_rpc_client_close(c);
    return seer_errorf(err, SEER_ENOMEM, "out of memory");
  }
  if (timeout_s <= 0) timeout_s = SEER_RPC_DEFAULT_CONNECT_TIMEOUT;
  int rc = open_socket(&a, timeout_s, c->peer, &c->fd, err);
  if (rc == SEER_OK) seer_rpc_client_set_timeout(c, c->call_timeout);
  if (rc == SEER_OK && token) {
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str(&pk, strlen(token));
    msgpack_pack_str_body(&pk, token, strlen(token));
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    rc = seer_rpc_client_call(c, "seer.auth", params.data, params.size, &res, err);
    msgpack_unpacked_destroy(&res);
    msgpack_sbuffer_destroy(&params);
  }
  if (rc != SEER_OK) {
    seer_rpc_client_close(c);
    return rc;
  }
  *out = c;
  return SEER_OK;
}

void seer_rpc_client_close(seer_rpc_client *c) {
  if (!c) return;
  if (c->fd >= 0) close(c->fd);
  seer_rpc_reader_destroy(&c->rd);
  msgpack_sbuffer_destroy(&c->out);
  free(c);
}
