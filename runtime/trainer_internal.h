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
  /* DEPT TRIM (trainer_dept.c): its vocabulary's global ids, ascending (the graph's
   * vocab_rows), global id -> local id (-1: not in it), and the trimmed tables it reads */
  int32_t *rows, *local;
  int64_t nrows, table_rows;
  int *trim_q, ntrim_q;      /* ParamStore indices */
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

typedef struct TBucket {    /* a stretch of gradients exchanged as one (trainer_buckets.c) */
  int group;
  int mine;                  /* this rank holds the group */
  int nparams;
  int *params;               /* ParamStore indices, in issue order */
  int64_t bytes;             /* gradient bytes (the buffer has one more float: the tokens) */
  float *buf;
  /* this step */
  int ntrainers, trainers[1024];
  int trained;               /* this rank is one of them */
  int npending;              /* gradients still to come from this rank's backward pass */
  int req;                   /* the non-blocking reduction, or -1 */
} TBucket;

/* train.device: cuda — runtime/cuda/dtrain*.c (built with the CUDA toolkit; else trainer.c's
 * stubs; docs/gpu.md). Called only when t->dev is set, but for tdev_open.
 *   tdev_open          the GPU (MAMC_CUDA_EMU=1: its host emulation), a device executor per
 *                      owned task, the parameters uploaded; 0 with the reason in d
 *   tdev_run           forward + backward (eval 0: gradients into the step's sums) or forward
 *                      (eval 1) of task k on the device; *loss; 0 with cx->err
 *   tdev_finish_step   the step's end on the device: 1 done, 0 failed (d), -1 not here (the
 *                      host's finish_step runs on staged gradients)
 *   tdev_host_changed  the host's parameters / optimizer state changed: re-upload before the next run
 *   tdev_pull          the host's copies brought up to date before the host reads them; 0 (d, or
 *                      nothing when d is NULL) */
struct TDev;
int tdev_open(Trainer *t, Diag *d);
void tdev_free(Trainer *t);
int tdev_run(Trainer *t, int k, int eval, const int64_t *sym, const Tensor *in, InterpCx *cx, double *loss);
int tdev_finish_step(Trainer *t, double *grad_norm, double *lr_out, Diag *d);
void tdev_host_changed(Trainer *t);
int tdev_pull(Trainer *t, Diag *d);
void tbuckets_on_output(void *user, int output, const Tensor *gr);
int tbuckets_finish(Trainer *t, Diag *d); /* the step's bucket exchange (also dtrain_xchg.c: path (b)) */

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
  double **row_tokens;       /* DEPT TRIM, per ParamStore index of a trimmed table this process
                              * holds: tokens per row since the last round (trainer_dept.c) */
  int has_outer;
  char *round_in;            /* dept.sources_per_round: per source, 1 if it trains in round
                              * round_drawn (trainer_dept.c); NULL: every source, every round */
  int64_t round_drawn;
  double *round_runs;        /* per rank: the task runs it did in this round, then per rank the
                              * payload it sent in the round's exchange (logged) */
  int64_t *module_steps;     /* per module instance: optimizer steps taken */
  OptimNormItem *norm_items; /* finish_step's scratch, params.n entries each: the gradients it */
  OptimItem *opt_items;      /* normalises and the parameters it updates (optim_fast.c) */
  double *gsq;               /* per ParamStore index: the step's normalised gradient's sum of squares */
  CgCpu *jit;                /* CPU JIT session for the fusion groups (NULL: built without LLVM) */
  struct TDev *dev;          /* train.device: cuda (runtime/cuda/dtrain*.c); NULL: the CPU */
  Pool *pool;                /* threads for the fused kernels */
  int nbuckets, next_bucket;
  TBucket *buckets;          /* issue order */
  int *bucket_of_param;      /* per ParamStore index, or -1 */
  int cur_graph;             /* the graph running (for the executor's output callback) */
  float cur_tokens;          /* its batch's target tokens */
  int64_t *seen_run;         /* per module: the task run its tokens were last counted in */
  int64_t run_id;            /* task runs so far (several per step when emulating ranks) */
  int exchange_failed;
  int no_overlap;            /* MAMC_NO_OVERLAP=1: exchange only after the backward pass */
  char exchange_err[512];
  int64_t step;
  int64_t payload_bytes;     /* gradient bytes handed to MPI by this rank (docs/distributed.md) */
  int64_t payload_reported;  /* ... up to the last step's report */
  int64_t world_payload;     /* the last step's payload summed over every rank */
  double opt_seconds, comm_seconds;
  FILE *metrics;
  struct TValidBleu *vbleu;  /* validation BLEU/chrF (trainer_valid.c), or NULL */
  /* the numerical guard (trainer_guard.c): this step's task runs on this process (their
   * batches kept for the op-by-op re-run), whether a loss here was non-finite, the step's
   * verdict over every process (tsync_norm), and the report of the last non-finite step */
  int nstep_runs;
  int *step_task;            /* nranks entries */
  TBatch *step_batch;        /* nranks entries */
  int nonfinite_local, nonfinite_world;
  int64_t skipped;
  const volatile sig_atomic_t *stop_flag; /* trainer_watch_stop's, or NULL; stop_world: set on
                                           * some process this step (tsync_norm's sum) */
  int stop_world;
  char nonfinite_msg[1024];
};

