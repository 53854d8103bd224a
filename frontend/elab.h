/* elab.h — elaboration: from parsed .mam files and what the run configuration says about
 * them (index sets, vocabulary sizes, task instances, sync policies) to an IrProgram.
 *
 * The elaborator evaluates everything compile-time (consts, block arguments, index values,
 * `if`/`for`), instantiates module instances on first use, and inlines block methods into one
 * IR graph per task instance, applying each op's shape rule as it goes: a shape error is
 * reported at the .mam expression, with a note at every enclosing call.
 *
 * It does not read YAML: FeEnv is filled from a RunConfig by fe_env_from_config (bind.c), or
 * by hand in tests.
 */
#ifndef MAMC_ELAB_H
#define MAMC_ELAB_H

#include "ir.h"

typedef struct FeIndex {      /* an `index NAME from config` binding */
  const char *name;
  int nvalues;
  const char **values;        /* the set's values (group names, for a grouped index) */
  int nmembers;               /* grouped index: member -> group */
  const char **members;
  const char **member_group;
  SrcLoc loc;
} FeIndex;

typedef struct FeVocab {      /* vocab(name) */
  const char *name;
  int64_t size;
  SrcLoc loc;
} FeVocab;

typedef struct FeTask {       /* one task instance: template(args) */
  const char *name;           /* e.g. "en-fr" */
  const char *tmpl;           /* e.g. "translate" */
  int nargs;
  const char **args;          /* e.g. {"en", "fr"} */
  SrcLoc loc;                 /* the task entry in the run configuration */
} FeTask;

typedef struct FeSync {       /* sync policy for module instances matching pattern ('*' wildcard) */
  const char *pattern;
  SyncPolicy policy;
  SrcLoc loc;
} FeSync;

typedef struct FeEnv {
  int has_config;             /* 0: `mamc check` without --config: syntax and names only */
  int nindices;
  FeIndex *indices;
  int nvocabs;
  FeVocab *vocabs;
  int ntasks;
  FeTask *tasks;
  int nsyncs;
  FeSync *syncs;
  double label_smoothing;     /* train.label_smoothing: each cross_entropy without smoothing: */
  int label_smoothing_given;  /* stated in the configuration (at label_smoothing_loc) */
  SrcLoc label_smoothing_loc;
  const char *const *stdlib_dirs; /* NULL-terminated search path for `use` (after the model's folder) */
} FeEnv;

/* Elaborates model_path against env into a new program in arena a. Returns NULL (with
 * diagnostics in d) on any error. Without a config (env->has_config == 0) it checks syntax
 * and names and returns an empty program. */
IrProgram *fe_elaborate(Arena *a, Diag *d, const char *model_path, const FeEnv *env);

/* Same, with the model given as text (tests). */
IrProgram *fe_elaborate_string(Arena *a, Diag *d, const char *name, const char *text, const FeEnv *env);

/* The default stdlib search path, NULL-terminated in out (room for 5): $MAMC_STDLIB, the
 * source tree's stdlib/, the installed one, and PREFIX/share/mamc/stdlib beside the running
 * executable (PREFIX/bin/...), written into exe_buf (give 4096 bytes, or NULL to skip). */
void fe_default_stdlib_dirs(const char **out, char *exe_buf, size_t exe_len);

#endif
