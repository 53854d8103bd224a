/* cuda_bench.c — the GPU check's timing part (cuda_check --bench): the benchmark workloads'
 * training steps (bench/gpu_*.mam) eager and as replayed CUDA graphs, with a per-step profile,
 * and the softmax attention kernels, timed with CUDA events (median of --reps after warm-up)
 * into OUT/bench.tsv and OUT/profile.txt. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_check.h"
#include "examples.h"
#include "kernels/kargs.h"
#include "la_dev.h"
#include "tensor.h"

/* ---- timing ---------------------------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench_line(Ck *c, const char *name, double med, double first, double flops, const char *note) {
  double tf = med > 0 ? flops / (med * 1e-3) / 1e12 : 0;
  /* a workload that did not run (but for the time budget) fails the check (gpu.sh's bench part) */
  c->checks++, c->fails += med < 0 && !(note && !strncmp(note, "skipped", 7));
  printf("bench   %-36s median %9.3f ms  first %8.1f ms  %7.1f TFLOP/s  %s\n", name, med, first, tf, note ? note : "");
  if (c->btsv) fprintf(c->btsv, "%s\t%.4f\t%.1f\t%.4g\t%.2f\t%s\n", name, med, first, flops, tf, note ? note : "");
  if (c->btsv) fflush(c->btsv);
  fflush(stdout);
}

typedef struct Workload {
  const char *name, *mam, *yaml;
  int64_t B, S, T; /* the input sizes: src [B, S], tgt [B, T] */
  int bf16;
  const char *env; /* "NAME=VALUE" set for this workload (NULL: the defaults), e.g. MAMC_CUDA_ATTN */
} Workload;

/* The trainer's step end after a run (runtime/cuda/dtrain_step.c, the step on the device): each
 * gradient added into its parameter's sum (k_axpy_n), the global norm (k_sqnorm,
 * k_sqnorm_final) read back by the host (the numerical guard waits for it), then AdamW over
 * every parameter (k_adamw; it zeroes the sums). The bench times the run and this, as
 * torch_ref.py times forward, backward and its fused AdamW. */
typedef struct StepEnd {
  int n;                        /* gradient outputs */
  int *out;                     /* their output indices */
  DPtr *g, *m, *v;              /* per gradient output: its parameter's sum and moments */
  DPtr tensors, tab, start, inv, steps, step, part, norm, tok;
  long long nchunks;
} StepEnd;

static DPtr up_zero(Ck *c, const void *h, size_t bytes) {
  DPtr d = 0;
  if (!dev_alloc(&c->dev, bytes ? bytes : 8, &d) || !(h ? dev_h2d(&c->dev, d, h, bytes) : dev_zero(&c->dev, d, bytes))) return 0;
  return d;
}

static int step_end_init(Ck *c, StepEnd *s, const IrProgram *p, const IrGraph *g, const ParamStore *ps, const DParams *dp) {
  memset(s, 0, sizeof *s);
  int M = p->modules.n;
  s->out = calloc((size_t)g->outputs.n + 1, sizeof *s->out);
  s->g = calloc((size_t)g->outputs.n + 1, sizeof(DPtr)), s->m = calloc((size_t)g->outputs.n + 1, sizeof(DPtr));
  s->v = calloc((size_t)g->outputs.n + 1, sizeof(DPtr));
  KaAdamTensor *ts = calloc((size_t)g->outputs.n + 1, sizeof *ts);
  float *inv = calloc((size_t)M + 1, sizeof *inv), one = 1.0f;
  long long *steps = calloc((size_t)M + 1, sizeof *steps);
  int ok = s->out && s->g && s->m && s->v && ts && inv && steps;
  for (int k = 0; ok && k < g->outputs.n; k++) {
    const IrOutput *o = &g->outputs.v[k];
    if (o->module < 0) continue;
    int q = ps->first[o->module] + o->param;
    int64_t n = ps->t[q].n;
    ok = (s->g[s->n] = up_zero(c, NULL, (size_t)n * 4)) && (s->m[s->n] = up_zero(c, NULL, (size_t)n * 4)) &&
         (s->v[s->n] = up_zero(c, NULL, (size_t)n * 4));
    ts[s->n] = (KaAdamTensor){dp->w[q], s->g[s->n], s->m[s->n], s->v[s->n], dp->wb ? dp->wb[q] : 0, n, o->module, 0};
    s->nchunks += (n + KA_ADAM_CHUNK - 1) / KA_ADAM_CHUNK;
    s->out[s->n++] = k;
  }
  int *tab = ok ? malloc(sizeof(int) * (size_t)(s->nchunks + 1)) : NULL;
  long long *start = ok ? malloc(sizeof(long long) * (size_t)(s->nchunks + 1)) : NULL, ch = 0;
  ok = ok && tab && start;
  for (int i = 0; ok && i < s->n; i++)
    for (long long x = 0; x < ts[i].n; x += KA_ADAM_CHUNK) tab[ch] = i, start[ch++] = x;
  for (int m = 0; m < M; m++) inv[m] = 1.0f, steps[m] = 1;
  KaAdamStep st = {1e-4, 1.0};
  ok = ok && (s->tensors = up_zero(c, ts, sizeof *ts * (size_t)(s->n + 1))) &&
       (s->tab = up_zero(c, tab, sizeof(int) * (size_t)(s->nchunks + 1))) &&
       (s->start = up_zero(c, start, sizeof(long long) * (size_t)(s->nchunks + 1))) &&
       (s->inv = up_zero(c, inv, sizeof(float) * (size_t)(M + 1))) && (s->steps = up_zero(c, steps, sizeof(long long) * (size_t)(M + 1))) &&
       (s->step = up_zero(c, &st, sizeof st)) && (s->part = up_zero(c, NULL, sizeof(double) * (size_t)(s->nchunks + 1))) &&
       (s->norm = up_zero(c, NULL, sizeof(double))) && (s->tok = up_zero(c, &one, sizeof one));
  free(ts), free(inv), free(steps), free(tab), free(start);
  return ok;
}

