/* grad_linalg.c — gradient rules of the reductions and the matrix product.
 *
 *   reduce_sum   dx = expand(g as keepdim)
 *   reduce_mean  dx = expand(g as keepdim) / count        (count symbolic when its dims are)
 *   reduce_max   dx = expand(g) * [x == max] / (number of maxima): ties share evenly
 *   matmul       y = op(a) @ op(b) (op: ta/tb transposes); da, db are matmuls of g with the
 *                other operand (ta/tb chosen so no transpose is materialised), summed over the
 *                batch dims the operand was broadcast along
 */
#include "grad.h"

/* The reduced axes (as given) and the keepdim-shaped gradient g_k. */
static int keep_grad(GradCx *c, const IrNode *n, int g, const IrType *xt) {
  const AttrVal *axes = ir_get(n, "axes");
  if (ir_get_i(n, "keepdim")) return g;
  return gx_reshape(c, g, gx_keep_type(xt, axes->n, axes->ints));
}

int grad_REDUCE_SUM(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  IrType xt = gx_ty(c, n.in[0]);
  gx_acc(c, n.in[0], gx_expand(c, keep_grad(c, &n, g, &xt), xt));
  return 1;
}

int grad_REDUCE_MEAN(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  IrType xt = gx_ty(c, n.in[0]);
  const AttrVal *axes = ir_get(&n, "axes");
  int ax[IR_MAX_RANK];
  for (int i = 0; i < axes->n && i < IR_MAX_RANK; i++)
    ax[i] = (int)(axes->ints[i] < 0 ? axes->ints[i] + xt.rank : axes->ints[i]);
  int cnt = gx_count(c, &xt, axes->n, ax, xt.dt);
  gx_acc(c, n.in[0], gx_expand(c, gx_div(c, keep_grad(c, &n, g, &xt), cnt), xt));
  return 1;
}

int grad_REDUCE_MAX(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int x = n.in[0];
  IrType xt = gx_ty(c, x);
  const AttrVal *axes = ir_get(&n, "axes");
  int yk = keep_grad(c, &n, y, &xt), gk = keep_grad(c, &n, g, &xt);
  int hit = gx_cmp(c, OP_EQ, x, yk, xt.dt);
  int nhit = gx_reduce(c, OP_REDUCE_SUM, hit, axes->n, axes->ints, 1);
  gx_acc(c, x, gx_mul(c, hit, gx_div(c, gk, nhit)));
  return 1;
}

/* a[..., M, K] (ta: [..., K, M]), b[..., K, N] (tb: [..., N, K]), g[..., M, N]:
 *   ta tb   da                 db
 *   0  0    g @ b^T            a^T @ g
 *   0  1    g @ b              g^T @ a
 *   1  0    b @ g^T            a @ g
 *   1  1    b^T @ g^T          g^T @ a^T */
int grad_MATMUL(GradCx *c, int y, int g) {
  IrNode n = gx_node(c, y);
  int a = n.in[0], b = n.in[1], ta = (int)ir_get_i(&n, "ta"), tb = (int)ir_get_i(&n, "tb");
  if (gx_active(c, a)) {
    int da = !ta ? (!tb ? gx_matmul(c, g, b, 0, 1) : gx_matmul(c, g, b, 0, 0))
                 : (!tb ? gx_matmul(c, b, g, 0, 1) : gx_matmul(c, b, g, 1, 1));
    IrType at = gx_ty(c, a);
    gx_acc(c, a, gx_unbroadcast(c, da, &at));
  }
  if (gx_active(c, b)) {
    int db = !tb ? (!ta ? gx_matmul(c, a, g, 1, 0) : gx_matmul(c, a, g, 0, 0))
                 : (!ta ? gx_matmul(c, g, a, 1, 0) : gx_matmul(c, g, a, 1, 1));
    IrType bt = gx_ty(c, b);
    gx_acc(c, b, gx_unbroadcast(c, db, &bt));
  }
  return 1;
}
