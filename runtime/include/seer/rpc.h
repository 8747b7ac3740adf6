/* msgpack-RPC transport: stream sockets (unix:PATH, tcp:HOST:PORT) on the runtime's libuv loop,
 * msgpack framing (each frame is one complete msgpack object, parsed with msgpack-c's unpacker),
 * a frame size cap, and buffered writes. The message layer (requests, responses, auth, describe)
 * lives above this, in seer.rpc; see docs/PROTOCOL.md for the wire format.
 *
 * A small blocking client (seer_rpc_client_*) needs no loop and no Lua: C programs and benchmarks
 * call a served interface with it. */
#ifndef SEER_RPC_H
#define SEER_RPC_H

#include <msgpack.h>
#include <stddef.h>

#include "seer/error.h"
#include "seer/loop.h"
#include "seer/rpc_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds a client waits to connect, and for each call's answer, unless told otherwise. */
#define SEER_RPC_DEFAULT_CONNECT_TIMEOUT 10.0
#define SEER_RPC_DEFAULT_CALL_TIMEOUT 60.0

/* ---- addresses ---- */

enum { SEER_RPC_UNIX = 1, SEER_RPC_TCP = 2 };

typedef struct seer_rpc_addr {
  int kind;
  char path[108]; /* unix: socket path (sun_path's size) */
  char host[256]; /* tcp: host name or numeric address */
  int port;       /* tcp: 0 means "any free port" when listening */
} seer_rpc_addr;

/* Parses "unix:PATH" or "tcp:HOST:PORT" ("tcp:[::1]:PORT" for IPv6). */
int seer_rpc_addr_parse(const char *s, seer_rpc_addr *out, seer_error *err);
/* Formats an address back into its string form. */
void seer_rpc_addr_format(const seer_rpc_addr *a, char *out, size_t outlen);

/* ---- connections (loop based) ---- */

typedef struct seer_rpc_conn seer_rpc_conn;
typedef struct seer_rpc_listener seer_rpc_listener;

typedef struct seer_rpc_conn_cbs {
  /* connect() only: status 0 when connected, else err says why; after an error the connection
   * closes (on_close follows). */
  void (*on_connect)(seer_rpc_conn *c, int status, const seer_error *err, void *ud);
  /* One complete frame. obj is valid only during the call. */
  void (*on_message)(seer_rpc_conn *c, const msgpack_object *obj, void *ud);
  /* The connection is gone (peer closed, I/O error, bad frame, or seer_rpc_conn_close). reason is
   * NULL for a local close. After this returns the connection is freed: drop the pointer. */
  void (*on_close)(seer_rpc_conn *c, const char *reason, void *ud);
  /* The timer set with seer_rpc_conn_set_timer fired (optional). */
  void (*on_timer)(seer_rpc_conn *c, void *ud);
  /* Raw connections only (opts.raw): bytes as they arrive, valid only during the call. */
  void (*on_bytes)(seer_rpc_conn *c, const char *data, size_t len, void *ud);
} seer_rpc_conn_cbs;

typedef struct seer_rpc_conn_opts {
  seer_rpc_limits limits; /* zero fields: the defaults (seer_rpc_limits_default) */
  int answer_errors; /* server side: answer a bad frame with [1, nil, {type,message,...}, nil] */
  /* A byte stream, not msgpack frames: what arrives goes to on_bytes as it is (a relay of another
   * protocol, such as a Jupyter kernel's ZeroMQ sockets, through a remote sandbox's node). */
  int raw;
} seer_rpc_conn_opts;

/* Starts connecting; callbacks fire from the loop. *out is valid until on_close. A unix socket path
 * whose last component is a symbolic link is refused (the socket is opened without following it),
 * so a peer that can write the socket's directory cannot point us at another socket. */
int seer_rpc_connect(seer_loop *loop, const char *addr, const seer_rpc_conn_opts *opts,
                     const seer_rpc_conn_cbs *cbs, void *ud, seer_rpc_conn **out, seer_error *err);
/* Starts reading an accepted connection with these callbacks. */
void seer_rpc_conn_start(seer_rpc_conn *c, const seer_rpc_conn_opts *opts,
                         const seer_rpc_conn_cbs *cbs, void *ud);
/* Queues bytes (a whole frame, or several). Takes ownership of data (malloc'd) in every case. */
int seer_rpc_conn_send_owned(seer_rpc_conn *c, char *data, size_t len, seer_error *err);
/* Copies and queues bytes. */
int seer_rpc_conn_send(seer_rpc_conn *c, const void *data, size_t len, seer_error *err);
/* Bytes queued but not yet written (backpressure). */
size_t seer_rpc_conn_pending_bytes(const seer_rpc_conn *c);
/* paused = 1: stop reading (the kernel's socket buffer then holds the peer back); 0: read again. */
void seer_rpc_conn_pause(seer_rpc_conn *c, int paused);
/* The limits for the next frames (a server raises them once the peer has authenticated). */
void seer_rpc_conn_set_limits(seer_rpc_conn *c, const seer_rpc_limits *limits);
/* Fires on_timer once after `seconds` (replacing an earlier setting); <= 0 stops it. The timer does
 * not keep the loop alive by itself. */
