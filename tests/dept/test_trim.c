/* test_trim.c — DEPT's TRIM at the IR level (passes/dept.h, runtime/interp/dept.c), against
 * the oracles of the reference's DEPT list:
 *   1. trim and untrim: untrim(trim(phi, V_k)) is phi on the rows of V_k and 0 elsewhere;
 *   8. TRIM loss: the trimmed graph's loss (its local vocabulary, local ids) equals the
 *      global graph's loss with the logits of the ids outside V_k at -inf, and so do the
 *      table's gradients (zero outside V_k);
 * and the rewrite itself (the vocab_rows input, a trim_gather after the table's param, the
 * types), and the variant checked against the model (dept_check's errors).
 */
#include <stdlib.h>

#include "autodiff.h"
#include "dept.h"
#include "interp.h"
#include "test.h"

/* A toy LM: embedding table tied with the output projection, on ids i32[B, T]. */
static const char *LM =
    "module @e sync outer(every = 2, lr = 1, momentum = 0) used_by [lm(x)]\n"
    "  param w : f32[12, 3] init normal(0, 1)\n"
    "module @b sync outer(every = 2, lr = 1, momentum = 0) used_by [lm(x)]\n"
    "  param u : f32[3, 3] init normal(0, 1)\n"
    "task @lm(x) (%ids: i32[B, T]%MASK%) -> (loss: f32[]) {\n"
    "  %w = param @e.w : f32[12, 3]\n"
    "  %h = gather %w, %ids : f32[B, T, 3]\n"
    "  %u = param @b.u : f32[3, 3]\n"
    "  %z = matmul %h, %u : f32[B, T, 3]\n"
    "  %t = tanh %z : f32[B, T, 3]\n"
    "  %wt = transpose %w {perm = [1, 0]} : f32[3, 12]\n"
    "  %l = matmul %t, %wt : f32[B, T, 12]\n"
    "%ADD%"
    "  %c = cross_entropy %L, %ids : f32[]\n"
    "  return loss = %c\n"
    "}\n";

static char *lm_text(int masked) {
  const char *mask = masked ? ", %mask: f32[12]" : "", *add = masked ? "  %lm = add %l, %mask : f32[B, T, 12]\n" : "";
  const char *L = masked ? "%lm" : "%l";
  size_t n = strlen(LM) + 128;
  char *s = malloc(n), *o = s;
  for (const char *p = LM; *p;) {
    const char *r = NULL;
    size_t skip = 0;
    if (!strncmp(p, "%MASK%", 6)) r = mask, skip = 6;
    else if (!strncmp(p, "%ADD%", 5)) r = add, skip = 5;
    else if (!strncmp(p, "%L,", 3)) r = L, skip = 2;
    if (r) {
      o += sprintf(o, "%s", r);
      p += skip;
    } else
      *o++ = *p++;
  }
  *o = 0;
  return s;
}

static int parse(Arena *a, IrProgram *p, const char *text, Diag *d) {
  ir_program_init(p, a);
  return ir_parse(p, srcfile_from_string(a, "lm.mir", text), d) && ir_verify(p, d);
}

enum { B = 2, T = 5, VG = 12, D = 3 };

/* Runs graph 0 in f64: loss and the gradient of @e.w (flattened [12, 3]). */
static int run(IrProgram *p, const Tensor *inputs, double *loss, double *gw) {
  ParamStore ps;
  char err[256];
  if (!rt_params_init(&ps, p, 7, DT_F64, err, sizeof err)) return fprintf(stderr, "%s\n", err), 0;
  IrGraph *g = &p->graphs.v[0];
  int64_t sym[IR_MAX_RANK] = {0};
  for (int s = 0; s < p->syms.n; s++) {
    const char *n = p->syms.v[s];
    sym[s] = !strcmp(n, "B") ? B : !strcmp(n, "T") ? T : !strcmp(n, DEPT_ROWS_SYMBOL) ? inputs[1].shape[0] : 0;
  }
  Tensor *vals = calloc((size_t)g->nodes.n, sizeof(Tensor));
  InterpCx cx = {DT_F64, 0, 0, 0, {0}};
  int ok = interp_graph(p, g, sym, inputs, &ps, vals, &cx);
  if (!ok) fprintf(stderr, "interp: %s\n", cx.err);
  for (int o = 0; ok && o < g->outputs.n; o++) {
    const Tensor *x = &vals[g->outputs.v[o].node];
    if (!strcmp(g->outputs.v[o].name, "loss")) *loss = rt_tensor_get(x, 0);
    if (!strcmp(g->outputs.v[o].name, "grad.e.w"))
      for (int i = 0; i < VG * D; i++) gw[i] = rt_tensor_get(x, i);
  }
  interp_values_free(vals, g->nodes.n);
  free(vals);
  rt_params_free(&ps);
  return ok;
}

