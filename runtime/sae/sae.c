/* sae.c: owns the sparse-autoencoder maths: SAELens' process_sae_in (run-time normalisation, then
 * x - b_dec when apply_b_dec_to_input), the four encoders, and a decoder that skips inactive
 * features. Weights are copied to f32 at load; the encoder matrix is kept transposed ([d_sae,
 * d_in], a Linear layer's layout) so the CPU backend's kernels apply. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/cpu.h"
#include "seer/sae.h"

struct seer_sae {
  seer_sae_arch arch;
  seer_sae_norm norm;
  int apply_b_dec;
  int64_t k, d_in, d_sae;
  float *enc_t;   /* [d_sae, d_in]; gated: the gate's */
  float *mag_t;   /* gated: W_enc * exp(r_mag), transposed */
  float *b_enc;   /* gated: b_gate */
  float *b_mag;   /* gated */
  float *dec;     /* [d_sae, d_in] */
  float *b_dec;   /* [d_in] */
  float *thr;     /* jumprelu */
  float *scaling; /* finetuning_scaling_factor, or NULL */
};

void seer_sae_free(seer_sae *s) {
  if (!s) return;
  free(s->enc_t);
  free(s->mag_t);
  free(s->b_enc);
  free(s->b_mag);
  free(s->dec);
  free(s->b_dec);
  free(s->thr);
  free(s->scaling);
  free(s);
}

int64_t seer_sae_d_in(const seer_sae *s) { return s->d_in; }
int64_t seer_sae_d_sae(const seer_sae *s) { return s->d_sae; }

/* A copy of t as f32 after checking its shape is {a} (b < 0) or {a, b}. */
static int take(const seer_tensor *t, const char *name, int64_t a, int64_t b, float **out,
                seer_error *err) {
  *out = NULL;
  if (!t) return seer_errorf(err, SEER_EINVAL, "SAE weight %s is missing", name);
  int ok = seer_dtype_is_float(t->dtype) && seer_tensor_device(t) == SEER_DEVICE_CPU &&
           (b < 0 ? (t->ndim == 1 && t->shape[0] == a)
                  : (t->ndim == 2 && t->shape[0] == a && t->shape[1] == b));
  if (!ok) {
    if (b < 0)
      return seer_errorf(err, SEER_EINVAL, "SAE weight %s must be a float vector of %lld", name,
                         (long long)a);
    return seer_errorf(err, SEER_EINVAL, "SAE weight %s must be a float matrix [%lld, %lld]", name,
                       (long long)a, (long long)b);
  }
  float *p = malloc(sizeof(float) * (size_t)seer_tensor_numel(t));
  if (!p) return seer_errorf(err, SEER_ENOMEM, "SAE weight %s: out of memory", name);
  seer_tensor_read_f32(t, p);
  *out = p;
  return 0;
}

static float *transpose(const float *m, int64_t r, int64_t c) {
  float *t = malloc(sizeof(float) * (size_t)(r * c));
  if (!t) return NULL;
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < c; j++)
      t[j * r + i] = m[i * c + j];
  return t;
}

