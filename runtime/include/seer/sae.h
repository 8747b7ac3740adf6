/* Sparse autoencoders (SAELens and Gemma Scope): the encoder activations and the decoder, in f32
 * on the CPU, with SAELens' maths (docs in stdlib/seer/sae.lua, which owns formats and policy). */
#ifndef SEER_SAE_H
#define SEER_SAE_H

#include <stdint.h>

#include "seer/error.h"
#include "seer/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_sae_arch {
  SEER_SAE_STANDARD = 0, /* relu(pre) */
  SEER_SAE_JUMPRELU = 1, /* relu(pre) where pre > threshold, else 0 */
  SEER_SAE_TOPK = 2,     /* the k largest of pre, relu'd; the rest 0 */
  SEER_SAE_GATED = 3     /* (pre_gate > 0) * relu(x W_enc exp(r_mag) + b_mag) */
} seer_sae_arch;

/* SAELens' run-time input normalisation (normalize_activations); the others leave x as it is. */
typedef enum seer_sae_norm {
  SEER_SAE_NORM_NONE = 0,
  SEER_SAE_NORM_CONSTANT = 1, /* constant_norm_rescale: x * sqrt(d_in) / |x| */
  SEER_SAE_NORM_LAYER = 2     /* layer_norm: (x - mean) / (std + 1e-5), std unbiased */
} seer_sae_norm;

typedef struct seer_sae_spec {
  seer_sae_arch arch;
  seer_sae_norm norm;
  int apply_b_dec_to_input;
  int64_t k; /* topk */
  /* Shapes as SAELens stores them: W_enc [d_in, d_sae], W_dec [d_sae, d_in], vectors [d_sae] or
   * [d_in]. Any float dtype; copied. threshold: jumprelu; b_gate, r_mag, b_mag: gated (b_enc
   * unused); scaling: finetuning_scaling_factor [d_sae] or NULL. */
  const seer_tensor *W_enc, *b_enc, *W_dec, *b_dec, *threshold, *b_gate, *r_mag, *b_mag, *scaling;
} seer_sae_spec;

typedef struct seer_sae seer_sae;

int seer_sae_new(const seer_sae_spec *spec, seer_sae **out, seer_error *err);
void seer_sae_free(seer_sae *s);
int64_t seer_sae_d_in(const seer_sae *s);
int64_t seer_sae_d_sae(const seer_sae *s);

/* acts[rows, d_sae] from x[rows, d_in] (normalised first when the SAE says so). */
int seer_sae_encode(const seer_sae *s, const float *x, int64_t rows, float *acts, seer_error *err);
/* out[rows, d_in] = (acts * scaling) W_dec + b_dec, in the SAE's normalised space. */
int seer_sae_decode(const seer_sae *s, const float *acts, int64_t rows, float *out,
                    seer_error *err);
/* decode(encode(x)) with the normalisation undone per row; acts (may be NULL) gets the features. */
int seer_sae_reconstruct(const seer_sae *s, const float *x, int64_t rows, float *out, float *acts,
                         seer_error *err);

#ifdef __cplusplus
}
#endif
#endif
