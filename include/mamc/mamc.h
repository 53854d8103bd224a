/* mamc.h — the public C API of mamc: compile a modular multilingual model (.mam) against its
 * run configuration (YAML), train it, validate, save and load checkpoints, translate.
 *
 *   char *err = NULL;
 *   mamc_model *m = mamc_model_compile("model.mam", "run.yaml", &err);
 *   if (!m) { fputs(err, stderr); mamc_free_text(err); return 2; }
 *   mamc_trainer *t = mamc_trainer_new(m, NULL, &err);
 *   for (int64_t i = 0; i < mamc_trainer_total_steps(t); i++) {
 *     mamc_step s;
 *     if (mamc_trainer_step(t, &s, &err) != MAMC_OK) ...;
 *   }
 *   mamc_trainer_save(t, "ckpt", &err);
 *   mamc_trainer_free(t);
 *   mamc_model_free(m);
 *
 * Every function reports failure by its return value (NULL or a non-zero status) and, when
 * `errors` is not NULL, a malloc'd text with the diagnostics (free it with mamc_free_text).
 * The library keeps no global state and never exits the process. Objects are not shared
 * between threads.
 */
#ifndef MAMC_MAMC_H
#define MAMC_MAMC_H

#include <signal.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MAMC_OK = 0, MAMC_EINTERNAL = 1, MAMC_EINPUT = 2 };

typedef struct mamc_model mamc_model;
typedef struct mamc_trainer mamc_trainer;

/* ---- models ------------------------------------------------------------------------------ */

/* Parses and elaborates model_path against config_path, checks the data files it names, and
 * compiles every task for training (autodiff and the optimisation passes). */
mamc_model *mamc_model_compile(const char *model_path, const char *config_path, char **errors);

typedef struct mamc_compile_options {
  int nfreeze;
  const char *const *freeze;  /* more module patterns to freeze, beside the configuration's */
} mamc_compile_options;
mamc_model *mamc_model_compile_with(const char *model_path, const char *config_path, const mamc_compile_options *o,
                                    char **errors);
/* The module instances a checkpoint holds (a NULL-terminated, malloc'd array of malloc'd
 * names; free with mamc_free_names), e.g. to freeze them when extending a model. */
char **mamc_checkpoint_modules(const char *path, char **errors);
void mamc_free_names(char **names);
void mamc_model_free(mamc_model *m);

int mamc_model_ntasks(const mamc_model *m);
const char *mamc_model_task_name(const mamc_model *m, int task);
int64_t mamc_model_parameter_count(const mamc_model *m);
/* The IR text of the program: training graphs (with backward) or forward only. Free with
 * mamc_free_text. */
char *mamc_model_ir(const mamc_model *m, int training);

/* What the run configuration says about the loop around the steps (drivers follow it). */
typedef struct mamc_settings {
  int64_t steps, log_every, valid_every;
  const char *checkpoint_dir;   /* as written in the configuration (relative to the cwd) */
  int64_t checkpoint_every;     /* 0: only at the end */
  int checkpoint_keep;
  int64_t valid_bleu;           /* sentences per task translated for BLEU/chrF at each validation; 0: off */
  const char *early_stop;       /* "loss", "bleu" or "chrf": the mean over tasks that picks the best
                                 * checkpoint (mamc_trainer_save_best); NULL: none */
  int64_t patience;             /* validations without improvement before stopping; 0: never stop */
} mamc_settings;
void mamc_model_settings(const mamc_model *m, mamc_settings *out);

/* ---- training ---------------------------------------------------------------------------- */

typedef struct mamc_train_options {
  const char *metrics_path; /* JSONL metrics appended here (NULL: none) */
  int64_t steps;            /* 0: the configuration's train.steps */
  uint64_t seed;            /* 0: the configuration's train.seed */
  int emulate_ranks;        /* > 1: run the steps of that many processes in this one (the
                             * single-process reference of a distributed run) */
  const char *device;       /* NULL: the configuration's train.device; else "cpu", "cuda" or
                             * "cuda:N" (mamc train --device) */
} mamc_train_options;

/* Distributed runs: under `mpirun -np N` (built with MPI), call mamc_mpi_init first; every
 * trainer then spans the N processes: each trains the tasks placed on its rank and holds
 * only the modules they use; gradients of shared modules are exchanged among their holders.
 * Returns the number of processes (1 when not launched by mpirun). Process-wide. */
int mamc_mpi_init(int *argc, char ***argv);
void mamc_mpi_finalize(void);
int mamc_mpi_rank(void);                        /* this process's world rank (0 when alone) */
int mamc_trainer_rank(const mamc_trainer *t);   /* this process's rank (0 when alone) */

