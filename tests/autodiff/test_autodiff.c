/* test_autodiff.c — the contract of pass_autodiff (label unit):
 *   - every task graph of the example models differentiates, the program verifies and its
 *     text round-trips; one gradient output per parameter read, named grad.<module>.<param>,
 *     of the parameter's type, in module-table order;
 *   - a parameter read by two param nodes and used several times gets one summed gradient;
 *     unused and frozen parameters get no output; collectives pass gradients through;
 *   - ties and kinks follow the documented conventions (maximum splits g evenly, reduce_max
 *     shares among equal maxima, relu'(0) = abs'(0) = 0);
 *   - errors: no loss, a second run, a loss that is not a scalar (the graph is left as it was);
 *   - linear_attention differentiates through linear_attention_grad, or (lower = quadratic)
 *     through primitives only.
 */
#include <math.h>
#include <stdlib.h>

#include "autodiff.h"
#include "interp.h"
#include "models.h"
#include "test.h"

static char *print_prog(const IrProgram *p) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, p);
  return b.s ? b.s : strdup("");
}

static IrProgram *parse(Arena *a, const char *text) {
  IrProgram *p = ARENA_NEW(a, IrProgram);
  ir_program_init(p, a);
  Diag d;
  diag_init(&d);
  int ok = ir_parse(p, srcfile_from_string(a, "test.mir", text), &d);
  CHECK_MSG(ok, "parse:\n%s", d.out.s ? d.out.s : "");
  diag_free(&d);
  return ok ? p : NULL;
}

static int output_index(const IrGraph *g, const char *name) {
  for (int i = 0; i < g->outputs.n; i++)
    if (strcmp(g->outputs.v[i].name, name) == 0) return i;
  return -1;
}

/* ---- the example models ------------------------------------------------------------------------ */

static void test_examples(void) {
  for (int m = 0; m < COUNT_OF(differentiable_models); m++) {
    const Model *md = &differentiable_models[m];
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    IrProgram *p = elab_model(&a, &d, md->mam, md->yaml);
    CHECK_MSG(p != NULL, "%s:\n%s", md->mam, d.out.s ? d.out.s : "");
    int nout = 0;
    for (int gi = 0; p && gi < p->graphs.n; gi++) {
      CHECK_MSG(pass_autodiff(p, gi, &d), "%s:\n%s", md->mam, d.out.s ? d.out.s : "");
      const IrGraph *g = &p->graphs.v[gi];
      int last = -1;
      for (int o = 0; o < g->outputs.n; o++) {
        const IrOutput *out = &g->outputs.v[o];
        if (strcmp(out->name, "loss") == 0) continue;
        CHECK(out->module >= 0 && out->param >= 0);
        if (out->module < 0) continue;
        const IrModule *mod = &p->modules.v[out->module];
        const IrParam *prm = &mod->params.v[out->param];
        char want[512];
        snprintf(want, sizeof want, "grad.%s.%s", mod->name, prm->name);
        CHECK_STR(out->name, want);
        CHECK(type_eq(&g->nodes.v[out->node].type, &prm->type) && !prm->frozen);
        int key = out->module * 100000 + out->param, reads = 0;
        CHECK_MSG(key > last, "%s: gradient outputs out of module-table order at %s", md->mam, out->name);
        last = key;
        for (int i = 0; i < g->nodes.n; i++)
          reads |= g->nodes.v[i].op == OP_PARAM && g->nodes.v[i].module == out->module &&
                   g->nodes.v[i].param == out->param;
        CHECK_MSG(reads, "%s: %s for a parameter the graph does not read", md->mam, out->name);
        nout++;
      }
    }
    if (p) {
      CHECK_MSG(ir_verify(p, &d), "%s after autodiff:\n%s", md->mam, d.out.s ? d.out.s : "");
      char *t1 = print_prog(p);
      IrProgram q;
      ir_program_init(&q, &a);
      CHECK_MSG(ir_parse(&q, srcfile_from_string(&a, "printed.mir", t1), &d), "%s: printed IR does not parse:\n%s",
                md->mam, d.out.s ? d.out.s : "");
      char *t2 = print_prog(&q);
      CHECK_MSG(strcmp(t1, t2) == 0, "%s: the differentiated IR does not round-trip", md->mam);
      printf("%s: %d tasks, %d gradient outputs, verified, round trip %s\n", md->mam, p->graphs.n, nout,
             strcmp(t1, t2) == 0 ? "identical" : "DIFFERS");
      free(t1);
      free(t2);
    }
    diag_free(&d);
    arena_free(&a);
  }
}

