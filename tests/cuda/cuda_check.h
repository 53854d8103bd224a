/* cuda_check.h — what the GPU check's two files share (cuda_check.c: the checks and main;
 * cuda_bench.c: the timing part). Test code only. */
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
void free_params(Ck *c, DParams *dp);
/* the timing part (cuda_bench.c): workloads, attention kernels, profiles -> bench.tsv, profile.txt */
void run_bench(Ck *c);

#endif
