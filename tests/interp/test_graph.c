/* test_graph.c — whole graphs through interp_graph with a ParamStore: an embedding ->
 * linear -> layernorm -> cross_entropy task built with the builder API, checked against a
 * hand-written float64 computation; parameter init statistics (normal mean/std, xavier and
 * uniform bounds, constants, bf16 params); init independent of module/param creation order,
 * of other modules, and of the storage precision.
 */
#include <math.h>
#include <stdlib.h>

#include "interp.h"
#include "test.h"

static IrType ty(DType dt, int rank, const Dim *d) {
  IrType t = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) t.d[i] = d[i];
  return t;
}
static IrType ty2(int64_t a, int64_t b) { return ty(DT_F32, 2, (Dim[]){dim_const(a), dim_const(b)}); }
static IrType ty1(int64_t a) { return ty(DT_F32, 1, (Dim[]){dim_const(a)}); }

enum { V = 11, D = 8, C = 5 };

/* Modules in a given order; lin's params reversed when `shuffle`; an extra module if `extra`. */
static void add_modules(IrProgram *p, int shuffle, int extra) {
  if (extra) ir_param_add(p, ir_module_add(p, "extra", "X"), "w", ty2(3, 3), (IrInit){INIT_NORMAL, 0, 1});
  const char *order[3] = {"embed[fr]", "lin", "ln"}, *rev[3] = {"ln", "lin", "embed[fr]"};
  for (int i = 0; i < 3; i++) {
    const char *m = shuffle ? rev[i] : order[i];
    int id = ir_module_add(p, m, "B");
    if (!strcmp(m, "embed[fr]")) ir_param_add(p, id, "weight", ty2(V, D), (IrInit){INIT_NORMAL, 0, 0.5});
    if (!strcmp(m, "lin") && !shuffle) {
      ir_param_add(p, id, "w", ty2(D, C), (IrInit){INIT_XAVIER, 0, 0});
      ir_param_add(p, id, "b", ty1(C), (IrInit){INIT_UNIFORM, -0.1, 0.1});
    }
    if (!strcmp(m, "lin") && shuffle) {
      ir_param_add(p, id, "b", ty1(C), (IrInit){INIT_UNIFORM, -0.1, 0.1});
      ir_param_add(p, id, "w", ty2(D, C), (IrInit){INIT_XAVIER, 0, 0});
    }
    if (!strcmp(m, "ln")) {
      ir_param_add(p, id, "g", ty1(C), (IrInit){INIT_CONST, 1.5, 0});
      ir_param_add(p, id, "beta", ty1(C), (IrInit){INIT_ZEROS, 0, 0});
    }
  }
}

static int pref(IrProgram *p, IrGraph *g, const char *m, const char *name) {
  int mi = ir_module_find(p, m);
  return ir_param_ref(p, g, mi, ir_param_find(p, mi, name));
}

static int node(IrProgram *p, IrGraph *g, Op op, int nin, const int *in) {
  char err[256];
  int id = ir_node_add(p, g, op, nin, in);
  if (op != OP_CROSS_ENTROPY && !ir_infer(p, g, id, err, sizeof err)) fprintf(stderr, "infer: %s\n", err);
  return id;
}

static const Tensor *param(const IrProgram *p, const ParamStore *ps, const char *m, const char *name) {
  int mi = ir_module_find(p, m);
  return rt_params_get(ps, mi, ir_param_find(p, mi, name));
}

