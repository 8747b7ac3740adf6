/* device_weights.c: a model's weights on a CUDA device (or the grid emulator): uploaded once at
 * load through the GPU's pinned staging buffers, converted to the device's weight dtype on the way
 * (round to nearest even), and freed at detach; the same uploads serve LoRA adapters
 * (device_lora.c). The forward pass over them is device_forward.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_model.h"

static int own(struct seer_model_dev *d, uint64_t p, seer_error *err) {
  if (d->nowned == d->capowned) {
    size_t n = d->capowned ? d->capowned * 2 : 64;
    uint64_t *o = realloc(d->owned, n * sizeof *o);
    if (!o) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
    d->owned = o, d->capowned = n;
  }
  d->owned[d->nowned++] = p;
  return 0;
}

static int upload(struct seer_model_dev *d, const void *src, size_t bytes, uint64_t *out,
                  seer_error *err) {
  *out = 0;
  if (!src) return 0;
  int rc = seer_gpu_alloc(d->g, bytes, out, err);
  if (!rc && (rc = own(d, *out, err))) seer_gpu_free(d->g, *out), *out = 0;
  if (!rc) rc = seer_gpu_upload(d->g, *out, src, bytes, err);
  return rc;
}

static int wtype_of(seer_dtype t) {
  return t == SEER_DTYPE_BF16 ? SEER_W_BF16 : t == SEER_DTYPE_F16 ? SEER_W_F16 : SEER_W_F32;
}

/* Converts n weights from one float dtype to another (through f32, rounding to nearest even). */
static void convert(const void *src, seer_dtype from, void *dst, seer_dtype to, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = from == SEER_DTYPE_F32    ? ((const float *)src)[i]
              : from == SEER_DTYPE_BF16 ? seer_bf16_to_f32(((const uint16_t *)src)[i])
                                        : seer_f16_to_f32(((const uint16_t *)src)[i]);
    if (to == SEER_DTYPE_F32)
      ((float *)dst)[i] = v;
    else
      ((uint16_t *)dst)[i] = to == SEER_DTYPE_BF16 ? seer_f32_to_bf16(v) : seer_f32_to_f16(v);
  }
}

/* Weights the device stores in another dtype are converted chunk by chunk straight into the GPU's
 * staging buffers (seer_gpu_upload_fill), so the host never holds a converted copy. */
struct convert_src {
  const void *data;
  seer_dtype from, to;
};
static void fill_converted(void *ctx, void *buf, size_t off, size_t len) {
  const struct convert_src *c = ctx;
  size_t es = seer_dtype_size(c->to);
  convert((const char *)c->data + off / es * seer_dtype_size(c->from), c->from, buf, c->to,
          len / es);
}

/* w in the device's weight dtype, in memory the caller frees (0 when the allocation failed). */
static int upload_w_unowned(struct seer_model_dev *d, const model_w *w, dev_w *out,
                            seer_error *err) {
  size_t n = (size_t)(w->rows * w->cols);
  seer_dtype to = d->wdtype < 0 ? w->dtype : (seer_dtype)d->wdtype;
  size_t es = seer_dtype_size(to);
  out->wtype = wtype_of(to);
  out->p = 0;
  int rc = seer_gpu_alloc(d->g, n * es, &out->p, err);
  if (rc) return rc;
  if (to == w->dtype) return seer_gpu_upload(d->g, out->p, w->data, n * es, err);
  struct convert_src c = {w->data, w->dtype, to};
  return seer_gpu_upload_fill(d->g, out->p, n * es, fill_converted, &c, err);
}

static int upload_w(struct seer_model_dev *d, const model_w *w, dev_w *out, seer_error *err) {
  int rc = upload_w_unowned(d, w, out, err);
  if (out->p) {
    int orc = own(d, out->p, err);
    if (orc) seer_gpu_free(d->g, out->p), out->p = 0;
    if (!rc) rc = orc;
  }
  return rc;
}

int seer_device_upload_weight(seer_model *m, const model_w *w, dev_w *out, seer_error *err) {
  return upload_w_unowned(m->dev, w, out, err);
}

