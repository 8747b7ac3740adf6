/* gpu.c: the engine's GPU (gpu.h): memory, copies and launches on a real device through the driver
 * table, or on the CPU through the grid emulator. The two share every call so that the device
 * engine above runs unchanged in CI, where the emulator stands in for the GPU. */
#include "gpu.h"

#include <stdlib.h>
#include <string.h>

#include "cublaslt.h"
#include "driver_api.h"
#include "emu/emu.h"
#include "fatbin.h"
#include "seer/cuda.h"

static const char *const kernel_names[] = {
#define SEER_GPU_KERNEL_NAME(name, threads) #name,
    SEER_CUDA_KERNEL_LIST(SEER_GPU_KERNEL_NAME)
#undef SEER_GPU_KERNEL_NAME
};
static const seer_emu_entry emu_entries[] = {
#define SEER_GPU_KERNEL_EMU(name, threads) name##_emu,
    SEER_CUDA_KERNEL_LIST(SEER_GPU_KERNEL_EMU)
#undef SEER_GPU_KERNEL_EMU
};
/* Argument struct sizes: a graph captured under the emulator keeps a copy of each launch's. */
static const size_t kernel_arg_sizes[] = {
#define SEER_GPU_KERNEL_ARGS(name, threads) sizeof(struct name##_args),
    SEER_CUDA_KERNEL_LIST(SEER_GPU_KERNEL_ARGS)
#undef SEER_GPU_KERNEL_ARGS
};

/* One recorded step of a graph captured under the emulator. */
typedef struct graph_op {
  enum { OP_LAUNCH, OP_COPY, OP_ZERO } kind;
  seer_gpu_kernel k;
  unsigned gx, gy, gz, threads;
  size_t smem;
  void *args; /* a copy, kernel_arg_sizes[k] bytes */
  uint64_t dst, src;
  size_t n;
} graph_op;

struct seer_gpu_graph {
  cu_graph_exec exec; /* on a device */
  graph_op *ops;      /* under the emulator */
  size_t nops, capops;
  uint64_t nlaunches; /* kernels in the graph, counted into seer_gpu_launches at each replay */
  uint64_t kernel_launches[SEER_GPU_KERNEL_COUNT]; /* the same per kernel (on a device) */
};

struct seer_gpu {
  int emulate;
  uint64_t emu_seed, emu_launches;
  uint64_t launches;                               /* on the device */
  uint64_t kernel_launches[SEER_GPU_KERNEL_COUNT]; /* per kernel, on either, replays included */
  const seer_cu_api *cu;
  cu_device dev;
  cu_context ctx;
  cu_stream stream;
  cu_module modules[16];
  int nmodules;
  cu_function fns[SEER_GPU_KERNEL_COUNT];
  /* Host<->device copies go through two staging buffers in turns (pinned on a device, so the DMA
   * engine reads them directly and the next chunk's fill overlaps the last one's transfer). */
  void *stage[2];
  size_t stage_bytes;
  int stage_pinned;
  uint64_t staged_chunks;
  uint64_t uploads;      /* host-to-device copies (calls, not chunks) */
  const seer_lt_api *lt; /* cuBLASLt, when it loaded and made a handle; NULL otherwise */
  void *lt_handle;
  cu_ptr lt_workspace;
  int gemm_min_rows;       /* the least rows worth a GEMM rather than the GEMV */
  seer_gpu_graph *capture; /* the graph being captured, or NULL */
  uint64_t graph_replays;
};

/* cuBLASLt's workspace: what its heuristics want for the skinny prefill GEMMs. */
#define LT_WORKSPACE ((size_t)32 << 20)

/* $SEER_CUBLASLT_MIN_ROWS: the least rows (batch x tokens) sent to a GEMM rather than the GEMV, 16
 * by default: cuBLASLt's, or for bf16 weights seer's tensor-core kernel where cuBLASLt is absent
 * (the emulator included). Named for cuBLASLt, which serves both on a GPU that has it. */
