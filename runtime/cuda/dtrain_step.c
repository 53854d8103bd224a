/* dtrain_step.c — path (b) of train.device: cuda (dtrain.c says when): the step's end on the
 * device, with the semantics of trainer.c's finish_step and trainer_buckets.c's sums:
 *   - each gradient of the backward pass is added, times its batch's target tokens, into the
 *     parameter's device-resident sum (k_axpy_n: up to KA_AXPY_N gradients a launch, at the end
 *     of the run — the executor keeps graph outputs to the end); the tokens go into wsum on the
 *     host, once per module and task run (as tbuckets_on_output);
 *   - inv[m] = 1 / wsum[m] (0 for a module that did not train); the global norm of the
 *     normalised sums over every held parameter, frozen ones included (k_sqnorm + k_sqnorm_final,
 *     f64, chunk order: deterministic), comes back to the host (8 bytes);
 *   - the numerical guard as on the host (a non-finite loss or norm: the host's parameters are
 *     downloaded first for its op-by-op re-run; a skipped step drops the sums);
 *   - AdamW / Adam with each trained module's own step count, the clip factor computed on the
 *     device from the norm exactly as optim_clip_scale, frozen parameters skipped (k_adamw over
 *     the trainable parameters, one launch; it zeroes their sums for the next step).
 * With several processes the sums are exchanged through host buffers before the norm, and the
 * norm is summed over the world (dtrain_xchg.c). kargs.h has the kernels'
 * argument blocks; kref.c their CPU references (what the emulation runs). Everything a launch
 * reads that changes from run to run (the tokens, 1/tokens, step counts, lr) is in device
 * memory, updated before the launch, so that dtrain_graph.c can capture and replay the work. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "dtrain_internal.h"

static int up(Dev *dev, const void *src, uint64_t bytes, DPtr *out) {
  return dev_alloc(dev, bytes, out) && dev_h2d(dev, *out, src, bytes);
}

/* The chunk table of tensors qs (KA_ADAM_CHUNK elements a chunk), on the device. */
static int make_table(Trainer *t, TDevTable *tb, const int *qs, const int *mod, int nq) {
  TDev *x = t->dev;
  long long nch = 0;
  for (int i = 0; i < nq; i++) nch += (t->params.t[qs[i]].n + KA_ADAM_CHUNK - 1) / KA_ADAM_CHUNK;
  KaAdamTensor *ts = calloc((size_t)nq + 1, sizeof *ts);
  int *tab = malloc(sizeof(int) * (size_t)(nch + 1));
  long long *start = malloc(sizeof(long long) * (size_t)(nch + 1));
  int ok = ts && tab && start;
  long long c = 0;
  for (int i = 0; ok && i < nq; i++) {
    int q = qs[i];
    ts[i] = (KaAdamTensor){x->p.w[q], x->g[q], x->m[q], x->v[q], x->p.wb[q], t->params.t[q].n, mod[i], 0};
    for (long long s = 0; s < t->params.t[q].n; s += KA_ADAM_CHUNK) tab[c] = i, start[c++] = s;
  }
  tb->ntensors = nq;
  tb->nchunks = nch;
  ok = ok && up(&x->dev, ts, sizeof *ts * (size_t)(nq + 1), &tb->tensors) &&
       up(&x->dev, tab, sizeof(int) * (size_t)(nch + 1), &tb->tab) &&
       up(&x->dev, start, sizeof(long long) * (size_t)(nch + 1), &tb->start) && dev_sync(&x->dev);
  free(ts);
  free(tab);
  free(start);
  return ok;
}

