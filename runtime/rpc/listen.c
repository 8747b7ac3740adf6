/* listen.c: owns RPC listeners: binding unix sockets safely (mode 0600, no hijackable directory,
 * stale socket files replaced but live ones left alone), binding tcp, and accepting connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc_internal.h"

struct seer_rpc_listener {
  seer_rpc_handle u;
  seer_loop *loop;
  int tcp;
  seer_rpc_accept_cb on_accept;
  void *ud;
  char path[108]; /* unix socket file to remove on close */
  char address[300];
};

static void on_connection(uv_stream_t *server, int status) {
  seer_rpc_listener *l = server->data;
  if (status < 0) return; /* e.g. EMFILE: the peer sees a refused connect; we keep listening */
  seer_rpc_conn *c = seer_rpc__conn_new(l->loop, l->tcp);
  if (!c) return;
  if (uv_accept(server, &c->u.stream) != 0) {
    seer_rpc__conn_discard(c);
    return;
  }
  if (l->tcp) {
    uv_tcp_nodelay(&c->u.tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&ss, &len) == 0) {
      if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
      } else {
        uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
      }
    }
    snprintf(c->peer, sizeof c->peer, strchr(host, ':') ? "tcp:[%s]:%d" : "tcp:%s:%d", host, port);
  } else {
    memcpy(c->peer, l->address, sizeof c->peer);
  }
  l->on_accept(l, c, l->ud);
}

/* A parent directory that others may write to lets them swap the socket for their own. */
static int check_dir(const char *path, seer_error *err) {
  char copy[sizeof((seer_rpc_addr *)0)->path];
  snprintf(copy, sizeof copy, "%s", path);
  const char *dir = dirname(copy);
  struct stat st;
  if (stat(dir, &st) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "rpc: cannot listen on unix:%s: directory '%s'",
                            path, dir);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
    return seer_errorf(err, SEER_EINVAL,
                       "rpc: refusing to listen on unix:%s: directory '%s' is writable by other "
                       "users and not sticky (use a directory of mode 0700)",
                       path, dir);
  return SEER_OK;
}

/* An existing socket file: replace it if nobody answers on it, refuse if a server does. */
static int clear_stale(const char *path, seer_error *err) {
  struct stat st;
  if (lstat(path, &st) != 0) return SEER_OK;
  if (!S_ISSOCK(st.st_mode))
    return seer_errorf(err, SEER_EINVAL,
                       "rpc: cannot listen on unix:%s: the path exists and is not a socket", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "rpc: socket");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  if (live)
    return seer_errorf(err, SEER_EINVAL,
                       "rpc: cannot listen on unix:%s: another server is listening there", path);
  unlink(path);
  return SEER_OK;
}

static int listen_unix(seer_rpc_listener *l, const seer_rpc_addr *a, seer_error *err) {
  int rc = check_dir(a->path, err);
  if (rc == SEER_OK) rc = clear_stale(a->path, err);
  if (rc != SEER_OK) return rc;
  uv_pipe_init(seer_loop_uv(l->loop), &l->u.pipe, 0);
  /* The umask makes the file 0600 from birth: a chmod after bind would leave a window. */
  mode_t old = umask(0177);
  int uvrc = uv_pipe_bind(&l->u.pipe, a->path);
  umask(old);
  if (uvrc != 0)
    return seer_errorf(err, SEER_EIO, "rpc: cannot listen on unix:%s: %s", a->path,
                       uv_strerror(uvrc));
  snprintf(l->path, sizeof l->path, "%s", a->path);
  chmod(a->path, 0600);
  return SEER_OK;
}

static int listen_tcp(seer_rpc_listener *l, seer_rpc_addr *a, seer_error *err) {
  uv_tcp_init(seer_loop_uv(l->loop), &l->u.tcp);
  char port[16];
  snprintf(port, sizeof port, "%d", a->port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  uv_getaddrinfo_t req;
  int rc = uv_getaddrinfo(seer_loop_uv(l->loop), &req, NULL, a->host, port, &hints);
  if (rc != 0 || !req.addrinfo)
    return seer_errorf(err, SEER_EINVAL, "rpc: cannot resolve '%s': %s", a->host, uv_strerror(rc));
  res = req.addrinfo;
  rc = uv_tcp_bind(&l->u.tcp, res->ai_addr, 0);
  uv_freeaddrinfo(res);
  if (rc != 0)
    return seer_errorf(err, SEER_EIO, "rpc: cannot listen on tcp:%s:%d: %s", a->host, a->port,
                       uv_strerror(rc));
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(&l->u.tcp, (struct sockaddr *)&ss, &len) == 0)
    a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  return SEER_OK;
}

static void on_listener_closed(uv_handle_t *h) { free(h->data); }

int seer_rpc_listen(seer_loop *loop, const char *addr, seer_rpc_accept_cb on_accept, void *ud,
                    seer_rpc_listener **out, seer_error *err) {
  seer_rpc_addr a;
  if (seer_rpc_addr_parse(addr, &a, err) != SEER_OK) return err ? err->code : SEER_EINVAL;
  seer_rpc_listener *l = calloc(1, sizeof *l);
  if (!l) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  l->loop = loop;
  l->tcp = a.kind == SEER_RPC_TCP;
  l->on_accept = on_accept;
  l->ud = ud;
  l->u.handle.data = l;
  int rc = l->tcp ? listen_tcp(l, &a, err) : listen_unix(l, &a, err);
  if (rc == SEER_OK) {
    int uvrc = uv_listen(&l->u.stream, 128, on_connection);
    if (uvrc != 0)
      rc = seer_errorf(err, SEER_EIO, "rpc: cannot listen on %s: %s", addr, uv_strerror(uvrc));
  }
  if (rc != SEER_OK) {
    if (l->path[0]) unlink(l->path);
    if (l->u.handle.loop)
      uv_close(&l->u.handle, on_listener_closed);
    else
      free(l);
    return rc;
  }
  seer_rpc_addr_format(&a, l->address, sizeof l->address);
  *out = l;
  return SEER_OK;
}

const char *seer_rpc_listener_address(const seer_rpc_listener *l) { return l->address; }

void seer_rpc_listener_keep_alive(seer_rpc_listener *l, int on) {
  if (uv_is_closing(&l->u.handle)) return;
  if (on)
    uv_ref(&l->u.handle);
  else
    uv_unref(&l->u.handle);
}

void seer_rpc_listener_close(seer_rpc_listener *l) {
  if (!l || uv_is_closing(&l->u.handle)) return;
  if (l->path[0]) unlink(l->path);
  uv_close(&l->u.handle, on_listener_closed);
}
