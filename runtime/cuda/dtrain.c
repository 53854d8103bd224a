/* dtrain.c — train.device: cuda: the trainer's step on a GPU (trainer_internal.h's tdev_*
 * hooks; docs/gpu.md).
 *
 * Each owned task gets a device executor (dexec.h) for its train graph, and one for its eval
 * graph when it has validation data; no CPU executor is built. The parameters live on the
 * device (DParams): uploaded once at the start and again after the host changed them
 * (tdev_host_changed: a checkpoint loaded, --init-from, an update made on the host, DEPT outer
 * rounds), downloaded when the host reads them (tdev_pull: checkpoints, replicas, the decoder
 * of validation BLEU, the numerical guard's op-by-op re-run).
 *
 * The step's end takes one of two paths, chosen once at tdev_open:
 *  (b) on the device (dtrain_step.c) — AdamW or Adam, no outer-synchronised (DEPT) module
 *      (with several processes, no locally synchronised one either): each gradient is added,
 *      times its batch's target tokens, into a device-resident sum (k_axpy_n, all of a run's
 *      gradients in one launch at its end); with several processes the sums of the exchanged buckets go down to
 *      host buffers after the task runs, through the host path's own bucket exchange
 *      (tbuckets_finish), and back up, and the norm is summed over the world as tsync_norm
 *      does (dtrain_xchg.c); the global norm (k_sqnorm), clipping and AdamW with per-module
 *      step counts (k_adamw: one launch over every trainable parameter) run on the device; only
 *      the norm (8 bytes) comes back, for the numerical guard. The host's parameters and
 *      moments are stale until tdev_pull; no parameter goes up per step.
 *  (a) staged — everything else (SGD, outer rounds, local modules with several processes;
 *      MAMC_CUDA_STAGED=1 forces it): each gradient is copied to the host as the backward pass produces it and
 *      handed to the trainer's own tbuckets_on_output, so the MPI bucket exchange overlaps the
 *      backward pass as on the CPU, and finish_step (exchange, norm, clip, guard, optimizer,
 *      rounds) is the unchanged CPU code; the updated parameters go up once before the next run.
 * Why both: (a) keeps the one tested implementation of the trainer's semantics for every case
 * (multi-process exchange, DEPT rounds, SGD) with a small, checkable change; (b) is where the
 * single-GPU step time goes (no synchronisation per gradient, no parameter upload per step),
 * and its kernels have CPU references (kref.c) that the emulation runs. With several processes
 * (b) stages the finished sums (once per bucket and step, not per gradient) through host buffers.
 * On path (b) the task runs and the step's end are captured into CUDA graphs once their shapes
 * repeat, and replayed (dtrain_graph.c).
 * Which GPU: cuda:N; else MAMC_CUDA_DEVICE; else, one per process of a node, the process's
 * local rank (dist_local_rank) mod the number of GPUs (dev_open_for_rank). With
 * train.precision: bf16 products take bf16 operands (f32 accumulate) and the activations
 * derived from them are stored as bf16 (dexec_dtype.c); every parameter has a bf16 copy
 * (DParams.wb: made at each upload, rewritten by k_adamw beside the f32 weight) that products
 * read (MAMC_CUDA_BF16_WEIGHTS=0: none, products round the weight); parameters, moments, sums, gradients
 * of parameters and losses stay f32. The device line says "activations" and how many values
 * are bf16; device_stats the activation bytes of each task's last eager train run by dtype.
 * Never silently on the CPU: a device that fails is an error. MAMC_CUDA_EMU=1 opens the host
 * emulation of dev.h instead of a GPU (the tests here; tests/cuda/dtrain_test.sh).
 * Metrics (rank 0's JSONL): a {"type": "device"} line at the first run (which device and
 * ordinal — every rank's with several processes —, which path, precision, graphs) and
 * {"type": "device_stats"} at the end (runs, steps by path, graph replays / captures / eager
 * runs, transfers, seconds; the wall time of the first step and the median of the others, step
 * boundary to step boundary). */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "dist.h"
