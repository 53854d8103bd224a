/* grad_ew.c — gradient rules of the elementwise ops: unary math, cast, binary arithmetic with
 * NumPy broadcasting (each operand's gradient is summed back to its own shape), where and
 * dropout. y is the forward node, g its gradient, x / a / b its operands.
 *
 * Conventions at non-differentiable points (PyTorch's): relu'(0) = 0, abs'(0) = 0;
 * maximum/minimum split the gradient evenly at a tie (each operand gets g/2);
 * pow's gradient in the exponent is 0 where the base is 0.
 */
#include "grad.h"

/* x's gradient is g * d, d computed from the forward values */
static int chain(GradCx *c, int x, int g, int d) {
  gx_acc(c, x, gx_mul(c, g, d));
  return 1;
}

int grad_NEG(GradCx *c, int y, int g) {
  gx_acc(c, gx_node(c, y).in[0], gx_neg(c, g));
  return 1;
}

int grad_EXP(GradCx *c, int y, int g) { return chain(c, gx_node(c, y).in[0], g, y); }

int grad_LOG(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  gx_acc(c, x, gx_div(c, g, x));
  return 1;
}

/* sqrt' = 1 / (2 y) */
int grad_SQRT(GradCx *c, int y, int g) {
  gx_acc(c, gx_node(c, y).in[0], gx_div(c, gx_mulc(c, g, 0.5), y));
  return 1;
}

/* rsqrt' = -x^(-3/2) / 2 = -y^3 / 2 */
int grad_RSQRT(GradCx *c, int y, int g) {
  int y3 = gx_mul(c, gx_un(c, OP_SQUARE, y), y);
  return chain(c, gx_node(c, y).in[0], g, gx_mulc(c, y3, -0.5));
}

/* recip' = -1 / x^2 = -y^2 */
int grad_RECIP(GradCx *c, int y, int g) {
  gx_acc(c, gx_node(c, y).in[0], gx_neg(c, gx_mul(c, g, gx_un(c, OP_SQUARE, y))));
  return 1;
}

/* abs' = sign(x) = (0 < x) - (x < 0) */
int grad_ABS(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  DType dt = gx_ty(c, x).dt;
  int zero = gx_const(c, 0, dt);
  int pos = gx_cmp(c, OP_LT, zero, x, dt);
  int neg = gx_cmp(c, OP_LT, x, zero, dt);
  return chain(c, x, g, gx_sub(c, pos, neg));
}

int grad_SQUARE(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  return chain(c, x, g, gx_mulc(c, x, 2.0));
}

/* tanh' = 1 - y^2 */
int grad_TANH(GradCx *c, int y, int g) {
  return chain(c, gx_node(c, y).in[0], g, gx_rsubc(c, 1.0, gx_un(c, OP_SQUARE, y)));
}

/* sigmoid' = y (1 - y) */
int grad_SIGMOID(GradCx *c, int y, int g) {
  return chain(c, gx_node(c, y).in[0], g, gx_mul(c, y, gx_rsubc(c, 1.0, y)));
}

/* relu' = (0 < x) */
int grad_RELU(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  DType dt = gx_ty(c, x).dt;
  return chain(c, x, g, gx_cmp(c, OP_LT, gx_const(c, 0, dt), x, dt));
}

/* gelu (tanh approximation, as runtime/interp/ew.c):
 *   y = x/2 (1 + t),  t = tanh(u),  u = k (x + 0.044715 x^3),  k = sqrt(2/pi)
 *   y' = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 * 0.044715 x^2) */
int grad_GELU(GradCx *c, int y, int g) {
  const double k = 0.79788456080286535588, a = 0.044715;
  IrNode n = gx_node(c, y);
  int x = n.in[0];
  if (ir_get_i(&n, "bwd") == 0) { /* fused: one gelu_grad from x (nothing of the forward kept) */
    gx_acc(c, x, gx_bin(c, OP_GELU_GRAD, x, g));
    return 1;
  }
  int one = gx_const(c, 1.0, gx_ty(c, x).dt);
  int x2 = gx_un(c, OP_SQUARE, x);
  int u = gx_mulc(c, gx_add(c, x, gx_mul(c, gx_mulc(c, x2, a), x)), k);
  int t = gx_un(c, OP_TANH, u);
  int left = gx_mulc(c, gx_add(c, t, one), 0.5);
  int du = gx_mulc(c, gx_add(c, gx_mulc(c, x2, 3 * a), one), k);
  int half_x = gx_mulc(c, x, 0.5);
  int dtanh = gx_rsubc(c, 1.0, gx_un(c, OP_SQUARE, t));
  int right = gx_mul(c, gx_mul(c, half_x, dtanh), du);
  return chain(c, x, g, gx_add(c, left, right));
}

