/* api.c — the public C API (include/mamc/mamc.h): compiling a model against its run
 * configuration (frontend + passes) and training it (runtime/trainer). This is the one place
 * that sees every layer; `mamc train` and the example driver are thin clients of it.
 */
#include "mamc/mamc.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "pipeline.h"
#include "bind.h"
#include "config.h"
#include "dept.h"
#include "elab.h"
#include "api_internal.h"
#include "dist_setup.h"
#include "../runtime/decode.h" /* (passes/ has a decode.h too: the pass) */
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
  /* DEPT (docs/dept.md): the variant against the model; TRIM trims the training graphs */
  DeptVariant dv = (DeptVariant)m->cfg->dept.variant;
  if (!dept_check(m->train, dv, m->cfg->dept.loc, &d)) goto fail;
  for (int g = 0; dv == DEPT_TRIM && g < m->train->graphs.n; g++)
    if (!pass_dept_trim(m->train, g, &d)) goto fail;
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
  to->valid_every = tr->valid_every;
  to->max_valid_batches = (int)tr->valid_batches;
  to->metrics_path = o ? o->metrics_path : NULL;
  to->fdt = DT_F32;
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
  free(vocabs);
  diag_free(&d);
  return t;
fail:
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

/* Trainer task specs are placement copies; the API speaks of the configuration's tasks (the
 * graph of a spec is its task's index). */
static void to_public(const Trainer *tr, const StepInfo *s, mamc_step *out) {
  int task = s->task >= 0 ? trainer_task_graph(tr, s->task) : -1;
  *out = (mamc_step){s->step, task, s->loss, s->lr, s->grad_norm, s->tokens, s->seconds, s->comm_bytes};
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
  to_public(t->t, &s, out);
  return MAMC_OK;
}

