/* fast_ew.c — elementwise f32 kernels: unary ops on contiguous data, binary ops and `where`
 * with NumPy broadcasting as strided loops over collapsed dims (the innermost loop has
 * stride 0 or 1 per operand, so it vectorises), casts between f32 and i32.
 * Semantics follow runtime/interp/ew.c (gelu: the tanh approximation). */
#include "fast_internal.h"
#include "fast_math.h"

static float gelu(float x) {
  return 0.5f * x * (1.0f + fm_tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
/* gelu'(x) (runtime/interp/ew.c's f_gelu_d) */
static float gelu_d(float x) {
  const float k = 0.7978845608028654f, a = 0.044715f;
  float t = fm_tanh(k * (x + a * x * x * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * a * x * x);
}
static float sigm(float x) { return fm_sigmoid(x); }

static int unary(FastCx *c) {
  const Tensor *x = c->in[0];
  if (x->dt != DT_F32) return -1;
  if (!fast_alloc_out(c, DT_F32)) return 0;
  const float *a = x->data;
  float *o = c->out->data;
  int64_t n = x->n;
  switch (c->n->op) {
  case OP_NEG: for (int64_t i = 0; i < n; i++) o[i] = -a[i]; break;
  case OP_EXP: for (int64_t i = 0; i < n; i++) o[i] = fm_exp(a[i]); break;
  case OP_LOG: for (int64_t i = 0; i < n; i++) o[i] = logf(a[i]); break;
  case OP_SQRT: for (int64_t i = 0; i < n; i++) o[i] = sqrtf(a[i]); break;
  case OP_RSQRT: for (int64_t i = 0; i < n; i++) o[i] = 1.0f / sqrtf(a[i]); break;
  case OP_RECIP: for (int64_t i = 0; i < n; i++) o[i] = 1.0f / a[i]; break;
  case OP_ABS: for (int64_t i = 0; i < n; i++) o[i] = fabsf(a[i]); break;
  case OP_SQUARE: for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i]; break;
  case OP_TANH: for (int64_t i = 0; i < n; i++) o[i] = fm_tanh(a[i]); break;
  case OP_SIGMOID: for (int64_t i = 0; i < n; i++) o[i] = sigm(a[i]); break;
  case OP_RELU: for (int64_t i = 0; i < n; i++) o[i] = a[i] > 0 ? a[i] : (isnan(a[i]) ? a[i] : 0.0f); break;
  case OP_GELU: for (int64_t i = 0; i < n; i++) o[i] = gelu(a[i]); break;
  case OP_SILU: for (int64_t i = 0; i < n; i++) o[i] = a[i] * sigm(a[i]); break;
  case OP_SIN: for (int64_t i = 0; i < n; i++) o[i] = sinf(a[i]); break;
  case OP_COS: for (int64_t i = 0; i < n; i++) o[i] = cosf(a[i]); break;
  default: rt_tensor_free(c->out); return -1;
  }
  return 1;
}

static int cast(FastCx *c) {
  const Tensor *x = c->in[0];
  DType to = c->n->type.dt;
  if (x->dt == to) return rt_tensor_copy(x, c->out) ? 1 : (snprintf(c->err, c->errlen, "out of memory"), 0);
  if (x->dt == DT_I32 && to == DT_F32) {
    if (!fast_alloc_out(c, DT_F32)) return 0;
    const int32_t *a = x->data;
    float *o = c->out->data;
    for (int64_t i = 0; i < x->n; i++) o[i] = (float)a[i];
    return 1;
  }
  return -1; /* f32 -> i32 checks range and NaN: the interpreter does it */
}

/* out[i] = EXPR(u = a[ia], w = b[ib]) over collapsed strided dims. */
#define BINARY_LOOP(EXPR)                                                                   \
  do {                                                                                      \
    int64_t idx[IR_MAX_RANK] = {0}, ia = 0, ib = 0, io = 0, inner = sh[r - 1];              \
    int64_t sa1 = sa[r - 1], sb1 = sb[r - 1];                                               \
    for (;;) {                                                                              \
      const float *A = a + ia, *Bp = b + ib;                                                \
      float *O = o + io;                                                                    \
      if (sa1 == 1 && sb1 == 1)                                                             \
        for (int64_t i = 0; i < inner; i++) { float u = A[i], w = Bp[i]; O[i] = (EXPR); }   \
      else if (sa1 == 1)                                                                    \
        for (int64_t i = 0; i < inner; i++) { float u = A[i], w = Bp[0]; O[i] = (EXPR); }   \
      else if (sb1 == 1)                                                                    \
        for (int64_t i = 0; i < inner; i++) { float u = A[0], w = Bp[i]; O[i] = (EXPR); }   \
      else                                                                                  \
        for (int64_t i = 0; i < inner; i++) { float u = A[0], w = Bp[0]; O[i] = (EXPR); }   \
      io += inner;                                                                          \
      int d = r - 2;                                                                        \
      for (; d >= 0; d--) {                                                                 \
        ia += sa[d];                                                                        \
        ib += sb[d];                                                                        \
        if (++idx[d] < sh[d]) break;                                                        \
        ia -= sa[d] * sh[d];                                                                \
        ib -= sb[d] * sh[d];                                                                \
        idx[d] = 0;                                                                         \
      }                                                                                     \
      if (d < 0) break;                                                                     \
    }                                                                                       \
  } while (0)

static int binary(FastCx *c) {
  const Tensor *x = c->in[0], *y = c->in[1];
  if (x->dt != DT_F32 || y->dt != DT_F32) return -1;
  int r = c->orank;
  int64_t sh[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK], so[IR_MAX_RANK];
  memcpy(sh, c->oshape, sizeof(int64_t) * (size_t)r);
  if (r == 0) sh[0] = 1, sa[0] = sb[0] = 0, r = 1;
  else if (!fast_bcast_strides(x, r, sh, sa) || !fast_bcast_strides(y, r, sh, sb)) return -1;
  int64_t s = 1;
  for (int i = r - 1; i >= 0; i--) so[i] = s, s *= sh[i];
  int64_t *st[3] = {sa, sb, so};
  r = fast_collapse(r, sh, 3, st);
  if (!fast_alloc_out(c, DT_F32)) return 0;
  const float *a = x->data, *b = y->data;
  float *o = c->out->data;
  switch (c->n->op) {
  case OP_ADD: BINARY_LOOP(u + w); break;
  case OP_SUB: BINARY_LOOP(u - w); break;
  case OP_MUL: BINARY_LOOP(u * w); break;
  case OP_GELU_GRAD: BINARY_LOOP(w * gelu_d(u)); break;
  case OP_DIV: BINARY_LOOP(u / w); break;
  case OP_POW: BINARY_LOOP(powf(u, w)); break;
  case OP_MAXIMUM: BINARY_LOOP(isnan(u) || u > w ? u : w); break;
  case OP_MINIMUM: BINARY_LOOP(isnan(u) || u < w ? u : w); break;
  case OP_EQ: BINARY_LOOP(u == w ? 1.0f : 0.0f); break;
  case OP_NE: BINARY_LOOP(u != w ? 1.0f : 0.0f); break;
  case OP_LT: BINARY_LOOP(u < w ? 1.0f : 0.0f); break;
  case OP_LE: BINARY_LOOP(u <= w ? 1.0f : 0.0f); break;
  default: rt_tensor_free(c->out); return -1;
  }
  return 1;
}

/* where(cond, a, b) with all three f32 and broadcasting */
static int where(FastCx *c) {
  const Tensor *k = c->in[0], *x = c->in[1], *y = c->in[2];
  if (k->dt != DT_F32 || x->dt != DT_F32 || y->dt != DT_F32) return -1;
  int r = c->orank;
  int64_t sh[IR_MAX_RANK], s0[IR_MAX_RANK], s1[IR_MAX_RANK], s2[IR_MAX_RANK];
  memcpy(sh, c->oshape, sizeof(int64_t) * (size_t)r);
  if (!fast_bcast_strides(k, r, sh, s0) || !fast_bcast_strides(x, r, sh, s1) || !fast_bcast_strides(y, r, sh, s2))
    return -1;
  if (!fast_alloc_out(c, DT_F32)) return 0;
  const float *K = k->data, *A = x->data, *B = y->data;
  float *o = c->out->data;
  int64_t idx[IR_MAX_RANK] = {0}, n = c->out->n;
  for (int64_t i = 0; i < n; i++) {
    int64_t i0 = 0, i1 = 0, i2 = 0;
    for (int d = 0; d < r; d++) i0 += idx[d] * s0[d], i1 += idx[d] * s1[d], i2 += idx[d] * s2[d];
    o[i] = K[i0] != 0 ? A[i1] : B[i2];
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < sh[d]) break;
      idx[d] = 0;
    }
  }
  return 1;
}

int fast_ew(FastCx *c) {
  unsigned f = op_info(c->n->op)->flags;
  if (c->n->op == OP_CAST) return cast(c);
  if (c->n->op == OP_WHERE) return where(c);
  if (c->n->op == OP_DROPOUT) return -1; /* needs the run's RNG key: the interpreter */
  if (f & F_UNARY) return unary(c);
  if (f & F_BINARY) return binary(c);
  return -1;
}