/* silu = x s(x): silu' = s (1 + x (1 - s)) */
int grad_SILU(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  int one = gx_const(c, 1.0, gx_ty(c, x).dt);
  int s = gx_un(c, OP_SIGMOID, x);
  int d = gx_mul(c, s, gx_add(c, gx_mul(c, x, gx_rsubc(c, 1.0, s)), one));
  return chain(c, x, g, d);
}

int grad_SIN(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  return chain(c, x, g, gx_un(c, OP_COS, x));
}

int grad_COS(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  return chain(c, x, g, gx_neg(c, gx_un(c, OP_SIN, x)));
}

/* cast: the gradient cast back to the operand's dtype (only float operands carry one) */
int grad_CAST(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  gx_acc(c, x, gx_cast(c, g, gx_ty(c, x).dt));
  return 1;
}

/* ---- binary, broadcasting: each operand's part summed back to its shape ---------------------- */

static void give(GradCx *c, int x, int g) {
  if (!gx_active(c, x)) return;
  IrType t = gx_ty(c, x);
  gx_acc(c, x, gx_unbroadcast(c, g, &t));
}

int grad_ADD(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  give(c, n.in[0], g);
  give(c, n.in[1], g);
  return 1;
}

int grad_SUB(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  give(c, n.in[0], g);
  if (gx_active(c, n.in[1])) give(c, n.in[1], gx_neg(c, g));
  return 1;
}

int grad_MUL(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int a = n.in[0], b = n.in[1];
  if (gx_active(c, a)) give(c, a, gx_mul(c, g, b));
  if (gx_active(c, b)) give(c, b, gx_mul(c, g, a));
  return 1;
}

/* y = a / b: da = g / b, db = -g y / b */
int grad_DIV(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int a = n.in[0], b = n.in[1];
  if (gx_active(c, a)) give(c, a, gx_div(c, g, b));
  if (gx_active(c, b)) give(c, b, gx_neg(c, gx_div(c, gx_mul(c, g, y), b)));
  return 1;
}

/* y = a^b: da = g b a^(b-1), db = g y log(a) (0 where a == 0) */
int grad_POW(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int a = n.in[0], b = n.in[1];
  DType dt = gx_ty(c, a).dt;
  if (gx_active(c, a)) {
    int am1 = gx_bin(c, OP_POW, a, gx_sub(c, b, gx_const(c, 1.0, dt)));
    give(c, a, gx_mul(c, g, gx_mul(c, b, am1)));
  }
  if (gx_active(c, b)) {
    int one = gx_const(c, 1.0, dt);
    int zero_base = gx_bin(c, OP_EQ, a, gx_const(c, 0, dt));
    int safe = gx_where(c, zero_base, one, a);
    give(c, b, gx_mul(c, g, gx_mul(c, y, gx_un(c, OP_LOG, safe))));
  }
  return 1;
}

/* maximum / minimum: a's share w = [a wins] + [tie] / 2, b gets the rest */
static int extremum(GradCx *c, int y, int g, int is_max) {
  IrNode n = gx_node(c, y);
  int a = n.in[0], b = n.in[1];
  DType dt = gx_ty(c, a).dt;
  int wins = is_max ? gx_cmp(c, OP_LT, b, a, dt) : gx_cmp(c, OP_LT, a, b, dt);
  int w = gx_add(c, wins, gx_mulc(c, gx_cmp(c, OP_EQ, a, b, dt), 0.5));
  int ga = gx_mul(c, g, w);
  give(c, a, ga);
  if (gx_active(c, b)) give(c, b, gx_sub(c, g, ga));
  return 1;
}

int grad_MAXIMUM(GradCx *c, int y, int g) { return extremum(c, y, g, 1); }
int grad_MINIMUM(GradCx *c, int y, int g) { return extremum(c, y, g, 0); }

/* where(k, a, b): a gets g where k holds, b elsewhere; k gets nothing */
int grad_WHERE(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int zero = gx_const(c, 0, gx_ty(c, g).dt);
  if (gx_active(c, n.in[1])) give(c, n.in[1], gx_where(c, n.in[0], g, zero));
  if (gx_active(c, n.in[2])) give(c, n.in[2], gx_where(c, n.in[0], zero, g));
  return 1;
}

/* dropout: the same op (same p and seed) on g draws the same keep mask and scale */
int grad_DROPOUT(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  gx_acc(c, n.in[0], gx_op(c, OP_DROPOUT, 1, &g, &n, NULL));
  return 1;
}
