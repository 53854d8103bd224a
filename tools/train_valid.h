/* train_valid.h — `mamc train`'s validations (tools/train_valid.c): validation loss per task,
 * BLEU and chrF per task when train.valid_bleu > 0, one progress line each and one JSONL
 * record; the best checkpoint (DIR/best) by train.early_stop.metric and early stopping after
 * `patience` validations without improvement.
 */
#ifndef MAMC_TRAIN_VALID_H
#define MAMC_TRAIN_VALID_H

#include <stdint.h>
#include <stdio.h>

#include "mamc/mamc.h"

typedef struct TrainValid {
  const mamc_settings *st;
  double first_loss, last_loss;   /* mean validation loss: the first and the latest (NaN: none) */
  double best;                    /* the early-stopping metric's best mean so far (NaN: none) */
  int64_t best_step;
  int64_t stale;                  /* validations since the best */
  int stopped;                    /* early stopping triggered */
} TrainValid;

/* resume: the checkpoint a run continues from (or NULL): its folder's best/best.json, when
 * the metric is the same, carries the best so far over. */
void train_valid_init(TrainValid *v, const mamc_settings *st, const char *resume);

/* Validates at `step` (BLEU/chrF not at `initial`: an untrained model's translations say
 * nothing and take longest). Prints on `out` when `print`; `tty`: overwrite the live line.
 * Sets v->stopped when early stopping triggers. 0 when a best checkpoint could not be
 * written (the message printed), else 1 (a failed validation is reported and skipped). */
int train_valid_run(TrainValid *v, mamc_model *m, mamc_trainer *t, int64_t step, int initial, int tty, int print,
                    FILE *out);

#endif
