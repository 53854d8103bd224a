/* gc.c — the per-op gradient check harness: random values, one-op graphs, the projection to a
 * scalar loss, autodiff, the interpreter run in f64, and the comparison with central
 * differences, with one OK / NOT OK line per op. See gc.h.
 */
#include "gc.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "rng.h"

/* test-only state: the random stream and the tallies */
static struct {
  uint64_t seed, ctr;
  int init;
  int fails, op_fails, op_cases;
  double op_worst;
} S;

uint64_t gc_seed(void) {
  if (!S.init) {
    const char *s = getenv("MAMC_TEST_SEED");
    S.seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    S.init = 1;
  }
  return S.seed;
}

uint64_t gc_u64(void) { return rng_u64(rng_key(gc_seed(), 0x9c4d), S.ctr++); }
double gc_unit(void) { return (double)(gc_u64() >> 11) * (1.0 / 9007199254740992.0); }
int64_t gc_int(int64_t lo, int64_t hi) { return lo + (int64_t)(gc_u64() % (uint64_t)(hi - lo + 1)); }
double gc_pos(void) { return 0.1 + 1.9 * gc_unit(); }
double gc_val(void) { return (gc_u64() & 1) ? gc_pos() : -gc_pos(); }
double *gc_f(const Tensor *t) { return (double *)t->data; }
int32_t *gc_i(const Tensor *t) { return (int32_t *)t->data; }

static void alloc(Tensor *t, DType dt, int rank, const int64_t *shape) {
  if (!rt_tensor_alloc(t, dt, rank, shape)) {
    fprintf(stderr, "test: out of memory\n");
    abort();
  }
}

/* ---- cases -------------------------------------------------------------------------------- */

static IrGraph *G(GC *c) { return &c->p.graphs.v[0]; }

void gc_begin(GC *c, Op op, const char *fmt, ...) {
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
}

Dim gc_sym(GC *c, const char *name, int64_t value) {
  int s = ir_sym(&c->p, name);
  c->sym[s] = value;
  return dim_sym(s);
}

int gc_in(GC *c, DType dt, int rank, const Dim *d) {
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
  alloc(&c->x[k], dt == DT_I32 ? DT_I32 : DT_F64, rank, shape);
  c->check[k] = dt != DT_I32;
  if (dt != DT_I32)
    for (int64_t i = 0; i < c->x[k].n; i++) gc_f(&c->x[k])[i] = gc_val();
  return k;
}

IrNode *gc_op(GC *c, Op op, int nin, const int *xs) {
  int in[GC_MAX_IN];
  for (int j = 0; j < nin; j++) in[j] = c->xnode[xs[j]];
  c->node = ir_node_add(&c->p, G(c), op, nin, in);
  return gc_node(c);
}

IrNode *gc_node(GC *c) { return &G(c)->nodes.v[c->node]; }

static int add_infer(GC *c, int id) {
  char err[512];
  if (ir_infer(&c->p, G(c), id, err, sizeof err)) return 1;
  gc_fail("%s: building the loss: %s", c->what, err);
  return 0;
}

/* The loss of the forward graph (nodes below nfwd) at the current input values. */
static double eval_loss(GC *c, const Tensor *inputs, int nfwd, int loss, int *ok) {
  IrGraph *g = G(c);
  int full = g->nodes.n;
  g->nodes.n = nfwd;
  Tensor *vals = calloc((size_t)nfwd, sizeof *vals);
  InterpCx cx = {.fdt = DT_F64, .seed = 77, .step = 5, .training = c->training};
  double l = NAN;
  if (vals && interp_graph(&c->p, g, c->sym, inputs, NULL, vals, &cx)) {
    l = rt_tensor_get(&vals[loss], 0);
    interp_values_free(vals, nfwd);
  } else {
    *ok = 0;
    gc_fail("%s: forward run failed: %s", c->what, cx.err);
  }
  free(vals);
  g->nodes.n = full;
  return l;
}