/* ---- accumulation, unused and frozen parameters, collectives --------------------------------- */

static const char *accum_text =
    "module @m sync every(1)\n"
    "  param w : f32[3, 3] init normal(0, 1)\n"
    "  param u : f32[3] init normal(0, 1)\n"
    "  param f : f32[3] init normal(1, 0.5) frozen\n"
    "task @t() (%x: f32[2, 3]) -> (loss: f32[], aux: f32[2, 3]) {\n"
    "  %w1 = param @m.w : f32[3, 3]\n"
    "  %a = matmul %x, %w1 : f32[2, 3]\n"
    "  %b = matmul %a, %w1 {tb} : f32[2, 3]\n"
    "  %w2 = param @m.w : f32[3, 3]\n"
    "  %c = matmul %b, %w2 : f32[2, 3]\n"
    "  %r = allreduce %c {group = @m} : f32[2, 3]\n"
    "  %f = param @m.f : f32[3]\n"
    "  %d = mul %r, %f : f32[2, 3]\n"
    "  %u = param @m.u : f32[3]\n"
    "  %aux = add %x, %u : f32[2, 3]\n"
    "  %l = reduce_sum %d {axes = [0, 1]} : f32[]\n"
    "  return loss = %l\n"
    "  return aux = %aux\n"
    "}\n";

/* interp in f64: the loss value, and the gradient output's tensor copied to grad (if given) */
static double run(const IrProgram *p, const ParamStore *ps, const Tensor *x, const char *gname, Tensor *grad) {
  const IrGraph *g = &p->graphs.v[0];
  Tensor *vals = calloc((size_t)g->nodes.n, sizeof *vals);
  InterpCx cx = {.fdt = DT_F64};
  int ok = interp_graph(p, g, NULL, x, ps, vals, &cx);
  CHECK_MSG(ok, "%s", cx.err);
  if (!ok) {
    free(vals);
    return NAN;
  }
  double l = rt_tensor_get(&vals[g->outputs.v[output_index(g, "loss")].node], 0);
  int o = gname ? output_index(g, gname) : -1;
  if (grad && o >= 0) rt_tensor_copy(&vals[g->outputs.v[o].node], grad);
  interp_values_free(vals, g->nodes.n);
  free(vals);
  return l;
}

static void test_accumulate(void) {
  Arena a;
  arena_init(&a);
  IrProgram *p = parse(&a, accum_text);
  if (!p) return;
  Diag d;
  diag_init(&d);
  int nbefore = p->graphs.v[0].nodes.n;
  CHECK_MSG(pass_autodiff(p, 0, &d), "%s", d.out.s ? d.out.s : "");
  CHECK_MSG(ir_verify(p, &d), "%s", d.out.s ? d.out.s : "");
  IrGraph *g = &p->graphs.v[0];
  CHECK(g->outputs.n == 3 && output_index(g, "grad.m.w") == 2);
  CHECK(output_index(g, "grad.m.u") < 0); /* influences only `aux` */
  CHECK(output_index(g, "grad.m.f") < 0); /* frozen */
  CHECK(g->outputs.v[2].module == 0 && g->outputs.v[2].param == 0);
  /* numerically: w appears three times through two param nodes */
  ParamStore ps;
  char err[256];
  CHECK(rt_params_init(&ps, p, 7, DT_F64, err, sizeof err));
  Tensor x;
  rt_tensor_alloc(&x, DT_F64, 2, (int64_t[]){2, 3});
  for (int i = 0; i < 6; i++) ((double *)x.data)[i] = 0.3 * i - 0.7;
  Tensor gw = {0};
  run(p, &ps, &x, "grad.m.w", &gw);
  int full = g->nodes.n;
  g->nodes.n = nbefore; /* the forward part */
  double *w = (double *)rt_params_at(&ps, 0, 0)->data, worst = 0;
  for (int e = 0; e < 9 && gw.data; e++) {
    double w0 = w[e], h = 1e-5;
    w[e] = w0 + h;
    double lp = run(p, &ps, &x, NULL, NULL);
    w[e] = w0 - h;
    double lm = run(p, &ps, &x, NULL, NULL);
    w[e] = w0;
    double num = (lp - lm) / (2 * h), ana = ((double *)gw.data)[e];
    worst = fmax(worst, fabs(ana - num) / fmax(fabs(num), 1e-3));
  }
  g->nodes.n = full;
  CHECK_MSG(worst < 1e-6, "accumulated gradient of w: rel err %g", worst);
  printf("accumulation: grad.m.w from 2 param nodes, 3 uses: rel err %.2e; unused u and frozen f: no output\n",
         worst);
  /* a second run is refused */
  CHECK(!pass_autodiff(p, 0, &d));
  CHECK(d.out.s && strstr(d.out.s, "already has gradient outputs"));
  rt_tensor_free(&gw);
  rt_tensor_free(&x);
  rt_params_free(&ps);
  diag_free(&d);
  arena_free(&a);
}

