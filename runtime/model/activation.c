/* activation.c: owns the gated MLP activations, g = act(g) * u, for a run of elements. SiLU and
 * the tanh-approximated GELU are both x * sigmoid(z): SiLU with z = x, GELU-tanh with
 * z = 2 * sqrt(2/pi) * (x + 0.044715 x^3), since 0.5 * (1 + tanh(y)) = sigmoid(2y). One exp per
 * element, computed by exp_approx below in plain arithmetic that the compiler vectorises, where
 * libm's expf and tanhf are one call per element (a 512-token Gemma prefill makes 4.7 M of them
 * per layer). The exact-erf GELU keeps libm's erff. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model_internal.h"

/* e^x to within 2 ulp (Cephes' expf scheme): x = n ln2 + r with |r| <= ln2/2, e^r from a degree-6
 * polynomial, 2^n put into the exponent bits. x is clamped to [-87.3, 89]: below, e^x stays the
 * smallest normal float (a sigmoid of 1 to f32 precision); above 88.72, n = 128 gives +inf as expf
 * does, so x / (1 + e^z) is an exact 0 there, as libm's form gave, and never a subnormal. A NaN
 * input is clamped like a small one; the callers' NaN still reaches the result through x. */
static inline float exp_approx(float x) {
  x = x > -87.3f ? x : -87.3f; /* written so that NaN becomes -87.3: n below stays an integer */
  x = x < 89.0f ? x : 89.0f;
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float n = (x * 1.44269504088896341f + magic) - magic;
  float r = x - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

void seer_act_gated(model_act a, float *g, const float *u, int64_t n) {
  switch (a) {
  case ACT_SILU:
    for (int64_t i = 0; i < n; i++)
      g[i] = g[i] / (1.0f + exp_approx(-g[i])) * u[i];
    return;
  case ACT_GELU_TANH: {
    const float k2 = 2.0f * 0.7978845608028654f; /* 2 sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
      float x = g[i];
      g[i] = x / (1.0f + exp_approx(-k2 * (x + 0.044715f * x * x * x))) * u[i];
    }
    return;
  }
  case ACT_GELU:
    for (int64_t i = 0; i < n; i++)
      g[i] = 0.5f * g[i] * (1.0f + erff(g[i] * 0.7071067811865476f)) * u[i];
    return;
  }
}
