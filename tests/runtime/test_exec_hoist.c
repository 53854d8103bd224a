/* test_exec_hoist.c — the CPU executor's invariant values (runtime/exec_hoist.c): a graph with
 * a sinusoidal positional encoding fused into the group that adds it to x (as nn.mam's), a
 * group whose members are all invariant (a graph output), a cheap invariant (an iota compare:
 * not hoisted) and a transcendental of x (not invariant) runs with the JIT under changing
 * batch shapes on fresh random x: every output against the f64 interpreter; the hoisted
 * kernels run once per length S (B changes do not count), a length evicted after 64 others
 * is computed again, and MAMC_HOIST=0 keeps nothing and gives the same results: bit for bit
 * where the rest of a group is unchanged, within 1e-6 where a layernorm's row sums are now
 * compiled in a kernel of their own (and may be vectorised, so rounded, another way).
 * Skipped (77) without an LLVM JIT.
 */
#include <stdlib.h>

#include "cpu.h"
#include "exec.h"
#include "interp.h"
#include "pipeline.h"
#include "rng.h"
#include "test.h"

static const char *SRC =
    "task @t() (%x: f32[B, S, 8]) -> (y: f32[B, S, 8], z: f32[B, S, 8], u: f32[S, 4]) {\n"
    "  %c = const {value = -0.5} : f32[]\n"
    "  %c2 = const {value = 3} : f32[]\n"
    "  %i = iota : f32[S, 4]\n"
    "  %j = iota {axis = 1} : f32[S, 4]\n"
    "  %a = mul %j, %c : f32[S, 4]\n"
    "  %e = exp %a : f32[S, 4]\n"
    "  %p = mul %i, %e : f32[S, 4]\n"
    "  %s = sin %p : f32[S, 4]\n"
    "  %k = cos %p : f32[S, 4]\n"
    "  %pe = concat %s, %k {axis = -1} : f32[S, 8]\n"
    "  %h = add %x, %pe : f32[B, S, 8]\n"
    "  %y = layernorm %h : f32[B, S, 8]\n"
    "  %q = iota {axis = 1} : f32[S, 8]\n"
    "  %lt = lt %q, %c2 : f32[S, 8]\n"
    "  %w = tanh %x : f32[B, S, 8]\n"
    "  %z = mul %w, %lt : f32[B, S, 8]\n"
    "  %u0 = iota : f32[S, 4]\n"
    "  %u = sin %u0 : f32[S, 4]\n"
    "  return y = %y\n"
    "  return z = %z\n"
    "  return u = %u\n"
    "}\n";

typedef struct Cx {
  IrProgram p;
  Exec e;
  int ex_ok;
  int sym_b, sym_s;
} Cx;

/* one run at B x S: the executor against the f64 interpreter on fresh random x; out: the
 * executor's outputs, copied (for the bit-for-bit comparison) */
static void run_once(Cx *c, int64_t B, int64_t S, uint64_t seed, Tensor out[3]) {
  const IrGraph *g = &c->p.graphs.v[0];
  int64_t sym[8] = {0};
  sym[c->sym_b] = B, sym[c->sym_s] = S;
  Tensor x;
  int64_t sh[3] = {B, S, 8};
  memset(&x, 0, sizeof x);
  CHECK(rt_tensor_alloc(&x, DT_F32, 3, sh));
  for (int64_t i = 0; i < x.n; i++) ((float *)x.data)[i] = (float)(2 * rng_normal(seed, (uint64_t)i));
  InterpCx cx = {.fdt = DT_F32};
  int ok = exec_run(&c->e, sym, &x, NULL, &cx);
  CHECK_MSG(ok, "B %lld S %lld: %s", (long long)B, (long long)S, cx.err);
  InterpCx cx64 = {.fdt = DT_F64};
  Tensor *ref = calloc((size_t)g->nodes.n, sizeof(Tensor));
  int ok2 = interp_graph(&c->p, g, sym, &x, NULL, ref, &cx64);
  CHECK_MSG(ok2, "interpreter: %s", cx64.err);
  for (int k = 0; ok && ok2 && k < g->outputs.n; k++) {
    const Tensor *a = exec_output(&c->e, k), *r = &ref[g->outputs.v[k].node];
    CHECK(a && a->n == r->n);
    double worst = 0;
    for (int64_t i = 0; a && i < a->n && i < r->n; i++) {
      double d = fabs(rt_tensor_get(a, i) - rt_tensor_get(r, i)) / fmax(1, fabs(rt_tensor_get(r, i)));
      worst = fmax(worst, d);
    }
    CHECK_MSG(worst < 2e-5, "B %lld S %lld output %s: worst relative difference %.2e", (long long)B, (long long)S,
              g->outputs.v[k].name, worst);
    memset(&out[k], 0, sizeof out[k]);
    CHECK(a && rt_tensor_copy(a, &out[k]));
  }
  interp_values_free(ref, g->nodes.n);
  free(ref);
  rt_tensor_free(&x);
}

