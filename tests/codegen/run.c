/* run.c — inputs, interpreter runs and kernel calls for the codegen tests (see run.h). */
#include "run.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

static double draw(Domain d, uint64_t key, uint64_t i) {
  double u = rng_uniform(key, i);
  uint64_t bits = rng_u64(key ^ 0x5157, i);
  switch (d) {
  case DOM_POS: return (double)(float)(0.1 + 1.9 * u);
  case DOM_MASK: return (double)(bits & 1);
  case DOM_SMALL: return (double)((int64_t)(bits % 7) - 3);  /* ties for comparisons */
  case DOM_NONZERO_INT: return (double)((int64_t)(bits % 9) + 1) * ((bits >> 8) & 1 ? 1 : -1);
  default: return (double)(float)((bits & 1 ? 1 : -1) * (0.1 + 1.9 * u));
  }
}

void run_inputs(const CgCase *c, int b, uint64_t key, Tensor *inputs, int *n) {
  *n = 0;
  for (int i = 0; i < c->g->nodes.n; i++) {
    const IrNode *nd = &c->g->nodes.v[i];
    if (nd->op != OP_INPUT) continue;
    int64_t shape[IR_MAX_RANK];
    for (int j = 0; j < nd->type.rank; j++) shape[j] = dim_eval(nd->type.d[j], c->bind[b]);
    Tensor *t = &inputs[(*n)++];
    if (!rt_tensor_alloc(t, nd->type.dt, nd->type.rank, shape)) die("out of memory");
    uint64_t k = rng_key(key, (uint64_t)i);
    for (int64_t e = 0; e < t->n; e++) rt_tensor_set(t, e, draw(c->dom[i], k, (uint64_t)e));
  }
}

int run_interp(const CgCase *c, int b, const Tensor *inputs, DType fdt, Tensor *values) {
  InterpCx cx = {.fdt = fdt, .seed = c->seed, .step = c->step, .training = c->training};
  if (!interp_graph(&c->p, c->g, c->bind[b], inputs, NULL, values, &cx)) {
    fprintf(stderr, "NOT OK %s: interpreter: %s\n", c->name, cx.err);
    return 0;
  }
  return 1;
}

void run_free_bufs(Tensor *bufs, int n) {
  for (int i = 0; i < n; i++) rt_tensor_free(&bufs[i]);
}

/* the same symbolic shape (not only under this binding: a row statistic [B, 1] is not an
 * element of x[B, L] where L happens to be 1) */
static int same_type(const IrType *a, const IrType *b) {
  if (a->rank != b->rank) return 0;
  for (int d = 0; d < a->rank; d++)
    if (a->d[d].sym != b->d[d].sym || a->d[d].mul != b->d[d].mul || a->d[d].add != b->d[d].add) return 0;
  return 1;
}

int run_kernel(const CgKernel *k, const CgCase *c, int b, const Tensor *values, int64_t chunk, int inplace,
               Tensor *bufs, char *err, size_t errlen) {
  void *ptrs[CG_MAX_BUFS];
  const int64_t *shapes[CG_MAX_BUFS];
  int64_t dims[CG_MAX_DIMS];
  memset(bufs, 0, sizeof *bufs * (size_t)k->nbufs);
  for (int i = 0; i < k->nbufs; i++) {
    const CgBufInfo *bi = &k->bufs[i];
    int ok;
    if (bi->out) {
      int64_t shape[IR_MAX_RANK];
      for (int j = 0; j < bi->type.rank; j++) shape[j] = dim_eval(bi->type.d[j], c->bind[b]);
      ok = rt_tensor_alloc(&bufs[i], bi->dt, bi->type.rank, shape);
      for (int64_t e = 0; ok && e < bufs[i].n; e++) rt_tensor_set(&bufs[i], e, NAN); /* unwritten shows */
    } else {
      ok = rt_tensor_convert(&values[bi->node], bi->dt, &bufs[i]);
    }
    if (!ok) {
      snprintf(err, errlen, "out of memory");
      run_free_bufs(bufs, k->nbufs);
      return 0;
    }
    ptrs[i] = bufs[i].data;
    shapes[i] = bufs[i].shape;
  }
  CgRun run = {c->seed, c->step, c->training};
  if (!cg_fill_dims(k, shapes, c->bind[b], &run, dims, err, errlen)) {
    run_free_bufs(bufs, k->nbufs);
    return 0;
  }
  /* in place: the first output that has an input of its dtype and (symbolic) shape is written
   * into that input's memory (with several outputs, the kernel's copy for an output equal to
   * an input) */
  int shared = -1, so = -1;
  if (inplace && !c->windows)
    for (int o = k->nin; o < k->nbufs && shared < 0; o++)
      for (int i = 0; i < k->nin && shared < 0; i++)
        if (bufs[i].dt == bufs[o].dt && rt_same_shape(&bufs[i], &bufs[o]) && same_type(&k->bufs[i].type, &k->bufs[o].type))
          shared = i, so = o;
  if (shared >= 0) ptrs[so] = bufs[shared].data;
  int64_t outer = cg_outer(k, dims);
  if (chunk <= 0) chunk = outer > 0 ? outer : 1;
  for (int64_t at = 0; at < outer; at += chunk) k->fn(ptrs, dims, at, at + chunk < outer ? at + chunk : outer);
  if (shared >= 0) memcpy(bufs[so].data, bufs[shared].data, (size_t)bufs[shared].n * (size_t)dtype_size(bufs[shared].dt));
  return shared >= 0 ? 2 : 1;
}

int64_t run_ulps(float a, float b) {
  if (isnan(a) && isnan(b)) return 0;
  if (isnan(a) || isnan(b)) return INT64_MAX;
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  int64_t x = ia < 0 ? (int64_t)INT32_MIN - ia : ia, y = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
  return x > y ? x - y : y - x;
}

int run_kernel_split(const CgKernel *k, const CgCase *c, int b, Tensor *bufs, int64_t chunk, char *err, size_t errlen) {
  void *ptrs[CG_MAX_BUFS];
  const int64_t *shapes[CG_MAX_BUFS];
  int64_t dims[CG_MAX_DIMS];
  for (int i = 0; i < k->nbufs; i++) {
    ptrs[i] = bufs[i].data;
    shapes[i] = bufs[i].shape;
    if (k->bufs[i].out)
      for (int64_t e = 0; e < bufs[i].n; e++) rt_tensor_set(&bufs[i], e, NAN);
  }
  CgRun run = {c->seed, c->step, c->training};
  if (!cg_fill_dims(k, shapes, c->bind[b], &run, dims, err, errlen)) return 0;
  int64_t outer = cg_outer(k, dims), row = cg_split_row(k, dims), at = 0;
  for (int64_t x = chunk;; x += chunk) {
    int64_t to = x >= outer ? outer : row > 0 ? x - x % row % CG_SPLIT_GRAIN : x;
    if (to > at) k->fn(ptrs, dims, at, to), at = to;
    if (x >= outer) break;
  }
  return 1;
}
