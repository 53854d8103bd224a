/* trainer.c — the training loop's parts (see trainer.h): data per task, executors, the step
 * (every rank's task, token-weighted gradient sums, the exchange of trainer_sync.c, global-norm
 * clipping, AdamW with a step counter per module), validation and metrics. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "dist.h"
#include "trainer_internal.h"

int tsync_setup(Trainer *t, Diag *d);
void tsync_free(Trainer *t);
int tsync_task_of(const Trainer *t, int r, int64_t s);
int tbuckets_setup(Trainer *t, Diag *d);
void tbuckets_free(Trainer *t);
void tbuckets_begin(Trainer *t, const int *task_of_rank, int my_task);
void tbuckets_on_output(void *user, int output, const Tensor *gr);
int tbuckets_finish(Trainer *t, Diag *d);
int tsync_prepare_comms(Trainer *t, const int *task_of_rank, Diag *d);
int tsync_norm(Trainer *t, double *norm, int64_t *world_payload, Diag *d);
int tsync_outer(Trainer *t, int64_t step, Diag *d);

#ifndef MAMC_HAVE_CUDA /* train.device: cuda without the CUDA backend: tdev_open says so; t->dev stays NULL */
int tdev_open(Trainer *t, Diag *d) {
  (void)t;
  diag_plain(d, "train.device: cuda, but this mamc was built without the CUDA backend (no CUDA toolkit at "
                "build time)\nHINT: train.device: cpu (or --device cpu), or rebuild where the CUDA toolkit is installed");
  return 0;
}
void tdev_free(Trainer *t) { (void)t; }
int tdev_run(Trainer *t, int k, int eval, const int64_t *sym, const Tensor *in, InterpCx *cx, double *loss) {
  (void)t, (void)k, (void)eval, (void)sym, (void)in, (void)loss;
  snprintf(cx->err, sizeof cx->err, "built without the CUDA backend");
  return 0;
}
int tdev_finish_step(Trainer *t, double *grad_norm, double *lr_out, Diag *d) {
  (void)t, (void)grad_norm, (void)lr_out, (void)d;
  return -1;
}
void tdev_host_changed(Trainer *t) { (void)t; }
int tdev_pull(Trainer *t, Diag *d) {
  (void)t, (void)d;
  return 1;
}
#endif

/* ---- set-up ----------------------------------------------------------------------------------- */

static int has_corpus(const CorpusSpec *c) { return c->tsv || c->nfiles > 0; }

static int load_task_data(Trainer *t, int k, Diag *d) {
  TTask *tk = &t->tasks[k];
  const TrainTaskSpec *sp = &tk->spec;
  if (corpus_load(&tk->train, &t->arena, d, &sp->train) != 0) return 0; /* runtime/data: 0 ok, -1 error */
  Tokenizer *ts = t->toks[sp->src_vocab], *tt = t->toks[sp->tgt_vocab];
  BatchOpts bo = {t->opts.batch_tokens, t->opts.max_len, 1, 0, rng_key(t->opts.seed, 0x7261696e + (uint64_t)k)};
  tk->batcher = batcher_new(&tk->train, sp->src_col, ts, sp->tgt_col, tt, &bo, d);
  if (!tk->batcher) return 0;
  if (!has_corpus(&sp->valid)) return 1;
  Corpus vc;
  if (corpus_load(&vc, &t->arena, d, &sp->valid) != 0) return 0;
  BatchOpts vo = bo;
  vo.seed = 12345; /* a fixed validation order, whatever the run seed */
  Batcher *vb = batcher_new(&vc, sp->src_col, ts, sp->tgt_col, tt, &vo, d);
  if (!vb) return 0;
  int maxb = t->opts.max_valid_batches > 0 ? t->opts.max_valid_batches : 50;
  tk->valid = calloc((size_t)maxb, sizeof(TBatch));
  for (int i = 0; tk->valid && i < maxb; i++) {
    Batch b;
    if (batcher_next(vb, &b, d) != 0) break;
    if (b.epoch > 0) break;
    if (!tbatch_copy(&tk->valid[tk->nvalid], &b)) break;
    tk->nvalid++;
  }
  batcher_free(vb);
  return 1;
}

