/* test_attn_grad.c — softmax attention's fused backward (softmax_attention_grad, passes/
 * grad_attn.c) against the backward composed from primitives (bwd = composed, the oracle), on
 * whole differentiated graphs o = softmax_attention(q, k, v[, mask]), loss = sum(o * r), with
 * gradients of q, k, v on fresh random data:
 *   - the fused graph holds softmax_attention_grad (one {wrt = all} node for self-attention,
 *     {wrt = q} and {wrt = kv} for cross attention) and no [.., Sq, Sk] softmax; the composed
 *     one holds no softmax_attention_grad; both verify and their text round-trips;
 *   - interpreter, f64: fused = composed to 1e-6 relative (normwise; both exact up to rounding);
 *   - executor, f32 (the BLAS kernel of runtime/fast/, blocks of 64 or 32 query rows): fused =
 *     composed-in-f64 to 1e-4, and two runs are bit-identical.
 * Cases: causal and not, key masks (with a causal query that sees no key, and a batch whose
 * keys are all masked), Sq != Sk, several query blocks, D != Dv, a set scale.
 * And the whole pipeline on examples/shared.mam: every attention of the training graphs is
 * differentiated by softmax_attention_grad (encoder and decoder self-attention {wrt = all},
 * cross attention {wrt = q} and {wrt = kv}), with no [B, H, Sq, Sk] softmax left.
 * MAMC_TEST_SEED=<n> replays. */
#include <stdlib.h>
#include <time.h>

#include "autodiff.h"
#include "bind.h"
#include "exec.h"
#include "pipeline.h"
#include "rng.h"
#include "test.h"

typedef struct Case {
  const char *what;
  int B, H, Sq, Sk, D, Dv, causal, mask;
  double scale;
} Case;

static uint64_t seed;

static void text_of(char *buf, size_t n, const Case *c, int composed) {
  char attrs[128] = "";
  int k = 0;
  if (c->causal) k += snprintf(attrs + k, sizeof attrs - (size_t)k, "%scausal", k ? ", " : "");
  if (c->scale != 0) k += snprintf(attrs + k, sizeof attrs - (size_t)k, "%sscale = %g", k ? ", " : "", c->scale);
  if (composed) k += snprintf(attrs + k, sizeof attrs - (size_t)k, "%sbwd = composed", k ? ", " : "");
  char braces[160] = "";
  if (k) snprintf(braces, sizeof braces, " {%s}", attrs);
  snprintf(buf, n,
           "task @t() (%%q: f32[%d, %d, %d, %d], %%k: f32[%d, %d, %d, %d], %%v: f32[%d, %d, %d, %d], "
           "%%r: f32[%d, %d, %d, %d], %%m: f32[%d, %d]) -> (loss: f32[]) {\n"
           "  %%o = softmax_attention %%q, %%k, %%v%s%s : f32[%d, %d, %d, %d]\n"
           "  %%x = mul %%o, %%r : f32[%d, %d, %d, %d]\n"
           "  %%l = reduce_sum %%x {axes = [0, 1, 2, 3]} : f32[]\n"
           "  return loss = %%l\n}\n",
           c->B, c->H, c->Sq, c->D, c->B, c->H, c->Sk, c->D, c->B, c->H, c->Sk, c->Dv, c->B, c->H, c->Sq, c->Dv, c->B,
           c->Sk, c->mask ? ", %m" : "", braces, c->B, c->H, c->Sq, c->Dv, c->B, c->H, c->Sq, c->Dv);
}

