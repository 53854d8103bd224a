/* trainer.h — training over a compiled program: the parameter store, AdamW state with a
 * step counter per module instance, the task sampler, one data pipeline and one executor per
 * task, validation, JSONL metrics and checkpoints.
 *
 * It knows nothing of .mam or YAML: the caller (tools/api.c) compiles the programs and fills
 * TrainTaskSpec / TrainOpts from the run configuration. Two programs from one elaboration:
 * `train` (each task graph with its backward pass and grad.* outputs) and `eval` (forward
 * only), with identical module tables, so one ParamStore serves both.
 *
 * Inputs of a task graph: two INPUT nodes are (source [B, S], target [B, T]); one INPUT
 * node is the target side alone ([B, T], as a language model reads it). Targets are
 * <s> y </s> and sources x </s>, padded with 0 (runtime/data/batch.h).
 */
#ifndef MAMC_TRAINER_H
#define MAMC_TRAINER_H

#include <signal.h>

#include "data/batch.h"
#include "data/sampler.h"
#include "exec.h"
#include "optim.h"

typedef struct TrainVocab {
  const char *name;
  const char *path;         /* a BPE file; NULL for byte-level */
} TrainVocab;

typedef struct TrainTaskSpec {
  const char *name;         /* "en-de" */
  int graph;                /* in both programs */
  int rank;                 /* the process that trains it (placement) */
  CorpusSpec train, valid;  /* valid with neither tsv nor files: no validation */
  int src_col, tgt_col;     /* corpus columns feeding source and target */
  int src_vocab, tgt_vocab; /* indices into the vocabularies */
  double weight;
  int64_t introduce_at_step;
} TrainTaskSpec;

typedef struct TrainOpts {
  int64_t steps;
  int batch_tokens, max_len;
  Schedule sched;
  OptimOpts opt;
  double clip;              /* global gradient norm; 0 = off */
  uint64_t seed;
  double temperature;       /* task sampling */
  uint64_t sampling_seed;   /* the sampling schedule's seed (shared by every rank) */
  int64_t bucket_bytes;     /* gradient exchange bucket size (<= 0: 10 MiB) */
  int threads;              /* threads for fused kernels (<= 1: the caller's alone) */
  const char *frame_extra;  /* JSON members written into every checkpoint's frame.json (the run
                             * configuration, the vocabularies), or NULL */
  int reset_moments;        /* outer rounds: restart the AdamW moments and step counts of the
                             * round's modules after each round (dept.moments: reset) */
  int sources_per_round;    /* DEPT's S_r (dept.sources_per_round): K of the nsources sources
                             * (TrainTaskSpec.graph) train in each round of round_every steps,
                             * drawn from sampling_seed and the round; 0 = all */
  int nsources, round_every;
  int64_t valid_every;      /* 0 = never (trainer_validate can still be called) */
  int max_valid_batches;    /* per task (0 = 50) */
  const char *metrics_path; /* JSONL, or NULL */
  DType fdt;                /* DT_F32 (default) or DT_F64 */
  struct Dist *dist;        /* the processes of the run (NULL: this one alone) */
  int emulate_ranks;        /* > 1: run every rank's step in this one process, as the
                             * distributed run would (its reference in tests); needs dist NULL */
  int device;               /* 0: the CPU; 1: a CUDA GPU (runtime/cuda/dtrain.c, docs/gpu.md) */
  int device_index;         /* cuda:N; -1: MAMC_CUDA_DEVICE, else one GPU per local rank */
  DType precision;          /* train.precision: DT_BF16 makes the device's matrix products take bf16
                             * operands (f32 accumulate, f32 master weights); the CPU ignores it */
  int nonfinite_skip;       /* a NaN/Inf in a loss or gradient skips the step (no update, the
                             * optimizer state untouched) instead of stopping (train.nonfinite) */
  int nonfinite_debug;      /* re-run every non-finite step op by op to name the first op that
                             * produced one (train.nonfinite_debug, MAMC_NONFINITE_DEBUG=1);
                             * a step that stops always does */
} TrainOpts;

typedef struct StepInfo {
  int64_t step;             /* 1-based, after the step */
  int task;                 /* the task this process trained (the first, when emulating) */
  double loss, lr, grad_norm;  /* loss: token-weighted over the tasks this process ran */
  int64_t tokens;           /* target tokens this process trained on */
  double seconds;           /* wall time of this step */
  int64_t comm_bytes;       /* gradient payload bytes all ranks handed to MPI this step */
  int skipped;              /* a non-finite loss or gradient: no update (nonfinite_skip) */
  int stop;                 /* some process's stop flag was set (trainer_watch_stop): every
                             * process sees it at the same step, so all can stop there */
} StepInfo;

typedef struct Trainer Trainer;

