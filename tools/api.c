/* api.c — the public C API (include/mamc/mamc.h), part one: errors, and compiling a model
 * against its run configuration (frontend + passes). api_train.c trains it (runtime/trainer),
 * api_translate.c decodes with it. These files are the one place that sees every layer;
 * `mamc train`, `mamc translate` and the example driver are thin clients of them.
 */
#include "api_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

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


/* ---- errors ---------------------------------------------------------------------------------- */

void api_take_errors(Diag *d, char **errors) {
  if (errors) {
    *errors = d->out.s ? d->out.s : strdup("error: (no message)\n");
    d->out.s = NULL;
  }
  diag_free(d);
}

void mamc_free_text(char *text) { free(text); }

void mamc_set_blas_threads(int n) { rt_blas_set_threads(n > 0 ? n : 1); }

void mamc_keep_freed_memory(void) {
#ifdef __GLIBC__
  const char *keep = getenv("MAMC_MALLOC_DEFAULT");
  if (keep && strcmp(keep, "0") != 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

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
    api_take_errors(&d, errors);
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
  /* validation BLEU: a third program with the decode pass's encoder and one-step graphs, as
   * mamc translate derives them (runtime/trainer_valid.c decodes with the trainer's parameters) */
  if (m->cfg->train.valid_bleu > 0) {
    PipelineOpts dp = {.only = "D"}, op = {.only = "LSF"};
    if (!(m->dec = elaborate(m, &d, model_path)) || !pass_run(m->dec, &dp, &d) || !pass_run(m->dec, &op, &d)) goto fail;
  }
  diag_free(&d);
  return m;
fail:
  api_take_errors(&d, errors);
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
const char *mamc_model_task_name(const mamc_model *m, int task) { /* -1: none (a sitting-out rank) */
  return task >= 0 && task < m->cfg->tasks.n ? m->cfg->tasks.v[task].name.s : "-";
}

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
                         c->checkpoint.every, c->checkpoint.keep, c->train.valid_bleu,
                         c->train.early_stop.metric == CFG_STOP_NONE ? NULL : cfg_stop_metric_name(c->train.early_stop.metric),
                         c->train.early_stop.patience};
}

char *mamc_model_ir(const mamc_model *m, int training) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, training ? m->train : m->eval);
  return b.s;
}