static int open_exec(Cx *c, Arena *a, CgCpu *jit) {
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(a, "hoist.mir", SRC);
  ir_program_init(&c->p, a);
  int ok = ir_parse(&c->p, f, &d) && ir_verify(&c->p, &d) && pass_run_one(&c->p, pass_find("fusion"), 1, &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  diag_free(&d);
  if (!ok) return 0;
  for (int s = 0; s < c->p.syms.n; s++) *(!strcmp(c->p.syms.v[s], "B") ? &c->sym_b : &c->sym_s) = s;
  char err[256];
  c->ex_ok = exec_init(&c->e, &c->p, 0, jit, err, sizeof err);
  CHECK_MSG(c->ex_ok, "%s", err);
  return c->ex_ok;
}

int main(void) {
  char err[256];
  if (!cg_cpu_available()) {
    printf("skipped: no LLVM JIT in this build\n");
    return 77;
  }
  CgCpu *jit = cg_cpu_new(err, sizeof err);
  CHECK_MSG(jit != NULL, "%s", err);
  if (!jit) return test_done();
  Arena a;
  arena_init(&a);
  Cx on, off;
  memset(&on, 0, sizeof on), memset(&off, 0, sizeof off);
  unsetenv("MAMC_HOIST");
  int ok = open_exec(&on, &a, jit);
  setenv("MAMC_HOIST", "0", 1);
  ok = ok && open_exec(&off, &a, jit);
  unsetenv("MAMC_HOIST");
  if (!ok) return test_done();

  /* which groups were split: the encoding's and the output u's; not the mask's nor tanh's */
  int hoisted = 0, off_hoisted = 0;
  for (int k = 0; k < on.e.ngroups; k++) hoisted += on.e.groups[k].hoist != NULL;
  for (int k = 0; k < off.e.ngroups; k++) off_hoisted += off.e.groups[k].hoist != NULL;
  CHECK_MSG(hoisted == 2 && off_hoisted == 0, "hoisted groups: %d (MAMC_HOIST=0: %d)", hoisted, off_hoisted);

  /* lengths 5, 7, 5, 9, 7 at changing batch sizes: 3 distinct lengths, each computed once */
  const int64_t runs[][2] = {{3, 5}, {2, 7}, {4, 5}, {1, 9}, {3, 7}, {2, 5}};
  int nruns = (int)(sizeof runs / sizeof *runs);
  for (int r = 0; r < nruns; r++) {
    Tensor a1[3], a2[3];
    uint64_t seed = rng_key(0x5eed, (uint64_t)r);
    run_once(&on, runs[r][0], runs[r][1], seed, a1);
    run_once(&off, runs[r][0], runs[r][1], seed, a2);
    for (int k = 0; k < 3; k++) { /* y's layernorm is another kernel: its sums may round apart */
      double worst = a1[k].n == a2[k].n ? 0 : INFINITY;
      for (int64_t i = 0; i < a1[k].n && i < a2[k].n; i++)
        worst = fmax(worst, fabs(rt_tensor_get(&a1[k], i) - rt_tensor_get(&a2[k], i)) / fmax(1, fabs(rt_tensor_get(&a2[k], i))));
      CHECK_MSG(k == 0 ? worst < 1e-6 : worst == 0, "run %d output %d: hoisted and not differ by %.2e", r, k, worst);
      rt_tensor_free(&a1[k]), rt_tensor_free(&a2[k]);
    }
  }
  CHECK_MSG(on.e.stats.hoist_runs == 2 * 3 && on.e.stats.hoist_hits == 2 * 3,
            "computed %lld, reused %lld (expected 6 and 6: two hoisted groups, lengths 5 7 5 9 7 5)",
            (long long)on.e.stats.hoist_runs, (long long)on.e.stats.hoist_hits);
  CHECK(off.e.stats.hoist_runs == 0 && off.e.stats.hoist_hits == 0);

  /* 64 other lengths evict length 5 (at most 64 kept per group); it is computed again */
  for (int64_t S = 10; S < 74; S++) {
    Tensor o[3];
    run_once(&on, 1, S, rng_key(0xe1c7, (uint64_t)S), o);
    for (int k = 0; k < 3; k++) rt_tensor_free(&o[k]);
  }
  int64_t before = on.e.stats.hoist_runs;
  Tensor o[3];
  run_once(&on, 2, 5, rng_key(0xe1c7, 5), o);
  for (int k = 0; k < 3; k++) rt_tensor_free(&o[k]);
  CHECK_MSG(on.e.stats.hoist_runs == before + 2, "length 5 after eviction: %lld computed (expected 2)",
            (long long)(on.e.stats.hoist_runs - before));
  CHECK(exec_stray_values(&on.e) == 0);
  if (!test_failures)
    printf("OK hoisted invariant values: 2 of %d groups split, %lld computed and %lld reused over %d runs, equal to "
           "the f64 interpreter and to MAMC_HOIST=0\n",
           on.e.ngroups, (long long)on.e.stats.hoist_runs, (long long)on.e.stats.hoist_hits, nruns + 65);
  exec_free(&on.e), exec_free(&off.e);
  cg_cpu_free(jit);
  arena_free(&a);
  return test_done();
}