typedef struct mamc_step {
  int64_t step;             /* 1-based */
  int task;
  double loss, lr, grad_norm;
  int64_t tokens;           /* target tokens in the batch */
  double seconds;
  int64_t comm_bytes;       /* gradient payload bytes all processes handed to MPI this step
                             * (docs/distributed.md: what `mamc plan` predicts as payload) */
  int skipped;              /* a NaN/Inf loss or gradient, and train.nonfinite: skip: the step
                             * changed nothing (mamc_trainer_nonfinite_report says why) */
  int stop;                 /* some process's stop flag was set (mamc_trainer_watch_stop): every
                             * process sees it at the same step */
} mamc_step;

mamc_trainer *mamc_trainer_new(mamc_model *m, const mamc_train_options *o, char **errors);
void mamc_trainer_free(mamc_trainer *t);
int64_t mamc_trainer_total_steps(const mamc_trainer *t);
int64_t mamc_trainer_step_count(const mamc_trainer *t);
/* The numerical guard (train.nonfinite): steps skipped so far, and the last non-finite step's
 * report ("" if none): "step N: the loss is nan; in task T: op %K exp (from FILE:L:C) produced
 * Inf at [..] of f32[..] (forward pass; module M); its operands were finite" (the op part
 * when the step stopped, or with train.nonfinite_debug). */
int64_t mamc_trainer_skipped_steps(const mamc_trainer *t);
const char *mamc_trainer_nonfinite_report(const mamc_trainer *t);

/* One step on a task drawn by the sampler, with a batch from the configured data. */
int mamc_trainer_step(mamc_trainer *t, mamc_step *out, char **errors);
/* A stop flag the trainer reads once a step (a signal handler sets it; NULL: none): it is
 * summed over every process with the step's gradient norm, and mamc_step.stop reports it, at
 * the same step on every process, so that all can save a checkpoint and end there. */
void mamc_trainer_watch_stop(mamc_trainer *t, const volatile sig_atomic_t *flag);
/* One step on the caller's batch: token ids (0 = padding), src [B, S] (NULL for one-input
 * tasks) and tgt [B, T] = <s>(1) y </s>(2). */
int mamc_trainer_step_batch(mamc_trainer *t, int task, const int32_t *src, int B, int S, const int32_t *tgt, int T,
                            mamc_step *out, char **errors);
/* Validation loss per task (losses[mamc_model_ntasks]; NaN where a task has no validation data). */
int mamc_trainer_validate(mamc_trainer *t, double *losses, char **errors);
/* Validation BLEU and chrF per task (bleu[mamc_model_ntasks], chrf[...]; NaN where a task is
 * not scored): greedy translations of the first train.valid_bleu lines of each task's
 * validation data with the current parameters, scored as sacreBLEU does (docs/decoding.md). */
int mamc_trainer_validate_bleu(mamc_trainer *t, double *bleu, double *chrf, char **errors);
/* Write the current state as dir/best (a checkpoint folder; `note_json`, e.g. the metric and its
 * value, as dir/best/best.json), replacing the previous best atomically. */
int mamc_trainer_save_best(mamc_trainer *t, const char *dir, const char *note_json, char **errors);
/* Write a checkpoint into dir (keeping the newest `keep`, 0 = all) / load one (a checkpoint
 * folder, or dir meaning its latest). */
int mamc_trainer_save(mamc_trainer *t, const char *dir, int keep, char **errors);
int mamc_trainer_load(mamc_trainer *t, const char *path, char **errors);
/* Start from another model's checkpoint: parameters with the same module instance, name and
 * shape are copied, new ones keep their initialisation; optimizer state and step start fresh.
 * *copied and *total (may be NULL) count parameters. */
int mamc_trainer_init_from(mamc_trainer *t, const char *path, int *copied, int *total, char **errors);
/* Appends a line to the metrics file (tools use it for their own records). */
void mamc_trainer_log(mamc_trainer *t, const char *json_line);
/* Tests: each process writes its copy of every module it holds to dir/rank-R/. */
int mamc_trainer_dump_replicas(mamc_trainer *t, const char *dir, char **errors);
/* Seconds spent so far in forward, backward and the optimizer on the CPU; forward and backward
 * are NaN when the steps run on a GPU (the metrics' device_stats line times those). */