int tdev_step_setup(Trainer *t, char *err, size_t n) {
  TDev *x = t->dev;
  int P = t->params.n, M = t->train->modules.n;
  x->g = calloc((size_t)P + 1, sizeof(DPtr));
  x->m = calloc((size_t)P + 1, sizeof(DPtr));
  x->v = calloc((size_t)P + 1, sizeof(DPtr));
  x->inv_h = calloc((size_t)M + 1, sizeof(float));
  x->steps_h = calloc((size_t)M + 1, sizeof(long long));
  x->frozen_q = calloc((size_t)P + 1, sizeof(int));
  int *all = malloc(sizeof(int) * (size_t)(P + 1)), *all_m = malloc(sizeof(int) * (size_t)(P + 1));
  int *upd = malloc(sizeof(int) * (size_t)(P + 1)), *upd_m = malloc(sizeof(int) * (size_t)(P + 1));
  int ok = x->g && x->m && x->v && x->inv_h && x->steps_h && x->frozen_q && all && all_m && upd && upd_m, nall = 0,
      nupd = 0;
  if (!ok) snprintf(err, n, "out of memory");
  for (int m = 0; ok && m < M; m++)
    for (int q = t->params.first[m]; ok && q < t->params.first[m + 1]; q++) {
      if (!x->p.w[q]) continue;
      uint64_t b = (uint64_t)t->params.t[q].n * 4;
      if (!dev_alloc(&x->dev, b, &x->g[q]) || !dev_zero(&x->dev, x->g[q], b) || !dev_alloc(&x->dev, b, &x->m[q]) ||
          !dev_alloc(&x->dev, b, &x->v[q])) {
        ok = tdev_fail(t, err, n, "allocating the gradient sums and moments");
        break;
      }
      if (tdev_norm_counts(t, m)) all[nall] = q, all_m[nall++] = m; /* several processes: this rank's share */
      if (t->train->modules.v[m].params.v[q - t->params.first[m]].frozen) x->frozen_q[x->nfrozen++] = q;
      else upd[nupd] = q, upd_m[nupd++] = m;
    }
  ok = ok && ((make_table(t, &x->norm_tab, all, all_m, nall) && make_table(t, &x->upd_tab, upd, upd_m, nupd)) ||
               tdev_fail(t, err, n, "the optimizer's tables"));
  long long most = x->norm_tab.nchunks > 0 ? x->norm_tab.nchunks : 1;
  KaAdamStep st = {0, 0};
  ok = ok && ((up(&x->dev, x->inv_h, sizeof(float) * (size_t)(M + 1), &x->inv_d) &&
               up(&x->dev, x->steps_h, sizeof(long long) * (size_t)(M + 1), &x->steps_d) &&
               up(&x->dev, &st, sizeof st, &x->step_d) && dev_alloc(&x->dev, 8 * (uint64_t)most, &x->part_d) &&
               dev_alloc(&x->dev, 4, &x->tok_d) && dev_zero(&x->dev, x->tok_d, 4) &&
               dev_alloc(&x->dev, 8, &x->norm_d) && dev_sync(&x->dev)) ||
               tdev_fail(t, err, n, "the optimizer's arguments"));
  free(all);
  free(all_m);
  free(upd);
  free(upd_m);
  return ok;
}

void tdev_step_free(Trainer *t) { /* device buffers: dev_close returns them all */
  TDev *x = t->dev;
  free(x->g);
  free(x->m);
  free(x->v);
  free(x->inv_h);
  free(x->steps_h);
  free(x->frozen_q);
}