/* Loads the corpora and tokenizers, initialises the parameters (from seed) and builds the
 * executors. Input errors (a missing corpus, a bad line) go to d with file:line. NULL on error. */
Trainer *trainer_new(const IrProgram *train, const IrProgram *eval, const TrainTaskSpec *tasks, int ntasks,
                     const TrainVocab *vocabs, int nvocabs, const TrainOpts *o, Diag *d);
void trainer_free(Trainer *t);

/* One step on a task drawn by the sampler, with a batch from its own data. */
int trainer_step(Trainer *t, StepInfo *info, Diag *d);
/* The caller's stop flag (set by a signal handler, say; NULL: none), read once a step and
 * summed over every process with the step's gradient norm: StepInfo.stop tells every process
 * at the same step that some process asked to stop, so all of them can save and end there. */
void trainer_watch_stop(Trainer *t, const volatile sig_atomic_t *flag);
/* One step on the caller's batch for task `task` (src may be NULL for one-input tasks);
 * single-process runs only. */
int trainer_step_batch(Trainer *t, int task, const Batch *b, StepInfo *info, Diag *d);
/* Token-weighted mean validation loss per task (NaN for tasks without validation data). */
int trainer_validate(Trainer *t, double *losses, Diag *d);
/* Validation BLEU/chrF (trainer_valid.c): `dec` is the decode pass's program of the same
 * elaboration (module tables identical to train's: the decoder reads the trainer's current
 * parameters, no checkpoint round trip); the first `sentences` lines of each validated task's
 * validation data are kept. Tasks without validation data are skipped; a task graph without
 * decoding programs is an error. 1 ok. */
int trainer_setup_bleu(Trainer *t, const IrProgram *dec, int sentences, Diag *d);
/* Greedy-decodes those lines with the current parameters and scores them against their
 * references (corpus BLEU and chrF as sacreBLEU computes them): bleu[k], chrf[k] per task
 * spec, NaN for tasks without them. Collective in distributed runs. 1 ok. */
int trainer_validate_bleu(Trainer *t, double *bleu, double *chrf, Diag *d);
/* Writes the current state as DIR/best (a checkpoint folder like DIR/step-N, written into
 * DIR/.best.tmp and renamed over the old one), with note_json (or nothing) as DIR/best/best.json.
 * DIR/latest and the kept step-N folders are untouched. 1 ok. */
int trainer_save_best(Trainer *t, const char *dir, const char *note_json, Diag *d);

int trainer_ntasks(const Trainer *t);           /* task specs (copies of split tasks count apart) */
int trainer_task_graph(const Trainer *t, int task);
const char *trainer_task_name(const Trainer *t, int task);
int64_t trainer_step_count(const Trainer *t);
const ParamStore *trainer_params(const Trainer *t);
ExecStats trainer_exec_stats(const Trainer *t);   /* summed over tasks */
double trainer_optimizer_seconds(const Trainer *t);
int trainer_on_device(const Trainer *t); /* train.device: cuda */
/* The CPU JIT's kernels: generated by LLVM, read from the disk cache (0, 0 without a JIT). */
void trainer_kernel_counts(const Trainer *t, int *generated, int *cached);
/* Numerical guard: steps skipped so far for a non-finite loss or gradient, and what the
 * last non-finite step found ("" when none yet): the loss or gradient norm, and, from the
 * op-by-op re-run, "op %N NAME (from FILE:LINE:COL) produced NaN at [..] of f32[..] ...". */
int64_t trainer_skipped_steps(const Trainer *t);
const char *trainer_nonfinite_report(const Trainer *t);
/* Appends one JSON line to the metrics file (no-op without one). */
void trainer_log(Trainer *t, const char *json_line);

/* Checkpoints: DIR/step-NNNNNNNN/ with one safetensors file per module instance (its
 * parameters and AdamW moments) and frame.json (step, data positions, vocabularies); written
 * to a temporary folder and renamed once complete; DIR/latest names the newest. Keeps the
 * newest `keep` (0 = all). trainer_load reads parameters, moments and the step from a
 * checkpoint folder (or DIR, meaning its latest). */
int trainer_save(Trainer *t, const char *dir, int keep, Diag *d);
int trainer_load(Trainer *t, const char *path, Diag *d);
/* Initialise from another model's checkpoint: every parameter of this program found there
 * with the same module, name and shape is copied; the rest keep their initial values; the
 * optimizer state and step count start fresh (fine-tuning a converted or extended model).
 * *copied / *total count parameters. 1 ok, 0 on an unreadable checkpoint. */
int trainer_init_from(Trainer *t, const char *path, int *copied, int *total, Diag *d);
/* Writes this process's copy of every module it holds to DIR/rank-R/<module>.safetensors
 * (tests check that the replicas of a module on its holders are bit-identical). */
int trainer_dump_replicas(Trainer *t, const char *dir, Diag *d);

#endif
