/* rng.h: internal deterministic generator (see tensor_rng.c), shared by randn, sampling and
 * create-random. Not installed. */
#ifndef SEER_TENSOR_RNG_H
#define SEER_TENSOR_RNG_H

#include <stdint.h>

typedef struct seer_rng {
  uint64_t s[4];
} seer_rng;

void seer_rng_seed(seer_rng *r, uint64_t seed);
uint64_t seer_rng_next(seer_rng *r);
double seer_rng_uniform(seer_rng *r); /* [0, 1) */
double seer_rng_normal(seer_rng *r);

#endif
