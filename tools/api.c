/* api.c — the public C API (include/mamc/mamc.h): compiling a model against its run
 * configuration (frontend + passes) and training it (runtime/trainer). This is the one place
 * that sees every layer; `mamc train` and the example driver are thin clients of it.
 */
#include "mamc/mamc.h"

#include <math.h>
#include <stdlib.h>

#include "pipeline.h"
#include "bind.h"
#include "config.h"
#include "elab.h"
#include "api_internal.h"
#include "dist.h"
#include "matmul.h"
#include "trainer.h"

struct mamc_model {
  Arena arena;
  RunConfig *cfg;
  IrProgram *train, *eval;
};

struct mamc_trainer {
  mamc_model *m;
  Trainer *t;
  Dist *dist;
  int64_t total_steps;
};

/* ---- errors ---------------------------------------------------------------------------------- */

static void take_errors(Diag *d, char **errors) {
  if (errors) {
    *errors = d->out.s ? d->out.s : strdup("error: (no message)\n");
    d->out.s = NULL;
  }
  diag_free(d);
}

void mamc_free_text(char *text) { free(text); }

void mamc_set_blas_threads(int n) { rt_blas_set_threads(n > 0 ? n : 1); }

/* ---- compiling --------------------------------------------------------------------------------- */

static IrProgram *elaborate(mamc_model *m, Diag *d, const char *model_path) {
  IrProgram *p = fe_elaborate_config(&m->arena, d, model_path, m->cfg);
  if (p && !ir_verify(p, d)) p = NULL;
  return p;
}

mamc_model *mamc_model_compile(const char *model_path, const char *config_path, char **errors) {
  return mamc_model_compile_with(model_path, config_path, NULL, errors);
}

/* Marks the parameters of every module matching a freeze pattern frozen (before autodiff:
 * they get no gradient). A configured pattern that matches nothing is an error. */
static int apply_freeze(mamc_model *m, const mamc_compile_options *o, Diag *d) {
  IrProgram *progs[2] = {m->train, m->eval};
  int n = m->cfg->freeze.n + (o ? o->nfreeze : 0);
  for (int i = 0; i < n; i++) {
    const char *pat = i < m->cfg->freeze.n ? m->cfg->freeze.v[i].s : o->freeze[i - m->cfg->freeze.n];
    int hits = 0;
    for (int k = 0; k < 2; k++)
      for (int mi = 0; mi < progs[k]->modules.n; mi++)
        if (cfg_pattern_match(pat, progs[k]->modules.v[mi].name)) {
          hits++;
          for (int q = 0; q < progs[k]->modules.v[mi].params.n; q++) progs[k]->modules.v[mi].params.v[q].frozen = 1;
        }
    if (!hits && i < m->cfg->freeze.n) {
      diag_error(d, m->cfg->freeze.v[i].loc, "freeze: '%s' matches no module instance of the model", pat);
      return 0;
    }
  }
  return 1;
}

mamc_model *mamc_model_compile_with(const char *model_path, const char *config_path, const mamc_compile_options *o,
                                    char **errors) {
  Diag d;
  diag_init(&d);
  mamc_model *m = calloc(1, sizeof *m);
  if (!m) {
    diag_plain(&d, "out of memory");
    take_errors(&d, errors);
    return NULL;
  }
  arena_init(&m->arena);
  m->cfg = config_load(&m->arena, &d, config_path);
  if (!m->cfg || config_check_files(m->cfg, &d) > 0) goto fail;
  /* two programs from one elaboration: identical module tables, one ParamStore serves both */
  m->train = elaborate(m, &d, model_path);
  m->eval = m->train ? elaborate(m, &d, model_path) : NULL;
  if (!m->eval || !apply_freeze(m, o, &d)) goto fail;
  /* train: autodiff, then simplify; eval: simplify (passes/pipeline.h) */
  PipelineOpts tr = {.only = "ASF"}, ev = {.only = "SF"}; /* F: fusion groups for the CPU JIT */
  if (!pass_run(m->train, &tr, &d) || !pass_run(m->eval, &ev, &d)) goto fail;
  diag_free(&d);
  return m;
fail:
  take_errors(&d, errors);
  mamc_model_free(m);
  return NULL;
}

