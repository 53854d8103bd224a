/* grad_util.c — the node builders gradient rules use (grad.h): each emits one primitive node
 * into the graph being differentiated, tags it with the forward node's location and owner
 * (so views group backward nodes with their module), and runs its shape rule. A shape rule
 * failing here is a bug in a gradient rule, never bad input: it dies with the op and message.
 * Also the shape helpers: un-broadcasting a gradient and element counts (symbolic or not).
 */
#include "grad.h"

#include <math.h>

IrGraph *gx_graph(GradCx *c) { return &c->p->graphs.v[c->graph]; }
IrNode gx_node(GradCx *c, int id) { return gx_graph(c)->nodes.v[id]; }
IrType gx_ty(GradCx *c, int id) { return gx_graph(c)->nodes.v[id].type; }

/* Copy the attributes of `like` that the new node's op has under the same name. */
static void copy_attrs(IrNode *n, const IrNode *like) {
  const OpInfo *oi = op_info(n->op), *li = op_info(like->op);
  for (int k = 0; k < oi->nattrs; k++) {
    int j = op_attr_index(like->op, oi->attrs[k].name);
    if (j >= 0 && li->attrs[j].kind == oi->attrs[k].kind) n->attr[k] = like->attr[j];
  }
}

/* Two phases: begin adds the node (default attributes) so the caller can set attributes on
 * gx_graph(c)->nodes.v[id]; end tags and infers it. */
static int op_begin(GradCx *c, Op op, int nin, const int *in) { return ir_node_add(c->p, gx_graph(c), op, nin, in); }

static int op_end(GradCx *c, int id, const IrType *decl) {
  IrGraph *g = gx_graph(c);
  IrNode *n = &g->nodes.v[id];
  const IrNode *fw = &g->nodes.v[c->cur];
  n->loc = fw->loc;
  n->owner = fw->owner;
  n->owner_path = fw->owner_path;
  if (decl) n->type = *decl;
  char err[512];
  if (!ir_infer(c->p, g, id, err, sizeof err))
    die("autodiff: the gradient of %s (node %d) builds an ill-typed %s: %s", op_info(fw->op)->name, c->cur,
        op_info(n->op)->name, err);
  return id;
}

int gx_op(GradCx *c, Op op, int nin, const int *in, const IrNode *like, const IrType *decl) {
  int id = op_begin(c, op, nin, in);
  if (like) copy_attrs(&gx_graph(c)->nodes.v[id], like);
  return op_end(c, id, decl);
}

int gx_un(GradCx *c, Op op, int x) { return gx_op(c, op, 1, &x, NULL, NULL); }
int gx_bin(GradCx *c, Op op, int a, int b) { return gx_op(c, op, 2, (int[]){a, b}, NULL, NULL); }

int gx_fill(GradCx *c, double v, IrType t) {
  int id = op_begin(c, OP_CONST, 0, NULL);
  ir_set_f(&gx_graph(c)->nodes.v[id], "value", v);
  return op_end(c, id, &t);
}

int gx_const(GradCx *c, double v, DType dt) {
  for (int i = 0; i < c->consts.n; i++) {
    const IrNode *n = &gx_graph(c)->nodes.v[c->consts.v[i]];
    double u = ir_get_f(n, "value");
    if (n->type.dt == dt && u == v && signbit(u) == signbit(v)) return c->consts.v[i];
  }
  int id = gx_fill(c, v, (IrType){.dt = dt, .rank = 0});
  vec_push(c->p->arena, c->consts, id);
  return id;
}

int gx_iota(GradCx *c, IrType t, int axis) {
  int id = op_begin(c, OP_IOTA, 0, NULL);
  ir_set_i(&gx_graph(c)->nodes.v[id], "axis", axis);
  return op_end(c, id, &t);
}

int gx_add(GradCx *c, int a, int b) { return gx_bin(c, OP_ADD, a, b); }
int gx_sub(GradCx *c, int a, int b) { return gx_bin(c, OP_SUB, a, b); }
int gx_mul(GradCx *c, int a, int b) { return gx_bin(c, OP_MUL, a, b); }
int gx_div(GradCx *c, int a, int b) { return gx_bin(c, OP_DIV, a, b); }
int gx_neg(GradCx *c, int x) { return gx_un(c, OP_NEG, x); }
int gx_mulc(GradCx *c, int x, double v) { return gx_mul(c, x, gx_const(c, v, gx_ty(c, x).dt)); }
int gx_rsubc(GradCx *c, double v, int x) { return gx_sub(c, gx_const(c, v, gx_ty(c, x).dt), x); }

