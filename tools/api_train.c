/* api_train.c — the public C API, part two: training. A run configuration becomes trainer
 * specs (one per task, or per placement copy on several processes), options and the frame
 * every checkpoint records; the mamc_trainer_* functions wrap runtime/trainer.h. */
#include "api_internal.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "pipeline.h"
#include "bind.h"
#include "config.h"
#include "dept.h"
#include "elab.h"
#include "dist_setup.h"
#include "../runtime/decode.h" /* (passes/ has a decode.h too: the pass) */
#include "dist.h"
#include "matmul.h"
#include "trainer.h"


/* ---- run configuration -> trainer specs ------------------------------------------------------------ */

static int vocab_index(const RunConfig *cfg, const char *name) {
  for (int i = 0; i < cfg->vocabs.n; i++)
    if (strcmp(cfg->vocabs.v[i].name.s, name) == 0) return i;
  return -1;
}

static void corpus_spec(Arena *a, const RunConfig *cfg, const CfgName *tsv, const CfgName *src, const CfgName *tgt,
                        const CfgTask *t, CorpusSpec *out) {
  memset(out, 0, sizeof *out);
  out->stride = t->stride;
  out->offset = t->offset;
  if (tsv->s) {
    out->tsv = config_resolve_path(a, cfg, tsv->s);
  } else if (src->s && tgt->s) {
    const char **files = ARENA_ARRAY(a, const char *, 2);
    files[0] = config_resolve_path(a, cfg, src->s);
    files[1] = config_resolve_path(a, cfg, tgt->s);
    out->files = files;
    out->nfiles = 2;
  }
}

static int graph_inputs(const IrGraph *g) { /* fed from the corpus (DEPT's vocab_rows is not) */
  int n = 0;
  for (int i = 0; i < g->nodes.n; i++) n += g->nodes.v[i].op == OP_INPUT && i != dept_rows_input(g);
  return n;
}

/* One spec per task on one process; on several, one per copy of the placement
 * (passes/placement.h: explicit ranks kept, the other tasks placed to minimise communication,
 * large tasks split over ranks by stride/offset). *nspecs receives the count. */
static int task_specs(mamc_model *m, TrainTaskSpec **out, int *nspecs, int nranks, Diag *d) {
  const RunConfig *cfg = m->cfg;
  int n = cfg->tasks.n;
  DistSetup ds;
  if (nranks > 1) {
    if (!dist_setup(cfg, m->train, nranks, PLACE_EXACT, &m->arena, &ds, d)) return 0;
    n = ds.pl.ncopies;
  }
  TrainTaskSpec *specs = ARENA_ARRAY(&m->arena, TrainTaskSpec, n + 1);
  *out = specs;
  *nspecs = n;
  for (int c = 0; c < n; c++) {
    const PlaceCopy *pc = nranks > 1 ? &ds.pl.copies[c] : NULL;
    int k = pc ? pc->task : c;
    const CfgTask *t = &cfg->tasks.v[k];
    TrainTaskSpec *s = &specs[c];
    memset(s, 0, sizeof *s);
    int first_copy = !pc || c == 0 || ds.pl.copies[c - 1].task != k;
    s->name = t->name.s;
    if (pc && !first_copy) s->name = arena_printf(&m->arena, "%s@%d", t->name.s, pc->rank);
    s->graph = k;
    s->rank = pc ? pc->rank : 0;
    s->weight = pc ? pc->weight : t->weight;
    s->introduce_at_step = t->introduce_at_step;
    CfgTask split = *t; /* a copy reads its own lines */
    if (pc) split.stride = pc->stride, split.offset = pc->offset;
    corpus_spec(&m->arena, cfg, &t->path, &t->path_src, &t->path_tgt, &split, &s->train);
    CfgTask nostride = *t;
    nostride.stride = 1;
    nostride.offset = 0;
    if (first_copy) /* one copy of a split task validates it */
      corpus_spec(&m->arena, cfg, &t->valid, &t->valid_src, &t->valid_tgt, &nostride, &s->valid);
    int nin = graph_inputs(&m->train->graphs.v[k]);
    if (t->columns.n && t->columns.n != nin) {
      diag_error(d, t->columns_loc, "task %s: columns lists %d column%s, but its model task has %d input%s", t->name.s,
                 t->columns.n, t->columns.n == 1 ? "" : "s", nin, nin == 1 ? "" : "s");
      return 0;
    }
    int col[2] = {0, nin == 2 ? 1 : 0};
    for (int i = 0; i < t->columns.n && i < 2; i++) col[i] = t->columns.v[i];
    if (nin == 1) col[1] = col[0];
    s->src_col = col[0];
    s->tgt_col = col[1];
    /* the vocabulary of each input; the last one repeats */
    int vs = t->vocabs.n ? vocab_index(cfg, t->vocabs.v[0].s) : -1;
    int vt = t->vocabs.n ? vocab_index(cfg, t->vocabs.v[t->vocabs.n > 1 && nin == 2 ? 1 : 0].s) : -1;
    if (vs < 0 || vt < 0) {
      diag_error(d, t->loc, "task %s: no vocabulary for its inputs (give vocabs: [...])", t->name.s);
      return 0;
    }
    s->src_vocab = vs;
    s->tgt_vocab = vt;
  }
  return 1;
}