void gc_check(GC *c) {
  IrGraph *g = G(c);
  char err[512];
  if (!ir_infer(&c->p, g, c->node, err, sizeof err)) {
    gc_fail("%s: shape rule failed: %s", c->what, err);
    return;
  }
  /* R, an input of the op's type, goes before the op (inputs come first) */
  IrType yt = g->nodes.v[c->node].type;
  int r = ir_input_add(&c->p, g, "r", yt);
  g = G(c);
  IrNode tmp = g->nodes.v[r];
  g->nodes.v[r] = g->nodes.v[c->node];
  g->nodes.v[c->node] = tmp;
  int rnode = c->node;
  c->node = r;
  int prod = ir_node_add(&c->p, g, OP_MUL, 2, (int[]){c->node, rnode});
  if (!add_infer(c, prod)) return;
  int loss = prod;
  if (yt.rank > 0) {
    int64_t all[IR_MAX_RANK];
    for (int i = 0; i < yt.rank; i++) all[i] = i;
    loss = ir_node_add(&c->p, G(c), OP_REDUCE_SUM, 1, &prod);
    ir_set_ints(&c->p, &G(c)->nodes.v[loss], "axes", all, yt.rank);
    if (!add_infer(c, loss)) return;
  }
  ir_output_add(&c->p, G(c), "loss", loss);
  int nfwd = G(c)->nodes.n;

  int wrt[GC_MAX_IN], grads[GC_MAX_IN], which[GC_MAX_IN], nwrt = 0;
  for (int k = 0; k < c->nx; k++)
    if (c->check[k]) which[nwrt] = k, wrt[nwrt++] = c->xnode[k];
  Diag d;
  diag_init(&d);
  int ok = pass_autodiff_wrt(&c->p, 0, loss, nwrt, wrt, grads, &d);
  if (!ok) gc_fail("%s: autodiff failed:\n%s", c->what, d.out.s ? d.out.s : "");
  if (ok && !ir_verify(&c->p, &d)) {
    gc_fail("%s: the differentiated graph does not verify:\n%s", c->what, d.out.s ? d.out.s : "");
    ok = 0;
  }
  diag_free(&d);
  if (!ok) return;

  /* inputs in node order: x0 .. x{nx-1}, r */
  Tensor in[GC_MAX_IN + 1] = {{0}};
  for (int k = 0; k < c->nx; k++) in[k] = c->x[k];
  int64_t rshape[IR_MAX_RANK];
  for (int i = 0; i < yt.rank; i++) rshape[i] = dim_eval(yt.d[i], c->sym);
  alloc(&in[c->nx], DT_F64, yt.rank, rshape);
  for (int64_t i = 0; i < in[c->nx].n; i++) gc_f(&in[c->nx])[i] = gc_val();

  int n = G(c)->nodes.n;
  Tensor *vals = calloc((size_t)n, sizeof *vals);
  InterpCx cx = {.fdt = DT_F64, .seed = 77, .step = 5, .training = c->training};
  if (!vals || !interp_graph(&c->p, G(c), c->sym, in, NULL, vals, &cx)) {
    gc_fail("%s: running the differentiated graph failed: %s", c->what, cx.err);
    free(vals);
    rt_tensor_free(&in[c->nx]);
    return;
  }
  double worst = 0;
  const double h = 1e-4;
  for (int w = 0; w < nwrt && ok; w++) {
    Tensor *x = &c->x[which[w]];
    const Tensor *ga = grads[w] >= 0 ? &vals[grads[w]] : NULL;
    int64_t count = x->n < GC_MAX_ELEMS ? x->n : GC_MAX_ELEMS;
    for (int64_t s = 0; s < count && ok; s++) {
      int64_t e = x->n <= GC_MAX_ELEMS ? s : gc_int(0, x->n - 1);
      double x0 = gc_f(x)[e], l[4];
      const double steps[4] = {h, -h, 2 * h, -2 * h};
      for (int j = 0; j < 4; j++) {
        gc_f(x)[e] = x0 + steps[j];
        in[which[w]] = *x;
        l[j] = eval_loss(c, in, nfwd, loss, &ok);
      }
      gc_f(x)[e] = x0;
      double num = (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12 * h);
      double ana = ga ? rt_tensor_get(ga, e) : 0.0;
      double rel = fabs(ana - num) / fmax(fmax(fabs(ana), fabs(num)), 1e-3);
      if (isnan(rel)) rel = INFINITY;
      if (rel > worst) worst = rel;
      if (ok && !(rel <= GC_TOL)) {
        gc_fail("%s: d loss / d x%d[%lld]: autodiff %.12g, numeric %.12g (rel err %.3g)", c->what, which[w],
                (long long)e, ana, num, rel);
        ok = 0;
      }
    }
  }
  if (worst > S.op_worst) S.op_worst = worst;
  S.op_cases++;
  interp_values_free(vals, n);
  free(vals);
  rt_tensor_free(&in[c->nx]);
}

void gc_end(GC *c) {
  for (int k = 0; k < c->nx; k++) rt_tensor_free(&c->x[k]);
  arena_free(&c->a);
}

/* ---- results ------------------------------------------------------------------------------ */

void gc_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "NOT OK: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (MAMC_TEST_SEED=%llu)\n", (unsigned long long)gc_seed());
  va_end(ap);
  S.fails++;
  S.op_fails++;
}

void gc_op_begin(Op op) {
  (void)op;
  S.op_fails = S.op_cases = 0;
  S.op_worst = 0;
}

void gc_op_end(Op op) {
  if (!S.op_cases && !S.op_fails) gc_fail("%s: no case ran", op_info(op)->name);
  printf("%-7s %-18s %3d cases  worst rel err %.2e\n", S.op_fails ? "NOT OK" : "OK", op_info(op)->name, S.op_cases,
         S.op_worst);
}

int gc_failures(void) { return S.fails; }
