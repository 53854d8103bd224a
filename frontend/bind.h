/* bind.h — filling the elaborator's FeEnv from a loaded run configuration. */
#ifndef MAMC_BIND_H
#define MAMC_BIND_H

#include "config.h"
#include "elab.h"

void fe_env_from_config(Arena *a, const RunConfig *cfg, FeEnv *env);

#endif