static void train_opts(const RunConfig *cfg, const mamc_train_options *o, TrainOpts *to) {
  const CfgTrain *tr = &cfg->train;
  memset(to, 0, sizeof *to);
  to->steps = o && o->steps > 0 ? o->steps : tr->steps;
  to->batch_tokens = (int)tr->batch_tokens;
  to->max_len = tr->max_len;
  to->sched = (Schedule){(SchedKind)tr->schedule.kind, tr->lr, tr->schedule.min_lr, tr->schedule.warmup, to->steps};
  static const OptKind kinds[] = {[CFG_OPT_ADAMW] = OPT_ADAMW, [CFG_OPT_ADAM] = OPT_ADAM, [CFG_OPT_SGD] = OPT_SGD};
  to->opt = (OptimOpts){kinds[tr->optimizer.kind], tr->optimizer.beta1, tr->optimizer.beta2, tr->optimizer.eps,
                        tr->optimizer.weight_decay, tr->optimizer.momentum};
  to->clip = tr->clip;
  to->seed = o && o->seed ? o->seed : (uint64_t)tr->seed;
  to->temperature = cfg->sampling.temperature;
  to->sampling_seed = (uint64_t)cfg->sampling.seed;
  to->bucket_bytes = (int64_t)(tr->bucket_mb * (1 << 20));
  /* threads for fused kernels: MAMC_THREADS=N (default 1: on the 2-core development machine,
   * shared with other work, a second thread measured slower — bench/cpu_step.sh) */
  const char *env = getenv("MAMC_THREADS");
  to->threads = env && atoi(env) > 0 ? atoi(env) : 1;
  to->reset_moments = cfg->dept.reset_moments;
  to->sources_per_round = cfg->dept.sources_per_round;
  to->nsources = cfg->tasks.n;
  to->round_every = cfg_round_every(cfg);
  to->valid_every = tr->valid_every;
  to->max_valid_batches = (int)tr->valid_batches;
  to->metrics_path = o ? o->metrics_path : NULL;
  to->fdt = DT_F32;
  to->device = tr->device == CFG_DEV_CUDA; /* --device overrides train.device */
  to->device_index = tr->device_index;
  to->precision = tr->precision; /* read by train.device: cuda only (docs/config.md) */
  if (o && o->device && *o->device) {
    to->device = strncmp(o->device, "cuda", 4) == 0;
    to->device_index = to->device && o->device[4] == ':' ? atoi(o->device + 5) : -1;
  }
  to->nonfinite_skip = tr->nonfinite == CFG_NONFINITE_SKIP;
  to->nonfinite_debug = tr->nonfinite_debug;
}

static void json_escaped(StrBuf *b, const char *s) {
  sb_putc(b, '"');
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') sb_printf(b, "\\%c", c);
    else if (c == '\n') sb_puts(b, "\\n");
    else if (c < 0x20) sb_printf(b, "\\u%04x", c);
    else sb_putc(b, (char)c);
  }
  sb_putc(b, '"');
}

/* What a checkpoint's frame records beside the step and data positions: the run
 * configuration (its path and text) and the vocabularies (kind, size, file). */
static const char *frame_extra(mamc_model *m) {
  StrBuf b;
  sb_init(&b);
  sb_puts(&b, "  \"config\": {\"path\": ");
  json_escaped(&b, m->cfg->file->name);
  sb_puts(&b, ", \"text\": ");
  json_escaped(&b, m->cfg->file->text);
  sb_puts(&b, "},\n  \"vocabularies\": [");
  for (int i = 0; i < m->cfg->vocabs.n; i++) {
    const CfgVocab *v = &m->cfg->vocabs.v[i];
    sb_printf(&b, "%s{\"name\": ", i ? ", " : "");
    json_escaped(&b, v->name.s);
    sb_printf(&b, ", \"type\": \"%s\", \"size\": %d, \"path\": ", cfg_vocab_kind_name(v->kind), v->size);
    if (v->path.s) json_escaped(&b, config_resolve_path(&m->arena, m->cfg, v->path.s));
    else sb_puts(&b, "null");
    sb_putc(&b, '}');
  }
  sb_puts(&b, "]");
  const char *s = arena_strdup(&m->arena, b.s ? b.s : "");
  sb_free(&b);
  return s;
}

