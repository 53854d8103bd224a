/* grad_attn.c — gradient rules of the attention ops.
 *
 * softmax_attention: q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv] (, mask[B, Sk]):
 *   - by default one backward op, softmax_attention_grad(q, k, v, [mask], dO), which recomputes
 *     P block by block (flash-style; never the whole [B, H, Sq, Sk] at once): for self-attention
 *     (Sq = Sk) one node {wrt = all} whose packed dq | dk | dv is sliced apart; for cross
 *     attention two nodes, {wrt = q} and {wrt = kv} (dk | dv), each recomputing P (the packed
 *     result cannot mix lengths Sq and Sk in one affine dim), and only the one needed when q,
 *     or k and v, need no gradient; symbolic head dims go the composed way;
 *   - with bwd = composed on the forward node, the backward through primitives (sa_composed,
 *     the oracle the tests hold the op to): recompute P = softmax(where(visible, q k^T * scale,
 *     -big)) * visible, visible from iota comparisons (causal: j <= i) and the key mask
 *     broadcast to [B, 1, 1, Sk] (a query with no visible key gets P = 0, as the forward gives
 *     it zeros); then
 *     dV = P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dP P)),  dQ = dS K scale,  dK = dS^T Q scale.
 *
 * linear_attention (operands: ir/linattn.h; semantics: runtime/interp/linattn.c):
 *   - the feature maps are recomputed with primitives (x @ P, * w, softmax | d * exp(t *)) and
 *     differentiated as such (gx_backprop), so P, w, t, d get gradients when trainable;
 *   - the rest is one backward op, linear_attention_grad(q~, k~, v, [g, beta], [S0], dO), whose
 *     packed result dq~ | dk~ | dv | dg | dbeta is sliced apart (and a second node with
 *     wrt = state for dS0 when the state needs a gradient); passes/lower_attn.c then picks its
 *     form (the chunked backward kernels of runtime/fast/ by default);
 *   - a node whose lower = quadratic was chosen before autodiff, and the bidirectional gate-less
 *     form with Sq != Sk, are instead recomputed entirely with primitives and differentiated
 *     as composed ops (la_primitive below): the quadratic form (W = (q~ k~^T) * M, O = W v')
 *     or the linear order (O = q~ (k~^T v')). This is the oracle the tests hold the backward
 *     op to: "chunked backward = autodiff of the quadratic form".
 * linear_attention_state: always through primitives (the closed form of the final state,
 *   S = e^{G_last} S0 + (k~ * e^{G_last - G} beta)^T v').
 */
#include "grad.h"
#include "linattn.h"

#include <math.h>
#include <string.h>

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

