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
    {"examples/modular.mam", "examples/modular.yaml"},
    {"examples/shared.mam", "examples/shared.yaml"},
    {"examples/lm.mam", "examples/lm.yaml"},
};

static inline IrProgram *elab_model(Arena *a, Diag *d, const char *mam, const char *yaml) {
  RunConfig *cfg = config_load(a, d, yaml);
  if (!cfg) return NULL;
  return fe_elaborate_config(a, d, mam, cfg);
}

#endif
