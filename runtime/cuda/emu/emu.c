/* emu.c: the grid emulator (see emu.h). One block runs at a time; its threads are fibers (fiber.h)
 * switched only at __syncthreads, warp shuffles and mma, which are all barriers here. When no fiber
 * can run, the scheduler releases a barrier every participant has reached; when none can be
 * released, the launch has deadlocked and the report names the barrier sites. */
#include "emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#define EMU_STACK (512u * 1024)
#else
#define EMU_ASAN 0
#define EMU_STACK (128u * 1024)
#endif

#define EMU_MAX_THREADS 1024
#define EMU_SHARED_BYTES (48u * 1024) /* static shared memory a block may declare, as on sm_80 */
#define EMU_SLOT_WORDS 12             /* a lane's contribution to a warp exchange (mma: 4+2+4) */

enum { T_RUN, T_BLOCK_BARRIER, T_WARP_BARRIER, T_DONE };

typedef struct emu_thread {
  seer_fiber ctx;
  void *stack;
  void *fake_stack; /* ASan's record of this fiber's fake stack while it is switched out */
  seer_dim3 idx;
  int state;
  const char *site;   /* where it waits */
  unsigned exchanges; /* warp exchanges done: picks the double buffer */
} emu_thread;

typedef struct emu_warp {
  int lanes; /* threads of the block in this warp */
  uint32_t slot[2][32][EMU_SLOT_WORDS];
} emu_warp;

typedef struct emu_shared {
  const void *key;
  void *ptr;
} emu_shared;

typedef struct emu_launch {
  const char *name;
  seer_emu_entry entry;
  const void *args;
  seer_dim3 grid, block, block_idx;
  int nthreads, current;
  emu_thread *threads;
  emu_warp *warps;
  seer_fiber sched;
  void *sched_fake;
  const void *sched_bottom;
  size_t sched_size;
  uint64_t rng;
  unsigned char *smem; /* static shared memory, then the dynamic part */
  size_t smem_used, dyn_bytes;
  emu_shared shared[64];
  int nshared;
  int failed;
  char *err;
  size_t errlen;
} emu_launch;

static _Thread_local emu_launch *cur;
static _Thread_local unsigned faults;

void seer_emu_set_faults(unsigned f) { faults = f; }

