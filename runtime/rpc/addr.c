/* addr.c: owns the RPC address syntax, "unix:PATH" and "tcp:HOST:PORT", shared by listeners,
 * loop connections and the blocking client, and opening a unix socket path without following a
 * symlink. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc_internal.h"

static int bad(seer_error *err, const char *s, const char *why) {
  return seer_errorf(err, SEER_EINVAL, "rpc: bad address '%s': %s (use unix:PATH or tcp:HOST:PORT)",
                     s, why);
}

int seer_rpc_addr_parse(const char *s, seer_rpc_addr *out, seer_error *err) {
  memset(out, 0, sizeof *out);
  if (!s) return bad(err, "(null)", "no address");
  if (strncmp(s, "unix:", 5) == 0) {
    const char *path = s + 5;
    if (!*path) return bad(err, s, "empty socket path");
    if (strlen(path) >= sizeof out->path)
      return seer_errorf(err, SEER_EINVAL,
                         "rpc: unix socket path '%s' is %zu bytes; the limit is %zu (use a "
                         "shorter directory)",
                         path, strlen(path), sizeof out->path - 1);
    out->kind = SEER_RPC_UNIX;
    memcpy(out->path, path, strlen(path) + 1);
    return SEER_OK;
  }
  if (strncmp(s, "tcp:", 4) == 0) {
    const char *hp = s + 4;
    const char *colon;
    const char *host = hp;
    size_t hostlen;
    if (*hp == '[') { /* [v6]:port */
      const char *close = strchr(hp, ']');
      if (!close || close[1] != ':') return bad(err, s, "an IPv6 host needs [ADDR]:PORT");
      host = hp + 1;
      hostlen = (size_t)(close - host);
      colon = close + 1;
    } else {
      colon = strrchr(hp, ':');
      if (!colon) return bad(err, s, "missing :PORT");
      hostlen = (size_t)(colon - hp);
    }
    if (hostlen == 0) return bad(err, s, "missing host");
    if (hostlen >= sizeof out->host) return bad(err, s, "host name too long");
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
      return bad(err, s, "the port must be a number from 0 to 65535");
    out->kind = SEER_RPC_TCP;
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    out->port = (int)port;
    return SEER_OK;
  }
  return bad(err, s, "unknown scheme");
}

void seer_rpc_addr_format(const seer_rpc_addr *a, char *out, size_t outlen) {
  if (a->kind == SEER_RPC_UNIX)
    snprintf(out, outlen, "unix:%s", a->path);
  else if (strchr(a->host, ':'))
    snprintf(out, outlen, "tcp:[%s]:%d", a->host, a->port);
  else
    snprintf(out, outlen, "tcp:%s:%d", a->host, a->port);
}

int seer_rpc__open_socket_path(const char *path, char *via, size_t vialen, seer_error *err) {
  int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1; /* missing: connect() says so in its own words */
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return -1;
  }
  if (!S_ISSOCK(st.st_mode)) {
    close(fd);
    seer_errorf(err, SEER_EINVAL, "rpc: refusing to connect to unix:%s: %s", path,
                S_ISLNK(st.st_mode) ? "it is a symbolic link (connect to the socket's own path)"
                                    : "it is not a socket");
    return -2;
  }
  snprintf(via, vialen, "/proc/self/fd/%d", fd);
  if (access(via, F_OK) != 0) { /* no /proc: the lstat-equivalent check above has to do */
    close(fd);
    return -1;
  }
  return fd;
}