#include "dtrain_internal.h"

int tdev_fail(Trainer *t, char *err, size_t n, const char *what) {
  snprintf(err, n, "train.device: cuda: %s: %s", what, t->dev->dev.L.err);
  return 0;
}

static uint64_t bytes_of(const Tensor *x) { return (uint64_t)x->n * 4; }

int tdev_upload(Trainer *t, char *err, size_t n) {
  TDev *x = t->dev;
  for (int q = 0; q < t->params.n; q++) {
    if (!x->p.w[q]) continue;
    int ok = dev_h2d(&x->dev, x->p.w[q], t->params.t[q].data, bytes_of(&t->params.t[q]));
    if (ok && x->p.wb[q]) { /* its bf16 copy, as k_adamw keeps it after every update */
      KaVec a;
      memset(&a, 0, sizeof a);
      a.x = x->p.w[q], a.yb = x->p.wb[q], a.n = t->params.t[q].n;
      ok = dev_launch(&x->dev, KMOD_MOVE, "k_to_bf16", dev_grid(&x->dev, a.n, 256), 1, 1, 256, 0, &a);
    }
    if (ok && x->on_device)
      ok = dev_h2d(&x->dev, x->m[q], t->m.t[q].data, bytes_of(&t->m.t[q])) &&
           dev_h2d(&x->dev, x->v[q], t->v.t[q].data, bytes_of(&t->v.t[q]));
    if (!ok) return tdev_fail(t, err, n, "uploading the parameters");
  }
  if (!dev_sync(&x->dev)) return tdev_fail(t, err, n, "uploading the parameters"); /* the host may change them next */
  x->dev_stale = 0;
  x->uploads++;
  return 1;
}

int tdev_pull(Trainer *t, Diag *d) {
  TDev *x = t->dev;
  if (!x->host_stale) return 1;
  for (int q = 0; q < t->params.n; q++) {
    if (!x->p.w[q]) continue;
    int ok = dev_d2h(&x->dev, t->params.t[q].data, x->p.w[q], bytes_of(&t->params.t[q]));
    if (ok && x->on_device)
      ok = dev_d2h(&x->dev, t->m.t[q].data, x->m[q], bytes_of(&t->m.t[q])) &&
           dev_d2h(&x->dev, t->v.t[q].data, x->v[q], bytes_of(&t->v.t[q]));
    if (!ok) {
      char err[1200];
      tdev_fail(t, err, sizeof err, "downloading the parameters");
      if (d) diag_plain(d, "%s", err); /* (d NULL: trainer_params, which cannot report) */
      return 0;
    }
  }
  x->host_stale = 0;
  x->downloads++;
  return 1;
}

void tdev_host_changed(Trainer *t) { t->dev->dev_stale = 1; }

/* Path (a): one gradient to the host, into the trainer's sums (and its bucket exchange). */
static void staged_output(void *user, int output, DPtr value, int64_t n) {
  Trainer *t = user;
  TDev *x = t->dev;
  const IrOutput *out = &t->train->graphs.v[t->cur_graph].outputs.v[output];
  if (out->module < 0 || x->cb_failed) return;
  int q = t->params.first[out->module] + out->param;
  if (n != t->gsum.t[q].n || n > x->stage_n) {
    x->cb_failed = 1;
    snprintf(x->cb_err, sizeof x->cb_err, "gradient output %s has %lld elements, its parameter %lld", out->name,
             (long long)n, (long long)t->gsum.t[q].n);
    return;
  }
  if (!dev_d2h(&x->dev, x->stage, value, (uint64_t)n * 4)) {
    x->cb_failed = 1;
    snprintf(x->cb_err, sizeof x->cb_err, "copying gradient %s to the host: %s", out->name, x->dev.L.err);
    return;
  }
  Tensor g;
  memset(&g, 0, sizeof g);
  g.dt = DT_F32;
  g.rank = 1;
  g.shape[0] = g.n = n;
  g.data = x->stage;
  tbuckets_on_output(t, output, &g);
}