static void report(emu_launch *l, const char *fmt, ...) {
  if (l->failed) return;
  l->failed = 1;
  int n = snprintf(l->err, l->errlen, "emulated kernel %s, block (%u,%u,%u): ", l->name,
                   l->block_idx.x, l->block_idx.y, l->block_idx.z);
  if (n < 0 || (size_t)n >= l->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

static uint64_t next_rand(emu_launch *l) { /* xorshift64* */
  l->rng ^= l->rng >> 12;
  l->rng ^= l->rng << 25;
  l->rng ^= l->rng >> 27;
  return l->rng * 0x2545F4914F6CDD1Dull;
}

/* ---- fiber switching, annotated for AddressSanitizer ---- */

static void to_scheduler(emu_launch *l, emu_thread *t, int finished) {
#if EMU_ASAN
  __sanitizer_start_switch_fiber(finished ? NULL : &t->fake_stack, l->sched_bottom, l->sched_size);
#endif
  seer_fiber_switch(&t->ctx, &l->sched);
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(t->fake_stack, &l->sched_bottom, &l->sched_size);
#endif
}

static void fiber_main(void) {
  emu_launch *l = cur;
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(NULL, &l->sched_bottom, &l->sched_size);
#endif
  emu_thread *t = &l->threads[l->current];
  l->entry(l->args);
  t->state = T_DONE;
  to_scheduler(l, t, 1);
}

static void run_fiber(emu_launch *l, int i) {
  l->current = i;
#if EMU_ASAN
  __sanitizer_start_switch_fiber(&l->sched_fake, l->threads[i].stack, EMU_STACK);
#endif
  seer_fiber_switch(&l->sched, &l->threads[i].ctx);
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(l->sched_fake, NULL, NULL);
#endif
}

/* ---- what the kernels call ---- */

static emu_thread *self(void) { return &cur->threads[cur->current]; }
seer_dim3 seer_emu_thread_idx(void) { return self()->idx; }
seer_dim3 seer_emu_block_idx(void) { return cur->block_idx; }
seer_dim3 seer_emu_block_dim(void) { return cur->block; }
seer_dim3 seer_emu_grid_dim(void) { return cur->grid; }

void seer_emu_syncthreads(const char *site) {
  if (faults & SEER_EMU_FAULT_NO_SYNCTHREADS) return;
  emu_thread *t = self();
  t->state = T_BLOCK_BARRIER;
  t->site = site;
  to_scheduler(cur, t, 0);
}

/* A warp-wide exchange: each lane publishes `words` words, waits until every lane of its warp has,
 * then returns the warp's slot array to read from. The double buffer keeps a fast lane's next
 * exchange from overwriting values a slow lane has still to read. */
static uint32_t (*exchange(uint32_t mask, const uint32_t *words, int n,
                           const char *site))[EMU_SLOT_WORDS] {
  emu_launch *l = cur;
  emu_thread *t = self();
  int lin = l->current, lane = lin & 31;
  emu_warp *w = &l->warps[lin >> 5];
  uint32_t want = w->lanes == 32 ? 0xffffffffu : ((1u << w->lanes) - 1);
  if (mask != want) {
    report(l,
           "%s: warp %d exchanges with mask 0x%08x but its lanes are 0x%08x (a partial mask "
           "or a partial warp; the emulator models only whole-warp exchanges)",
           site, lin >> 5, mask, want);
  }
  unsigned buf = t->exchanges++ & 1;
  memcpy(w->slot[buf][lane], words, (size_t)n * sizeof *words);
  if (faults & SEER_EMU_FAULT_NO_WARP_SYNC) return w->slot[buf];
  t->state = T_WARP_BARRIER;
  t->site = site;
  to_scheduler(l, t, 0);
  return w->slot[buf];
}

uint32_t seer_emu_shfl(uint32_t mask, uint32_t v, int arg, int mode, const char *site) {
  uint32_t(*slots)[EMU_SLOT_WORDS] = exchange(mask, &v, 1, site);
  int lane = cur->current & 31, lanes = cur->warps[cur->current >> 5].lanes, src = lane;
  switch (mode) {
  case SEER_EMU_SHFL_IDX: src = arg & 31; break;
  case SEER_EMU_SHFL_XOR: src = lane ^ arg; break;
  case SEER_EMU_SHFL_DOWN: src = lane + arg < 32 ? lane + arg : lane; break;
  case SEER_EMU_SHFL_UP: src = lane - arg >= 0 ? lane - arg : lane; break;
  }
  if (src >= lanes) src = lane;
  return slots[src][0];
}

void *seer_emu_shared(const void *key, size_t bytes, const char *site) {
  emu_launch *l = cur;
  for (int i = 0; i < l->nshared; i++)
    if (l->shared[i].key == key) return l->shared[i].ptr;
  size_t at = (l->smem_used + 15) & ~(size_t)15;
  if (l->nshared == (int)(sizeof l->shared / sizeof l->shared[0]) ||
      at + bytes > EMU_SHARED_BYTES) {
    report(l, "%s: static shared memory exceeds %u bytes", site, EMU_SHARED_BYTES);
    return l->smem; /* keeps the fiber safe until the launch is abandoned */
  }
  l->shared[l->nshared].key = key;
  l->shared[l->nshared].ptr = l->smem + at;
  l->nshared++;
  l->smem_used = at + bytes;
  return l->smem + at;
}

void *seer_emu_dynamic_shared(void) { return cur->smem + EMU_SHARED_BYTES; }

static float bf16_lo(uint32_t r) {
  uint32_t u = r << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static float bf16_hi(uint32_t r) {
  uint32_t u = r & 0xffff0000u;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Fragment layouts of mma.m16n8k16 with .bf16 inputs (PTX ISA, "Matrix Fragments for mma.m16n8k16
 * with floating point type"), with g = lane >> 2 and q = lane % 4:
 *   A (16x16, row): a_i lives in register i/2, half i%2; row g (+8 for i in 2,3,6,7),
 *                   column 2q + i%2 (+8 for i >= 4).
 *   B (16x8, col):  b_i in register i/2, half i%2; row (k) 2q + i%2 (+8 for i >= 2), column g.
 *   C/D (16x8):     c_i; row g (+8 for i >= 2), column 2q + i%2.
 * So A[r][k] is held by lane 4*(r%8) + (k%8)/2, element (r>=8 ? 2 : 0) + (k>=8 ? 4 : 0) + k%2, and
 * B[k][n] by lane 4*n + (k%8)/2, element (k>=8 ? 2 : 0) + k%2. */
static float a_elem(uint32_t (*s)[EMU_SLOT_WORDS], int r, int k) {
  if (faults & SEER_EMU_FAULT_MMA_LAYOUT) { /* the broken mapping the negative control uses */
    int t = r;
    r = k;
    k = t;
  }
  int lane = 4 * (r % 8) + (k % 8) / 2;
  int e = (r >= 8 ? 2 : 0) + (k >= 8 ? 4 : 0) + k % 2;
  uint32_t reg = s[lane][e / 2];
  return e % 2 ? bf16_hi(reg) : bf16_lo(reg);
}
static float b_elem(uint32_t (*s)[EMU_SLOT_WORDS], int k, int n) {
  int lane = 4 * n + (k % 8) / 2;
  int e = (k >= 8 ? 2 : 0) + k % 2;
  uint32_t reg = s[lane][4 + e / 2];
  return e % 2 ? bf16_hi(reg) : bf16_lo(reg);
}

void seer_emu_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4],
                             const char *site) {
  uint32_t words[10];
  memcpy(words, a, 16);
  memcpy(words + 4, b, 8);
  memcpy(words + 6, c, 16);
  if (cur->warps[cur->current >> 5].lanes != 32)
    report(cur, "%s: mma.sync needs a whole warp", site);
  uint32_t(*s)[EMU_SLOT_WORDS] = exchange(0xffffffffu, words, 10, site);
  int lane = cur->current & 31, g = lane >> 2, q = lane & 3;
  for (int i = 0; i < 4; i++) {
    int row = g + (i >= 2 ? 8 : 0), col = 2 * q + (i & 1);
    /* Tensor cores accumulate the products in f32 (exact bf16 x bf16 products); the sum order
     * inside the unit is unspecified, so the twin adds in k order. */
    float acc = c[i];
    for (int k = 0; k < 16; k++)
      acc += a_elem(s, row, k) * b_elem(s, k, col);
    d[i] = acc;
  }
}

/* ---- the launch ---- */

static int all_at(emu_launch *l, int lo, int n, int state, const char **site) {
  *site = NULL;
  for (int i = lo; i < lo + n; i++) {
    if (l->threads[i].state != state) return 0;
    if (!*site) *site = l->threads[i].site;
  }
  return 1;
}

/* Nothing can run: release the barriers all their participants reached, or report why not. */
static int release(emu_launch *l) {
  const char *site;
  int released = 0;
  if (all_at(l, 0, l->nthreads, T_BLOCK_BARRIER, &site)) {
    for (int i = 0; i < l->nthreads; i++) {
      if (l->threads[i].site != site) {
        report(l, "threads 0 and %d wait at different __syncthreads (%s and %s)", i, site,
               l->threads[i].site);
        return 0;
      }
    }
    for (int i = 0; i < l->nthreads; i++)
      l->threads[i].state = T_RUN;
    return 1;
  }
  for (int w = 0; w * 32 < l->nthreads; w++) {
    int lanes = l->warps[w].lanes;
    if (all_at(l, w * 32, lanes, T_WARP_BARRIER, &site)) {
      for (int i = w * 32; i < w * 32 + lanes; i++)
        l->threads[i].state = T_RUN;
      released = 1;
    }
  }
  if (released) return 1;
  int done = 0, at_block = 0, at_warp = 0;
  const char *bsite = NULL, *wsite = NULL;
  for (int i = 0; i < l->nthreads; i++) {
    emu_thread *t = &l->threads[i];
    if (t->state == T_DONE) done++;
    if (t->state == T_BLOCK_BARRIER) at_block++, bsite = t->site;
    if (t->state == T_WARP_BARRIER) at_warp++, wsite = t->site;
  }
  report(l,
         "deadlock: %d thread(s) wait at __syncthreads%s%s, %d at a warp exchange%s%s, %d of %d "
         "have exited",
         at_block, bsite ? " at " : "", bsite ? bsite : "", at_warp, wsite ? " at " : "",
         wsite ? wsite : "", done, l->nthreads);
  return 0;
}

static void init_fiber(emu_thread *t) { seer_fiber_init(&t->ctx, t->stack, EMU_STACK, fiber_main); }

/* Fiber stacks stay mapped for the thread's later launches: mapping and first-touching them per
 * launch cost more than the kernels themselves. */
static _Thread_local void *stack_pool;
static _Thread_local size_t stack_pool_threads;

static void *fiber_stacks(size_t threads) {
  if (threads <= stack_pool_threads) return stack_pool;
  if (stack_pool) munmap(stack_pool, stack_pool_threads * EMU_STACK);
  stack_pool = mmap(NULL, threads * EMU_STACK, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  stack_pool_threads = stack_pool == MAP_FAILED ? 0 : threads;
  if (stack_pool == MAP_FAILED) stack_pool = NULL;
  return stack_pool;
}

static int run_block(emu_launch *l) {
  memset(l->smem, 0xff, EMU_SHARED_BYTES + l->dyn_bytes); /* NaN: reads before writes show */
  l->smem_used = 0;
  l->nshared = 0;
  int i = 0;
  for (unsigned z = 0; z < l->block.z; z++)
    for (unsigned y = 0; y < l->block.y; y++)
      for (unsigned x = 0; x < l->block.x; x++, i++) {
        emu_thread *t = &l->threads[i];
        t->idx = (seer_dim3){x, y, z};
        t->state = T_RUN;
        t->site = NULL;
        t->exchanges = 0;
        t->fake_stack = NULL;
        init_fiber(t);
      }
  int *ready = malloc(sizeof(int) * (size_t)l->nthreads);
  if (!ready) {
    report(l, "out of memory");
    return -1;
  }
  for (;;) {
    int n = 0;
    for (int k = 0; k < l->nthreads; k++)
      if (l->threads[k].state == T_RUN) ready[n++] = k;
    if (!n) {
      int done = 1;
      for (int k = 0; k < l->nthreads; k++)
        done &= l->threads[k].state == T_DONE;
      if (done || !release(l)) break;
      continue;
    }
    /* Run every ready fiber once, in an order the seed shuffles (Fisher-Yates). */
    for (int k = n - 1; k > 0; k--) {
      int j = (int)(next_rand(l) % (uint64_t)(k + 1)), tmp = ready[k];
      ready[k] = ready[j];
      ready[j] = tmp;
    }
    for (int k = 0; k < n && !l->failed; k++)
      run_fiber(l, ready[k]);
    if (l->failed) break;
  }
  free(ready);
  return l->failed ? -1 : 0;
}

int seer_emu_launch(const char *name, seer_emu_entry entry, seer_dim3 grid, seer_dim3 block,
                    size_t dynamic_smem, const void *args, uint64_t seed, char *err,
                    size_t errlen) {
  emu_launch l;
  memset(&l, 0, sizeof l);
  l.name = name;
  l.entry = entry;
  l.args = args;
  l.grid = grid;
  l.block = block;
  l.err = err;
  l.errlen = errlen;
  l.rng = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  if (!l.rng) l.rng = 1;
  if (err && errlen) err[0] = '\0';
  unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
  if (!nt || nt > EMU_MAX_THREADS || !grid.x || !grid.y || !grid.z) {
    report(&l, "invalid launch: block %ux%ux%u, grid %ux%ux%u", block.x, block.y, block.z, grid.x,
           grid.y, grid.z);
    return -1;
  }
  if (dynamic_smem > 227u * 1024) {
    report(&l, "invalid launch: %zu bytes of dynamic shared memory", dynamic_smem);
    return -1;
  }
  if (cur) {
    report(&l, "a kernel launched from inside an emulated kernel");
    return -1;
  }
  l.nthreads = (int)nt;
  l.dyn_bytes = dynamic_smem;
  int nwarps = (l.nthreads + 31) / 32;
  l.threads = calloc((size_t)l.nthreads, sizeof *l.threads);
  l.warps = calloc((size_t)nwarps, sizeof *l.warps);
  l.smem = malloc(EMU_SHARED_BYTES + dynamic_smem);
  void *stacks = fiber_stacks((size_t)l.nthreads);
  int rc = -1;
  if (!l.threads || !l.warps || !l.smem || !stacks) {
    report(&l, "out of memory for %d fibers", l.nthreads);
    goto out;
  }
  for (int i = 0; i < l.nthreads; i++)
    l.threads[i].stack = (char *)stacks + (size_t)i * EMU_STACK;
  for (int w = 0; w < nwarps; w++)
    l.warps[w].lanes = l.nthreads - w * 32 < 32 ? l.nthreads - w * 32 : 32;
  cur = &l;
  rc = 0;
  for (unsigned z = 0; z < grid.z && !rc; z++)
    for (unsigned y = 0; y < grid.y && !rc; y++)
      for (unsigned x = 0; x < grid.x && !rc; x++) {
        if ((faults & SEER_EMU_FAULT_SKIP_LAST_BLOCK) && x == grid.x - 1 && y == grid.y - 1 &&
            z == grid.z - 1)
          break;
        l.block_idx = (seer_dim3){x, y, z};
        rc = run_block(&l);
      }
  cur = NULL;
out:
  free(l.threads);
  free(l.warps);
  free(l.smem);
  return rc;
}