/* Parses, differentiates with respect to q, k, v (outputs dq, dk, dv), verifies, round-trips. */
static IrProgram *build(Arena *a, const Case *c, int composed) {
  char text[2048];
  text_of(text, sizeof text, c, composed);
  IrProgram *p = ARENA_NEW(a, IrProgram);
  ir_program_init(p, a);
  Diag d;
  diag_init(&d);
  int wrt[3] = {0, 1, 2}, gr[3] = {-1, -1, -1};
  int ok = ir_parse(p, srcfile_from_string(a, "attn.mir", text), &d) &&
           pass_autodiff_wrt(p, 0, p->graphs.v[0].outputs.v[0].node, 3, wrt, gr, &d);
  for (int i = 0; ok && i < 3; i++) {
    ok = gr[i] >= 0;
    if (ok) ir_output_add(p, &p->graphs.v[0], i == 0 ? "dq" : i == 1 ? "dk" : "dv", gr[i]);
  }
  ok = ok && ir_verify(p, &d);
  CHECK_MSG(ok, "%s: %s", c->what, d.out.s ? d.out.s : "no gradient");
  diag_free(&d);
  if (!ok) return NULL;
  StrBuf s1, s2;
  sb_init(&s1);
  sb_init(&s2);
  ir_print_program(&s1, p);
  Arena b;
  arena_init(&b);
  IrProgram q;
  ir_program_init(&q, &b);
  diag_init(&d);
  CHECK_MSG(ir_parse(&q, srcfile_from_string(&b, "printed.mir", s1.s), &d), "%s: %s", c->what, d.out.s);
  ir_print_program(&s2, &q);
  CHECK_MSG(s1.s && s2.s && strcmp(s1.s, s2.s) == 0, "%s: the differentiated program does not round-trip", c->what);
  diag_free(&d);
  arena_free(&b);
  sb_free(&s1);
  sb_free(&s2);
  return p;
}

static int count_op(const IrProgram *p, Op op, int rank4_softmax) {
  const IrGraph *g = &p->graphs.v[0];
  int n = 0;
  for (int i = 0; i < g->nodes.n; i++)
    n += g->nodes.v[i].op == op && (!rank4_softmax || g->nodes.v[i].type.rank == 4);
  return n;
}

static double normwise(const Tensor *got, const Tensor *ref) {
  if (got->n != ref->n) return INFINITY;
  double m = 1e-30, d = 0;
  for (int64_t i = 0; i < ref->n; i++) {
    double a = rt_tensor_get(got, i), b = rt_tensor_get(ref, i);
    if (!isfinite(a) || !isfinite(b)) return INFINITY;
    m = fmax(m, fabs(b));
    d = fmax(d, fabs(a - b));
  }
  return d / m;
}

