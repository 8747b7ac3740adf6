/* loop.c: owns the libuv loop of a runtime, the run-one-iteration primitive with a timeout, the
 * async wakeup used by signal handlers, and the list of live children killed at shutdown. */
#include "seer/loop.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <uv.h>

struct seer_loop {
  uv_loop_t uv;
  uv_timer_t timeout;       /* bounds the wait of one run_once */
  uv_async_t wakeup;        /* lets a signal handler interrupt the wait */
  seer_loop_child children; /* sentinel of a circular list */
};

int seer_loop_new(seer_loop **out, seer_error *err) {
  seer_loop *loop = calloc(1, sizeof *loop);
  if (!loop) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  int rc = uv_loop_init(&loop->uv);
  if (rc != 0) {
    free(loop);
    return seer_errorf(err, SEER_EIO, "cannot create event loop: %s", uv_strerror(rc));
  }
  uv_timer_init(&loop->uv, &loop->timeout);
  uv_async_init(&loop->uv, &loop->wakeup, NULL);
  /* The wakeup handle alone must not keep the loop alive. The timeout timer stays referenced while
   * started, so that run_once really waits when a scheduler has only a deadline to wait for. */
  uv_unref((uv_handle_t *)&loop->wakeup);
  loop->children.next = loop->children.prev = &loop->children;
  *out = loop;
  return SEER_OK;
}

static void close_any(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void seer_loop_free(seer_loop *loop) {
  if (!loop) return;
  for (seer_loop_child *c = loop->children.next; c != &loop->children; c = c->next)
    if (c->pid > 0) kill(c->pid, SIGKILL);
  uv_walk(&loop->uv, close_any, NULL);
  /* Let close callbacks and child reaping run; bounded so a wedged handle cannot hang exit. */
  for (int i = 0; i < 1000 && uv_run(&loop->uv, UV_RUN_NOWAIT) != 0; i++)
    ;
  for (seer_loop_child *c = loop->children.next; c != &loop->children; c = c->next)
    if (c->pid > 0) waitpid(c->pid, NULL, WNOHANG);
  uv_loop_close(&loop->uv);
  free(loop);
}

struct uv_loop_s *seer_loop_uv(seer_loop *loop) {
  return &loop->uv;
}

static void on_timeout(uv_timer_t *t) {}

int seer_loop_run_once(seer_loop *loop, double timeout_s) {
  if (timeout_s == 0) return uv_run(&loop->uv, UV_RUN_NOWAIT) != 0;
  if (timeout_s > 0) {
    double ms = ceil(timeout_s * 1000.0);
    uv_update_time(&loop->uv);
    uv_timer_start(&loop->timeout, on_timeout, ms > 1e12 ? (uint64_t)1e12 : (uint64_t)ms, 0);
  }
  uv_run(&loop->uv, UV_RUN_ONCE);
  uv_timer_stop(&loop->timeout);
  return seer_loop_alive(loop);
}

int seer_loop_alive(seer_loop *loop) { return uv_loop_alive(&loop->uv); }

double seer_loop_now(void) { return (double)uv_hrtime() / 1e9; }

void seer_loop_wakeup(seer_loop *loop) { uv_async_send(&loop->wakeup); }

void seer_loop_track_child(seer_loop *loop, seer_loop_child *child) {
  child->next = loop->children.next;
  child->prev = &loop->children;
  loop->children.next->prev = child;
  loop->children.next = child;
}

void seer_loop_untrack_child(seer_loop *loop, seer_loop_child *child) {
  if (!child->next) return;
  child->prev->next = child->next;
  child->next->prev = child->prev;
  child->next = child->prev = NULL;
}
