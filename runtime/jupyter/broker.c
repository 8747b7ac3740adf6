/* broker.c: relays a sandboxed kernel's five channels to host-side clients. The host binds both
 * sides: the kernel inside the sandbox connects to the "back" endpoints (in the sandbox's private
 * directory: the host makes it, the sandbox's uid owns it, and the sandbox sees it read-only), and
 * clients (the notebook session, its MCP process, a Jupyter Notebook server) connect to the
 * "front" endpoints in a host-only directory. Both directories must be 0700, so no other user
 * reaches either side. No host process ever connects to a path the sandbox controls: a socket
 * the sandbox replaced with a symlink cannot send the host anywhere. Messages pass through unread
 * (signatures cover neither routing identities nor anything the broker changes); each is bounded
 * in size and the queues by ZeroMQ's high-water marks, and what cannot be delivered at once is
 * dropped. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "seer/jupyter.h"
#include "seer/log.h"

struct seer_jupyter_broker {
  void *ctx;
  void *front[SEER_JUPYTER_NCHANNELS], *back[SEER_JUPYTER_NCHANNELS];
  pthread_t thread;
  int started;
};

static const char *const names[] = {"shell", "iopub", "stdin", "control", "hb"};

/* Moves one whole message from `from` to `to`; a message `to` cannot take now is dropped whole
 * (ZeroMQ queues a multipart message atomically once its first frame is accepted). Returns -1
 * when the context is shutting down. */
static int relay(void *from, void *to, int ch, unsigned long *dropped) {
  int more = 1, sending = 1;
  while (more) {
    zmq_msg_t f;
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, from, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&f);
      if (errno == ETERM) return -1;
      return 0;
    }
    more = zmq_msg_more(&f);
    if (sending && zmq_msg_send(&f, to, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
      if (errno == ETERM) {
        zmq_msg_close(&f);
        return -1;
      }
      sending = 0;
      /* Requests sent before the kernel has connected are expected (clients repeat
       * kernel_info until it answers); a steady stream of drops is worth a warning. */
      unsigned long n = ++*dropped;
      if (n % 100 == 1)
        seer_log(n > 100 ? SEER_LOG_WARN : SEER_LOG_DEBUG, "jupyter",
                 "broker: dropped a message on %s (%s; %lu so far)", names[ch], zmq_strerror(errno),
                 n);
    }
    if (!sending) zmq_msg_close(&f);
  }
  return 0;
}

static void *broker_main(void *arg) {
  seer_jupyter_broker *b = arg;
  unsigned long dropped = 0;
  enum { N = 2 * SEER_JUPYTER_NCHANNELS };
  for (;;) {
    zmq_pollitem_t items[N];
    for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS; ch++) {
      items[2 * ch] = (zmq_pollitem_t){b->front[ch], 0, ZMQ_POLLIN, 0};
      items[2 * ch + 1] = (zmq_pollitem_t){b->back[ch], 0, ZMQ_POLLIN, 0};
    }
    if (zmq_poll(items, N, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int stop = 0;
    for (int i = 0; i < N && !stop; i++) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      int ch = i / 2;
      void *from = i % 2 ? b->back[ch] : b->front[ch];
      void *to = i % 2 ? b->front[ch] : b->back[ch];
      stop = relay(from, to, ch, &dropped) < 0;
    }
    if (stop) break;
  }
  for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS; ch++) {
    zmq_close(b->front[ch]);
    zmq_close(b->back[ch]);
  }
  return NULL;
}