static void run_case(const Case *c, int ci) {
  Arena a;
  arena_init(&a);
  IrProgram *pf = build(&a, c, 0), *pc = build(&a, c, 1);
  if (!pf || !pc) {
    arena_free(&a);
    return;
  }
  int cross = c->Sq != c->Sk;
  CHECK_MSG(count_op(pf, OP_SOFTMAX_ATTENTION_GRAD, 0) == (cross ? 2 : 1) && count_op(pf, OP_SOFTMAX, 1) == 0,
            "%s: fused graph: %d softmax_attention_grad, %d softmax", c->what, count_op(pf, OP_SOFTMAX_ATTENTION_GRAD, 0),
            count_op(pf, OP_SOFTMAX, 1));
  CHECK_MSG(count_op(pc, OP_SOFTMAX_ATTENTION_GRAD, 0) == 0 && count_op(pc, OP_SOFTMAX, 1) == 1,
            "%s: the composed graph holds softmax_attention_grad", c->what);
  const IrGraph *gf = &pf->graphs.v[0], *gc = &pc->graphs.v[0];
  Tensor in[5] = {{0}};
  int ni = 0;
  for (int i = 0; i < gf->nodes.n && gf->nodes.v[i].op == OP_INPUT; i++, ni++) {
    const IrNode *x = &gf->nodes.v[i];
    int64_t sh[4];
    for (int r = 0; r < x->type.rank; r++) sh[r] = x->type.d[r].add;
    rt_tensor_alloc(&in[ni], DT_F32, x->type.rank, sh);
    uint64_t key = rng_key(seed, (uint64_t)(ci * 8 + i));
    for (int64_t j = 0; j < in[ni].n; j++) {
      double u = rng_uniform(key, (uint64_t)j);
      if (strcmp(x->name, "m") == 0) /* batch 0: key 0 dropped; the last batch: all dropped (c->mask 2) */
        u = j == 0 ? 0 : c->mask == 2 && j >= (int64_t)(c->B - 1) * c->Sk ? 0 : u < 0.25 ? 0 : 1;
      else
        u = 4 * u - 2;
      rt_tensor_set(&in[ni], j, u);
    }
  }
  ParamStore ps;
  char err[256];
  rt_params_init(&ps, pf, 1, DT_F32, err, sizeof err);
  Tensor *vf = calloc((size_t)gf->nodes.n, sizeof(Tensor)), *vc = calloc((size_t)gc->nodes.n, sizeof(Tensor));
  InterpCx f64a = {.fdt = DT_F64}, f64b = {.fdt = DT_F64};
  int okf = interp_graph(pf, gf, NULL, in, &ps, vf, &f64a), okc = interp_graph(pc, gc, NULL, in, &ps, vc, &f64b);
  CHECK_MSG(okf && okc, "%s: interp: %s %s", c->what, f64a.err, f64b.err);
  double wi = 0, we = 0;
  int same = 1;
  Exec e1, e2;
  InterpCx x1 = {.fdt = DT_F32}, x2 = {.fdt = DT_F32};
  int ok1 = exec_init(&e1, pf, 0, NULL, err, sizeof err) && exec_run(&e1, NULL, in, &ps, &x1);
  int ok2 = ok1 && exec_init(&e2, pf, 0, NULL, err, sizeof err) && exec_run(&e2, NULL, in, &ps, &x2);
  CHECK_MSG(ok1 && ok2, "%s: exec: %s %s %s", c->what, err, x1.err, x2.err);
  for (int k = 1; okf && okc && k < 4; k++) {
    const Tensor *f = &vf[gf->outputs.v[k].node], *r = &vc[gc->outputs.v[k].node];
    wi = fmax(wi, normwise(f, r));
    if (ok1 && ok2) {
      const Tensor *t1 = exec_output(&e1, k), *t2 = exec_output(&e2, k);
      we = fmax(we, normwise(t1, r));
      same &= t1->n == t2->n && memcmp(t1->data, t2->data, (size_t)t1->n * sizeof(float)) == 0;
    }
  }
  CHECK_MSG(wi <= 1e-6, "%s: interpreter f64: fused vs composed %.3g", c->what, wi);
  CHECK_MSG(we <= 1e-4, "%s: executor f32 (fused) vs composed f64 %.3g", c->what, we);
  CHECK_MSG(same, "%s: two executor runs differ", c->what);
  printf("%s %-48s interp f64 %.1e  exec f32 %.1e%s\n", wi <= 1e-6 && we <= 1e-4 && same ? "OK    " : "NOT OK", c->what,
         wi, we, same ? "  deterministic" : "");
  if (ok1) exec_free(&e1);
  if (ok2) exec_free(&e2);
  if (okf) interp_values_free(vf, gf->nodes.n);
  if (okc) interp_values_free(vc, gc->nodes.n);
  free(vf);
  free(vc);
  for (int i = 0; i < ni; i++) rt_tensor_free(&in[i]);
  rt_params_free(&ps);
  arena_free(&a);
}

/* The CPU executor frees every value at its last reader, also where it extends a lifetime past
 * the IR's readers (a weight gradient's summed GEMM reads its matmul's operands): after a run of
 * a training graph only the outputs are held (a run on random tokens, random parameters). */