int seer_sae_new(const seer_sae_spec *sp, seer_sae **out, seer_error *err) {
  *out = NULL;
  if (!sp->W_enc || sp->W_enc->ndim != 2)
    return seer_errorf(err, SEER_EINVAL, "SAE weight W_enc must be a matrix [d_in, d_sae]");
  seer_sae *s = calloc(1, sizeof *s);
  if (!s) return seer_errorf(err, SEER_ENOMEM, "SAE: out of memory");
  s->arch = sp->arch;
  s->norm = sp->norm;
  s->apply_b_dec = sp->apply_b_dec_to_input;
  s->k = sp->k;
  s->d_in = sp->W_enc->shape[0];
  s->d_sae = sp->W_enc->shape[1];
  int64_t di = s->d_in, ds = s->d_sae;
  float *w_enc = NULL;
  int rc = take(sp->W_enc, "W_enc", di, ds, &w_enc, err);
  if (!rc) rc = take(sp->W_dec, "W_dec", ds, di, &s->dec, err);
  if (!rc) rc = take(sp->b_dec, "b_dec", di, -1, &s->b_dec, err);
  if (!rc && sp->arch == SEER_SAE_GATED) {
    float *r_mag = NULL;
    rc = take(sp->b_gate, "b_gate", ds, -1, &s->b_enc, err);
    if (!rc) rc = take(sp->b_mag, "b_mag", ds, -1, &s->b_mag, err);
    if (!rc) rc = take(sp->r_mag, "r_mag", ds, -1, &r_mag, err);
    if (!rc) {
      float *mag = malloc(sizeof(float) * (size_t)(di * ds));
      if (mag) {
        for (int64_t i = 0; i < di; i++)
          for (int64_t j = 0; j < ds; j++)
            mag[i * ds + j] = w_enc[i * ds + j] * expf(r_mag[j]);
        s->mag_t = transpose(mag, di, ds);
        free(mag);
      }
      if (!s->mag_t) rc = seer_errorf(err, SEER_ENOMEM, "SAE: out of memory");
    }
    free(r_mag);
  } else if (!rc) {
    rc = take(sp->b_enc, "b_enc", ds, -1, &s->b_enc, err);
  }
  if (!rc && sp->arch == SEER_SAE_JUMPRELU)
    rc = take(sp->threshold, "threshold", ds, -1, &s->thr, err);
  if (!rc && sp->scaling)
    rc = take(sp->scaling, "finetuning_scaling_factor", ds, -1, &s->scaling, err);
  if (!rc && sp->arch == SEER_SAE_TOPK && (sp->k < 1 || sp->k > ds))
    rc = seer_errorf(err, SEER_EINVAL, "SAE: topk needs 1 <= k <= d_sae (%lld), got k = %lld",
                     (long long)ds, (long long)sp->k);
  if (!rc && (sp->arch < SEER_SAE_STANDARD || sp->arch > SEER_SAE_GATED))
    rc = seer_errorf(err, SEER_EINVAL, "SAE: unknown architecture %d", (int)sp->arch);
  if (!rc && !(s->enc_t = transpose(w_enc, di, ds)))
    rc = seer_errorf(err, SEER_ENOMEM, "SAE: out of memory");
  free(w_enc);
  if (rc) {
    seer_sae_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- normalisation: scale and shift per row, so out = x * scale + shift undoes it ---- */

static void norm_in(const seer_sae *s, const float *x, float *xn, double *scale, double *shift) {
  int64_t n = s->d_in;
  double sc = 1, sh = 0;
  if (s->norm == SEER_SAE_NORM_CONSTANT) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
      ss += (double)x[i] * x[i];
    double coeff = sqrt((double)n) / sqrt(ss);
    for (int64_t i = 0; i < n; i++)
      xn[i] = (float)(x[i] * coeff);
    sc = 1 / coeff;
  } else if (s->norm == SEER_SAE_NORM_LAYER) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < n; i++)
      mu += x[i];
    mu /= (double)n;
    for (int64_t i = 0; i < n; i++)
      var += (x[i] - mu) * (x[i] - mu);
    double sd = sqrt(var / (double)(n > 1 ? n - 1 : 1));
    for (int64_t i = 0; i < n; i++)
      xn[i] = (float)((x[i] - mu) / (sd + 1e-5));
    sc = sd, sh = mu; /* SAELens undoes it as x * std + mu */
  } else if (xn != x) {
    memcpy(xn, x, sizeof(float) * (size_t)n);
  }
  if (s->apply_b_dec)
    for (int64_t i = 0; i < n; i++)
      xn[i] -= s->b_dec[i];
  if (scale) *scale = sc;
  if (shift) *shift = sh;
}

/* ---- activations ---- */

typedef struct pair {
  float v;
  int64_t i;
} pair;

/* Keeps the k largest of row (a min-heap of size k), relu'd; zeroes the rest. */
static int topk_row(float *row, int64_t n, int64_t k, pair *heap) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) {
    float v = row[i];
    if (m < k) {
      int64_t c = m++;
      while (c > 0 && heap[(c - 1) / 2].v > v) {
        heap[c] = heap[(c - 1) / 2];
        c = (c - 1) / 2;
      }
      heap[c] = (pair){v, i};
    } else if (v > heap[0].v) {
      int64_t c = 0;
      for (;;) {
        int64_t l = 2 * c + 1, r = l + 1, sm = c;
        float best = v;
        if (l < m && heap[l].v < best) sm = l, best = heap[l].v;
        if (r < m && heap[r].v < best) sm = r;
        if (sm == c) break;
        heap[c] = heap[sm];
        c = sm;
      }
      heap[c] = (pair){v, i};
    }
  }
  memset(row, 0, sizeof(float) * (size_t)n);
  for (int64_t j = 0; j < m; j++)
    row[heap[j].i] = heap[j].v > 0 ? heap[j].v : 0;
  return 0;
}

