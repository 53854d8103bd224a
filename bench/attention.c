/* attention.c — forward + backward time on the CPU of DiJiang's chunked linear attention
 * against softmax attention (the named baseline), and of softmax attention's fused backward
 * against its backward composed from primitives (the named baseline of that ratio), as the
 * executor runs them in training:
 *
 *   linear   o = linear_attention(q, k, v, P, w) {feature = dct, gate = decay, causal}, the
 *            fast chunked kernels (chunk 64) forward and backward (linear_attention_grad), the
 *            feature map's backward through primitives;
 *   softmax  o = softmax_attention(q, k, v) {causal, bwd = composed}: the fast BLAS forward,
 *            the backward through primitives (P, dP and dS materialised as [B, H, T, T]);
 *   fused    o = softmax_attention(q, k, v) {causal}: the same forward, the backward in one
 *            softmax_attention_grad (the BLAS kernel of runtime/fast/, blocks of queries);
 *   loss = sum(o * r), gradients with respect to q, k, v; B = 1, H = 8, D = 64, f32.
 *
 * For T = 64 ... 8192 (TMIN ... TMAX) it prints the median wall time of forward + backward, the ratio
 * softmax / linear, the growth of each from the previous T (x2 in T: linear ~2, quadratic
 * ~4), the crossover length (the first T where the linear form is faster; also against the
 * fused softmax), and the fused softmax time with the ratio composed / fused (> 1: the fused
 * backward is faster).
 *
 *   attention [TMAX [REPEATS [TMIN]]]   (bench/attention.sh builds and runs it)
 * Then the forward alone (bench/attention_fwd.c): the fast kernel (blocks of query rows) against
 * the kernel it replaced (the named baseline: each head's whole [T, T] score matrix), causal and
 * not causal with a key mask, new/old < 1: the new one is faster; and the fused backward.
 *
 * BENCH_OPS=1 adds the time per op to stderr; BENCH_BHD=B,H,D sets the other sizes (default 1,8,64);
 * BENCH_FWD=only prints only the forward table, BENCH_FWD=0 leaves it out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autodiff.h"
#include "exec.h"
#include "lower_attn.h"
#include "matmul.h"
#include "rng.h"

void bench_forward(int B, int H, int D, int64_t tmin, int64_t tmax, int repeats); /* attention_fwd.c */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int B = 1, H = 8, D = 64; /* BENCH_BHD=B,H,D sets them (a model's attention shapes) */

enum { LINEAR = 1, FUSED = 2 }; /* kinds of measure(); 0: softmax with the composed backward */