/* The backward through primitives (bwd = composed): the oracle of softmax_attention_grad. */
static int sa_composed(GradCx *c, int y, int g) {
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

/* softmax_attention_grad on the forward's operands and g, attributes causal and scale from the
 * forward node n, wrt as given (0 all, 1 q, 2 kv). */
static int sa_grad_op(GradCx *c, const IrNode *n, int g, int wrt) {
  int in[5], nin = 0;
  for (int i = 0; i < n->nin; i++) in[nin++] = n->in[i];
  in[nin++] = g;
  AttrVal attr[3];
  memset(attr, 0, sizeof attr);
  attr[op_attr_index(OP_SOFTMAX_ATTENTION_GRAD, "causal")] = *ir_get(n, "causal");
  attr[op_attr_index(OP_SOFTMAX_ATTENTION_GRAD, "scale")] = *ir_get(n, "scale");
  AttrVal *w = &attr[op_attr_index(OP_SOFTMAX_ATTENTION_GRAD, "wrt")];
  w->set = wrt != 0, w->i = wrt;
  IrNode like = {.op = OP_SOFTMAX_ATTENTION_GRAD, .attr = attr};
  return gx_op(c, OP_SOFTMAX_ATTENTION_GRAD, nin, in, &like, NULL);
}

int grad_SOFTMAX_ATTENTION(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int q = n.in[0], k = n.in[1], v = n.in[2];
  IrType qt = gx_ty(c, q), kt = gx_ty(c, k), vt = gx_ty(c, v);
  int aq = gx_active(c, q), ak = gx_active(c, k), av = gx_active(c, v);
  if (ir_get_i(&n, "bwd") == 1 || !dim_is_const(qt.d[3]) || !dim_is_const(vt.d[3])) return sa_composed(c, y, g);
  int64_t D = qt.d[3].add, Dv = vt.d[3].add;
  if (dim_eq(qt.d[2], kt.d[2]) && aq && (ak || av)) { /* self-attention: one pass, dq | dk | dv */
    int all = sa_grad_op(c, &n, g, 0);
    if (aq) gx_acc(c, q, gx_slice(c, all, 3, 0, 1, D, 1));
    if (ak) gx_acc(c, k, gx_slice(c, all, 3, D, 1, 2 * D, 1));
    if (av) gx_acc(c, v, gx_slice(c, all, 3, 2 * D, 1, 2 * D + Dv, 1));
    return 1;
  }
  if (aq) gx_acc(c, q, sa_grad_op(c, &n, g, 1)); /* cross attention (or not all needed): dq, dk | dv */
  if (ak || av) {
    int kv = sa_grad_op(c, &n, g, 2);
    if (ak) gx_acc(c, k, gx_slice(c, kv, 3, 0, 1, D, 1));
    if (av) gx_acc(c, v, gx_slice(c, kv, 3, D, 1, D + Dv, 1));
  }
  return 1;
}


/* ---- linear attention: the pieces recomputed with primitives ------------------------------- */

/* phi(x) per the node's feature map: x[B, H, S, D] -> [B, H, S, m] */
static int la_feature(GradCx *c, const IrNode *n, const LinAttn *la, int x) {
  if (la->feature == LA_FEAT_NONE) return x;
  int z = gx_mul(c, gx_matmul(c, x, n->in[la->proj], 0, 0), n->in[la->fw]);
  if (la->feature == LA_FEAT_DCT) return gx_op(c, OP_SOFTMAX, 1, &z, NULL, NULL);
  return gx_mul(c, n->in[la->fd], gx_un(c, OP_EXP, z));
}

/* v' = v, or [v, 1] (norm = running: the last column carries the denominator) */
static int la_vext(GradCx *c, const LinAttn *la, int v) {
  if (!la->running) return v;
  IrType t = gx_ty(c, v);
  t.d[3] = dim_const(1);
  int ones = gx_fill(c, 1.0, t);
  AttrVal axis = {.set = 1, .i = 3};
  IrNode like = {.op = OP_CONCAT, .attr = &axis}; /* concat {axis = 3} */
  return gx_op(c, OP_CONCAT, 2, (int[]){v, ones}, &like, NULL);
}

/* gamma_h as [H, 1, 1] (ir_linattn_gamma): 1 - exp(a + h (b - a) / (H - 1)) */
static int la_gamma(GradCx *c, Dim H, DType dt) {
  double a = log(1.0 / 32), b = log(1.0 / 512);
  double step = dim_is_const(H) && H.add > 1 ? (b - a) / (double)(H.add - 1) : 0;
  IrType t = {.dt = dt, .rank = 3, .d = {H, dim_const(1), dim_const(1)}};
  int e = gx_mulc(c, gx_iota(c, t, 0), step);
  e = gx_add(c, e, gx_const(c, a, dt));
  return gx_rsubc(c, 1.0, gx_un(c, OP_EXP, e));
}

/* G = cumsum(g) along S as [B, H, 1, S]: g [B, H, 1, S] @ U, U[r, t] = [r <= t] */
static int la_cumsum(GradCx *c, int g) {
  IrType gt = gx_ty(c, g), row = {.dt = gt.dt, .rank = 4, .d = {gt.d[0], gt.d[1], dim_const(1), gt.d[2]}};
  IrType ss = {.dt = DT_I32, .rank = 2, .d = {gt.d[2], gt.d[2]}};
  int r = gx_iota(c, ss, 0), t = gx_iota(c, ss, 1);
  int u = gx_cmp(c, OP_LE, r, t, gt.dt);
  return gx_matmul(c, gx_reshape(c, g, row), u, 0, 0);
}

/* The node's value rebuilt from primitives: o[B, H, Sq, Dv] (state 0) or the final state
 * S[B, H, m, Dv'] (state 1). Returns the output node. */
static int la_primitive(GradCx *c, const IrNode *n, const LinAttn *la, int want_state) {
  IrType kt = gx_ty(c, n->in[la->k]), vt = gx_ty(c, n->in[la->v]);
  DType dt = kt.dt;
  Dim S = kt.d[2];
  int fk = la_feature(c, n, la, n->in[la->k]);
  int fq = la->q >= 0 ? la_feature(c, n, la, n->in[la->q]) : -1;
  int v = la_vext(c, la, n->in[la->v]);
  int learned = la->gate == LA_GATE_LEARNED, decay = la->gate == LA_GATE_DECAY;
  int G = learned ? la_cumsum(c, n->in[la->g]) : -1; /* [B, H, 1, S] */
  IrType row = {.dt = dt, .rank = 4, .d = {kt.d[0], kt.d[1], dim_const(1), S}};
  IrType col = {.dt = dt, .rank = 4, .d = {kt.d[0], kt.d[1], S, dim_const(1)}};
  int beta = learned ? gx_reshape(c, n->in[la->beta], row) : -1;
  int gamma = decay ? la_gamma(c, kt.d[1], dt) : -1;
  IrType s1 = {.dt = dt, .rank = 2, .d = {S, dim_const(1)}};
  if (want_state) { /* S = e^{G_last} S0 + (k~ * w)^T v',  w_j = e^{G_last - G_j} beta_j */
    int w = -1, carry = -1;
    if (learned) {
      int glast = gx_slice(c, G, 3, -1, 0, 0, 1);
      w = gx_reshape(c, gx_mul(c, gx_un(c, OP_EXP, gx_sub(c, glast, G)), beta), col);
      carry = gx_un(c, OP_EXP, glast);
    } else if (decay) {
      int axis2 = 2, len = gx_count(c, &kt, 1, &axis2, dt);
      int last = gx_sub(c, len, gx_const(c, 1.0, dt));
      int dist = gx_sub(c, last, gx_iota(c, s1, 0));
      w = gx_bin(c, OP_POW, gamma, dist); /* [H, S, 1] */
      carry = gx_bin(c, OP_POW, gamma, len);
    }
    int st = gx_matmul(c, w >= 0 ? gx_mul(c, fk, w) : fk, v, 1, 0);
    if (la->state >= 0) st = gx_add(c, st, carry >= 0 ? gx_mul(c, carry, n->in[la->state]) : n->in[la->state]);
    return st;
  }
  IrType qt = gx_ty(c, n->in[la->q]);
  int o;
  if (!la->causal && la->gate == LA_GATE_NONE && la->lower != LA_LOWER_QUADRATIC) {
    o = gx_matmul(c, fq, gx_matmul(c, fk, v, 1, 0), 0, 0); /* the linear order: q~ (k~^T v') */
  } else {
    int w = gx_matmul(c, fq, fk, 0, 1); /* [B, H, Sq, Sk] */
    int cm = la->causal ? causal_mask(c, qt.d[2], S, dt) : -1;
    int mask = -1;
    if (learned) { /* e^{G_t - G_s} beta_s on s <= t */
      int d = gx_sub(c, gx_reshape(c, G, col), G);
      int big = gx_const(c, dt == DT_F16 ? -65504.0 : -1e30, dt);
      mask = gx_mul(c, gx_un(c, OP_EXP, gx_where(c, cm, d, big)), beta);
    } else if (decay) { /* gamma^(t - s) on s <= t, or gamma^|t - s| */
      IrType ss = {.dt = dt, .rank = 2, .d = {S, S}};
      int ti = gx_iota(c, ss, 0);
      int dist = gx_sub(c, ti, gx_iota(c, ss, 1));
      dist = la->causal ? gx_mul(c, dist, cm) : gx_un(c, OP_ABS, dist);
      mask = gx_bin(c, OP_POW, gamma, dist);
      if (la->causal) mask = gx_mul(c, mask, cm);
    } else {
      mask = cm;
    }
    if (mask >= 0) w = gx_mul(c, w, mask);
    o = gx_matmul(c, w, v, 0, 0);
  }
  if (la->state >= 0) { /* + e^{G_t} q~_t S0 */
    int carry;
    if (learned) {
      carry = gx_un(c, OP_EXP, gx_reshape(c, G, col));
    } else if (decay) {
      int t1 = gx_iota(c, s1, 0);
      carry = gx_bin(c, OP_POW, gamma, gx_add(c, t1, gx_const(c, 1.0, dt)));
    } else {
      carry = -1;
    }
    int so = gx_matmul(c, fq, n->in[la->state], 0, 0);
    o = gx_add(c, o, carry >= 0 ? gx_mul(c, carry, so) : so);
  }
  if (la->running) { /* o'[:Dv] / o'[Dv] where nonzero */
    int64_t dv = vt.d[3].add;
    int num = gx_slice(c, o, 3, 0, 1, dv, 1), den = gx_slice(c, o, 3, dv, 1, dv + 1, 1);
    int zero = gx_const(c, 0, dt), one = gx_const(c, 1.0, dt);
    o = gx_div(c, num, gx_where(c, gx_bin(c, OP_NE, den, zero), den, one));
  }
  return o;
}

/* ---- the rules ------------------------------------------------------------------------------- */

static int la_layout(GradCx *c, const IrNode *n, LinAttn *la) {
  char err[256];
  if (!ir_linattn_read(n, la, err, sizeof err)) return gx_error(c, "%s", err);
  if (la->running && !dim_is_const(gx_ty(c, n->in[la->v]).d[3])) return gx_error(c, "norm = running needs a constant Dv");
  return 1;
}

int grad_LINEAR_ATTENTION_STATE(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  LinAttn la;
  if (!la_layout(c, &n, &la)) return 0;
  int first = gx_graph(c)->nodes.n;
  return gx_backprop(c, first, la_primitive(c, &n, &la, 1), g);
}

int grad_LINEAR_ATTENTION(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  LinAttn la;
  if (!la_layout(c, &n, &la)) return 0;
  IrType qt = gx_ty(c, n.in[la.q]), kt = gx_ty(c, n.in[la.k]), vt = gx_ty(c, n.in[la.v]);
  if (la.lower == LA_LOWER_QUADRATIC || !dim_eq(qt.d[2], kt.d[2])) { /* the oracle / cross attention */
    int first = gx_graph(c)->nodes.n;
    return gx_backprop(c, first, la_primitive(c, &n, &la, 0), g);
  }
  /* phi(k), then phi(q), each a subgraph of its own so each is swept alone */
  int first_k = gx_graph(c)->nodes.n, fk = la_feature(c, &n, &la, n.in[la.k]);
  int first_q = gx_graph(c)->nodes.n, fq = la_feature(c, &n, &la, n.in[la.q]);
  int in[8], nin = 0;
  in[nin++] = fq;
  in[nin++] = fk;
  in[nin++] = n.in[la.v];
  if (la.gate == LA_GATE_LEARNED) {
    in[nin++] = n.in[la.g];
    in[nin++] = n.in[la.beta];
  }
  if (la.state >= 0) in[nin++] = n.in[la.state];
  in[nin++] = g;
  int packed = gx_op(c, OP_LINEAR_ATTENTION_GRAD, nin, in, &n, NULL);
  int64_t m = gx_ty(c, fq).d[3].add, dv = vt.d[3].add;
  IrType gt = {.dt = qt.dt, .rank = 3, .d = {qt.d[0], qt.d[1], qt.d[2]}};
  if (gx_active(c, n.in[la.v])) gx_acc(c, n.in[la.v], gx_slice(c, packed, 3, 2 * m, 1, 2 * m + dv, 1));
  if (la.gate == LA_GATE_LEARNED) {
    if (gx_active(c, n.in[la.g])) gx_acc(c, n.in[la.g], gx_reshape(c, gx_slice(c, packed, 3, 2 * m + dv, 1, 2 * m + dv + 1, 1), gt));
    if (gx_active(c, n.in[la.beta]))
      gx_acc(c, n.in[la.beta], gx_reshape(c, gx_slice(c, packed, 3, 2 * m + dv + 1, 1, 2 * m + dv + 2, 1), gt));
  }
  if (la.state >= 0 && gx_active(c, n.in[la.state])) {
    int ds = gx_op(c, OP_LINEAR_ATTENTION_GRAD, nin, in, &n, NULL);
    ir_set_enum(&gx_graph(c)->nodes.v[ds], "wrt", "state");
    char err[256];
    if (!ir_infer(c->p, gx_graph(c), ds, err, sizeof err)) die("autodiff: linear_attention_grad: %s", err);
    gx_acc(c, n.in[la.state], ds);
  }
  int dq = gx_slice(c, packed, 3, 0, 1, m, 1), dk = gx_slice(c, packed, 3, m, 1, 2 * m, 1);
  if (la.feature == LA_FEAT_NONE) {
    gx_acc(c, n.in[la.q], dq);
    gx_acc(c, n.in[la.k], dk);
    return 1;
  }
  return gx_backprop(c, first_q, fq, dq) && gx_backprop(c, first_k, fk, dk);
}
