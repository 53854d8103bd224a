/* test_dj_grad.c — gradients of the linear attentions (label dijiang), from the reference's
 * oracle 10:
 *   - the chunked backward kernels (fast f32, linear_attention_grad) = the quadratic reference
 *     backward (interpreter, f64), for every gate, norm, causal / bidirectional, with a state
 *     and for the state's gradient, head dims 64 and 80, T not a multiple of the chunk;
 *   - on whole graphs: autodiff's default rule run by the executor (feature maps through
 *     primitives, linear_attention_grad lowered to the chunked kernels, f32) = autodiff of the
 *     quadratic form through primitives only (lower = quadratic, the oracle, f64), for every
 *     gradient: q, k, v, P, w, d, g, beta, S0;
 *   - the gate gradients are non-zero: dg and dbeta above, and the learned gates' parameters
 *     (gate_a, gate_b) of stdlib's dijiang block in a whole model (examples/convert/dijiang.mam).
 * (Finite differences: tests/autodiff/gradcheck_linattn.c, also labelled dijiang.)
 */
#include <stdlib.h>

#include "autodiff.h"
#include "bind.h"
#include "dj.h"
#include "exec.h"
#include "linattn.h"
#include "lower_attn.h"
#include "pipeline.h"
#include "rng.h"

static const char *GW[] = {"none", "decay", "learned"};

/* ---- the backward kernels ------------------------------------------------------------------------- */

static void t_kernels(void) {
  double worst = 0;
  int cases = 0;
  for (int gate = 0; gate < 3; gate++)
    for (int mode = 0; mode < 8; mode++) {
      int running = mode & 1, causal = gate == 2 || ((mode >> 1) & 1), state = causal && (mode >> 2);
      for (int wrt = 0; wrt <= state; wrt++) {
        int64_t D = mode % 2 ? 64 : 80, Dv = 32 + 16 * (mode % 3), T = 70 + 13 * mode + 7 * gate, chunk = 16 << (mode % 3);
        if (T % chunk == 0) T++;
        int64_t B = 1, H = 2, q4[4] = {B, H, T, D}, v4[4] = {B, H, T, Dv}, g3[3] = {B, H, T};
        uint64_t sd = (uint64_t)(gate * 64 + mode * 4 + wrt) * 16;
        Dj t;
        dj_begin(&t);
        int xs[8], n = 0;
        int pos = running;
        xs[n++] = dj_input(&t, DT_F32, 4, q4, sd + 1, pos ? 0.01 : -0.3, 0.3);
        xs[n++] = dj_input(&t, DT_F32, 4, q4, sd + 2, pos ? 0.01 : -0.3, 0.3);
        xs[n++] = dj_input(&t, DT_F32, 4, v4, sd + 3, -1, 1);
        if (gate == 2) {
          xs[n++] = dj_input(&t, DT_F32, 3, g3, sd + 4, -0.3, -0.01);
          xs[n++] = dj_input(&t, DT_F32, 3, g3, sd + 5, 0.5, 1.5);
        }
        if (state) xs[n++] = dj_input(&t, DT_F32, 4, (int64_t[]){B, H, D, Dv + running}, sd + 6, running ? 0.1 : -1, 1);
        xs[n++] = dj_input(&t, DT_F32, 4, v4, sd + 7, -1, 1);
        char attrs[160];
        snprintf(attrs, sizeof attrs, "gate=%s norm=%s causal=%d chunk=%lld wrt=%s", GW[gate], running ? "running" : "none",
                 causal, (long long)chunk, wrt ? "state" : "qkv");
        Tensor fast = {0}, ref = {0};
        char a1[200], a2[200];
        snprintf(a1, sizeof a1, "%s lower=chunked", attrs);
        snprintf(a2, sizeof a2, "%s lower=quadratic", attrs);
        Tensor fq = {0};
        int ok = dj_node(&t, OP_LINEAR_ATTENTION_GRAD, n, xs, a1) && dj_run(&t, t.node, 1, DT_F32, &fast) &&
                 dj_node(&t, OP_LINEAR_ATTENTION_GRAD, n, xs, a2) && dj_run(&t, t.node, 0, DT_F64, &ref) &&
                 dj_run(&t, t.node, 1, DT_F32, &fq);
        double d = ok ? fmax(dj_diff(&fast, &ref), dj_diff(&fq, &ref)) : INFINITY;
        rt_tensor_free(&fq);
        worst = fmax(worst, d);
        CHECK_MSG(ok && d < 1e-4, "gate %s norm %d causal %d state %d wrt %s D %lld T %lld chunk %lld: rel diff %.2e",
                  GW[gate], running, causal, state, wrt ? "state" : "qkv", (long long)D, (long long)T, (long long)chunk, d);
        if (ok && gate == 2 && !wrt) { /* dg and dbeta columns are not zero */
          int64_t W = fast.shape[3];
          double mg = 0, mb = 0;
          for (int64_t r = 0; r < fast.n / W; r++) {
            mg = fmax(mg, fabs(rt_tensor_get(&fast, r * W + W - 2)));
            mb = fmax(mb, fabs(rt_tensor_get(&fast, r * W + W - 1)));
          }
          CHECK_MSG(mg > 1e-3 && mb > 1e-3, "gate gradients: max |dg| %.2e, max |dbeta| %.2e", mg, mb);
        }
        rt_tensor_free(&fast);
        rt_tensor_free(&ref);
        dj_end(&t);
        cases++;
      }
    }
  printf("OK chunked backward kernels (f32; also as one chunk) = quadratic reference backward (f64): %d cases, "
         "max rel diff %.1e; "
         "dg, dbeta non-zero\n", cases, worst);
}

