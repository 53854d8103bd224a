/* tensor.c — dense tensors: allocation, element access, storage-format conversions
 * (bf16/f16 <-> f64 with one correct rounding), RNG fills and shape text. See tensor.h.
 */
#include "tensor.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "rng.h"

int64_t rt_numel(int rank, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0) return -1;
    if (shape[i] && n > INT64_MAX / shape[i]) return -1;
    n *= shape[i];
  }
  return n;
}

static int tensor_alloc(Tensor *t, DType dt, int rank, const int64_t *shape, int zero) {
  memset(t, 0, sizeof *t);
  if ((unsigned)dt >= DT_COUNT || rank < 0 || rank > IR_MAX_RANK) return 0;
  int64_t n = rt_numel(rank, shape);
  size_t esz = (size_t)dtype_size(dt);
  if (n < 0 || (uint64_t)n > SIZE_MAX / esz) return 0;
  size_t bytes = (n ? (size_t)n : 1) * esz; /* never a NULL for an empty tensor */
  void *data = zero ? calloc(1, bytes) : malloc(bytes);
  if (!data) return 0;
#ifdef MAMC_POISON_RAW
  if (!zero) memset(data, 0xff, bytes);
#endif
  t->dt = dt;
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
  t->n = n;
  t->data = data;
  return 1;
}

int rt_tensor_alloc(Tensor *t, DType dt, int rank, const int64_t *shape) { return tensor_alloc(t, dt, rank, shape, 1); }

int rt_tensor_alloc_raw(Tensor *t, DType dt, int rank, const int64_t *shape) { return tensor_alloc(t, dt, rank, shape, 0); }

void rt_tensor_free(Tensor *t) {
  if (!t) return;
  free(t->data);
  memset(t, 0, sizeof *t);
}

