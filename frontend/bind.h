/* bind.h — filling the elaborator's FeEnv from a loaded run configuration. */
#ifndef MAMC_BIND_H
#define MAMC_BIND_H

#include "config.h"
#include "elab.h"

void fe_env_from_config(Arena *a, const RunConfig *cfg, FeEnv *env);

/* The usual way in: elaborate model_path against a loaded run configuration, with the
 * default stdlib search path (fe_default_stdlib_dirs). NULL with diagnostics on error. */
IrProgram *fe_elaborate_config(Arena *a, Diag *d, const char *model_path, const RunConfig *cfg);

#endif
