/* channels.c: owns a Jupyter kernel's ZeroMQ sockets and threads. The kernel's thread owns shell,
 * iopub and stdin; a heartbeat thread echoes on hb; a control thread owns the control socket and
 * relays it to the kernel's thread over an inproc pair, so that an interrupt_request can be acted
 * on while the kernel's thread is busy running code: it sets the interrupt flag and sends SIGINT
 * to that thread, the same path as interrupt_mode "signal". Helper threads block all signals. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "seer/interrupt.h"
#include "seer/jupyter.h"
#include "seer/log.h"

struct seer_jupyter_kernel {
  void *ctx;
  void *sock[SEER_JUPYTER_NCHANNELS]; /* control and hb are owned by their threads */
  void *control_pair;                 /* kernel thread's end of the control relay */
  int port[SEER_JUPYTER_NCHANNELS];
  char *key;
  size_t key_len;
  char relay_endpoint[64];
  pthread_t hb_thread, control_thread, kernel_thread;
  int hb_started, control_started;
  unsigned long dropped; /* only touched by the kernel's thread */
  int client;
};

static const char *const channel_names[] = {"shell", "iopub", "stdin", "control", "hb"};

void seer_jupyter_msg_free(seer_jupyter_msg *m) {
  for (int i = 0; i < m->nframes; i++)
    free(m->frames[i]);
  free(m->frames);
  free(m->lens);
  memset(m, 0, sizeof *m);
}

/* Reads every frame of the next message on s. Returns 1, 0 when nothing is waiting (or EINTR),
 * -1 with errno set. A message with too many frames is read to its end and reported as 0 frames. */
static int read_frames(void *s, int flags, seer_jupyter_msg *m) {
  memset(m, 0, sizeof *m);
  int more = 1, too_many = 0;
  while (more) {
    zmq_msg_t f;
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, s, m->nframes || too_many ? 0 : flags) < 0) {
      int e = errno;
      zmq_msg_close(&f);
      seer_jupyter_msg_free(m);
      errno = e;
      return e == EAGAIN || e == EINTR ? 0 : -1;
    }
    more = zmq_msg_more(&f);
    if (m->nframes >= SEER_JUPYTER_MAX_FRAMES) too_many = 1;
    if (!too_many) {
      size_t n = zmq_msg_size(&f);
      char *copy = malloc(n + 1);
      char **fr = realloc(m->frames, sizeof *fr * (size_t)(m->nframes + 1));
      if (fr) m->frames = fr;
      size_t *ln = fr ? realloc(m->lens, sizeof *ln * (size_t)(m->nframes + 1)) : NULL;
      if (ln) m->lens = ln;
      if (!copy || !fr || !ln) {
        free(copy);
        too_many = 1;
      } else {
        memcpy(copy, zmq_msg_data(&f), n);
        copy[n] = '\0';
        m->frames[m->nframes] = copy;
        m->lens[m->nframes++] = n;
      }
    }
    zmq_msg_close(&f);
  }
  if (too_many) seer_jupyter_msg_free(m);
  return 1;
}

static int send_frames(void *s, const seer_jupyter_part *fr, int n) {
  for (int i = 0; i < n; i++)
    if (zmq_send(s, fr[i].data, fr[i].len, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) return -1;
  return 0;
}

/* ---- heartbeat: echo whatever arrives, until the context is shut down ---- */

static void *hb_main(void *arg) {
  void *s = arg;
  for (;;) {
    zmq_msg_t f;
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, s, 0) < 0) {
      zmq_msg_close(&f);
      if (errno == EINTR) continue;
      break;
    }
    int more = zmq_msg_more(&f);
    int rc = zmq_msg_send(&f, s, more ? ZMQ_SNDMORE : 0);
    if (rc < 0) zmq_msg_close(&f);
  }
  zmq_close(s);
  return NULL;
}

/* ---- control: relay both ways; an interrupt_request also interrupts now ---- */

