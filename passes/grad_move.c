/* grad_move.c — gradient rules of the movement ops: each is the inverse movement of g.
 *
 *   reshape      reshape g back              expand       sum g over the broadcast axes
 *   transpose    the inverse permutation     slice        pad (zeros outside the slice)
 *   pad          the same slice              concat       one slice of g per operand
 *   gather       scatter_add of g rows into the table's shape (repeated ids add up)
 *   scatter_add  gather of g rows
 *   trim_gather  untrim_scatter of g (DEPT TRIM)      untrim_scatter  trim_gather of g
 */
#include "grad.h"

int grad_RESHAPE(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  gx_acc(c, x, gx_reshape(c, g, gx_ty(c, x)));
  return 1;
}

int grad_EXPAND(GradCx *c, int y, int g) {
  int x = gx_node(c, y).in[0];
  IrType xt = gx_ty(c, x);
  gx_acc(c, x, gx_unbroadcast(c, g, &xt));
  return 1;
}

int grad_TRANSPOSE(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  const AttrVal *perm = ir_get(&n, "perm");
  int64_t inv[IR_MAX_RANK];
  for (int i = 0; i < perm->n; i++) inv[perm->ints[i]] = i;
  gx_acc(c, n.in[0], gx_transpose(c, g, perm->n, inv));
  return 1;
}

int grad_SLICE(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  IrType xt = gx_ty(c, n.in[0]);
  gx_acc(c, n.in[0], gx_op(c, OP_PAD, 1, &g, &n, &xt));
  return 1;
}

int grad_PAD(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  gx_acc(c, n.in[0], gx_op(c, OP_SLICE, 1, &g, &n, NULL));
  return 1;
}

/* Operand k of concat along axis: the slice [P, P + L) of g, with P the length before it, L
 * its own and A the length after it. A slice takes constant offsets counted from either end
 * (on a symbolic axis: start >= 0, or start < 0 with a negative or no end), so P or L + A
 * must be constant, and A or P + L. */
int grad_CONCAT(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  IrType yt = gx_ty(c, y);
  int axis = (int)ir_get_i(&n, "axis");
  if (axis < 0) axis += yt.rank;
  Dim total = yt.d[axis];
  for (int k = 0; k < n.nin; k++) {
    if (!gx_active(c, n.in[k])) continue;
    Dim P = dim_const(0), A = dim_const(0), L = gx_ty(c, n.in[k]).d[axis], PL, LA;
    int ok = 1;
    for (int j = 0; j < n.nin; j++)
      if (j != k) ok &= j < k ? dim_sum(P, gx_ty(c, n.in[j]).d[axis], &P) : dim_sum(A, gx_ty(c, n.in[j]).d[axis], &A);
    if (!ok || !dim_sum(P, L, &PL) || !dim_sum(L, A, &LA)) die("autodiff: concat dims in several symbols");
    int64_t start, end = 0;
    int end_set = 0;
    if (dim_is_const(P))
      start = P.add;
    else if (dim_is_const(LA))
      start = -LA.add;
    else
      return gx_error(c, "the gradient of operand %d is a slice at a symbolic offset, which the IR cannot "
                         "express yet", k);
    if (dim_is_const(PL) && start >= 0 && !dim_eq(PL, total))
      end_set = 1, end = PL.add;
    else if (dim_is_const(A))
      end_set = A.add != 0, end = -A.add;
    else if (!dim_eq(PL, total))
      return gx_error(c, "the gradient of operand %d is a slice at a symbolic offset, which the IR cannot "
                         "express yet", k);
    gx_acc(c, n.in[k], gx_slice(c, g, axis, start, end_set, end, 1));
  }
  return 1;
}

/* gather(table, ids): the table's gradient is scatter_add(ids, g) : table's type */
int grad_GATHER(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  IrType tt = gx_ty(c, n.in[0]);
  gx_acc(c, n.in[0], gx_op(c, OP_SCATTER_ADD, 2, (int[]){n.in[1], g}, NULL, &tt));
  return 1;
}

/* scatter_add(ids, src): src's gradient is gather(g, ids) */
int grad_SCATTER_ADD(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  gx_acc(c, n.in[1], gx_bin(c, OP_GATHER, g, n.in[0]));
  return 1;
}

/* trim_gather(table, rows): the table's gradient is untrim_scatter(g, rows) : table's type
 * (zero on the rows the source does not use) */
int grad_TRIM_GATHER(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  IrType tt = gx_ty(c, n.in[0]);
  gx_acc(c, n.in[0], gx_op(c, OP_UNTRIM_SCATTER, 2, (int[]){g, n.in[1]}, NULL, &tt));
  return 1;
}

/* untrim_scatter(x, rows): x's gradient is trim_gather(g, rows) */
int grad_UNTRIM_SCATTER(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  gx_acc(c, n.in[0], gx_bin(c, OP_TRIM_GATHER, g, n.in[1]));
  return 1;
}
