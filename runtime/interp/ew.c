/* ew.c — elementwise kernels: unary math, cast, binary arithmetic and comparisons with NumPy
 * broadcasting, and where. Float math runs in f64 (C's libm) and is rounded once when stored.
 *
 * i32 operands: neg, abs, square, relu, add, sub, mul, div (truncating; division by zero is
 * an error), maximum, minimum, comparisons, where and cast are exact integer operations
 * (results wrap to 32 bits); the transcendental ops and pow need float operands.
 */
#include "kernels.h"

/* ---- unary: x[...] -> y[...] --------------------------------------------------------------- */

typedef double (*F1)(double);
typedef int64_t (*I1)(int64_t);

static double f_neg(double x) { return -x; }
static double f_recip(double x) { return 1.0 / x; }
static double f_rsqrt(double x) { return 1.0 / sqrt(x); }
static double f_square(double x) { return x * x; }
static double f_relu(double x) { return x > 0 ? x : (isnan(x) ? x : 0.0); }
/* sigmoid(x) = 1 / (1 + e^-x), written so that neither branch overflows */
static double f_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}
/* gelu, tanh approximation: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) */
static double f_gelu(double x) {
  return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
}
static double f_silu(double x) { return x * f_sigmoid(x); }

static int64_t i_neg(int64_t x) { return -x; }
static int64_t i_abs(int64_t x) { return x < 0 ? -x : x; }
static int64_t i_square(int64_t x) { return x * x; }
static int64_t i_relu(int64_t x) { return x > 0 ? x : 0; }

/* y = f(x) elementwise; i32 through fi when given, else an error. */
static int unary(Kern *k, F1 f, I1 fi) {
  const Tensor *x = k->in[0];
  if (is_int(x)) {
    if (!fi) return kneed_float(k, 0);
    for (int64_t i = 0; i < x->n; i++) sti(k->out, i, fi(ldi(x, i)));
    return 1;
  }
  for (int64_t i = 0; i < x->n; i++) st(k->out, i, f(ld(x, i)));
  return 1;
}

int interp_NEG(Kern *k) { return unary(k, f_neg, i_neg); }
int interp_EXP(Kern *k) { return unary(k, exp, NULL); }
int interp_LOG(Kern *k) { return unary(k, log, NULL); }
int interp_SQRT(Kern *k) { return unary(k, sqrt, NULL); }
int interp_RSQRT(Kern *k) { return unary(k, f_rsqrt, NULL); }
int interp_RECIP(Kern *k) { return unary(k, f_recip, NULL); }
int interp_ABS(Kern *k) { return unary(k, fabs, i_abs); }
int interp_SQUARE(Kern *k) { return unary(k, f_square, i_square); }
int interp_TANH(Kern *k) { return unary(k, tanh, NULL); }
int interp_SIGMOID(Kern *k) { return unary(k, f_sigmoid, NULL); }
int interp_RELU(Kern *k) { return unary(k, f_relu, i_relu); }
int interp_GELU(Kern *k) { return unary(k, f_gelu, NULL); }
int interp_SILU(Kern *k) { return unary(k, f_silu, NULL); }
int interp_SIN(Kern *k) { return unary(k, sin, NULL); }
int interp_COS(Kern *k) { return unary(k, cos, NULL); }

/* cast {to}: x[...] -> y[...] of dtype `to`. Float to i32 truncates toward zero (C's cast);
 * a NaN or a value outside the i32 range is an error. To bf16/f16 the value is rounded
 * through that format (node.c does it for every bf16/f16 result); to f32 under fdt = f64
 * the value is kept (fdt is the precision of every float tensor). */
int interp_CAST(Kern *k) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  for (int64_t i = 0; i < x->n; i++) {
    if (is_int(y)) {
      if (is_int(x)) {
        sti(y, i, ldi(x, i));
        continue;
      }
      double v = trunc(ld(x, i));
      if (!(v >= -2147483648.0 && v <= 2147483647.0))
        return kfail(k, "value %g at element %lld does not fit in i32", ld(x, i), (long long)i);
      sti(y, i, (int64_t)v);
    } else {
      st(y, i, ld(x, i));
    }
  }
  return 1;
}

/* ---- binary: a[...], b[...] -> y[broadcast(a, b)] ------------------------------------------ */

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GELU_GRAD } BinOp;

/* gelu'(x) of the tanh form: with u = k (x + a x^3), t = tanh u,
 *   gelu' = (1 + t) / 2 + x / 2 (1 - t^2) k (1 + 3 a x^2) */