static void test_graph(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  Dim B = dim_sym(ir_sym(&p, "B")), S = dim_sym(ir_sym(&p, "S"));
  add_modules(&p, 0, 0);
  int gi = ir_graph_add(&p, "lm", 1, (const char *[]){"fr"});
  IrGraph *g = &p.graphs.v[gi];
  int src = ir_input_add(&p, g, "src", ty(DT_I32, 2, (Dim[]){B, S}));
  int tgt = ir_input_add(&p, g, "tgt", ty(DT_I32, 2, (Dim[]){B, S}));
  int e = node(&p, g, OP_GATHER, 2, (int[]){pref(&p, g, "embed[fr]", "weight"), src});     /* [B, S, D] */
  int h = node(&p, g, OP_MATMUL, 2, (int[]){e, pref(&p, g, "lin", "w")});                  /* [B, S, C] */
  int hb = node(&p, g, OP_ADD, 2, (int[]){h, pref(&p, g, "lin", "b")});
  int ln = node(&p, g, OP_LAYERNORM, 3, (int[]){hb, pref(&p, g, "ln", "g"), pref(&p, g, "ln", "beta")});
  int loss = ir_node_add(&p, g, OP_CROSS_ENTROPY, 2, (int[]){ln, tgt});
  ir_set_f(&g->nodes.v[loss], "smoothing", 0.1);
  char err[256];
  CHECK_MSG(ir_infer(&p, g, loss, err, sizeof err), "%s", err);
  ir_output_add(&p, g, "loss", loss);

  int64_t sym[2] = {2, 3}, ids[6] = {3, 10, 0, 7, 7, 1}, tg[6] = {4, 0, 2, 2, 1, 3};
  Tensor in[2];
  rt_tensor_alloc(&in[0], DT_I32, 2, sym);
  rt_tensor_alloc(&in[1], DT_I32, 2, sym);
  for (int i = 0; i < 6; i++) ((int32_t *)in[0].data)[i] = (int32_t)ids[i], ((int32_t *)in[1].data)[i] = (int32_t)tg[i];
  ParamStore ps;
  CHECK_MSG(rt_params_init(&ps, &p, 42, DT_F64, err, sizeof err), "%s", err);

  /* reference: the same model by hand, in f64 */
  const double *W = param(&p, &ps, "embed[fr]", "weight")->data, *Wl = param(&p, &ps, "lin", "w")->data,
               *bl = param(&p, &ps, "lin", "b")->data;
  double want = 0;
  for (int t = 0; t < 6; t++) {
    double y[C], mu = 0, var = 0, z = 0, mlp = 0;
    for (int c = 0; c < C; c++) {
      y[c] = bl[c];
      for (int d = 0; d < D; d++) y[c] += W[ids[t] * D + d] * Wl[d * C + c];
      mu += y[c] / C;
    }
    for (int c = 0; c < C; c++) var += (y[c] - mu) * (y[c] - mu) / C;
    for (int c = 0; c < C; c++) y[c] = 1.5 * (y[c] - mu) / sqrt(var + 1e-5);
    for (int c = 0; c < C; c++) z += exp(y[c]);
    for (int c = 0; c < C; c++) mlp += (y[c] - log(z)) / C;
    want += (0.9 * -(y[tg[t]] - log(z)) - 0.1 * mlp) / 6;
  }
  for (int f = 0; f < 2; f++) {
    InterpCx cx = {.fdt = f ? DT_F32 : DT_F64};
    Tensor vals[32];
    CHECK(g->nodes.n <= 32);
    int ok = interp_graph(&p, g, sym, in, &ps, vals, &cx);
    CHECK_MSG(ok, "%s", cx.err);
    if (!ok) continue;
    double got = rt_tensor_get(&vals[loss], 0);
    CHECK_MSG(fabs(got - want) <= (f ? 1e-5 : 1e-12) * fmax(1, fabs(want)), "%s loss %.17g, expected %.17g",
              dtype_name(cx.fdt), got, want);
    printf("%s graph loss %.10f (reference %.10f)\n", fabs(got - want) <= (f ? 1e-5 : 1e-12) ? "OK" : "NOT OK", got,
           want);
    CHECK(vals[e].rank == 3 && vals[e].shape[2] == D && rt_tensor_get(&vals[e], 1 * D + 2) == (f ? (double)(float)W[10 * D + 2] : W[10 * D + 2]));
    CHECK(vals[src].dt == DT_I32 && vals[h].dt == cx.fdt);
    interp_values_free(vals, g->nodes.n);
  }
  rt_params_free(&ps);
  rt_tensor_free(&in[0]);
  rt_tensor_free(&in[1]);
  arena_free(&a);
}

/* mean, std, min, max of a tensor */
static void stats(const Tensor *t, double *mean, double *sd, double *lo, double *hi) {
  double s = 0, s2 = 0;
  *lo = INFINITY, *hi = -INFINITY;
  for (int64_t i = 0; i < t->n; i++) {
    double v = rt_tensor_get(t, i);
    s += v, s2 += v * v;
    *lo = fmin(*lo, v), *hi = fmax(*hi, v);
  }
  *mean = s / (double)t->n;
  *sd = sqrt(s2 / (double)t->n - *mean * *mean);
}

