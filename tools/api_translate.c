/* api_translate.c — the public C API, part three: translation (mamc_translator_*). */
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
    api_take_errors(&d, errors);
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
  api_take_errors(&d, errors);
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

