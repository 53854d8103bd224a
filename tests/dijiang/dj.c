/* dj.c — helpers of the DiJiang tests (dj.h). */
#include "dj.h"

#include <stdlib.h>

#include "fast/fast.h"
#include "rng.h"

void dj_begin(Dj *t) {
  memset(t, 0, sizeof *t);
  arena_init(&t->a);
  ir_program_init(&t->p, &t->a);
  ir_graph_add(&t->p, "t", 0, NULL);
}

void dj_end(Dj *t) {
  for (int i = 0; i < t->nx; i++) rt_tensor_free(&t->x[i]);
  arena_free(&t->a);
}

int dj_input(Dj *t, DType dt, int rank, const int64_t *shape, uint64_t seed, double lo, double hi) {
  IrType ty = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) ty.d[i] = dim_const(shape[i]);
  char name[16];
  snprintf(name, sizeof name, "x%d", t->nx);
  int k = t->nx++;
  t->xnode[k] = ir_input_add(&t->p, &t->p.graphs.v[0], name, ty);
  rt_tensor_alloc(&t->x[k], DT_F32, rank, shape);
  uint64_t key = rng_key(seed, 0xd1);
  for (int64_t i = 0; i < t->x[k].n; i++)
    rt_tensor_set(&t->x[k], i, rt_round_to(dt, lo + (hi - lo) * rng_uniform(key, (uint64_t)i)));
  return k;
}

static void set_attr(IrNode *n, const char *key, const char *val) {
  int k = op_attr_index(n->op, key);
  if (k < 0) die("dj: %s has no attribute %s", op_info(n->op)->name, key);
  const AttrSpec *s = &op_info(n->op)->attrs[k];
  if (s->kind == AK_ENUM) {
    if (!ir_set_enum(n, key, val)) die("dj: %s is not a word of %s", val, key);
  } else if (s->kind == AK_FLOAT) {
    ir_set_f(n, key, atof(val));
  } else {
    ir_set_i(n, key, atoll(val));
  }
}

int dj_node(Dj *t, Op op, int nin, const int *xs, const char *attrs) {
  IrGraph *g = &t->p.graphs.v[0];
  int in[DJ_MAX_IN];
  for (int i = 0; i < nin; i++) in[i] = t->xnode[xs[i]];
  t->node = ir_node_add(&t->p, g, op, nin, in);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", attrs ? attrs : "");
  for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
    char *eq = strchr(tok, '=');
    if (!eq) die("dj: bad attribute '%s'", tok);
    *eq = 0;
    set_attr(&g->nodes.v[t->node], tok, eq + 1);
  }
  char err[512];
  if (!ir_infer(&t->p, g, t->node, err, sizeof err)) {
    fprintf(stderr, "dj: %s\n", err);
    return 0;
  }
  return 1;
}

int dj_run(Dj *t, int node, int fast, DType fdt, Tensor *out) {
  const IrGraph *g = &t->p.graphs.v[0];
  const IrNode *n = &g->nodes.v[node];
  const Tensor *ins[DJ_MAX_IN];
  for (int j = 0; j < n->nin; j++)
    for (int k = 0; k < t->nx; k++)
      if (t->xnode[k] == n->in[j]) ins[j] = &t->x[k];
  memset(out, 0, sizeof *out);
  if (fast) {
    char err[256] = "";
    int r = fast_node(&t->p, g, node, NULL, ins, out, err, sizeof err);
    if (r != 1) fprintf(stderr, "dj: fast %s: %s\n", op_info(n->op)->name, r < 0 ? "declined" : err);
    return r == 1;
  }
  InterpCx cx = {.fdt = fdt};
  int ok = interp_node(&t->p, g, node, NULL, ins, out, &cx);
  if (!ok) fprintf(stderr, "dj: interp: %s\n", cx.err);
  return ok;
}

double dj_diff(const Tensor *got, const Tensor *ref) {
  if (!rt_same_shape(got, ref)) return INFINITY;
  double m = 1e-30, d = 0;
  for (int64_t i = 0; i < ref->n; i++) m = fmax(m, fabs(rt_tensor_get(ref, i)));
  for (int64_t i = 0; i < ref->n; i++) {
    double a = rt_tensor_get(got, i), b = rt_tensor_get(ref, i);
    if (!isfinite(a) || !isfinite(b)) return INFINITY;
    d = fmax(d, fabs(a - b));
  }
  return d / m;
}

int dj_finite(const Tensor *t) {
  for (int64_t i = 0; i < t->n; i++)
    if (!isfinite(rt_tensor_get(t, i))) return 0;
  return 1;
}

/* positions are axis 2 of [B, H, S, E] and of [B, H, S] (E = 1) */
Tensor dj_slice2(const Tensor *x, int64_t from, int64_t to) {
  Tensor r;
  int64_t E = x->rank == 4 ? x->shape[3] : 1, s[4] = {x->shape[0], x->shape[1], to - from, E};
  rt_tensor_alloc(&r, x->dt, x->rank, s);
  for (int64_t bh = 0; bh < s[0] * s[1]; bh++)
    for (int64_t t = from; t < to; t++)
      for (int64_t e = 0; e < E; e++)
        rt_tensor_set(&r, (bh * s[2] + t - from) * E + e, rt_tensor_get(x, (bh * x->shape[2] + t) * E + e));
  return r;
}

void dj_put2(Tensor *dst, const Tensor *src, int64_t at) {
  int64_t S = dst->shape[2], L = src->shape[2], E = src->rank == 4 ? src->shape[3] : 1;
  for (int64_t bh = 0; bh < src->shape[0] * src->shape[1]; bh++)
    for (int64_t t = 0; t < L; t++)
      for (int64_t e = 0; e < E; e++)
        rt_tensor_set(dst, (bh * S + at + t) * E + e, rt_tensor_get(src, (bh * L + t) * E + e));
}