static int gemm_min_rows(void) {
  const char *m = getenv("SEER_CUBLASLT_MIN_ROWS");
  return m && atoi(m) > 0 ? atoi(m) : 16;
}

/* cuBLASLt for the prefill GEMMs when it loads (SEER_CUBLASLT=0 keeps seer's kernels); without it
 * the hand-written kernels do all the work, so failing here is never an error. */
static void open_cublaslt(seer_gpu *g) {
  const char *off = getenv("SEER_CUBLASLT");
  if (off && !strcmp(off, "0")) return;
  seer_lt_status st;
  const seer_lt_api *lt = NULL;
  if (seer_lt_probe(NULL, &st, &lt) != SEER_LT_READY) return;
  if (lt->create(&g->lt_handle) != 0) return;
  if (g->cu->mem_alloc(&g->lt_workspace, LT_WORKSPACE) != CU_OK) {
    lt->destroy(g->lt_handle);
    g->lt_handle = NULL;
    return;
  }
  g->lt = lt;
}

static int cu_fail(seer_gpu *g, cu_result rc, const char *what, seer_error *err) {
  const char *s = NULL;
  if (g->cu->get_error_string(rc, &s) != CU_OK || !s) s = "unknown error";
  return seer_errorf(err, SEER_EIO, "cuda: %s failed: %s (%d)", what, s, rc);
}
#define CU(call, what)                                                                             \
  do {                                                                                             \
    cu_result rc_ = (call);                                                                        \
    if (rc_ != CU_OK) return cu_fail(g, rc_, what, err);                                           \
  } while (0)