static int encode_normed(const seer_sae *s, const float *xn, int64_t rows, float *acts,
                         seer_error *err) {
  int64_t di = s->d_in, ds = s->d_sae;
  seer_cpu_linear(xn, rows, di, di, s->enc_t, SEER_DTYPE_F32, ds, s->b_enc, acts, ds);
  int64_t n = rows * ds;
  switch (s->arch) {
  case SEER_SAE_STANDARD:
    for (int64_t i = 0; i < n; i++)
      acts[i] = acts[i] > 0 ? acts[i] : 0;
    break;
  case SEER_SAE_JUMPRELU:
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < ds; j++) {
        float *a = &acts[r * ds + j];
        *a = (*a > s->thr[j] && *a > 0) ? *a : 0;
      }
    break;
  case SEER_SAE_TOPK: {
    pair *heap = malloc(sizeof(pair) * (size_t)s->k);
    if (!heap) return seer_errorf(err, SEER_ENOMEM, "SAE encode: out of memory");
    for (int64_t r = 0; r < rows; r++)
      topk_row(acts + r * ds, ds, s->k, heap);
    free(heap);
    break;
  }
  case SEER_SAE_GATED: {
    float *mag = malloc(sizeof(float) * (size_t)n);
    if (!mag) return seer_errorf(err, SEER_ENOMEM, "SAE encode: out of memory");
    seer_cpu_linear(xn, rows, di, di, s->mag_t, SEER_DTYPE_F32, ds, s->b_mag, mag, ds);
    for (int64_t i = 0; i < n; i++)
      acts[i] = acts[i] > 0 && mag[i] > 0 ? mag[i] : 0;
    free(mag);
    break;
  }
  }
  return 0;
}

int seer_sae_encode(const seer_sae *s, const float *x, int64_t rows, float *acts, seer_error *err) {
  float *xn = malloc(sizeof(float) * (size_t)(rows * s->d_in + 1));
  if (!xn) return seer_errorf(err, SEER_ENOMEM, "SAE encode: out of memory");
  for (int64_t r = 0; r < rows; r++)
    norm_in(s, x + r * s->d_in, xn + r * s->d_in, NULL, NULL);
  int rc = encode_normed(s, xn, rows, acts, err);
  free(xn);
  return rc;
}

typedef struct dec_job {
  const seer_sae *s;
  const float *acts;
  float *out;
} dec_job;

static void decode_row(void *ctx, int64_t r, int thread) {
  (void)thread;
  const dec_job *j = ctx;
  const seer_sae *s = j->s;
  int64_t di = s->d_in, ds = s->d_sae;
  const float *a = j->acts + r * ds;
  float *o = j->out + r * di;
  memcpy(o, s->b_dec, sizeof(float) * (size_t)di);
  for (int64_t f = 0; f < ds; f++) {
    float v = a[f];
    if (v == 0) continue;
    if (s->scaling) v *= s->scaling[f];
    const float *w = s->dec + f * di;
    for (int64_t i = 0; i < di; i++)
      o[i] += v * w[i];
  }
}

int seer_sae_decode(const seer_sae *s, const float *acts, int64_t rows, float *out,
                    seer_error *err) {
  (void)err;
  dec_job j = {s, acts, out};
  seer_cpu_parallel_for(rows, decode_row, &j);
  return 0;
}

int seer_sae_reconstruct(const seer_sae *s, const float *x, int64_t rows, float *out, float *acts,
                         seer_error *err) {
  int64_t di = s->d_in, ds = s->d_sae;
  float *xn = malloc(sizeof(float) * (size_t)(rows * di + 1));
  double *st = malloc(sizeof(double) * (size_t)(2 * rows + 1));
  float *a = acts ? acts : malloc(sizeof(float) * (size_t)(rows * ds + 1));
  int rc = 0;
  if (!xn || !st || !a) {
    rc = seer_errorf(err, SEER_ENOMEM, "SAE reconstruct: out of memory");
    goto done;
  }
  for (int64_t r = 0; r < rows; r++)
    norm_in(s, x + r * di, xn + r * di, &st[2 * r], &st[2 * r + 1]);
  if ((rc = encode_normed(s, xn, rows, a, err))) goto done;
  if ((rc = seer_sae_decode(s, a, rows, out, err))) goto done;
  if (s->norm != SEER_SAE_NORM_NONE)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t i = 0; i < di; i++)
        out[r * di + i] = (float)(out[r * di + i] * st[2 * r] + st[2 * r + 1]);
done:
  free(xn);
  free(st);
  if (a != acts) free(a);
  return rc;
}
