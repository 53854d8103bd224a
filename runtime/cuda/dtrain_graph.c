/* dtrain_graph.c — CUDA graphs of the trainer's step on the device (path (b) of dtrain.c):
 * a task's forward + backward + token-weighted gradient sums, and the step's end (the global
 * norm; AdamW), each captured once and replayed, so that a step costs a few graph launches
 * instead of hundreds of kernel launches.
 *
 * Task runs are bucketed by the bound symbol values (the shapes: B, S, T...). A bucket's first
 * run is eager; its second is captured (dev_capture_begin .. end: the executor's run is recorded,
 * not run) and the graph launched; later runs copy their inputs into the same page-locked
 * staging buffers and replay it. A replay is valid only while what the captured run relied on
 * holds, checked before each one:
 *   - addresses: the caching allocator is deterministic (dev.h) and every run frees what it
 *     allocated, so the same live set before a run (dev_alloc_live_sig) gives the same
 *     addresses; parameters, gradient sums, moments and the optimizer's tables never move;
 *   - staging: the executor's staging buffers did not move (DExec.stage_gen);
 *   - scalars that change per run come from device memory, updated before the launch: the
 *     batch's target tokens (k_axpy_n's a_dev = TDev.tok_d), 1/tokens per module, the step counts
 *     and lr/clip of AdamW (KaAdam's inv, steps, step);
 *   - plans with host nodes or dropout (the step number is a kernel argument) are never
 *     captured (DExec.capturable).
 * What the gradient callback does on the host (the token sums wsum / round_tokens) is repeated
 * at each replay from the list of outputs the captured run produced.
 * The step's end stays two graphs, not one with the task runs: the norm must come to the host
 * between them, because a non-finite step must leave parameters and moments untouched (the
 * numerical guard decides on the host, trainer_guard.c), and a step may hold several task runs.
 * Defensive: a failed capture or launch is logged once (a {"type": "device_warning"} metrics
 * line), the bucket runs eagerly from then on, and the host's bookkeeping of the failed attempt
 * is rolled back — never a wrong result. At most graph_cap graphs per task (least recently used
 * evicted; MAMC_CUDA_GRAPHS=N sets it, 0 turns graphs off), graph_keys buckets remembered. */
#include <stdlib.h>

#include "dtrain_internal.h"

void tgraph_setup(Trainer *t) {
  TDev *x = t->dev;
  const char *env = getenv("MAMC_CUDA_GRAPHS");
  x->graph_cap = env && *env >= '0' && *env <= '9' ? atoi(env) : 16;
  if (x->graph_cap > 1024) x->graph_cap = 1024;
  x->graph_keys = 4 * x->graph_cap < 64 ? 64 : 4 * x->graph_cap;
  int ncap = 0;
  for (int k = 0; k < t->ntasks; k++) ncap += x->tasks[k].has_train && x->tasks[k].train.capturable;
  const char *why = NULL;
  if (x->graph_cap <= 0) why = "MAMC_CUDA_GRAPHS=0";
  else if (!x->on_device) why = "the step is staged (each gradient goes to the host as it is produced)";
  else if (!ncap) why = "no task's plan can be captured (host nodes or dropout; MAMC_DEBUG_CUDA=1 lists host nodes)";
  x->graphs_on = why == NULL;
  snprintf(x->graphs_why, sizeof x->graphs_why, "%s", why ? why : "");
}

void tgraph_free(Trainer *t) {
  TDev *x = t->dev;
  for (int k = 0; x->tasks && k < t->ntasks; k++) {
    TDevTask *dt = &x->tasks[k];
    for (int i = 0; i < dt->ngb; i++) {
      if (dt->gb[i].g.ok) dev_graph_free(&x->dev, &dt->gb[i].g);
      free(dt->gb[i].key);
      free(dt->gb[i].outs);
    }
    free(dt->gb);
    dt->gb = NULL;
    dt->ngb = 0;
  }
  if (x->norm_g.g.ok) dev_graph_free(&x->dev, &x->norm_g.g);
  if (x->upd_g.g.ok) dev_graph_free(&x->dev, &x->upd_g.g);
  free(x->rec_outs);
  x->rec_outs = NULL;
}

void tgraph_warn(Trainer *t, const char *task, const char *what, const char *err) {
  TDev *x = t->dev;
  if (x->warned++) return;
  char msg[600], line[900];
  snprintf(msg, sizeof msg, "%s", err);
  for (char *c = msg; *c; c++)
    if (*c == '\\' || *c == '"' || (unsigned char)*c < 0x20) *c = ' ';
  snprintf(line, sizeof line,
           "{\"type\": \"device_warning\", \"step\": %lld, \"task\": \"%s\", \"warning\": \"CUDA graph %s failed; "
           "running eagerly instead\", \"error\": \"%s\"}",
           (long long)t->step + 1, task, what, msg);
  trainer_log(t, line);
}