/* the step end's work after run e (its gradient outputs still alive) */
static int step_end_run(Ck *c, StepEnd *s, const DExec *e, const int64_t *sym) {
  KaAxpyN ax;
  memset(&ax, 0, sizeof ax);
  ax.a = 1.0f, ax.a_dev = s->tok;
  int ok = 1;
  int64_t most = 0;
  for (int i = 0; ok && i <= s->n; i++) {
    if (i == s->n || ax.count == KA_AXPY_N) { /* a full batch, or the last */
      ok = !ax.count || dev_launch(&c->dev, KMOD_MOVE, "k_axpy_n", dev_grid(&c->dev, most, 256), (unsigned)ax.count, 1, 256, 0, &ax);
      ax.count = 0, most = 0;
      if (i == s->n) break;
    }
    int64_t n;
    ax.x[ax.count] = dexec_output(e, s->out[i], sym, &n), ax.y[ax.count] = s->g[i], ax.n[ax.count++] = n;
    most = n > most ? n : most;
  }
  KaAdam a;
  memset(&a, 0, sizeof a);
  a.tensors = s->tensors, a.tab = s->tab, a.start = s->start, a.nchunks = s->nchunks, a.inv = s->inv, a.steps = s->steps;
  a.step = s->step, a.part = s->part, a.norm = s->norm, a.beta1 = 0.9, a.beta2 = 0.999, a.eps = 1e-8, a.wd = 0.01;
  double norm = 0;
  return ok && dev_launch(&c->dev, KMOD_ADAMW, "k_sqnorm", (unsigned)s->nchunks, 1, 1, 256, 0, &a) &&
         dev_launch(&c->dev, KMOD_ADAMW, "k_sqnorm_final", 1, 1, 1, 32, 0, &a) && dev_d2h(&c->dev, &norm, s->norm, sizeof norm) &&
         dev_launch(&c->dev, KMOD_ADAMW, "k_adamw", (unsigned)s->nchunks, 1, 1, 256, 0, &a);
}

static void step_end_free(Ck *c, StepEnd *s) {
  for (int i = 0; i < s->n; i++) dev_free(&c->dev, s->g[i]), dev_free(&c->dev, s->m[i]), dev_free(&c->dev, s->v[i]);
  DPtr rest[] = {s->tensors, s->tab, s->start, s->inv, s->steps, s->step, s->part, s->norm, s->tok};
  for (size_t i = 0; i < sizeof rest / sizeof *rest; i++) dev_free(&c->dev, rest[i]);
  free(s->out), free(s->g), free(s->m), free(s->v);
  memset(s, 0, sizeof *s);
}

/* Where the step's time goes: 3 runs with an event around every step (dexec_prof.c), the 30
 * longest steps and the steps summed by what they are into OUT/profile.txt (and stdout); the total is checked to be positive. */
