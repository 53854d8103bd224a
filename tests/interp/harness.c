/* harness.c — the op-test harness: seeded random values, naive index arithmetic for the
 * references, one-op graphs, and the f64/f32 comparison with OK / NOT OK lines. See harness.h.
 */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "rng.h"

/* test-only state: the random stream and the tallies */
static struct {
  uint64_t seed, ctr;
  int init;
  int fails, checks;
  int op_fails;
  double op_d64, op_d32;
  int op_cases;
} H;

uint64_t h_seed(void) {
  if (!H.init) {
    const char *s = getenv("MAMC_TEST_SEED");
    H.seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    H.init = 1;
  }
  return H.seed;
}

uint64_t h_u64(void) { return rng_u64(rng_key(h_seed(), 0x5eed), H.ctr++); }
double h_unit(void) { return (double)(h_u64() >> 11) * (1.0 / 9007199254740992.0); }
int64_t h_int(int64_t lo, int64_t hi) { return lo + (int64_t)(h_u64() % (uint64_t)(hi - lo + 1)); }
double h_pos(void) { return (double)(float)(0.1 + 1.9 * h_unit()); }
double h_val(void) { return (h_u64() & 1) ? h_pos() : -h_pos(); }

double h_bf16(double v) { /* RNE on the f32 bit pattern (v is f32-exact) */
  float f = (float)v;
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy(&f, &u, sizeof f);
  return f;
}

int64_t h_flat(int rank, const int64_t *shape, const int64_t *idx) {
  int64_t f = 0;
  for (int i = 0; i < rank; i++) f = f * shape[i] + idx[i];
  return f;
}

void h_unflat(int64_t i, int rank, const int64_t *shape, int64_t *idx) {
  for (int d = rank - 1; d >= 0; d--) {
    idx[d] = shape[d] ? i % shape[d] : 0;
    i = shape[d] ? i / shape[d] : 0;
  }
}

int64_t h_bidx(int xr, const int64_t *xs, int r, const int64_t *idx) {
  int64_t f = 0;
  for (int i = 0; i < xr; i++) {
    int64_t c = idx[r - xr + i];
    f = f * xs[i] + (xs[i] == 1 ? 0 : c);
  }
  return f;
}

void h_alloc(Tensor *t, DType dt, int rank, const int64_t *shape) {
  if (!rt_tensor_alloc(t, dt, rank, shape)) {
    fprintf(stderr, "test: out of memory\n");
    abort();
  }
}
double *h_f(const Tensor *t) { return (double *)t->data; }
int32_t *h_i(const Tensor *t) { return (int32_t *)t->data; }

/* ---- cases -------------------------------------------------------------------------------- */

static IrGraph *G(Case *c) { return &c->p.graphs.v[0]; }

void case_begin(Case *c, Op op, const char *fmt, ...) {
  memset(c, 0, sizeof *c);
  arena_init(&c->a);
  ir_program_init(&c->p, &c->a);
  ir_graph_add(&c->p, "t", 0, NULL);
  int at = snprintf(c->what, sizeof c->what, "%s ", op_info(op)->name);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->what + at, sizeof c->what - (size_t)at, fmt, ap);
  va_end(ap);
  c->node = -1;
  c->seed = 1234;
}

Dim case_sym(Case *c, const char *name, int64_t value) {
  int s = ir_sym(&c->p, name);
  c->sym[s] = value;
  return dim_sym(s);
}

int case_in(Case *c, DType dt, int rank, const Dim *d) {
  IrType t = {.dt = dt, .rank = rank};
  int64_t shape[IR_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    t.d[i] = d[i];
    shape[i] = dim_eval(d[i], c->sym);
  }
  char name[16];
  snprintf(name, sizeof name, "x%d", c->nx);
  int k = c->nx++;
  c->xnode[k] = ir_input_add(&c->p, G(c), name, t);
  h_alloc(&c->x[k], dt == DT_I32 ? DT_I32 : DT_F64, rank, shape);
  if (dt != DT_I32)
    for (int64_t i = 0; i < c->x[k].n; i++) h_f(&c->x[k])[i] = h_val();
  return k;
}

IrNode *case_op(Case *c, Op op, int nin, const int *xs) {
  int in[CASE_MAX_IN];
  for (int j = 0; j < nin; j++) in[j] = c->xnode[xs[j]];
  c->node = ir_node_add(&c->p, G(c), op, nin, in);
  return case_node(c);
}

IrNode *case_node(Case *c) { return &G(c)->nodes.v[c->node]; }

