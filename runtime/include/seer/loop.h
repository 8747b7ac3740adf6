/* The runtime's event loop: one libuv loop per runtime. Schedulers (the Lua task scheduler, or a C
 * embedder's own) drive it one iteration at a time with seer_loop_run_once. */
#ifndef SEER_LOOP_H
#define SEER_LOOP_H

#include "seer/error.h"

typedef struct seer_loop seer_loop;
struct uv_loop_s;

int seer_loop_new(seer_loop **out, seer_error *err);
/* Kills the processes the loop still tracks (no orphans), closes every handle and frees the loop.
 */
void seer_loop_free(seer_loop *loop);
struct uv_loop_s *seer_loop_uv(seer_loop *loop);
/* Runs one iteration: waits for I/O for at most timeout_s seconds (< 0: until something happens,
 * 0: poll) and runs the callbacks that became ready. Returns 1 if handles or requests remain. */
int seer_loop_run_once(seer_loop *loop, double timeout_s);
/* 1 while any handle or request keeps the loop alive. */
int seer_loop_alive(seer_loop *loop);
/* Monotonic clock in seconds. */
double seer_loop_now(void);
/* Makes a blocked seer_loop_run_once return early. Safe to call from a signal handler. */
void seer_loop_wakeup(seer_loop *loop);

/* Bookkeeping that lets seer_loop_free kill live child processes (used by process.c). */
typedef struct seer_loop_child {
  struct seer_loop_child *prev, *next;
  int pid;
} seer_loop_child;
void seer_loop_track_child(seer_loop *loop, seer_loop_child *child);
void seer_loop_untrack_child(seer_loop *loop, seer_loop_child *child);

#endif