static int is_interrupt(const seer_jupyter_kernel *k, const seer_jupyter_msg *m) {
  int d = seer_jupyter_check(k->key, k->key_len, m, NULL);
  if (d < 0) return 0;
  json_t *h = json_loadb(m->frames[d + 2], m->lens[d + 2], 0, NULL);
  const char *t = h ? json_string_value(json_object_get(h, "msg_type")) : NULL;
  int yes = t && strcmp(t, "interrupt_request") == 0;
  json_decref(h);
  return yes;
}

static void *control_main(void *arg) {
  seer_jupyter_kernel *k = arg;
  void *router = k->sock[SEER_JUPYTER_CONTROL];
  void *pair = zmq_socket(k->ctx, ZMQ_PAIR);
  if (!pair || zmq_connect(pair, k->relay_endpoint) != 0) {
    seer_log(SEER_LOG_ERROR, "jupyter", "control relay: %s", zmq_strerror(errno));
    if (pair) zmq_close(pair);
    zmq_close(router);
    return NULL;
  }
  for (;;) {
    zmq_pollitem_t items[2] = {{router, 0, ZMQ_POLLIN, 0}, {pair, 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      seer_jupyter_msg m;
      int r = read_frames(items[i].socket, ZMQ_DONTWAIT, &m);
      if (r < 0) goto done;
      if (r == 0 || m.nframes == 0) continue;
      if (i == 0 && is_interrupt(k, &m)) {
        seer_interrupt_set();
        pthread_kill(k->kernel_thread, SIGINT);
      }
      seer_jupyter_part *fr = malloc(sizeof *fr * (size_t)m.nframes);
      if (fr) {
        for (int j = 0; j < m.nframes; j++)
          fr[j] = (seer_jupyter_part){m.frames[j], m.lens[j]};
        if (send_frames(i == 0 ? pair : router, fr, m.nframes) < 0 && errno == ETERM) {
          free(fr);
          seer_jupyter_msg_free(&m);
          goto done;
        }
        free(fr);
      }
      seer_jupyter_msg_free(&m);
    }
  }
done:
  zmq_close(pair);
  zmq_close(router);
  return NULL;
}

/* ---- open / close ---- */

static int bind_channel(seer_jupyter_kernel *k, const seer_jupyter_config *cfg, int ch, int type,
                        seer_error *err) {
  void *s = zmq_socket(k->ctx, type);
  if (!s)
    return seer_errorf(err, SEER_EIO, "jupyter: %s socket: %s", channel_names[ch],
                       zmq_strerror(errno));
  k->sock[ch] = s;
  int64_t max = SEER_JUPYTER_MAX_MSG;
  int linger = 200; /* ms a closing kernel keeps trying to deliver its last replies */
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  int ipc = strcmp(cfg->transport, "ipc") == 0;
  char ep[512];
  int port = cfg->ports[ch];
  if (ipc) {
    /* As jupyter_client does: "<ip>-<port>", picking the first free number when none is given. */
    for (int n = port ? port : 1;; n++) {
      snprintf(ep, sizeof ep, "%s-%d", cfg->ip, n);
      if (port || access(ep, F_OK) != 0) {
        port = n;
        break;
      }
    }
    snprintf(ep, sizeof ep, "ipc://%s-%d", cfg->ip, port);
  } else if (port) {
    snprintf(ep, sizeof ep, "tcp://%s:%d", cfg->ip, port);
  } else {
    snprintf(ep, sizeof ep, "tcp://%s:*", cfg->ip);
  }
  if (cfg->client || cfg->connect) {
    if (!cfg->ports[ch])
      return seer_errorf(err, SEER_EINVAL, "jupyter: connecting needs the %s port",
                         channel_names[ch]);
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(s, ep) != 0)
      return seer_errorf(err, SEER_EIO, "jupyter: cannot connect the %s channel to %s: %s",
                         channel_names[ch], ep, zmq_strerror(errno));
    k->port[ch] = port;
    return 0;
  }
  if (zmq_bind(s, ep) != 0)
    return seer_errorf(err, SEER_EIO, "jupyter: cannot bind the %s channel at %s: %s",
                       channel_names[ch], ep, zmq_strerror(errno));
  if (!ipc && !port) {
    char last[512];
    size_t n = sizeof last;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &n);
    const char *colon = strrchr(last, ':');
    port = colon ? atoi(colon + 1) : 0;
  }
  k->port[ch] = port;
  return 0;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the kernel's thread, never here */
  int rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

