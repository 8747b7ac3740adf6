/* rpc_internal.h: the connection object shared by conn.c (framing, writes, connect) and listen.c
 * (accept). */
#ifndef SEER_RPC_INTERNAL_H
#define SEER_RPC_INTERNAL_H

#include <uv.h>

#include "seer/rpc.h"

/* The libuv handle behind a listener or a connection: a unix pipe or a tcp socket. */
typedef union seer_rpc_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
} seer_rpc_handle;

/* One connection's TLS session (tls.c). */
typedef struct seer_rpc_tls seer_rpc_tls;

struct seer_rpc_conn {
  seer_rpc_handle u;
  seer_rpc_tls *tls; /* NULL: plain */
  seer_loop *loop;
  int tcp;
  int refs; /* the handle + the timer + an in-flight getaddrinfo; freed at 0 */
  int reading, closing, connecting;
  int write_failed; /* sending failed: reading what the peer left, then closing (conn.c) */
  seer_rpc_reader rd;
  uv_timer_t timer;
  seer_rpc_conn_opts opts;
  seer_rpc_conn_cbs cbs;
  void *ud;
  size_t pending_bytes;
  char *close_reason;
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai;
  seer_rpc_addr addr;
  char peer[300];
};

/* Allocates a connection with its handle initialised (not connected, not reading). */
seer_rpc_conn *seer_rpc__conn_new(seer_loop *loop, int tcp);
/* Opens a unix socket path for connecting without following a symlink in its last component.
 * Returns an O_PATH descriptor whose name "/proc/self/fd/N" (written to via) connects to that very
 * socket: close it once connected. Returns -1 when the path is missing or /proc is not mounted
 * (connect to the path itself: it was checked not to be a symlink), and -2 with err set when the
 * path is a symlink or not a socket. */
int seer_rpc__open_socket_path(const char *path, char *via, size_t vialen, seer_error *err);
/* Frees a connection whose handle was never opened to any peer (accept failed). */
void seer_rpc__conn_discard(seer_rpc_conn *c);

/* ---- TLS sessions (tls.c), driven by conn.c ---- */
seer_rpc_tls *seer_rpc__tls_new(const seer_rpc_tls_ctx *ctx, seer_error *err);
void seer_rpc__tls_free(seer_rpc_tls *t);
/* Where the socket's next ciphertext is read to, and handing n bytes of it to the session (-1:
 * the session would hold more than 1 MiB it cannot decrypt). */
char *seer_rpc__tls_in_buffer(seer_rpc_tls *t, size_t *cap);
int seer_rpc__tls_feed(seer_rpc_tls *t, size_t n);
int seer_rpc__tls_established(const seer_rpc_tls *t);
/* Advances the handshake: 1 done (a client has checked the pin), 0 wants more bytes, -1 failed
 * (msg says why). */
int seer_rpc__tls_handshake(seer_rpc_tls *t, char *msg, size_t msglen);
/* Plaintext: 1 with *got bytes, 0 wants more ciphertext, -1 failed or closed (msg). */
int seer_rpc__tls_read(seer_rpc_tls *t, char *out, size_t cap, size_t *got, char *msg,
                       size_t msglen);
/* Encrypts all of data into the session's output; -1 with msg on failure. */
int seer_rpc__tls_write(seer_rpc_tls *t, const char *data, size_t n, char *msg, size_t msglen);
/* The ciphertext waiting to be sent (malloc'd), or NULL when there is none. */
char *seer_rpc__tls_take_output(seer_rpc_tls *t, size_t *n);

#endif
