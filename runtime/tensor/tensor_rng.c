/* tensor_rng.c: owns the deterministic generator behind seer_tensor_randn and create-random.
 * splitmix64(seed) fills the state of xoshiro256**; each normal comes from Box-Muller over two
 * 53-bit uniforms (the cosine branch only), so values depend on nothing but the seed and the index.
 */
#include <math.h>
#include <stdint.h>

#include "rng.h"
#include "seer/tensor.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void seer_rng_seed(seer_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t seer_rng_next(seer_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double seer_rng_uniform(seer_rng *r) { return (double)(seer_rng_next(r) >> 11) * 0x1.0p-53; }

double seer_rng_normal(seer_rng *r) {
  double u1 = seer_rng_uniform(r), u2 = seer_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

seer_tensor *seer_tensor_randn(seer_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                               seer_error *err) {
  seer_tensor *t = seer_tensor_new(dt, ndim, shape, err);
  if (!t) return NULL;
  seer_rng r;
  seer_rng_seed(&r, seed);
  int64_t n = seer_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    seer_tensor_set_flat(t, i, seer_rng_normal(&r));
  return t;
}