static void test_trim_loss(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram glob, trim;
  char *tm = lm_text(1), *tt = lm_text(0);
  int ok = parse(&a, &glob, tm, &d) && parse(&a, &trim, tt, &d) && pass_dept_trim(&trim, 0, &d) &&
           ir_verify(&trim, &d) && pass_autodiff(&glob, 0, &d) && pass_autodiff(&trim, 0, &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  free(tm), free(tt);
  if (!ok) {
    diag_free(&d);
    arena_free(&a);
    return;
  }
  /* the rewrite: vocab_rows after the other inputs, the table read through trim_gather */
  StrBuf b;
  sb_init(&b);
  ir_print_graph(&b, &trim, 0);
  CHECK(strstr(b.s, "task @lm(x) (%ids: i32[B, T], %vocab_rows: i32[V_rows]) -> "));
  CHECK(strstr(b.s, "%0 = param @e.w ") && strstr(b.s, "%1 = trim_gather %0, %vocab_rows ") &&
        strstr(b.s, ": f32[V_rows, 3]\n  %2 = gather %1, %ids "));
  CHECK(strstr(b.s, ": f32[B, T, V_rows]\n"));
  CHECK(strstr(b.s, "= untrim_scatter ") && strstr(b.s, ": f32[12, 3]\n"));
  if (getenv("MAMC_DUMP_IR")) fputs(b.s, stdout);
  sb_free(&b);
  /* V_k = {0, 2, 3, 5, 8, 11}; the text uses only those ids */
  int32_t rows[] = {0, 2, 3, 5, 8, 11}, local[VG];
  int K = 6;
  for (int v = 0; v < VG; v++) local[v] = -1;
  for (int k = 0; k < K; k++) local[rows[k]] = k;
  int64_t ids_shape[2] = {B, T}, vshape[1] = {VG}, rshape[1] = {K};
  Tensor gin[2] = {{0}}, tin[2] = {{0}};
  rt_tensor_alloc(&gin[0], DT_I32, 2, ids_shape);
  rt_tensor_alloc(&gin[1], DT_F64, 1, vshape);
  rt_tensor_alloc(&tin[0], DT_I32, 2, ids_shape);
  rt_tensor_alloc(&tin[1], DT_I32, 1, rshape);
  int32_t text[B * T] = {2, 5, 5, 11, 0, 8, 3, 2, 11, 5};
  for (int i = 0; i < B * T; i++) ((int32_t *)gin[0].data)[i] = text[i], ((int32_t *)tin[0].data)[i] = local[text[i]];
  for (int v = 0; v < VG; v++) ((double *)gin[1].data)[v] = local[v] >= 0 ? 0 : -INFINITY;
  memcpy(tin[1].data, rows, sizeof rows);
  double lg = 0, lt = 0, gg[VG * D] = {0}, gt[VG * D] = {0};
  CHECK(run(&glob, gin, &lg, gg) && run(&trim, tin, &lt, gt));
  double worst = 0;
  int zero = 1;
  for (int i = 0; i < VG * D; i++) {
    worst = fmax(worst, fabs(gg[i] - gt[i]) / fmax(fabs(gg[i]), 1e-3));
    if (local[i / D] < 0) zero &= gt[i] == 0 && gg[i] == 0;
  }
  CHECK_MSG(fabs(lg - lt) <= 1e-12 * fabs(lg), "loss %.17g vs %.17g", lg, lt);
  CHECK_MSG(worst <= 1e-12, "table gradient: %g", worst);
  CHECK(zero);
  printf("OK: TRIM loss over V_k = global loss with out-of-vocabulary logits at -inf (%.15f vs %.15f); table "
         "gradients equal (max rel %.1e), zero outside V_k\n", lt, lg, worst);
  /* trim / untrim round trip through the ops */
  for (int i = 0; i < 2; i++) rt_tensor_free(&gin[i]), rt_tensor_free(&tin[i]);
  diag_free(&d);
  arena_free(&a);
}

/* untrim(trim(phi, V_k)) = phi on V_k, 0 elsewhere: one graph with both ops */
static void test_roundtrip(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram p;
  const char *text = "task @t() (%phi: f32[9, 4], %rows: i32[K]) -> (y: f32[9, 4]) {\n"
                     "  %l = trim_gather %phi, %rows : f32[K, 4]\n"
                     "  %y = untrim_scatter %l, %rows : f32[9, 4]\n"
                     "  return y = %y\n"
                     "}\n";
  CHECK_MSG(parse(&a, &p, text, &d), "%s", d.out.s ? d.out.s : "");
  int32_t rows[] = {1, 4, 5, 8};
  int64_t ps[2] = {9, 4}, rs[1] = {4};
  Tensor in[2] = {{0}};
  rt_tensor_alloc(&in[0], DT_F32, 2, ps);
  rt_tensor_alloc(&in[1], DT_I32, 1, rs);
  for (int i = 0; i < 36; i++) ((float *)in[0].data)[i] = (float)(i * 0.37 - 3);
  memcpy(in[1].data, rows, sizeof rows);
  int64_t sym[4] = {0};
  for (int s = 0; s < p.syms.n; s++) sym[s] = 4;
  Tensor vals[4] = {{0}};
  InterpCx cx = {DT_F32, 0, 0, 0, {0}};
  int ok = interp_graph(&p, &p.graphs.v[0], sym, in, NULL, vals, &cx);
  CHECK_MSG(ok, "%s", cx.err);
  int good = ok;
  for (int i = 0; ok && i < 36; i++) {
    int r = i / 4, held = r == 1 || r == 4 || r == 5 || r == 8;
    float want = held ? ((float *)in[0].data)[i] : 0.0f;
    good &= memcmp(&((float *)vals[3].data)[i], &want, 4) == 0;
  }
  CHECK(good);
  /* the local table: local id k is global id rows[k] (a bijection onto 0..K-1) */
  for (int k = 0; ok && k < 4; k++) CHECK(((float *)vals[2].data)[k * 4] == ((float *)in[0].data)[rows[k] * 4]);
  printf("OK: untrim(trim(phi, V_k)) = phi on V_k, 0 elsewhere (bit for bit); local row k = global row rows[k]\n");
  if (ok) interp_values_free(vals, 4);
  rt_tensor_free(&in[0]), rt_tensor_free(&in[1]);
  diag_free(&d);
  arena_free(&a);
}

/* dept_check: each variant against a model that does not fit it */
static void check_one(const char *text, DeptVariant v, const char *want) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram p;
  CHECK(parse(&a, &p, text, &d));
  int ok = dept_check(&p, v, (SrcLoc){0}, &d);
  if (want)
    CHECK_MSG(!ok && d.out.s && strstr(d.out.s, want), "want '%s', got '%s'", want, d.out.s ? d.out.s : "");
  else
    CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  diag_free(&d);
  arena_free(&a);
}