/* ---- task runs ------------------------------------------------------------------------------------- */

static TGraph *bucket(Trainer *t, TDevTask *dt, const int64_t *sym) {
  TDev *x = t->dev;
  int nsym = t->train->syms.n;
  for (int i = 0; i < dt->ngb; i++)
    if (memcmp(dt->gb[i].key, sym, sizeof(int64_t) * (size_t)nsym) == 0) return &dt->gb[i];
  int slot = dt->ngb;
  if (dt->ngb == x->graph_keys) { /* forget the least recently used bucket */
    slot = 0;
    for (int i = 1; i < dt->ngb; i++)
      if (dt->gb[i].last < dt->gb[slot].last) slot = i;
    TGraph *old = &dt->gb[slot];
    if (old->g.ok) dev_graph_free(&x->dev, &old->g), x->g_evicted++;
    free(old->key);
    free(old->outs);
  } else {
    if (!dt->gb && !(dt->gb = calloc((size_t)x->graph_keys, sizeof *dt->gb))) return NULL;
    dt->ngb++;
  }
  TGraph *b = &dt->gb[slot];
  memset(b, 0, sizeof *b);
  if (!(b->key = malloc(sizeof(int64_t) * (size_t)(nsym + 1)))) {
    dt->gb[slot] = dt->gb[--dt->ngb]; /* (no bucket: this run is eager) */
    return NULL;
  }
  memcpy(b->key, sym, sizeof(int64_t) * (size_t)nsym);
  return b;
}

static int eager(Trainer *t, DExec *e, const int64_t *sym, const Tensor *in, InterpCx *cx, DPtr *loss) {
  TDev *x = t->dev;
  x->pend.count = 0;
  if (!dexec_run(e, sym, in, &x->p, cx))
    return snprintf(cx->err, sizeof cx->err, "on the device: %s", e->err), 0;
  tdev_sums_flush(t);
  if (x->cb_failed) {
    dexec_release(e);
    return snprintf(cx->err, sizeof cx->err, "on the device: %s", x->cb_err), 0;
  }
  *loss = tdev_loss_addr(e, sym);
  x->g_eager++;
  return 1;
}

/* 1 replayed; -1 no longer valid (the graph is freed) or the launch failed; 0 error (cx->err) */
static int replay(Trainer *t, TDevTask *dt, TGraph *b, const int64_t *sym, const Tensor *in, InterpCx *cx, DPtr *loss) {
  TDev *x = t->dev;
  DExec *e = &dt->train;
  int valid = b->sig == dev_alloc_live_sig(&x->dev);
  if (valid && !dexec_stage(e, sym, in)) return snprintf(cx->err, sizeof cx->err, "on the device: %s", e->err), 0;
  if (!valid || e->stage_gen != b->stage_gen) {
    dev_graph_free(&x->dev, &b->g);
    x->g_invalid++;
    return -1;
  }
  if (!dev_graph_launch(&x->dev, &b->g)) {
    tgraph_warn(t, t->tasks[dt - x->tasks].spec.name, "launch", x->dev.L.err);
    dev_graph_free(&x->dev, &b->g);
    b->failed = 1;
    x->g_failed++;
    return -1;
  }
  for (int i = 0; i < b->nouts; i++) tdev_count_tokens(t, b->outs[i]);
  *loss = b->loss;
  x->g_replays++;
  return 1;
}

/* at most graph_cap graphs per task: the least recently used one goes */
static void make_room(TDev *x, TDevTask *dt) {
  int n = 0, lru = -1;
  for (int i = 0; i < dt->ngb; i++)
    if (dt->gb[i].g.ok) {
      n++;
      if (lru < 0 || dt->gb[i].last < dt->gb[lru].last) lru = i;
    }
  if (n >= x->graph_cap && lru >= 0) {
    dev_graph_free(&x->dev, &dt->gb[lru].g);
    x->g_evicted++;
  }
}