static double f_gelu_d(double x) {
  const double k = 0.79788456080286535588, a = 0.044715;
  double t = tanh(k * (x + a * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * a * x * x);
}

/* maximum/minimum propagate NaN (as torch.maximum); comparisons with NaN are false except ne. */
static double fbin(BinOp op, double a, double b) {
  switch (op) {
  case B_ADD: return a + b;
  case B_SUB: return a - b;
  case B_MUL: return a * b;
  case B_DIV: return a / b;
  case B_POW: return pow(a, b);
  case B_MAX: return isnan(a) || isnan(b) ? NAN : (a > b ? a : b);
  case B_MIN: return isnan(a) || isnan(b) ? NAN : (a < b ? a : b);
  case B_EQ: return a == b;
  case B_NE: return a != b;
  case B_LT: return a < b;
  case B_LE: return a <= b;
  case B_GELU_GRAD: return b * f_gelu_d(a);
  }
  return NAN;
}

static int64_t ibin(BinOp op, int64_t a, int64_t b) {
  switch (op) {
  case B_ADD: return a + b;
  case B_SUB: return a - b;
  case B_MUL: return a * b;
  case B_DIV: return a / b; /* C truncation (in int64: no overflow); b != 0 checked by the caller */
  case B_MAX: return a > b ? a : b;
  case B_MIN: return a < b ? a : b;
  case B_EQ: return a == b;
  case B_NE: return a != b;
  case B_LT: return a < b;
  case B_LE: return a <= b;
  case B_POW:
  case B_GELU_GRAD: break;
  }
  return 0;
}

static int binary(Kern *k, BinOp op) {
  const Tensor *a = k->in[0], *b = k->in[1];
  Tensor *y = k->out;
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  char s1[200], s2[200], s3[200];
  if (!kbcast_strides(a, y->rank, y->shape, sa) || !kbcast_strides(b, y->rank, y->shape, sb))
    return kfail(k, "operands %s and %s do not broadcast to the result %s", kshape(s1, sizeof s1, a),
                 kshape(s2, sizeof s2, b), kshape(s3, sizeof s3, y));
  int ints = is_int(a);
  if (ints && (op == B_POW || op == B_GELU_GRAD)) return kneed_float(k, 0);
  for (int64_t i = 0; i < y->n; i++, knext(idx, y->shape, y->rank)) {
    int64_t ia = koff(idx, sa, y->rank), ib = koff(idx, sb, y->rank);
    if (!ints) {
      st(y, i, fbin(op, ld(a, ia), ld(b, ib)));
      continue;
    }
    int64_t u = ldi(a, ia), v = ldi(b, ib);
    if (op == B_DIV && v == 0) return kfail(k, "integer division by zero at element %lld", (long long)i);
    if (is_int(y))
      sti(y, i, ibin(op, u, v));
    else
      st(y, i, (double)ibin(op, u, v)); /* comparisons: 0/1 in the float dtype */
  }
  return 1;
}

int interp_ADD(Kern *k) { return binary(k, B_ADD); }
int interp_SUB(Kern *k) { return binary(k, B_SUB); }
int interp_MUL(Kern *k) { return binary(k, B_MUL); }
int interp_DIV(Kern *k) { return binary(k, B_DIV); }
int interp_POW(Kern *k) { return binary(k, B_POW); } /* C pow(a, b) */
int interp_MAXIMUM(Kern *k) { return binary(k, B_MAX); }
int interp_MINIMUM(Kern *k) { return binary(k, B_MIN); }
int interp_EQ(Kern *k) { return binary(k, B_EQ); } /* 1/0 in the float dtype */
int interp_NE(Kern *k) { return binary(k, B_NE); }
int interp_LT(Kern *k) { return binary(k, B_LT); }
int interp_LE(Kern *k) { return binary(k, B_LE); }
int interp_GELU_GRAD(Kern *k) { return binary(k, B_GELU_GRAD); } /* gelu_grad x, dy: dy * gelu'(x) */

/* where(c, a, b): y = c != 0 ? a : b, all three broadcast to y (c of any dtype). */
int interp_WHERE(Kern *k) {
  const Tensor *c = k->in[0], *a = k->in[1], *b = k->in[2];
  Tensor *y = k->out;
  int64_t sc[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  char s1[200], s2[200];
  if (!kbcast_strides(c, y->rank, y->shape, sc) || !kbcast_strides(a, y->rank, y->shape, sa) ||
      !kbcast_strides(b, y->rank, y->shape, sb))
    return kfail(k, "operands do not broadcast to the result %s (condition %s)", kshape(s1, sizeof s1, y),
                 kshape(s2, sizeof s2, c));
  for (int64_t i = 0; i < y->n; i++, knext(idx, y->shape, y->rank)) {
    const Tensor *pick = ld(c, koff(idx, sc, y->rank)) != 0 ? a : b;
    copy_el(y, i, pick, koff(idx, pick == a ? sa : sb, y->rank));
  }
  return 1;
}