int gx_cast(GradCx *c, int x, DType dt) {
  if (gx_ty(c, x).dt == dt) return x;
  int id = op_begin(c, OP_CAST, 1, &x);
  if (!ir_set_enum(&gx_graph(c)->nodes.v[id], "to", dtype_name(dt))) die("autodiff: cast to %s", dtype_name(dt));
  return op_end(c, id, NULL);
}

int gx_cmp(GradCx *c, Op cmp, int a, int b, DType dt) { return gx_cast(c, gx_bin(c, cmp, a, b), dt); }

int gx_where(GradCx *c, int cond, int a, int b) { return gx_op(c, OP_WHERE, 3, (int[]){cond, a, b}, NULL, NULL); }

int gx_reduce(GradCx *c, Op op, int x, int naxes, const int64_t *axes, int keepdim) {
  int id = op_begin(c, op, 1, &x);
  IrNode *n = &gx_graph(c)->nodes.v[id];
  ir_set_ints(c->p, n, "axes", axes, naxes);
  if (keepdim) ir_set_i(n, "keepdim", 1);
  return op_end(c, id, NULL);
}

int gx_sum_axis(GradCx *c, int x, int axis) {
  int64_t a = axis;
  return gx_reduce(c, OP_REDUCE_SUM, x, 1, &a, 1);
}

int gx_reshape(GradCx *c, int x, IrType t) {
  IrType xt = gx_ty(c, x);
  return type_eq(&xt, &t) ? x : gx_op(c, OP_RESHAPE, 1, &x, NULL, &t);
}

int gx_expand(GradCx *c, int x, IrType t) {
  IrType xt = gx_ty(c, x);
  return type_eq(&xt, &t) ? x : gx_op(c, OP_EXPAND, 1, &x, NULL, &t);
}

int gx_transpose(GradCx *c, int x, int n, const int64_t *perm) {
  int id = op_begin(c, OP_TRANSPOSE, 1, &x);
  ir_set_ints(c->p, &gx_graph(c)->nodes.v[id], "perm", perm, n);
  return op_end(c, id, NULL);
}

int gx_matmul(GradCx *c, int a, int b, int ta, int tb) {
  int id = op_begin(c, OP_MATMUL, 2, (int[]){a, b});
  IrNode *n = &gx_graph(c)->nodes.v[id];
  if (ta) ir_set_i(n, "ta", 1);
  if (tb) ir_set_i(n, "tb", 1);
  return op_end(c, id, NULL);
}

int gx_slice(GradCx *c, int x, int axis, int64_t start, int end_set, int64_t end, int64_t step) {
  int id = op_begin(c, OP_SLICE, 1, &x);
  IrNode *n = &gx_graph(c)->nodes.v[id];
  ir_set_i(n, "axis", axis);
  if (start) ir_set_i(n, "start", start);
  if (end_set) ir_set_i(n, "end", end);
  if (step != 1) ir_set_i(n, "step", step);
  return op_end(c, id, NULL);
}

int gx_unbroadcast(GradCx *c, int g, const IrType *to) {
  IrType gt = gx_ty(c, g);
  if (type_eq(&gt, to)) return g;
  int lead = gt.rank - to->rank, n = 0;
  int64_t axes[IR_MAX_RANK];
  if (lead < 0 || gt.dt != to->dt) die("autodiff: cannot un-broadcast a gradient to a larger type");
  for (int i = 0; i < gt.rank; i++)
    if (i < lead || !dim_eq(gt.d[i], to->d[i - lead])) axes[n++] = i;
  if (n) g = gx_reduce(c, OP_REDUCE_SUM, g, n, axes, 0);
  return gx_reshape(c, g, *to);
}

int gx_count(GradCx *c, const IrType *t, int naxes, const int *axes, DType dt) {
  IrType sym = {.dt = dt}; /* the symbolic dims: their count needs a reduction at run time */
  int all = naxes < 0, n = all ? t->rank : naxes;
  double k = 1;
  for (int i = 0; i < n; i++) {
    Dim d = t->d[all ? i : axes[i]];
    if (dim_is_const(d))
      k *= (double)d.add;
    else
      sym.d[sym.rank++] = d;
  }
  if (!sym.rank) return gx_const(c, k, dt);
  int64_t ax[IR_MAX_RANK];
  for (int i = 0; i < sym.rank; i++) ax[i] = i;
  int cnt = gx_reduce(c, OP_REDUCE_SUM, gx_fill(c, 1.0, sym), sym.rank, ax, 0);
  return k == 1 ? cnt : gx_mulc(c, cnt, k);
}

IrType gx_keep_type(const IrType *t, int naxes, const int64_t *axes) {
  IrType k = *t;
  for (int i = 0; i < naxes; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + t->rank : axes[i];
    if (a >= 0 && a < t->rank) k.d[a] = dim_const(1);
  }
  return k;
}