char **mamc_checkpoint_modules(const char *path, char **errors) {
  char dir[4096], fpath[4200];
  snprintf(dir, sizeof dir, "%s", path);
  snprintf(fpath, sizeof fpath, "%s/latest", path);
  FILE *f = fopen(fpath, "r");
  if (f) {
    char name[256] = {0};
    if (fgets(name, sizeof name, f)) {
      name[strcspn(name, "\n")] = 0;
      snprintf(dir, sizeof dir, "%s/%s", path, name);
    }
    fclose(f);
  }
  snprintf(fpath, sizeof fpath, "%s/frame.json", dir);
  f = fopen(fpath, "r");
  if (!f) {
    if (errors) *errors = strdup("error: not a mamc checkpoint (no frame.json)\n");
    return NULL;
  }
  char line[65536];
  char **names = calloc(1, sizeof(char *));
  int n = 0;
  while (names && fgets(line, sizeof line, f)) {
    char *p = strstr(line, "\"modules\": [");
    if (!p) continue;
    for (p += 12; (p = strchr(p, '"')); p++) { /* each "name" in the list */
      char *e = strchr(p + 1, '"');
      if (!e) break;
      char **nn = realloc(names, sizeof(char *) * (size_t)(n + 2));
      if (!nn) break;
      names = nn;
      names[n++] = strndup(p + 1, (size_t)(e - p - 1));
      names[n] = NULL;
      p = e;
    }
  }
  fclose(f);
  return names;
}

void mamc_free_names(char **names) {
  for (int i = 0; names && names[i]; i++) free(names[i]);
  free(names);
}

void mamc_model_free(mamc_model *m) {
  if (!m) return;
  arena_free(&m->arena);
  free(m);
}

int mamc_model_ntasks(const mamc_model *m) { return m->train->graphs.n; }
const char *mamc_model_task_name(const mamc_model *m, int task) { return m->cfg->tasks.v[task].name.s; }

int64_t mamc_model_parameter_count(const mamc_model *m) {
  int64_t total = 0;
  for (int i = 0; i < m->train->modules.n; i++)
    for (int k = 0; k < m->train->modules.v[i].params.n; k++) {
      const IrType *t = &m->train->modules.v[i].params.v[k].type;
      int64_t e = 1;
      for (int r = 0; r < t->rank; r++) e *= t->d[r].add;
      total += e;
    }
  return total;
}

void mamc_model_settings(const mamc_model *m, mamc_settings *out) {
  const RunConfig *c = m->cfg;
  *out = (mamc_settings){c->train.steps, c->train.log_every, c->train.valid_every, c->checkpoint.dir,
                         c->checkpoint.every, c->checkpoint.keep};
}

char *mamc_model_ir(const mamc_model *m, int training) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, training ? m->train : m->eval);
  return b.s;
}

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

static int graph_inputs(const IrGraph *g) {
  int n = 0;
  for (int i = 0; i < g->nodes.n; i++) n += g->nodes.v[i].op == OP_INPUT;
  return n;
}

/* The rank of each task: the first of its configured `ranks`, else round-robin. (Automatic
 * placement minimising communication is passes/placement's.) */
static int task_rank(const CfgTask *t, int k, int nranks) { return t->ranks.n ? t->ranks.v[0] : k % nranks; }

