/* attention_fwd.c — bench/attention.c's forward table: softmax_attention's forward on the CPU,
 * the fast kernel (runtime/fast/fast_attention.c: blocks of query rows, causal blocks skip the
 * keys they cannot see) against the kernel it replaced, kept here as the named baseline
 * (old_forward: per (batch, head) the whole [Sq, Sk] score matrix, causality only as -inf),
 * both called directly on the same inputs, interleaved run by run; medians. Two cases:
 * causal self-attention, and not causal with a key mask (the last T/8 keys dropped: an encoder
 * with padding). Also the fused backward (softmax_attention_grad {causal, wrt = all}) of the
 * causal case, and the largest difference new - old (a check that both compute the same). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fast/fast.h"
#include "rng.h"

void bench_forward(int B, int H, int D, int64_t tmin, int64_t tmax, int repeats);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The forward before blocks of query rows, verbatim but for its arguments (the baseline). */
static void old_forward(const float *Q, const float *K, const float *Vv, const float *M, float *O, int64_t B,
                        int64_t H, int64_t Sq, int64_t Sk, int64_t D, int64_t Dv, int causal, double scale, float *S) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t bh = b * H + h;
      if (Sq && Sk && D)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Sq, (int)Sk, (int)D, (float)scale, Q + bh * Sq * D,
                    (int)D, K + bh * Sk * D, (int)D, 0.0f, S, (int)Sk);
      for (int64_t i = 0; i < Sq; i++) {
        float *row = S + i * Sk, m = -INFINITY;
        for (int64_t j = 0; j < Sk; j++) {
          int vis = (!causal || j <= i + (Sk - Sq)) && (!M || M[b * Sk + j] != 0);
          if (!vis) row[j] = -INFINITY;
          else if (row[j] > m) m = row[j];
        }
        if (m == -INFINITY) {
          for (int64_t j = 0; j < Sk; j++) row[j] = 0;
          continue;
        }
        double z = 0;
        for (int64_t j = 0; j < Sk; j++) {
          float e = row[j] == -INFINITY ? 0.0f : expf(row[j] - m);
          row[j] = e;
          z += e;
        }
        float iz = (float)(1.0 / z);
        for (int64_t j = 0; j < Sk; j++) row[j] *= iz;
      }
      if (Sq && Dv && Sk)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Sq, (int)Dv, (int)Sk, 1.0f, S, (int)Sk,
                    Vv + bh * Sk * Dv, (int)Dv, 0.0f, O + bh * Sq * Dv, (int)Dv);
    }
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmpd);
  return t[n / 2];
}

typedef struct Res {
  double old_s, new_s, bwd_s, diff; /* medians in seconds; max |new - old| */
} Res;