/* ---- whole graphs: the default rule against the oracle ---------------------------------------------- */

static IrProgram *parse(Arena *a, const char *text) {
  IrProgram *p = ARENA_NEW(a, IrProgram);
  ir_program_init(p, a);
  Diag d;
  diag_init(&d);
  int ok = ir_parse(p, srcfile_from_string(a, "t.mir", text), &d);
  CHECK_MSG(ok, "parse:\n%s", d.out.s ? d.out.s : "");
  diag_free(&d);
  return ok ? p : NULL;
}

/* Differentiates loss with respect to every input but r, adds the gradients as outputs; the
 * number of inputs differentiated. */
static int grads(IrProgram *p, int *wrt) {
  IrGraph *g = &p->graphs.v[0];
  int n = 0, loss = g->outputs.v[0].node;
  for (int i = 0; i < g->nodes.n; i++)
    if (g->nodes.v[i].op == OP_INPUT && strcmp(g->nodes.v[i].name, "r")) wrt[n++] = i;
  int gr[16];
  Diag d;
  diag_init(&d);
  int ok = pass_autodiff_wrt(p, 0, loss, n, wrt, gr, &d) && pass_lower_attn(p, 0, &d) && ir_verify(p, &d);
  CHECK_MSG(ok, "autodiff: %s", d.out.s ? d.out.s : "");
  diag_free(&d);
  for (int i = 0; ok && i < n; i++) {
    CHECK_MSG(gr[i] >= 0, "no gradient for input %s", g->nodes.v[wrt[i]].name);
    ir_output_add(p, &p->graphs.v[0], arena_printf(p->arena, "d%d", i), gr[i] >= 0 ? gr[i] : loss);
  }
  return ok ? n : 0;
}

