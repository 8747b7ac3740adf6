/* kernels.h: the argument struct of every kernel, shared by the kernels (device and emulated) and
 * the host code that launches them. Each kernel takes its struct by value; pointers are device
 * addresses on a GPU and host addresses under the emulator. Layouts are row-major. */
#ifndef SEER_CUDA_KERNELS_H
#define SEER_CUDA_KERNELS_H

#include <stdint.h>

/* y[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * w; one block of SEER_NORM_THREADS per row.
 * w already holds 1 + weight for Gemma's (1 + w) norms, as the CPU engine binds it. */
#define SEER_NORM_THREADS 256
struct seer_k_rmsnorm_args {
  const float *x;
  const float *w;
  float *y;
  int n; /* row length */
  float eps;
};

/* Weight storage types the kernels read (the CPU engine's dtypes for weights kept as stored). */
enum { SEER_W_F32 = 0, SEER_W_BF16 = 1, SEER_W_F16 = 2 };

/* Decode GEMV: y[m][r] = sum_k W[r][k] * x[m][k] (+ bias[r]), W [N][K] in wtype, x and y f32, a
 * few rows m. One warp per output row and SEER_GEMV_ROWS rows of x, 8 warps per block; grid
 * (ceil(N/8), ceil(M/SEER_GEMV_ROWS)): seer_gemv_grid_y. */
#define SEER_GEMV_THREADS 256
#define SEER_GEMV_ROWS 4
#define seer_gemv_grid_y(m) (((m) + SEER_GEMV_ROWS - 1) / SEER_GEMV_ROWS)
struct seer_k_gemv_args {
  const void *w;
  const float *x;
  const float *bias; /* NULL: none */
  float *y;
  int n, k, m, wtype;
};

/* Skinny GEMM on tensor cores: y[m][n] = sum_k x[m][k] * w[n][k], x and w bf16, y f32; with
 * accumulate, y[m][n] += that sum (the sum made first, then added: the second pass of a split
 * activation, as cuBLASLt's beta = 1 adds C). One warp per 16x8 tile of y, 4 warps per block along
 * n; grid (ceil(N/32), ceil(M/16)). */
#define SEER_MMA_THREADS 128
struct seer_k_gemm_bf16_mma_args {
  const uint16_t *x;
  const uint16_t *w;
  float *y;
  int m, n, k;
  int accumulate;
};

/* f32 activations as two bf16 parts for the GEMMs above (convert.cu): hi[i] = bf16(x[i]),
 * lo[i] = bf16(x[i] - hi[i]) (0 where hi is not finite), both rounded to nearest even as
 * seer_f32_to_bf16 does. Grid-stride over n with SEER_ELT_THREADS per block. */
struct seer_k_split_bf16_args {
  const float *x;
  uint16_t *hi;
  uint16_t *lo;
  int64_t n;
};

/* Rotary embedding in HF's rotate_half layout, in place on x [rows][heads][head_dim]:
 * pairs (i, i + head_dim/2) turn by pos[row] * inv_freq[i] (llama3 and linear scaling live in
 * inv_freq, computed on the host as the CPU engine does). One block per row. */
#define SEER_ROPE_THREADS 128
struct seer_k_rope_args {
  float *x;
  const int64_t *pos;
  const float *inv_freq;
  int heads, head_dim;
};

/* Attention over the device KV cache, one query token per block:
 * out[b][t][h] = softmax_j(softcap(q.k_j * scale)) . v_j over cache positions j in [lo, qi], where
 * lo = max(pad[b], qi - window + 1 when window > 0). Cache layout [batch][kv_heads][cap][head_dim];
 * position j sits in slot j % cap when ring (sliding layers), else in slot j.
 * The query's position is read from device memory, qi = *step + t + blockIdx.z (step: the cache
 * length before the call, uploaded per call), so that one launch, or one captured CUDA graph,
 * serves every decode step; a prefill whose keys are all in the cache runs its T queries as grid z.
 * One block per (head, batch row, query). Scores: in dynamic shared memory, at least (qi + 1 - lo)
 * floats (a graph sizes it for the largest step it can serve), or, past what shared memory holds,
 * in global memory at scores (a row of scores_stride floats per block). With weights set, each
 * block also writes its normalized softmax weights as the CPU engine's attn.weights hooks see them:
 * a row of (*step + queries) floats, key j at column j, 0 where masked. */
#define SEER_ATTN_THREADS 128
struct seer_k_attn_decode_args {
  const float *q;      /* query t's [batch][heads][head_dim] (grid z: the next ones), rows
                        * row_stride apart */
  const float *k;      /* cache */
  const float *v;      /* cache */
  float *out;          /* as q */
  int64_t row_stride;  /* floats from one batch row's q (and out) to the next */
  const int64_t *pad;  /* [batch]: first real position of each row (left padding) */
  const int64_t *step; /* device: the call's first position; the cache holds positions up to qi */
  int64_t t;           /* q's query in the call (grid z 0's): qi = *step + t + blockIdx.z */
  int64_t cap;
  int ring;
  int64_t window; /* 0: full attention */
  int heads, kv_heads, head_dim;
  float scale, softcap;
  float *scores;         /* NULL: shared memory; else [batch][heads][gridDim.z][scores_stride] */
  int64_t scores_stride; /* at least the keys of the launch's last query */
  float *weights;        /* NULL, or [batch][heads][queries][*step + queries] */
  int64_t queries;       /* the call's query tokens per row (T) */
};

