/* threadpool.c: owns the persistent thread pool behind seer_cpu_parallel_for.
 *
 * A decode step runs some 200 parallel_for calls of well under a millisecond each, so the hand-off
 * is built to cost no system call when the machine has spare cores and to never wait for a worker
 * that the scheduler has not run yet when it has none:
 * - one 64-bit word holds the job's generation, an "open" bit and the count of workers inside it.
 *   A worker joins by CAS only while the job is open; the caller closes it once all tasks are
 *   taken and then waits only for workers that joined, so a worker that wakes late finds the job
 *   closed and goes back to waiting, instead of the caller waiting for it (each task is claimed
 *   with an atomic counter, so whoever runs gets the work).
 * - waiting workers spin for a while before they park on a futex; the caller calls FUTEX_WAKE
 *   only when some worker is parked. The spin is adaptive per worker (seer_cpu_pool_next_spin),
 *   from the gap between the moment the worker began to wait and the caller's publication of the
 *   next job (a timestamp the caller writes, so a parked worker's wake-up latency does not count):
 *   a gap a spin could cover (up to SPIN_MAX_NS) raises the spin towards twice that gap (at most
 *   doubling it per wait), a longer gap halves it, and so does a spin that was descheduled (a block
 * of pause loops that took far longer than it should: the machine is oversubscribed, and spinning
 * burns the time slice the caller needs). An earlier rule, double when the job came during the spin
 * and halve when the spin ran out, fell to the minimum and stayed there on an idle machine: once
 * the spin is shorter than most gaps it never sees a job arrive while spinning (measured: about 210
 * parks per TinyLlama token, against about 40 with a fixed 200 µs spin; bench/README.md).
 * SEER_POOL_SPIN_US sets a fixed spin (0: always park).
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"

#define OPEN ((uint64_t)1 << 16)
#define BUSY_MASK (OPEN - 1)
#define GEN_ONE ((uint64_t)1 << 17)
#define SPIN_MAX_NS 200000 /* 0.2 ms: longer than the gap between two matrices of a decode step */
#define SPIN_MIN_NS 2000
/* 64 pause loops take a few µs when running; a block that took this long was descheduled. */
#define PREEMPTED_NS 100000

static struct {
  pthread_mutex_t run_mu; /* one job at a time; other callers queue here */
  pthread_t *th;
  int nworkers;
  int started;
  seer_cpu_task_fn fn;
  void *ctx;
  int64_t ntasks;
  int64_t next;       /* next task to claim */
  int64_t publish_ns; /* when the caller published the job of the current generation */
  uint64_t state;     /* generation << 17 | OPEN | workers inside the job */
  uint32_t job_seq;   /* futex: bumped per job and on shutdown */
  uint32_t done_seq;  /* futex: bumped when the last worker leaves a closed job */
  int parked;         /* workers asleep on job_seq */
  int caller_waiting; /* the caller sleeps on done_seq */
  int shutdown;
  long fixed_spin_ns; /* -1: adaptive */
} pool = {.run_mu = PTHREAD_MUTEX_INITIALIZER, .fixed_spin_ns = -1};

static int want_threads; /* 0: default */
static __thread int in_pool_task;

static void futex_wait(uint32_t *addr, uint32_t val) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(uint32_t *addr, int n) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void run_tasks(int tid) {
  int64_t i;
  while ((i = __atomic_fetch_add(&pool.next, 1, __ATOMIC_RELAXED)) < pool.ntasks)
    pool.fn(pool.ctx, i, tid);
}

/* Joins the job of generation gen if it is still open; 1 when joined. */
static int try_join(uint64_t gen) {
  uint64_t s = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE);
  while ((s >> 17) == gen && (s & OPEN))
    if (__atomic_compare_exchange_n(&pool.state, &s, s + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
      return 1;
  return 0;
}

static void leave(void) {
  uint64_t s = __atomic_sub_fetch(&pool.state, 1, __ATOMIC_SEQ_CST);
  if ((s & BUSY_MASK) == 0 && !(s & OPEN)) {
    __atomic_add_fetch(&pool.done_seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool.caller_waiting, __ATOMIC_SEQ_CST)) futex_wake(&pool.done_seq, 1);
  }
}

long seer_cpu_pool_next_spin(long spin_ns, int64_t gap_ns, int preempted) {
  if (gap_ns < 0) gap_ns = 0; /* the job was out before the worker began to wait */
  if (!preempted && gap_ns <= SPIN_MAX_NS) {
    /* at most doubling per wait, so that after descheduled spins it climbs back gradually */
    long want = gap_ns * 2 > SPIN_MAX_NS ? SPIN_MAX_NS : (long)gap_ns * 2;
    if (want > 2 * spin_ns) want = 2 * spin_ns;
    return want > spin_ns ? want : spin_ns;
  }
  return spin_ns / 2 < SPIN_MIN_NS ? SPIN_MIN_NS : spin_ns / 2;
}

