/* stop_signal.c: owns the SIGTERM/SIGINT/SIGHUP watcher that lets a server (seer-lua serve) stop
 * cleanly from its loop (close listeners, remove socket files) instead of dying mid-write. The
 * watcher does not keep the loop alive by itself. */
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include "seer/rpc.h"

struct seer_rpc_stop_watch {
  uv_signal_t sigs[3];
  int open;
  void (*cb)(int signum, void *ud);
  void *ud;
};

static void on_signal(uv_signal_t *h, int signum) {
  seer_rpc_stop_watch *w = h->data;
  if (w->cb) w->cb(signum, w->ud);
}

int seer_rpc_stop_watch_start(seer_loop *loop, void (*cb)(int signum, void *ud), void *ud,
                              seer_rpc_stop_watch **out, seer_error *err) {
  static const int nums[3] = {SIGTERM, SIGINT, SIGHUP};
  seer_rpc_stop_watch *w = calloc(1, sizeof *w);
  if (!w) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  w->cb = cb;
  w->ud = ud;
  for (int i = 0; i < 3; i++) {
    uv_signal_init(seer_loop_uv(loop), &w->sigs[i]);
    w->sigs[i].data = w;
    uv_signal_start(&w->sigs[i], on_signal, nums[i]);
    uv_unref((uv_handle_t *)&w->sigs[i]);
    w->open++;
  }
  *out = w;
  return SEER_OK;
}

static void on_closed(uv_handle_t *h) {
  seer_rpc_stop_watch *w = h->data;
  if (--w->open == 0) free(w);
}

void seer_rpc_stop_watch_close(seer_rpc_stop_watch *w) {
  if (!w || !w->cb) return;
  w->cb = NULL;
  for (int i = 0; i < 3; i++)
    uv_close((uv_handle_t *)&w->sigs[i], on_closed);
}
