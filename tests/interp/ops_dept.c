/* ops_dept.c — DEPT's trimmed-vocabulary ops against float64 references (test_ops.c):
 * trim_gather (the rows of a table an index map names) and untrim_scatter (their way back,
 * zero elsewhere), on random index maps (strictly ascending subsets of 0..V-1, the count K
 * symbolic), tables of rank 1 to 3; and the error for a map that is not an index map.
 */
#include <stdio.h>

#include "harness.h"

static IrType ty(DType dt, int rank, const Dim *d) {
  IrType t = {dt, rank, {{0}}};
  for (int i = 0; i < rank; i++) t.d[i] = d[i];
  return t;
}

/* A random strictly ascending subset of 0..V-1 with at least one element; its size. */
static int64_t random_rows(int32_t *rows, int64_t V) {
  int64_t K = 0;
  for (int64_t v = 0; v < V; v++)
    if (h_int(0, 2)) rows[K++] = (int32_t)v;
  if (!K) rows[K++] = (int32_t)h_int(0, V - 1);
  return K;
}

static void t_trim(Op op) {
  for (int rep = 0; rep < 8; rep++) {
    int tr = (int)h_int(1, 3);
    int64_t V = h_int(1, 9), ts[3] = {V, h_int(1, 4), h_int(1, 3)}, ks[3], idx[3];
    int32_t rows[16];
    int64_t K = random_rows(rows, V);
    ks[0] = K, ks[1] = ts[1], ks[2] = ts[2];
    Case c;
    case_begin(&c, op, "table rank %d (V=%lld, K=%lld)", tr, (long long)V, (long long)K);
    Dim kd = case_sym(&c, "K", K);
    Dim td[3] = {dim_const(V), dim_const(ts[1]), dim_const(ts[2])}, xd[3] = {kd, td[1], td[2]};
    int r = case_in(&c, DT_I32, 1, &kd), x;
    for (int64_t i = 0; i < K; i++) h_i(&c.x[r])[i] = rows[i];
    Tensor ref;
    if (op == OP_TRIM_GATHER) {
      x = case_in(&c, DT_F32, tr, td);
      case_op(&c, op, 2, (int[]){x, r});
      h_alloc(&ref, DT_F64, tr, ks);
      for (int64_t i = 0; i < ref.n; i++) { /* y[k, ...] = table[rows[k], ...] */
        h_unflat(i, tr, ks, idx);
        idx[0] = rows[idx[0]];
        h_f(&ref)[i] = h_f(&c.x[x])[h_flat(tr, ts, idx)];
      }
    } else {
      x = case_in(&c, DT_F32, tr, xd);
      case_op(&c, op, 2, (int[]){x, r})->type = ty(DT_F32, tr, td);
      h_alloc(&ref, DT_F64, tr, ts); /* zeros, then y[rows[k], ...] = x[k, ...] */
      for (int64_t i = 0; i < c.x[x].n; i++) {
        h_unflat(i, tr, ks, idx);
        int64_t k = idx[0];
        idx[0] = rows[k];
        h_f(&ref)[h_flat(tr, ts, idx)] = h_f(&c.x[x])[i];
      }
    }
    if (case_infer(&c))
      case_check(&c, &ref);
    else
      rt_tensor_free(&ref);
    case_end(&c);
  }
  /* a map that is not strictly ascending is refused, naming the entry */
  Case c;
  case_begin(&c, op, "rows [0, 2, 2]");
  Dim kd = case_sym(&c, "K", 3), td[2] = {dim_const(4), dim_const(2)}, xd[2] = {kd, dim_const(2)};
  int r = case_in(&c, DT_I32, 1, &kd);
  h_i(&c.x[r])[0] = 0, h_i(&c.x[r])[1] = 2, h_i(&c.x[r])[2] = 2;
  int x = case_in(&c, DT_F32, 2, op == OP_TRIM_GATHER ? td : xd);
  IrNode *n = case_op(&c, op, 2, (int[]){x, r});
  if (op == OP_UNTRIM_SCATTER) n->type = ty(DT_F32, 2, td);
  if (case_infer(&c)) {
    Tensor out = {0};
    InterpCx cx = {DT_F64, 0, 0, 0, {0}};
    if (case_run(&c, DT_F64, &out, &cx) || !strstr(cx.err, "strictly ascending") || !strstr(cx.err, "rows[2] = 2"))
      h_fail("%s: a repeated row must be an error naming rows[2], got '%s'", op_info(op)->name, cx.err);
    rt_tensor_free(&out);
  }
  case_end(&c);
}

void register_dept(OpTest *t) { t[OP_TRIM_GATHER] = t[OP_UNTRIM_SCATTER] = t_trim; }
