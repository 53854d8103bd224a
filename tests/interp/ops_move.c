/* ops_move.c — op-vs-reference tests of the movement ops (reshape, expand, transpose, slice,
 * concat, gather, pad, scatter_add), the sources (input, param, const, iota), dropout and the
 * collectives.
 */
#include <math.h>

#include "harness.h"
#include "rng.h"

static Dim cdim(int64_t v) { return dim_const(v); }

/* Fill a declared type from constant dims. */
static IrType ty(DType dt, int rank, const Dim *d) {
  IrType t = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) t.d[i] = d[i];
  return t;
}

static void rand_perm(int r, int64_t *perm) {
  for (int i = 0; i < r; i++) perm[i] = i;
  for (int i = r - 1; i > 0; i--) {
    int j = (int)h_int(0, i);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

/* Declared-type ops (reshape, expand): x of type xt, result type yt; ref from a mapping. */
static void t_reshape(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    Case c;
    case_begin(&c, op, "rep %d", rep);
    int64_t B = h_int(1, 4);
    Dim b = case_sym(&c, "B", B);
    Dim xd[4][3] = {{b, cdim(6)}, {cdim(2), cdim(3), cdim(4)}, {cdim(2), cdim(6)}, {b, cdim(1)}};
    Dim yd[4][3] = {{b, cdim(2), cdim(3)}, {cdim(4), cdim(6)}, {cdim(3), cdim(4)}, {b}};
    int xr[4] = {2, 3, 2, 2}, yr[4] = {3, 2, 2, 1};
    DType dt = rep == 2 ? DT_I32 : DT_F32;
    int x = case_in(&c, dt, xr[rep], xd[rep]);
    for (int64_t i = 0; rep == 2 && i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(-9, 9);
    case_op(&c, op, 1, &x)->type = ty(dt, yr[rep], yd[rep]);
    if (case_infer(&c)) {
      Tensor ref;
      int64_t ys[3];
      for (int i = 0; i < yr[rep]; i++) ys[i] = dim_eval(yd[rep][i], c.sym);
      h_alloc(&ref, c.x[x].dt, yr[rep], ys);
      memcpy(ref.data, c.x[x].data, (size_t)ref.n * (size_t)dtype_size(ref.dt));
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_expand(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    Case c;
    case_begin(&c, op, "rep %d", rep);
    int64_t B = h_int(1, 4);
    Dim b = case_sym(&c, "B", B);
    Dim xd[4][3] = {{cdim(3), cdim(1)}, {cdim(1)}, {b, cdim(1), cdim(4)}, {cdim(2), cdim(1)}};
    Dim yd[4][3] = {{cdim(2), cdim(3), cdim(4)}, {b, cdim(2)}, {b, cdim(5), cdim(4)}, {cdim(2), cdim(3)}};
    int xr[4] = {2, 1, 3, 2}, yr[4] = {3, 2, 3, 2};
    DType dt = rep == 3 ? DT_I32 : DT_F32;
    int x = case_in(&c, dt, xr[rep], xd[rep]);
    for (int64_t i = 0; rep == 3 && i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(-9, 9);
    case_op(&c, op, 1, &x)->type = ty(dt, yr[rep], yd[rep]);
    if (case_infer(&c)) {
      Tensor ref;
      int64_t ys[3], idx[3];
      for (int i = 0; i < yr[rep]; i++) ys[i] = dim_eval(yd[rep][i], c.sym);
      h_alloc(&ref, c.x[x].dt, yr[rep], ys);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, yr[rep], ys, idx);
        int64_t j = h_bidx(xr[rep], c.x[x].shape, yr[rep], idx);
        if (dt == DT_I32)
          h_i(&ref)[i] = h_i(&c.x[x])[j];
        else
          h_f(&ref)[i] = h_f(&c.x[x])[j];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_transpose(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    int r = (int)h_int(2, 4);
    int64_t s[4], perm[4], ys[4], idx[4], xi[4];
    rand_perm(r, perm);
    Case c;
    case_begin(&c, op, "rank %d perm [%lld, %lld, ...]", r, (long long)perm[0], (long long)perm[1]);
    Dim d[4];
    for (int i = 0; i < r; i++) {
      s[i] = h_int(1, 4);
      d[i] = i == 1 && rep == 0 ? case_sym(&c, "S", s[i]) : cdim(s[i]);
    }
    for (int i = 0; i < r; i++) ys[i] = s[perm[i]];
    int x = case_in(&c, DT_F32, r, d);
    ir_set_ints(&c.p, case_op(&c, op, 1, &x), "perm", perm, r);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, r, ys);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, r, ys, idx);
        for (int a = 0; a < r; a++) xi[perm[a]] = idx[a];
        h_f(&ref)[i] = h_f(&c.x[x])[h_flat(r, s, xi)];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_slice(Op op) {
  for (int rep = 0; rep < 10; rep++) {
    int sym = rep == 0, r = sym ? 3 : (int)h_int(1, 3), axis = sym ? 1 : (int)h_int(0, r - 1);
    int64_t s[3], ys[3], idx[3];
    for (int i = 0; i < r; i++) s[i] = h_int(1, 6);
    int64_t n = s[axis], s0 = h_int(0, n - 1), e0 = h_int(s0 + 1, n), step = sym ? 1 : h_int(1, 3);
    int64_t start = !sym && h_int(0, 1) ? s0 - n : s0;
    int end_set = sym || e0 < n || h_int(0, 1);
    int64_t end = e0 < n && h_int(0, 1) ? e0 - n : e0;
    if (sym) e0 = n - 1, end = -1, s0 = start = 0; /* x[B, S, 3] sliced [0:-1] along S */
    int64_t len = (e0 - s0 + step - 1) / step;
    if (len <= 0) continue;
    Case c;
    case_begin(&c, op, "axis %d of %lld: start %lld end %s%lld step %lld", axis, (long long)n, (long long)start,
               end_set ? "" : "unset ", (long long)end, (long long)step);
    Dim d[3];
    for (int i = 0; i < r; i++) d[i] = sym && i < 2 ? case_sym(&c, i ? "S" : "B", s[i]) : cdim(s[i]);
    int x = case_in(&c, DT_F32, r, d);
    IrNode *nd = case_op(&c, op, 1, &x);
    ir_set_i(nd, "axis", h_int(0, 1) ? axis - r : axis);
    ir_set_i(nd, "start", start);
    if (end_set) ir_set_i(nd, "end", end);
    ir_set_i(nd, "step", step);
    if (case_infer(&c)) {
      Tensor ref;
      for (int i = 0; i < r; i++) ys[i] = i == axis ? len : s[i];
      h_alloc(&ref, DT_F64, r, ys);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, r, ys, idx);
        idx[axis] = s0 + step * idx[axis];
        h_f(&ref)[i] = h_f(&c.x[x])[h_flat(r, s, idx)];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_concat(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    int sym = rep == 0, ints = rep == 1, r = sym ? 2 : (int)h_int(1, 3), axis = sym ? 1 : (int)h_int(0, r - 1);
    int ni = (int)h_int(1, 3);
    int64_t s[3], ys[3], idx[3], xs[3][3];
    Case c;
    case_begin(&c, op, "%d operands, rank %d, axis %d%s", ni, r, axis, ints ? ", i32" : "");
    for (int i = 0; i < r; i++) s[i] = h_int(1, 4);
    Dim d[3];
    int xi[3];
    for (int i = 0; i < r; i++) d[i] = sym && i == 0 ? case_sym(&c, "B", s[0]) : cdim(s[i]);
    ys[axis] = 0;
    for (int k = 0; k < ni; k++) {
      int64_t len = h_int(1, 3);
      d[axis] = cdim(len);
      for (int i = 0; i < r; i++) xs[k][i] = i == axis ? len : s[i];
      xi[k] = case_in(&c, ints ? DT_I32 : DT_F32, r, d);
      for (int64_t i = 0; ints && i < c.x[xi[k]].n; i++) h_i(&c.x[xi[k]])[i] = (int32_t)h_int(-99, 99);
      ys[axis] += len;
    }
    for (int i = 0; i < r; i++)
      if (i != axis) ys[i] = s[i];
    ir_set_i(case_op(&c, op, ni, xi), "axis", h_int(0, 1) ? axis - r : axis);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, ints ? DT_I32 : DT_F64, r, ys);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, r, ys, idx);
        int k = 0;
        while (idx[axis] >= xs[k][axis]) idx[axis] -= xs[k++][axis];
        int64_t j = h_flat(r, xs[k], idx);
        if (ints)
          h_i(&ref)[i] = h_i(&c.x[xi[k]])[j];
        else
          h_f(&ref)[i] = h_f(&c.x[xi[k]])[j];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_gather(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    int tr = (int)h_int(1, 3), ir = (int)h_int(1, 2);
    int64_t V = h_int(1, 9), ts[3] = {V, h_int(1, 4), h_int(1, 3)}, is[2], ys[5], idx[5], ti[3];
    Case c;
    case_begin(&c, op, "table rank %d (V=%lld), ids rank %d", tr, (long long)V, ir);
    Dim td[3] = {cdim(ts[0]), cdim(ts[1]), cdim(ts[2])}, id[2];
    for (int i = 0; i < ir; i++) {
      is[i] = h_int(1, 4);
      id[i] = i == 0 ? case_sym(&c, "B", is[0]) : cdim(is[i]);
    }
    int t = case_in(&c, DT_F32, tr, td), x = case_in(&c, DT_I32, ir, id);
    for (int64_t i = 0; i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(0, V - 1);
    case_op(&c, op, 2, (int[]){t, x});
    if (case_infer(&c)) {
      Tensor ref;
      int yr = ir + tr - 1;
      for (int i = 0; i < ir; i++) ys[i] = is[i];
      for (int i = 1; i < tr; i++) ys[ir + i - 1] = ts[i];
      h_alloc(&ref, DT_F64, yr, ys);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, yr, ys, idx);
        ti[0] = h_i(&c.x[x])[h_flat(ir, is, idx)];
        for (int k = 1; k < tr; k++) ti[k] = idx[ir + k - 1];
        h_f(&ref)[i] = h_f(&c.x[t])[h_flat(tr, ts, ti)];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* pad: y[declared] zero but at the slice positions; rep 0 and 1 pad a symbolic axis (end -1;
 * a negative start with no end) */
static void t_pad(Op op) {
  for (int rep = 0; rep < 10; rep++) {
    int sym = rep < 2, r = sym ? 2 : (int)h_int(1, 3), axis = sym ? 1 : (int)h_int(0, r - 1);
    int64_t s[3], xs[3], idx[3];
    for (int i = 0; i < r; i++) s[i] = h_int(sym ? 3 : 1, 6);
    int64_t n = s[axis], s0 = h_int(0, n - 1), e0 = h_int(s0 + 1, n), step = sym ? 1 : h_int(1, 3);
    int64_t start = s0, end = e0;
    int end_set = 1;
    if (rep == 0) s0 = start = 0, e0 = n - 1, end = -1;
    if (rep == 1) s0 = n - 2, start = -2, e0 = n, end_set = 0;
    if (!sym && h_int(0, 1)) start = s0 - n;
    if (!sym && e0 == n && h_int(0, 1)) end_set = 0;
    int64_t len = (e0 - s0 + step - 1) / step;
    Case c;
    case_begin(&c, op, "axis %d of %lld: start %lld end %s%lld step %lld", axis, (long long)n, (long long)start,
               end_set ? "" : "unset ", (long long)end, (long long)step);
    Dim yd[3], xd[3];
    for (int i = 0; i < r; i++) {
      yd[i] = sym && i < 2 ? case_sym(&c, i ? "S" : "B", s[i]) : cdim(s[i]);
      xd[i] = yd[i];
      xs[i] = s[i];
    }
    xs[axis] = len;
    if (sym)
      xd[axis] = rep == 0 ? (Dim){yd[axis].sym, 1, -1} : cdim(2);
    else
      xd[axis] = cdim(len);
    int x = case_in(&c, DT_F32, r, xd);
    IrNode *nd = case_op(&c, op, 1, &x);
    nd->type = ty(DT_F32, r, yd);
    ir_set_i(nd, "axis", h_int(0, 1) ? axis - r : axis);
    ir_set_i(nd, "start", start);
    if (end_set) ir_set_i(nd, "end", end);
    ir_set_i(nd, "step", step);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, r, s);
      for (int64_t i = 0; i < c.x[x].n; i++) {
        h_unflat(i, r, xs, idx);
        idx[axis] = s0 + step * idx[axis];
        h_f(&ref)[h_flat(r, s, idx)] = h_f(&c.x[x])[i];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* scatter_add: ids[...] with repeats, src[ids..., rows...] -> y[V, rows...] */
static void t_scatter_add(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    int tr = (int)h_int(1, 3), ir = (int)h_int(1, 2);
    int64_t V = h_int(1, 6), ts[3] = {V, h_int(1, 4), h_int(1, 3)}, is[2], xs[5], idx[5], ti[3];
    Case c;
    case_begin(&c, op, "result rank %d (V=%lld), ids rank %d", tr, (long long)V, ir);
    Dim td[3] = {cdim(ts[0]), cdim(ts[1]), cdim(ts[2])}, id[2], xd[5];
    for (int i = 0; i < ir; i++) {
      is[i] = h_int(1, 4);
      id[i] = i == 0 ? case_sym(&c, "B", is[0]) : cdim(is[i]);
      xd[i] = id[i];
      xs[i] = is[i];
    }
    for (int i = 1; i < tr; i++) xd[ir + i - 1] = td[i], xs[ir + i - 1] = ts[i];
    int xr = ir + tr - 1;
    int x = case_in(&c, DT_I32, ir, id), v = case_in(&c, DT_F32, xr, xd);
    for (int64_t i = 0; i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(0, V - 1);
    case_op(&c, op, 2, (int[]){x, v})->type = ty(DT_F32, tr, td);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, tr, ts);
      for (int64_t i = 0; i < c.x[v].n; i++) {
        h_unflat(i, xr, xs, idx);
        ti[0] = h_i(&c.x[x])[h_flat(ir, is, idx)];
        for (int k = 1; k < tr; k++) ti[k] = idx[ir + k - 1];
        h_f(&ref)[h_flat(tr, ts, ti)] += h_f(&c.x[v])[i];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- sources ----------------------------------------------------------------------------- */

static void t_input(Op op) {
  static const DType dts[3] = {DT_F32, DT_I32, DT_BF16};
  for (int rep = 0; rep < 3; rep++) {
    Case c;
    case_begin(&c, op, "declared %s[B, 3]", dtype_name(dts[rep]));
    Dim d[2] = {case_sym(&c, "B", h_int(1, 4)), cdim(3)};
    int x = case_in(&c, dts[rep], 2, d);
    if (dts[rep] == DT_I32)
      for (int64_t i = 0; i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(-99, 99);
    c.node = c.xnode[x];
    c.src = &c.x[x];
    Tensor ref;
    rt_tensor_copy(&c.x[x], &ref);
    if (dts[rep] == DT_BF16) /* a bf16 input holds bf16 values */
      for (int64_t i = 0; i < ref.n; i++) h_f(&ref)[i] = h_bf16(h_f(&ref)[i]);
    case_check(&c, &ref);
    case_end(&c);
  }
}

static void t_param(Op op) {
  Case c;
  case_begin(&c, op, "@m[fr].w f32[4, 3]");
  int m = ir_module_add(&c.p, "m[fr]", "Block");
  Dim d[2] = {cdim(4), cdim(3)};
  int w = ir_param_add(&c.p, m, "w", ty(DT_F32, 2, d), (IrInit){INIT_NORMAL, 0, 1});
  c.node = ir_param_ref(&c.p, &c.p.graphs.v[0], m, w);
  h_alloc(&c.x[0], DT_F64, 2, (int64_t[]){4, 3});
  c.nx = 1;
  for (int64_t i = 0; i < 12; i++) h_f(&c.x[0])[i] = h_val();
  c.src = &c.x[0];
  Tensor ref;
  rt_tensor_copy(&c.x[0], &ref);
  case_check(&c, &ref);
  case_end(&c);
}

static void t_const(Op op) {
  for (int rep = 0; rep < 2; rep++) {
    Case c;
    double v = rep ? (double)h_int(-50, 50) : h_val();
    case_begin(&c, op, "%s value %g", rep ? "i32" : "f32", v);
    Dim d[2] = {cdim(2), case_sym(&c, "B", h_int(1, 4))};
    IrNode *n = case_op(&c, op, 0, NULL);
    n->type = ty(rep ? DT_I32 : DT_F32, 2, d);
    ir_set_f(n, "value", v);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, rep ? DT_I32 : DT_F64, 2, (int64_t[]){2, c.sym[0]});
      for (int64_t i = 0; i < ref.n; i++) {
        if (rep)
          h_i(&ref)[i] = (int32_t)v;
        else
          h_f(&ref)[i] = v;
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_iota(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    Case c;
    int axis = (int)h_int(-3, 2), with_operand = (rep & 1) && op_info(op)->max_in >= 1, ints = rep >= 2;
    case_begin(&c, op, "%s[3, S, 4] axis %d%s", ints ? "i32" : "f32", axis, with_operand ? " (operand)" : "");
    int64_t S = h_int(1, 5), ys[3] = {3, S, 4}, idx[3];
    Dim d[3] = {cdim(3), case_sym(&c, "S", S), cdim(4)};
    int x = case_in(&c, DT_F32, 2, (Dim[]){d[1], cdim(2)});
    IrNode *n = case_op(&c, op, with_operand, &x);
    n->type = ty(ints ? DT_I32 : DT_F32, 3, d);
    ir_set_i(n, "axis", axis);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, ints ? DT_I32 : DT_F64, 3, ys);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, 3, ys, idx);
        if (ints)
          h_i(&ref)[i] = (int32_t)idx[(axis + 3) % 3];
        else
          h_f(&ref)[i] = (double)idx[(axis + 3) % 3];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- dropout and collectives ---------------------------------------------------------------- */

static void t_dropout(Op op) {
  for (int rep = 0; rep < 4; rep++) {
    Case c;
    double p = rep == 3 ? 1.0 : (double)(float)(0.1 + 0.5 * h_unit());
    int64_t seed = h_int(0, 1000);
    case_begin(&c, op, "p %g seed %lld training %d", p, (long long)seed, rep > 0);
    c.training = rep > 0;
    c.seed = h_u64();
    c.step = h_int(0, 100000);
    Dim d[3] = {case_sym(&c, "B", h_int(1, 3)), cdim(5), cdim(7)};
    int x = case_in(&c, DT_F32, 3, d);
    IrNode *n = case_op(&c, op, 1, &x);
    ir_set_f(n, "p", p);
    ir_set_i(n, "seed", seed);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, 3, c.x[x].shape);
      uint64_t key = rng_key(c.seed ^ (uint64_t)seed, (uint64_t)c.step);
      for (int64_t i = 0; i < ref.n; i++) {
        double xv = h_f(&c.x[x])[i];
        h_f(&ref)[i] = !c.training ? xv : rng_uniform(key, (uint64_t)i) < p ? 0.0 : xv / (1 - p);
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

static void t_collective(Op op) {
  Case c;
  case_begin(&c, op, "x[B, 4] in one process (identity)");
  Dim d[2] = {case_sym(&c, "B", h_int(1, 4)), cdim(4)};
  int x = case_in(&c, DT_F32, 2, d);
  IrNode *n = case_op(&c, op, 1, &x);
  ir_set_group(&c.p, n, "group", "core");
  if (op == OP_OUTER_SYNC) ir_set_i(n, "every", 4);
  if (case_infer(&c)) {
    Tensor ref;
    rt_tensor_copy(&c.x[x], &ref);
    case_check(&c, &ref);
  }
  case_end(&c);
}

/* allreduce_start (a token-weighted slot, then a recv slot) and allreduce_done after it: the
 * identity in one process. */
static void t_allreduce_pair(Op op) {
  for (int recv = 0; recv < 2; recv++) {
    Case c;
    case_begin(&c, op, "%s in one process (identity)", recv ? "x[B, 4], recv slot" : "x[B, 4], tokens f32[]");
    Dim d[2] = {case_sym(&c, "B", h_int(1, 4)), cdim(4)};
    int xs[2] = {case_in(&c, DT_F32, 2, d), case_in(&c, DT_F32, 0, d)};
    IrNode *n = case_op(&c, OP_ALLREDUCE_START, recv ? 1 : 2, xs);
    ir_set_group(&c.p, n, "group", "ranks[0, 1]");
    ir_set_enum(n, "op", "mean");
    ir_set_enum(n, "weight", "tokens");
    ir_set_i(n, "bucket", 0);
    ir_set_i(n, "recv", recv);
    int ok = case_infer(&c);
    if (ok && op == OP_ALLREDUCE_DONE) {
      int start = c.node;
      c.node = ir_node_add(&c.p, &c.p.graphs.v[0], OP_ALLREDUCE_DONE, 1, &start);
      c.src = &c.x[xs[0]]; /* the start's value */
      ok = case_infer(&c);
    }
    if (ok) {
      Tensor ref;
      rt_tensor_copy(&c.x[xs[0]], &ref);
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

void register_move(OpTest *t) {
  t[OP_RESHAPE] = t_reshape;
  t[OP_EXPAND] = t_expand;
  t[OP_TRANSPOSE] = t_transpose;
  t[OP_SLICE] = t_slice;
  t[OP_CONCAT] = t_concat;
  t[OP_GATHER] = t_gather;
  t[OP_PAD] = t_pad;
  t[OP_SCATTER_ADD] = t_scatter_add;
  t[OP_INPUT] = t_input;
  t[OP_PARAM] = t_param;
  t[OP_CONST] = t_const;
  t[OP_IOTA] = t_iota;
  t[OP_DROPOUT] = t_dropout;
  t[OP_ALLREDUCE] = t[OP_REDUCE_SCATTER] = t[OP_ALLGATHER] = t[OP_BROADCAST] = t[OP_OUTER_SYNC] = t_collective;
  t[OP_ALLREDUCE_START] = t[OP_ALLREDUCE_DONE] = t_allreduce_pair;
}