static void choose_path(Trainer *t, TDev *x) {
  const char *staged = getenv("MAMC_CUDA_STAGED"), *why = NULL;
  int has_rows = 0, multi = t->opts.dist && dist_size(t->opts.dist) > 1, local = 0;
  for (int k = 0; k < t->ntasks; k++) has_rows |= t->tasks[k].rows != NULL;
  for (int m = 0; multi && m < t->train->modules.n; m++) local |= t->held[m] && !t->groups[t->group_of[m]].exchanged;
  if (staged && *staged && strcmp(staged, "0") != 0) why = "MAMC_CUDA_STAGED is set";
  else if (t->opts.opt.kind == OPT_SGD) why = "SGD (k_adamw is AdamW / Adam)";
  else if (t->has_outer || has_rows) why = "outer-synchronised (DEPT) modules: rounds run on the host";
  else if (local) why = "several processes and locally synchronised modules: their norm is each process's own";
  x->on_device = why == NULL;
  x->multi = x->on_device && multi; /* the sums exchanged through host buffers (dtrain_xchg.c) */
  snprintf(x->why_staged, sizeof x->why_staged, "%s", why ? why : "");
}

/* Every rank's GPU ordinal, for rank 0's device line (-1: it could not open one). Collective:
 * every process calls it once, whether its own GPU opened or not, so that none waits alone. */
static int share_ordinals(Trainer *t, TDev *x, int opened, Diag *d) {
  Dist *ds = t->opts.dist;
  int n = ds ? dist_size(ds) : 1, me = ds ? dist_rank(ds) : 0;
  double *v = calloc((size_t)n, sizeof *v);
  x->ordinals = calloc((size_t)n, sizeof(int));
  if (!v || !x->ordinals) return free(v), diag_plain(d, "out of memory"), 0;
  v[me] = opened ? x->dev.ordinal + 1 : 0;
  char err[256];
  int ok = !ds || dist_world_sum(ds, v, n, err, sizeof err);
  if (!ok) diag_plain(d, "train.device: cuda: %s", err);
  for (int r = 0; ok && r < n; r++) x->ordinals[r] = (int)v[r] - 1;
  for (int r = 0; ok && opened && r < n; r++)
    if (x->ordinals[r] < 0) ok = 0, diag_plain(d, "train.device: cuda: rank %d could not open its GPU (its log says why)", r);
  free(v);
  return ok;
}

