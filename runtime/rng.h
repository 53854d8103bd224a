/* rng.h — counter-based random numbers: every draw is a pure function of (key, counter), so
 * results do not depend on thread count, rank, or the order in which things are computed,
 * and a resumed run reproduces the same stream from the step number alone.
 *
 *   rng_u64(key, ctr)      64 random bits
 *   rng_uniform(key, ctr)  in [0, 1) with 53 bits
 *   rng_normal(key, ctr)   standard normal (Box-Muller on two counters)
 *   rng_key(a, b)          derive a key from two words (e.g. seed and a name hash)
 *   rng_hash_str(s)        64-bit FNV-1a of a string (for per-parameter keys)
 */
#ifndef MAMC_RNG_H
#define MAMC_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t rng_mix(uint64_t z) { /* splitmix64 finalizer */
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t rng_key(uint64_t a, uint64_t b) { return rng_mix(a ^ rng_mix(b + 0x632be59bd9b4e019ull)); }

static inline uint64_t rng_u64(uint64_t key, uint64_t ctr) { return rng_mix(key ^ rng_mix(ctr)); }

static inline double rng_uniform(uint64_t key, uint64_t ctr) {
  return (double)(rng_u64(key, ctr) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double rng_normal(uint64_t key, uint64_t ctr) {
  double u1 = rng_uniform(key, 2 * ctr), u2 = rng_uniform(key, 2 * ctr + 1);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static inline uint64_t rng_hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  while (*s) h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
  return h;
}

#endif