static int open_device(seer_gpu *g, int index, seer_error *err) {
  seer_cuda_status st;
  if (seer_cuda_probe(NULL, index, &st) != SEER_CUDA_READY)
    return seer_errorf(err, SEER_ENOTSUP, "%s", st.message);
  g->cu = seer_cuda_api();
  CU(g->cu->device_get(&g->dev, index), "cuDeviceGet");
  CU(g->cu->primary_ctx_retain(&g->ctx, g->dev), "cuDevicePrimaryCtxRetain");
  CU(g->cu->ctx_set_current(g->ctx), "cuCtxSetCurrent");
  CU(g->cu->stream_create(&g->stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
  for (const seer_cuda_fatbin *fb = seer_cuda_fatbins; fb->name; fb++) {
    if (g->nmodules == (int)(sizeof g->modules / sizeof g->modules[0]))
      return seer_errorf(err, SEER_ENOTSUP, "cuda: too many kernel modules");
    cu_result rc = g->cu->module_load_data(&g->modules[g->nmodules], fb->data);
    if (rc != CU_OK) return cu_fail(g, rc, "loading the kernels (cuModuleLoadData)", err);
    g->nmodules++;
  }
  for (int k = 0; k < SEER_GPU_KERNEL_COUNT; k++) {
    for (int i = 0; i < g->nmodules && !g->fns[k]; i++)
      if (g->cu->module_get_function(&g->fns[k], g->modules[i], kernel_names[k]) != CU_OK)
        g->fns[k] = NULL;
    if (!g->fns[k])
      return seer_errorf(err, SEER_EFORMAT, "cuda: kernel %s is missing from the embedded fatbin",
                         kernel_names[k]);
  }
  open_cublaslt(g);
  return 0;
}

/* Staging for copies: two buffers of $SEER_CUDA_STAGING_BYTES (tests make them small so that every
 * copy is chunked; rounded down to 8 bytes so chunks hold whole elements), 4 MiB by default, enough
 * to keep a transfer busy while the next chunk is filled. Pinned on a device; plain memory under
 * the emulator, which runs the same chunked copies, and on a device that refuses pinned memory
 * (the driver then stages each chunk itself). */
static int open_staging(seer_gpu *g, seer_error *err) {
  const char *s = getenv("SEER_CUDA_STAGING_BYTES");
  long long want = s ? atoll(s) : 0;
  g->stage_bytes = want >= 8 && want <= (1ll << 30) ? (size_t)want & ~(size_t)7 : (size_t)4 << 20;
  for (int i = 0; i < 2 && !g->emulate; i++)
    if (g->cu->mem_host_alloc(&g->stage[i], g->stage_bytes, 0) != CU_OK) g->stage[i] = NULL;
  g->stage_pinned = g->stage[0] && g->stage[1];
  for (int i = 0; i < 2 && !g->stage_pinned; i++) {
    if (g->stage[i]) g->cu->mem_free_host(g->stage[i]);
    g->stage[i] = malloc(g->stage_bytes);
  }
  if (!g->stage[0] || !g->stage[1])
    return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory for the %zu-byte copy buffers",
                       g->stage_bytes);
  return 0;
}

int seer_gpu_open(int index, int emulate, seer_gpu **out, seer_error *err) {
  *out = NULL;
  int rc;
  seer_gpu *g = calloc(1, sizeof *g);
  if (!g) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
  g->emulate = emulate;
  g->gemm_min_rows = gemm_min_rows();
  if (emulate) {
    const char *s = getenv("SEER_CUDA_EMU_SEED");
    g->emu_seed = s ? strtoull(s, NULL, 10) : 1;
  } else if ((rc = open_device(g, index, err))) {
    seer_gpu_close(g);
    return rc;
  }
  if ((rc = open_staging(g, err))) {
    seer_gpu_close(g);
    return rc;
  }
  *out = g;
  return 0;
}

void seer_gpu_close(seer_gpu *g) {
  if (!g) return;
  seer_gpu_capture_abort(g);
  if (!g->emulate && g->cu && g->stream) g->cu->stream_synchronize(g->stream);
  for (int i = 0; i < 2; i++) {
    if (!g->stage_pinned)
      free(g->stage[i]);
    else if (g->stage[i])
      g->cu->mem_free_host(g->stage[i]);
  }
  if (!g->emulate && g->cu) {
    if (g->lt) g->lt->destroy(g->lt_handle);
    if (g->lt_workspace) g->cu->mem_free(g->lt_workspace);
    for (int i = 0; i < g->nmodules; i++)
      g->cu->module_unload(g->modules[i]);
    if (g->stream) g->cu->stream_destroy(g->stream);
    if (g->ctx) g->cu->primary_ctx_release(g->dev);
  }
  free(g);
}

int seer_gpu_emulated(const seer_gpu *g) { return g->emulate; }

/* What a stream capture cannot contain: allocation and the waits of host<->device copies. */
static int refuse_in_capture(seer_gpu *g, const char *what, seer_error *err) {
  if (!g->capture) return 0;
  return seer_errorf(err, SEER_EINVAL,
                     "cuda: %s while a CUDA graph is being captured; allocate and copy before "
                     "seer_gpu_capture_begin (a bug in the caller)",
                     what);
}

int seer_gpu_alloc(seer_gpu *g, size_t bytes, uint64_t *ptr, seer_error *err) {
  *ptr = 0;
  int rc = refuse_in_capture(g, "allocating device memory", err);
  if (rc) return rc;
  if (!bytes) bytes = 16;
  if (g->emulate) {
    void *p = aligned_alloc(256, (bytes + 255) & ~(size_t)255);
    if (!p)
      return seer_errorf(err, SEER_ENOMEM, "cuda (emulated): out of memory for %zu bytes", bytes);
    *ptr = (uint64_t)(uintptr_t)p;
    return 0;
  }
  cu_ptr p = 0;
  CU(g->cu->mem_alloc(&p, bytes), "cuMemAlloc (device memory)");
  *ptr = p;
  return 0;
}

void seer_gpu_free(seer_gpu *g, uint64_t ptr) {
  if (!ptr) return;
  if (g->emulate)
    free((void *)(uintptr_t)ptr);
  else
    g->cu->mem_free(ptr);
}

/* The copies one chunk at a time: the driver's async copies on the stream, memcpy under the
 * emulator. */
static int htod(seer_gpu *g, uint64_t dst, const void *src, size_t n, seer_error *err) {
  if (g->emulate) {
    memcpy((void *)(uintptr_t)dst, src, n);
    return 0;
  }
  CU(g->cu->memcpy_htod_async(dst, src, n, g->stream), "cuMemcpyHtoDAsync");
  return 0;
}
static int dtoh(seer_gpu *g, void *dst, uint64_t src, size_t n, seer_error *err) {
  if (g->emulate) {
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return 0;
  }
  CU(g->cu->memcpy_dtoh_async(dst, src, n, g->stream), "cuMemcpyDtoHAsync");
  return 0;
}

/* Chunk i goes through stage[i % 2]: it is filled while chunk i - 1 is in flight from the other
 * buffer, and the wait before chunk i's copy also proves chunk i - 2 (same buffer) done. */
int seer_gpu_upload_fill(seer_gpu *g, uint64_t dst, size_t n, seer_gpu_fill fill, void *ctx,
                         seer_error *err) {
  int rc = refuse_in_capture(g, "a host-to-device copy", err);
  if (!rc) g->uploads++;
  for (size_t off = 0, i = 0; off < n && !rc; off += g->stage_bytes, i++) {
    size_t len = n - off < g->stage_bytes ? n - off : g->stage_bytes;
    fill(ctx, g->stage[i & 1], off, len);
    if (!(rc = seer_gpu_sync(g, err))) rc = htod(g, dst + off, g->stage[i & 1], len, err);
    g->staged_chunks++;
  }
  /* The buffers are free for the next copy, and the caller may read dst's new values. */
  return rc ? rc : seer_gpu_sync(g, err);
}

static void fill_copy(void *src, void *buf, size_t off, size_t len) {
  memcpy(buf, (const char *)src + off, len);
}

int seer_gpu_upload(seer_gpu *g, uint64_t dst, const void *src, size_t n, seer_error *err) {
  return seer_gpu_upload_fill(g, dst, n, fill_copy, (void *)src, err);
}

/* Chunk i lands in stage[i % 2]; it is copied out while chunk i + 1 is in flight. Waiting for the
 * stream also waits for the kernels queued before: what the caller reads is their result. */
int seer_gpu_download(seer_gpu *g, void *dst, uint64_t src, size_t n, seer_error *err) {
  int rc = refuse_in_capture(g, "a device-to-host copy", err);
  size_t prev_off = 0, prev_len = 0;
  for (size_t off = 0, i = 0; !rc && (off < n || prev_len); off += g->stage_bytes, i++) {
    size_t len = off < n ? (n - off < g->stage_bytes ? n - off : g->stage_bytes) : 0;
    if (len) rc = dtoh(g, g->stage[i & 1], src + off, len, err);
    if (!rc && len) g->staged_chunks++;
    if (!rc && prev_len) memcpy((char *)dst + prev_off, g->stage[(i - 1) & 1], prev_len);
    if (!rc) rc = seer_gpu_sync(g, err); /* chunk i is in its buffer */
    prev_off = off;
    prev_len = len;
  }
  return rc;
}

uint64_t seer_gpu_staged_chunks(const seer_gpu *g) { return g->staged_chunks; }
uint64_t seer_gpu_uploads(const seer_gpu *g) { return g->uploads; }

static int record(seer_gpu *g, graph_op op, seer_error *err);

int seer_gpu_copy(seer_gpu *g, uint64_t dst, uint64_t src, size_t n, seer_error *err) {
  if (g->emulate && g->capture)
    return record(g, (graph_op){.kind = OP_COPY, .dst = dst, .src = src, .n = n}, err);
  if (g->emulate) {
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return 0;
  }
  CU(g->cu->memcpy_dtod_async(dst, src, n, g->stream), "cuMemcpyDtoDAsync");
  return 0;
}

int seer_gpu_zero(seer_gpu *g, uint64_t dst, size_t n, seer_error *err) {
  if (g->emulate && g->capture)
    return record(g, (graph_op){.kind = OP_ZERO, .dst = dst, .n = n}, err);
  if (g->emulate) {
    memset((void *)(uintptr_t)dst, 0, n);
    return 0;
  }
  CU(g->cu->memset_d32_async(dst, 0, n / 4, g->stream), "cuMemsetD32Async");
  return 0;
}

int seer_gpu_sync(seer_gpu *g, seer_error *err) {
  int rc = refuse_in_capture(g, "waiting for the stream", err);
  if (rc) return rc;
  if (!g->emulate) CU(g->cu->stream_synchronize(g->stream), "cuStreamSynchronize");
  return 0;
}

static int emu_launch(seer_gpu *g, seer_gpu_kernel k, unsigned gx, unsigned gy, unsigned gz,
                      unsigned threads, size_t smem, const void *args, seer_error *err) {
  char msg[512];
  uint64_t seed = g->emu_seed + 0x9E3779B97F4A7C15ull * ++g->emu_launches;
  g->kernel_launches[k]++;
  if (seer_emu_launch(kernel_names[k], emu_entries[k], (seer_dim3){gx, gy, gz},
                      (seer_dim3){threads, 1, 1}, smem, args, seed, msg, sizeof msg))
    return seer_errorf(err, SEER_EINVAL, "%s", msg);
  return 0;
}

int seer_gpu_launch(seer_gpu *g, seer_gpu_kernel k, unsigned gx, unsigned gy, unsigned gz,
                    unsigned threads, size_t smem, const void *args, seer_error *err) {
  if (g->capture) g->capture->nlaunches++, g->capture->kernel_launches[k]++;
  if (g->emulate && g->capture) {
    graph_op op = {.kind = OP_LAUNCH,
                   .k = k,
                   .gx = gx,
                   .gy = gy,
                   .gz = gz,
                   .threads = threads,
                   .smem = smem,
                   .args = malloc(kernel_arg_sizes[k])};
    if (!op.args) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory recording a graph");
    memcpy(op.args, args, kernel_arg_sizes[k]);
    int rc = record(g, op, err);
    if (rc) free(op.args);
    return rc;
  }
  if (g->emulate) return emu_launch(g, k, gx, gy, gz, threads, smem, args, err);
  if (!g->capture) g->launches++, g->kernel_launches[k]++; /* a captured one counts at replays */
  void *params[] = {(void *)args};
  CU(g->cu->launch_kernel(g->fns[k], gx, gy, gz, threads, 1, 1, (unsigned)smem, g->stream, params,
                          NULL),
     kernel_names[k]);
  return 0;
}

/* ---- CUDA graphs ---- */

static int record(seer_gpu *g, graph_op op, seer_error *err) {
  seer_gpu_graph *gr = g->capture;
  if (gr->nops == gr->capops) {
    size_t n = gr->capops ? 2 * gr->capops : 64;
    graph_op *ops = realloc(gr->ops, n * sizeof *ops);
    if (!ops) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory recording a graph");
    gr->ops = ops, gr->capops = n;
  }
  gr->ops[gr->nops++] = op;
  return 0;
}

int seer_gpu_capture_begin(seer_gpu *g, seer_error *err) {
  if (g->capture)
    return seer_errorf(err, SEER_EINVAL, "cuda: a CUDA graph capture is already under way");
  seer_gpu_graph *gr = calloc(1, sizeof *gr);
  if (!gr) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory for a graph");
  /* Thread-local mode: only this thread's unsafe calls (a cuMemAlloc, a sync) invalidate it. */
  cu_result rc = g->emulate ? CU_OK : g->cu->stream_begin_capture(g->stream, 1);
  if (rc != CU_OK) {
    free(gr);
    return cu_fail(g, rc, "cuStreamBeginCapture", err);
  }
  g->capture = gr;
  return 0;
}

int seer_gpu_capture_end(seer_gpu *g, seer_gpu_graph **out, seer_error *err) {
  *out = NULL;
  seer_gpu_graph *gr = g->capture;
  if (!gr) return seer_errorf(err, SEER_EINVAL, "cuda: no CUDA graph capture is under way");
  g->capture = NULL;
  if (!g->emulate) {
    cu_graph cg = NULL;
    cu_result rc = g->cu->stream_end_capture(g->stream, &cg);
    if (rc == CU_OK) rc = g->cu->graph_instantiate(&gr->exec, cg, 0);
    if (cg) g->cu->graph_destroy(cg); /* the instantiated graph does not need it */
    if (rc != CU_OK) {
      seer_gpu_graph_free(g, gr);
      return cu_fail(g, rc, "capturing a CUDA graph (cuStreamEndCapture, cuGraphInstantiate)", err);
    }
  }
  *out = gr;
  return 0;
}

void seer_gpu_capture_abort(seer_gpu *g) {
  seer_gpu_graph *gr = g->capture;
  if (!gr) return;
  g->capture = NULL;
  if (!g->emulate) { /* ending the capture returns the stream to normal work */
    cu_graph cg = NULL;
    g->cu->stream_end_capture(g->stream, &cg);
    if (cg) g->cu->graph_destroy(cg);
  }
  seer_gpu_graph_free(g, gr);
}

int seer_gpu_graph_launch(seer_gpu *g, seer_gpu_graph *gr, seer_error *err) {
  if (g->capture)
    return seer_errorf(err, SEER_EINVAL, "cuda: a CUDA graph launch while another is captured");
  g->graph_replays++;
  if (!g->emulate) {
    CU(g->cu->graph_launch(gr->exec, g->stream), "cuGraphLaunch");
    g->launches += gr->nlaunches;
    for (int k = 0; k < SEER_GPU_KERNEL_COUNT; k++)
      g->kernel_launches[k] += gr->kernel_launches[k];
    return 0;
  }
  int rc = 0;
  for (size_t i = 0; i < gr->nops && !rc; i++) {
    const graph_op *op = &gr->ops[i];
    if (op->kind == OP_LAUNCH)
      rc = emu_launch(g, op->k, op->gx, op->gy, op->gz, op->threads, op->smem, op->args, err);
    else if (op->kind == OP_COPY)
      memmove((void *)(uintptr_t)op->dst, (const void *)(uintptr_t)op->src, op->n);
    else
      memset((void *)(uintptr_t)op->dst, 0, op->n);
  }
  return rc;
}

void seer_gpu_graph_free(seer_gpu *g, seer_gpu_graph *gr) {
  if (!gr) return;
  if (gr->exec) g->cu->graph_exec_destroy(gr->exec);
  for (size_t i = 0; i < gr->nops; i++)
    free(gr->ops[i].args);
  free(gr->ops);
  free(gr);
}

uint64_t seer_gpu_graph_replays(const seer_gpu *g) { return g->graph_replays; }

int seer_gpu_gemm_rows(const seer_gpu *g) { return g->lt ? g->gemm_min_rows : 0; }
int seer_gpu_split_gemm_rows(const seer_gpu *g) { return g->gemm_min_rows; }

/* One cuBLASLt GEMM: y [rows][n] (f32) = x [rows][k] . w [n][k]^T, x and w of type ab (f32 or
 * bf16), with f32 accumulation (CUBLAS_COMPUTE_32F: f32 FMA, no TF32; bf16 products exact). In
 * cuBLASLt's column-major terms: D (n x rows) = A^T (n x k) . B (k x rows), A = w as k x n. The
 * descriptors and the algorithm serve every call of lt_run on that shape. */
typedef struct lt_gemm {
  void *op, *a, *b, *d, *pref;
  seer_lt_heuristic heur;
  const char *what; /* the call that failed */
} lt_gemm;

#define LT_NO_ALGORITHM (-1) /* the heuristic found none for the shape and alignment */

/* The largest power of two (at most 256, the heuristic's default) dividing every address or'ed into
 * p: cuBLASLt assumes 256-byte operands unless told, and a buffer at an offset inside the
 * workspace may be less. */
static uint32_t lt_alignment(uint64_t p) {
  uint32_t a = 256;
  while (a > 1 && (p & (a - 1)))
    a >>= 1;
  return a;
}

static int lt_prepare(seer_gpu *g, lt_gemm *p, int ab, int64_t rows, int64_t k, int64_t n,
                      uint32_t align) {
  const seer_lt_api *lt = g->lt;
  int ta = SEER_LT_OP_T, tb = SEER_LT_OP_N, got = 0, st;
  size_t ws = LT_WORKSPACE;
  p->what = "cublasLtMatmulDescCreate";
  if ((st = lt->desc_create(&p->op, SEER_LT_COMPUTE_32F, SEER_LT_R_32F))) return st;
  p->what = "cublasLtMatmulDescSetAttribute";
  if ((st = lt->desc_set(p->op, SEER_LT_DESC_TRANSA, &ta, sizeof ta)) ||
      (st = lt->desc_set(p->op, SEER_LT_DESC_TRANSB, &tb, sizeof tb)))
    return st;
  p->what = "cublasLtMatrixLayoutCreate";
  if ((st = lt->layout_create(&p->a, ab, (uint64_t)k, (uint64_t)n, k)) ||
      (st = lt->layout_create(&p->b, ab, (uint64_t)k, (uint64_t)rows, k)) ||
      (st = lt->layout_create(&p->d, SEER_LT_R_32F, (uint64_t)n, (uint64_t)rows, n)))
    return st;
  p->what = "cublasLtMatmulAlgoGetHeuristic";
  if ((st = lt->pref_create(&p->pref)) ||
      (st = lt->pref_set(p->pref, SEER_LT_PREF_WORKSPACE, &ws, sizeof ws)))
    return st;
  int attrs[] = {SEER_LT_PREF_ALIGN_A, SEER_LT_PREF_ALIGN_B, SEER_LT_PREF_ALIGN_C,
                 SEER_LT_PREF_ALIGN_D};
  for (int i = 0; i < 4; i++)
    if ((st = lt->pref_set(p->pref, attrs[i], &align, sizeof align))) return st;
  if ((st = lt->heuristic(g->lt_handle, p->op, p->a, p->b, p->d, p->d, p->pref, 1, &p->heur, &got)))
    return st;
  return got ? 0 : LT_NO_ALGORITHM;
}

/* y = x . w^T + beta * y, in place (C and D are y, one layout). */
static int lt_run(seer_gpu *g, lt_gemm *p, uint64_t x, uint64_t w, uint64_t y, float beta) {
  float one = 1.0f;
  p->what = "cublasLtMatmul";
  return g->lt->matmul(g->lt_handle, p->op, &one, (const void *)(uintptr_t)w, p->a,
                       (const void *)(uintptr_t)x, p->b, &beta, (void *)(uintptr_t)y, p->d,
                       (void *)(uintptr_t)y, p->d, p->heur.algo, (void *)(uintptr_t)g->lt_workspace,
                       LT_WORKSPACE, g->stream);
}

static void lt_release(seer_gpu *g, lt_gemm *p) {
  const seer_lt_api *lt = g->lt;
  if (p->pref) lt->pref_destroy(p->pref);
  if (p->d) lt->layout_destroy(p->d);
  if (p->b) lt->layout_destroy(p->b);
  if (p->a) lt->layout_destroy(p->a);
  if (p->op) lt->desc_destroy(p->op);
}

static int lt_fail(const lt_gemm *p, int st, int64_t rows, int64_t k, int64_t n, seer_error *err) {
  if (st == LT_NO_ALGORITHM)
    return seer_errorf(err, SEER_ENOTSUP,
                       "cuda: cuBLASLt has no algorithm for a %lld x %lld x %lld GEMM; set "
                       "SEER_CUBLASLT=0 to use seer's kernels",
                       (long long)rows, (long long)k, (long long)n);
  return seer_errorf(err, SEER_EIO, "cuda: %s failed (cuBLAS status %d)", p->what, st);
}

int seer_gpu_gemm_f32(seer_gpu *g, uint64_t x, int64_t rows, int64_t k, uint64_t w, int64_t n,
                      uint64_t y, seer_error *err) {
  if (!g->lt) return seer_errorf(err, SEER_ENOTSUP, "cuda: cuBLASLt is not loaded");
  lt_gemm p = {0};
  int st = lt_prepare(g, &p, SEER_LT_R_32F, rows, k, n, lt_alignment(x | w | y));
  if (!st) st = lt_run(g, &p, x, w, y, 0.0f);
  lt_release(g, &p);
  return st ? lt_fail(&p, st, rows, k, n, err) : 0;
}

/* hi, then lo from the next 256-byte boundary (cuBLASLt's preferred operand alignment). */
static size_t split_part_bytes(int64_t rows, int64_t k) {
  return ((size_t)(rows * k) * sizeof(uint16_t) + 255) & ~(size_t)255;
}

size_t seer_gpu_split_gemm_bytes(int64_t rows, int64_t k) { return 2 * split_part_bytes(rows, k); }

/* The two passes on cuBLASLt when it has an algorithm for the shape (one plan for both: only beta
 * differs), else on seer's tensor-core kernel, the second pass adding to the first. Summing each
 * pass on its own and adding once keeps the small lo sum's rounding at its own scale. */
int seer_gpu_gemm_bf16_split(seer_gpu *g, uint64_t x, int64_t rows, int64_t k, uint64_t w,
                             int64_t n, uint64_t y, uint64_t ws, seer_error *err) {
  uint64_t hi = ws, lo = ws + split_part_bytes(rows, k);
  int64_t count = rows * k;
  /* Grid-stride: at most 4096 blocks, as the engine's other elementwise launches. */
  int64_t nblocks = (count + SEER_ELT_THREADS - 1) / SEER_ELT_THREADS;
  nblocks = nblocks < 1 ? 1 : nblocks > 4096 ? 4096 : nblocks;
  struct seer_k_split_bf16_args sa = {(const float *)(uintptr_t)x, (uint16_t *)(uintptr_t)hi,
                                      (uint16_t *)(uintptr_t)lo, count};
  int rc = seer_gpu_launch(g, SEER_GPU_seer_k_split_bf16, (unsigned)nblocks, 1, 1, SEER_ELT_THREADS,
                           0, &sa, err);
  if (rc) return rc;
  if (g->lt) {
    lt_gemm p = {0};
    int st = lt_prepare(g, &p, SEER_LT_R_16BF, rows, k, n, lt_alignment(hi | lo | w | y));
    if (!st && !(st = lt_run(g, &p, hi, w, y, 0.0f))) st = lt_run(g, &p, lo, w, y, 1.0f);
    lt_release(g, &p);
    if (st != LT_NO_ALGORITHM) return st ? lt_fail(&p, st, rows, k, n, err) : 0;
  }
  for (int pass = 0; pass < 2 && !rc; pass++) {
    struct seer_k_gemm_bf16_mma_args ma = {(const uint16_t *)(uintptr_t)(pass ? lo : hi),
                                           (const uint16_t *)(uintptr_t)w,
                                           (float *)(uintptr_t)y,
                                           (int)rows,
                                           (int)n,
                                           (int)k,
                                           pass};
    rc = seer_gpu_launch(g, SEER_GPU_seer_k_gemm_bf16_mma, (unsigned)((n + 31) / 32),
                         (unsigned)((rows + 15) / 16), 1, SEER_MMA_THREADS, 0, &ma, err);
  }
  return rc;
}

uint64_t seer_gpu_launches(const seer_gpu *g) { return g->emulate ? g->emu_launches : g->launches; }

uint64_t seer_gpu_kernel_launches(const seer_gpu *g, seer_gpu_kernel k) {
  return g->kernel_launches[k];
}