/* 1.0 when this process's stop flag is set (trainer_watch_stop), else 0: the value each
 * process adds to the step's world sum (tsync_norm, tdev_world_norm) */
double tsync_stop_local(const Trainer *t);
int tbatch_copy(TBatch *dst, const Batch *b);
void tbatch_free(TBatch *b);
Batch tbatch_view(const TBatch *b);
int tparams_zero_like(ParamStore *dst, const ParamStore *src);
int tbind_symbols(const IrProgram *p, const IrGraph *g, const Tensor *inputs, int64_t *symvals, char *err, size_t n);

/* The numerical guard (trainer_guard.c). tguard_setup allocates the per-run slots;
 * tguard_record keeps the batch of one task run of this step; tguard_step decides a step
 * whose loss or gradients are not finite (after tsync_norm): 1 = skipped (state reset, step
 * counted), 0 = stop (message in d). */
int tguard_setup(Trainer *t);
void tguard_free(Trainer *t);
void tguard_begin(Trainer *t);
void tguard_record(Trainer *t, int k, const Batch *b);
int tguard_step(Trainer *t, double norm, double lr, Diag *d);
int tbatch_inputs(const IrGraph *g, const Batch *b, Tensor *in, char *err, size_t n);

/* Validation BLEU/chrF (trainer_valid.c). */
void tvalid_free(Trainer *t);

/* DEPT (trainer_dept.c): TRIM's per-task vocabularies and the rows of the rounds. */
int tdept_setup(Trainer *t, Diag *d);
void tdept_free(Trainer *t);
int tdept_is_rows_input(const IrNode *n);
int tdept_inputs(Trainer *t, int k, Tensor *in, int nin, char *err, size_t errlen);
void tdept_count(Trainer *t, int k, double tokens);
int tdept_round_rows(Trainer *t, const TGroup *g, int q, const double *counts, int me, int comm, char *err,
                     size_t errlen);
int64_t tdept_rows_held(const Trainer *t, int q);
void tdept_reset_anchor(Trainer *t, const char *keep); /* keep[q]: anchor restored (may be NULL) */
void tdept_log_rounds(Trainer *t); /* the rounds' parameters, one metrics line each */
/* dept.sources_per_round: the ranks whose task at this step belongs to a source that sits
 * out the step's round get -1 (they do not train); the round's end logs who trained. */
void tdept_sit_out(Trainer *t, int *task_of_rank);
int tdept_sources_end(Trainer *t, int64_t step, char *err, size_t errlen);

#endif