int seer_jupyter_open(const seer_jupyter_config *cfg, seer_jupyter_kernel **out, seer_error *err) {
  *out = NULL;
  if (!cfg->transport || (strcmp(cfg->transport, "tcp") && strcmp(cfg->transport, "ipc")))
    return seer_errorf(err, SEER_EINVAL, "jupyter: transport must be \"tcp\" or \"ipc\", got %s",
                       cfg->transport ? cfg->transport : "none");
  if (!cfg->ip || !*cfg->ip || strlen(cfg->ip) > 400)
    return seer_errorf(err, SEER_EINVAL, "jupyter: ip must be an address or an ipc path prefix");
  seer_jupyter_kernel *k = calloc(1, sizeof *k);
  if (!k) return seer_errorf(err, SEER_ENOMEM, "jupyter: out of memory");
  k->kernel_thread = pthread_self();
  k->key = malloc(cfg->key_len + 1);
  k->ctx = zmq_ctx_new();
  if (!k->key || !k->ctx) {
    seer_jupyter_close(k);
    return seer_errorf(err, SEER_ENOMEM, "jupyter: out of memory");
  }
  if (cfg->key_len) memcpy(k->key, cfg->key, cfg->key_len);
  k->key_len = cfg->key_len;
  static const int types[] = {ZMQ_ROUTER, ZMQ_PUB, ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_REP};
  static const int client_types[] = {ZMQ_DEALER, ZMQ_SUB, ZMQ_DEALER, ZMQ_DEALER, ZMQ_REQ};
  k->client = cfg->client;
  int rc = 0;
  for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS && !rc; ch++)
    rc = bind_channel(k, cfg, ch, cfg->client ? client_types[ch] : types[ch], err);
  if (!rc && !k->client) {
    snprintf(k->relay_endpoint, sizeof k->relay_endpoint, "inproc://seer-jupyter-control-%p",
             (void *)k);
    k->control_pair = zmq_socket(k->ctx, ZMQ_PAIR);
    if (!k->control_pair || zmq_bind(k->control_pair, k->relay_endpoint) != 0)
      rc = seer_errorf(err, SEER_EIO, "jupyter: control relay: %s", zmq_strerror(errno));
  }
  if (!rc && !k->client) {
    if (start_thread(&k->hb_thread, hb_main, k->sock[SEER_JUPYTER_HB]) == 0) k->hb_started = 1;
    if (start_thread(&k->control_thread, control_main, k) == 0) k->control_started = 1;
    if (!k->hb_started || !k->control_started)
      rc = seer_errorf(err, SEER_EIO, "jupyter: cannot start the heartbeat and control threads");
  }
  if (rc) {
    seer_jupyter_close(k);
    return rc;
  }
  *out = k;
  return 0;
}

int seer_jupyter_port(const seer_jupyter_kernel *k, int channel) {
  return channel >= 0 && channel < SEER_JUPYTER_NCHANNELS ? k->port[channel] : 0;
}

unsigned long seer_jupyter_dropped(const seer_jupyter_kernel *k) { return k->dropped; }

void seer_jupyter_close(seer_jupyter_kernel *k) {
  if (!k) return;
  /* Shutting the context down makes the threads' blocking calls fail with ETERM; they close
   * their own sockets, and only then may the context be terminated. */
  if (k->ctx) zmq_ctx_shutdown(k->ctx);
  if (k->hb_started)
    pthread_join(k->hb_thread, NULL);
  else if (k->sock[SEER_JUPYTER_HB])
    zmq_close(k->sock[SEER_JUPYTER_HB]);
  if (k->control_started)
    pthread_join(k->control_thread, NULL);
  else if (k->sock[SEER_JUPYTER_CONTROL])
    zmq_close(k->sock[SEER_JUPYTER_CONTROL]);
  for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS; ch++)
    if (ch != SEER_JUPYTER_HB && ch != SEER_JUPYTER_CONTROL && k->sock[ch]) zmq_close(k->sock[ch]);
  if (k->control_pair) zmq_close(k->control_pair);
  if (k->ctx) zmq_ctx_term(k->ctx);
  free(k->key);
  free(k);
}