Trainer *trainer_new(const IrProgram *train, const IrProgram *eval, const TrainTaskSpec *tasks, int ntasks,
                     const TrainVocab *vocabs, int nvocabs, const TrainOpts *o, Diag *d) {
  Trainer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  arena_init(&t->arena);
  t->train = train;
  t->eval = eval;
  t->opts = *o;
  if (o->fdt == DT_F64) { /* gradient sums and the outer optimizer are written for f32 */
    diag_plain(d, "the trainer runs in f32 (f64 is for the interpreter's gradient checks)");
    free(t);
    return NULL;
  }
  t->opts.fdt = DT_F32;
  t->nranks = o->dist ? dist_size(o->dist) : 1;
  t->rank = o->dist ? dist_rank(o->dist) : 0;
  if (!o->dist && o->emulate_ranks > 1) {
    t->nranks = o->emulate_ranks;
    t->emulate = 1;
  }
  if (t->nranks > 1024) {
    diag_plain(d, "at most 1024 processes are supported, not %d", t->nranks);
    goto fail;
  }
  t->ntasks = ntasks;
  t->tasks = calloc((size_t)ntasks, sizeof(TTask));
  t->nvocabs = nvocabs;
  t->toks = calloc((size_t)(nvocabs > 0 ? nvocabs : 1), sizeof(Tokenizer *));
  if (!t->tasks || !t->toks) goto fail_oom;
  for (int k = 0; k < ntasks; k++) {
    t->tasks[k].spec = tasks[k];
    if (t->nranks == 1) t->tasks[k].spec.rank = 0;
    t->tasks[k].owned = t->emulate || t->tasks[k].spec.rank == t->rank;
  }
  if (!tsync_setup(t, d)) goto fail;
  for (int v = 0; v < nvocabs; v++) {
    t->toks[v] = vocabs[v].path ? tokenizer_load(vocabs[v].path, d) : tokenizer_byte();
    if (!t->toks[v]) goto fail;
  }
  for (int k = 0; k < ntasks; k++)
    if (t->tasks[k].owned && !load_task_data(t, k, d)) goto fail;
  char err[256];
  if (!rt_params_init_held(&t->params, train, t->held, o->seed, t->opts.fdt, err, sizeof err)) {
    diag_plain(d, "%s", err);
    goto fail;
  }
  if (!tparams_zero_like(&t->m, &t->params) || !tparams_zero_like(&t->v, &t->params) ||
      !tparams_zero_like(&t->gsum, &t->params))
    goto fail_oom;
  if (t->has_outer) { /* the anchor starts at the initial parameters */
    if (!tparams_zero_like(&t->anchor, &t->params) || !tparams_zero_like(&t->outer_m, &t->params)) goto fail_oom;
    for (int q = 0; q < t->params.n; q++)
      if (t->params.t[q].data)
        memcpy(t->anchor.t[q].data, t->params.t[q].data, (size_t)t->params.t[q].n * (size_t)dtype_size(t->params.t[q].dt));
  }
  if (!tdept_setup(t, d)) goto fail; /* DEPT TRIM: each task's vocabulary rows */
  t->module_steps = calloc((size_t)train->modules.n + 1, sizeof(int64_t));
  t->seen_run = calloc((size_t)train->modules.n + 1, sizeof(int64_t));
  t->norm_items = calloc((size_t)t->params.n + 1, sizeof(OptimNormItem));
  t->opt_items = calloc((size_t)t->params.n + 1, sizeof(OptimItem));
  t->gsq = calloc((size_t)t->params.n + 1, sizeof(double));
  if (!t->module_steps || !t->seen_run || !t->norm_items || !t->opt_items || !t->gsq) goto fail_oom;
  if (!tbuckets_setup(t, d)) goto fail;
  if (o->device && !tdev_open(t, d)) goto fail; /* train.device: cuda (runtime/cuda/dtrain.c) */
  if (!tguard_setup(t)) goto fail_oom;
  if (cg_cpu_available() && !getenv("MAMC_NO_JIT")) {
    t->jit = cg_cpu_new(err, sizeof err);
    if (!t->jit) {
      diag_plain(d, "the CPU JIT does not start: %s (MAMC_NO_JIT=1 runs without it)", err);
      goto fail;
    }
  }
  t->pool = pool_new(o->threads > 0 ? o->threads : 1); /* NULL: kernels run inline */
  for (int k = 0; k < ntasks; k++) {
    TTask *tk = &t->tasks[k];
    if (!tk->owned || t->dev) continue; /* train.device: cuda: the device's executors (tdev_open) */
    if (!exec_init(&tk->exec, train, tasks[k].graph, t->jit, err, sizeof err) ||
        !exec_init(&tk->eval_exec, eval, tasks[k].graph, t->jit, err, sizeof err)) {
      diag_plain(d, "%s", err);
      goto fail;
    }
    tk->has_exec = 1;
    exec_on_output(&tk->exec, tbuckets_on_output, t); /* gradients into gsum, and exchanged early */
    exec_set_pool(&tk->exec, t->pool);
    exec_set_pool(&tk->eval_exec, t->pool);
  }
  if (!tsync_prepare_comms(t, NULL, d)) goto fail;
  if (o->metrics_path && t->rank == 0) {
    t->metrics = fopen(o->metrics_path, "a");
    if (!t->metrics) {
      diag_plain(d, "cannot open the metrics file '%s'", o->metrics_path);
      goto fail;
    }
    tdept_log_rounds(t); /* what the rounds combine (= the comm pass's outer_sync ops) */
  }
  return t;
fail_oom:
  diag_plain(d, "out of memory");
fail:
  trainer_free(t);
  return NULL;
}

