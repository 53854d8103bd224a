/* cli.h — what the mamc subcommands share: option parsing helpers, loading a model with
 * its run configuration into an IrProgram, writing output files atomically, exit codes.
 */
#ifndef MAMC_CLI_H
#define MAMC_CLI_H

#include "bind.h"
#include "config.h"
#include "elab.h"
#include "ir.h"

/* EXIT_INTERRUPTED: mamc train stopped by SIGINT or SIGTERM after saving a checkpoint (128 + SIGINT) */
enum { EXIT_OK = 0, EXIT_INTERNAL = 1, EXIT_INPUT = 2, EXIT_INTERRUPTED = 130 };

typedef struct Cmd {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
  const char *usage;  /* full --help text */
} Cmd;

/* Common options of model commands: MODEL.mam [--config RUN.yaml] [-o OUT] */
typedef struct ModelOpts {
  const char *model;
  const char *config;
  const char *out;
  const char *input_ir; /* --ir FILE.mir: read IR text instead of a model */
  const char *after;    /* --after PASS: run the pass pipeline up to PASS (passes/pipeline.h) */
  const char *passes;   /* --passes LETTERS: only those passes of the pipeline */
  int rank;             /* --rank R: compile for that process (-1: not given; cli_dist.h) */
  int processes;        /* --processes N: the world size instead of the config's (0: not given) */
  int need_config;
} ModelOpts;

typedef struct Loaded {
  Arena arena;
  Diag diag;
  RunConfig *cfg;     /* NULL without --config */
  IrProgram *prog;    /* NULL on error */
} Loaded;

/* Parses MODEL and the shared options; unknown options are errors. Returns -1 on a usage
 * error (message printed), 1 if --help was printed, 0 otherwise. */
int cli_model_opts(int argc, char **argv, const Cmd *cmd, ModelOpts *o);

/* Loads config (when given) and elaborates the model, or parses --ir text and verifies it.
 * Diagnostics are printed to stderr. Returns EXIT_OK or EXIT_INPUT. */
int cli_load(const ModelOpts *o, Loaded *l);
void cli_loaded_free(Loaded *l);

/* Writes text to path atomically (temp file + rename), or to stdout when path is NULL/"-". */
int cli_write_output(const char *path, const char *text, size_t len);

/* Prints the diagnostics collected so far to stderr and clears them. */
void cli_flush_diag(Diag *d);

/* mkdir -p; 1 on success (or if it exists). */
int cli_mkdirs(const char *path);

extern const Cmd cmd_check, cmd_ir, cmd_dot, cmd_train, cmd_vocab;
extern const Cmd cmd_passes; /* tools/cmd_check.c */
extern const Cmd cmd_place, cmd_plan; /* tools/cmd_place.c, tools/cmd_plan.c */
extern const Cmd cmd_eval, cmd_plot; /* tools/cmd_eval.c, tools/cmd_plot.c */
extern const Cmd cmd_convert;         /* tools/cmd_convert.c */
extern const Cmd cmd_translate;       /* tools/cmd_translate.c */
extern const Cmd cmd_cache;           /* tools/cmd_cache.c */

#endif