static void test_init_stats(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  int m = ir_module_add(&p, "stats", "B");
  ir_param_add(&p, m, "normal", ty2(400, 250), (IrInit){INIT_NORMAL, 0.3, 0.7});
  ir_param_add(&p, m, "xavier", ty2(300, 500), (IrInit){INIT_XAVIER, 0, 0});
  ir_param_add(&p, m, "uniform", ty2(200, 200), (IrInit){INIT_UNIFORM, -0.1, 0.3});
  ir_param_add(&p, m, "const", ty1(7), (IrInit){INIT_CONST, 2.5, 0});
  ir_param_add(&p, m, "ones", ty1(7), (IrInit){INIT_ONES, 0, 0});
  IrType bt = ty2(100, 100);
  bt.dt = DT_BF16;
  ir_param_add(&p, m, "bf16", bt, (IrInit){INIT_NORMAL, 0, 1});
  ParamStore ps;
  char err[256];
  CHECK_MSG(rt_params_init(&ps, &p, 7, DT_F64, err, sizeof err), "%s", err);
  double mean, sd, lo, hi, n = 1e5;
  stats(rt_params_get(&ps, m, 0), &mean, &sd, &lo, &hi);
  CHECK_MSG(fabs(mean - 0.3) < 5 * 0.7 / sqrt(n) && fabs(sd / 0.7 - 1) < 0.02, "normal: mean %g std %g", mean, sd);
  double r = sqrt(6.0 / 800);
  stats(rt_params_get(&ps, m, 1), &mean, &sd, &lo, &hi);
  CHECK_MSG(lo >= -r && hi <= r && hi > 0.999 * r && lo < -0.999 * r, "xavier: [%g, %g], bound %g", lo, hi, r);
  CHECK_MSG(fabs(mean) < 5 * r / sqrt(3 * 1.5e5) && fabs(sd / (r / sqrt(3)) - 1) < 0.02, "xavier: mean %g std %g",
            mean, sd);
  stats(rt_params_get(&ps, m, 2), &mean, &sd, &lo, &hi);
  CHECK_MSG(lo >= -0.1 && hi < 0.3 && fabs(mean - 0.1) < 0.003 && fabs(sd / (0.4 / sqrt(12)) - 1) < 0.02,
            "uniform: [%g, %g] mean %g std %g", lo, hi, mean, sd);
  stats(rt_params_get(&ps, m, 3), &mean, &sd, &lo, &hi);
  CHECK(lo == 2.5 && hi == 2.5);
  stats(rt_params_get(&ps, m, 4), &mean, &sd, &lo, &hi);
  CHECK(lo == 1 && hi == 1);
  const Tensor *bf = rt_params_get(&ps, m, 5);
  int notbf = 0;
  for (int64_t i = 0; i < bf->n; i++) notbf += rt_round_to(DT_BF16, rt_tensor_get(bf, i)) != rt_tensor_get(bf, i);
  CHECK_MSG(notbf == 0, "%d bf16 parameter values are not bf16 values", notbf);
  CHECK(rt_params_get(&ps, m, 6) == NULL && rt_params_get(&ps, 1, 0) == NULL);
  printf("OK init statistics: normal, xavier (bound %.5f), uniform, const, ones, bf16\n", r);
  rt_params_free(&ps);
  /* errors: xavier on a vector, symbolic dims */
  ir_param_add(&p, m, "bad", ty1(5), (IrInit){INIT_XAVIER, 0, 0});
  CHECK(!rt_params_init(&ps, &p, 7, DT_F64, err, sizeof err));
  CHECK_STR(err, "parameter stats/bad: xavier needs rank >= 2 (the last two dims)");
  CHECK(ps.t == NULL && ps.n == 0);
  arena_free(&a);
}

/* Same (seed, module/param) -> same values, whatever the order, the other modules or fdt. */
static void test_init_independent(void) {
  Arena a;
  arena_init(&a);
  IrProgram p1, p2, p3;
  ir_program_init(&p1, &a);
  ir_program_init(&p2, &a);
  ir_program_init(&p3, &a);
  add_modules(&p1, 0, 0);
  add_modules(&p2, 1, 1);
  add_modules(&p3, 0, 0);
  ParamStore s1, s2, s3, s4;
  char err[256];
  CHECK(rt_params_init(&s1, &p1, 99, DT_F64, err, sizeof err));
  CHECK(rt_params_init(&s2, &p2, 99, DT_F64, err, sizeof err));
  CHECK(rt_params_init(&s3, &p3, 100, DT_F64, err, sizeof err));
  CHECK(rt_params_init(&s4, &p1, 99, DT_F32, err, sizeof err));
  const char *names[5][2] = {{"embed[fr]", "weight"}, {"lin", "w"}, {"lin", "b"}, {"ln", "g"}, {"ln", "beta"}};
  for (int i = 0; i < 5; i++) {
    const Tensor *t1 = param(&p1, &s1, names[i][0], names[i][1]), *t2 = param(&p2, &s2, names[i][0], names[i][1]),
                 *t3 = param(&p3, &s3, names[i][0], names[i][1]), *t4 = param(&p1, &s4, names[i][0], names[i][1]);
    CHECK(t1 && t2 && t3 && t4 && t1->n == t2->n);
    if (!t1 || !t2 || !t3 || !t4) continue;
    CHECK_MSG(memcmp(t1->data, t2->data, (size_t)t1->n * 8) == 0, "%s/%s depends on creation order", names[i][0],
              names[i][1]);
    int same3 = memcmp(t1->data, t3->data, (size_t)t1->n * 8) == 0, f32ok = 1;
    CHECK_MSG(i >= 3 || !same3, "%s/%s does not depend on the seed", names[i][0], names[i][1]);
    for (int64_t k = 0; k < t1->n; k++) f32ok &= rt_tensor_get(t4, k) == (double)(float)rt_tensor_get(t1, k);
    CHECK(t4->dt == DT_F32 && f32ok);
  }
  CHECK(rt_param_key(99, "lin", "w") != rt_param_key(99, "lin", "b") &&
        rt_param_key(99, "lin", "w") != rt_param_key(99, "li", "nw"));
  printf("OK init independent of creation order, other modules and precision\n");
  rt_params_free(&s1);
  rt_params_free(&s2);
  rt_params_free(&s3);
  rt_params_free(&s4);
  arena_free(&a);
}

int main(void) {
  test_graph();
  test_init_stats();
  test_init_independent();
  return test_done();
}