void trainer_free(Trainer *t) {
  if (!t) return;
  if (t->dev) tdev_free(t); /* (its last metrics line first) */
  for (int k = 0; k < t->ntasks && t->tasks; k++) {
    TTask *tk = &t->tasks[k];
    if (tk->has_exec) {
      exec_free(&tk->exec);
      exec_free(&tk->eval_exec);
    }
    batcher_free(tk->batcher);
    for (int i = 0; i < tk->nvalid; i++) tbatch_free(&tk->valid[i]);
    free(tk->valid);
  }
  for (int v = 0; v < t->nvocabs && t->toks; v++) tokenizer_free(t->toks[v]);
  tdept_free(t);
  tvalid_free(t);
  rt_params_free(&t->params);
  rt_params_free(&t->m);
  rt_params_free(&t->v);
  rt_params_free(&t->gsum);
  rt_params_free(&t->anchor);
  rt_params_free(&t->outer_m);
  tbuckets_free(t);
  tguard_free(t);
  tsync_free(t);
  if (t->jit) cg_cpu_free(t->jit);
  pool_free(t->pool);
  free(t->seen_run);
  if (t->metrics) fclose(t->metrics);
  free(t->module_steps);
  free(t->norm_items);
  free(t->opt_items);
  free(t->gsq);
  free(t->tasks);
  free(t->toks);
  arena_free(&t->arena);
  free(t);
}

/* ---- running a task on a batch ---------------------------------------------------------------- */