static int bind_one(seer_jupyter_broker *b, void **slot, int type, const char *prefix, int ch,
                    int is_back, seer_error *err) {
  void *s = zmq_socket(b->ctx, type);
  if (!s)
    return seer_errorf(err, SEER_EIO, "jupyter broker: %s socket: %s", names[ch],
                       zmq_strerror(errno));
  *slot = s;
  int64_t max = SEER_JUPYTER_MAX_MSG;
  int linger = 0;
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  /* The kernel routes stdin requests with the identity its shell request came with, so the
   * shell and stdin sockets facing it share one. */
  if (type == ZMQ_DEALER && (ch == SEER_JUPYTER_SHELL || ch == SEER_JUPYTER_STDIN))
    zmq_setsockopt(s, ZMQ_ROUTING_ID, "seer-broker", 11);
  char path[512], ep[520];
  snprintf(path, sizeof path, "%s-%d", prefix, ch + 1);
  snprintf(ep, sizeof ep, "ipc://%s", path);
  if (zmq_bind(s, ep) != 0)
    return seer_errorf(err, SEER_EIO, "jupyter broker: cannot bind the %s channel at %s: %s",
                       names[ch], path, zmq_strerror(errno));
  /* Both sides are in 0700 directories (private_dir below), which keep other users out. The
   * kernel's side must admit the sandbox's own uid (its directory's owner, not the socket's). */
  chmod(path, is_back ? 0666 : 0600);
  return 0;
}

/* Whoever can connect to either side can talk to the kernel (or pose as it), so each prefix must
 * be in a directory that only its owner can enter. */
static int private_dir(const char *prefix, const char *side, seer_error *err) {
  char dir[128];
  snprintf(dir, sizeof dir, "%s", prefix);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return seer_errorf(err, SEER_EINVAL, "jupyter broker: the %s prefix %s must be in a directory",
                       side, prefix);
  *slash = '\0';
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 077) != 0)
    return seer_errorf(err, SEER_EINVAL,
                       "jupyter broker: the %s directory %s must be a directory that only its "
                       "owner can enter (mode 0700)",
                       side, dir);
  return 0;
}

int seer_jupyter_broker_open(const char *front, const char *back, seer_jupyter_broker **out,
                             seer_error *err) {
  *out = NULL;
  if (!front || !back || strlen(front) > 90 || strlen(back) > 90)
    return seer_errorf(err, SEER_EINVAL,
                       "jupyter broker: ipc path prefixes must be given and at most 90 bytes "
                       "(Unix socket paths are short)");
  int bad = private_dir(front, "client", err);
  if (!bad) bad = private_dir(back, "kernel", err);
  if (bad) return bad;
  seer_jupyter_broker *b = calloc(1, sizeof *b);
  if (!b || !(b->ctx = zmq_ctx_new())) {
    free(b);
    return seer_errorf(err, SEER_ENOMEM, "jupyter broker: out of memory");
  }
  static const int front_types[] = {ZMQ_ROUTER, ZMQ_XPUB, ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_ROUTER};
  static const int back_types[] = {ZMQ_DEALER, ZMQ_XSUB, ZMQ_DEALER, ZMQ_DEALER, ZMQ_DEALER};
  int rc = 0;
  for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS && !rc; ch++) {
    rc = bind_one(b, &b->front[ch], front_types[ch], front, ch, 0, err);
    if (!rc) rc = bind_one(b, &b->back[ch], back_types[ch], back, ch, 1, err);
  }
  if (!rc) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&b->thread, NULL, broker_main, b) == 0)
      b->started = 1;
    else
      rc = seer_errorf(err, SEER_EIO, "jupyter broker: cannot start its thread");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (rc) {
    seer_jupyter_broker_close(b);
    return rc;
  }
  *out = b;
  return 0;
}

void seer_jupyter_broker_close(seer_jupyter_broker *b) {
  if (!b) return;
  zmq_ctx_shutdown(b->ctx); /* the thread's poll fails with ETERM; it closes the sockets */
  if (b->started) {
    pthread_join(b->thread, NULL);
  } else {
    for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS; ch++) {
      if (b->front[ch]) zmq_close(b->front[ch]);
      if (b->back[ch]) zmq_close(b->back[ch]);
    }
  }
  zmq_ctx_term(b->ctx);
  free(b);
}
