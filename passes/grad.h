/* grad.h — internal to autodiff: the context a gradient rule receives, the node builders the
 * rules share (grad_util.c), and one rule prototype per op generated from ir/ops.def.
 *
 * Contract of a rule `int grad_<ID>(GradCx *c, int node, int gy)`: node is a forward node of
 * op ID that carries a gradient, gy the node holding d loss / d node (the node's type). The
 * rule emits nodes (gx_* below: every one is shape-inferred, and a failure there is an
 * internal bug that dies) and hands each operand its gradient with gx_acc, which ignores
 * operands that carry none (ints, constants, inputs, frozen parameters...). It returns 1, or
 * 0 after reporting to the Diag with gx_error (ops that are not differentiable yet).
 *
 * Node pointers move when a node is added: rules copy what they need first (IrNode by value,
 * types with gx_ty) and refer to nodes by index. Rules make nodes one statement at a time:
 * never two node-making calls as arguments of one call, whose order C leaves open (the
 * printed IR must not depend on the compiler).
 */
#ifndef MAMC_PASSES_GRAD_H
#define MAMC_PASSES_GRAD_H

#include "autodiff.h"

typedef struct GradCx {
  IrProgram *p;
  int graph;
  Diag *d;
  Vec(int) grad;              /* per node: the node holding its gradient, -1 none yet */
  Vec(unsigned char) active;  /* per node: depends on a differentiated value (float only) */
  int cur;                    /* the forward node whose rule runs (location and owner) */
  Vec(int) consts;            /* scalar constants made so far, reused by gx_const */
} GradCx;

/* ---- the sweep (autodiff.c) ---- */
int gx_active(GradCx *c, int node);
/* Add g (exactly node's type) to node's gradient; nothing if node is not active. */
void gx_acc(GradCx *c, int node, int g);
/* Differentiate a subgraph the rule just emitted (nodes first .. out, recomputing a fused op
 * with primitives): seeds out with g and sweeps back to first; operands before `first`
 * receive their gradients through gx_acc. 0 if a rule failed. */
int gx_backprop(GradCx *c, int first, int out, int g);
/* Report "task @t(a): %N: op: message" at the current node; returns 0. */
int gx_error(GradCx *c, const char *fmt, ...) MAMC_PRINTF(2, 3);

/* ---- builders (grad_util.c) ---- */
IrGraph *gx_graph(GradCx *c);
IrNode gx_node(GradCx *c, int id); /* a copy */
IrType gx_ty(GradCx *c, int id);
/* A node of op on in[] with default attributes (attributes of `like`, by name, when given),
 * declared type *decl when given; shape-inferred. */
int gx_op(GradCx *c, Op op, int nin, const int *in, const IrNode *like, const IrType *decl);
int gx_un(GradCx *c, Op op, int x);
int gx_bin(GradCx *c, Op op, int a, int b);
int gx_const(GradCx *c, double v, DType dt);        /* a scalar (one node per value and dtype) */
int gx_fill(GradCx *c, double v, IrType t);         /* every element v */
int gx_iota(GradCx *c, IrType t, int axis);
int gx_add(GradCx *c, int a, int b);
int gx_sub(GradCx *c, int a, int b);
int gx_mul(GradCx *c, int a, int b);
int gx_div(GradCx *c, int a, int b);
int gx_neg(GradCx *c, int x);
int gx_mulc(GradCx *c, int x, double v);            /* x * v */
int gx_rsubc(GradCx *c, double v, int x);           /* v - x */
/* a cmp b (F_CMP op) as 0/1 in dtype dt (a cast when dt is not f32) */
int gx_cmp(GradCx *c, Op cmp, int a, int b, DType dt);
int gx_where(GradCx *c, int cond, int a, int b);
int gx_reduce(GradCx *c, Op op, int x, int naxes, const int64_t *axes, int keepdim);
int gx_sum_axis(GradCx *c, int x, int axis);        /* reduce_sum over one axis, keepdim */
int gx_reshape(GradCx *c, int x, IrType t);         /* x itself when already of type t */
int gx_expand(GradCx *c, int x, IrType t);          /* x itself when already of type t */
int gx_transpose(GradCx *c, int x, int n, const int64_t *perm);
int gx_matmul(GradCx *c, int a, int b, int ta, int tb);
int gx_cast(GradCx *c, int x, DType dt);            /* x itself when already dt */
/* slice {axis, start[, end], step}; end_set 0 leaves end unset */
int gx_slice(GradCx *c, int x, int axis, int64_t start, int end_set, int64_t end, int64_t step);
/* g has a type that `to` broadcasts to: sum it back to exactly `to`. */
int gx_unbroadcast(GradCx *c, int g, const IrType *to);
/* A scalar of dtype dt: the number of elements of t over the given axes (all when naxes < 0). */
int gx_count(GradCx *c, const IrType *t, int naxes, const int *axes, DType dt);
/* t with the given axes set to 1 (keepdim shape of a reduction) */
IrType gx_keep_type(const IrType *t, int naxes, const int64_t *axes);

/* ---- rules: grad_ew.c, grad_linalg.c, grad_move.c, grad_nn.c, grad_attn.c ---- */
#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) int grad_##ID(GradCx *c, int node, int gy);
#include "ops.def"

#endif