int tdev_open(Trainer *t, Diag *d) {
  TDev *x = calloc(1, sizeof *x);
  if (!x) return diag_plain(d, "out of memory"), 0;
  t->dev = x; /* trainer_free -> tdev_free, on failure too */
  const char *emu = getenv("MAMC_CUDA_EMU");
  int use_emu = emu && *emu && strcmp(emu, "0") != 0;
  x->local_rank = dist_local_rank(t->opts.dist);
  int opened = dev_open_for_rank(&x->dev, use_emu, t->opts.device_index, x->local_rank);
  if (!opened) diag_plain(d, "train.device: cuda: %s", x->dev.L.err);
  if (!share_ordinals(t, x, opened, d) || !opened) return 0;
  x->bf16 = t->opts.precision == DT_BF16;
  choose_path(t, x);
  if (!tdev_nccl_open(t, d)) return 0; /* collective (dtrain_nccl.c): NCCL or MPI-staged, agreed */
  char err[1400];
  x->tasks = calloc((size_t)t->ntasks + 1, sizeof *x->tasks);
  x->p.n = t->params.n;
  x->p.first = t->params.first;
  x->p.w = calloc((size_t)t->params.n + 1, sizeof(DPtr));
  x->p.wb = calloc((size_t)t->params.n + 1, sizeof(DPtr)); /* bf16 copies (precision: bf16), for products */
  int keep16 = x->bf16 && dexec_bf16_weights();
  if (!x->tasks || !x->p.w || !x->p.wb) return diag_plain(d, "out of memory"), 0;
  int64_t most = 1;
  for (int q = 0; q < t->params.n; q++) {
    const Tensor *w = &t->params.t[q];
    if (!w->data) continue; /* a module this process does not hold */
    if (w->dt != DT_F32) return diag_plain(d, "train.device: cuda: parameters must be f32"), 0;
    if (!dev_alloc(&x->dev, bytes_of(w), &x->p.w[q]) || (keep16 && !dev_alloc(&x->dev, (uint64_t)w->n * 2, &x->p.wb[q]))) {
      tdev_fail(t, err, sizeof err, "allocating the parameters");
      return diag_plain(d, "%s", err), 0;
    }
    if (w->n > most) most = w->n;
  }
  if (!x->on_device) {
    x->stage_n = most;
    if (!(x->stage = dev_host_alloc(&x->dev, (size_t)most * 4))) {
      tdev_fail(t, err, sizeof err, "allocating the gradient staging buffer");
      return diag_plain(d, "%s", err), 0;
    }
  } else if (!tdev_step_setup(t, err, sizeof err)) {
    return diag_plain(d, "%s", err), 0;
  }
  if (!tdev_upload(t, err, sizeof err)) return diag_plain(d, "%s", err), 0;
  for (int k = 0; k < t->ntasks; k++) {
    TTask *tk = &t->tasks[k];
    TDevTask *dt = &x->tasks[k];
    if (!tk->owned) continue;
    dt->has_train = dexec_init(&dt->train, &x->dev, t->train, tk->spec.graph, x->bf16);
    if (dt->has_train && tk->nvalid > 0) dt->has_eval = dexec_init(&dt->eval, &x->dev, t->eval, tk->spec.graph, x->bf16);
    if (!dt->has_train || (tk->nvalid > 0 && !dt->has_eval)) {
      diag_plain(d, "train.device: cuda: task %s: %s", tk->spec.name, dt->has_train ? dt->eval.err : dt->train.err);
      return 0;
    }
    dexec_on_output(&dt->train, x->on_device ? tdev_on_output_device : staged_output, t);
  }
  tgraph_setup(t);
  return 1;
}

static void announce(Trainer *t) {
  TDev *x = t->dev;
  x->announced = 1;
  int64_t host = 0, kernels = 0, values16 = 0;
  for (int k = 0; k < t->ntasks; k++)
    if (x->tasks[k].has_train) {
      host += x->tasks[k].train.stats.kind_count[DN_HOST];
      values16 += x->tasks[k].train.stats.values16;
      for (int c = DN_GROUP; c < DN_HOST; c++) kernels += x->tasks[k].train.stats.kind_count[c];
    }
  int ncap = 0, nown = 0, n = t->opts.dist ? dist_size(t->opts.dist) : 1;
  for (int k = 0; k < t->ntasks; k++) {
    nown += x->tasks[k].has_train;
    ncap += x->tasks[k].has_train && x->tasks[k].train.capturable;
  }
  char name[256], line[2000], ords[400] = "";
  snprintf(name, sizeof name, "%s", x->dev.name);
  for (char *c = name; *c; c++) /* a GPU's name is plain text; keep the line JSON whatever it holds */
    if (*c == '\\' || *c == '"' || (unsigned char)*c < 0x20) *c = ' ';
  for (int r = 0, used = 0; r < n && used < (int)sizeof ords - 16; r++) /* every rank's GPU */
    used += snprintf(ords + used, sizeof ords - (size_t)used, "%s%d", r ? ", " : "", x->ordinals[r]);
  const char *note = t->opts.precision == DT_F16 ? ", \"precision_note\": \"fp16 is not implemented on the device: "
                                                   "f32 products\""
                                                 : "";
  snprintf(line, sizeof line,
           "{\"type\": \"device\", \"device\": \"%s\", \"emulated\": %d, \"ordinal\": %d, \"local_rank\": %d, "
           "\"ordinals\": [%s], \"precision\": \"%s\"%s, \"step\": \"%s\", \"staged_because\": \"%s\", "
           "\"graphs\": \"%s\", \"graphs_because\": \"%s\", \"graph_cap\": %d, \"capturable_tasks\": %d, "
           "\"owned_tasks\": %d, \"device_nodes\": %lld, \"host_nodes\": %lld, \"collectives\": \"%s\", "
           "\"collectives_because\": \"%s\", \"activations\": \"%s\", \"bf16_values\": %lld}",
           name, x->dev.emu, x->dev.ordinal, x->local_rank, ords, x->bf16 ? "bf16" : "fp32", note, x->on_device ? "device" : "staged", x->why_staged,
           x->graphs_on ? "on" : "off", x->graphs_why, x->graph_cap, ncap, nown, (long long)kernels, (long long)host,
           x->nc.kind[0] ? x->nc.kind : "none", x->nc.why, values16 ? "bf16" : "fp32", (long long)values16);
  trainer_log(t, line);
}