/* Binds every symbol appearing as a whole dim of an input's type to the tensor's size there. */
int tbind_symbols(const IrProgram *p, const IrGraph *g, const Tensor *inputs, int64_t *symvals, char *err, size_t n) {
  for (int s = 0; s < p->syms.n; s++) symvals[s] = -1;
  int k = 0;
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    if (nd->op != OP_INPUT) continue;
    const Tensor *x = &inputs[k++];
    if (x->rank != nd->type.rank) {
      snprintf(err, n, "input '%s' has rank %d, expected %d", nd->name, x->rank, nd->type.rank);
      return 0;
    }
    for (int d = 0; d < x->rank; d++) {
      Dim dm = nd->type.d[d];
      if (dm.sym < 0 || dm.mul != 1 || dm.add != 0) continue;
      if (symvals[dm.sym] >= 0 && symvals[dm.sym] != x->shape[d]) {
        snprintf(err, n, "symbol %s is %lld in one input and %lld in '%s'", p->syms.v[dm.sym],
                 (long long)symvals[dm.sym], (long long)x->shape[d], nd->name);
        return 0;
      }
      symvals[dm.sym] = x->shape[d];
    }
  }
  for (int s = 0; s < p->syms.n; s++)
    if (symvals[s] < 0) symvals[s] = 0; /* unused by this graph */
  return 1;
}

/* The graph's inputs from a batch: (src, tgt) or (tgt). */
int tbatch_inputs(const IrGraph *g, const Batch *b, Tensor *in, char *err, size_t n) {
  int ninputs = 0;
  for (int i = 0; i < g->nodes.n; i++) /* (DEPT TRIM's vocab_rows is not from the corpus) */
    ninputs += g->nodes.v[i].op == OP_INPUT && !tdept_is_rows_input(&g->nodes.v[i]);
  if (ninputs < 1 || ninputs > 2) {
    snprintf(err, n, "a task graph needs one or two inputs to be fed from a corpus, this one has %d", ninputs);
    return 0;
  }
  int64_t ss[2] = {b->B, b->S}, ts[2] = {b->B, b->T};
  int k = 0;
  if (ninputs == 2) {
    if (!b->src || !rt_tensor_alloc(&in[k], DT_I32, 2, ss)) return snprintf(err, n, "no source side in the batch"), 0;
    memcpy(in[k++].data, b->src, sizeof(int32_t) * (size_t)(b->B * b->S));
  }
  if (!rt_tensor_alloc(&in[k], DT_I32, 2, ts)) {
    rt_tensor_free(&in[0]);
    return snprintf(err, n, "out of memory"), 0;
  }
  memcpy(in[k].data, b->tgt, sizeof(int32_t) * (size_t)(b->B * b->T));
  return ninputs;
}

static int find_loss(const IrGraph *g) {
  for (int k = 0; k < g->outputs.n; k++)
    if (strcmp(g->outputs.v[k].name, "loss") == 0) return k;
  return -1;
}

/* Forward and backward of task k on batch b; the executor's callback adds tokens * gradient
 * into gsum and the tokens into wsum of every module it trains (trainer_buckets.c). *loss
 * receives the batch's loss. */
