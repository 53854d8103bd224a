/* api_internal.h — what the files of the public API (tools/api*.c) share: the objects
 * behind its opaque handles, and a door to them for the project's benchmarks (bench/). Not
 * installed. */
#ifndef MAMC_API_INTERNAL_H
#define MAMC_API_INTERNAL_H

#include "mamc/mamc.h"

#include "config.h"
#include "dist.h"
#include "trainer.h"

struct mamc_model {
  Arena arena;
  RunConfig *cfg;
  IrProgram *train, *eval;
  IrProgram *dec;  /* decoding programs for validation BLEU (train.valid_bleu > 0), else NULL */
};

struct mamc_trainer {
  mamc_model *m;
  Trainer *t;
  Dist *dist;
  int64_t total_steps;
};

/* Hands the diagnostics in d to the caller (*errors, malloc'd) and frees d. */
void api_take_errors(Diag *d, char **errors);

Trainer *mamc_trainer_runtime(mamc_trainer *t);

#endif