static void profile(Ck *c, DExec *e, const Run *r, const DParams *dp, const InterpCx *cx, const char *name) {
  int ok = dexec_profile_on(e);
  for (int i = 0; ok && i < 3; i++) ok = dexec_run(e, r->sym, r->in, dp, cx);
  ok = ok && dev_sync(&c->dev);
  StrBuf b;
  sb_init(&b);
  dexec_profile_report(e, &b, 30);
  printf("profile of %s: %s", name, ok && b.s ? b.s : e->err);
  if (ok && c->outdir && b.s) {
    char path[1024];
    snprintf(path, sizeof path, "%s/profile.txt", c->outdir);
    FILE *f = fopen(path, "a");
    if (f) fprintf(f, "== %s\n%s\n", name, b.s), fclose(f);
  }
  sb_free(&b);
  if (!ok) bench_line(c, name, -1, -1, 0, "profiling failed");
}

/* The step as the trainer runs it once shapes repeat: one run captured into a CUDA graph
 * (dtrain_graph.c), then replayed: median of reps after 2 warm-up replays -> "NAME, CUDA graph" */
static void bench_graph(Ck *c, DExec *e, const Run *r, const DParams *dp, const InterpCx *cx, const char *name, int reps,
                        StepEnd *se) {
  DevGraph gr;
  memset(&gr, 0, sizeof gr);
  char what[160];
  snprintf(what, sizeof what, "%.*s, CUDA graph)", (int)strlen(name) - 1, name); /* "tiny step (f32)" -> "tiny step (f32, CUDA graph)" */
  int ok = dexec_stage(e, r->sym, r->in) && dev_capture_begin(&c->dev);
  if (ok && !(ok = dexec_run(e, r->sym, r->in, dp, cx))) dev_capture_abort(&c->dev);
  else if (ok && !(ok = dev_capture_end(&c->dev, &gr))) dev_capture_abort(&c->dev);
  for (int i = 0; ok && i < 2; i++) ok = dev_graph_launch(&c->dev, &gr) && step_end_run(c, se, e, r->sym);
  double *ms = calloc((size_t)reps, sizeof *ms);
  DevEvent a = {0}, b = {0};
  for (int i = 0; ok && ms && i < reps; i++)
    ok = dev_event_record(&c->dev, &a) && dev_graph_launch(&c->dev, &gr) && step_end_run(c, se, e, r->sym) &&
         dev_event_record(&c->dev, &b) && dev_event_ms(&c->dev, &a, &b, &ms[i]);
  if (ok && ms) {
    qsort(ms, (size_t)reps, sizeof *ms, cmp_d);
    bench_line(c, what, ms[reps / 2], -1, e->stats.gemm_flops, "the run captured once, replayed; + the step end (sums, norm, AdamW) eager");
  } else {
    bench_line(c, what, -1, -1, 0, e->err[0] ? e->err : c->dev.L.err);
  }
  free(ms);
  dev_event_free(&c->dev, &a), dev_event_free(&c->dev, &b);
  if (gr.ok) dev_graph_free(&c->dev, &gr);
  dexec_release(e);
}