/* ---- ties and kinks --------------------------------------------------------------------------- */

/* d loss / d w, loss = sum(op(w, ...)), for w's values given; returns the gradient in out[] */
static void grad_of(const char *body, const double *wv, int n, const double *xv, double *out) {
  char text[2048];
  snprintf(text, sizeof text,
           "module @m sync every(1)\n  param w : f32[%d] init zeros\n"
           "task @t() (%%x: f32[%d]) -> (loss: f32[]) {\n  %%w = param @m.w : f32[%d]\n%s"
           "  return loss = %%l\n}\n",
           n, n, n, body);
  Arena a;
  arena_init(&a);
  IrProgram *p = parse(&a, text);
  Diag d;
  diag_init(&d);
  if (p && pass_autodiff(p, 0, &d)) {
    ParamStore ps;
    char err[256];
    rt_params_init(&ps, p, 1, DT_F64, err, sizeof err);
    memcpy(rt_params_at(&ps, 0, 0)->data, wv, sizeof(double) * (size_t)n);
    Tensor x, gw = {0};
    rt_tensor_alloc(&x, DT_F64, 1, (int64_t[]){n});
    memcpy(x.data, xv, sizeof(double) * (size_t)n);
    run(p, &ps, &x, "grad.m.w", &gw);
    for (int i = 0; i < n; i++) out[i] = gw.data ? ((double *)gw.data)[i] : NAN;
    rt_tensor_free(&gw);
    rt_tensor_free(&x);
    rt_params_free(&ps);
  } else {
    CHECK_MSG(0, "autodiff: %s", d.out.s ? d.out.s : "");
  }
  diag_free(&d);
  arena_free(&a);
}

static void test_ties(void) {
  double w[3] = {1, 1, 0}, x[3] = {1, 2, 0}, gr[3];
  grad_of("  %y = maximum %w, %x : f32[3]\n  %l = reduce_sum %y {axes = [0]} : f32[]\n", w, 3, x, gr);
  CHECK(gr[0] == 0.5 && gr[1] == 0 && gr[2] == 0.5); /* ties split evenly */
  grad_of("  %y = minimum %x, %w : f32[3]\n  %l = reduce_sum %y {axes = [0]} : f32[]\n", w, 3, x, gr);
  CHECK(gr[0] == 0.5 && gr[1] == 1 && gr[2] == 0.5);
  grad_of("  %l = reduce_max %w {axes = [0]} : f32[]\n", w, 3, x, gr);
  CHECK(gr[0] == 0.5 && gr[1] == 0.5 && gr[2] == 0); /* equal maxima share */
  grad_of("  %y = relu %w : f32[3]\n  %l = reduce_sum %y {axes = [0]} : f32[]\n", w, 3, x, gr);
  CHECK(gr[0] == 1 && gr[1] == 1 && gr[2] == 0);
  grad_of("  %y = abs %w : f32[3]\n  %l = reduce_sum %y {axes = [0]} : f32[]\n", (double[]){-2, 0, 3}, 3, x, gr);
  CHECK(gr[0] == -1 && gr[1] == 0 && gr[2] == 1);
  grad_of("  %y = maximum %w, %w : f32[3]\n  %l = reduce_sum %y {axes = [0]} : f32[]\n", w, 3, x, gr);
  CHECK(gr[0] == 1 && gr[1] == 1 && gr[2] == 1); /* both halves reach w */
}

/* ---- errors ------------------------------------------------------------------------------------ */

