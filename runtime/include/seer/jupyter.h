/* The transport of a Jupyter kernel (messaging protocol 5.3): ZeroMQ sockets bound from a
 * connection file's endpoints, HMAC-SHA256 signing and checking of the wire format, a heartbeat
 * thread, and a control thread that turns interrupt_request into SIGINT on the kernel's thread
 * while code runs. Message bodies stay JSON strings here; what they mean is the Lua layer's
 * business (stdlib/seer/kernel/). Malformed and badly signed messages are dropped and logged. */
#ifndef SEER_JUPYTER_H
#define SEER_JUPYTER_H

#include <stddef.h>

#include "seer/error.h"

enum {
  SEER_JUPYTER_SHELL,
  SEER_JUPYTER_IOPUB,
  SEER_JUPYTER_STDIN,
  SEER_JUPYTER_CONTROL,
  SEER_JUPYTER_HB,
  SEER_JUPYTER_NCHANNELS
};

/* Largest message a kernel socket accepts; bigger ones are dropped by ZeroMQ itself. */
#define SEER_JUPYTER_MAX_MSG (64 << 20)
/* Most frames (identities + 6 + buffers) in one message. */
#define SEER_JUPYTER_MAX_FRAMES 256

typedef struct {
  const char *data;
  size_t len;
} seer_jupyter_part;

typedef struct {
  const char *transport;             /* "tcp" or "ipc" */
  const char *ip;                    /* tcp: address to bind; ipc: path prefix ("<ip>-<port>") */
  int ports[SEER_JUPYTER_NCHANNELS]; /* 0: pick one (read back with seer_jupyter_port) */
  const char *key;                   /* HMAC key; empty: messages are not signed */
  size_t key_len;
  int client;  /* connect to a kernel's endpoints (shell/stdin/control DEALER, iopub SUB) */
  int connect; /* a kernel whose sockets connect to a broker's endpoints instead of binding */
} seer_jupyter_config;

/* One received message: frames[0..nids) are the routing identities, then (after the delimiter
 * and the signature) header, parent_header, metadata, content and any buffers. */
typedef struct {
  int nframes, nids;
  char **frames;
  size_t *lens;
} seer_jupyter_msg;

typedef struct seer_jupyter_kernel seer_jupyter_kernel;

/* HMAC-SHA256 of the concatenated parts as 64 lowercase hex digits plus NUL; "" if key_len is 0. */
int seer_jupyter_sign(const char *key, size_t key_len, const seer_jupyter_part *parts, int nparts,
                      char out[65], seer_error *err);
/* Finds the "<IDS|MSG>" delimiter in raw frames and checks the signature; returns the
 * delimiter's index, or SEER_EFORMAT saying why the message is unusable. */
int seer_jupyter_check(const char *key, size_t key_len, const seer_jupyter_msg *m, seer_error *err);

int seer_jupyter_open(const seer_jupyter_config *cfg, seer_jupyter_kernel **out, seer_error *err);
int seer_jupyter_port(const seer_jupyter_kernel *k, int channel);
/* Waits up to timeout_ms (-1: forever) for a message on shell, control or stdin (a client: also
 * iopub) that passes
 * seer_jupyter_check. Returns 1 with *msg and *channel set, 0 on timeout or EINTR. */
int seer_jupyter_recv(seer_jupyter_kernel *k, int timeout_ms, seer_jupyter_msg *msg, int *channel,
                      seer_error *err);
void seer_jupyter_msg_free(seer_jupyter_msg *msg);
/* Signs and sends ids, "<IDS|MSG>", signature, the four JSON parts (header, parent_header,
 * metadata, content) and buffers on shell, iopub, stdin or control. */
int seer_jupyter_send(seer_jupyter_kernel *k, int channel, const seer_jupyter_part *ids, int nids,
                      const seer_jupyter_part parts[4], const seer_jupyter_part *buffers, int nbufs,
                      seer_error *err);
/* Messages dropped so far (malformed, badly signed, oversized). */
unsigned long seer_jupyter_dropped(const seer_jupyter_kernel *k);
void seer_jupyter_close(seer_jupyter_kernel *k);

/* A broker (broker.c) for a kernel in a sandbox: binds ipc endpoints "<front>-N" for host-side
 * clients and "<back>-N" for the kernel (started with `connect`), N = 1..5 in channel order
 * (shell, iopub, stdin, control, hb), and relays between them on its own thread. */
typedef struct seer_jupyter_broker seer_jupyter_broker;
int seer_jupyter_broker_open(const char *front, const char *back, seer_jupyter_broker **out,
                             seer_error *err);
void seer_jupyter_broker_close(seer_jupyter_broker *b);

#endif