void tdev_on_output_device(void *user, int output, DPtr value, int64_t n) {
  Trainer *t = user;
  TDev *x = t->dev;
  const IrOutput *out = &t->train->graphs.v[t->cur_graph].outputs.v[output];
  if (out->module < 0 || x->cb_failed) return;
  int q = t->params.first[out->module] + out->param;
  if (!x->g[q] || n != t->params.t[q].n) {
    x->cb_failed = 1;
    snprintf(x->cb_err, sizeof x->cb_err, "gradient output %s: %lld elements for a parameter of %lld%s", out->name,
             (long long)n, (long long)t->params.t[q].n, x->g[q] ? "" : " not held here");
    return;
  }
  KaAxpyN *a = &x->pend; /* gsum += tokens * gradient, as tbuckets_on_output (tokens: tdev_run put them there) */
  if (a->count == KA_AXPY_N && !tdev_sums_flush(t)) return;
  a->y[a->count] = x->g[q], a->x[a->count] = value, a->n[a->count] = n, a->count++;
  if (x->recording) { /* a capture: a replay repeats the token sums below (dtrain_graph.c) */
    if (x->nrec == x->cap_rec) {
      int cap = x->cap_rec ? 2 * x->cap_rec : 64;
      int *r = realloc(x->rec_outs, sizeof(int) * (size_t)cap);
      if (!r) {
        x->cb_failed = 1;
        snprintf(x->cb_err, sizeof x->cb_err, "out of memory");
        return;
      }
      x->rec_outs = r;
      x->cap_rec = cap;
    }
    x->rec_outs[x->nrec++] = output;
  }
  tdev_count_tokens(t, output);
}

int tdev_sums_flush(Trainer *t) {
  TDev *x = t->dev;
  KaAxpyN *a = &x->pend;
  if (a->count == 0) return 1;
  int64_t most = 0;
  for (int j = 0; j < a->count; j++) most = a->n[j] > most ? a->n[j] : most;
  a->a = 1.0f, a->a_dev = x->tok_d;
  int ok = dev_launch(&x->dev, KMOD_MOVE, "k_axpy_n", dev_grid(&x->dev, most, 256), (unsigned)a->count, 1, 256, 0, a);
  a->count = 0;
  if (!ok) {
    x->cb_failed = 1;
    snprintf(x->cb_err, sizeof x->cb_err, "adding the gradients to their sums: %s", x->dev.L.err);
  }
  return ok;
}

void tdev_count_tokens(Trainer *t, int output) {
  const IrOutput *out = &t->train->graphs.v[t->cur_graph].outputs.v[output];
  if (t->seen_run[out->module] != t->run_id) { /* once per module and task run */
    t->seen_run[out->module] = t->run_id;
    t->wsum[out->module] += t->cur_tokens;
    t->round_tokens[out->module] += t->cur_tokens;
  }
}

static KaAdam args(const Trainer *t, const TDevTable *tb) {
  const TDev *x = t->dev;
  const OptimOpts *o = &t->opts.opt;
  KaAdam a;
  memset(&a, 0, sizeof a);
  a.tensors = tb->tensors, a.tab = tb->tab, a.start = tb->start, a.nchunks = tb->nchunks;
  a.inv = x->inv_d, a.steps = x->steps_d, a.step = x->step_d, a.part = x->part_d, a.norm = x->norm_d;
  a.beta1 = o->beta1, a.beta2 = o->beta2, a.eps = o->eps, a.wd = o->weight_decay;
  a.kind = o->kind == OPT_ADAM ? 1 : 0;
  return a;
}

/* Zeroes the step's sums: wsum on the host (a skipped step takes its tokens back from the
 * round's, as trainer.c's reset_sums), and with drop the device's gradient sums too. */
static int reset(Trainer *t, int skipped, int drop) {
  TDev *x = t->dev;
  for (int m = 0; m < t->train->modules.n; m++) {
    if (skipped) t->round_tokens[m] -= t->wsum[m];
    t->wsum[m] = 0;
  }
  for (int q = 0; drop && q < t->params.n; q++)
    if (x->g[q] && !dev_zero(&x->dev, x->g[q], (uint64_t)t->params.t[q].n * 4)) return 0;
  return 1;
}

/* the step's end as device work (dtrain_graph.c captures each into a graph) */
static int norm_work(Trainer *t) {
  TDev *x = t->dev;
  KaAdam na = args(t, &x->norm_tab);
  return dev_launch(&x->dev, KMOD_ADAMW, "k_sqnorm", (unsigned)na.nchunks, 1, 1, 256, 0, &na) &&
         dev_launch(&x->dev, KMOD_ADAMW, "k_sqnorm_final", 1, 1, 1, 32, 0, &na);
}