static void bench_workload(Ck *c, const Workload *w) {
  Example ex;
  if (access(w->mam, R_OK) != 0 || !example_load(&ex, w->mam, w->yaml)) {
    bench_line(c, w->name, -1, -1, 0, "does not compile");
    if (access(w->mam, R_OK) == 0) example_free(&ex);
    return;
  }
  const IrProgram *p = ex.train;
  const IrGraph *g = &p->graphs.v[0];
  ParamStore ps;
  char err[256];
  DParams dp = {0};
  DExec e;
  memset(&e, 0, sizeof e);
  Run r = {0};
  int64_t fixed[64] = {0};
  StepEnd se;
  memset(&se, 0, sizeof se);
  /* bind B, S, T by the inputs' declared dims: src [B, S], tgt [B, T] */
  for (int i = 0, k = 0; i < g->nodes.n; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op != OP_INPUT || n->type.rank != 2) continue;
    if (n->type.d[0].sym >= 0 && n->type.d[0].sym < 64) fixed[n->type.d[0].sym] = w->B;
    if (n->type.d[1].sym >= 0 && n->type.d[1].sym < 64) fixed[n->type.d[1].sym] = k == 0 && w->S ? w->S : w->T;
    k++;
  }
  int ok = rt_params_init(&ps, p, 7, DT_F32, err, sizeof err);
  if (!ok) {
    bench_line(c, w->name, -1, -1, 0, err);
    example_free(&ex);
    return;
  }
  /* the first step as torch_ref.py's "first step": the model on the device already; from planning
   * (kernels from the cache, or compiled) to the end of the first run and its step end */
  ok = make_run(p, g, &r, fixed, 3) && upload_params(c, &ps, &dp) && dev_sync(&c->dev);
  double t0 = now();
  ok = ok && dexec_init(&e, &c->dev, p, 0, w->bf16) && upload_params16(c, &ps, &e, &dp) && step_end_init(c, &se, p, g, &ps, &dp);
  InterpCx cx = {DT_F32, 5, 1, 1, {0}};
  double first = 0;
  ok = ok && dexec_run(&e, r.sym, r.in, &dp, &cx) && step_end_run(c, &se, &e, r.sym) && dev_sync(&c->dev);
  first = (now() - t0) * 1e3;
  for (int i = 0; ok && i < 2; i++) ok = dexec_run(&e, r.sym, r.in, &dp, &cx) && step_end_run(c, &se, &e, r.sym); /* warm-up */
  int reps = c->reps;
  double *ms = calloc((size_t)reps, sizeof *ms);
  DevEvent a = {0}, b = {0};
  for (int i = 0; ok && i < reps && ms; i++) {
    ok = dev_event_record(&c->dev, &a) && dexec_run(&e, r.sym, r.in, &dp, &cx) && step_end_run(c, &se, &e, r.sym) &&
         dev_event_record(&c->dev, &b) && dev_event_ms(&c->dev, &a, &b, &ms[i]);
    if (over_budget(c) && i >= 2) reps = i + 1;
  }
  if (ok && ms) {
    qsort(ms, (size_t)reps, sizeof *ms, cmp_d);
    char note[256];
    StrBuf sb;
    sb_init(&sb);
    dexec_summary(&e, &sb);
    snprintf(note, sizeof note, "%s B%lld S%lld T%lld, %d reps, run + step end (sums, norm, AdamW); host nodes %lld; %lld launches a run; %.120s",
             w->bf16 ? "bf16" : "f32", (long long)w->B, (long long)w->S, (long long)w->T, reps, (long long)e.stats.host_nodes,
             (long long)dexec_launches(&e), sb.s ? sb.s : "");
    printf("plan    %s: %s\n", w->name, sb.s ? sb.s : "");
    sb_free(&sb);
    bench_line(c, w->name, ms[reps / 2], first, e.stats.gemm_flops, note);
    if (e.capturable) bench_graph(c, &e, &r, &dp, &cx, w->name, reps, &se);
    profile(c, &e, &r, &dp, &cx, w->name);
  } else {
    bench_line(c, w->name, -1, first, 0, e.err[0] ? e.err : c->dev.L.err);
  }
  free(ms);
  dev_event_free(&c->dev, &a), dev_event_free(&c->dev, &b);
  if (e.n) dexec_free(&e);
  step_end_free(c, &se);
  free_params(c, &dp);
  free_run(&r);
  rt_params_free(&ps);
  example_free(&ex);
}

/* softmax attention forward + backward with the hand-written kernels: B 4, H 16, D 64, causal;
 * tc 0: attention.cu's f32 kernels (CUDA cores), 1: attention_tc.cu's bf16 ones (tensor cores) */
