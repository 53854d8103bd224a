/* test_exec_xent.c — the CPU executor's pairing of cross-entropy with its gradient
 * (runtime/exec.c, Exec.lse): a graph with a loss and two gradients of the same logits, one
 * with the loss's ignore id and label smoothing (paired: it reads the row log-sum-exps the
 * loss kept in the same run; smoothing does not change them) and one with another ignore id
 * (not paired: it computes its own), runs at changing batch shapes on
 * fresh random logits (a few entries -inf, none at a target; ignored targets among them) against the f64
 * interpreter; the paired gradient reads the kept statistics in every run; with
 * MAMC_XENT_LSE=0 nothing is paired and the results agree to f32 rounding.
 */
#include <stdlib.h>

#include "exec.h"
#include "interp.h"
#include "rng.h"
#include "test.h"

static const char *SRC =
    "task @t() (%x: f32[B, S, 37], %y: i32[B, S], %g: f32[]) -> (loss: f32[], d: f32[B, S, 37], e: f32[B, S, 37]) {\n"
    "  %l = cross_entropy %x, %y {ignore = 0} : f32[]\n"
    "  %d = cross_entropy_grad %x, %y, %g {smoothing = 0.1, ignore = 0} : f32[B, S, 37]\n"
    "  %e = cross_entropy_grad %x, %y, %g {ignore = 5} : f32[B, S, 37]\n"
    "  return loss = %l\n"
    "  return d = %d\n"
    "  return e = %e\n"
    "}\n";

typedef struct Cx {
  IrProgram p;
  Exec e;
  int sym_b, sym_s;
} Cx;