static int task_specs(mamc_model *m, TrainTaskSpec *specs, int nranks, Diag *d) {
  const RunConfig *cfg = m->cfg;
  for (int k = 0; k < cfg->tasks.n; k++) {
    const CfgTask *t = &cfg->tasks.v[k];
    TrainTaskSpec *s = &specs[k];
    memset(s, 0, sizeof *s);
    s->name = t->name.s;
    s->graph = k;
    s->rank = task_rank(t, k, nranks);
    s->weight = t->weight;
    s->introduce_at_step = t->introduce_at_step;
    corpus_spec(&m->arena, cfg, &t->path, &t->path_src, &t->path_tgt, t, &s->train);
    CfgTask nostride = *t;
    nostride.stride = 1;
    nostride.offset = 0;
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
  to->valid_every = tr->valid_every;
  to->max_valid_batches = (int)tr->valid_batches;
  to->metrics_path = o ? o->metrics_path : NULL;
  to->fdt = DT_F32;
}

mamc_trainer *mamc_trainer_new(mamc_model *m, const mamc_train_options *o, char **errors) {
  Diag d;
  diag_init(&d);
  const RunConfig *cfg = m->cfg;
  mamc_trainer *t = calloc(1, sizeof *t);
  TrainTaskSpec *specs = calloc((size_t)cfg->tasks.n + 1, sizeof *specs);
  TrainVocab *vocabs = calloc((size_t)cfg->vocabs.n + 1, sizeof *vocabs);
  if (!t || !specs || !vocabs) {
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
  if (!task_specs(m, specs, nranks, &d)) goto fail;
  for (int i = 0; i < cfg->vocabs.n; i++) {
    const CfgVocab *v = &cfg->vocabs.v[i];
    vocabs[i].name = v->name.s;
    vocabs[i].path = v->kind == CFG_VOCAB_BPE ? config_resolve_path(&m->arena, cfg, v->path.s) : NULL;
  }
  TrainOpts to;
  train_opts(cfg, o, &to);
  to.dist = dist_size(t->dist) > 1 ? t->dist : NULL;
  to.emulate_ranks = to.dist ? 0 : nranks;
  t->m = m;
  t->total_steps = to.steps;
  t->t = trainer_new(m->train, m->eval, specs, cfg->tasks.n, vocabs, cfg->vocabs.n, &to, &d);
  if (!t->t) goto fail;
  free(specs);
  free(vocabs);
  diag_free(&d);
  return t;
fail:
  free(specs);
  free(vocabs);
  if (t) dist_free(t->dist);
  free(t);
  take_errors(&d, errors);
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
int mamc_trainer_rank(const mamc_trainer *t) { return dist_rank(t->dist); }

int64_t mamc_trainer_total_steps(const mamc_trainer *t) { return t->total_steps; }
int64_t mamc_trainer_step_count(const mamc_trainer *t) { return trainer_step_count(t->t); }

static void to_public(const StepInfo *s, mamc_step *out) {
  *out = (mamc_step){s->step, s->task, s->loss, s->lr, s->grad_norm, s->tokens, s->seconds};
}

int mamc_trainer_step(mamc_trainer *t, mamc_step *out, char **errors) {
  Diag d;
  diag_init(&d);
  StepInfo s;
  if (!trainer_step(t->t, &s, &d)) {
    take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  to_public(&s, out);
  return MAMC_OK;
}

int mamc_trainer_step_batch(mamc_trainer *t, int task, const int32_t *src, int B, int S, const int32_t *tgt, int T,
                            mamc_step *out, char **errors) {
  Diag d;
  diag_init(&d);
  if (task < 0 || task >= trainer_ntasks(t->t) || B < 1 || T < 2 || !tgt || (src && S < 1)) {
    diag_plain(&d, "mamc_trainer_step_batch: bad arguments (task %d, B %d, S %d, T %d)", task, B, S, T);
    take_errors(&d, errors);
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
    take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  to_public(&s, out);
  return MAMC_OK;
}

int mamc_trainer_validate(mamc_trainer *t, double *losses, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_validate(t->t, losses, &d)) {
    take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}

int mamc_trainer_save(mamc_trainer *t, const char *dir, int keep, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_save(t->t, dir, keep, &d)) {
    take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}

int mamc_trainer_load(mamc_trainer *t, const char *path, char **errors) {
  Diag d;
  diag_init(&d);
  if (!trainer_load(t->t, path, &d)) {
    take_errors(&d, errors);
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
    take_errors(&d, errors);
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
    take_errors(&d, errors);
    return MAMC_EINPUT;
  }
  diag_free(&d);
  return MAMC_OK;
}

void mamc_trainer_times(const mamc_trainer *t, double *fwd, double *bwd, double *opt) {
  ExecStats s = trainer_exec_stats(t->t);
  if (fwd) *fwd = s.seconds[0];
  if (bwd) *bwd = s.seconds[1];
  if (opt) *opt = trainer_optimizer_seconds(t->t);
}