/* One case: q, k, v [B, H, T, D] (and with masked a key mask [B, T]); the backward too if bwd. */
static int run_case(int B, int H, int D, int64_t T, int causal, int masked, int bwd, int repeats, Res *res) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  int gi = ir_graph_add(&p, "fwd", 0, NULL);
  IrGraph *g = &p.graphs.v[gi];
  IrType t4 = {.dt = DT_F32, .rank = 4}, tm = {.dt = DT_F32, .rank = 2};
  int64_t s4[4] = {B, H, T, D}, s2[2] = {B, T};
  for (int i = 0; i < 4; i++) t4.d[i] = dim_const(s4[i]);
  for (int i = 0; i < 2; i++) tm.d[i] = dim_const(s2[i]);
  int in[5] = {ir_input_add(&p, g, "q", t4), ir_input_add(&p, g, "k", t4), ir_input_add(&p, g, "v", t4),
               ir_input_add(&p, g, "m", tm), ir_input_add(&p, g, "g", t4)};
  Tensor x[5] = {{0}}, o = {0}, ref = {0}, dg = {0};
  const Tensor *ptr[5];
  int ok = 1;
  for (int i = 0; i < 5 && ok; i++) {
    ok = rt_tensor_alloc(&x[i], DT_F32, i == 3 ? 2 : 4, i == 3 ? s2 : s4);
    for (int64_t j = 0; ok && j < x[i].n; j++)
      ((float *)x[i].data)[j] =
          i == 3 ? (float)(j % T < T - T / 8) : (float)(0.5 * rng_normal(rng_key(7, (uint64_t)i), (uint64_t)j));
    ptr[i] = &x[i];
  }
  int fwd = ir_node_add(&p, g, OP_SOFTMAX_ATTENTION, masked ? 4 : 3, in);
  ir_set_i(&g->nodes.v[fwd], "causal", causal);
  if (!masked) in[3] = in[4];
  int grad = ir_node_add(&p, g, OP_SOFTMAX_ATTENTION_GRAD, masked ? 5 : 4, in);
  ir_set_i(&g->nodes.v[grad], "causal", causal);
  ir_set_enum(&g->nodes.v[grad], "wrt", "all");
  const Tensor *gptr[5] = {ptr[0], ptr[1], ptr[2], masked ? ptr[3] : ptr[4], ptr[4]};
  char err[256] = "";
  ok = ok && ir_infer(&p, g, fwd, err, sizeof err) && ir_infer(&p, g, grad, err, sizeof err) &&
       rt_tensor_alloc(&ref, DT_F32, 4, s4);
  float *S = ok ? malloc(sizeof(float) * (size_t)(T * T)) : NULL;
  ok = ok && S;
  double to[16], tn[16], tb[16];
  for (int r = 0; ok && r <= repeats; r++) { /* run 0 warms up */
    double t0 = now();
    old_forward(x[0].data, x[1].data, x[2].data, masked ? x[3].data : NULL, ref.data, B, H, T, T, D, D, causal,
                1.0 / sqrt((double)D), S);
    double t1 = now();
    rt_tensor_free(&o);
    ok = fast_node(&p, g, fwd, NULL, ptr, &o, err, sizeof err) == 1;
    double t2 = now();
    if (ok && bwd) {
      rt_tensor_free(&dg);
      ok = fast_node(&p, g, grad, NULL, gptr, &dg, err, sizeof err) == 1;
    }
    if (r) to[r - 1] = t1 - t0, tn[r - 1] = t2 - t1, tb[r - 1] = now() - t2;
  }
  if (ok) {
    res->diff = 0;
    for (int64_t j = 0; j < o.n; j++) res->diff = fmax(res->diff, fabs(((float *)o.data)[j] - ((float *)ref.data)[j]));
    res->old_s = median(to, repeats), res->new_s = median(tn, repeats), res->bwd_s = bwd ? median(tb, repeats) : -1;
  } else {
    fprintf(stderr, "bench: forward T %lld: %s\n", (long long)T, err[0] ? err : "out of memory");
  }
  free(S);
  for (int i = 0; i < 5; i++) rt_tensor_free(&x[i]);
  rt_tensor_free(&o);
  rt_tensor_free(&ref);
  rt_tensor_free(&dg);
  arena_free(&a);
  return ok;
}

void bench_forward(int B, int H, int D, int64_t tmin, int64_t tmax, int repeats) {
  printf("forward alone, B = %d, H = %d, D = %d, f32, median of %d runs; old (the baseline): the forward that "
         "formed\neach head's whole [T, T] score matrix; new: blocks of query rows (runtime/fast/fast_attention.c); "
         "bwd:\nthe fused softmax_attention_grad {causal, wrt = all}; masked: not causal, the last T/8 keys "
         "dropped\n\n",
         B, H, D, repeats);
  printf("      T   causal: old ms   new ms   new/old   bwd ms   masked: old ms   new ms   new/old   max |new-old|\n");
  for (int64_t T = tmin; T <= tmax; T *= 2) {
    Res c = {0}, m = {0};
    if (!run_case(B, H, D, T, 1, 0, 1, repeats, &c) || !run_case(B, H, D, T, 0, 1, 0, repeats, &m)) return;
    printf("  %5lld  %14.2f  %7.2f  %7.2fx  %7.2f  %14.2f  %7.2f  %7.2fx  %13.1e\n", (long long)T, 1e3 * c.old_s,
           1e3 * c.new_s, c.new_s / c.old_s, 1e3 * c.bwd_s, 1e3 * m.old_s, 1e3 * m.new_s, m.new_s / m.old_s,
           fmax(c.diff, m.diff));
    fflush(stdout);
  }
}
