/* gradcheck_models.c — whole-task gradient checks (label gradcheck): each example model is
 * elaborated as written (d = 128, byte vocabularies; nothing shrunk), every task graph is
 * differentiated by pass_autodiff and run in the interpreter in f64 on a tiny batch (B = 2,
 * lengths 3 to 5, random token ids, trailing padding 0 in the second row), and GC_PER_TASK
 * random parameter entries are compared with central differences of the loss,
 * (L(w + h) - L(w - h)) / 2h with h = 1e-5 (rounding ~1e-10, truncation ~1e-10 here; seen
 * worst ~2e-7): relative error |a - n| / max(|a|, |n|, 1e-3) < 1e-5. A perturbed forward
 * run recomputes only the nodes downstream of the perturbed parameter.
 * MAMC_TEST_SEED=<n> replays.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "autodiff.h"
#include "interp.h"
#include "models.h"
#include "rng.h"
#include "test.h"

enum { GC_PER_TASK = 20 };
#define MODEL_TOL 1e-5

static uint64_t seed, ctr;
static uint64_t rnd(void) { return rng_u64(rng_key(seed, 0x77ad), ctr++); }
static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

/* The loss with parameter (m, k) perturbed: nodes that do not depend on it keep their values
 * from the base run (base), the others are recomputed node by node. */
static double loss_at(const IrProgram *p, const IrGraph *g, int nfwd, int loss, const int64_t *sym,
                      const ParamStore *ps, const Tensor *base, const char *dep) {
  Tensor *vals = calloc((size_t)nfwd, sizeof *vals);
  InterpCx cx = {.fdt = DT_F64};
  const Tensor *ins[16];
  double l = NAN;
  int ok = vals != NULL;
  for (int i = 0; i < nfwd && ok; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (!dep[i]) continue; /* inputs never depend on a parameter */
    if (n->op == OP_PARAM)
      ins[0] = rt_params_get(ps, n->module, n->param);
    else
      for (int j = 0; j < n->nin && j < 16; j++) ins[j] = dep[n->in[j]] ? &vals[n->in[j]] : &base[n->in[j]];
    ok = interp_node(p, g, i, sym, ins, &vals[i], &cx);
  }
  CHECK_MSG(ok, "forward run: %s", cx.err);
  if (ok) l = rt_tensor_get(dep[loss] ? &vals[loss] : &base[loss], 0);
  if (vals) interp_values_free(vals, nfwd);
  free(vals);
  return l;
}