static int run_task(Trainer *t, int k, const Batch *b, double *loss, Diag *d) {
  TTask *tk = &t->tasks[k];
  const IrGraph *g = &t->train->graphs.v[tk->spec.graph];
  Tensor in[3] = {{0}};
  char err[256];
  int nin = tbatch_inputs(g, b, in, err, sizeof err), ncorpus = nin;
  if (nin && tk->rows && !(nin = tdept_inputs(t, k, in, nin, err, sizeof err))) /* DEPT TRIM: local ids */
    for (int i = 0; i < ncorpus; i++) rt_tensor_free(&in[i]);
  if (!nin) {
    diag_plain(d, "task %s: %s", tk->spec.name, err);
    return 0;
  }
  int64_t *sym = calloc((size_t)t->train->syms.n + 1, sizeof(int64_t));
  InterpCx cx = {t->opts.fdt, t->opts.seed, t->step + 1, 1, {0}};
  t->cur_graph = tk->spec.graph; /* tbuckets_on_output adds each gradient as it is computed */
  t->cur_tokens = (float)b->tgt_tokens;
  t->run_id++;
  double dloss = NAN; /* train.device: cuda: the loss from the device */
  int ok = sym && tbind_symbols(t->train, g, in, sym, cx.err, sizeof cx.err) &&
           (t->dev ? tdev_run(t, k, 0, sym, in, &cx, &dloss) : exec_run(&tk->exec, sym, in, &t->params, &cx));
  free(sym);
  for (int i = 0; i < nin; i++) rt_tensor_free(&in[i]);
  if (!ok) {
    diag_plain(d, "task %s, step %lld: %s", tk->spec.name, (long long)t->step + 1, cx.err);
    return 0;
  }
  int lo = find_loss(g);
  *loss = t->dev ? dloss : lo >= 0 ? rt_tensor_get(exec_output(&tk->exec, lo), 0) : NAN;
  tguard_record(t, k, b); /* the batch, for the op-by-op re-run of a non-finite step */
  if (!isfinite(*loss)) { /* the guard decides after the exchange (finish_step), on every process alike */
    if (!t->nonfinite_local)
      snprintf(t->nonfinite_msg, sizeof t->nonfinite_msg, "task %s: the loss is %s", tk->spec.name,
               isnan(*loss) ? "NaN" : *loss > 0 ? "Inf" : "-Inf");
    t->nonfinite_local = 1;
  } else {
    tdept_count(t, k, (double)b->tgt_tokens); /* DEPT TRIM: the rows it trained this round */
  }
  if (!t->dev) exec_release(&tk->exec);
  return 1;
}

/* ---- the step ------------------------------------------------------------------------------------ */

/* Zeroes this step's gradient sums; a skipped step also takes its tokens back from the round's. */
static void reset_sums(Trainer *t, int skipped) {
  for (int m = 0; m < t->train->modules.n; m++) {
    if (skipped) t->round_tokens[m] -= t->wsum[m];
    t->wsum[m] = 0;
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++)
      if (t->gsum.t[q].data) memset(t->gsum.t[q].data, 0, sizeof(float) * (size_t)t->gsum.t[q].n);
  }
}

/* After every rank's share is in gsum/wsum: exchange, normalise, clip, update, reset. A step
 * whose loss or gradients are not finite anywhere stops, or is skipped (trainer_guard.c). */
static int finish_step(Trainer *t, const int *task_of_rank, double *grad_norm, double *lr_out, Diag *d) {
  int on_dev = t->dev ? tdev_finish_step(t, grad_norm, lr_out, d) : -1; /* train.device: cuda, all on the GPU */
  if (on_dev >= 0) return on_dev;
  double t0 = mono_seconds();
  if (!tbuckets_finish(t, d)) return 0;
  double t1 = mono_seconds();
  t->comm_seconds += t1 - t0;
  int M = t->train->modules.n, nn = 0;
  for (int m = 0; m < M; m++) { /* normalise, and each gradient's sum of squares (for tsync_norm) */
    if (!t->held[m] || t->wsum[m] <= 0) continue;
    float inv = (float)(1.0 / t->wsum[m]);
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++)
      t->norm_items[nn++] = (OptimNormItem){&t->gsum.t[q], inv, 0};
  }
  optim_scale_sq_norms(t->norm_items, nn, t->pool);
  for (int k = 0; k < nn; k++) t->gsq[t->norm_items[k].g - t->gsum.t] = t->norm_items[k].sq;
  double norm;
  if (!tsync_norm(t, &norm, &t->world_payload, d)) return 0;
  double scale = optim_clip_scale(norm, t->opts.clip);
  int64_t step = t->step + 1;
  double lr = sched_lr(&t->opts.sched, step);
  int skip = 0;
  if (t->nonfinite_world || !isfinite(norm)) {
    skip = tguard_step(t, norm, lr, d);
    if (!skip) {
      reset_sums(t, 1);
      return 0;
    }
  }
  int nu = 0;
  for (int m = 0; !skip && m < M; m++) {
    if (!t->held[m] || t->wsum[m] <= 0) continue;
    int64_t ms = ++t->module_steps[m];
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
      if (t->train->modules.v[m].params.v[q - t->params.first[m]].frozen) continue;
      t->opt_items[nu++] = (OptimItem){&t->params.t[q], &t->gsum.t[q], &t->m.t[q], &t->v.t[q], ms};
    }
  }
  optim_update_all(&t->opts.opt, t->opt_items, nu, lr, scale, t->pool); /* optim_update on each, batched */
  if (skip) reset_sums(t, 1); /* before a round ends: the skipped step's tokens are not the round's */
  if (t->has_outer && !tsync_outer(t, step, d)) return 0;
  if (!skip) reset_sums(t, 0);
  if (t->dev) tdev_host_changed(t); /* train.device: cuda with staged gradients: the update goes up */
  t->step = step;
  t->opt_seconds += mono_seconds() - t1;
  *grad_norm = norm;
  *lr_out = lr;
  return 1;
}

