/* gradcheck_ops.c — every differentiable op of ir/ops.def against finite differences in f64
 * (label gradcheck). The loop runs over OP_COUNT: an op flagged F_DIFF without a case here
 * fails. Cases use random shapes (symbolic dims bound to random sizes, NumPy broadcasting,
 * negative axes, keepdim, ta/tb, masks, every supported attention variant) and fresh random
 * values kept away from kinks (relu/abs at 0, ties of maximum/minimum/reduce_max), and print
 * one OK / NOT OK line per op with the worst relative error. MAMC_TEST_SEED=<n> replays.
 */
#include <stdio.h>

#include "gc.h"

static Dim cd(int64_t v) { return dim_const(v); }

static IrType ty(DType dt, int rank, const Dim *d) {
  IrType t = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) t.d[i] = d[i];
  return t;
}

/* Random dims of rank r; dim 0 symbolic ("B") when sym. */
static void rand_dims(GC *c, int r, int sym, int64_t lo, int64_t hi, Dim *d) {
  for (int i = 0; i < r; i++) d[i] = i == 0 && sym ? gc_sym(c, "B", gc_int(lo, hi)) : cd(gc_int(lo, hi));
}

static void fill_pos(GC *c, int x) {
  for (int64_t i = 0; i < c->x[x].n; i++) gc_f(&c->x[x])[i] = gc_pos();
}

/* Distinct values: a random permutation of ±(0.1 + 0.1 k), so no two are within 0.1. */
static void fill_distinct(GC *c, int x, double offset) {
  Tensor *t = &c->x[x];
  for (int64_t i = 0; i < t->n; i++) gc_f(t)[i] = offset + 0.2 * (double)i - 0.1 * (double)t->n;
  for (int64_t i = t->n - 1; i > 0; i--) {
    int64_t j = gc_int(0, i);
    double v = gc_f(t)[i];
    gc_f(t)[i] = gc_f(t)[j];
    gc_f(t)[j] = v;
  }
}

/* ---- elementwise ------------------------------------------------------------------------------ */

/* gelu: reps 4-7 with its backward composed from primitives (0-3: gelu_grad, the default) */
static void t_unary(Op op) {
  for (int rep = 0; rep < (op == OP_GELU ? 8 : 4); rep++) {
    GC c;
    int r = (int)gc_int(0, 3);
    gc_begin(&c, op, "rank %d%s", r, rep >= 4 ? ", composed" : "");
    Dim d[3];
    rand_dims(&c, r, rep == 0, 1, 4, d);
    int x = gc_in(&c, DT_F32, r, d);
    if (op == OP_LOG || op == OP_SQRT || op == OP_RSQRT) fill_pos(&c, x);
    IrNode *n = gc_op(&c, op, 1, &x);
    if (op == OP_CAST) ir_set_enum(n, "to", rep & 1 ? "f64" : "f32");
    if (rep >= 4) ir_set_enum(n, "bwd", "composed");
    gc_check(&c);
    gc_end(&c);
  }
}

/* out dims, then each operand takes a suffix of them with some dims set to 1 */
static void bcast_dims(GC *c, const Dim *out, int r, Dim *d, int *rank) {
  *rank = (int)gc_int(0, r);
  for (int i = 0; i < *rank; i++) d[i] = gc_int(0, 3) == 0 ? cd(1) : out[r - *rank + i];
  (void)c;
}