int rt_same_shape(const Tensor *a, const Tensor *b) {
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

int rt_tensor_copy(const Tensor *src, Tensor *dst) {
  if (!rt_tensor_alloc_raw(dst, src->dt, src->rank, src->shape)) return 0;
  if (src->n) memcpy(dst->data, src->data, (size_t)src->n * (size_t)dtype_size(src->dt));
  return 1;
}

int rt_tensor_convert(const Tensor *src, DType dt, Tensor *dst) {
  if (src->dt == dt) return rt_tensor_copy(src, dst);
  if (!rt_tensor_alloc_raw(dst, dt, src->rank, src->shape)) return 0;
  for (int64_t i = 0; i < src->n; i++) rt_tensor_set(dst, i, rt_tensor_get(src, i));
  return 1;
}

/* ---- rounding into narrow float formats ------------------------------------------------
 * round_fmt: nearest value with `prec` significant bits (implicit bit included), subnormal
 * spacing 2^qmin, largest finite `maxv`; ties to even (nearbyint in the default mode). */
static double round_fmt(double v, int prec, int qmin, double maxv) {
  if (!isfinite(v) || v == 0) return v;
  int e;
  frexp(v, &e); /* |v| = m * 2^e, m in [0.5, 1) */
  int q = e - prec;
  if (q < qmin) q = qmin;
  double r = ldexp(nearbyint(ldexp(v, -q)), q);
  if (fabs(r) > maxv) return copysign(INFINITY, v);
  return r;
}

/* bf16_bits: v (finite) rounded to bf16 in one step on its f64 bits, ties to even (what
 * round_fmt(v, 8, -133, (2-2^-7)*2^127) gives, without frexp/ldexp: the emulated GPU kernels'
 * references round every element). Normal results: carry the 45 dropped significand bits into
 * the kept 7, the exponent absorbing a carry (to Inf past the largest). Below 2^-126 the
 * spacing is 2^-133: |v| * 2^133 (exact) rounded to an integer is the pattern itself, 128 being
 * the smallest normal's. */
static uint16_t bf16_bits(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  uint16_t sign = (uint16_t)(b >> 48 & 0x8000);
  uint64_t a = b & ~(1ull << 63);
  if (a < (uint64_t)(1023 - 126) << 52) return sign | (uint16_t)nearbyint(fabs(v) * 0x1p133);
  a += (1ull << 44) - 1 + (a >> 45 & 1);
  int64_t e = (int64_t)(a >> 52) - 1023 + 127; /* the bf16 exponent field */
  if (e >= 255) return sign | 0x7f80;
  return sign | (uint16_t)(e << 7 | (int64_t)(a >> 45 & 0x7f));
}

double rt_round_to(DType dt, double v) {
  switch (dt) {
  case DT_F32: return (double)(float)v;
  case DT_BF16: return !isfinite(v) || v == 0 ? v : rt_bf16_to_f64(bf16_bits(v));
  case DT_F16: return round_fmt(v, 11, -24, 65504.0);
  default: return v;
  }
}

uint16_t rt_bf16_from_f64(double v) {
  if (isnan(v)) return (uint16_t)(signbit(v) ? 0xffc0 : 0x7fc0);
  if (isinf(v)) return v < 0 ? 0xff80 : 0x7f80;
  return bf16_bits(v);
}

double rt_bf16_to_f64(uint16_t bits) {
  uint32_t u = (uint32_t)bits << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

uint16_t rt_f16_from_f64(double v) {
  uint16_t sign = signbit(v) ? 0x8000 : 0;
  if (isnan(v)) return (uint16_t)(sign | 0x7e00);
  double a = fabs(rt_round_to(DT_F16, v));
  if (isinf(a)) return (uint16_t)(sign | 0x7c00);
  if (a == 0) return sign;
  if (a < ldexp(1, -14)) return (uint16_t)(sign | (uint16_t)ldexp(a, 24)); /* subnormal */
  int e;
  double m = frexp(a, &e); /* a = (2m) * 2^(e-1), 2m in [1, 2) */
  uint16_t mant = (uint16_t)((2 * m - 1) * 1024);
  return (uint16_t)(sign | (uint16_t)((e - 1 + 15) << 10) | mant);
}

double rt_f16_to_f64(uint16_t bits) {
  int e = (bits >> 10) & 31, mant = bits & 1023;
  double s = (bits & 0x8000) ? -1 : 1, a;
  if (e == 0)
    a = ldexp(mant, -24);
  else if (e == 31)
    a = mant ? NAN : INFINITY;
  else
    a = ldexp(1024 + mant, e - 25);
  return s * a;
}

/* ---- element access ---------------------------------------------------------------------- */

double rt_tensor_get(const Tensor *t, int64_t i) {
  switch (t->dt) {
  case DT_F32: return ((const float *)t->data)[i];
  case DT_F64: return ((const double *)t->data)[i];
  case DT_I32: return ((const int32_t *)t->data)[i];
  case DT_BF16: return rt_bf16_to_f64(((const uint16_t *)t->data)[i]);
  case DT_F16: return rt_f16_to_f64(((const uint16_t *)t->data)[i]);
  default: return NAN;
  }
}

void rt_tensor_set(Tensor *t, int64_t i, double v) {
  switch (t->dt) {
  case DT_F32: ((float *)t->data)[i] = (float)v; break;
  case DT_F64: ((double *)t->data)[i] = v; break;
  case DT_I32: {
    double w = isnan(v) ? 0 : trunc(v);
    if (w > INT32_MAX) w = INT32_MAX;
    if (w < INT32_MIN) w = INT32_MIN;
    ((int32_t *)t->data)[i] = (int32_t)w;
    break;
  }
  case DT_BF16: ((uint16_t *)t->data)[i] = rt_bf16_from_f64(v); break;
  case DT_F16: ((uint16_t *)t->data)[i] = rt_f16_from_f64(v); break;
  default: break;
  }
}

/* ---- fills --------------------------------------------------------------------------------- */

void rt_tensor_fill_normal(Tensor *t, uint64_t key, double mean, double std) {
  for (int64_t i = 0; i < t->n; i++) rt_tensor_set(t, i, mean + std * rng_normal(key, (uint64_t)i));
}

void rt_tensor_fill_uniform(Tensor *t, uint64_t key, double lo, double hi) {
  for (int64_t i = 0; i < t->n; i++) rt_tensor_set(t, i, lo + (hi - lo) * rng_uniform(key, (uint64_t)i));
}

void rt_tensor_fill(Tensor *t, double v) {
  for (int64_t i = 0; i < t->n; i++) rt_tensor_set(t, i, v);
}

/* ---- text --------------------------------------------------------------------------------- */

char *rt_shape_str(char *buf, size_t len, int rank, const int64_t *shape) {
  size_t at = 0;
  if (!len) return buf;
  buf[0] = 0;
#define PUT(...)                                                                           \
  do {                                                                                     \
    int w_ = snprintf(buf + at, len - at, __VA_ARGS__);                                    \
    if (w_ < 0 || (size_t)w_ >= len - at) return buf;                                      \
    at += (size_t)w_;                                                                      \
  } while (0)
  PUT("[");
  for (int i = 0; i < rank; i++) PUT("%s%lld", i ? ", " : "", (long long)shape[i]);
  PUT("]");
#undef PUT
  return buf;
}

char *rt_tensor_str(char *buf, size_t len, const Tensor *t) {
  char s[200];
  snprintf(buf, len, "%s%s", dtype_name(t->dt), rt_shape_str(s, sizeof s, t->rank, t->shape));
  return buf;
}