static void bench_attention(Ck *c, int T, int tc) {
  int B = 4, H = 16, D = 64;
  size_t n = (size_t)B * H * T * D, rows = (size_t)B * H * T, es = tc ? 2 : 4;
  DPtr q, k, v, o, lse, dO, delta, dq, dk, dv;
  Dev *dev = &c->dev;
  int ok = dev_alloc(dev, n * es, &q) && dev_alloc(dev, n * es, &k) && dev_alloc(dev, n * es, &v) &&
           dev_alloc(dev, n * es, &o) && dev_alloc(dev, rows * 4, &lse) && dev_alloc(dev, n * es, &dO) &&
           dev_alloc(dev, rows * 4, &delta) && dev_alloc(dev, n * es, &dq) && dev_alloc(dev, n * es, &dk) &&
           dev_alloc(dev, n * es, &dv);
  float *h = ok ? malloc(n * 4) : NULL;
  uint16_t *h16 = h && tc ? malloc(n * 2) : NULL;
  ok = ok && h && (h16 || !tc);
  if (ok) {
    fill(h, (int64_t)n, 1, 1);
    for (size_t i = 0; h16 && i < n; i++) h16[i] = rt_bf16_from_f64(h[i]);
    const void *src = tc ? (const void *)h16 : (const void *)h;
    ok = dev_h2d(dev, q, src, n * es) && dev_h2d(dev, k, src, n * es) && dev_h2d(dev, v, src, n * es) &&
         dev_h2d(dev, dO, src, n * es);
  }
  KaAttn a = {.q = q, .k = k, .v = v, .o = o, .lse = lse, .dO = dO, .delta = delta, .dq = dq, .dk = dk, .dv = dv,
              .B = B, .H = H, .Sq = T, .Sk = T, .causal = 1, .D = D, .scale = (float)(1.0 / sqrt((double)D)), .bf16 = tc,
              .delta_out = tc}; /* on tensor cores the dq kernel computes delta (as the executor runs it) */
  int mod = tc ? KMOD_ATTENTION_TC : KMOD_ATTENTION;
  unsigned gq = (unsigned)(tc ? (T + 63) / 64 : (T + 15) / 16), gk = (unsigned)(tc ? (T + 63) / 64 : (T + 31) / 32);
  double fw[64], bw[64];
  int reps = c->reps < 64 ? c->reps : 64;
  DevEvent e0 = {0}, e1 = {0}, e2 = {0};
  for (int i = -2; ok && i < reps; i++) {
    ok = dev_event_record(dev, &e0) &&
         dev_launch(dev, mod, tc ? "k_fa_fwd_d64" : "k_attn_fwd_d64", gq, (unsigned)H, (unsigned)B, 128, 0, &a) &&
         dev_event_record(dev, &e1) &&
         (tc || dev_launch(dev, KMOD_ATTENTION, "k_attn_bwd_pre", dev_grid(dev, (int64_t)rows * 32, 256), 1, 1, 256, 0, &a)) &&
         dev_launch(dev, mod, tc ? "k_fa_bwd_dq_d64" : "k_attn_bwd_dq_d64", gq, (unsigned)H, (unsigned)B, 128, 0, &a) &&
         dev_launch(dev, mod, tc ? "k_fa_bwd_dkdv_d64" : "k_attn_bwd_dkdv_d64", gk, (unsigned)H, (unsigned)B, 128, 0, &a) &&
         dev_event_record(dev, &e2);
    double x = 0, y = 0;
    ok = ok && dev_event_ms(dev, &e0, &e1, &x) && dev_event_ms(dev, &e1, &e2, &y);
    if (i >= 0) fw[i] = x, bw[i] = y;
    if (over_budget(c) && i >= 2) reps = i + 1;
  }
  char name[80], note[128];
  const char *form = tc ? " (bf16, tensor cores)" : "";
  if (ok) {
    qsort(fw, (size_t)reps, sizeof *fw, cmp_d);
    qsort(bw, (size_t)reps, sizeof *bw, cmp_d);
    double fl = 4.0 * B * H * (double)T * T * D / 2; /* causal: half of the 2 products */
    snprintf(note, sizeof note, "%s causal B4 H16 D64, %d reps", tc ? "bf16 mma.sync" : "f32 CUDA cores", reps);
    snprintf(name, sizeof name, "attn softmax fwd T=%d%s", T, form);
    bench_line(c, name, fw[reps / 2], -1, fl, note);
    snprintf(name, sizeof name, "attn softmax fwd+bwd T=%d%s", T, form);
    bench_line(c, name, fw[reps / 2] + bw[reps / 2], -1, 3.5 * fl, note);
  } else {
    snprintf(name, sizeof name, "attn softmax T=%d%s", T, form);
    bench_line(c, name, -1, -1, 0, dev->L.err);
  }
  free(h), free(h16);
  dev_event_free(dev, &e0), dev_event_free(dev, &e1), dev_event_free(dev, &e2);
  DPtr all[] = {q, k, v, o, lse, dO, delta, dq, dk, dv};
  for (size_t i = 0; ok && i < sizeof all / sizeof *all; i++) dev_free(dev, all[i]);
}

