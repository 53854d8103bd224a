/* test_cg_jit.c — every lowered op, reduction, norm, fused group and random elementwise
 * chain (cases.c), JIT-compiled once and run on fresh random inputs under two to four
 * symbol bindings with the SAME compiled function (dynamic shapes), as one call, split into
 * chunks of the outer range, and in place (the output written over an input of its type
 * and shape, as memory planning may do), against the reference interpreter; split at the
 * boundaries cg_split_row allows (as the runtime's threads split it), a kernel must give the
 * one call's outputs bit for bit.
 *
 * Tolerances (per element, r64 = the f64 interpreter, r32 = the f32 interpreter):
 *   i32 outputs   exact.
 *   f64 outputs   |got - r64| <= 1e-12 max(|r64|, 1): libmvec's f64 functions are within a
 *                 few ulps (~1e-15) and f64 sums differ from the interpreter's only in order.
 *   f32 outputs   |got - r64| <= 1e-5 max(|r64|, 1) + 8 |r32 - r64|. The first term covers
 *                 a few f32 ulps (6e-8 each) in libm/libmvec functions and f32 composites, and
 *                 f32 sums of up to 1000 terms accumulated in vector lanes; the second lets
 *                 an expression that amplifies rounding (a chain subtracting near-equal
 *                 values) be as far off as the f32 interpreter itself, times 8 (the kernel
 *                 rounds where the f32 interpreter rounds, plus inside composite ops).
 *   single ops of exact IEEE arithmetic (+ - * / sqrt neg abs square relu max min
 *   comparisons where cast, reduce_max, dropout) must match the interpreter bit for bit: 0 ulps
 *   (f32: against the f32 interpreter; proves there is no FMA contraction or reassociation).
 * Each case prints OK / NOT OK with its max difference (relative, and ulps vs the f32
 * interpreter where it has f32 outputs).
 */
#include <math.h>
#include <stdlib.h>

#include "cpu.h"
#include "rng.h"
#include "run.h"
#include "test.h"

typedef struct Ctx {
  CgCpu *s;
  uint64_t seed;
  int ncase, fails, inplace;
} Ctx;

static int exact_op(const CgCase *c) {
  switch (c->op) {
  case OP_NEG: case OP_ABS: case OP_SQRT: case OP_SQUARE: case OP_RECIP: case OP_RELU: case OP_ADD:
  case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_EQ: case OP_NE:
  case OP_LT: case OP_LE: case OP_WHERE: case OP_CAST: case OP_REDUCE_MAX: case OP_DROPOUT:
    return c->single;
  default: return 0;
  }
}

typedef struct Diff {
  double rel;  /* max |got - r64| / max(|r64|, 1) */
  int64_t ulps; /* max ulps vs the f32 interpreter (f32 outputs) */
  int bad;     /* elements out of tolerance */
  int64_t first_bad;
  double got, want;
  int split_bad;        /* outputs of a split at allowed boundaries that differ from one call's */
  int64_t split_first;  /* the first differing element, -1 none */
} Diff;

/* runs k again over bufs (run_kernel_split) and counts the outputs that differ in any bit */
static void split_check(const CgKernel *k, const CgCase *c, int b, Tensor *bufs, int64_t chunk, Diff *d) {
  Tensor whole[CG_MAX_BUFS] = {0};
  char err[256];
  int ok = 1;
  for (int i = k->nin; i < k->nbufs; i++) ok = ok && rt_tensor_convert(&bufs[i], bufs[i].dt, &whole[i]);
  int ran = ok && run_kernel_split(k, c, b, bufs, chunk, err, sizeof err);
  if (!ran) CHECK_MSG(0, "%s: split run: %s", c->name, ok ? err : "out of memory");
  for (int i = k->nin; i < k->nbufs && ran; i++) {
    int64_t at = -1, sz = dtype_size(bufs[i].dt);
    for (int64_t e = 0; at < 0 && e < bufs[i].n; e++)
      if (memcmp((char *)bufs[i].data + e * sz, (char *)whole[i].data + e * sz, (size_t)sz)) at = e;
    if (at >= 0 && d->split_first < 0) d->split_first = at;
    d->split_bad += at >= 0;
  }
  run_free_bufs(whole, k->nbufs);
}

static void compare(const Tensor *got, const Tensor *r64, const Tensor *r32, Diff *d) {
  for (int64_t i = 0; i < got->n; i++) {
    double g = rt_tensor_get(got, i), w = rt_tensor_get(r64, i), w32 = r32 ? rt_tensor_get(r32, i) : w;
    int ok;
    if (got->dt == DT_I32) {
      ok = g == w;
    } else if (isnan(g) || isnan(w)) {
      ok = isnan(g) && (isnan(w) || isnan(w32));
    } else if (isinf(g) || isinf(w)) {
      ok = g == w || g == w32 || (got->dt == DT_F32 && g == (double)(float)w);
    } else {
      double slack = (got->dt == DT_F64 ? 1e-12 : 1e-5) * fmax(fabs(w), 1);
      if (got->dt == DT_F32 && isfinite(w32)) slack += 8 * fabs(w32 - w);
      double rel = fabs(g - w) / fmax(fabs(w), 1);
      if (rel > d->rel) d->rel = rel;
      ok = fabs(g - w) <= slack;
    }
    if (got->dt == DT_F32 && r32) {
      int64_t u = run_ulps((float)g, (float)w32);
      if (u > d->ulps) d->ulps = u;
    }
    if (got->dt == DT_F64) { /* exactness of f64 ops: ulps as the 64-bit distance, capped */
      double a = g, b = w;
      int64_t ia, ib;
      memcpy(&ia, &a, 8);
      memcpy(&ib, &b, 8);
      int64_t u = isnan(a) && isnan(b) ? 0 : (ia > ib ? ia - ib : ib - ia);
      if (u < 0 || u > (int64_t)1 << 40) u = (int64_t)1 << 40;
      if (u > d->ulps) d->ulps = u;
    }
    if (!ok && d->bad++ == 0) {
      d->first_bad = i;
      d->got = g;
      d->want = w;
    }
  }
}