static int update_work(Trainer *t) {
  TDev *x = t->dev;
  KaAdam ua = args(t, &x->upd_tab);
  if (ua.nchunks > 0 && !dev_launch(&x->dev, KMOD_ADAMW, "k_adamw", (unsigned)ua.nchunks, 1, 1, 256, 0, &ua)) return 0;
  for (int i = 0; i < x->nfrozen; i++) /* k_adamw zeroed the sums it used; frozen ones are ours */
    if (!dev_zero(&x->dev, x->g[x->frozen_q[i]], (uint64_t)t->params.t[x->frozen_q[i]].n * 4)) return 0;
  return 1;
}

static int dev_err(Trainer *t, Diag *d, const char *what) {
  char err[1200];
  tdev_fail(t, err, sizeof err, what);
  diag_plain(d, "step %lld: %s", (long long)t->step + 1, err);
  return 0;
}

int tdev_finish_step(Trainer *t, double *grad_norm, double *lr_out, Diag *d) {
  TDev *x = t->dev;
  tdev_mark_step(x);
  if (!x->on_device) {
    x->staged_steps++;
    return -1; /* path (a): trainer.c's finish_step on the staged sums */
  }
  double t0 = mono_seconds();
  Dev *dev = &x->dev;
  int M = t->train->modules.n;
  if (x->multi && !tdev_exchange(t, d)) return 0; /* the sums of every rank, and wsum, as on the host */
  for (int m = 0; m < M; m++) x->inv_h[m] = t->held[m] && t->wsum[m] > 0 ? (float)(1.0 / t->wsum[m]) : 0.0f;
  double norm = 0;
  if (!dev_h2d(dev, x->inv_d, x->inv_h, sizeof(float) * (size_t)M)) return dev_err(t, d, "the step's arguments");
  if (x->norm_tab.nchunks > 0 && (!tgraph_slot(t, &x->norm_g, norm_work) || !dev_d2h(dev, &norm, x->norm_d, 8)))
    return dev_err(t, d, "the gradient norm");
  if (x->multi) { /* this rank's share; the world's norm (tsync_norm's reduction) into norm_d */
    if (!tdev_world_norm(t, norm, &norm, d)) return 0;
  } else { /* tsync_norm's bookkeeping, for one process */
    t->world_payload = t->payload_bytes - t->payload_reported;
    t->payload_reported = t->payload_bytes;
    t->nonfinite_world = t->nonfinite_local;
    t->stop_world = tsync_stop_local(t) > 0;
  }
  int64_t step = t->step + 1;
  double lr = sched_lr(&t->opts.sched, step);
  int skip = 0;
  if (t->nonfinite_world || !isfinite(norm)) {
    if (!tdev_pull(t, d)) return 0; /* the guard re-runs the step on the host's parameters */
    skip = tguard_step(t, norm, lr, d);
    if (!skip) {
      reset(t, 1, 1);
      return 0;
    }
  }
  if (!skip) {
    for (int m = 0; m < M; m++)
      if (t->held[m] && t->wsum[m] > 0) x->steps_h[m] = ++t->module_steps[m];
    KaAdamStep st = {lr, t->opts.clip}; /* (pageable: the copies below take it before they return) */
    if (!dev_h2d(dev, x->steps_d, x->steps_h, sizeof(long long) * (size_t)M) || !dev_h2d(dev, x->step_d, &st, sizeof st) ||
        ((x->upd_tab.nchunks > 0 || x->nfrozen > 0) && !tgraph_slot(t, &x->upd_g, update_work)))
      return dev_err(t, d, "the optimizer");
    x->host_stale = 1;
  }
  if (!reset(t, skip, skip)) return dev_err(t, d, "dropping the step's gradients");
  t->step = step;
  t->opt_seconds += mono_seconds() - t0;
  x->step_seconds += mono_seconds() - t0;
  x->device_steps++;
  *grad_norm = norm;
  *lr_out = lr;
  return 1;
}