/* DiJiang's attention core as ../shared/bench/torch_ref.py times it (its `lin`): DCT features
 * of q and k (softmax(w (x C))), causal linear attention without gates, forward + backward, f32,
 * B 4, H 16, D 64, 64 features, on the hand-written kernels launched as the executor does
 * (la_dev.c): tc 1 linattn_tc.cu's (tensor cores, 3xTF32: the executor's choice on
 * sm_80+), 0 linattn.cu's (CUDA cores). Not included: the feature maps' own backward (generated
 * kernels and products in a graph; autograd's in PyTorch's number). */
static void bench_linattn(Ck *c, int T, int tc) {
  const int B = 4, H = 16, D = 64, m = 64, NT = (T + 31) / 32;
  const int64_t BH = (int64_t)B * H, nx = BH * T * D, nst = BH * NT * m * D;
  Dev *dev = &c->dev;
  DPtr q = 0, k = 0, v = 0, P = 0, fw = 0, fq = 0, fk = 0, o = 0, dO = 0, dq = 0, dkb = 0, dv = 0, st = 0, rst = 0, dec = 0;
  int ok = dev_alloc(dev, nx * 4, &q) && dev_alloc(dev, nx * 4, &k) && dev_alloc(dev, nx * 4, &v) &&
           dev_alloc(dev, (uint64_t)D * m * 4, &P) && dev_alloc(dev, (uint64_t)m * 4, &fw) && dev_alloc(dev, nx * 4, &fq) &&
           dev_alloc(dev, nx * 4, &fk) && dev_alloc(dev, nx * 4, &o) && dev_alloc(dev, nx * 4, &dO) &&
           dev_alloc(dev, nx * 4, &dq) && dev_alloc(dev, nx * 4, &dkb) && dev_alloc(dev, nx * 4, &dv) &&
           dev_alloc(dev, (uint64_t)nst * 4, &st) && dev_alloc(dev, (uint64_t)nst * 4, &rst) &&
           dev_alloc(dev, (uint64_t)BH * NT * 4, &dec);
  float *h = ok ? malloc((size_t)nx * 4) : NULL;
  ok = ok && h;
  if (ok) {
    fill(h, nx, 5, 1);
    ok = dev_h2d(dev, q, h, (size_t)nx * 4) && dev_h2d(dev, k, h, (size_t)nx * 4) && dev_h2d(dev, v, h, (size_t)nx * 4) &&
         dev_h2d(dev, dO, h, (size_t)nx * 4) && dev_h2d(dev, P, h, (size_t)D * m * 4) && dev_h2d(dev, fw, h, (size_t)m * 4);
  }
  KaLin a;
  memset(&a, 0, sizeof a);
  a.P = P, a.fw = fw, a.feature = 0, a.rows = BH * T, a.BH = BH, a.H = H, a.T = T, a.D = D, a.m = m, a.dv_w = D;
  a.q = fq, a.k = fk, a.v = v, a.o = o, a.dO = dO, a.dq = dq, a.dkb = dkb, a.dv = dv, a.states = st, a.rstates = rst;
  a.decays = dec;
  a.seg = tc ? la_dev_seg(BH, NT) : 1;
  double fwd[64], bwd[64];
  int reps = c->reps < 64 ? c->reps : 64;
  DevEvent e0 = {0}, e1 = {0}, e2 = {0};
  for (int i = -2; ok && i < reps; i++) {
    KaLin f = a;
    ok = dev_event_record(dev, &e0) && la_dev_features(dev, &a, tc, q, fq) && la_dev_features(dev, &a, tc, k, fk) &&
         la_dev_core(dev, &a, tc, 0, 0) && dev_event_record(dev, &e1) && la_dev_core(dev, &a, tc, 1, 0) &&
         dev_event_record(dev, &e2);
    double x = 0, y = 0;
    ok = ok && dev_event_ms(dev, &e0, &e1, &x) && dev_event_ms(dev, &e1, &e2, &y);
    if (i >= 0) fwd[i] = x, bwd[i] = y;
    if (over_budget(c) && i >= 2) reps = i + 1;
    a = f;
  }
  char name[96], note[192];
  const char *form = tc ? "" : " (CUDA cores)";
  if (ok) {
    qsort(fwd, (size_t)reps, sizeof *fwd, cmp_d);
    qsort(bwd, (size_t)reps, sizeof *bwd, cmp_d);
    char form2[48];
    snprintf(form2, sizeof form2, tc ? "3xTF32 mma.sync, segments of %d chunks" : "f32 FMA", a.seg);
    snprintf(note, sizeof note, "f32 causal B4 H16 D64 m64, no gates, %s; fwd %.3f ms; feature-map backward not included; %d reps",
             form2, fwd[reps / 2], reps);
    snprintf(name, sizeof name, "attn dijiang core fwd+bwd T=%d%s", T, form);
    bench_line(c, name, fwd[reps / 2] + bwd[reps / 2], -1, 0, note);
  } else {
    snprintf(name, sizeof name, "attn dijiang core T=%d%s", T, form);
    bench_line(c, name, -1, -1, 0, dev->L.err);
  }
  free(h);
  dev_event_free(dev, &e0), dev_event_free(dev, &e1), dev_event_free(dev, &e2);
  DPtr all[] = {q, k, v, P, fw, fq, fk, o, dO, dq, dkb, dv, st, rst, dec};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) dev_free(dev, all[i]);
}

