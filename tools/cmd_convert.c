/* cmd_convert.c — `mamc convert --attn dijiang IN OUT --model NEW.mam --config RUN.yaml`:
 * turns a checkpoint of a model trained with softmax attention into a checkpoint of the same
 * model with DiJiang attention (DiJiang's Algorithm 1, reference §A.3), ready for
 * `mamc train NEW.mam --init-from OUT`:
 *   - every parameter NEW.mam shares with the old model (same module instance, name and shape)
 *     is copied from IN;
 *   - every other one is initialised as NEW.mam declares it, which for stdlib's `dijiang` is
 *     what the released code does: the DCT projection and the signed normal feature weights
 *     (frozen, drawn from the run's seed and stored in the checkpoint), the output gate
 *     (xavier, gain 2^-2.5), the GroupNorm (ones, zeros), the gates (gamma_h, 1);
 *   - OUT/step-00000000 is written with a fresh optimizer state.
 * It reports what was kept, what is new and what of IN has no place in NEW.mam.
 */
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "mamc/mamc.h"
#include "safetensors.h"

typedef struct ConvArgs {
  const char *attn, *in, *out, *model, *config;
  uint64_t seed;
} ConvArgs;

static int parse_args(int argc, char **argv, ConvArgs *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_convert.usage, stdout);
      return 1;
    } else if (!strcmp(s, "--attn") && has) {
      a->attn = argv[++i];
    } else if (!strcmp(s, "--model") && has) {
      a->model = argv[++i];
    } else if ((!strcmp(s, "--config") || !strcmp(s, "-c")) && has) {
      a->config = argv[++i];
    } else if (!strcmp(s, "--seed") && has) {
      char *end;
      long long v = strtoll(argv[++i], &end, 10);
      if (*end || v <= 0) {
        fprintf(stderr, "mamc convert: --seed needs a positive integer, got '%s'\n", argv[i]);
        return -1;
      }
      a->seed = (uint64_t)v;
    } else if (s[0] == '-' && s[1]) {
      fprintf(stderr, "mamc convert: unknown option '%s' (or it needs a value; see mamc convert --help)\n", s);
      return -1;
    } else if (!a->in) {
      a->in = s;
    } else if (!a->out) {
      a->out = s;
    } else {
      fprintf(stderr, "mamc convert: unexpected argument '%s'\n", s);
      return -1;
    }
  }
  if (!a->attn || !a->in || !a->out || !a->model || !a->config) {
    fprintf(stderr, "mamc convert: needs --attn, IN, OUT, --model and --config\n%s", cmd_convert.usage);
    return -1;
  }
  if (strcmp(a->attn, "dijiang") != 0) {
    fprintf(stderr, "mamc convert: --attn takes dijiang (the only conversion there is), got '%s'\n", a->attn);
    return -1;
  }
  return 0;
}

/* IN, or IN/<its latest> when IN is a checkpoint dir */
static void resolve(const char *path, char *out, size_t n) {
  char latest[4200], name[128] = {0};
  snprintf(latest, sizeof latest, "%s/latest", path);
  FILE *f = fopen(latest, "r");
  if (f && fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = 0;
    snprintf(out, n, "%s/%s", path, name);
  } else {
    snprintf(out, n, "%s", path);
  }
  if (f) fclose(f);
}

static int uses_dijiang(const IrProgram *p) {
  int fi = op_attr_index(OP_LINEAR_ATTENTION, "feature");
  for (int g = 0; g < p->graphs.n; g++)
    for (int i = 0; i < p->graphs.v[g].nodes.n; i++) {
      const IrNode *n = &p->graphs.v[g].nodes.v[i];
      if (n->op == OP_LINEAR_ATTENTION && !strcmp(op_info(n->op)->attrs[fi].words[n->attr[fi].i], "dct")) return 1;
    }
  return 0;
}

static int same_shape(const Tensor *t, const IrType *ty) {
  if (t->rank != ty->rank) return 0;
  for (int i = 0; i < t->rank; i++)
    if (t->shape[i] != ty->d[i].add) return 0;
  return 1;
}

static int is_moment(const char *name) { /* optimizer state: AdamW moments, DEPT rounds' outer.* */
  size_t n = strlen(name);
  return (n > 7 && !strcmp(name + n - 7, ".adam_m")) || (n > 7 && !strcmp(name + n - 7, ".adam_v")) ||
         !strncmp(name, "outer.", 6);
}

