/* unembed.c: the model's readout applied to any hidden state: final norm (optional), the
 * unembedding (lm_head, or the tied embedding) and the final logit softcap, exactly as the end
 * of the forward pass does them. It is what the logit lens and tuned-lens-style readouts need
 * at intermediate layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lora_internal.h"

/* Same arithmetic as forward.c's rmsnorm, so a readout of the last layer's output equals the
 * forward pass's logits bit for bit. */
static void rmsnorm_row(const float *x, const float *w, int64_t n, double eps, float *out) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++)
    ss += (double)x[i] * x[i];
  float r = 1.0f / sqrtf((float)(ss / (double)n) + (float)eps);
  for (int64_t i = 0; i < n; i++)
    out[i] = w[i] * (x[i] * r);
}

seer_tensor *seer_model_unembed(seer_model *m, const seer_tensor *h, int apply_norm,
                                seer_error *err) {
  const model_cfg *c = &m->cfg;
  int64_t H = c->info.hidden_size, V = c->info.vocab_size;
  if (h->ndim < 1 || h->ndim >= SEER_TENSOR_MAX_DIMS || h->shape[h->ndim - 1] != H) {
    seer_errorf(err, SEER_EINVAL,
                "unembed: the hidden state's last dim must be the model's hidden size %lld "
                "(and at most %d dims)",
                (long long)H, SEER_TENSOR_MAX_DIMS - 1);
    return NULL;
  }
  if (seer_tensor_device(h) != SEER_DEVICE_CPU) {
    seer_errorf(err, SEER_ENOTSUP, "unembed: the hidden state must be on the CPU");
    return NULL;
  }
  int64_t rows = seer_tensor_numel(h) / (H ? H : 1);
  float *x = malloc(sizeof(float) * (size_t)(rows * H + (rows * H == 0)));
  if (!x) {
    seer_errorf(err, SEER_ENOMEM, "unembed: out of memory");
    return NULL;
  }
  seer_tensor_read_f32(h, x);
  if (apply_norm)
    for (int64_t r = 0; r < rows; r++)
      rmsnorm_row(x + r * H, m->final_norm, H, c->eps, x + r * H);
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  memcpy(shape, h->shape, sizeof(int64_t) * (size_t)h->ndim);
  shape[h->ndim - 1] = V;
  seer_tensor *out = seer_tensor_new(SEER_DTYPE_F32, h->ndim, shape, err);
  if (out && rows) {
    float *ld = seer_tensor_data(out);
    /* The head the forward pass uses: an active adapter's copy (merged or modules_to_save). */
    const model_w *head = seer_lora_weight(m, -1, LORA_LM_HEAD, &m->lm_head);
    m->be->linear(x, rows, H, H, head->data, head->dtype, V, NULL, ld, V);
    if (c->final_softcap > 0) {
      float cap = (float)c->final_softcap;
      for (int64_t i = 0; i < rows * V; i++)
        ld[i] = tanhf(ld[i] / cap) * cap;
    }
  }
  free(x);
  return out;
}