static void run_case(CgCase *c, void *vctx) {
  Ctx *T = vctx;
  CgKernel k;
  char err[512];
  T->ncase++;
  if (!cg_cpu_compile(T->s, &c->p, c->g, c->nodes, c->nn, &k, err, sizeof err)) {
    CHECK_MSG(0, "%s: compile: %s", c->name, err);
    printf("NOT OK  %-70s compile failed\n", c->name);
    return;
  }
  const char *dump = getenv("MAMC_CG_DUMP"); /* a substring of case names: print KIR + LLVM IR */
  if (dump && strstr(c->name, dump)) {
    Kir kir;
    if (cg_lower(&c->p, c->g, c->nodes, c->nn, &kir, err, sizeof err)) {
      StrBuf b;
      sb_init(&b);
      kir_print(&b, &kir, 1);
      char *ir = cg_cpu_llvm_ir(T->s, &kir, 1, err, sizeof err);
      printf("---- %s\n%s%s\n", c->name, b.s, ir ? ir : err);
      free(ir);
      sb_free(&b);
      kir_free(&kir);
    }
  }
  int has32 = 0;
  for (int i = 0; i < c->g->nodes.n; i++) has32 |= c->g->nodes.v[i].type.dt == DT_F32;
  Diff d = {.split_first = -1};
  int ok = 1, nvals = c->g->nodes.n, inplace = 0;
  for (int b = 0; b < c->nbind && ok; b++) {
    Tensor inputs[CASE_MAX_NODES], bufs[CG_MAX_BUFS];
    int nin;
    Tensor *v64 = calloc((size_t)nvals, sizeof *v64), *v32 = calloc((size_t)nvals, sizeof *v32);
    run_inputs(c, b, rng_key(T->seed + (uint64_t)T->ncase * 1000003u, (uint64_t)b), inputs, &nin);
    ok = v64 && v32 && run_interp(c, b, inputs, DT_F64, v64) && (!has32 || run_interp(c, b, inputs, DT_F32, v32));
    /* one call, and again split where cg_split_row allows (bit for bit the same); chunks of 5,
     * 193, 64 or 3 outer iterations; in place (one call) */
    for (int run = 0; run < 3 && ok; run++) {
      int64_t chunk = run == 1 ? (int64_t[]){5, 193, 64, 3}[b % 4] : 0;
      int r = run_kernel(&k, c, b, v64, chunk, run == 2, bufs, err, sizeof err);
      if (!r) {
        CHECK_MSG(0, "%s: run: %s", c->name, err);
        ok = 0;
        break;
      }
      if (r == 2) inplace = 1;
      for (int i = k.nin; i < k.nbufs; i++) {
        int node = k.bufs[i].node;
        compare(&bufs[i], &v64[node], has32 && k.bufs[i].dt == DT_F32 ? &v32[node] : NULL, &d);
      }
      if (run == 0) split_check(&k, c, b, bufs, (int64_t[]){300, 5, 97, 2}[b % 4], &d);
      run_free_bufs(bufs, k.nbufs);
    }
    if (v64) interp_values_free(v64, nvals);
    if (v32) interp_values_free(v32, nvals);
    free(v64);
    free(v32);
    for (int i = 0; i < nin; i++) rt_tensor_free(&inputs[i]);
  }
  int exact_bad = exact_op(c) && d.ulps != 0;
  CHECK_MSG(ok && !d.bad && !exact_bad, "%s: %d elements out of tolerance (first at %lld: got %.9g, want %.9g), ulps %lld%s",
            c->name, d.bad, (long long)d.first_bad, d.got, d.want, (long long)d.ulps,
            exact_bad ? " (an exact op must match bit for bit)" : "");
  CHECK_MSG(!d.split_bad, "%s: split at allowed boundaries (cg_split_row), %d outputs differ from one call's (first at %lld)",
            c->name, d.split_bad, (long long)d.split_first);
  printf("%-6s  %-70s max rel diff %.2e  ulps %lld%s%s\n", ok && !d.bad && !exact_bad && !d.split_bad ? "OK" : "NOT OK", c->name,
         d.rel, (long long)d.ulps, exact_op(c) ? " (exact)" : "", inplace ? " +in-place" : "");
  T->inplace += inplace;
}

int main(void) {
  char err[256];
  CgCpu *s = cg_cpu_new(err, sizeof err);
  if (!s) {
    CHECK(!cg_cpu_available());
    CHECK(strstr(err, "without LLVM") != NULL);
    printf("skipped: %s\n", err);
    return test_done();
  }
  Ctx T = {s, cg_cases_seed(), 0, 0, 0};
  printf("seed %llu (MAMC_TEST_SEED=<n> replays)\n", (unsigned long long)T.seed);
  int n = cg_cases_each(T.seed, run_case, &T);
  int compiled, hits;
  cg_cpu_stats(s, &compiled, &hits);
  printf("%d cases (%d also run in place), %d kernels compiled, %d cache hits\n", n, T.inplace, compiled, hits);
  CHECK(compiled >= 1 && compiled <= n);
  cg_cpu_free(s);
  return test_done();
}