int trainer_step(Trainer *t, StepInfo *info, Diag *d) {
  double t0 = mono_seconds();
  int task_of_rank[1024];
  for (int r = 0; r < t->nranks; r++) {
    task_of_rank[r] = tsync_task_of(t, r, t->step);
    if (task_of_rank[r] < 0) {
      diag_plain(d, "rank %d has no task that can be sampled at step %lld", r, (long long)t->step + 1);
      return 0;
    }
  }
  tdept_sit_out(t, task_of_rank); /* dept.sources_per_round: sources outside the round's subset */
  if (!tsync_prepare_comms(t, task_of_rank, d)) return 0; /* collective: before anyone starts */
  tbuckets_begin(t, task_of_rank, t->emulate ? -1 : task_of_rank[t->rank]);
  tguard_begin(t);
  double lsum = 0, wtot = 0;
  int64_t tokens = 0;
  int first = -1;
  for (int r = 0; r < t->nranks; r++) {
    int k = task_of_rank[r];
    if (k < 0 || !t->tasks[k].owned || (!t->emulate && r != t->rank)) continue; /* k < 0: sits out */
    Batch b;
    double loss;
    if (batcher_next(t->tasks[k].batcher, &b, d) != 0 || !run_task(t, k, &b, &loss, d)) return 0;
    if (t->round_runs) t->round_runs[r] += 1;
    lsum += loss * (double)b.tgt_tokens;
    wtot += (double)b.tgt_tokens;
    tokens += b.tgt_tokens;
    if (first < 0) first = k;
  }
  double norm, lr;
  if (!finish_step(t, task_of_rank, &norm, &lr, d)) return 0;
  *info = (StepInfo){t->step, first, wtot > 0 ? lsum / wtot : NAN, lr, norm, tokens, mono_seconds() - t0, t->world_payload,
                     t->nonfinite_world || !isfinite(norm), t->stop_world};
  return 1;
}

int trainer_step_batch(Trainer *t, int task, const Batch *b, StepInfo *info, Diag *d) {
  if (t->nranks > 1) {
    diag_plain(d, "training on the caller's batches works in single-process runs only");
    return 0;
  }
  double t0 = mono_seconds(), loss, norm, lr;
  int task_of_rank[1] = {task};
  tbuckets_begin(t, task_of_rank, task);
  tguard_begin(t);
  if (!run_task(t, task, b, &loss, d) || !finish_step(t, task_of_rank, &norm, &lr, d)) return 0;
  *info = (StepInfo){t->step, task, loss, lr, norm, b->tgt_tokens, mono_seconds() - t0, 0, t->nonfinite_world || !isfinite(norm),
                     t->stop_world};
  return 1;
}

/* ---- validation ----------------------------------------------------------------------------------- */