void seer_rpc_conn_set_timer(seer_rpc_conn *c, double seconds);
/* Whether this connection alone keeps the loop running (default yes). An idle client connection
 * should not hold a finished script open, so seer.rpc turns it off while no call is pending. */
void seer_rpc_conn_keep_alive(seer_rpc_conn *c, int on);
/* Closes after queued writes are flushed; on_close fires with reason NULL. Idempotent. */
void seer_rpc_conn_close(seer_rpc_conn *c);
/* The peer's address in string form ("unix:PATH" or "tcp:HOST:PORT"). */
const char *seer_rpc_conn_peer(const seer_rpc_conn *c);

/* ---- TLS (optional; OpenSSL) ----
 * No certificate authority: a server presents a self-signed certificate made for it, and a client
 * accepts only the certificate with the SHA-256 fingerprint it pins. TLS 1.3. */
typedef struct seer_rpc_tls_ctx seer_rpc_tls_ctx;

/* A new P-256 key and a self-signed certificate for it (PEM, malloc'd), and the certificate's
 * SHA-256 fingerprint (64 lowercase hex digits) for the client to pin. */
int seer_rpc_tls_make_cert(char **cert_pem, char **key_pem, char fingerprint[65], seer_error *err);
seer_rpc_tls_ctx *seer_rpc_tls_server_ctx(const char *cert_pem, const char *key_pem,
                                          seer_error *err);
/* pin: the server certificate's SHA-256 fingerprint, 64 lowercase hex digits. */
seer_rpc_tls_ctx *seer_rpc_tls_client_ctx(const char *pin, seer_error *err);
/* Connections made with the context keep what they need: it may be freed at any time. */
void seer_rpc_tls_ctx_free(seer_rpc_tls_ctx *ctx);
/* Speak TLS on a connection: right after seer_rpc_connect (a client: on_connect then fires once
 * the handshake is done and the pin checked) or on an accepted connection before
 * seer_rpc_conn_start (a server). */
int seer_rpc_conn_use_tls(seer_rpc_conn *c, const seer_rpc_tls_ctx *ctx, seer_error *err);

/* ---- listening ---- */

/* on_accept gets a new connection that is not reading yet: call seer_rpc_conn_start (or close). */
typedef void (*seer_rpc_accept_cb)(seer_rpc_listener *l, seer_rpc_conn *c, void *ud);

/* Listens on addr. A unix socket file is created mode 0600; a stale socket file (nobody accepting)
 * is replaced, a live one is an error, and a parent directory writable by group or others without
 * the sticky bit is refused. tcp port 0 picks a free port (see seer_rpc_listener_address). */
int seer_rpc_listen(seer_loop *loop, const char *addr, seer_rpc_accept_cb on_accept, void *ud,
                    seer_rpc_listener **out, seer_error *err);
/* The bound address, with the real port for tcp:HOST:0. */
const char *seer_rpc_listener_address(const seer_rpc_listener *l);
/* on = 0: the listener no longer keeps the loop alive; on = 1 (the default): it does. */
void seer_rpc_listener_keep_alive(seer_rpc_listener *l, int on);
/* Stops listening and removes a unix socket file; frees the listener once libuv lets go of it.
 * Connections already accepted stay open. */
void seer_rpc_listener_close(seer_rpc_listener *l);

/* ---- stop signals (servers) ---- */

typedef struct seer_rpc_stop_watch seer_rpc_stop_watch;
/* Calls cb from the loop on SIGTERM, SIGINT or SIGHUP (the default action, dying, is replaced).
 * The watcher does not keep the loop alive. */
int seer_rpc_stop_watch_start(seer_loop *loop, void (*cb)(int signum, void *ud), void *ud,
                              seer_rpc_stop_watch **out, seer_error *err);
void seer_rpc_stop_watch_close(seer_rpc_stop_watch *w);

/* ---- blocking client (no loop) ---- */

typedef struct seer_rpc_client seer_rpc_client;

/* Connects (waiting up to timeout_s seconds; <= 0 means SEER_RPC_DEFAULT_CONNECT_TIMEOUT) and,
 * when token is given, authenticates with seer.auth. Frames from the server are held to
 * seer_rpc_limits_default(); a unix socket path that is a symbolic link is refused. */
int seer_rpc_client_connect(const char *addr, const char *token, double timeout_s,
                            seer_rpc_client **out, seer_error *err);
/* Calls method with params, a msgpack-encoded array (NULL means no arguments). On success the
 * result object is in *result (owned by it: msgpack_unpacked_destroy when done). A server error
 * becomes SEER_EINVAL with "type: message" in err (the traceback follows on later lines). */
int seer_rpc_client_call(seer_rpc_client *c, const char *method, const char *params,
                         size_t params_len, msgpack_unpacked *result, seer_error *err);
/* Seconds each call waits for its answer (default SEER_RPC_DEFAULT_CALL_TIMEOUT; <= 0 restores the
 * default, INFINITY waits forever). A call that times out fails with SEER_ETIMEOUT, and the
 * connection is closed: a late answer would be taken for the next call's. */
void seer_rpc_client_set_timeout(seer_rpc_client *c, double seconds);
void seer_rpc_client_close(seer_rpc_client *c);

#ifdef __cplusplus
}
#endif
#endif
