/* threadpool.c: owns the persistent pthread pool behind seer_cpu_parallel_for. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu.h"

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done;
  pthread_mutex_t run_mu; /* one job at a time; other callers queue here */
  pthread_t *th;
  int nworkers;
  int started;
  int shutdown;
  uint64_t gen;
  seer_cpu_task_fn fn;
  void *ctx;
  int64_t ntasks;
  int64_t next;
  int active;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .cv_work = PTHREAD_COND_INITIALIZER,
          .cv_done = PTHREAD_COND_INITIALIZER,
          .run_mu = PTHREAD_MUTEX_INITIALIZER};

static int want_threads; /* 0: default */
static __thread int in_pool_task;

static void run_tasks(int tid) {
  int64_t i;
  while ((i = __atomic_fetch_add(&pool.next, 1, __ATOMIC_RELAXED)) < pool.ntasks)
    pool.fn(pool.ctx, i, tid);
}

static void *worker_main(void *arg) {
  int tid = (int)(intptr_t)arg;
  uint64_t seen = 0;
  in_pool_task = 1;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (pool.gen == seen && !pool.shutdown)
      pthread_cond_wait(&pool.cv_work, &pool.mu);
    if (pool.shutdown) break;
    seen = pool.gen;
    pthread_mutex_unlock(&pool.mu);
    run_tasks(tid);
    pthread_mutex_lock(&pool.mu);
    if (--pool.active == 0) pthread_cond_signal(&pool.cv_done);
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

static int default_threads(void) {
  const char *e = getenv("SEER_THREADS");
  if (e && atoi(e) > 0) return atoi(e);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void pool_stop_locked(void) {
  if (!pool.started) return;
  pthread_mutex_lock(&pool.mu);
  pool.shutdown = 1;
  pthread_cond_broadcast(&pool.cv_work);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < pool.nworkers; i++)
    pthread_join(pool.th[i], NULL);
  free(pool.th);
  pool.th = NULL;
  pool.nworkers = 0;
  pool.shutdown = 0;
  pool.started = 0;
}

static void pool_start_locked(void) {
  int n = want_threads > 0 ? want_threads : default_threads();
  pool.started = 1;
  pool.nworkers = 0;
  if (n <= 1) return;
  pool.th = calloc((size_t)n - 1, sizeof *pool.th);
  if (!pool.th) return;
  for (int i = 0; i < n - 1; i++) {
    if (pthread_create(&pool.th[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0) break;
    pool.nworkers++;
  }
}

void seer_tensor_set_threads(int n) {
  pthread_mutex_lock(&pool.run_mu);
  want_threads = n;
  pool_stop_locked(); /* restarted lazily with the new count */
  pthread_mutex_unlock(&pool.run_mu);
}

int seer_tensor_get_threads(void) { return want_threads > 0 ? want_threads : default_threads(); }
int seer_cpu_threads(void) { return seer_tensor_get_threads(); }

void seer_cpu_parallel_for(int64_t ntasks, seer_cpu_task_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  if (ntasks == 1 || in_pool_task) {
    for (int64_t i = 0; i < ntasks; i++)
      fn(ctx, i, 0);
    return;
  }
  pthread_mutex_lock(&pool.run_mu);
  if (!pool.started) pool_start_locked();
  if (pool.nworkers == 0) {
    pthread_mutex_unlock(&pool.run_mu);
    for (int64_t i = 0; i < ntasks; i++)
      fn(ctx, i, 0);
    return;
  }
  pthread_mutex_lock(&pool.mu);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.ntasks = ntasks;
  pool.next = 0;
  pool.active = pool.nworkers;
  pool.gen++;
  pthread_cond_broadcast(&pool.cv_work);
  pthread_mutex_unlock(&pool.mu);
  in_pool_task = 1;
  run_tasks(0);
  in_pool_task = 0;
  pthread_mutex_lock(&pool.mu);
  while (pool.active > 0)
    pthread_cond_wait(&pool.cv_done, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
  pthread_mutex_unlock(&pool.run_mu);
}