int trainer_validate(Trainer *t, double *losses, Diag *d) {
  double *acc = calloc((size_t)(2 * t->ntasks + 1), sizeof(double)); /* per task: sum, weight */
  if (!acc) return diag_plain(d, "out of memory"), 0;
  for (int k = 0; k < t->ntasks; k++) {
    TTask *tk = &t->tasks[k];
    if (!tk->owned || !tk->nvalid) continue;
    const IrGraph *g = &t->eval->graphs.v[tk->spec.graph];
    int lo = find_loss(g);
    int64_t *sym = calloc((size_t)t->eval->syms.n + 1, sizeof(int64_t));
    for (int i = 0; sym && lo >= 0 && i < tk->nvalid; i++) {
      Batch b = tbatch_view(&tk->valid[i]);
      Tensor in[2] = {{0}};
      char err[256];
      int nin = tbatch_inputs(g, &b, in, err, sizeof err);
      InterpCx cx = {t->opts.fdt, t->opts.seed, 0, 0, {0}};
      double dloss = NAN; /* train.device: cuda */
      int ok = nin && tbind_symbols(t->eval, g, in, sym, cx.err, sizeof cx.err) &&
               (t->dev ? tdev_run(t, k, 1, sym, in, &cx, &dloss) : exec_run(&tk->eval_exec, sym, in, &t->params, &cx));
      for (int j = 0; j < nin; j++) rt_tensor_free(&in[j]);
      if (!ok) {
        diag_plain(d, "validation of %s: %s", tk->spec.name, nin ? cx.err : err);
        free(sym);
        free(acc);
        return 0;
      }
      acc[2 * k] += (t->dev ? dloss : rt_tensor_get(exec_output(&tk->eval_exec, lo), 0)) * (double)b.tgt_tokens;
      acc[2 * k + 1] += (double)b.tgt_tokens;
      if (!t->dev) exec_release(&tk->eval_exec);
    }
    free(sym);
  }
  char err[256];
  if (t->opts.dist && !dist_world_sum(t->opts.dist, acc, 2 * t->ntasks, err, sizeof err)) {
    diag_plain(d, "validation: %s", err);
    free(acc);
    return 0;
  }
  for (int k = 0; k < t->ntasks; k++) losses[k] = acc[2 * k + 1] > 0 ? acc[2 * k] / acc[2 * k + 1] : NAN;
  free(acc);
  return 1;
}

/* ---- accessors ------------------------------------------------------------------------------------------ */

int trainer_ntasks(const Trainer *t) { return t->ntasks; }
int trainer_task_graph(const Trainer *t, int task) { return t->tasks[task].spec.graph; }
const char *trainer_task_name(const Trainer *t, int task) { return t->tasks[task].spec.name; }
int64_t trainer_step_count(const Trainer *t) { return t->step; }
const ParamStore *trainer_params(const Trainer *t) {
  if (t->dev) tdev_pull((Trainer *)t, NULL); /* train.device: cuda: the device's values (on failure: the last ones) */
  return &t->params;
}
double trainer_optimizer_seconds(const Trainer *t) { return t->opt_seconds; }
int trainer_on_device(const Trainer *t) { return t->dev != NULL; }
void trainer_kernel_counts(const Trainer *t, int *generated, int *cached) {
  CgCpuDiskStats st;
  cg_cpu_disk_stats(t->jit, &st);
  *generated = st.compiled;
  *cached = st.hits;
}
int64_t trainer_skipped_steps(const Trainer *t) { return t->skipped; }
const char *trainer_nonfinite_report(const Trainer *t) { return t->nonfinite_msg; }

ExecStats trainer_exec_stats(const Trainer *t) {
  ExecStats s;
  memset(&s, 0, sizeof s);
  for (int k = 0; k < t->ntasks; k++)
    if (t->tasks[k].has_exec) exec_stats_add(&s, &t->tasks[k].exec.stats);
  return s;
}

void trainer_log(Trainer *t, const char *line) {
  if (!t->metrics) return;
  fputs(line, t->metrics);
  fputc('\n', t->metrics);
  fflush(t->metrics);
}