int mamc_trainer_step_batch(mamc_trainer *t, int task, const int32_t *src, int B, int S, const int32_t *tgt, int T,
                            mamc_step *out, char **errors) {
  Diag d;
  diag_init(&d);
  if (task < 0 || task >= mamc_model_ntasks(t->m) || B < 1 || T < 2 || !tgt || (src && S < 1)) {
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
    take_errors(&d, errors);
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

/* ---- translation (issue #8: runtime/decode.h, docs/decoding.md) ------------------------------------
 * A translator elaborates the one direction asked for (so only its modules exist and are
 * loaded), derives its decoding programs (the decode pass, then lower_attn, simplify, fusion),
 * reads those modules from the checkpoint and decodes lines of text. */

struct mamc_translator {
  Arena arena;
  RunConfig *cfg;
  IrProgram *p;
  ParamStore ps;
  CgCpu *jit;
  Decoder *dec;
  Tokenizer *src_tok, *tgt_tok;
  DecodeOpts o;
  int batch;
  char *warnings;
};

static int same_args(const CfgTask *t, const char *tmpl, const char *const *args, int nargs) {
  if (strcmp(t->tmpl.s, tmpl) != 0 || t->args.n != nargs) return 0;
  for (int i = 0; i < nargs; i++)
    if (strcmp(t->args.v[i].s, args[i]) != 0) return 0;
  return 1;
}

/* --task: a task name of the configuration, "tmpl(a, b)", or "a-b" (the template of the
 * configuration's tasks with that many arguments). */
static int tr_task(mamc_translator *t, const char *spec, FeTask *ft, int *trained, Diag *d) {
  const RunConfig *cfg = t->cfg;
  memset(ft, 0, sizeof *ft);
  ft->name = spec;
  const CfgTask *named = cfg_task_find(cfg, spec);
  char *buf = arena_strdup(&t->arena, spec), *open = strchr(buf, '('), *save = NULL;
  const char **args = ARENA_ARRAY(&t->arena, const char *, strlen(spec) + 1);
  int n = 0;
  if (named) {
    ft->tmpl = named->tmpl.s;
    for (int i = 0; i < named->args.n; i++) args[n++] = named->args.v[i].s;
  } else if (open && buf[strlen(buf) - 1] == ')') {
    *open = 0;
    ft->tmpl = buf;
    for (char *s = strtok_r(open + 1, ", )", &save); s; s = strtok_r(NULL, ", )", &save)) args[n++] = s;
  } else {
    for (char *s = strtok_r(buf, "-", &save); s; s = strtok_r(NULL, "-", &save)) args[n++] = s;
    for (int i = 0; i < cfg->tasks.n && !ft->tmpl; i++)
      if (cfg->tasks.v[i].args.n == n) ft->tmpl = cfg->tasks.v[i].tmpl.s;
    if (!ft->tmpl) {
      diag_plain(d, "--task %s: the run configuration has no task with %d argument%s to take the template from "
                    "(write it as TEMPLATE(a, b))", spec, n, n == 1 ? "" : "s");
      return 0;
    }
  }
  ft->nargs = n;
  ft->args = args;
  *trained = 0;
  for (int i = 0; i < cfg->tasks.n; i++) *trained |= same_args(&cfg->tasks.v[i], ft->tmpl, args, n);
  return 1;
}

/* The vocabulary of input `side` (0 source, 1 target): the task's own when configured, else
 * that of a configured task with the same language there, else the one named like the
 * language, else the only one. */
static const CfgVocab *tr_vocab(const RunConfig *cfg, const FeTask *ft, int side) {
  int pos = side ? ft->nargs - 1 : 0;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < cfg->tasks.n; i++) {
      const CfgTask *t = &cfg->tasks.v[i];
      if (strcmp(t->tmpl.s, ft->tmpl) != 0 || t->args.n != ft->nargs || !t->vocabs.n) continue;
      if (pass == 0 ? !same_args(t, ft->tmpl, ft->args, ft->nargs)
                    : strcmp(t->args.v[side ? t->args.n - 1 : 0].s, ft->args[pos]) != 0)
        continue;
      return cfg_vocab_find(cfg, t->vocabs.v[side && t->vocabs.n > 1 ? 1 : 0].s);
    }
  const CfgVocab *v = ft->nargs ? cfg_vocab_find(cfg, ft->args[pos]) : NULL;
  return v ? v : cfg->vocabs.n == 1 ? &cfg->vocabs.v[0] : NULL;
}

static Tokenizer *tr_tokenizer(mamc_translator *t, const CfgVocab *v, Diag *d) {
  if (v->kind == CFG_VOCAB_BYTE) return tokenizer_byte();
  return tokenizer_load(config_resolve_path(&t->arena, t->cfg, v->path.s), d);
}

static int tr_setup(mamc_translator *t, const char *model_path, const char *checkpoint, const mamc_translate_options *o,
                    Diag *d) {
  FeTask ft;
  int trained;
  if (!tr_task(t, o->task ? o->task : "", &ft, &trained, d)) return 0;
  FeEnv env;
  fe_env_from_config(&t->arena, t->cfg, &env);
  env.ntasks = 1;
  env.tasks = &ft;
  const char *dirs[5];
  char exe_dir[4096];
  fe_default_stdlib_dirs(dirs, exe_dir, sizeof exe_dir);
  env.stdlib_dirs = dirs;
  t->p = fe_elaborate(&t->arena, d, model_path, &env);
  if (!t->p || !ir_verify(t->p, d)) return 0;
  PipelineOpts dec = {.only = "D"}, opt = {.only = "LSF"};
  if (!pass_run(t->p, &dec, d) || !pass_run(t->p, &opt, d)) return 0;
  if (!trained) {
    StrBuf b;
    sb_init(&b);
    sb_printf(&b, "warning: no task of the run configuration trained %s: translating zero-shot through the "
                  "modules it shares with the trained tasks\n", ir_graph_name(t->p, &t->p->graphs.v[0]));
    t->warnings = b.s;
  }
  int enc, step, nin = 0;
  for (int i = 0; i < t->p->graphs.v[0].nodes.n; i++) nin += t->p->graphs.v[0].nodes.v[i].op == OP_INPUT;
  if (nin != 2 || !dec_find_graphs(t->p, 0, &enc, &step)) {
    diag_plain(d, "--task %s: translation needs a task with a source and a target input (src, tgt)", ft.name);
    return 0;
  }
  const CfgVocab *vs = tr_vocab(t->cfg, &ft, 0), *vt = tr_vocab(t->cfg, &ft, 1);
  if (!vs || !vt) {
    diag_plain(d, "--task %s: no vocabulary for its %s (name one like the language in vocab:)", ft.name,
               vs ? "target" : "source");
    return 0;
  }
  if (!(t->src_tok = tr_tokenizer(t, vs, d)) || !(t->tgt_tok = tr_tokenizer(t, vt, d))) return 0;
  char err[1024];
  if (!dec_load_checkpoint(&t->ps, t->p, checkpoint, DT_F32, err, sizeof err)) {
    diag_plain(d, "%s", err);
    return 0;
  }
  if (cg_cpu_available() && !getenv("MAMC_NO_JIT") && !(t->jit = cg_cpu_new(err, sizeof err))) {
    diag_plain(d, "the CPU JIT does not start: %s (MAMC_NO_JIT=1 runs without it)", err);
    return 0;
  }
  t->dec = o->no_cache ? decoder_new(t->p, -1, 0, &t->ps, t->jit, DT_F32, err, sizeof err)
                       : decoder_new(t->p, enc, step, &t->ps, t->jit, DT_F32, err, sizeof err);
  if (!t->dec) diag_plain(d, "%s", err);
  else if (decoder_vocab(t->dec) != tokenizer_vocab_size(t->tgt_tok))
    diag_plain(d, "the model's output vocabulary has %d ids, the target vocabulary %s %d", decoder_vocab(t->dec),
               vt->name.s, tokenizer_vocab_size(t->tgt_tok));
  return t->dec && d->nerrors == 0;
}

mamc_translator *mamc_translator_new(const char *model_path, const char *config_path, const char *checkpoint,
                                     const mamc_translate_options *o, char **errors) {
  Diag d;
  diag_init(&d);
  mamc_translator *t = calloc(1, sizeof *t);
  if (!t) {
    diag_plain(&d, "out of memory");
    take_errors(&d, errors);
    return NULL;
  }
  arena_init(&t->arena);
  mamc_translate_options def = {0};
  if (!o) o = &def;
  const char *lp = o->length_penalty ? o->length_penalty : "avg";
  t->o = (DecodeOpts){o->beam > 0 ? o->beam : 1, o->nbest > 0 ? o->nbest : 1, DEC_LP_AVG, o->alpha, o->max_len,
                      o->min_len, o->sample, o->temperature, o->top_k, o->top_p, o->seed};
  t->o.lp = !strcmp(lp, "gnmt") ? DEC_LP_GNMT : !strcmp(lp, "none") ? DEC_LP_NONE : DEC_LP_AVG;
  if (t->o.alpha <= 0) t->o.alpha = t->o.lp == DEC_LP_GNMT ? 0.6 : 1.0;
  t->batch = o->batch > 0 ? o->batch : 32;
  if (strcmp(lp, "avg") && strcmp(lp, "gnmt") && strcmp(lp, "none"))
    diag_plain(&d, "length penalty must be avg, gnmt or none, got '%s'", lp);
  else if ((t->cfg = config_load(&t->arena, &d, config_path)) && tr_setup(t, model_path, checkpoint, o, &d)) {
    diag_free(&d);
    return t;
  }
  take_errors(&d, errors);
  mamc_translator_free(t);
  return NULL;
}

const char *mamc_translator_warnings(const mamc_translator *t) { return t->warnings; }
int mamc_translator_nbest(const mamc_translator *t) { return t->o.nbest; }

int mamc_translate(mamc_translator *t, const char *const *lines, int n, mamc_hypothesis **hyps, char **errors) {
  size_t total = (size_t)n * (size_t)t->o.nbest;
  DecTextHyp *h = calloc(total + 1, sizeof *h);
  mamc_hypothesis *out = calloc(total + 1, sizeof *out);
  char err[1024] = "out of memory";
  if (!h || !out || !dec_translate_text(t->dec, t->src_tok, t->tgt_tok, lines, n, &t->o, t->batch, h, err, sizeof err)) {
    free(h);
    free(out);
    if (errors) *errors = strdup(err);
    return MAMC_EINPUT;
  }
  for (size_t i = 0; i < total; i++) out[i] = (mamc_hypothesis){h[i].text, h[i].logprob, h[i].score, h[i].tokens};
  free(h);
  *hyps = out;
  return MAMC_OK;
}

void mamc_hypotheses_free(mamc_hypothesis *h, int n) {
  for (int i = 0; h && i < n; i++) free(h[i].text);
  free(h);
}

void mamc_translator_times(const mamc_translator *t, double *encode, double *step, double *total, int64_t *steps) {
  DecStats s = decoder_stats(t->dec);
  if (encode) *encode = s.encode_seconds;
  if (step) *step = s.step_seconds;
  if (total) *total = s.search_seconds;
  if (steps) *steps = s.steps;
}

void mamc_translator_free(mamc_translator *t) {
  if (!t) return;
  decoder_free(t->dec);
  if (t->jit) cg_cpu_free(t->jit);
  rt_params_free(&t->ps);
  tokenizer_free(t->src_tok);
  tokenizer_free(t->tgt_tok);
  free(t->warnings);
  arena_free(&t->arena);
  free(t);
}