/* Lists kept / new parameters and what of IN is dropped; returns the number kept. */
static int report(const IrProgram *p, const char *dir, int64_t *nkept, int64_t *nnew) {
  int kept = 0;
  StrBuf fresh, dropped;
  sb_init(&fresh);
  sb_init(&dropped);
  char err[512];
  for (int m = 0; m < p->modules.n; m++) {
    const IrModule *mod = &p->modules.v[m];
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, mod->name);
    StFile sf;
    int have = access(path, R_OK) == 0 && st_read(path, &sf, err, sizeof err);
    for (int q = 0; q < mod->params.n; q++) {
      const IrParam *pr = &mod->params.v[q];
      const Tensor *t = have ? st_find(&sf, pr->name) : NULL;
      if (t && same_shape(t, &pr->type)) {
        kept++;
        *nkept += t->n;
        continue;
      }
      int64_t e = 1;
      for (int r = 0; r < pr->type.rank; r++) e *= pr->type.d[r].add;
      *nnew += e;
      sb_printf(&fresh, "  %s.%s : ", mod->name, pr->name);
      ir_print_type(&fresh, p, &pr->type);
      sb_printf(&fresh, "%s%s\n", pr->frozen ? " (frozen)" : "", t ? "  (IN's tensor has another shape)" : "");
    }
    for (int i = 0; have && i < sf.n; i++) /* IN's tensors of this module that NEW.mam lacks */
      if (!is_moment(sf.names[i]) && ir_param_find(p, m, sf.names[i]) < 0)
        sb_printf(&dropped, "  %s.%s\n", mod->name, sf.names[i]);
    if (have) st_free(&sf);
  }
  DIR *d = opendir(dir); /* IN's modules that NEW.mam lacks */
  struct dirent *e;
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 13 || strcmp(e->d_name + n - 12, ".safetensors")) continue;
    char name[1024];
    snprintf(name, sizeof name, "%.*s", (int)(n - 12), e->d_name);
    if (ir_module_find(p, name) < 0) sb_printf(&dropped, "  module %s (all of it)\n", name);
  }
  if (d) closedir(d);
  if (fresh.len) printf("new parameters, initialised as NEW.mam declares them:\n%s", fresh.s);
  if (dropped.len) printf("in IN but not in NEW.mam (dropped):\n%s", dropped.s);
  sb_free(&fresh);
  sb_free(&dropped);
  return kept;
}

static int run_convert(int argc, char **argv) {
  ConvArgs a;
  int r = parse_args(argc, argv, &a);
  if (r) return r > 0 ? EXIT_OK : EXIT_INPUT;
  char dir[4096];
  resolve(a.in, dir, sizeof dir);
  char frame[4200];
  snprintf(frame, sizeof frame, "%s/frame.json", dir);
  if (access(frame, R_OK) != 0) {
    fprintf(stderr, "mamc convert: '%s' is not a mamc checkpoint (no frame.json)\n", dir);
    return EXIT_INPUT;
  }
  ModelOpts mo = {0};
  mo.model = a.model;
  mo.config = a.config;
  mo.need_config = 1;
  Loaded l;
  int rc = cli_load(&mo, &l);
  if (rc != EXIT_OK) {
    cli_loaded_free(&l);
    return rc;
  }
  if (!uses_dijiang(l.prog)) {
    fprintf(stderr, "mamc convert: --attn dijiang, but %s uses no DiJiang attention (linear_attention with feature "
                    "dct: nn.Attention(attn: dijiang(...)))\n", a.model);
    cli_loaded_free(&l);
    return EXIT_INPUT;
  }
  int64_t nkept = 0, nnew = 0, total = 0;
  for (int m = 0; m < l.prog->modules.n; m++) total += l.prog->modules.v[m].params.n;
  printf("mamc convert: %s -> %s for %s (DiJiang attention)\n", a.in, a.out, a.model);
  int kept = report(l.prog, dir, &nkept, &nnew);
  cli_loaded_free(&l);

  char *err = NULL;
  mamc_model *m = mamc_model_compile(a.model, a.config, &err);
  mamc_train_options o = {0};
  o.seed = a.seed;
  mamc_trainer *t = m ? mamc_trainer_new(m, &o, &err) : NULL;
  int copied = 0, all = 0;
  if (!t || mamc_trainer_init_from(t, a.in, &copied, &all, &err) != MAMC_OK ||
      mamc_trainer_save(t, a.out, 0, &err) != MAMC_OK) {
    fputs(err ? err : "error: conversion failed\n", stderr);
    mamc_free_text(err);
    mamc_trainer_free(t);
    mamc_model_free(m);
    return EXIT_INPUT;
  }
  printf("kept %d of %lld parameters (%lld values) from %s; %lld new (%lld values); wrote %s/step-00000000\n"
         "fine-tune: mamc train %s --config %s --init-from %s\n",
         copied, (long long)total, (long long)nkept, dir, (long long)(total - kept), (long long)nnew, a.out, a.model,
         a.config, a.out);
  if (copied != kept) fprintf(stderr, "mamc convert: warning: %d parameters copied, %d expected\n", copied, kept);
  mamc_trainer_free(t);
  mamc_model_free(m);
  return EXIT_OK;
}

const Cmd cmd_convert = {
    "convert", run_convert, "convert a softmax-attention checkpoint to DiJiang attention (then fine-tune)",
    "usage: mamc convert --attn dijiang IN OUT --model NEW.mam --config RUN.yaml [--seed N]\n\n"
    "IN is a checkpoint of a model trained with softmax attention (a step-N folder, or a checkpoint\n"
    "dir: its latest); NEW.mam is the same model with nn.Attention(attn: dijiang(...)). Every\n"
    "parameter the two models share (same module instance, name and shape) is copied from IN; the\n"
    "new ones (DiJiang's DCT projection and fixed feature weights, output gate, GroupNorm, gates)\n"
    "are initialised as NEW.mam declares them, as DiJiang's released code does, from the run's\n"
    "seed; the frozen feature weights are stored in OUT like every parameter. OUT/step-00000000\n"
    "is written with a fresh optimizer; fine-tune with\n"
    "  mamc train NEW.mam --config RUN.yaml --init-from OUT\n"
    "(docs/dijiang.md walks through it on the default corpus).\n\n"
    "options:\n"
    "  --attn dijiang     the attention NEW.mam uses (checked)\n"
    "  --model NEW.mam    the converted model\n"
    "  --config RUN.yaml  its run configuration (vocabularies, tasks, train.seed)\n"
    "  --seed N           override train.seed for the new parameters\n"};