void run_bench(Ck *c) {
  const Workload ws[] = {
      {"tiny step (f32)", "bench/gpu_tiny.mam", "bench/gpu_tiny.yaml", 8, 64, 65, 0, NULL},
      {"tiny step (bf16)", "bench/gpu_tiny.mam", "bench/gpu_tiny.yaml", 8, 64, 65, 1, NULL},
      {"mt step (bf16)", "bench/gpu_mt.mam", "bench/gpu_mt.yaml", 64, 256, 257, 1, NULL},
      {"mt step (bf16, attention as products)", "bench/gpu_mt.mam", "bench/gpu_mt.yaml", 64, 256, 257, 1, "MAMC_CUDA_ATTN=gemm"},
      /* what the attention I/O planning (dexec_attn_io.c) saves: its transposes run, its forward run again */
      {"mt step (bf16, attention I/O as copies)", "bench/gpu_mt.mam", "bench/gpu_mt.yaml", 64, 256, 257, 1, "MAMC_CUDA_ATTN_IO=0"},
      {"mt step (f32)", "bench/gpu_mt.mam", "bench/gpu_mt.yaml", 64, 256, 257, 0, NULL},
      {"attn dijiang layer T=1024", "bench/gpu_attn.mam", "bench/gpu_attn.yaml", 4, 0, 1025, 0, NULL},
      {"attn dijiang layer T=4096", "bench/gpu_attn.mam", "bench/gpu_attn.yaml", 4, 0, 4097, 0, NULL},
      {"attn dijiang layer T=16384", "bench/gpu_attn.mam", "bench/gpu_attn.yaml", 4, 0, 16385, 0, NULL},
      /* an experiment: each product's algorithm timed among the heuristic's best 8 (dev_gemm.c) */
      {"mt step (bf16, GEMMs tuned)", "bench/gpu_mt.mam", "bench/gpu_mt.yaml", 64, 256, 257, 1, "MAMC_CUDA_GEMM_TUNE=1"},
  };
  /* the steps first (the targets), then the kernels alone: tensor cores, DiJiang's core,
   * and last the f32 CUDA-core attention (slowest at T = 16k) */
  for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) {
    if (over_budget(c)) {
      bench_line(c, ws[i].name, -1, -1, 0, "skipped: over the time budget");
      continue;
    }
    if (c->only && !strstr(ws[i].name, c->only)) continue;
    char var[64] = "";
    const char *eq = ws[i].env ? strchr(ws[i].env, '=') : NULL;
    if (eq) snprintf(var, sizeof var, "%.*s", (int)(eq - ws[i].env), ws[i].env), setenv(var, eq + 1, 1);
    int fresh = eq && strstr(var, "GEMM_TUNE"); /* the products' cache made again: tuned, then not */
    if (fresh) dev_gemm_cache_free(&c->dev);
    bench_workload(c, &ws[i]);
    if (eq) unsetenv(var);
    if (fresh) dev_gemm_cache_free(&c->dev);
  }
  int Ts[] = {1024, 4096, 16384};
  for (int i = 0; i < 3 && !over_budget(c) && !c->emu; i++) bench_attention(c, Ts[i], 1);
  for (int i = 0; i < 3 && !over_budget(c) && !c->emu; i++) bench_linattn(c, Ts[i], la_dev_tc(&c->dev, 64, 64, 64));
  for (int i = 0; i < 3 && !over_budget(c) && !c->emu && la_dev_tc(&c->dev, 64, 64, 64); i++) bench_linattn(c, Ts[i], 0);
  for (int i = 0; i < 3 && !over_budget(c) && !c->emu; i++) bench_attention(c, Ts[i], 0);
}