mamc_trainer *mamc_trainer_new(mamc_model *m, const mamc_train_options *o, char **errors) {
  Diag d;
  diag_init(&d);
  const RunConfig *cfg = m->cfg;
  mamc_trainer *t = calloc(1, sizeof *t);
  TrainTaskSpec *specs = NULL;
  int nspecs = 0;
  TrainVocab *vocabs = calloc((size_t)cfg->vocabs.n + 1, sizeof *vocabs);
  if (!t || !vocabs) {
    diag_plain(&d, "out of memory");
    goto fail;
  }
  char derr[256];
  t->dist = dist_new(derr, sizeof derr);
  if (!t->dist) {
    diag_plain(&d, "%s", derr);
    goto fail;
  }
  int nranks = dist_size(t->dist) > 1 ? dist_size(t->dist) : (o && o->emulate_ranks > 1 ? o->emulate_ranks : 1);
  if (!task_specs(m, &specs, &nspecs, nranks, &d)) goto fail;
  for (int i = 0; i < cfg->vocabs.n; i++) {
    const CfgVocab *v = &cfg->vocabs.v[i];
    vocabs[i].name = v->name.s;
    vocabs[i].path = v->kind == CFG_VOCAB_BPE ? config_resolve_path(&m->arena, cfg, v->path.s) : NULL;
  }
  TrainOpts to;
  train_opts(cfg, o, &to);
  to.frame_extra = frame_extra(m);
  to.dist = dist_size(t->dist) > 1 ? t->dist : NULL;
  to.emulate_ranks = to.dist ? 0 : nranks;
  t->m = m;
  t->total_steps = to.steps;
  t->t = trainer_new(m->train, m->eval, specs, nspecs, vocabs, cfg->vocabs.n, &to, &d);
  if (!t->t) goto fail;
  if (m->dec && !trainer_setup_bleu(t->t, m->dec, (int)cfg->train.valid_bleu, &d)) { /* validation BLEU */
    trainer_free(t->t);
    goto fail;
  }
  free(vocabs);
  diag_free(&d);
  return t;
fail:
  free(vocabs);
  if (t) dist_free(t->dist);
  free(t);
  api_take_errors(&d, errors);
  return NULL;
}

void mamc_trainer_free(mamc_trainer *t) {
  if (!t) return;
  trainer_free(t->t);
  dist_free(t->dist);
  free(t);
}

int mamc_mpi_init(int *argc, char ***argv) { return dist_mpi_init(argc, argv); }
void mamc_mpi_finalize(void) { dist_mpi_finalize(); }
int mamc_mpi_rank(void) { return dist_mpi_rank(); }
int mamc_trainer_rank(const mamc_trainer *t) { return dist_rank(t->dist); }

int64_t mamc_trainer_total_steps(const mamc_trainer *t) { return t->total_steps; }
int64_t mamc_trainer_step_count(const mamc_trainer *t) { return trainer_step_count(t->t); }
int64_t mamc_trainer_skipped_steps(const mamc_trainer *t) { return trainer_skipped_steps(t->t); }
const char *mamc_trainer_nonfinite_report(const mamc_trainer *t) { return trainer_nonfinite_report(t->t); }

/* Trainer task specs are placement copies; the API speaks of the configuration's tasks (the
 * graph of a spec is its task's index). */
static void to_public(const Trainer *tr, const StepInfo *s, mamc_step *out) {
  int task = s->task >= 0 ? trainer_task_graph(tr, s->task) : -1;
  *out = (mamc_step){s->step, task, s->loss, s->lr, s->grad_norm, s->tokens, s->seconds, s->comm_bytes, s->skipped, s->stop};
}