static int open_exec(Cx *c, Arena *a) {
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(a, "xent.mir", SRC);
  ir_program_init(&c->p, a);
  int ok = ir_parse(&c->p, f, &d) && ir_verify(&c->p, &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  diag_free(&d);
  if (!ok) return 0;
  for (int s = 0; s < c->p.syms.n; s++) *(!strcmp(c->p.syms.v[s], "B") ? &c->sym_b : &c->sym_s) = s;
  char err[256];
  ok = exec_init(&c->e, &c->p, 0, NULL, err, sizeof err);
  CHECK_MSG(ok, "%s", err);
  return ok;
}

/* worst |a - b| / max(1, |b|) and the normwise relative difference over the finite entries */
static void compare(const Tensor *a, const Tensor *b, double *worst, double *norm) {
  double e2 = 0, r2 = 0;
  *worst = a->n == b->n ? 0 : INFINITY;
  for (int64_t i = 0; a->n == b->n && i < a->n; i++) {
    double x = rt_tensor_get(a, i), y = rt_tensor_get(b, i);
    if (!isfinite(y) || !isfinite(x)) { /* the same NaN or infinity */
      if (!(x == y || (isnan(x) && isnan(y)))) *worst = INFINITY;
      continue;
    }
    *worst = fmax(*worst, fabs(x - y) / fmax(1, fabs(y)));
    e2 += (x - y) * (x - y), r2 += y * y;
  }
  *norm = sqrt(e2 / (r2 > 0 ? r2 : 1));
}

/* one run at B x S on fresh inputs: both executors against the f64 interpreter, and each other */
static void run_once(Cx *on, Cx *off, int64_t B, int64_t S, uint64_t seed) {
  const IrGraph *g = &on->p.graphs.v[0];
  int64_t sym[8] = {0};
  sym[on->sym_b] = B, sym[on->sym_s] = S;
  Tensor in[3];
  memset(in, 0, sizeof in);
  int64_t shx[3] = {B, S, 37};
  CHECK(rt_tensor_alloc(&in[0], DT_F32, 3, shx) && rt_tensor_alloc(&in[1], DT_I32, 2, shx) &&
        rt_tensor_alloc(&in[2], DT_F32, 0, NULL));
  const int32_t *y = in[1].data;
  for (int64_t i = 0; i < in[1].n; i++) /* ids 0 .. 36: about 1 in 37 ignored by the loss (0) */
    ((int32_t *)in[1].data)[i] = (int32_t)(37 * rng_uniform(seed ^ 0x1d5, (uint64_t)i) * 0.999);
  for (int64_t i = 0; i < in[0].n; i++) { /* -inf entries (masked), never at the target: a finite loss */
    double u = rng_uniform(seed, (uint64_t)i);
    int masked = u < 0.05 && i % 37 != y[i / 37];
    ((float *)in[0].data)[i] = masked ? -INFINITY : (float)(3 * rng_normal(seed ^ 0x77, (uint64_t)i));
  }
  ((float *)in[2].data)[0] = (float)(0.5 + rng_uniform(seed ^ 0x9, 0));
  InterpCx cx = {.fdt = DT_F32}, cx2 = {.fdt = DT_F32}, cx64 = {.fdt = DT_F64};
  int ok = exec_run(&on->e, sym, in, NULL, &cx);
  CHECK_MSG(ok, "B %lld S %lld: %s", (long long)B, (long long)S, cx.err);
  int ok2 = exec_run(&off->e, sym, in, NULL, &cx2);
  CHECK_MSG(ok2, "MAMC_XENT_LSE=0, B %lld S %lld: %s", (long long)B, (long long)S, cx2.err);
  Tensor *ref = calloc((size_t)g->nodes.n, sizeof(Tensor));
  int ok3 = ref && interp_graph(&on->p, g, sym, in, NULL, ref, &cx64);
  CHECK_MSG(ok3, "interpreter: %s", cx64.err);
  for (int k = 0; ok && ok2 && ok3 && k < g->outputs.n; k++) {
    const Tensor *a = exec_output(&on->e, k), *b = exec_output(&off->e, k), *r = &ref[g->outputs.v[k].node];
    double worst, norm, worst2, norm2;
    compare(a, r, &worst, &norm);
    compare(a, b, &worst2, &norm2);
    CHECK_MSG(worst < 2e-5 && norm < 1e-6, "B %lld S %lld output %s: against the interpreter %.2e, normwise %.2e",
              (long long)B, (long long)S, g->outputs.v[k].name, worst, norm);
    CHECK_MSG(norm2 < 1e-6, "B %lld S %lld output %s: against MAMC_XENT_LSE=0 normwise %.2e", (long long)B,
              (long long)S, g->outputs.v[k].name, norm2);
  }
  interp_values_free(ref, g->nodes.n);
  free(ref);
  for (int k = 0; k < 3; k++) rt_tensor_free(&in[k]);
}

int main(void) {
  Arena a;
  arena_init(&a);
  Cx on, off;
  memset(&on, 0, sizeof on), memset(&off, 0, sizeof off);
  unsetenv("MAMC_XENT_LSE");
  int ok = open_exec(&on, &a);
  setenv("MAMC_XENT_LSE", "0", 1);
  ok = ok && open_exec(&off, &a);
  unsetenv("MAMC_XENT_LSE");
  if (!ok) return test_done();
  /* the loss and its gradient of the same ignore id share one slot; the other gradient none */
  const IrGraph *g = &on.p.graphs.v[0];
  int l = g->outputs.v[0].node, d = g->outputs.v[1].node, e = g->outputs.v[2].node;
  CHECK_MSG(on.e.nlse == 1 && on.e.lse_slot && on.e.lse_slot[l] == 0 && on.e.lse_slot[d] == 0 && on.e.lse_slot[e] < 0,
            "pairs: %d", on.e.nlse);
  CHECK(off.e.nlse == 0 && off.e.lse_slot == NULL);
  const int64_t shapes[][2] = {{3, 5}, {2, 9}, {4, 5}, {1, 1}, {5, 7}};
  int n = (int)(sizeof shapes / sizeof *shapes);
  for (int r = 0; r < n; r++) run_once(&on, &off, shapes[r][0], shapes[r][1], rng_key(0x3e47, (uint64_t)r));
  CHECK_MSG(on.e.stats.xent_lse_reused == n && off.e.stats.xent_lse_reused == 0,
            "kept statistics read %lld times in %d runs (MAMC_XENT_LSE=0: %lld)", (long long)on.e.stats.xent_lse_reused,
            n, (long long)off.e.stats.xent_lse_reused);
  CHECK_MSG(on.e.lse[0].rows == 5 * 7, "kept rows after the last run: %lld", (long long)on.e.lse[0].rows);
  exec_free(&on.e);
  exec_free(&off.e);
  arena_free(&a);
  return test_done();
}