static int has_loss(const DExec *e) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  for (int o = 0; o < g->outputs.n; o++)
    if (strcmp(g->outputs.v[o].name, "loss") == 0) return 1;
  return 0;
}

int tdev_run(Trainer *t, int k, int eval, const int64_t *sym, const Tensor *in, InterpCx *cx, double *loss) {
  TDev *x = t->dev;
  TDevTask *dt = &x->tasks[k];
  DExec *e = eval ? &dt->eval : &dt->train;
  *loss = NAN;
  if (!(eval ? dt->has_eval : dt->has_train)) {
    snprintf(cx->err, sizeof cx->err, "train.device: cuda: no device executor for this graph (internal error)");
    return 0;
  }
  if (!x->announced) announce(t);
  if (!eval && x->t_start == 0) x->t_start = x->t_mark = mono_seconds();
  if (x->dev_stale && !tdev_upload(t, cx->err, sizeof cx->err)) return 0;
  double t0 = mono_seconds();
  x->cb_failed = 0;
  DPtr lp = 0;
  if (!eval && x->on_device) { /* path (b): eager, or a CUDA graph captured / replayed */
    if (!dev_h2d(&x->dev, x->tok_d, &t->cur_tokens, 4)) /* k_axpy_n's scale, read on the device */
      return snprintf(cx->err, sizeof cx->err, "on the device: the batch's tokens: %s", x->dev.L.err), 0;
    if (!tgraph_run(t, k, sym, in, cx, &lp)) return 0;
  } else {
    if (!dexec_run(e, sym, in, &x->p, cx)) {
      snprintf(cx->err, sizeof cx->err, "on the device: %s", e->err);
      return 0;
    }
    if (x->cb_failed) {
      dexec_release(e);
      snprintf(cx->err, sizeof cx->err, "on the device: %s", x->cb_err);
      return 0;
    }
    lp = tdev_loss_addr(e, sym);
    if (!eval) x->g_eager++;
  }
  float f = NAN;
  if (has_loss(e) && (!lp || !dev_d2h(&x->dev, &f, lp, 4))) {
    dexec_release(e);
    snprintf(cx->err, sizeof cx->err, "on the device: reading the loss: %s", lp ? x->dev.L.err : "no value");
    return 0;
  }
  if (!has_loss(e) && !dev_sync(&x->dev)) { /* (the next run rewrites the staging buffers this one copies from) */
    dexec_release(e);
    return snprintf(cx->err, sizeof cx->err, "on the device: %s", x->dev.L.err), 0;
  }
  *loss = f; /* (NaN for a graph without a loss output) */
  dexec_release(e);
  if (eval) x->eval_runs++;
  else x->train_runs++;
  x->run_seconds += mono_seconds() - t0;
  return 1;
}

DPtr tdev_loss_addr(const DExec *e, const int64_t *sym) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  for (int o = 0; o < g->outputs.n; o++) {
    if (strcmp(g->outputs.v[o].name, "loss") != 0) continue;
    int64_t n = 0;
    DPtr v = dexec_output(e, o, sym, &n);
    return n >= 1 ? v : 0;
  }
  return 0;
}

