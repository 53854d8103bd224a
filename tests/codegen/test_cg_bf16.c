/* test_cg_bf16.c — bf16 storage in generated kernels (kir.h: KBuf.bf16; the GPU executor's
 * bf16 activations, issue #7): every f32 case of cases.c lowered, its f32 buffers marked bf16,
 * JIT-compiled (codegen/llvm.c's widening loads and rounding stores) and run against the
 * interpreter, in two ways:
 *   outputs   only the outputs stored as bf16 (inputs f32): the kernel's f32 result rounded to
 *             nearest even. Single ops of exact IEEE arithmetic must equal the f32 interpreter's
 *             result rounded to bf16 bit for bit (rt_bf16_from_f64: ties to even, every f32
 *             pattern the inputs give);
 *   all       inputs and outputs bf16 (the inputs rounded to bf16 first): exact ops bit for bit
 *             again; every other case within half a bf16 ulp of the f64 interpreter on the same
 *             (rounded) inputs plus the f32 kernels' tolerance of test_cg_jit.c.
 * It also checks the CUDA C printer's text for the same kernel: unsigned short buffers, the
 * cg_bf2f / cg_f2bf helpers (defined once), and that the f32 kernel's text has none of them.
 * `--every K` runs every K-th f32 case only, from the seed's offset (the valgrind copy: LLVM
 * compiling each kernel under memcheck takes seconds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "rng.h"
#include "run.h"
#include "test.h"

typedef struct Ctx {
  CgCpu *s;
  uint64_t seed;
  int ncase, nrun;
  int every, index; /* --every K: only the f32 cases whose index is seed mod K (K = 1: all) */
} Ctx;

static int exact_op(const CgCase *c) {
  switch (c->op) {
  case OP_NEG: case OP_ABS: case OP_SQRT: case OP_SQUARE: case OP_RECIP: case OP_RELU: case OP_ADD:
  case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_WHERE: case OP_REDUCE_MAX:
    return c->single;
  default: return 0;
  }
}

static int same_bits(double got, double want) { return (isnan(got) && isnan(want)) || got == want; }

