/* nonfinite_util.h — helpers of the numerical guard's tests (test_nonfinite,
 * test_nonfinite_grad): random lowercase batches for the lm(en) task of nan.mam and
 * nan_grad.mam (seed from MAMC_TEST_SEED or the clock, printed), a parameter by module name,
 * and a byte snapshot of every parameter, both AdamW moments and the module step counts. */
#ifndef MAMC_TESTS_NONFINITE_UTIL_H
#define MAMC_TESTS_NONFINITE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "api_internal.h"
#include "trainer_internal.h"

enum { NF_B = 4, NF_T = 20 };

/* Seeds the generator from MAMC_TEST_SEED or the clock and prints the seed as `name: ...`. */
void nf_seed(const char *name);
uint32_t nf_next_u32(void);
/* <s> random lowercase letters </s> per row; with poison >= 0, that token id once at a random
 * place, whose flat index (row * NF_T + column) nf_poison_at then returns (-1: none) */
void nf_make_batch(int32_t *tgt, int poison);
int nf_poison_at(void);
/* One training step on a fresh random batch (nf_make_batch), through mamc_trainer_step_batch. */
int nf_step(mamc_trainer *t, int poison, mamc_step *out, char **err);
/* Parameter p of module `module`; NULL if there is none (the caller CHECKs). */
Tensor *nf_param(mamc_trainer *t, const char *module, int p);

/* Compiles mam + yaml and makes a trainer (metrics to `metrics` when not NULL: a mkstemp
 * template, filled in). NULL on failure, the error printed; *m is the model (or NULL). */
mamc_trainer *nf_open(const char *mam, const char *yaml, char *metrics, mamc_model **m);
/* A whole small text file (up to 64 KiB), NUL-terminated; NULL if it cannot be read. */
char *nf_slurp(const char *path);

typedef struct NfSnap {
  char *bytes;
  size_t n;
} NfSnap;
NfSnap nf_snap(mamc_trainer *t);
int nf_snap_eq(const NfSnap *a, const NfSnap *b);

#endif
