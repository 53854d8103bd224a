/* grad_nn.c — gradient rules of softmax, log_softmax, the norms and cross_entropy, written
 * with primitives (the norms recompute their statistics rather than keep them):
 *
 *   softmax      dx = y (g - sum(g y))                  sums along the softmax axis, keepdim
 *   log_softmax  dx = g - exp(y) sum(g)
 *   layernorm    xh = (x - mean) r, r = rsqrt(var + eps); gh = g * gain
 *                dx = r (gh - mean(gh) - xh mean(gh xh)); dgain = sum(g xh); dbias = sum(g)
 *   rmsnorm      xh = x r, r = rsqrt(mean(x^2) + eps);  dx = r (gh - xh mean(gh xh))
 *                (bwd = fused, the default: dx is one layernorm_grad / rmsnorm_grad node, and
 *                xh for the gain's gradient a layernorm / rmsnorm without gain and bias; bwd =
 *                composed: those formulas in primitives, the oracle)
 *   groupnorm    layernorm's formulas within each group of C/groups channels
 *   cross_entropy  dlogits = (softmax(logits) - q) * mask * g / count, q = (1 - s) onehot + s/V,
 *                onehot = [iota == target], mask = [target != ignore], count = max(sum(mask), 1):
 *                one cross_entropy_grad node (bwd = fused, the default), or those primitives
 *                (bwd = composed: the oracle)
 */
#include "grad.h"

int grad_SOFTMAX(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int axis = (int)ir_get_i(&n, "axis");
  int s = gx_sum_axis(c, gx_mul(c, g, y), axis);
  gx_acc(c, n.in[0], gx_mul(c, y, gx_sub(c, g, s)));
  return 1;
}

int grad_LOG_SOFTMAX(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int axis = (int)ir_get_i(&n, "axis");
  int s = gx_sum_axis(c, g, axis);
  gx_acc(c, n.in[0], gx_sub(c, g, gx_mul(c, gx_un(c, OP_EXP, y), s)));
  return 1;
}

static int mean_last(GradCx *c, int x) {
  int64_t ax = -1;
  return gx_reduce(c, OP_REDUCE_MEAN, x, 1, &ax, 1);
}

/* Normalise x over its last axis (centered: layernorm; else rms); the gradient of the
 * normalised value xh given its gradient gh. Returns dx; *xh_out gets xh. */
static int norm_backward(GradCx *c, int x, int gh, double eps, int centered, int *xh_out) {
  DType dt = gx_ty(c, x).dt;
  int xc = centered ? gx_sub(c, x, mean_last(c, x)) : x;
  int var = mean_last(c, gx_un(c, OP_SQUARE, xc));
  int r = gx_un(c, OP_RSQRT, gx_add(c, var, gx_const(c, eps, dt)));
  int xh = gx_mul(c, xc, r);
  int inner = gx_sub(c, gh, gx_mul(c, xh, mean_last(c, gx_mul(c, gh, xh))));
  if (centered) inner = gx_sub(c, inner, mean_last(c, gh));
  *xh_out = xh;
  return gx_mul(c, r, inner);
}

/* gain and bias (operands 1, 2 when present): vectors over the last axis */
static void affine_grads(GradCx *c, const IrNode *n, int g, int xh) {
  if (n->nin > 1 && gx_active(c, n->in[1])) {
    IrType t = gx_ty(c, n->in[1]);
    gx_acc(c, n->in[1], gx_unbroadcast(c, gx_mul(c, g, xh), &t));
  }
  if (n->nin > 2 && gx_active(c, n->in[2])) {
    IrType t = gx_ty(c, n->in[2]);
    gx_acc(c, n->in[2], gx_unbroadcast(c, g, &t));
  }
}