void tdev_mark_step(TDev *x) {
  double t = mono_seconds();
  if (x->nstep_s == x->cap_step_s) {
    int cap = x->cap_step_s ? 2 * x->cap_step_s : 256;
    double *p = realloc(x->step_s, sizeof(double) * (size_t)cap);
    if (!p) return; /* (statistics only) */
    x->step_s = p;
    x->cap_step_s = cap;
  }
  x->step_s[x->nstep_s++] = t - x->t_mark;
  x->t_mark = t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void tdev_free(Trainer *t) {
  TDev *x = t->dev;
  if (!x) return;
  if (x->announced) {
    double first = x->nstep_s > 0 ? x->step_s[0] : NAN, median = NAN; /* steps after the first */
    if (x->nstep_s > 1) {
      qsort(x->step_s + 1, (size_t)x->nstep_s - 1, sizeof(double), cmp_double);
      int n = x->nstep_s - 1;
      median = n % 2 ? x->step_s[1 + n / 2] : 0.5 * (x->step_s[n / 2] + x->step_s[1 + n / 2]);
    }
    char line[1400], f[32] = "null", m[32] = "null"; /* NaN as null: the line stays JSON */
    int64_t a16 = 0, a32 = 0; /* activation bytes of each task's last eager train run (dexec.h) */
    for (int k = 0; x->tasks && k < t->ntasks; k++)
      if (x->tasks[k].has_train) a16 += x->tasks[k].train.stats.act_bytes16, a32 += x->tasks[k].train.stats.act_bytes32;
    if (!isnan(first)) snprintf(f, sizeof f, "%.3f", 1e3 * first);
    if (!isnan(median)) snprintf(m, sizeof m, "%.3f", 1e3 * median);
    snprintf(line, sizeof line,
             "{\"type\": \"device_stats\", \"train_runs\": %lld, \"eval_runs\": %lld, \"device_steps\": %lld, "
             "\"staged_steps\": %lld, \"uploads\": %lld, \"downloads\": %lld, \"run_seconds\": %.3f, "
             "\"step_seconds\": %.3f, \"first_step_ms\": %s, \"median_step_ms\": %s, \"graph_replays\": %lld, "
             "\"graph_captures\": %lld, \"eager_runs\": %lld, \"graph_invalidated\": %lld, \"graph_evicted\": %lld, "
             "\"graph_failed\": %lld, \"step_end_replays\": %lld, \"exchange_seconds\": %.3f, "
             "\"collective_sets\": %d, \"activation_bytes_bf16\": %lld, \"activation_bytes_f32\": %lld}",
             (long long)x->train_runs, (long long)x->eval_runs, (long long)x->device_steps, (long long)x->staged_steps,
             (long long)x->uploads, (long long)x->downloads, x->run_seconds, x->step_seconds, f, m,
             (long long)x->g_replays, (long long)x->g_captures, (long long)x->g_eager, (long long)x->g_invalid,
             (long long)x->g_evicted, (long long)x->g_failed, (long long)x->end_replays, x->xchg_seconds,
             x->nc.nsets, (long long)a16, (long long)a32);
    trainer_log(t, line);
  }
  free(x->step_s);
  tgraph_free(t); /* (emu graphs point at the executors' kernels: before dexec_free) */
  for (int k = 0; x->tasks && k < t->ntasks; k++) {
    if (x->tasks[k].has_train) dexec_free(&x->tasks[k].train);
    if (x->tasks[k].has_eval) dexec_free(&x->tasks[k].eval);
  }
  tdev_nccl_close(t); /* the communicators; the buckets' device buffers */
  tdev_step_free(t);
  dev_host_free(&x->dev, x->stage);
  free(x->ordinals);
  free(x->tasks);
  free(x->p.w);
  free(x->p.wb);
  dev_close(&x->dev); /* every device buffer goes with its segments */
  free(x);
  t->dev = NULL;
}