static void t_lifetimes(const IrProgram *p) {
  const IrGraph *g = &p->graphs.v[0];
  int64_t sym[16];
  for (int k = 0; k < 16; k++) sym[k] = 3 + 2 * k;
  Tensor in[8];
  int nin = 0, ok = 1;
  memset(in, 0, sizeof in);
  for (int i = 0; ok && i < g->nodes.n && nin < 8; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op != OP_INPUT) continue;
    int64_t sh[IR_MAX_RANK];
    for (int d = 0; d < n->type.rank; d++) sh[d] = dim_eval(n->type.d[d], sym);
    ok = n->type.dt == DT_I32 && rt_tensor_alloc(&in[nin], DT_I32, n->type.rank, sh);
    for (int64_t j = 0; ok && j < in[nin].n; j++) ((int32_t *)in[nin].data)[j] = 1 + (int32_t)(rng_u64(seed + 7, (uint64_t)j) % 7);
    nin++;
  }
  ParamStore ps;
  char err[256] = "";
  Exec e;
  InterpCx cx = {.fdt = DT_F32, .seed = seed, .step = 1, .training = 1};
  ok = ok && rt_params_init(&ps, p, seed, DT_F32, err, sizeof err);
  int ran = ok && exec_init(&e, p, 0, NULL, err, sizeof err) && exec_run(&e, sym, in, &ps, &cx);
  int summed = 0, stray = ran ? exec_stray_values(&e) : -1;
  for (int i = 0; ran && i < g->nodes.n; i++) summed += e.summed_gemm[i];
  CHECK_MSG(ran && stray == 0, "shared.mam @%s on the CPU executor: %d values held after the run that are no output's (%s%s)",
            g->task, stray, err, cx.err);
  printf("%s examples/shared.mam @%s on the CPU executor: %d values held after the run besides the outputs (%d summed GEMMs)\n",
         ran && stray == 0 ? "OK    " : "NOT OK", g->task, stray, summed);
  if (ran) exec_free(&e);
  if (ok) rt_params_free(&ps);
  for (int k = 0; k < nin; k++) rt_tensor_free(&in[k]);
}

static void t_model(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  RunConfig *cfg = config_load(&a, &d, "examples/shared.yaml");
  IrProgram *p = cfg ? fe_elaborate_config(&a, &d, "examples/shared.mam", cfg) : NULL;
  int ok = p && pass_run_pipeline(p, NULL, &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  int wrt[3] = {0}, fwd = 0, soft4 = 0;
  for (int gi = 0; ok && gi < p->graphs.n; gi++) {
    const IrGraph *g = &p->graphs.v[gi];
    for (int i = 0; i < g->nodes.n; i++) {
      const IrNode *n = &g->nodes.v[i];
      if (n->op == OP_SOFTMAX_ATTENTION_GRAD) wrt[ir_get_i(n, "wrt")]++;
      fwd += n->op == OP_SOFTMAX_ATTENTION;
      soft4 += n->op == OP_SOFTMAX && n->type.rank == 4;
    }
  }
  /* per task: encoder self (2 layers), decoder self and cross (2 layers each) */
  int good = ok && fwd > 0 && wrt[0] == fwd * 2 / 3 && wrt[1] == fwd / 3 && wrt[2] == fwd / 3 && soft4 == 0;
  CHECK_MSG(good, "shared.mam: %d attentions, softmax_attention_grad all %d, q %d, kv %d; %d rank-4 softmax", fwd, wrt[0],
            wrt[1], wrt[2], soft4);
  printf("%s examples/shared.mam: %d attentions, softmax_attention_grad {wrt = all} %d, q %d, kv %d\n",
         good ? "OK    " : "NOT OK", fwd, wrt[0], wrt[1], wrt[2]);
  if (ok) t_lifetimes(p);
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  const char *s = getenv("MAMC_TEST_SEED");
  seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
  printf("fused vs composed softmax attention backward, MAMC_TEST_SEED=%llu\n", (unsigned long long)seed);
  static const Case cases[] = {
      {"self, causal, 4 blocks", 2, 3, 100, 100, 16, 16, 1, 0, 0},
      {"self, causal, key mask (query 0 sees none)", 2, 2, 70, 70, 8, 12, 1, 1, 0},
      {"self, key mask, a batch all masked", 3, 2, 65, 65, 16, 8, 0, 2, 0},
      {"self, no mask, scale 0.3", 1, 2, 33, 33, 32, 32, 0, 0, 0.3},
      {"cross Sq 37 Sk 70, key mask", 2, 2, 37, 70, 8, 12, 0, 1, 0},
      {"cross Sq 130 Sk 9, batch all masked", 2, 2, 130, 9, 16, 16, 0, 2, 0.5},
  };
  for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) run_case(&cases[i], i);
  t_model();
  return test_done();
}