static void t_binary(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    GC c;
    int r = (int)gc_int(1, 3), ra, rb;
    gc_begin(&c, op, "rep %d", rep);
    Dim out[3], da[3], db[3];
    rand_dims(&c, r, rep == 0, 1, 4, out);
    bcast_dims(&c, out, r, da, &ra);
    bcast_dims(&c, out, r, db, &rb);
    if (rep == 1) ra = r, memcpy(da, out, sizeof out); /* at least one full-size operand */
    int a = gc_in(&c, DT_F32, ra, da), b = gc_in(&c, DT_F32, rb, db);
    if (op == OP_POW) fill_pos(&c, a);
    if (op == OP_MAXIMUM || op == OP_MINIMUM) fill_distinct(&c, a, 0.05), fill_distinct(&c, b, 0.0);
    gc_op(&c, op, 2, (int[]){a, b});
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_where(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    GC c;
    int r = (int)gc_int(1, 3), rk, ra, rb;
    gc_begin(&c, op, "rep %d", rep);
    Dim out[3], dk[3], da[3], db[3];
    rand_dims(&c, r, rep == 0, 1, 4, out);
    bcast_dims(&c, out, r, dk, &rk);
    bcast_dims(&c, out, r, da, &ra);
    bcast_dims(&c, out, r, db, &rb);
    if (rep == 1) rk = r, memcpy(dk, out, sizeof out);
    int k = gc_in(&c, rep & 1 ? DT_I32 : DT_F32, rk, dk), a = gc_in(&c, DT_F32, ra, da), b = gc_in(&c, DT_F32, rb, db);
    c.check[k] = 0;
    for (int64_t i = 0; i < c.x[k].n; i++) {
      if (rep & 1)
        gc_i(&c.x[k])[i] = (int32_t)gc_int(0, 1);
      else
        gc_f(&c.x[k])[i] = (double)gc_int(0, 1);
    }
    gc_op(&c, op, 3, (int[]){k, a, b});
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_dropout(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    GC c;
    gc_begin(&c, op, "training %d", rep & 1);
    c.training = rep & 1;
    Dim d[2] = {gc_sym(&c, "B", gc_int(1, 3)), cd(gc_int(2, 6))};
    int x = gc_in(&c, DT_F32, 2, d);
    IrNode *n = gc_op(&c, op, 1, &x);
    ir_set_f(n, "p", 0.3);
    ir_set_i(n, "seed", gc_int(0, 99));
    gc_check(&c);
    gc_end(&c);
  }
}

/* ---- reductions, matmul ---------------------------------------------------------------------- */

static void t_reduce(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    GC c;
    int r = (int)gc_int(1, 3), keep = (int)gc_int(0, 1);
    gc_begin(&c, op, "rank %d keepdim %d", r, keep);
    Dim d[3];
    for (int i = 0; i < r; i++) d[i] = i == r - 1 && rep < 2 ? gc_sym(&c, "S", gc_int(1, 4)) : cd(gc_int(1, 4));
    int x = gc_in(&c, DT_F32, r, d);
    if (op == OP_REDUCE_MAX) fill_distinct(&c, x, 0.0);
    int64_t axes[3];
    int na = 0;
    for (int i = 0; i < r; i++)
      if (gc_int(0, 1) || (i == r - 1 && na == 0)) axes[na++] = gc_int(0, 1) ? i : i - r;
    IrNode *n = gc_op(&c, op, 1, &x);
    ir_set_ints(&c.p, n, "axes", axes, na);
    if (keep) ir_set_i(n, "keepdim", 1);
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_matmul(Op op) {
  for (int rep = 0; rep < 8; rep++) {
    GC c;
    int ta = rep & 1, tb = (rep >> 1) & 1, ba = (int)gc_int(0, 2), bb = (int)gc_int(0, 2);
    gc_begin(&c, op, "ta %d tb %d, batch ranks %d, %d", ta, tb, ba, bb);
    int64_t M = gc_int(1, 4), K = gc_int(1, 4), N = gc_int(1, 4);
    Dim m = rep == 0 ? gc_sym(&c, "S", M) : cd(M), batch[2] = {rep == 5 ? gc_sym(&c, "B", 2) : cd(2), cd(3)};
    Dim da[4], db[4];
    for (int i = 0; i < ba; i++) da[i] = gc_int(0, 2) ? batch[2 - ba + i] : cd(1);
    for (int i = 0; i < bb; i++) db[i] = gc_int(0, 2) ? batch[2 - bb + i] : cd(1);
    da[ba + 0] = ta ? cd(K) : m, da[ba + 1] = ta ? m : cd(K);
    db[bb + 0] = tb ? cd(N) : cd(K), db[bb + 1] = tb ? cd(K) : cd(N);
    int a = gc_in(&c, DT_F32, ba + 2, da), b = gc_in(&c, DT_F32, bb + 2, db);
    IrNode *n = gc_op(&c, op, 2, (int[]){a, b});
    if (ta) ir_set_i(n, "ta", 1);
    if (tb) ir_set_i(n, "tb", 1);
    gc_check(&c);
    gc_end(&c);
  }
}

/* ---- movement ------------------------------------------------------------------------------------ */

static void t_reshape_expand(Op op) {
  static const int xr[4] = {2, 3, 2, 2}, yr[4] = {3, 2, 2, 3};
  for (int rep = 0; rep < 4; rep++) {
    GC c;
    gc_begin(&c, op, "rep %d", rep);
    Dim b = gc_sym(&c, "B", gc_int(1, 3));
    Dim rx[4][3] = {{b, cd(6)}, {cd(2), cd(3), cd(4)}, {cd(2), cd(6)}, {b, cd(1)}};
    Dim ry[4][3] = {{b, cd(2), cd(3)}, {cd(4), cd(6)}, {cd(3), cd(4)}, {b, cd(1), cd(1)}};
    Dim ex[4][3] = {{cd(3), cd(1)}, {b, cd(1), cd(4)}, {cd(1), cd(1)}, {cd(2), cd(1)}};
    Dim ey[4][3] = {{cd(2), cd(3), cd(4)}, {b, cd(5), cd(4)}, {cd(2), cd(3)}, {b, cd(2), cd(3)}};
    int exr[4] = {2, 3, 2, 2};
    int isr = op == OP_RESHAPE;
    int x = gc_in(&c, DT_F32, isr ? xr[rep] : exr[rep], isr ? rx[rep] : ex[rep]);
    gc_op(&c, op, 1, &x)->type = ty(DT_F32, isr ? yr[rep] : 3 - (rep == 2), isr ? ry[rep] : ey[rep]);
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_transpose(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    GC c;
    int r = rep < 2 ? 3 : (int)gc_int(2, 4);
    gc_begin(&c, op, "rank %d", r);
    int64_t perm[4];
    for (int i = 0; i < r; i++) perm[i] = i;
    for (int i = r - 1; i > 0; i--) {
      int j = (int)gc_int(0, i);
      int64_t t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    if (rep < 2) perm[0] = 1 + rep, perm[1] = 2 - 2 * rep, perm[2] = 0 + rep; /* the two 3-cycles */
    Dim d[4];
    rand_dims(&c, r, rep == 0, 1, 3, d);
    int x = gc_in(&c, DT_F32, r, d);
    ir_set_ints(&c.p, gc_op(&c, op, 1, &x), "perm", perm, r);
    gc_check(&c);
    gc_end(&c);
  }
}

/* slice and pad: rep 0 a symbolic axis [0:-1], rep 1 a symbolic axis [-2:], else constant */
static void t_slice_pad(Op op) {
  for (int rep = 0; rep < 8; rep++) {
    GC c;
    int sym = rep < 2, r = sym ? 2 : (int)gc_int(1, 3), axis = sym ? 1 : (int)gc_int(0, r - 1);
    int64_t s[3] = {3, 3, 3};
    for (int i = 0; i < r; i++) s[i] = gc_int(3, 6);
    int64_t n = s[axis], s0 = gc_int(0, n - 1), e0 = gc_int(s0 + 1, n), step = sym ? 1 : gc_int(1, 3), end = e0;
    int end_set = 1;
    if (rep == 0) s0 = 0, e0 = n - 1, end = -1;
    if (rep == 1) s0 = -2, end_set = 0, e0 = n;
    int64_t len = ((e0 - (s0 < 0 ? s0 + n : s0)) + step - 1) / step;
    gc_begin(&c, op, "axis %d of %lld: start %lld end %s%lld step %lld", axis, (long long)n, (long long)s0,
             end_set ? "" : "unset ", (long long)end, (long long)step);
    Dim full[3], part[3];
    for (int i = 0; i < r; i++) full[i] = part[i] = sym && i == 1 ? gc_sym(&c, "S", s[i]) : cd(s[i]);
    part[axis] = rep == 0 ? (Dim){full[axis].sym, 1, -1} : cd(len);
    int x = gc_in(&c, DT_F32, r, op == OP_SLICE ? full : part);
    IrNode *nd = gc_op(&c, op, 1, &x);
    if (op == OP_PAD) nd->type = ty(DT_F32, r, full);
    ir_set_i(nd, "axis", gc_int(0, 1) ? axis - r : axis);
    ir_set_i(nd, "start", s0);
    if (end_set) ir_set_i(nd, "end", end);
    ir_set_i(nd, "step", step);
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_concat(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    GC c;
    int r = (int)gc_int(1, 3), axis = (int)gc_int(0, r - 1), ni = (int)gc_int(1, 3);
    gc_begin(&c, op, "%d operands, rank %d, axis %d%s", ni, r, axis, rep < 2 ? " (symbolic)" : "");
    Dim d[3];
    rand_dims(&c, r, 0, 1, 3, d);
    Dim S = gc_sym(&c, "S", gc_int(1, 4));
    int xs[3];
    for (int k = 0; k < ni; k++) {
      /* rep 0: the symbolic part first; rep 1: last */
      int symbolic = (rep == 0 && k == 0) || (rep == 1 && k == ni - 1);
      d[axis] = symbolic ? S : cd(gc_int(1, 3));
      xs[k] = gc_in(&c, DT_F32, r, d);
    }
    ir_set_i(gc_op(&c, op, ni, xs), "axis", gc_int(0, 1) ? axis - r : axis);
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_gather_scatter(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    GC c;
    int tr = (int)gc_int(1, 3), ir = (int)gc_int(1, 2);
    int64_t V = gc_int(1, 5);
    gc_begin(&c, op, "table rank %d (V=%lld), ids rank %d", tr, (long long)V, ir);
    Dim td[3] = {cd(V), cd(gc_int(1, 3)), cd(gc_int(1, 3))}, id[2], sd[5];
    for (int i = 0; i < ir; i++) id[i] = sd[i] = i == 0 ? gc_sym(&c, "B", gc_int(1, 4)) : cd(gc_int(1, 3));
    for (int i = 1; i < tr; i++) sd[ir + i - 1] = td[i];
    int ids, x;
    if (op == OP_GATHER) {
      x = gc_in(&c, DT_F32, tr, td);
      ids = gc_in(&c, DT_I32, ir, id);
    } else {
      ids = gc_in(&c, DT_I32, ir, id);
      x = gc_in(&c, DT_F32, ir + tr - 1, sd);
    }
    for (int64_t i = 0; i < c.x[ids].n; i++) gc_i(&c.x[ids])[i] = (int32_t)gc_int(0, V - 1);
    IrNode *n = op == OP_GATHER ? gc_op(&c, op, 2, (int[]){x, ids}) : gc_op(&c, op, 2, (int[]){ids, x});
    if (op == OP_SCATTER_ADD) n->type = ty(DT_F32, tr, td);
    gc_check(&c);
    gc_end(&c);
  }
}

/* DEPT: trim_gather(table, rows) and untrim_scatter(x, rows) on a random index map (a
 * strictly ascending subset of 0..V-1; rows is an integer input, not differentiated) */
static void t_trim(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    GC c;
    int tr = (int)gc_int(1, 3);
    int64_t V = gc_int(2, 6), K = 0;
    int32_t rows[8];
    for (int64_t v = 0; v < V; v++)
      if (gc_int(0, 1)) rows[K++] = (int32_t)v;
    if (!K) rows[K++] = (int32_t)(V - 1);
    gc_begin(&c, op, "table rank %d (V=%lld, K=%lld)", tr, (long long)V, (long long)K);
    Dim kd = gc_sym(&c, "K", K), td[3] = {cd(V), cd(gc_int(1, 3)), cd(gc_int(1, 3))}, xd[3] = {kd, td[1], td[2]};
    int r = gc_in(&c, DT_I32, 1, &kd);
    for (int64_t i = 0; i < K; i++) gc_i(&c.x[r])[i] = rows[i];
    int x = gc_in(&c, DT_F32, tr, op == OP_TRIM_GATHER ? td : xd);
    IrNode *n = gc_op(&c, op, 2, (int[]){x, r});
    if (op == OP_UNTRIM_SCATTER) n->type = ty(DT_F32, tr, td);
    gc_check(&c);
    gc_end(&c);
  }
}

/* ---- softmax, norms, loss ------------------------------------------------------------------------ */

static void t_softmax(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    GC c;
    int r = (int)gc_int(1, 3), axis = (int)gc_int(-r, r - 1);
    gc_begin(&c, op, "rank %d axis %d", r, axis);
    Dim d[3];
    rand_dims(&c, r, rep == 0, 1, 4, d);
    int x = gc_in(&c, DT_F32, r, d);
    ir_set_i(gc_op(&c, op, 1, &x), "axis", axis);
    gc_check(&c);
    gc_end(&c);
  }
}

/* reps 0, 1 with the default backward (layernorm / rmsnorm: fused, layernorm_grad /
 * rmsnorm_grad), 2, 3 composed from primitives (groupnorm has only that) */
static void t_norm(Op op) {
  int maxin = op == OP_RMSNORM ? 2 : 3;
  for (int nin = 1; nin <= maxin; nin++)
    for (int r = 0; r < 4; r++) {
      GC c;
      int rep = r & 1, composed = r >= 2;
      if (composed && op == OP_GROUPNORM) continue;
      int64_t G = op == OP_GROUPNORM ? gc_int(1, 3) : 1, C = G * gc_int(2, 4);
      gc_begin(&c, op, "x[B, S, %lld], groups %lld, %d operands%s", (long long)C, (long long)G, nin, composed ? ", composed" : "");
      Dim d[3] = {gc_sym(&c, "B", gc_int(1, 2)), cd(gc_int(1, 3)), cd(C)};
      int xs[3];
      xs[0] = gc_in(&c, DT_F32, rep ? 3 : 2, rep ? d : d + 1);
      for (int k = 1; k < nin; k++) xs[k] = gc_in(&c, DT_F32, 1, &d[2]);
      IrNode *n = gc_op(&c, op, nin, xs);
      if (op == OP_GROUPNORM) ir_set_i(n, "groups", G);
      if (rep) ir_set_f(n, "eps", 0.01);
      if (composed) ir_set_enum(n, "bwd", "composed");
      gc_check(&c);
      gc_end(&c);
    }
}

/* reps 0-5 through cross_entropy_grad (the default), 6-11 the same cases composed */
static void t_cross_entropy(Op op) {
  for (int rep = 0; rep < 12; rep++) {
    GC c;
    int composed = rep >= 6;
    rep %= 6;
    double s = rep & 1 ? 0.1 : 0;
    int64_t V = gc_int(2, 6), ignore = rep & 2 ? 0 : -1;
    gc_begin(&c, op, "V %lld smoothing %g ignore %lld%s", (long long)V, s, (long long)ignore, composed ? ", composed" : "");
    Dim d[3] = {gc_sym(&c, "B", gc_int(1, 3)), gc_sym(&c, "T", gc_int(1, 3)), cd(V)};
    int r = rep == 5 ? 1 : 2; /* rep 5: targets[T] */
    int lg = gc_in(&c, DT_F32, r + 1, d + 2 - r), tg = gc_in(&c, DT_I32, r, d + 2 - r);
    for (int64_t i = 0; i < c.x[tg].n; i++)
      gc_i(&c.x[tg])[i] = (int32_t)(rep == 4 && i == 0 ? ignore : gc_int(0, V - 1));
    IrNode *n = gc_op(&c, op, 2, (int[]){lg, tg});
    if (s > 0) ir_set_f(n, "smoothing", s);
    if (ignore != -1) ir_set_i(n, "ignore", ignore);
    if (composed) ir_set_enum(n, "bwd", "composed");
    gc_check(&c);
    gc_end(&c);
    rep += 6 * composed;
  }
}

/* ---- attention ------------------------------------------------------------------------------------ */

/* q[B, H, Sq, D], k, v[B, H, Sk, .] with Sq, Sk symbolic; returns q, k, v in x[0..2] */
static void att_inputs(GC *c, int same_len, int positive) {
  int64_t B = gc_int(1, 2), H = gc_int(1, 2), D = gc_int(1, 3), Dv = gc_int(1, 3);
  Dim S = gc_sym(c, "S", gc_int(2, 4)), T = same_len ? S : gc_sym(c, "T", gc_int(1, 4));
  Dim dq[4] = {cd(B), cd(H), S, cd(D)}, dk[4] = {cd(B), cd(H), T, cd(D)}, dv[4] = {cd(B), cd(H), T, cd(Dv)};
  gc_in(c, DT_F32, 4, dq);
  gc_in(c, DT_F32, 4, dk);
  gc_in(c, DT_F32, 4, dv);
  if (positive) fill_pos(c, 0), fill_pos(c, 1);
}

/* reps 0-7 through softmax_attention_grad (the default), 8-15 the same cases with
 * bwd = composed (the backward through primitives); 16, 17: self-attention with only v, or
 * only q, differentiated (softmax_attention_grad {wrt = kv}, {wrt = q}) */
static void t_softmax_attention(Op op) {
  for (int r = 0; r < 18; r++) {
    int rep = r >= 16 ? 3 : r & 7, composed = r >= 8 && r < 16;
    int causal = rep & 1, masked = (rep >> 1) & 1, imask = rep == 6, scaled = rep >= 4;
    GC c;
    gc_begin(&c, op, "causal %d, mask %s, scale %s, %s backward", causal, masked ? (imask ? "i32" : "f32") : "none",
             scaled ? "set" : "0", composed ? "composed" : "fused");
    att_inputs(&c, causal || rep == 2, 0);
    int x[4] = {0, 1, 2, 3};
    if (masked) {
      IrType kt = c.p.graphs.v[0].nodes.v[c.xnode[1]].type;
      Dim dm[2] = {kt.d[0], kt.d[2]};
      int m = gc_in(&c, imask ? DT_I32 : DT_F32, 2, dm);
      c.check[m] = 0;
      for (int64_t i = 0; i < c.x[m].n; i++) { /* key 0 kept, but for batch 0 of rep 3 (its causal
                                                    query 0 sees no key); rep 2 masks a whole row */
        int keep = rep == 2 ? 0 : i == 0 && rep == 3 ? 0 : i % c.x[m].shape[1] == 0 || gc_int(0, 2) != 0;
        if (imask)
          gc_i(&c.x[m])[i] = keep;
        else
          gc_f(&c.x[m])[i] = keep;
      }
    }
    IrNode *n = gc_op(&c, op, masked ? 4 : 3, x);
    if (causal) ir_set_i(n, "causal", 1);
    if (scaled) ir_set_f(n, "scale", 0.7);
    if (composed) ir_set_enum(n, "bwd", "composed");
    if (r >= 16) c.check[0] = c.check[1] = c.check[2] = 0, c.check[r == 16 ? 2 : 0] = 1;
    gc_check(&c);
    gc_end(&c);
  }
}

void gc_register(GcTest *t) {
  for (int op = OP_NEG; op <= OP_CAST; op++) t[op] = t_unary;
  t[OP_ADD] = t[OP_SUB] = t[OP_MUL] = t[OP_DIV] = t[OP_POW] = t[OP_MAXIMUM] = t[OP_MINIMUM] = t_binary;
  t[OP_WHERE] = t_where;
  t[OP_DROPOUT] = t_dropout;
  t[OP_REDUCE_SUM] = t[OP_REDUCE_MEAN] = t[OP_REDUCE_MAX] = t_reduce;
  t[OP_MATMUL] = t_matmul;
  t[OP_RESHAPE] = t[OP_EXPAND] = t_reshape_expand;
  t[OP_TRANSPOSE] = t_transpose;
  t[OP_SLICE] = t[OP_PAD] = t_slice_pad;
  t[OP_CONCAT] = t_concat;
  t[OP_GATHER] = t[OP_SCATTER_ADD] = t_gather_scatter;
  t[OP_TRIM_GATHER] = t[OP_UNTRIM_SCATTER] = t_trim;
  t[OP_SOFTMAX] = t[OP_LOG_SOFTMAX] = t_softmax;
  t[OP_LAYERNORM] = t[OP_RMSNORM] = t[OP_GROUPNORM] = t_norm;
  t[OP_CROSS_ENTROPY] = t_cross_entropy;
  t[OP_SOFTMAX_ATTENTION] = t_softmax_attention;
  gc_register_linattn(t); /* gradcheck_linattn.c */
}

int main(void) {
  GcTest tests[OP_COUNT] = {0};
  gc_register(tests);
  printf("autodiff vs central differences in f64, MAMC_TEST_SEED=%llu\n", (unsigned long long)gc_seed());
  int n = 0;
  for (int op = 0; op < OP_COUNT; op++) {
    if (!(op_info((Op)op)->flags & F_DIFF)) continue;
    n++;
    gc_op_begin((Op)op);
    if (!tests[op])
      gc_fail("%s: differentiable but no gradient check (add one in tests/autodiff/gradcheck_ops.c)",
              op_info((Op)op)->name);
    else
      tests[op]((Op)op);
    gc_op_end((Op)op);
  }
  if (gc_failures()) {
    fprintf(stderr, "NOT OK: %d failures\n", gc_failures());
    return 1;
  }
  printf("OK: %d differentiable ops\n", n);
  return 0;
}