static void expect_error(const char *text, int graph, const char *msg) {
  Arena a;
  arena_init(&a);
  IrProgram *p = parse(&a, text);
  if (!p) return;
  Diag d;
  diag_init(&d);
  int n = p->graphs.v[graph].nodes.n;
  CHECK(!pass_autodiff(p, graph, &d));
  CHECK_MSG(d.out.s && strstr(d.out.s, msg), "expected '%s', got: %s", msg, d.out.s ? d.out.s : "(nothing)");
  CHECK(p->graphs.v[graph].nodes.n == n && ir_verify(p, &d));
  diag_free(&d);
  arena_free(&a);
}

static void test_errors(void) {
  const char *mods = "module @m sync every(1)\n  param w : f32[2, 2, 3, 4] init normal(0, 1)\n";
  char text[2048];
  snprintf(text, sizeof text, "%stask @t() () -> (y: f32[2, 2, 3, 4]) {\n  %%w = param @m.w : f32[2, 2, 3, 4]\n"
                              "  return y = %%w\n}\n", mods);
  expect_error(text, 0, "task @t(): autodiff: the graph has no output 'loss'");
  /* linear_attention: the default rule emits the backward op; lower = quadratic the primitives */
  const char *la = "%stask @t() () -> (loss: f32[]) {\n  %%w = param @m.w : f32[2, 2, 3, 4]\n"
                   "  %%o = linear_attention %%w, %%w, %%w%s : f32[2, 2, 3, 4]\n"
                   "  %%l = reduce_sum %%o {axes = [0, 1, 2, 3]} : f32[]\n  return loss = %%l\n}\n";
  for (int quad = 0; quad < 2; quad++) {
    snprintf(text, sizeof text, la, mods, quad ? " {gate = decay, causal, lower = quadratic}" : " {gate = decay, causal}");
    Arena la_a;
    arena_init(&la_a);
    IrProgram *lp = parse(&la_a, text);
    Diag ld;
    diag_init(&ld);
    CHECK(lp && pass_autodiff(lp, 0, &ld) && ir_verify(lp, &ld));
    StrBuf b;
    sb_init(&b);
    if (lp) ir_print_program(&b, lp);
    int has_op = b.s && strstr(b.s, "= linear_attention_grad ") != NULL;
    CHECK_MSG(has_op == !quad, "linear_attention_grad %s expected:\n%s", quad ? "not" : "", b.s ? b.s : "");
    sb_free(&b);
    diag_free(&ld);
    arena_free(&la_a);
  }

  /* a loss that no parameter influences: nothing to add */
  Arena a;
  arena_init(&a);
  IrProgram *p = parse(&a, "module @m sync every(1)\n  param w : f32[3] init zeros\n"
                           "task @t() (%x: f32[3]) -> (loss: f32[], y: f32[3]) {\n  %w = param @m.w : f32[3]\n"
                           "  %y = add %x, %w : f32[3]\n  %l = reduce_sum %x {axes = [0]} : f32[]\n"
                           "  return loss = %l\n  return y = %y\n}\n");
  Diag d;
  diag_init(&d);
  if (p) {
    int n = p->graphs.v[0].nodes.n;
    CHECK(pass_autodiff(p, 0, &d) && p->graphs.v[0].outputs.n == 2 && p->graphs.v[0].nodes.n == n);
  }
  diag_free(&d);
  arena_free(&a);
}

/* pass_autodiff_wrt: the gradient with respect to an input */
static void test_wrt(void) {
  Arena a;
  arena_init(&a);
  IrProgram *p = parse(&a, "task @t() (%x: f32[3], %y: i32[3]) -> (loss: f32[]) {\n"
                           "  %s = square %x : f32[3]\n  %l = reduce_sum %s {axes = [0]} : f32[]\n"
                           "  return loss = %l\n}\n");
  Diag d;
  diag_init(&d);
  int grads[2] = {7, 7};
  if (p) {
    CHECK(pass_autodiff_wrt(p, 0, 3, 2, (int[]){0, 1}, grads, &d));
    CHECK(grads[0] > 3 && grads[1] == -1); /* i32 y has none */
    CHECK(p->graphs.v[0].outputs.n == 1 && ir_verify(p, &d));
    CHECK(!pass_autodiff_wrt(p, 0, 2, 1, (int[]){0}, grads, &d)); /* %s is not a scalar */
    CHECK(d.out.s && strstr(d.out.s, "must be a float scalar"));
  }
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  test_examples();
  test_accumulate();
  test_ties();
  test_errors();
  test_wrt();
  return test_done();
}
