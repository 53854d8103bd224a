/* norm.c — forward + backward time on the CPU of layernorm and rmsnorm with the fused
 * backward (one layernorm_grad / rmsnorm_grad row pass for dx, the default) against the
 * backward composed from primitives (bwd = composed: the named baseline), as the executor runs
 * them in training (fusion groups JIT-compiled, the same kernels as a training step's):
 *
 *   y = layernorm(x, gain, bias) {bwd}   (rmsnorm: y = rmsnorm(x, gain) {bwd})
 *   loss = sum(y * r), gradients with respect to x, gain (and bias); x [rows, C] f32.
 *
 * For each C it prints the median wall time of forward + backward of both and the ratio
 * composed / fused (> 1: the fused backward is faster). BENCH_OPS=1 adds where the time goes,
 * BENCH_IR=1 prints each program after fusion.
 *
 *   norm [ROWS [REPEATS]]   (bench/norm.sh builds and runs it; default 4096 rows, 7 repeats)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autodiff.h"
#include "cpu.h"
#include "exec.h"
#include "fusion.h"
#include "rng.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The program: inputs x, r, gain (, bias), the norm, the loss, gradients of x, gain (, bias);
 * then fusion, as the trainer's pipeline runs it. */
static IrProgram *build(Arena *a, int rms, int composed, int64_t rows, int64_t C, Diag *d) {
  char text[2048];
  long long R = (long long)rows, K = (long long)C;
  const char *bwd = composed ? " {bwd = composed}" : "";
  int n = rms ? snprintf(text, sizeof text,
                         "task @t() (%%x: f32[%lld, %lld], %%r: f32[%lld, %lld], %%g: f32[%lld]) -> (loss: f32[]) {\n"
                         "  %%y = rmsnorm %%x, %%g%s : f32[%lld, %lld]\n", R, K, R, K, K, bwd, R, K)
              : snprintf(text, sizeof text,
                         "task @t() (%%x: f32[%lld, %lld], %%r: f32[%lld, %lld], %%g: f32[%lld], %%b: f32[%lld]) -> "
                         "(loss: f32[]) {\n  %%y = layernorm %%x, %%g, %%b%s : f32[%lld, %lld]\n", R, K, R, K, K, K, bwd, R, K);
  snprintf(text + n, sizeof text - (size_t)n,
           "  %%p = mul %%y, %%r : f32[%lld, %lld]\n  %%l = reduce_sum %%p {axes = [0, 1]} : f32[]\n  return loss = %%l\n}\n", R,
           K);
  IrProgram *p = ARENA_NEW(a, IrProgram);
  ir_program_init(p, a);
  if (!ir_parse(p, srcfile_from_string(a, "bench.mir", text), d)) return NULL;
  int nwrt = rms ? 2 : 3, wrt[3] = {0, 2, 3}, gr[3];
  IrGraph *g = &p->graphs.v[0];
  if (!pass_autodiff_wrt(p, 0, g->outputs.v[0].node, nwrt, wrt, gr, d)) return NULL;
  static const char *names[] = {"dx", "dgain", "dbias"};
  for (int i = 0; i < nwrt; i++) ir_output_add(p, &p->graphs.v[0], names[i], gr[i]);
  if (!pass_fusion(p, 0, d)) return NULL;
  if (getenv("BENCH_IR")) { /* the program as run */
    StrBuf b;
    sb_init(&b);
    ir_print_graph(&b, p, 0);
    fprintf(stderr, "%s", b.s ? b.s : "");
    sb_free(&b);
  }
  return p;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median seconds of one forward + backward; -1 when it cannot run. */
static double measure(CgCpu *jit, int rms, int composed, int64_t rows, int64_t C, int repeats) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram *p = build(&a, rms, composed, rows, C, &d);
  double result = -1;
  Tensor in[4] = {{0}};
  int nin = 0;
  if (!p) {
    fprintf(stderr, "%s", d.out.s ? d.out.s : "bench: cannot build\n");
    goto done;
  }
  const IrGraph *g = &p->graphs.v[0];
  for (int i = 0; i < g->nodes.n && g->nodes.v[i].op == OP_INPUT; i++, nin++) {
    const IrNode *x = &g->nodes.v[i];
    int64_t sh[2];
    for (int r = 0; r < x->type.rank; r++) sh[r] = x->type.d[r].add;
    if (!rt_tensor_alloc(&in[nin], DT_F32, x->type.rank, sh)) goto free_in;
    for (int64_t j = 0; j < in[nin].n; j++)
      ((float *)in[nin].data)[j] = (float)(1.0 + 0.5 * rng_normal(rng_key(3, (uint64_t)i), (uint64_t)j));
  }
  ParamStore ps;
  char err[256];
  rt_params_init(&ps, p, 1, DT_F32, err, sizeof err);
  Exec e;
  InterpCx cx = {.fdt = DT_F32};
  if (!exec_init(&e, p, 0, jit, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    goto free_ps;
  }
  double t[32];
  int ok = 1;
  for (int r = 0; r <= repeats && ok; r++) { /* run 0 warms up (JIT, first allocations) */
    double t0 = now();
    ok = exec_run(&e, NULL, in, &ps, &cx);
    if (r) t[r - 1] = now() - t0;
    exec_release(&e);
  }
  if (ok && getenv("BENCH_OPS")) { /* where the time goes, over all runs */
    fprintf(stderr, "%s C %lld: fused groups %.2f ms (%lld runs)", composed ? "composed" : "fused", (long long)C,
            1e3 * e.stats.jit_seconds / (repeats + 1), (long long)e.stats.jit_runs / (repeats + 1));
    for (int op = 0; op < OP_COUNT; op++)
      if (e.stats.op_count[op])
        fprintf(stderr, "; %s %.2f ms", op_info((Op)op)->name, 1e3 * e.stats.op_seconds[op] / (repeats + 1));
    fputc('\n', stderr);
  }
  if (ok) {
    qsort(t, (size_t)repeats, sizeof(double), cmp);
    result = t[repeats / 2];
  } else {
    fprintf(stderr, "bench: %s: %s\n", composed ? "composed" : "fused", cx.err);
  }
  exec_free(&e);
free_ps:
  rt_params_free(&ps);
free_in:
  for (int i = 0; i < nin; i++) rt_tensor_free(&in[i]);
done:
  diag_free(&d);
  arena_free(&a);
  return result;
}

int main(int argc, char **argv) {
#ifdef __GLIBC__ /* freed memory kept in the process, as mamc runs (tools/mamc.c): no page faults per run */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  int64_t rows = argc > 1 ? atoll(argv[1]) : 4096;
  int repeats = argc > 2 ? atoi(argv[2]) : 7;
  if (rows < 1) rows = 4096;
  if (repeats < 1 || repeats > 31) repeats = 7;
  char err[256];
  CgCpu *jit = cg_cpu_new(err, sizeof err);
  printf("norm forward + backward on the CPU (dx, dgain[, dbias]), %lld rows, f32, median of %d runs; fusion groups %s\n",
         (long long)rows, repeats, jit ? "JIT-compiled (LLVM)" : "run node by node (no JIT: built without LLVM)");
  printf("composed (the baseline): {bwd = composed}, the backward through primitives; fused: layernorm_grad / "
         "rmsnorm_grad\n\n");
  printf("  norm          C   composed ms   fused ms   composed/fused\n");
  int64_t Cs[] = {128, 512, 1024};
  for (int rms = 0; rms < 2; rms++)
    for (size_t i = 0; i < sizeof Cs / sizeof *Cs; i++) {
      double c = measure(jit, rms, 1, rows, Cs[i], repeats), f = measure(jit, rms, 0, rows, Cs[i], repeats);
      if (c > 0 && f > 0)
        printf("  %-9s  %5lld  %12.2f  %9.2f  %14.2fx\n", rms ? "rmsnorm" : "layernorm", (long long)Cs[i], 1e3 * c,
               1e3 * f, c / f);
      else
        printf("  %-9s  %5lld  (failed)\n", rms ? "rmsnorm" : "layernorm", (long long)Cs[i]);
      fflush(stdout);
    }
  if (jit) cg_cpu_free(jit);
  return 0;
}
