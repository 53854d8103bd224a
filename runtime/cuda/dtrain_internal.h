/* dtrain_internal.h — what dtrain.c (opening the device, executors, parameter transfers, the
 * staged gradient path), dtrain_step.c (gradient sums, global norm and AdamW on the device),
 * dtrain_xchg.c (their exchange between processes) and dtrain_graph.c (CUDA graphs of path (b))
 * share: the trainer's device state (Trainer.dev).
 * Not a public header. */
#ifndef MAMC_DTRAIN_INTERNAL_H
#define MAMC_DTRAIN_INTERNAL_H

#include "dexec.h"
#include "dnccl.h"
#include "kernels/kargs.h"
#include "trainer_internal.h"

/* One shape bucket of a task's train executor (dtrain_graph.c): the bound symbol values, and
 * the CUDA graph of a run with them once they repeat. */
typedef struct TGraph {
  int64_t *key;               /* the symbol values (nsym) */
  uint64_t last;              /* LRU clock of its last use */
  int seen;                   /* runs with these shapes */
  int failed;                 /* a capture or replay failed: eager from now on */
  DevGraph g;                 /* g.ok: captured */
  uint64_t sig, stage_gen;    /* the allocator's live set and the executor's staging at capture */
  DPtr loss;                  /* the loss's address in the captured run */
  int *outs, nouts;           /* the gradient outputs of the run, in order (the host's token sums) */
} TGraph;

typedef struct TDevTask {
  DExec train, eval;          /* the task's graph in the train / eval program */
  int has_train, has_eval;    /* eval: only for tasks with validation data */
  TGraph *gb;                 /* shape buckets (at most TDev.graph_keys) */
  int ngb;
} TDevTask;

/* The step's end as a graph (the norm; AdamW): captured at its second run, replayed after. */
typedef struct TGraphSlot {
  DevGraph g;
  int seen, failed;
} TGraphSlot;

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
  int multi;                  /* path (b) with several processes: sums exchanged via the host (dtrain_xchg.c) */
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
  double run_seconds, step_seconds, xchg_seconds;
  double t_start, t_mark;     /* the first train run's start; the last step boundary */
  double *step_s;             /* wall seconds of each step (boundary to boundary: data, runs, update) */
  int nstep_s, cap_step_s;
  int announced;
  /* precision and placement (the metrics' device line) */
  int bf16;                   /* train.precision: bf16: products with bf16 operands */
  int local_rank, *ordinals;  /* this process on its node; every rank's GPU (several processes) */
  /* CUDA graphs (dtrain_graph.c; path (b) only) */
  int graphs_on, graph_cap, graph_keys;  /* graphs per task (LRU), shape buckets remembered per task */
  char graphs_why[160];       /* why off */
  uint64_t clock;
  DPtr tok_d;                 /* path (b): this run's target tokens (k_axpy_n's a_dev: not baked into a graph) */
  int *rec_outs, nrec, cap_rec, recording; /* gradient outputs seen while capturing */
  KaAxpyN pend;               /* path (b): this run's gradients not yet added to their sums (k_axpy_n) */
  TGraphSlot norm_g, upd_g;
  int64_t g_replays, g_captures, g_eager, g_invalid, g_evicted, g_failed, end_replays;
  int warned;
  /* path (b), several processes: the exchange on device buffers (dtrain_nccl.c) */
  DNccl nc;                   /* nc.on: NCCL (or its emulation); nc.kind / nc.why: the device line's */
  int nccl_open;              /* tdev_nccl_open ran with several processes */
  DPtr *fused;                /* per bucket this rank holds: its sums and token weight, contiguous */
};

/* dtrain.c */
int tdev_upload(Trainer *t, char *err, size_t n);     /* host -> device (parameters; (b): moments too) */
int tdev_fail(Trainer *t, char *err, size_t n, const char *what); /* formats the device's error; 0 */
void tdev_mark_step(TDev *x);                         /* a step boundary (for device_stats' step times) */
DPtr tdev_loss_addr(const DExec *e, const int64_t *sym); /* the "loss" output's address after a run (0: none) */

/* dtrain_step.c */
int tdev_step_setup(Trainer *t, char *err, size_t n); /* path (b) state, after the parameters are up */
void tdev_step_free(Trainer *t);
void tdev_on_output_device(void *user, int output, DPtr value, int64_t n); /* (b) gradient callback */
int tdev_sums_flush(Trainer *t); /* (b) the pending gradients into their sums, after a run (0: x->cb_err) */
void tdev_count_tokens(Trainer *t, int output); /* (b) the host's token sums for a gradient output */

/* dtrain_xchg.c (path (b), several processes) */
int tdev_norm_counts(const Trainer *t, int m);  /* module m's sums are in this rank's share of the norm */
int tdev_exchange(Trainer *t, Diag *d);          /* device sums -> host -> tbuckets_finish -> device */
/* The world's norm from this rank's (local), as tsync_norm; into the device's norm slot too. */
int tdev_world_norm(Trainer *t, double local, double *norm, Diag *d);

/* dtrain_nccl.c (path (b), several processes) */
int tdev_nccl_open(Trainer *t, Diag *d);     /* collective: NCCL or not, agreed; the holders' communicators */
void tdev_nccl_close(Trainer *t);
int tdev_nccl_exchange(Trainer *t, Diag *d); /* 1 done, 0 error (d), -1 NCCL is off: exchange through the host */

/* dtrain_graph.c */
void tgraph_setup(Trainer *t);                        /* graphs_on, after the executors are planned */
void tgraph_free(Trainer *t);                         /* before dev_close */
/* A train run of task k on path (b): eager, captured or replayed; *loss: the loss's address
 * (valid until the next run). 1 ok, 0 with cx->err. */
int tgraph_run(Trainer *t, int k, const int64_t *sym, const Tensor *in, InterpCx *cx, DPtr *loss);
/* work(t) (device work only: launches and copies between device buffers) eagerly, or captured
 * into slot s at its second run and replayed after. 1 ok; 0 with the device's error. */
int tgraph_slot(Trainer *t, TGraphSlot *s, int (*work)(Trainer *t));
void tgraph_warn(Trainer *t, const char *task, const char *what, const char *err); /* once, into the metrics */

#endif
