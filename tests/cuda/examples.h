/* examples.h — the programs the CUDA tests run: each example (examples/NAME.mam + .yaml, and
 * the benchmark workloads bench/gpu_NAME.mam + .yaml) elaborated as `mamc train` does
 * (tools/api.c): the training program through autodiff, simplify and fusion ("ASF"), the
 * evaluation program through simplify and fusion ("SF"). Header-only, for the tests here. */
#ifndef MAMC_TESTS_CUDA_EXAMPLES_H
#define MAMC_TESTS_CUDA_EXAMPLES_H

#include <stdio.h>

#include "config.h"
#include "bind.h"
#include "pipeline.h"

typedef struct Example {
  Arena a;
  Diag d;
  RunConfig *cfg;
  IrProgram *train, *eval;
} Example;

/* 1 ok; 0 with the reason printed (the frontend's own tests cover programs that fail here) */
static inline int example_load(Example *ex, const char *mam, const char *yaml) {
  arena_init(&ex->a);
  diag_init(&ex->d);
  ex->train = ex->eval = NULL;
  ex->cfg = config_load(&ex->a, &ex->d, yaml);
  if (ex->cfg) ex->train = fe_elaborate_config(&ex->a, &ex->d, mam, ex->cfg);
  if (ex->train) ex->eval = fe_elaborate_config(&ex->a, &ex->d, mam, ex->cfg);
  PipelineOpts tr = {.only = "ASF"}, ev = {.only = "SF"};
  if (!ex->eval || !pass_run(ex->train, &tr, &ex->d) || !pass_run(ex->eval, &ev, &ex->d)) {
    printf("%s does not compile:\n%s\n", mam, ex->d.out.s ? ex->d.out.s : "");
    return 0;
  }
  return 1;
}

static inline void example_free(Example *ex) {
  diag_free(&ex->d);
  arena_free(&ex->a);
}

#endif