static void *worker_main(void *arg) {
  int tid = (int)(intptr_t)arg;
  uint64_t seen = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) >> 17;
  long spin_ns = pool.fixed_spin_ns >= 0 ? pool.fixed_spin_ns : SPIN_MAX_NS / 4;
  in_pool_task = 1;
  for (;;) {
    /* wait for a generation after `seen`: spin, then park */
    uint32_t seq = __atomic_load_n(&pool.job_seq, __ATOMIC_ACQUIRE);
    uint64_t gen = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) >> 17;
    int adaptive = pool.fixed_spin_ns < 0, preempted = 0;
    int64_t wait_start = adaptive ? now_ns() : 0;
    if (gen == seen && !__atomic_load_n(&pool.shutdown, __ATOMIC_ACQUIRE) && spin_ns > 0) {
      int64_t last = adaptive ? wait_start : now_ns(), deadline = last + spin_ns;
      int n = 0;
      while ((gen = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) >> 17) == seen &&
             !__atomic_load_n(&pool.shutdown, __ATOMIC_ACQUIRE)) {
        cpu_relax();
        if (++n % 64 == 0) {
          int64_t t = now_ns();
          if (t > deadline) break;
          if (t - last > PREEMPTED_NS) {
            preempted = 1;
            break;
          }
          last = t;
        }
      }
      seq = __atomic_load_n(&pool.job_seq, __ATOMIC_ACQUIRE);
    }
    while ((gen = __atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) >> 17) == seen &&
           !__atomic_load_n(&pool.shutdown, __ATOMIC_ACQUIRE)) {
      __atomic_add_fetch(&pool.parked, 1, __ATOMIC_SEQ_CST);
      /* job_seq is bumped before the caller reads `parked`: a job published in between changes
       * job_seq, so the wait returns at once instead of sleeping through it. */
      if ((__atomic_load_n(&pool.state, __ATOMIC_SEQ_CST) >> 17) == seen &&
          !__atomic_load_n(&pool.shutdown, __ATOMIC_SEQ_CST))
        futex_wait(&pool.job_seq, seq);
      __atomic_sub_fetch(&pool.parked, 1, __ATOMIC_SEQ_CST);
      seq = __atomic_load_n(&pool.job_seq, __ATOMIC_ACQUIRE);
    }
    if (__atomic_load_n(&pool.shutdown, __ATOMIC_ACQUIRE)) break;
    if (adaptive) /* publish_ns is written before the generation this worker acquired */
      spin_ns = seer_cpu_pool_next_spin(
          spin_ns, __atomic_load_n(&pool.publish_ns, __ATOMIC_RELAXED) - wait_start, preempted);
    seen = gen;
    if (try_join(gen)) {
      run_tasks(tid);
      leave();
    }
  }
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
  __atomic_store_n(&pool.shutdown, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&pool.job_seq, 1, __ATOMIC_SEQ_CST);
  futex_wake(&pool.job_seq, pool.nworkers);
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
  const char *spin = getenv("SEER_POOL_SPIN_US");
  pool.fixed_spin_ns = spin && *spin ? atol(spin) * 1000 : -1;
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
  /* No worker is inside a job here (the last one closed with none left), so the fields are ours. */
  pool.fn = fn;
  pool.ctx = ctx;
  pool.ntasks = ntasks;
  __atomic_store_n(&pool.next, 0, __ATOMIC_RELAXED);
  if (pool.fixed_spin_ns < 0) __atomic_store_n(&pool.publish_ns, now_ns(), __ATOMIC_RELAXED);
  uint64_t gen = (__atomic_load_n(&pool.state, __ATOMIC_RELAXED) >> 17) + 1;
  __atomic_store_n(&pool.state, gen << 17 | OPEN, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&pool.job_seq, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&pool.parked, __ATOMIC_SEQ_CST) > 0) futex_wake(&pool.job_seq, pool.nworkers);
  in_pool_task = 1;
  run_tasks(0);
  in_pool_task = 0;
  /* Every task is claimed: close the job and wait only for the workers inside it. */
  uint32_t dseq = __atomic_load_n(&pool.done_seq, __ATOMIC_ACQUIRE);
  uint64_t s = __atomic_and_fetch(&pool.state, ~OPEN, __ATOMIC_ACQ_REL);
  if (s & BUSY_MASK) {
    for (int n = 0; n < 1024 && (__atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) & BUSY_MASK); n++)
      cpu_relax();
    while (__atomic_load_n(&pool.state, __ATOMIC_ACQUIRE) & BUSY_MASK) {
      __atomic_store_n(&pool.caller_waiting, 1, __ATOMIC_SEQ_CST);
      if (__atomic_load_n(&pool.state, __ATOMIC_SEQ_CST) & BUSY_MASK)
        futex_wait(&pool.done_seq, dseq);
      __atomic_store_n(&pool.caller_waiting, 0, __ATOMIC_SEQ_CST);
      dseq = __atomic_load_n(&pool.done_seq, __ATOMIC_ACQUIRE);
    }
  }
  pthread_mutex_unlock(&pool.run_mu);
}