/* ---- the kernel thread's side ---- */

int seer_jupyter_recv(seer_jupyter_kernel *k, int timeout_ms, seer_jupyter_msg *msg, int *channel,
                      seer_error *err) {
  memset(msg, 0, sizeof *msg);
  void *socks[4] = {k->sock[SEER_JUPYTER_SHELL],
                    k->client ? k->sock[SEER_JUPYTER_CONTROL] : k->control_pair,
                    k->sock[SEER_JUPYTER_STDIN], k->sock[SEER_JUPYTER_IOPUB]};
  static const int chans[4] = {SEER_JUPYTER_SHELL, SEER_JUPYTER_CONTROL, SEER_JUPYTER_STDIN,
                               SEER_JUPYTER_IOPUB};
  int nsocks = k->client ? 4 : 3;
  for (;;) {
    zmq_pollitem_t items[4];
    for (int i = 0; i < nsocks; i++)
      items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(items, nsocks, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return 0;
      return seer_errorf(err, SEER_EIO, "jupyter: poll: %s", zmq_strerror(errno));
    }
    if (n == 0) return 0;
    /* Control first: shutdown and interrupt replies should not wait behind a queue of cells. */
    static const int order[4] = {1, 0, 2, 3};
    for (int oi = 0; oi < nsocks; oi++) {
      int i = order[oi];
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      seer_jupyter_msg m;
      int r = read_frames(socks[i], ZMQ_DONTWAIT, &m);
      if (r < 0) return seer_errorf(err, SEER_EIO, "jupyter: recv: %s", zmq_strerror(errno));
      if (r == 0) continue;
      seer_error why = {0, ""};
      int d = m.nframes
                  ? seer_jupyter_check(k->key, k->key_len, &m, &why)
                  : seer_errorf(&why, SEER_EFORMAT, "more than %d frames", SEER_JUPYTER_MAX_FRAMES);
      if (d < 0) {
        k->dropped++;
        seer_log(SEER_LOG_WARN, "jupyter", "dropped a message on %s: %s", channel_names[chans[i]],
                 why.msg);
        seer_jupyter_msg_free(&m);
        continue;
      }
      m.nids = d;
      *msg = m;
      *channel = chans[i];
      return 1;
    }
    if (timeout_ms == 0) return 0;
  }
}

int seer_jupyter_send(seer_jupyter_kernel *k, int channel, const seer_jupyter_part *ids, int nids,
                      const seer_jupyter_part parts[4], const seer_jupyter_part *buffers, int nbufs,
                      seer_error *err) {
  void *s = channel == SEER_JUPYTER_CONTROL ? (k->client ? k->sock[channel] : k->control_pair)
            : channel == SEER_JUPYTER_SHELL || channel == SEER_JUPYTER_IOPUB ||
                    channel == SEER_JUPYTER_STDIN
                ? k->sock[channel]
                : NULL;
  if (!s) return seer_errorf(err, SEER_EINVAL, "jupyter: cannot send on channel %d", channel);
  if (nids < 0 || nbufs < 0 || nids + nbufs > SEER_JUPYTER_MAX_FRAMES)
    return seer_errorf(err, SEER_EINVAL, "jupyter: too many identities or buffers");
  char sig[65];
  int rc = seer_jupyter_sign(k->key, k->key_len, parts, 4, sig, err);
  if (rc) return rc;
  int n = nids + 6 + nbufs;
  seer_jupyter_part fr[SEER_JUPYTER_MAX_FRAMES + 6];
  for (int i = 0; i < nids; i++)
    fr[i] = ids[i];
  fr[nids] = (seer_jupyter_part){"<IDS|MSG>", 9};
  fr[nids + 1] = (seer_jupyter_part){sig, strlen(sig)};
  for (int i = 0; i < 4; i++)
    fr[nids + 2 + i] = parts[i];
  for (int i = 0; i < nbufs; i++)
    fr[nids + 6 + i] = buffers[i];
  if (send_frames(s, fr, n) < 0)
    return seer_errorf(err, SEER_EIO, "jupyter: send on %s: %s", channel_names[channel],
                       zmq_strerror(errno));
  return 0;
}
