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
  int owned;                 /* this process runs it (its rank's, or every task when emulating) */
  Corpus train;
  Batcher *batcher;
  TBatch *valid;
  int nvalid;
  Exec exec, eval_exec;
  int has_exec;
} TTask;

/* A module group: the module instances held by exactly the same ranks. Groups are numbered
 * in the order of their first module (the global module order), identically on every rank. */
typedef struct TGroup {
  SyncPolicy sync;           /* every module of a group has the same policy */
  int exchanged;             /* gradients all-reduced each step (sync every(1)) */
  int nholders;
  int *holders;              /* ascending ranks */
  int nmods;
  int *mods;
  int64_t nfloats;           /* gradient elements of all its modules, + one weight per module */
} TGroup;

struct Trainer {
  Arena arena;
  const IrProgram *train, *eval;
  TrainOpts opts;
  int ntasks;
  TTask *tasks;
  int nvocabs;
  Tokenizer **toks;
  /* ranks: nranks processes (real, or emulated in this one); rank_tasks[r] lists r's tasks */
  int nranks, rank, emulate;
  int **rank_tasks, *rank_ntasks;
  Sampler *samplers;         /* per rank, over its tasks (stream = rank) */
  char *held;                /* per module: this process holds it */
  int ngroups;
  TGroup *groups;
  int *group_of;             /* per module */
  ParamStore params, m, v;   /* m, v: AdamW moments (SGD: m is the momentum) */
  ParamStore gsum;           /* per held parameter: this step's token-weighted gradient sum */
  double *wsum;              /* per module: this step's tokens behind gsum */
  ParamStore anchor, outer_m;/* outer-synchronised modules: parameters at the last round, and
                              * the outer optimizer's momentum */
  double *round_tokens;      /* per module: tokens trained since the last round */
  int has_outer;
  int64_t *module_steps;     /* per module instance: optimizer steps taken */
  CgCpu *jit;                /* CPU JIT session for the fusion groups (NULL: built without LLVM) */
  int64_t step;
  int64_t payload_bytes;     /* gradient bytes handed to MPI by this rank (docs/distributed.md) */
  int64_t payload_reported;  /* ... up to the last step's report */
  int64_t world_payload;     /* the last step's payload summed over every rank */
  double opt_seconds, comm_seconds;
  FILE *metrics;
};

int tbatch_copy(TBatch *dst, const Batch *b);
void tbatch_free(TBatch *b);
Batch tbatch_view(const TBatch *b);
int tparams_zero_like(ParamStore *dst, const ParamStore *src);
int tbind_symbols(const IrProgram *p, const IrGraph *g, const Tensor *inputs, int64_t *symvals, char *err, size_t n);

#endif