/* The program text: o = linear_attention(q, k, v, features..., g, beta, s0), loss = sum(o * r). */
static void graph_text(char *buf, size_t n, int f, int running, int quadratic) {
  int m = f == 2 ? 16 : 24;
  StrBuf b;
  sb_init(&b);
  sb_puts(&b, "task @t() (%q: f32[1, 2, 100, 16], %k: f32[1, 2, 100, 16], %v: f32[1, 2, 100, 8], ");
  if (f != 2) sb_printf(&b, "%%P: f32[16, %d], %%w: f32[%d], ", m, m);
  if (f == 1) sb_printf(&b, "%%d: f32[%d], ", m);
  sb_printf(&b, "%%g: f32[1, 2, 100], %%beta: f32[1, 2, 100], %%s0: f32[1, 2, %d, %d], %%r: f32[1, 2, 100, 8]) -> "
                "(loss: f32[]) {\n  %%o = linear_attention %%q, %%k, %%v, ", m, 8 + running);
  if (f != 2) sb_puts(&b, f == 1 ? "%P, %w, %d, " : "%P, %w, ");
  sb_printf(&b, "%%g, %%beta, %%s0 {feature = %s, gate = learned%s, causal, chunk = 32%s} : f32[1, 2, 100, 8]\n",
            f == 0 ? "dct" : f == 1 ? "dct_exp" : "none", running ? ", norm = running" : "",
            quadratic ? ", lower = quadratic" : "");
  sb_puts(&b, "  %x = mul %o, %r : f32[1, 2, 100, 8]\n  %l = reduce_sum %x {axes = [0, 1, 2, 3]} : f32[]\n"
              "  return loss = %l\n}\n");
  snprintf(buf, n, "%s", b.s);
  sb_free(&b);
}

static void t_graph(void) {
  static const char *names[] = {"dct", "dct_exp", "none"};
  double worst = 0;
  for (int f = 0; f < 3; f++)
    for (int running = 0; running < 2; running++) {
      char t1[4096], t2[4096];
      graph_text(t1, sizeof t1, f, running, 0);
      graph_text(t2, sizeof t2, f, running, 1);
      Arena a;
      arena_init(&a);
      IrProgram *pd = parse(&a, t1), *po = parse(&a, t2);
      int wd[16], wo[16], nd = pd ? grads(pd, wd) : 0, no = po ? grads(po, wo) : 0;
      int want = f == 0 ? 8 : f == 1 ? 9 : 6;
      CHECK_MSG(nd == want && no == want, "%d and %d gradients, %d wanted", nd, no, want);
      if (nd != want || no != want) {
        arena_free(&a);
        continue;
      }
      /* inputs: values per declared type; positive where the running norm wants it */
      IrGraph *g = &pd->graphs.v[0];
      Tensor in[12] = {{0}};
      int ni = 0;
      for (int i = 0; i < g->nodes.n && g->nodes.v[i].op == OP_INPUT; i++, ni++) {
        const IrNode *x = &g->nodes.v[i];
        int64_t sh[4];
        for (int r = 0; r < x->type.rank; r++) sh[r] = x->type.d[r].add;
        rt_tensor_alloc(&in[ni], DT_F32, x->type.rank, sh);
        const char *nm = x->name;
        double lo = -0.5, hi = 0.5;
        if (!strcmp(nm, "g")) lo = -0.3, hi = -0.01;
        if (!strcmp(nm, "beta") || !strcmp(nm, "d")) lo = 0.5, hi = 1.5;
        if (running && (!strcmp(nm, "s0") || (f == 2 && (!strcmp(nm, "q") || !strcmp(nm, "k"))))) lo = 0.05, hi = 0.5;
        uint64_t key = rng_key(77 + (uint64_t)(f * 2 + running), (uint64_t)i);
        for (int64_t j = 0; j < in[ni].n; j++) rt_tensor_set(&in[ni], j, lo + (hi - lo) * rng_uniform(key, (uint64_t)j));
      }
      ParamStore ps;
      char err[256];
      rt_params_init(&ps, pd, 1, DT_F32, err, sizeof err);
      Exec e;
      InterpCx cx = {.fdt = DT_F32};
      int ok = exec_init(&e, pd, 0, NULL, err, sizeof err) && exec_run(&e, NULL, in, &ps, &cx);
      CHECK_MSG(ok, "exec: %s", cx.err);
      InterpCx cx64 = {.fdt = DT_F64};
      IrGraph *go = &po->graphs.v[0];
      Tensor *vo = calloc((size_t)go->nodes.n, sizeof(Tensor));
      int ok2 = interp_graph(po, go, NULL, in, &ps, vo, &cx64);
      CHECK_MSG(ok2, "interp: %s", cx64.err);
      int has_grad_op = 0, oracle_prims = 1;
      for (int i = 0; i < g->nodes.n; i++) has_grad_op |= g->nodes.v[i].op == OP_LINEAR_ATTENTION_GRAD;
      for (int i = 0; i < go->nodes.n; i++) oracle_prims &= go->nodes.v[i].op != OP_LINEAR_ATTENTION_GRAD;
      CHECK(has_grad_op && oracle_prims);
      for (int k = 1; ok && ok2 && k < g->outputs.n; k++) {
        const Tensor *x = exec_output(&e, k), *y = &vo[go->outputs.v[k].node];
        const char *nm = g->nodes.v[wd[k - 1]].name;
        double d = dj_diff(x, y);
        worst = fmax(worst, d);
        CHECK_MSG(d < 2e-4, "feature %s norm %d: gradient of %s: rel diff %.2e", names[f], running, nm, d);
        if (!strcmp(nm, "g") || !strcmp(nm, "beta")) {
          double mx = 0;
          for (int64_t j = 0; j < x->n; j++) mx = fmax(mx, fabs(rt_tensor_get(x, j)));
          CHECK_MSG(mx > 1e-4, "the gradient of %s is zero", nm);
        }
      }
      if (ok) exec_free(&e);
      if (ok2) interp_values_free(vo, go->nodes.n);
      free(vo);
      for (int i = 0; i < ni; i++) rt_tensor_free(&in[i]);
      rt_params_free(&ps);
      arena_free(&a);
    }
  printf("OK autodiff through linear_attention_grad (chunked kernels, f32) = autodiff of the quadratic form "
         "through primitives (f64): q, k, v, P, w, d, g, beta, S0 for dct, dct_exp, none x norms; max rel diff %.1e\n",
         worst);
}

