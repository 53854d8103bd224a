/* trainer_internal.h — the Trainer's insides, shared by trainer.c (steps, validation) and
 * trainer_ckpt.c (checkpoints). Not a public header. */
#ifndef MAMC_TRAINER_INTERNAL_H
#define MAMC_TRAINER_INTERNAL_H

#include "rng.h"
#include "trainer.h"

typedef struct TBatch { /* an owned copy of a Batch (validation batches are kept) */
  int B, S, T;
  int32_t *src, *tgt;
  int64_t src_tokens, tgt_tokens;
} TBatch;

typedef struct TTask {
  TrainTaskSpec spec;
  Corpus train;
  Batcher *batcher;
  TBatch *valid;
  int nvalid;
  Exec exec, eval_exec;
  int has_exec;
} TTask;

struct Trainer {
  Arena arena;
  const IrProgram *train, *eval;
  TrainOpts opts;
  int ntasks;
  TTask *tasks;
  int nvocabs;
  Tokenizer **toks;
  Sampler sampler;
  ParamStore params, m, v;   /* m, v: AdamW moments (SGD: m is the momentum) */
  int64_t *module_steps;     /* per module instance: optimizer steps taken */
  const Tensor **grad_of;    /* per parameter (ParamStore order): this step's gradient */
  int64_t step;
  double opt_seconds;
  FILE *metrics;
};

int tbatch_copy(TBatch *dst, const Batch *b);
void tbatch_free(TBatch *b);
Batch tbatch_view(const TBatch *b);
int tparams_zero_like(ParamStore *dst, const ParamStore *src);
int tbind_symbols(const IrProgram *p, const IrGraph *g, const Tensor *inputs, int64_t *symvals, char *err, size_t n);

#endif
