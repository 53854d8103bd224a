/* dtrain_internal.h — what dtrain.c (opening the device, executors, parameter transfers, the
 * staged gradient path) and dtrain_step.c (gradient sums, global norm and AdamW on the device)
 * share: the trainer's device state (Trainer.dev). Not a public header. */
#ifndef MAMC_DTRAIN_INTERNAL_H
#define MAMC_DTRAIN_INTERNAL_H

#include "dexec.h"
#include "kernels/kargs.h"
#include "trainer_internal.h"

typedef struct TDevTask {
  DExec train, eval;          /* the task's graph in the train / eval program */
  int has_train, has_eval;    /* eval: only for tasks with validation data */
} TDevTask;

/* One chunk table of k_sqnorm / k_adamw (kargs.h): the tensors and their chunks, device-resident. */
typedef struct TDevTable {
  int ntensors;
  long long nchunks;
  DPtr tensors, tab, start;   /* KaAdamTensor[ntensors], int[nchunks], long long[nchunks] */
} TDevTable;

typedef struct TDev TDev;
struct TDev {
  Dev dev;
  int on_device;              /* path (b): sums, norm and AdamW on the device; 0: path (a), staged */
  char why_staged[160];       /* path (a): why not (b) */
  TDevTask *tasks;            /* per task spec (owned ones) */
  DParams p;                  /* the parameters (w), one device buffer per held ParamStore index */
  DPtr *g, *m, *v;            /* path (b): gradient sums and AdamW moments, per ParamStore index */
  int dev_stale;              /* the host's copies are newer: upload before the next device run */
  int host_stale;             /* path (b): the device's copies are newer: download before the host reads */
  int cb_failed;              /* a gradient callback failed (it cannot return an error): cb_err */
  char cb_err[512];
  /* path (a): page-locked staging of one gradient on its way to the host's sums */
  float *stage;
  int64_t stage_n;
  /* path (b): the optimizer's tables and per-step arguments */
  TDevTable norm_tab, upd_tab;  /* every held parameter / the trainable ones */
  DPtr inv_d, steps_d, step_d, part_d, norm_d;
  float *inv_h;               /* per module: 1 / tokens this step, 0 when it did not train */
  long long *steps_h;         /* per module: its optimizer step */
  int *frozen_q;              /* held frozen parameters (their sums are zeroed after a step) */
  int nfrozen;
  /* what ran (the metrics' device lines; tests check them) */
  int64_t train_runs, eval_runs, device_steps, staged_steps, uploads, downloads;
  double run_seconds, step_seconds;
  double t_start, t_mark;     /* the first train run's start; the last step boundary */
  double *step_s;             /* wall seconds of each step (boundary to boundary: data, runs, update) */
  int nstep_s, cap_step_s;
  int announced;
};

/* dtrain.c */
int tdev_upload(Trainer *t, char *err, size_t n);     /* host -> device (parameters; (b): moments too) */
int tdev_fail(Trainer *t, char *err, size_t n, const char *what); /* formats the device's error; 0 */
void tdev_mark_step(TDev *x);                         /* a step boundary (for device_stats' step times) */

/* dtrain_step.c */
int tdev_step_setup(Trainer *t, char *err, size_t n); /* path (b) state, after the parameters are up */
void tdev_step_free(Trainer *t);
void tdev_on_output_device(void *user, int output, DPtr value, int64_t n); /* (b) gradient callback */

#endif