/* Elementwise kernels, grid-stride over n with SEER_ELT_THREADS per block. */
#define SEER_ELT_THREADS 256
/* out[i] = act(gate[i]) * up[i], act SiLU or GELU (tanh approximation, or exact erf). */
enum { SEER_ACT_SILU = 0, SEER_ACT_GELU_TANH = 1, SEER_ACT_GELU = 2 };
struct seer_k_act_mul_args {
  const float *gate;
  const float *up;
  float *out;
  int64_t n;
  int act;
};
/* x[i] += y[i] */
struct seer_k_add_args {
  float *x;
  const float *y;
  int64_t n;
};
/* y[i] += x[i] * s, the product rounded to f32 before the add (no fused multiply-add): a LoRA side
 * path's scaled addition, as the CPU engine computes it (runtime/model/lora.c). */
struct seer_k_add_scaled_args {
  float *y;
  const float *x;
  int64_t n;
  float s;
};
/* The op codes of the two kernels below: seer_binop's order (add sub mul div), then the device
 * storages' own (seer/tensor.h: SEER_STORAGE_OP_*): copy (in place), abs and neg (out of place). */
enum {
  SEER_BIN_ADD = 0,
  SEER_BIN_SUB = 1,
  SEER_BIN_MUL = 2,
  SEER_BIN_DIV = 3,
  SEER_BIN_COPY = 4,
  SEER_BIN_ABS = 5,
  SEER_BIN_NEG = 6
};
/* x[i] = x[i] op y[i % ylen], or x[i] op s when y is NULL: in-place ops on device tensors with a
 * same-shaped or row-broadcast right operand (a steering vector) or a scalar (an ablation's
 * mul_(0)). In double, rounded once to f32, as the CPU's ops compute. */
struct seer_k_binary_rows_args {
  float *x;
  const float *y;
  int64_t n, ylen;
  double s;
  int op;
};
/* out[i] = x[i] op y[i % ylen], or x[i] op s when y is NULL; y op x when swap; |x| or -x for the
 * unary codes: the out-of-place ops on hook tensors. In double, rounded once to f32, as the CPU's
 * ops compute (the scalar need not be an f32). */
struct seer_k_binary_out_args {
  const float *x;
  const float *y;
  float *out;
  int64_t n, ylen;
  double s;
  int op, swap;
};
/* out[o][i] = mean over j of x[o][j][i], x a contiguous f32 [outer][n][inner] (a hook tensor's mean
 * along one dim), summed in double in order as the CPU does; grid-stride over the outer * inner
 * lanes. */
struct seer_k_mean_lanes_args {
  const float *x;
  float *out;
  int64_t outer, n, inner;
};
/* x[i] = tanh(x[i] / cap) * cap */
struct seer_k_softcap_args {
  float *x;
  int64_t n;
  float cap;
};
/* out[r][i] = table[tok[r]][i] * scale, table [vocab][h] in wtype; one block per row r. */
struct seer_k_embed_args {
  const void *table;
  const int32_t *tok;
  float *out;
  int h, wtype;
  float scale;
};

/* Writes tokens' keys and values into the cache: token t + blockIdx.y of batch row blockIdx.x at
 * position qi = *step + t + blockIdx.y (slot qi % cap when ring; step in device memory, as for
 * attention). k, v: token t's [batch][kv_heads][head_dim] (then the next tokens'), rows row_stride
 * floats apart. */
struct seer_k_kv_store_args {
  const float *k;
  const float *v;
  int64_t row_stride;
  float *kc;
  float *vc;
  const int64_t *step;
  int64_t t, cap;
  int ring, kv_heads, head_dim;
};

/* X(name, threads per block): every kernel, for the loaders (cuModuleGetFunction by name, and the
 * emulator's entry table). */
#define SEER_CUDA_KERNEL_LIST(X)                                                                   \
  X(seer_k_rmsnorm, SEER_NORM_THREADS)                                                             \
  X(seer_k_gemv, SEER_GEMV_THREADS)                                                                \
  X(seer_k_gemm_bf16_mma, SEER_MMA_THREADS)                                                        \
  X(seer_k_split_bf16, SEER_ELT_THREADS)                                                           \
  X(seer_k_rope, SEER_ROPE_THREADS)                                                                \
  X(seer_k_attn_decode, SEER_ATTN_THREADS)                                                         \
  X(seer_k_kv_store, SEER_ATTN_THREADS)                                                            \
  X(seer_k_act_mul, SEER_ELT_THREADS)                                                              \
  X(seer_k_add, SEER_ELT_THREADS)                                                                  \
  X(seer_k_add_scaled, SEER_ELT_THREADS)                                                           \
  X(seer_k_softcap, SEER_ELT_THREADS)                                                              \
  X(seer_k_binary_rows, SEER_ELT_THREADS)                                                          \
  X(seer_k_binary_out, SEER_ELT_THREADS)                                                           \
  X(seer_k_embed, SEER_ELT_THREADS)                                                                \
  X(seer_k_mean_lanes, SEER_ELT_THREADS)

#endif