/* ---- a whole model: the learned gates' parameters get gradients ----------------------------------- */

static void t_model(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  RunConfig *cfg = config_load(&a, &d, "tests/dijiang/convert-sample.yaml");
  IrProgram *p = cfg ? fe_elaborate_config(&a, &d, "examples/convert/dijiang.mam", cfg) : NULL;
  int ok = p && pass_run_pipeline(p, NULL, &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  if (ok) {
    ParamStore ps;
    char err[256];
    rt_params_init(&ps, p, 3, DT_F32, err, sizeof err);
    Tensor text;
    int64_t B = 2, T = 40;
    rt_tensor_alloc(&text, DT_I32, 2, (int64_t[]){B, T});
    for (int64_t i = 0; i < text.n; i++) ((int32_t *)text.data)[i] = (int32_t)(3 + rng_u64(5, (uint64_t)i) % 200);
    int64_t sym[8] = {0};
    for (int s = 0; s < p->syms.n; s++) sym[s] = !strcmp(p->syms.v[s], "B") ? B : T;
    Exec e;
    InterpCx cx = {.fdt = DT_F32};
    ok = exec_init(&e, p, 0, NULL, err, sizeof err) && exec_run(&e, sym, &text, &ps, &cx);
    CHECK_MSG(ok, "exec: %s", cx.err);
    int found = 0;
    const IrGraph *g = &p->graphs.v[0];
    for (int k = 0; ok && k < g->outputs.n; k++) {
      const char *nm = g->outputs.v[k].name;
      if (!strstr(nm, "kernel.gate_a") && !strstr(nm, "kernel.gate_b")) continue;
      const Tensor *t = exec_output(&e, k);
      double mx = 0, first = 0;
      for (int64_t j = 0; j < t->n; j++) mx = fmax(mx, fabs(rt_tensor_get(t, j)));
      for (int64_t j = 0; j < T * 4; j++) first = fmax(first, fabs(rt_tensor_get(t, j)));
      CHECK_MSG(mx > 0 && first > 0, "%s: max |grad| %.2e over the positions used %.2e", nm, mx, first);
      found++;
    }
    CHECK(found == 4);
    printf("OK examples/convert/dijiang.mam: the learned gates' parameters (gate_a, gate_b of both layers) get "
           "non-zero gradients\n");
    if (ok) exec_free(&e);
    rt_tensor_free(&text);
    rt_params_free(&ps);
  }
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  t_kernels();
  t_graph();
  t_model();
  return test_done();
}