/* The program: inputs q, k, v, r (and P, w), the attention, loss, gradients of q, k, v. */
static IrProgram *build(Arena *a, int kind, int64_t T, Diag *d) {
  int linear = kind == LINEAR;
  char text[2048];
  if (linear)
    snprintf(text, sizeof text,
             "task @t() (%%q: f32[%d, %d, %lld, %d], %%k: f32[%d, %d, %lld, %d], %%v: f32[%d, %d, %lld, %d], "
             "%%r: f32[%d, %d, %lld, %d], %%P: f32[%d, %d], %%w: f32[%d]) -> (loss: f32[]) {\n"
             "  %%o = linear_attention %%q, %%k, %%v, %%P, %%w {feature = dct, gate = decay, causal} : f32[%d, %d, %lld, %d]\n",
             B, H, (long long)T, D, B, H, (long long)T, D, B, H, (long long)T, D, B, H, (long long)T, D, D, D, D, B, H,
             (long long)T, D);
  else
    snprintf(text, sizeof text,
             "task @t() (%%q: f32[%d, %d, %lld, %d], %%k: f32[%d, %d, %lld, %d], %%v: f32[%d, %d, %lld, %d], "
             "%%r: f32[%d, %d, %lld, %d]) -> (loss: f32[]) {\n"
             "  %%o = softmax_attention %%q, %%k, %%v {causal%s} : f32[%d, %d, %lld, %d]\n",
             B, H, (long long)T, D, B, H, (long long)T, D, B, H, (long long)T, D, B, H, (long long)T, D,
             kind == FUSED ? "" : ", bwd = composed", B, H, (long long)T, D);
  size_t n = strlen(text);
  snprintf(text + n, sizeof text - n,
           "  %%x = mul %%o, %%r : f32[%d, %d, %lld, %d]\n  %%l = reduce_sum %%x {axes = [0, 1, 2, 3]} : f32[]\n"
           "  return loss = %%l\n}\n", B, H, (long long)T, D);
  IrProgram *p = ARENA_NEW(a, IrProgram);
  ir_program_init(p, a);
  if (!ir_parse(p, srcfile_from_string(a, "bench.mir", text), d)) return NULL;
  int wrt[3] = {0, 1, 2}, gr[3];
  IrGraph *g = &p->graphs.v[0];
  if (!pass_autodiff_wrt(p, 0, g->outputs.v[0].node, 3, wrt, gr, d) || !pass_lower_attn(p, 0, d)) return NULL;
  for (int i = 0; i < 3; i++) ir_output_add(p, &p->graphs.v[0], i == 0 ? "dq" : i == 1 ? "dk" : "dv", gr[i]);
  return p;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *kind_name(int kind) { return kind == LINEAR ? "linear" : kind == FUSED ? "fused" : "softmax"; }

/* Median seconds of one forward + backward; -1 when it cannot run (memory). */
static double measure(int kind, int64_t T, int repeats) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram *p = build(&a, kind, T, &d);
  double result = -1;
  if (!p) {
    fprintf(stderr, "%s", d.out.s ? d.out.s : "bench: cannot build\n");
    goto done;
  }
  const IrGraph *g = &p->graphs.v[0];
  int nin = 0;
  Tensor in[6] = {{0}};
  for (int i = 0; i < g->nodes.n && g->nodes.v[i].op == OP_INPUT; i++, nin++) {
    const IrNode *x = &g->nodes.v[i];
    int64_t sh[4];
    for (int r = 0; r < x->type.rank; r++) sh[r] = x->type.d[r].add;
    if (!rt_tensor_alloc(&in[nin], DT_F32, x->type.rank, sh)) goto free_in;
    for (int64_t j = 0; j < in[nin].n; j++)
      ((float *)in[nin].data)[j] = (float)(0.5 * rng_normal(rng_key(1, (uint64_t)i), (uint64_t)j));
  }
  ParamStore ps;
  char err[256];
  rt_params_init(&ps, p, 1, DT_F32, err, sizeof err);
  Exec e;
  InterpCx cx = {.fdt = DT_F32};
  if (!exec_init(&e, p, 0, NULL, err, sizeof err)) goto free_ps;
  double t[16];
  int ok = 1;
  for (int r = 0; r <= repeats && ok; r++) { /* run 0 warms up */
    double t0 = now();
    ok = exec_run(&e, NULL, in, &ps, &cx);
    if (r) t[r - 1] = now() - t0;
    exec_release(&e);
  }
  if (ok && getenv("BENCH_OPS")) { /* where the time goes, over all runs */
    fprintf(stderr, "%s T %lld:", kind_name(kind), (long long)T);
    for (int op = 0; op < OP_COUNT; op++)
      if (e.stats.op_count[op]) fprintf(stderr, " %s %.1f ms", op_info((Op)op)->name, 1e3 * e.stats.op_seconds[op] / (repeats + 1));
    fputc('\n', stderr);
  }
  if (ok) {
    qsort(t, (size_t)repeats, sizeof(double), cmp);
    result = t[repeats / 2];
  } else {
    fprintf(stderr, "bench: %s T %lld: %s\n", kind_name(kind), (long long)T, cx.err);
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

static void cell(char *buf, double v, const char *fmt) {
  if (v > 0) snprintf(buf, 32, fmt, v);
  else snprintf(buf, 32, "-");
}

int main(int argc, char **argv) {
  int64_t tmax = argc > 1 ? atoll(argv[1]) : 8192, tmin = argc > 3 ? atoll(argv[3]) : 64;
  int repeats = argc > 2 ? atoi(argv[2]) : 3;
  if (tmin < 1) tmin = 64;
  if (repeats < 1 || repeats > 15) repeats = 3;
  const char *bhd = getenv("BENCH_BHD");
  if (bhd && (sscanf(bhd, "%d,%d,%d", &B, &H, &D) != 3 || B < 1 || H < 1 || D < 1)) {
    fprintf(stderr, "BENCH_BHD: expected B,H,D like 1,8,64\n");
    return 2;
  }
  const char *fwd = getenv("BENCH_FWD");
  if (fwd && !strcmp(fwd, "only")) {
    bench_forward(B, H, D, tmin, tmax, repeats);
    return 0;
  }
  printf("forward + backward on the CPU, B = %d, H = %d, D = %d, f32, median of %d runs (dq, dk, dv)\n", B, H, D, repeats);
  printf("linear: DiJiang linear_attention {feature = dct, gate = decay, causal}, chunked kernels (chunk 64)\n");
  printf("softmax (the baseline): softmax_attention {causal, bwd = composed}, BLAS forward, autodiff backward "
         "through primitives\n");
  printf("fused: softmax_attention {causal}, BLAS forward, backward in one softmax_attention_grad (BLAS, blocks of "
         "queries);\n       composed/fused: the softmax time over the fused one (the composed backward is the "
         "baseline)\n\n");
  printf("      T   linear ms   softmax ms   softmax/linear   linear growth   softmax growth   fused ms   "
         "composed/fused\n");
  double pl = 0, ps = 0;
  int64_t crossover = -1, crossover_f = -1; /* linear faster than softmax composed / fused */
  for (int64_t T = tmin; T <= tmax; T *= 2) {
    double l = measure(LINEAR, T, repeats), s = measure(0, T, repeats), f = measure(FUSED, T, repeats);
    char c[7][32];
    cell(c[0], l > 0 ? 1e3 * l : -1, "%.1f");
    cell(c[1], s > 0 ? 1e3 * s : -1, "%.1f");
    cell(c[2], l > 0 && s > 0 ? s / l : -1, "%.2fx");
    cell(c[3], l > 0 && pl > 0 ? l / pl : -1, "%.2fx");
    cell(c[4], s > 0 && ps > 0 ? s / ps : -1, "%.2fx");
    cell(c[5], f > 0 ? 1e3 * f : -1, "%.1f");
    cell(c[6], f > 0 && s > 0 ? s / f : -1, "%.2fx");
    printf("  %5lld  %10s  %11s  %15s  %14s  %15s  %9s  %15s\n", (long long)T, c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
    fflush(stdout);
    if (crossover < 0 && l > 0 && s > 0 && l < s) crossover = T;
    if (crossover_f < 0 && l > 0 && f > 0 && l < f) crossover_f = T;
    pl = l, ps = s;
  }
  if (crossover > 0)
    printf("\ncrossover: the linear form is faster from T = %lld on (of the lengths measured)\n", (long long)crossover);
  else
    printf("\ncrossover: not reached up to T = %lld\n", (long long)tmax);
  if (crossover_f > 0)
    printf("against fused: the linear form is faster from T = %lld on\n", (long long)crossover_f);
  else
    printf("against fused: the linear form is not faster up to T = %lld\n", (long long)tmax);
  if (!fwd || strcmp(fwd, "0")) {
    printf("\n");
    bench_forward(B, H, D, tmin, tmax, repeats);
  }
  return 0;
}
