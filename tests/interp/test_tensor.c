/* test_tensor.c — runtime/tensor.c: allocation, element access, and the bf16/f16 formats
 * (every bit pattern round-trips; rounding from f64 is one correct rounding, checked against
 * the compiler's _Float16 and bit arithmetic on f32). */
#include <math.h>
#include <stdlib.h>

#include "ref_f16.h"
#include "tensor.h"
#include "test.h"

static double bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static void test_alloc(void) {
  Tensor t;
  CHECK(rt_tensor_alloc(&t, DT_F32, 0, NULL) && t.n == 1 && t.data);
  rt_tensor_free(&t);
  CHECK(t.data == NULL && t.n == 0);
  CHECK(rt_tensor_alloc(&t, DT_I32, 2, (int64_t[]){3, 0}) && t.n == 0 && t.data);
  rt_tensor_free(&t);
  CHECK(!rt_tensor_alloc(&t, DT_F32, 2, (int64_t[]){3, -1}) && t.data == NULL);
  CHECK(!rt_tensor_alloc(&t, DT_F32, 2, (int64_t[]){INT64_MAX / 2, 4}));
  CHECK(!rt_tensor_alloc(&t, DT_F32, IR_MAX_RANK + 1, (int64_t[IR_MAX_RANK + 1]){0}));
  CHECK(rt_tensor_alloc(&t, DT_I32, 1, (int64_t[]){5}));
  rt_tensor_set(&t, 0, 2.9);
  rt_tensor_set(&t, 1, -2.9);
  rt_tensor_set(&t, 2, 1e12);
  rt_tensor_set(&t, 3, NAN);
  CHECK(rt_tensor_get(&t, 0) == 2 && rt_tensor_get(&t, 1) == -2 && rt_tensor_get(&t, 2) == INT32_MAX &&
        rt_tensor_get(&t, 3) == 0);
  char buf[64];
  CHECK_STR(rt_tensor_str(buf, sizeof buf, &t), "i32[5]");
  Tensor u;
  CHECK(rt_tensor_convert(&t, DT_F64, &u) && u.dt == DT_F64 && rt_tensor_get(&u, 1) == -2);
  rt_tensor_free(&u);
  rt_tensor_free(&t);
}

static void test_bf16(void) {
  int bad = 0;
  for (uint32_t b = 0; b < 65536; b++) { /* every pattern: decode = the f32 with those high bits */
    double v = rt_bf16_to_f64((uint16_t)b), w = bits_to_f32(b << 16);
    if (isnan(w)) {
      bad += !isnan(v) || !isnan(rt_round_to(DT_BF16, v));
      continue;
    }
    bad += v != w || rt_bf16_from_f64(v) != b || rt_round_to(DT_BF16, v) != v;
  }
  CHECK_MSG(bad == 0, "%d bf16 patterns do not round-trip", bad);
  /* f64 -> bf16 is one rounding: 1 + 2^-8 + 2^-30 is above the tie (f32 first would tie to 1) */
  CHECK(rt_round_to(DT_BF16, 1 + ldexp(1, -8) + ldexp(1, -30)) == 1 + ldexp(1, -7));
  CHECK(rt_round_to(DT_BF16, 1 + ldexp(1, -8)) == 1);                         /* tie to even */
  CHECK(rt_round_to(DT_BF16, 1 + 3 * ldexp(1, -8)) == 1 + ldexp(1, -6));      /* tie to even */
  CHECK(isinf(rt_round_to(DT_BF16, 3.4e38)) && rt_round_to(DT_BF16, 3.38e38) == 0x1.fcp+127);
  CHECK(rt_round_to(DT_BF16, ldexp(1, -133)) == ldexp(1, -133));               /* smallest subnormal */
  CHECK(rt_round_to(DT_BF16, ldexp(1, -135)) == 0);
  /* f32-exact values against RNE on the bit pattern */
  uint64_t s = 88172645463325252ull;
  bad = 0;
  for (int i = 0; i < 200000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint32_t u = (uint32_t)s;
    double v = bits_to_f32(u);
    if (!isfinite(v)) continue;
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    bad += rt_round_to(DT_BF16, v) != bits_to_f32(r);
  }
  CHECK_MSG(bad == 0, "%d f32 values round differently to bf16", bad);
}

static void test_f16(void) {
  int bad = 0;
  for (uint32_t b = 0; b < 65536; b++) { /* every pattern round-trips */
    uint16_t h16 = (uint16_t)b;
    int e = (b >> 10) & 31;
    double v = rt_f16_to_f64(h16), w = e == 31 ? ((b & 1023) ? NAN : INFINITY) : ref_f16_value((int)(b & 0x7fff));
    if (b & 0x8000) w = -w;
    if (isnan(w)) {
      bad += !isnan(v);
      continue;
    }
    bad += v != w || rt_f16_from_f64(v) != h16 || rt_round_to(DT_F16, v) != v;
  }
  CHECK_MSG(bad == 0, "%d f16 patterns do not round-trip", bad);
  uint64_t s = 0x9e3779b97f4a7c15ull;
  int bad_ref = 0, bad_hw = 0;
  for (int i = 0; i < 200000; i++) { /* random doubles of every f16 scale, incl. subnormal/overflow */
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    double v = ldexp((double)(s >> 11) / 9007199254740992.0, (int)(s % 48) - 30) * ((s >> 8) & 1 ? -1 : 1);
    if (i % 2) { /* exact ties between neighbouring f16 values */
      int p = (int)(s % 0x7bff);
      v = (ref_f16_value(p) + ref_f16_value(p + 1)) / 2;
    }
    bad_ref += rt_round_to(DT_F16, v) != ref_f16(v);
#ifdef __FLT16_MAX__
    bad_hw += rt_round_to(DT_F16, v) != (double)(_Float16)v; /* the compiler's conversion */
#endif
  }
  CHECK_MSG(bad_ref == 0, "%d doubles round differently to f16 than the reference", bad_ref);
  CHECK_MSG(bad_hw == 0, "%d doubles round differently to f16 than _Float16", bad_hw);
  /* ties: halfway between 1 and 1 + 2^-10 goes to 1; between 1 + 2^-10 and 1 + 2^-9 up */
  CHECK(rt_round_to(DT_F16, 1 + ldexp(1, -11)) == 1 && rt_round_to(DT_F16, 1 + 3 * ldexp(1, -11)) == 1 + ldexp(1, -9));
  CHECK(rt_round_to(DT_F16, ldexp(1, -25)) == 0 && rt_round_to(DT_F16, 3 * ldexp(1, -25)) == ldexp(1, -23));
  CHECK(rt_f16_from_f64(65504) == 0x7bff && rt_f16_from_f64(65520) == 0x7c00 && rt_f16_from_f64(-0.0) == 0x8000);
}

int main(void) {
  test_alloc();
  test_bf16();
  test_f16();
  return test_done();
}