/* 1 captured and launched; -1 failed (rolled back: run it eagerly); 0 error (cx->err) */
static int capture(Trainer *t, TDevTask *dt, TGraph *b, const int64_t *sym, const Tensor *in, InterpCx *cx, DPtr *loss) {
  TDev *x = t->dev;
  DExec *e = &dt->train;
  Dev *dev = &x->dev;
  int M = t->train->modules.n;
  make_room(x, dt);
  if (!dexec_stage(e, sym, in)) return snprintf(cx->err, sizeof cx->err, "on the device: %s", e->err), 0;
  double *keep = malloc(sizeof(double) * (size_t)(2 * M + 1));
  int64_t *seen = malloc(sizeof(int64_t) * (size_t)(M + 1));
  int *outs = NULL;
  if (!keep || !seen) return free(keep), free(seen), -1;
  memcpy(keep, t->wsum, sizeof(double) * (size_t)M); /* the callback's host bookkeeping, to roll back */
  memcpy(keep + M, t->round_tokens, sizeof(double) * (size_t)M);
  memcpy(seen, t->seen_run, sizeof(int64_t) * (size_t)M);
  b->sig = dev_alloc_live_sig(dev);
  b->stage_gen = e->stage_gen;
  x->nrec = 0;
  x->recording = 1;
  char err[1100] = "";
  int ok = dev_capture_begin(dev);
  if (!ok) snprintf(err, sizeof err, "%s", dev->L.err);
  x->pend.count = 0;
  if (ok && !(ok = dexec_run(e, sym, in, &x->p, cx))) snprintf(err, sizeof err, "%s", e->err);
  if (ok) tdev_sums_flush(t);
  if (ok && x->cb_failed) ok = 0, snprintf(err, sizeof err, "%s", x->cb_err);
  DPtr lp = ok ? tdev_loss_addr(e, sym) : 0;
  if (ok && !(ok = dev_capture_end(dev, &b->g))) snprintf(err, sizeof err, "%s", dev->L.err);
  if (!ok) dev_capture_abort(dev);
  x->recording = 0;
  if (ok && x->nrec > 0 && !(outs = malloc(sizeof(int) * (size_t)x->nrec))) ok = 0, snprintf(err, sizeof err, "out of memory");
  if (ok && !(ok = dev_graph_launch(dev, &b->g))) snprintf(err, sizeof err, "%s", dev->L.err);
  if (!ok) {
    if (b->g.ok) dev_graph_free(dev, &b->g);
    dexec_release(e);
    memcpy(t->wsum, keep, sizeof(double) * (size_t)M);
    memcpy(t->round_tokens, keep + M, sizeof(double) * (size_t)M);
    memcpy(t->seen_run, seen, sizeof(int64_t) * (size_t)M);
    x->cb_failed = 0;
    free(outs);
    tgraph_warn(t, t->tasks[dt - x->tasks].spec.name, "capture", err);
    b->failed = 1;
    x->g_failed++;
  } else {
    if (x->nrec) memcpy(outs, x->rec_outs, sizeof(int) * (size_t)x->nrec);
    free(b->outs);
    b->outs = outs;
    b->nouts = x->nrec;
    b->loss = lp;
    *loss = lp;
    x->g_captures++;
  }
  free(keep);
  free(seen);
  return ok ? 1 : -1;
}

int tgraph_run(Trainer *t, int k, const int64_t *sym, const Tensor *in, InterpCx *cx, DPtr *loss) {
  TDev *x = t->dev;
  TDevTask *dt = &x->tasks[k];
  TGraph *b = x->graphs_on && dt->train.capturable ? bucket(t, dt, sym) : NULL;
  if (b) {
    b->seen++;
    b->last = ++x->clock;
    if (getenv("MAMC_DEBUG_CUDA")) /* which bucket, and what happens to it */
      fprintf(stderr, "mamc: cuda: graphs: task %s, bucket %d (%lld %lld %lld ...), seen %d, %s\n", t->tasks[k].spec.name,
              (int)(b - dt->gb), (long long)sym[0], (long long)(t->train->syms.n > 1 ? sym[1] : 0),
              (long long)(t->train->syms.n > 2 ? sym[2] : 0), b->seen,
              b->failed ? "failed: eager" : b->g.ok ? "replay" : b->seen >= 2 ? "capture" : "eager");
    int r = b->g.ok ? replay(t, dt, b, sym, in, cx, loss) : -1;
    if (r >= 0) return r;
    if (!b->failed && b->seen >= 2) {
      r = capture(t, dt, b, sym, in, cx, loss);
      if (r >= 0) return r;
    }
  }
  return eager(t, &dt->train, sym, in, cx, loss);
}

/* ---- the step's end --------------------------------------------------------------------------------- */

int tgraph_slot(Trainer *t, TGraphSlot *s, int (*work)(Trainer *t)) {
  TDev *x = t->dev;
  Dev *dev = &x->dev;
  if (!x->graphs_on || s->failed) return work(t);
  if (s->g.ok) {
    if (dev_graph_launch(dev, &s->g)) return x->end_replays++, 1;
    tgraph_warn(t, "(step end)", "launch", dev->L.err);
    dev_graph_free(dev, &s->g);
    s->failed = 1;
    x->g_failed++;
    return work(t);
  }
  if (++s->seen < 2) return work(t);
  int ok = dev_capture_begin(dev) && work(t);
  if (ok) ok = dev_capture_end(dev, &s->g);
  else dev_capture_abort(dev);
  if (ok && !(ok = dev_graph_launch(dev, &s->g))) dev_graph_free(dev, &s->g);
  if (ok) return 1;
  tgraph_warn(t, "(step end)", "capture", dev->L.err);
  s->failed = 1;
  x->g_failed++;
  return work(t); /* nothing ran: the same work eagerly */
}