static int norm_rule(GradCx *c, int y, int g, int centered) {
  IrNode n = gx_node(c, y);
  int x = n.in[0], xh = -1;
  if (ir_get_i(&n, "bwd") == 0) { /* fused: dx in one row pass; xh (for the gain) as a norm without affine */
    int in[3] = {x, g, n.nin > 1 ? n.in[1] : -1};
    if (gx_active(c, x)) gx_acc(c, x, gx_op(c, centered ? OP_LAYERNORM_GRAD : OP_RMSNORM_GRAD, n.nin > 1 ? 3 : 2, in, &n, NULL));
    if (n.nin > 1 && gx_active(c, n.in[1])) xh = gx_op(c, n.op, 1, &x, &n, NULL);
    affine_grads(c, &n, g, xh);
    return 1;
  }
  int gh = n.nin > 1 ? gx_mul(c, g, n.in[1]) : g;
  int dx = norm_backward(c, x, gh, ir_get_f(&n, "eps"), centered, &xh);
  gx_acc(c, x, dx);
  affine_grads(c, &n, g, xh);
  return 1;
}

int grad_LAYERNORM(GradCx *c, int y, int g) { return norm_rule(c, y, g, 1); }
int grad_RMSNORM(GradCx *c, int y, int g) { return norm_rule(c, y, g, 0); }

/* groupnorm: x[..., C] seen as [..., G, C/G], normalised over the last axis */
int grad_GROUPNORM(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int x = n.in[0], xh;
  IrType xt = gx_ty(c, x), gt = xt;
  int64_t G = ir_get_i(&n, "groups"), C = xt.d[xt.rank - 1].add;
  if (xt.rank + 1 > IR_MAX_RANK) return gx_error(c, "rank %d is too large to split into groups", xt.rank);
  gt.d[gt.rank - 1] = dim_const(G);
  gt.d[gt.rank++] = dim_const(C / G);
  int gh = n.nin > 1 ? gx_mul(c, g, n.in[1]) : g;
  int xg = gx_reshape(c, x, gt);
  int dx = norm_backward(c, xg, gx_reshape(c, gh, gt), ir_get_f(&n, "eps"), 1, &xh);
  gx_acc(c, x, gx_reshape(c, dx, xt));
  affine_grads(c, &n, g, gx_reshape(c, xh, xt));
  return 1;
}

int grad_CROSS_ENTROPY(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int logits = n.in[0], tg = n.in[1];
  if (ir_get_i(&n, "bwd") == 0) { /* fused: one row pass, no probability matrix */
    int in[3] = {logits, tg, g};
    gx_acc(c, logits, gx_op(c, OP_CROSS_ENTROPY_GRAD, 3, in, &n, NULL));
    return 1;
  }
  IrType lt = gx_ty(c, logits), tt = gx_ty(c, tg), it = lt, t1 = tt;
  DType dt = lt.dt;
  double s = ir_get_f(&n, "smoothing");
  int p = gx_op(c, OP_SOFTMAX, 1, &logits, NULL, NULL);
  /* q = (1 - s) onehot + s / V */
  it.dt = DT_I32;
  t1.d[t1.rank++] = dim_const(1);
  int iota = gx_iota(c, it, lt.rank - 1);
  int onehot = gx_cmp(c, OP_EQ, iota, gx_reshape(c, tg, t1), dt);
  int q = s == 0 ? onehot : gx_mulc(c, onehot, 1 - s);
  if (s != 0) {
    int last = lt.rank - 1;
    int smooth = gx_const(c, s, dt);
    q = gx_add(c, q, gx_div(c, smooth, gx_count(c, &lt, 1, &last, dt)));
  }
  /* mask of counted positions, and their number (at least 1) */
  int mask = gx_cmp(c, OP_NE, tg, gx_const(c, (double)ir_get_i(&n, "ignore"), DT_I32), dt);
  int64_t all[IR_MAX_RANK];
  for (int i = 0; i < tt.rank; i++) all[i] = i;
  int one = gx_const(c, 1.0, dt);
  int count = gx_bin(c, OP_MAXIMUM, gx_reduce(c, OP_REDUCE_SUM, mask, tt.rank, all, 0), one);
  IrType mt = t1;
  mt.dt = dt;
  int m1 = gx_reshape(c, mask, mt);
  int scale = gx_div(c, g, count);
  gx_acc(c, logits, gx_mul(c, gx_mul(c, gx_sub(c, p, q), m1), scale));
  return 1;
}
