/* fast.c — dispatch of the fast f32 kernels (fast.h) and their shared helpers. */
#include "fast_internal.h"

int fast_bcast_strides(const Tensor *x, int r, const int64_t *shape, int64_t *st) {
  if (x->rank > r) return 0;
  int64_t s = 1;
  for (int i = r - 1, j = x->rank - 1; i >= 0; i--, j--) {
    if (j < 0) {
      st[i] = 0;
      continue;
    }
    if (x->shape[j] == shape[i])
      st[i] = shape[i] == 1 ? 0 : s;
    else if (x->shape[j] == 1)
      st[i] = 0;
    else
      return 0;
    s *= x->shape[j];
  }
  return 1;
}

int fast_collapse(int r, int64_t *shape, int n, int64_t **strides) {
  /* drop size-1 dims first (their strides do not matter) */
  int w = 0;
  for (int i = 0; i < r; i++) {
    if (shape[i] == 1) continue;
    shape[w] = shape[i];
    for (int k = 0; k < n; k++) strides[k][w] = strides[k][i];
    w++;
  }
  if (w == 0) {
    shape[0] = 1;
    for (int k = 0; k < n; k++) strides[k][0] = 0;
    return 1;
  }
  r = w;
  w = 0;
  for (int i = 1; i < r; i++) {
    int ok = 1;
    for (int k = 0; k < n && ok; k++) ok = strides[k][w] == strides[k][i] * shape[i];
    if (ok) {
      shape[w] *= shape[i];
      for (int k = 0; k < n; k++) strides[k][w] = strides[k][i];
    } else {
      w++;
      shape[w] = shape[i];
      for (int k = 0; k < n; k++) strides[k][w] = strides[k][i];
    }
  }
  return w + 1;
}

int fast_alloc_out(FastCx *c, DType dt) {
  if (rt_tensor_alloc_raw(c->out, dt, c->orank, c->oshape)) return 1;
  snprintf(c->err, c->errlen, "out of memory");
  return 0;
}

int fast_alloc_out_zeroed(FastCx *c, DType dt) {
  if (rt_tensor_alloc(c->out, dt, c->orank, c->oshape)) return 1;
  snprintf(c->err, c->errlen, "out of memory");
  return 0;
}

int fast_node(const IrProgram *p, const IrGraph *g, int node, const int64_t *symvals, const Tensor *const *ins,
              Tensor *out, char *err, size_t errlen) {
  return fast_node_lse(p, g, node, symvals, ins, out, NULL, err, errlen);
}

int fast_node_lse(const IrProgram *p, const IrGraph *g, int node, const int64_t *symvals, const Tensor *const *ins,
                  Tensor *out, FastLse *lse, char *err, size_t errlen) {
  const IrNode *n = &g->nodes.v[node];
  (void)p;
  if (n->type.dt != DT_F32 && n->type.dt != DT_I32) return -1;
  for (int i = 0; i < n->nin; i++) {
    DType want = g->nodes.v[n->in[i]].type.dt;
    if (ins[i]->dt != want || (want != DT_F32 && want != DT_I32)) return -1;
  }
  int64_t shape[IR_MAX_RANK];
  for (int i = 0; i < n->type.rank; i++) shape[i] = dim_eval(n->type.d[i], symvals);
  FastCx c = {n, ins, out, shape, n->type.rank, err, errlen, lse};
  unsigned f = op_info(n->op)->flags;
  if (f & F_EW) return fast_ew(&c);
  if (f & F_REDUCE) return fast_reduce(&c);
  if ((f & F_NORM) || (f & F_LOSS)) return fast_rows(&c); /* the cross-entropies */
  if (n->op == OP_SOFTMAX_ATTENTION) return fast_attention(&c);
  if (n->op == OP_SOFTMAX_ATTENTION_GRAD) return fast_attention_grad(&c);
  if (f & F_ATTN) return fast_linear_attention(&c); /* the three linear-attention ops */
  if ((f & F_MOVE) || n->op == OP_SCATTER_ADD) return fast_move(&c);
  return -1;
}
