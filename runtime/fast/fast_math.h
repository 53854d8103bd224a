/* fast_math.h — branch-free f32 exp and tanh that the compiler can vectorise (libm's expf and
 * tanhf are scalar calls). exp: range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6
 * polynomial for e^r, and 2^n assembled in the exponent bits; relative error about 2e-7
 * over [-87, 88] (tests/fast compares it with the f64 interpreter). Inputs beyond the f32
 * range saturate to 0 / +inf; NaN propagates. */
#ifndef MAMC_FAST_MATH_H
#define MAMC_FAST_MATH_H

#include <stdint.h>
#include <string.h>

static inline float fm_exp(float x) {
  float nanmask = x; /* NaN stays NaN through the clamps below only if we keep it */
  if (x != x) return nanmask;
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  float n = __builtin_rintf(x * 1.44269504088896341f);
  float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f; /* ln2 split hi + lo */
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.008333334f + r * 0.0013888889f)))));
  int32_t e = (int32_t)n + 127;
  uint32_t bits = (uint32_t)(e < 1 ? 1 : (e > 254 ? 254 : e)) << 23;
  float scale;
  memcpy(&scale, &bits, 4);
  float y = p * scale;
  if (e < 1) y *= 0x1p-64f * 0x1p+63f * (e < -22 ? 0.0f : 1.0f); /* deep underflow: flush */
  return y;
}

/* tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); for tiny |x| the odd series keeps precision */
static inline float fm_tanh(float x) {
  float a = x < 0 ? -x : x;
  float t;
  if (a < 0.0625f) {
    float a2 = a * a;
    t = a * (1.0f + a2 * (-0.33333334f + a2 * (0.13333334f + a2 * -0.053968254f)));
  } else {
    t = 1.0f - 2.0f / (fm_exp(2.0f * a) + 1.0f);
  }
  return x < 0 ? -t : t;
}

static inline float fm_sigmoid(float x) { return 1.0f / (1.0f + fm_exp(-x)); }

/* e^x for x in [-87, 0] without a branch or a float-to-int conversion, so its loop vectorises
 * (fm_exp clamps with branches, which GCC does not if-convert in a loop): x = n ln2 + r with n
 * rounded by adding 1.5 * 2^23 (whose low bits then hold n), a degree-6 polynomial for e^r,
 * 2^n in the exponent bits; relative error about 2.4e-7. NaN propagates. The caller clamps
 * (in a loop of its own, so that both loops vectorise). */
static inline float fm_exp_nonpos(float x) {
  float t = x * 1.44269504088896341f + 12582912.0f, n = t - 12582912.0f;
  float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f; /* ln2 split hi + lo */
  float p = 0.041666668f + r * (0.008333334f + r * 0.0013888889f);
  p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * p)));
  uint32_t tb, bits;
  memcpy(&tb, &t, 4);
  bits = (tb - 0x4B400000u + 127u) << 23; /* n + 127 in [1, 127]: a normal power of two */
  float two_n;
  memcpy(&two_n, &bits, 4);
  return p * two_n;
}

#endif