static void test_check(void) {
  const char *spec = "module @e[en] sync local used_by [lm(en)]\n  param w : f32[8, 2] init zeros\n"
                     "module @e[de] sync local used_by [lm(de)]\n  param w : f32[8, 2] init zeros\n"
                     "task @lm(en) (%i: i32[B]) -> (loss: f32[]) {\n  %w = param @e[en].w : f32[8, 2]\n"
                     "  %g = gather %w, %i : f32[B, 2]\n  %l = reduce_sum %g {axes = [0, 1]} : f32[]\n"
                     "  return loss = %l\n}\n"
                     "task @lm(de) (%i: i32[B]) -> (loss: f32[]) {\n  %w = param @e[de].w : f32[8, 2]\n"
                     "  %g = gather %w, %i : f32[B, 2]\n  %l = reduce_sum %g {axes = [0, 1]} : f32[]\n"
                     "  return loss = %l\n}\n";
  check_one(spec, DEPT_SPEC, NULL);
  check_one(spec, DEPT_GLOB, "is sync local (that is SPEC");
  char *shared = malloc(strlen(spec) + 16), *o = shared; /* the same tables, sync every(1) */
  for (const char *s = spec; *s;)
    if (!strncmp(s, "sync local", 10))
      o += sprintf(o, "sync every(1)"), s += 10;
    else
      *o++ = *s++;
  *o = 0;
  check_one(shared, DEPT_SPEC, "is not sync local");
  check_one(shared, DEPT_TRIM, "task lm(de) does not read e[en]");
  free(shared);
  check_one("task @t() (%x: f32[]) -> (loss: f32[]) {\n  return loss = %x\n}\n", DEPT_GLOB, "no embedding table");
  printf("OK: dept_check: SPEC needs local tables; GLOB/TRIM one shared, not local, table; a table at all\n");
}

int main(void) {
  test_roundtrip();
  test_trim_loss();
  test_check();
  return test_done();
}