int mamc_trainer_step(mamc_trainer *t, mamc_step *out, char **errors) {
  Diag d;
  diag_init(&d);
  StepInfo s;
  if (!trainer_step(t->t, &s, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  to_public(t->t, &s, out);
  return MAMC_OK;
}

void mamc_trainer_watch_stop(mamc_trainer *t, const volatile sig_atomic_t *flag) { trainer_watch_stop(t->t, flag); }

int mamc_trainer_step_batch(mamc_trainer *t, int task, const int32_t *src, int B, int S, const int32_t *tgt, int T,
                            mamc_step *out, char **errors) {
  Diag d;
  diag_init(&d);
  if (task < 0 || task >= mamc_model_ntasks(t->m) || B < 1 || T < 2 || !tgt || (src && S < 1)) {
    diag_plain(&d, "mamc_trainer_step_batch: bad arguments (task %d, B %d, S %d, T %d)", task, B, S, T);
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  Batch b = {0};
  b.B = B;
  b.S = S;
  b.T = T;
  b.src = src;
  b.tgt = tgt;
  for (int64_t i = 0; i < (int64_t)B * T; i++) b.tgt_tokens += tgt[i] != 0 && tgt[i] != 1;
  StepInfo s;
  if (!trainer_step_batch(t->t, task, &b, &s, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  to_public(t->t, &s, out);
  return MAMC_OK;
}

int mamc_trainer_validate(mamc_trainer *t, double *losses, char **errors) {
  Diag d;
  diag_init(&d);
  int n = trainer_ntasks(t->t);
  double *per = malloc(sizeof(double) * (size_t)(n + 1));
  if (!per || !trainer_validate(t->t, per, &d)) {
    if (!per) diag_plain(&d, "out of memory");
    free(per);
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  for (int k = 0; k < mamc_model_ntasks(t->m); k++) losses[k] = NAN;
  for (int i = 0; i < n; i++) /* the copy of a task that validates it */
    if (!isnan(per[i])) losses[trainer_task_graph(t->t, i)] = per[i];
  free(per);
  diag_free(&d);
  return MAMC_OK;
}

int mamc_trainer_save(mamc_trainer *t, const char *dir, int keep, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_save(t->t, dir, keep, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}

int mamc_trainer_load(mamc_trainer *t, const char *path, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_load(t->t, path, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}

int mamc_trainer_init_from(mamc_trainer *t, const char *path, int *copied, int *total, char **errors) {
  Diag d;
  diag_init(&d);
  int c = 0, n = 0;
  if (!trainer_init_from(t->t, path, &c, &n, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  if (copied) *copied = c;
  if (total) *total = n;
  return MAMC_OK;
}

void mamc_trainer_log(mamc_trainer *t, const char *line) { trainer_log(t->t, line); }

Trainer *mamc_trainer_runtime(mamc_trainer *t) { return t->t; }

int mamc_trainer_dump_replicas(mamc_trainer *t, const char *dir, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_dump_replicas(t->t, dir, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}

void mamc_trainer_times(const mamc_trainer *t, double *fwd, double *bwd, double *opt) {
  ExecStats s = trainer_exec_stats(t->t);
  int gpu = trainer_on_device(t->t); /* the device executors do not split their time */
  if (fwd) *fwd = gpu ? NAN : s.seconds[0];
  if (bwd) *bwd = gpu ? NAN : s.seconds[1];
  if (opt) *opt = trainer_optimizer_seconds(t->t);
}

void mamc_trainer_kernels(const mamc_trainer *t, int *generated, int *cached) {
  int g, c;
  trainer_kernel_counts(t->t, &g, &c);
  if (generated) *generated = g;
  if (cached) *cached = c;
}

/* ---- validation BLEU and the best checkpoint (runtime/trainer_valid.c) -------------------------- */

int mamc_trainer_validate_bleu(mamc_trainer *t, double *bleu, double *chrf, char **errors) {
  Diag d;
  diag_init(&d);
  int n = trainer_ntasks(t->t);
  double *b = malloc(sizeof(double) * (size_t)(2 * n + 1)), *c = b ? b + n : NULL;
  if (!b || !trainer_validate_bleu(t->t, b, c, &d)) {
    if (!b) diag_plain(&d, "out of memory");
    free(b);
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  for (int k = 0; k < mamc_model_ntasks(t->m); k++) bleu[k] = chrf[k] = NAN;
  for (int i = 0; i < n; i++) /* the copy of a task that validates it */
    if (!isnan(b[i])) bleu[trainer_task_graph(t->t, i)] = b[i], chrf[trainer_task_graph(t->t, i)] = c[i];
  free(b);
  diag_free(&d);
  return MAMC_OK;
}

int mamc_trainer_save_best(mamc_trainer *t, const char *dir, const char *note_json, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_save_best(t->t, dir, note_json, &d)) {
    api_take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}
