/* grad_attn.c — gradient rules of the attention ops, written with primitives.
 *
 * softmax_attention: q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv] (, mask[B, Sk]):
 *   recompute P = softmax(where(visible, q k^T * scale, -big)) * visible, visible from iota
 *   comparisons (causal: j <= i) and the key mask broadcast to [B, 1, 1, Sk] (a query with no
 *   visible key gets P = 0, as the forward gives it zeros); then
 *   dV = P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dP P)),  dQ = dS K scale,  dK = dS^T Q scale.
 *
 * linear_attention (feature none; gate none or decay; norm none or running; causal or not):
 *   recompute the quadratic form with primitives, W = (q k^T) * M with
 *   M[h, i, j] = gamma_h^|i - j| (decay; gamma_h = 1 - 2^(-5-h), runtime/interp/attention.c)
 *   times [j <= i] (causal), O = W v, divided by rowsum(W) where nonzero (running), and
 *   differentiate that subgraph (gx_backprop). feature dct / dct_exp and gate learned are
 *   errors until issue #4 gives them gradients.
 */
#include "grad.h"

#include <math.h>

static const char *word(const IrNode *n, const char *attr) {
  int k = op_attr_index(n->op, attr);
  return op_info(n->op)->attrs[k].words[n->attr[k].i];
}

/* [Sq, Sk] in dtype dt: 1 where key j may be seen from query i causally (j <= i) */
static int causal_mask(GradCx *c, Dim sq, Dim sk, DType dt) {
  IrType t = {.dt = DT_I32, .rank = 2, .d = {sq, sk}};
  int i = gx_iota(c, t, 0), j = gx_iota(c, t, 1);
  return gx_cmp(c, OP_LE, j, i, dt);
}

/* scale attribute, 0 meaning 1/sqrt(D): a scalar node */
static int attn_scale(GradCx *c, const IrNode *n, const IrType *qt) {
  double s = ir_get_f(n, "scale");
  if (s != 0) return gx_const(c, s, qt->dt);
  Dim d = qt->d[3];
  if (dim_is_const(d)) return gx_const(c, 1.0 / sqrt((double)d.add), qt->dt);
  int three = 3;
  return gx_un(c, OP_RSQRT, gx_count(c, qt, 1, &three, qt->dt));
}

int grad_SOFTMAX_ATTENTION(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int q = n.in[0], k = n.in[1], v = n.in[2], mask = n.nin > 3 ? n.in[3] : -1;
  IrType qt = gx_ty(c, q), kt = gx_ty(c, k);
  DType dt = qt.dt;
  int scale = attn_scale(c, &n, &qt);
  int s = gx_mul(c, gx_matmul(c, q, k, 0, 1), scale); /* [B, H, Sq, Sk] */
  int vis = ir_get_i(&n, "causal") ? causal_mask(c, qt.d[2], kt.d[2], dt) : -1;
  if (mask >= 0) {
    IrType mt = gx_ty(c, mask), m4 = {.dt = dt, .rank = 4, .d = {mt.d[0], dim_const(1), dim_const(1), mt.d[1]}};
    int keep = gx_reshape(c, gx_cmp(c, OP_NE, mask, gx_const(c, 0, mt.dt), dt), m4);
    vis = vis < 0 ? keep : gx_mul(c, vis, keep);
  }
  if (vis >= 0) s = gx_where(c, vis, s, gx_const(c, dt == DT_F16 ? -65504.0 : -1e30, dt));
  int pr = gx_op(c, OP_SOFTMAX, 1, &s, NULL, NULL);
  if (vis >= 0) pr = gx_mul(c, pr, vis);
  if (gx_active(c, v)) gx_acc(c, v, gx_matmul(c, pr, g, 1, 0));
  if (gx_active(c, q) || gx_active(c, k)) {
    int dp = gx_matmul(c, g, v, 0, 1);
    int ds = gx_mul(c, pr, gx_sub(c, dp, gx_sum_axis(c, gx_mul(c, dp, pr), -1)));
    if (gx_active(c, q)) gx_acc(c, q, gx_mul(c, gx_matmul(c, ds, k, 0, 0), scale));
    if (gx_active(c, k)) gx_acc(c, k, gx_mul(c, gx_matmul(c, ds, q, 1, 0), scale));
  }
  return 1;
}

/* [H, S, S]: gamma_h^|i - j|, gamma_h = 1 - 2^-(5 + h) */
static int decay_matrix(GradCx *c, Dim h, Dim s, DType dt) {
  IrType ss = {.dt = dt, .rank = 2, .d = {s, s}}, h11 = {.dt = dt, .rank = 3, .d = {h, dim_const(1), dim_const(1)}};
  int i = gx_iota(c, ss, 0), j = gx_iota(c, ss, 1);
  int dist = gx_un(c, OP_ABS, gx_sub(c, i, j));
  int five = gx_const(c, 5, dt);
  int e = gx_neg(c, gx_add(c, gx_iota(c, h11, 0), five));
  int gamma = gx_rsubc(c, 1.0, gx_bin(c, OP_POW, gx_const(c, 2, dt), e));
  return gx_bin(c, OP_POW, gamma, dist);
}

int grad_LINEAR_ATTENTION(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  const char *feature = word(&n, "feature"), *gate = word(&n, "gate");
  if (strcmp(feature, "none") != 0)
    return gx_error(c, "feature '%s' is not differentiable yet (issue #4)", feature);
  if (strcmp(gate, "learned") == 0) return gx_error(c, "gate 'learned' is not differentiable yet (issue #4)");
  int q = n.in[0], k = n.in[1], v = n.in[2];
  IrType qt = gx_ty(c, q), kt = gx_ty(c, k);
  DType dt = qt.dt;
  int first = gx_graph(c)->nodes.n; /* the recomputed forward starts here */
  int m = -1;
  if (strcmp(gate, "decay") == 0) {
    if (!dim_eq(qt.d[2], kt.d[2])) return gx_error(c, "gate = decay needs equal query and key lengths");
    m = decay_matrix(c, qt.d[1], qt.d[2], dt);
  }
  if (ir_get_i(&n, "causal")) {
    int cm = causal_mask(c, qt.d[2], kt.d[2], dt);
    m = m < 0 ? cm : gx_mul(c, m, cm);
  }
  int w = gx_matmul(c, q, k, 0, 1); /* [B, H, Sq, Sk] */
  if (m >= 0) w = gx_mul(c, w, m);
  int o = gx_matmul(c, w, v, 0, 0);
  if (strcmp(word(&n, "norm"), "running") == 0) {
    int den = gx_sum_axis(c, w, -1), zero = gx_const(c, 0, dt), one = gx_const(c, 1.0, dt);
    int safe = gx_where(c, gx_bin(c, OP_NE, den, zero), den, one);
    o = gx_div(c, o, safe);
  }
  return gx_backprop(c, first, o, g);
}
