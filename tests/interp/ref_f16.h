/* ref_f16.h — an f16 rounding reference for tests, independent of runtime/tensor.c and of
 * compiler support for _Float16: the nearest of all finite f16 values (found by binary search
 * over the bit patterns, decoded by formula), ties to the even pattern, ±inf from 65520. */
#ifndef MAMC_TEST_REF_F16_H
#define MAMC_TEST_REF_F16_H
#include <math.h>

static inline double ref_f16_value(int bits) { /* positive finite pattern 0 .. 0x7bff */
  int e = bits >> 10, m = bits & 1023;
  return e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
}

static inline double ref_f16(double v) {
  double a = fabs(v);
  if (isnan(v)) return v;
  if (a >= 65520) return copysign(INFINITY, v);
  int lo = 0, hi = 0x7bff;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (ref_f16_value(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  int pick = lo;
  if (lo < 0x7bff) {
    double d0 = a - ref_f16_value(lo), d1 = ref_f16_value(lo + 1) - a;
    if (d1 < d0 || (d1 == d0 && (lo & 1))) pick = lo + 1;
  }
  return copysign(ref_f16_value(pick), v);
}
#endif