int seer_device_upload_f32(seer_model *m, const float *v, size_t n, uint64_t *out,
                           seer_error *err) {
  *out = 0;
  int rc = seer_gpu_alloc(m->dev->g, sizeof(float) * n, out, err);
  return rc ? rc : seer_gpu_upload(m->dev->g, *out, v, sizeof(float) * n, err);
}

void seer_device_free(seer_model *m, uint64_t p) {
  if (p) seer_gpu_free(m->dev->g, p);
}

static int upload_vec(struct seer_model_dev *d, const float *v, int64_t n, uint64_t *out,
                      seer_error *err) {
  return upload(d, v, sizeof(float) * (size_t)n, out, err);
}

int seer_device_attach(seer_model *m, int index, int wdtype, seer_error *err) {
  const char *e = getenv("SEER_CUDA_EMULATE");
  int emulate = e && !strcmp(e, "1");
  struct seer_model_dev *d = calloc(1, sizeof *d);
  if (!d) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
  m->dev = d;
  d->wdtype = wdtype;
  int rc = seer_gpu_open(index, emulate, &d->g, err);
  if (rc) {
    if (err) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      seer_errorf(err, rc, "device = \"cuda\": %s", why);
    }
    goto fail;
  }
  const model_cfg *c = &m->cfg;
  const seer_model_info *in = &c->info;
  int64_t hd = in->head_dim, H = in->hidden_size;
  if (!(d->layers = calloc((size_t)in->num_layers, sizeof *d->layers))) {
    rc = seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
    goto fail;
  }
  if ((rc = upload_w(d, &m->embed, &d->embed, err))) goto fail;
  if (m->lm_head.data == m->embed.data)
    d->lm_head = d->embed;
  else if ((rc = upload_w(d, &m->lm_head, &d->lm_head, err)))
    goto fail;
  if ((rc = upload_vec(d, m->final_norm, H, &d->final_norm, err))) goto fail;
  for (int i = 0; i < in->num_layers; i++) {
    const layer_w *L = &m->layers[i];
    dev_layer *D = &d->layers[i];
    int64_t qd = (int64_t)in->num_heads * hd, kvd = (int64_t)in->num_kv_heads * hd;
    if ((rc = upload_w(d, &L->q, &D->q, err)) || (rc = upload_w(d, &L->k, &D->k, err)) ||
        (rc = upload_w(d, &L->v, &D->v, err)) || (rc = upload_w(d, &L->o, &D->o, err)) ||
        (rc = upload_w(d, &L->gate, &D->gate, err)) || (rc = upload_w(d, &L->up, &D->up, err)) ||
        (rc = upload_w(d, &L->down, &D->down, err)) ||
        (rc = upload_vec(d, L->q_b, qd, &D->q_b, err)) ||
        (rc = upload_vec(d, L->k_b, kvd, &D->k_b, err)) ||
        (rc = upload_vec(d, L->v_b, kvd, &D->v_b, err)) ||
        (rc = upload_vec(d, L->o_b, H, &D->o_b, err)) ||
        (rc = upload_vec(d, L->in_norm, H, &D->in_norm, err)) ||
        (rc = upload_vec(d, L->attn_post_norm, H, &D->attn_post_norm, err)) ||
        (rc = upload_vec(d, L->ff_pre_norm, H, &D->ff_pre_norm, err)) ||
        (rc = upload_vec(d, L->ff_post_norm, H, &D->ff_post_norm, err)) ||
        (rc = upload_vec(d, L->q_norm, hd, &D->q_norm, err)) ||
        (rc = upload_vec(d, L->k_norm, hd, &D->k_norm, err)) ||
        (rc = upload_vec(d, L->inv_freq, hd / 2, &D->inv_freq, err)))
      goto fail;
  }
  return 0;
fail:
  seer_device_detach(m);
  return rc;
}

void seer_device_detach(seer_model *m) {
  struct seer_model_dev *d = m->dev;
  if (!d) return;
  if (d->g) {
    dev_graph_clear(d->g, &d->decode);
    dev_graph_clear(d->g, &d->hooked);
    dev_workspace_free(d->g, &d->ws);
  }
  for (size_t i = 0; i < d->nowned; i++)
    seer_gpu_free(d->g, d->owned[i]);
  free(d->owned);
  free(d->layers);
  seer_gpu_close(d->g);
  free(d);
  m->dev = NULL;
}