int case_infer(Case *c) {
  char err[256];
  if (ir_infer(&c->p, G(c), c->node, err, sizeof err)) return 1;
  h_fail("%s: shape rule failed: %s", c->what, err);
  return 0;
}

int case_run(Case *c, DType fdt, Tensor *out, InterpCx *cx) {
  const IrNode *n = case_node(c);
  const Tensor *ins[CASE_MAX_IN] = {0};
  if (c->src) {
    ins[0] = c->src;
  } else {
    for (int j = 0; j < n->nin; j++)
      for (int k = 0; k < c->nx; k++)
        if (c->xnode[k] == n->in[j]) ins[j] = &c->x[k];
  }
  memset(cx, 0, sizeof *cx);
  cx->fdt = fdt;
  cx->training = c->training;
  cx->seed = c->seed;
  cx->step = c->step;
  return interp_node(&c->p, G(c), c->node, c->sym, ins, out, cx);
}

/* max relative difference; -1 on a shape or dtype mismatch, INFINITY on a NaN mismatch */
static double compare(const Tensor *got, const Tensor *ref, DType want_dt, int64_t *worst) {
  if (!rt_same_shape(got, ref) || got->dt != want_dt) return -1;
  double m = 0;
  *worst = 0;
  for (int64_t i = 0; i < ref->n; i++) {
    double g = rt_tensor_get(got, i), r = rt_tensor_get(ref, i), d;
    if (isnan(r) || isinf(r))
      d = (isnan(r) && isnan(g)) || g == r ? 0 : INFINITY;
    else
      d = fabs(g - r) / fmax(fabs(r), 1.0);
    if (isnan(d)) d = INFINITY;
    if (d > m) {
      m = d;
      *worst = i;
    }
  }
  return m;
}

void case_check(Case *c, Tensor *ref) {
  static const DType fdts[2] = {DT_F64, DT_F32};
  static const double tols[2] = {1e-12, 1e-5};
  for (int f = 0; f < 2; f++) {
    Tensor out = {0};
    InterpCx cx;
    H.checks++;
    if (!case_run(c, fdts[f], &out, &cx)) {
      h_fail("%s [%s]: interp_node failed: %s", c->what, dtype_name(fdts[f]), cx.err);
      continue;
    }
    DType want = ref->dt == DT_I32 ? DT_I32 : fdts[f];
    int64_t worst;
    double d = compare(&out, ref, want, &worst);
    if (d < 0) {
      char s1[200], s2[200];
      h_fail("%s [%s]: result %s, expected %s", c->what, dtype_name(fdts[f]), rt_tensor_str(s1, sizeof s1, &out),
             rt_tensor_str(s2, sizeof s2, ref));
    } else if (!(d <= (ref->dt == DT_I32 ? 0 : tols[f]))) {
      int64_t idx[IR_MAX_RANK];
      char s[200];
      h_unflat(worst, ref->rank, ref->shape, idx);
      h_fail("%s [%s]: max rel diff %.3g at %s: got %.17g, expected %.17g", c->what, dtype_name(fdts[f]), d,
             rt_shape_str(s, sizeof s, ref->rank, idx), rt_tensor_get(&out, worst), rt_tensor_get(ref, worst));
    } else if (f == 0) {
      H.op_d64 = fmax(H.op_d64, d);
    } else {
      H.op_d32 = fmax(H.op_d32, d);
    }
    rt_tensor_free(&out);
  }
  H.op_cases++;
  rt_tensor_free(ref);
}

void case_end(Case *c) {
  for (int k = 0; k < c->nx; k++) rt_tensor_free(&c->x[k]);
  arena_free(&c->a);
}

/* ---- results ------------------------------------------------------------------------------ */

void h_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "NOT OK: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (MAMC_TEST_SEED=%llu)\n", (unsigned long long)h_seed());
  va_end(ap);
  H.fails++;
  H.op_fails++;
}

void h_op_begin(Op op) {
  (void)op;
  H.op_fails = 0;
  H.op_d64 = H.op_d32 = 0;
  H.op_cases = 0;
}

void h_op_end(Op op) {
  if (!H.op_cases && !H.op_fails) h_fail("%s: no case ran", op_info(op)->name);
  printf("%-7s %-18s %3d cases  max rel diff f64 %.2e  f32 %.2e\n", H.op_fails ? "NOT OK" : "OK",
         op_info(op)->name, H.op_cases, H.op_d64, H.op_d32);
}

int h_failures(void) { return H.fails; }
int h_checks(void) { return H.checks; }