/* mode 0: outputs bf16; 1: every f32 buffer */
static void run_mode(Ctx *T, CgCase *c, int mode) {
  Kir kir;
  char err[512];
  if (!cg_lower(&c->p, c->g, c->nodes, c->nn, &kir, err, sizeof err)) return; /* refused: test_cg_jit's */
  if (mode == 0) { /* the f32 kernel's text has no bf16 helpers (its source and cache key unchanged) */
    StrBuf t32;
    sb_init(&t32);
    cg_cuda_print(&t32, &kir, "k_f32");
    CHECK_MSG(t32.s && !strstr(t32.s, "cg_f2bf") && !strstr(t32.s, "unsigned short"), "%s: bf16 text in an f32 kernel", c->name);
    sb_free(&t32);
  }
  int any = 0;
  for (int i = 0; mode == 1 && i < kir.bufs.n; i++) /* a product read as a buffer: the reference would */
    if (!kir.bufs.v[i].out && c->g->nodes.v[kir.bufs.v[i].node].op != OP_INPUT) { /* not see it rounded */
      kir_free(&kir);
      return;
    }
  for (int i = 0; i < kir.bufs.n; i++) {
    KBuf *b = &kir.bufs.v[i];
    b->bf16 = b->t == KT_F32 && (mode == 1 || b->out);
    any |= b->bf16;
  }
  CgKernel k;
  if (!any || !cg_describe(&kir, &k, err, sizeof err)) {
    kir_free(&kir);
    return;
  }
  StrBuf txt;
  sb_init(&txt);
  cg_cuda_print(&txt, &kir, k.name);
  const char *s = txt.s ? txt.s : "";
  const char *def = strstr(s, "CG_DEV unsigned short cg_f2bf(");
  const char *use = def ? strstr(def + 1, "cg_f2bf(") : NULL; /* a store, after the definition */
  CHECK_MSG(def && !strstr(def + 1, "CG_DEV unsigned short cg_f2bf(") && strstr(s, "unsigned short *b") && use,
            "%s: CUDA text without bf16 storage", c->name);
  sb_free(&txt);
  int ok = cg_cpu_compile_kir(T->s, &kir, &k, err, sizeof err);
  CHECK_MSG(ok, "%s: compile: %s", c->name, err);
  int bad = 0, exact = exact_op(c);
  double worst = 0;
  for (int b = 0; ok && b < c->nbind; b++) {
    Tensor inputs[CASE_MAX_NODES], bufs[CG_MAX_BUFS];
    int nin, nvals = c->g->nodes.n;
    run_inputs(c, b, rng_key(T->seed + (uint64_t)T->ncase * 7919u, (uint64_t)b), inputs, &nin);
    for (int i = 0; mode == 1 && i < nin; i++) /* the kernel reads bf16: the reference the same values */
      for (int64_t e = 0; inputs[i].dt == DT_F32 && e < inputs[i].n; e++)
        rt_tensor_set(&inputs[i], e, rt_bf16_to_f64(rt_bf16_from_f64(rt_tensor_get(&inputs[i], e))));
    Tensor *v64 = calloc((size_t)nvals, sizeof *v64), *v32 = calloc((size_t)nvals, sizeof *v32);
    ok = v64 && v32 && run_interp(c, b, inputs, DT_F64, v64) && run_interp(c, b, inputs, DT_F32, v32);
    ok = ok && run_kernel(&k, c, b, v32, 0, 0, bufs, err, sizeof err);
    CHECK_MSG(ok, "%s: run: %s", c->name, err);
    for (int i = k.nin; ok && i < k.nbufs; i++) {
      if (k.bufs[i].dt != DT_BF16) continue;
      const Tensor *r64 = &v64[k.bufs[i].node], *r32 = &v32[k.bufs[i].node];
      for (int64_t e = 0; e < bufs[i].n; e++) {
        double got = rt_tensor_get(&bufs[i], e), w32 = rt_tensor_get(r32, e), w64 = rt_tensor_get(r64, e);
        double want = rt_bf16_to_f64(rt_bf16_from_f64(w32));
        if (exact) {
          bad += !same_bits(got, want);
          continue;
        }
        if (!isfinite(w64)) {
          bad += !same_bits(got, rt_bf16_to_f64(rt_bf16_from_f64(w64))) && !(isnan(got) && isnan(w32));
          continue;
        }
        double d = fabs(got - w64), tol = ldexp(fabs(w64), -8) + 1e-5 * fmax(fabs(w64), 1) + 8 * fabs(w32 - w64);
        if (d / fmax(fabs(w64), 1) > worst) worst = d / fmax(fabs(w64), 1);
        bad += !(d <= tol);
      }
    }
    if (ok) run_free_bufs(bufs, k.nbufs);
    if (v64) interp_values_free(v64, nvals);
    if (v32) interp_values_free(v32, nvals);
    free(v64), free(v32);
    for (int i = 0; i < nin; i++) rt_tensor_free(&inputs[i]);
  }
  CHECK_MSG(ok && !bad, "%s (%s bf16): %d elements out of tolerance%s", c->name, mode ? "all" : "outputs", bad,
            exact ? " (exact op: must be the f32 result rounded to nearest even)" : "");
  if (!ok || bad) printf("NOT OK  %-70s %s bf16\n", c->name, mode ? "all" : "outputs");
  T->nrun++;
  kir_free(&kir);
  (void)worst;
}

static void run_case(CgCase *c, void *ctx) {
  Ctx *T = ctx;
  int f32 = 0, f64 = 0;
  for (int i = 0; i < c->g->nodes.n; i++) f32 |= c->g->nodes.v[i].type.dt == DT_F32, f64 |= c->g->nodes.v[i].type.dt == DT_F64;
  if (!f32 || f64 || c->training) return;
  if (T->index++ % T->every != (int)(T->seed % (uint64_t)T->every)) return;
  T->ncase++;
  run_mode(T, c, 0);
  run_mode(T, c, 1);
}

int main(int argc, char **argv) {
  char err[256];
  int every = argc == 3 && !strcmp(argv[1], "--every") ? atoi(argv[2]) : argc == 1 ? 1 : 0;
  if (every < 1) {
    fprintf(stderr, "usage: %s [--every K]   (K >= 1: every K-th f32 case; the valgrind copy's sample)\n", argv[0]);
    return 2;
  }
  CgCpu *s = cg_cpu_new(err, sizeof err);
  if (!s) {
    printf("skipped: %s\n", err);
    return test_done();
  }
  Ctx T = {s, cg_cases_seed(), 0, 0, every, 0};
  printf("seed %llu (MAMC_TEST_SEED=<n> replays)\n", (unsigned long long)T.seed);
  cg_cases_each(T.seed, run_case, &T);
  printf("%d f32 cases", T.ncase);
  if (every > 1) printf(" (every %d-th of %d, from %d)", every, T.index, (int)(T.seed % (uint64_t)every));
  printf(", %d kernels with bf16 buffers compiled and run\n", T.nrun);
  CHECK(T.nrun > 50 / every);
  cg_cpu_free(s);
  return test_done();
}