void mamc_trainer_times(const mamc_trainer *t, double *forward, double *backward, double *optimizer);
/* The CPU kernels compiled so far: generated by LLVM, and read from the on-disk kernel cache
 * ($MAMC_JIT_CACHE, else $XDG_CACHE_HOME/mamc or ~/.cache/mamc; 0 turns it off). */
void mamc_trainer_kernels(const mamc_trainer *t, int *generated, int *cached);

/* ---- translation (docs/decoding.md) --------------------------------------------------------
 *
 *   mamc_translate_options o = {.task = "en-fr", .beam = 5};
 *   mamc_translator *tr = mamc_translator_new("model.mam", "run.yaml", "ckpt/run", &o, &err);
 *   mamc_hypothesis *h;
 *   if (mamc_translate(tr, lines, n, &h, &err) == MAMC_OK) ... h[i * nbest + k].text ...
 *   mamc_hypotheses_free(h, n * mamc_translator_nbest(tr));
 *   mamc_translator_free(tr);
 */
typedef struct mamc_translator mamc_translator;

typedef struct mamc_translate_options {
  const char *task;           /* "en-fr" (the task's arguments; the template is the configured
                               * tasks'), a task name of the configuration, or "translate(en, fr)".
                               * A direction no configured task trained decodes zero-shot (a
                               * warning) when every module it needs is in the checkpoint */
  int beam;                   /* 0 or 1: greedy search */
  int nbest;                  /* hypotheses per line (<= beam; samples when sampling); 0: 1 */
  int max_len, min_len;       /* generated tokens, </s> included; max 0: 2 * source tokens + 10 */
  const char *length_penalty; /* "avg" (logprob / len^alpha, default), "gnmt", "none" */
  double alpha;               /* 0: the default (avg 1.0, gnmt 0.6) */
  int sample;                 /* sample instead of searching */
  double temperature;         /* 0: 1 */
  int top_k;                  /* 0: all tokens */
  double top_p;               /* 0: 1 */
  uint64_t seed;
  int batch;                  /* sentences decoded together (0: 32) */
  int no_cache;               /* the no-cache baseline: the whole task graph on the growing prefix */
} mamc_translate_options;

typedef struct mamc_hypothesis {
  char *text;                 /* one line of UTF-8 (invalid bytes as U+FFFD, line breaks as spaces) */
  double logprob, score;      /* natural log; score: under the length penalty */
  int tokens;                 /* generated tokens, </s> excluded */
} mamc_hypothesis;

/* Elaborates the direction o->task of model_path against config_path, derives its decoding
 * programs, and loads the modules it uses (only those) from checkpoint (a step-N folder or a
 * checkpoint folder: its latest). A module missing there is an error naming it. */
mamc_translator *mamc_translator_new(const char *model_path, const char *config_path, const char *checkpoint,
                                     const mamc_translate_options *o, char **errors);
/* Warnings from mamc_translator_new (a zero-shot direction), or NULL. */
const char *mamc_translator_warnings(const mamc_translator *t);
int mamc_translator_nbest(const mamc_translator *t);
/* Translates n lines: *hyps receives n * nbest hypotheses, line i's k-th best at i * nbest + k
 * (text NULL where a line has fewer). Free with mamc_hypotheses_free(*hyps, n * nbest). */
int mamc_translate(mamc_translator *t, const char *const *lines, int n, mamc_hypothesis **hyps, char **errors);
void mamc_hypotheses_free(mamc_hypothesis *h, int n);
/* Seconds so far in the encoder, in decoder steps and in whole searches; decoder steps run. */
void mamc_translator_times(const mamc_translator *t, double *encode, double *step, double *total, int64_t *steps);
void mamc_translator_free(mamc_translator *t);

/* Threads for the BLAS matrix products. This is a process-wide setting of OpenBLAS (not of
 * any mamc object): drivers call it once at start. mamc's executor runs one thread, and on
 * small machines one BLAS thread is fastest (no spin-waiting between products). */
void mamc_set_blas_threads(int n);

/* Keeps freed memory in the process (glibc: the largest mmap threshold it accepts, 32 MiB, and
 * no trimming of the heap). The executors allocate each value when its op runs and free it at
 * its last use; with glibc's defaults every training step page-faults its activations in again
 * (4M minor faults and about a third of the step on examples/translate.yaml: bench/malloc.sh).
 * Process-wide, like mamc_set_blas_threads: drivers call it once at start (`mamc` does);
 * MAMC_MALLOC_DEFAULT=1 makes it do nothing; elsewhere than glibc it does nothing. */
void mamc_keep_freed_memory(void);

void mamc_free_text(char *text);

#ifdef __cplusplus
}
#endif
#endif
