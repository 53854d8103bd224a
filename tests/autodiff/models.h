/* models.h — the example models the autodiff tests differentiate, and how to elaborate them
 * (as tests/frontend_sema/test_elab.c does). */
#ifndef MAMC_TEST_AUTODIFF_MODELS_H
#define MAMC_TEST_AUTODIFF_MODELS_H

#include "bind.h"
#include "config.h"
#include "elab.h"

typedef struct Model {
  const char *mam, *yaml;
} Model;

static const Model differentiable_models[] = {
    {"examples/multi.mam", "examples/multi.yaml"},
    {"examples/shared.mam", "examples/shared.yaml"},
    {"examples/lm.mam", "examples/lm.yaml"},
};

static inline IrProgram *elab_model(Arena *a, Diag *d, const char *mam, const char *yaml) {
  RunConfig *cfg = config_load(a, d, yaml);
  if (!cfg) return NULL;
  FeEnv env;
  fe_env_from_config(a, cfg, &env);
  const char *dirs[4];
  fe_default_stdlib_dirs(dirs);
  env.stdlib_dirs = dirs;
  return fe_elaborate(a, d, mam, &env);
}

#endif