static void check_task(IrProgram *p, int gi, ParamStore *ps, double *worst_out) {
  IrGraph *g = &p->graphs.v[gi];
  const char *name = ir_graph_name(p, g);
  int nfwd = g->nodes.n, loss = -1;
  for (int i = 0; i < g->outputs.n; i++)
    if (strcmp(g->outputs.v[i].name, "loss") == 0) loss = g->outputs.v[i].node;
  Diag d;
  diag_init(&d);
  int ok = pass_autodiff(p, gi, &d);
  CHECK_MSG(ok, "%s: autodiff failed:\n%s", name, d.out.s ? d.out.s : "");
  diag_free(&d);
  if (!ok) return;
  g = &p->graphs.v[gi];

  /* symbols: B = 2, S and T in 3..5; inputs: ids in [1, V) with V the smallest gathered table */
  int64_t sym[IR_MAX_RANK] = {0};
  for (int s = 0; s < p->syms.n; s++) sym[s] = strcmp(p->syms.v[s], "B") == 0 ? 2 : rint_in(3, 5);
  int64_t V = INT64_MAX;
  for (int i = 0; i < nfwd; i++)
    if (g->nodes.v[i].op == OP_GATHER) {
      Dim v = g->nodes.v[g->nodes.v[i].in[0]].type.d[0];
      if (dim_is_const(v) && v.add < V) V = v.add;
    }
  Tensor in[8] = {{0}};
  int nin = 0;
  for (int i = 0; i < nfwd && nin < 8; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op != OP_INPUT) continue;
    int64_t shape[IR_MAX_RANK];
    for (int k = 0; k < n->type.rank; k++) shape[k] = dim_eval(n->type.d[k], sym);
    CHECK(n->type.dt == DT_I32 && n->type.rank == 2 && rt_tensor_alloc(&in[nin], DT_I32, 2, shape));
    int64_t len = shape[1], pad = rint_in(1, len - 2);
    for (int64_t r = 0; r < shape[0]; r++)
      for (int64_t t = 0; t < len; t++)
        ((int32_t *)in[nin].data)[r * len + t] = r == 1 && t >= len - pad ? 0 : (int32_t)rint_in(1, V - 1);
    nin++;
  }

  int n = g->nodes.n;
  Tensor *vals = calloc((size_t)n, sizeof *vals);
  InterpCx cx = {.fdt = DT_F64};
  if (!vals || !interp_graph(p, g, sym, in, ps, vals, &cx)) {
    CHECK_MSG(0, "%s: running the differentiated graph: %s", name, cx.err);
    free(vals);
    for (int i = 0; i < nin; i++) rt_tensor_free(&in[i]);
    return;
  }
  int ngrad = 0;
  for (int o = 0; o < g->outputs.n; o++) ngrad += g->outputs.v[o].module >= 0;
  double worst = 0, h = 1e-5;
  char *dep = malloc((size_t)nfwd);
  for (int s = 0; s < GC_PER_TASK && ngrad > 0; s++) {
    int o = (int)rint_in(0, g->outputs.n - 1);
    while (g->outputs.v[o].module < 0) o = (o + 1) % g->outputs.n;
    const IrOutput *out = &g->outputs.v[o];
    Tensor *w = rt_params_at(ps, out->module, out->param);
    int64_t e = rint_in(0, w->n - 1);
    double *wv = (double *)w->data, w0 = wv[e], l[2];
    const double steps[2] = {h, -h};
    for (int i = 0; i < nfwd; i++) {
      const IrNode *nd = &g->nodes.v[i];
      dep[i] = nd->op == OP_PARAM && nd->module == out->module && nd->param == out->param;
      for (int j = 0; j < nd->nin && !dep[i]; j++) dep[i] = dep[nd->in[j]];
    }
    for (int j = 0; j < 2; j++) {
      wv[e] = w0 + steps[j];
      l[j] = loss_at(p, g, nfwd, loss, sym, ps, vals, dep);
    }
    wv[e] = w0;
    double num = (l[0] - l[1]) / (2 * h), ana = rt_tensor_get(&vals[out->node], e);
    double rel = fabs(ana - num) / fmax(fmax(fabs(ana), fabs(num)), 1e-3);
    if (isnan(rel)) rel = INFINITY;
    worst = fmax(worst, rel);
    CHECK_MSG(rel < MODEL_TOL, "%s: %s[%lld]: autodiff %.12g, numeric %.12g (rel err %.3g, MAMC_TEST_SEED=%llu)",
              name, out->name, (long long)e, ana, num, rel, (unsigned long long)seed);
  }
  printf("  %-24s %3d gradient outputs, %d entries checked, loss %.6f, worst rel err %.2e\n", name, ngrad,
         GC_PER_TASK, rt_tensor_get(&vals[loss], 0), worst);
  *worst_out = fmax(*worst_out, worst);
  free(dep);
  interp_values_free(vals, n);
  free(vals);
  for (int i = 0; i < nin; i++) rt_tensor_free(&in[i]);
}

int main(void) {
  const char *s = getenv("MAMC_TEST_SEED");
  seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
  printf("whole-task gradient checks in f64, MAMC_TEST_SEED=%llu\n", (unsigned long long)seed);
  for (int m = 0; m < COUNT_OF(differentiable_models); m++) {
    const Model *md = &differentiable_models[m];
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    IrProgram *p = elab_model(&a, &d, md->mam, md->yaml);
    CHECK_MSG(p != NULL, "%s does not elaborate:\n%s", md->mam, d.out.s ? d.out.s : "");
    ParamStore ps = {0};
    char err[256];
    if (p && !rt_params_init(&ps, p, seed, DT_F64, err, sizeof err)) {
      CHECK_MSG(0, "%s: parameters: %s", md->mam, err);
      p = NULL;
    }
    double worst = 0;
    if (p) {
      printf("%s:\n", md->mam);
      /* small random offsets, so zero-initialised biases and unit gains are generic too */
      for (int i = 0; i < ps.n; i++)
        for (int64_t e = 0; e < ps.t[i].n; e++) ((double *)ps.t[i].data)[e] += 0.05 * (rng_uniform(seed, rnd()) - 0.5);
      for (int gi = 0; gi < p->graphs.n; gi++) check_task(p, gi, &ps, &worst);
      printf("%s %s: worst rel err %.2e\n", worst < MODEL_TOL ? "OK" : "NOT OK", md->mam, worst);
    }
    rt_params_free(&ps);
    diag_free(&d);
    arena_free(&a);
  }
  return test_done();
}
