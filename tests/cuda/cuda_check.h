/* cuda_check.h — what the GPU check's files share (cuda_check.c: products, graphs and main;
 * cuda_kcheck.c, cuda_lacheck.c: the hand-written kernels; cuda_bench.c: the timing part).
 * Test code only. */
#ifndef MAMC_TESTS_CUDA_CHECK_H
#define MAMC_TESTS_CUDA_CHECK_H

#include <stdio.h>

#include "dexec.h"
#include "params.h"

typedef struct Ck {
  Dev dev;
  int emu, bench, reps, fails, checks;
  double t0, budget;
  const char *only, *outdir;
  FILE *tsv, *btsv;
} Ck;

/* A graph's symbol values and random inputs (make_run) */
typedef struct Run {
  int64_t *sym;
  Tensor *in;
  int nin;
} Run;

double now(void);
int over_budget(Ck *c);
void result(Ck *c, const char *part, const char *what, double err, double tol, int finite, const char *note);
void fill(float *x, int64_t n, uint64_t seed, double scale);
int make_run(const IrProgram *p, const IrGraph *g, Run *r, const int64_t *fixed, uint64_t seed);
void free_run(Run *r);
int upload_params(Ck *c, const ParamStore *ps, DParams *dp);
/* bf16 copies of the parameters e reads as bf16 (as the trainer keeps them) */
int upload_params16(Ck *c, const ParamStore *ps, const DExec *e, DParams *dp);
void free_params(Ck *c, DParams *dp);
/* host <-> device copies of the check (a message on stderr when they fail) */
DPtr ck_up(Ck *c, const void *h, size_t bytes);
int ck_down(Ck *c, void *h, DPtr p, size_t bytes);
/* the relative 2-norm error of d against r (n values); *finite: whether d is all finite */
double nerr_f(const float *d, const float *r, int64_t n, int *finite);
/* part 1 (cuda_kcheck.c): every hand-written kernel against its CPU reference */
void check_kernels(Ck *c);
/* part 1, DiJiang (cuda_lacheck.c): la_dev.c's sequences, every form, against runtime/fast's core */
void check_linattn(Ck *c);
/* cuda_ref16.c: the interpreter (cx's dtype) over graph g rounded to bf16 where e's plan rounds:
 * every product's operands, each value e stores as bf16; into values[g's nodes] (freed on failure) */
int interp_bf16(const IrProgram *p, const IrGraph *g, const int64_t *sym, const Tensor *inputs, const ParamStore *ps,
                const DExec *e, Tensor *values, InterpCx *cx);
/* the timing part (cuda_bench.c): workloads, attention kernels, profiles -> bench.tsv, profile.txt */
void run_bench(Ck *c);

#endif
