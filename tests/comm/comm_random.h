/* comm_random.h — random MAMMOTH-like instances for the placement and schedule tests:
 * L languages in G groups; module instances embed[l], enc[l], dec[l], grp[g] and core, of
 * random sizes; tasks translate(s, t) on random pairs reading embed[s], enc[s], grp[g(s)],
 * core, embed[t], dec[t] (a chain of matmuls, so autodiff gives every gradient); random
 * weights, some tasks introduced late, some with explicit ranks; MAMMOTH's components
 * {s, g(s), t, g(t)} per task. */
#ifndef MAMC_TEST_COMM_RANDOM_H
#define MAMC_TEST_COMM_RANDOM_H

#include "placement.h"

typedef struct RandOpts {
  uint64_t seed;
  int nlang, ngroups, ntasks, nranks;
  double explicit_frac;  /* tasks with explicit ranks */
  double late_frac;      /* tasks introduced after step 0 */
  double local_frac;     /* modules with sync local (embeddings only) */
  int every2;            /* give grp[*] sync every(2) */
  int grads;             /* run autodiff on every graph */
  int64_t steps;
} RandOpts;

typedef struct RandInst {
  Arena arena;
  IrProgram prog;
  PlaceInput in;
  PlaceTask *tasks;
} RandInst;

/* 1 on success (0: a test bug; message on stderr). */
int rand_instance(RandInst *ri, const RandOpts *o);
void rand_free(RandInst *ri);

/* A deterministic generator for the tests. */
uint64_t rand_next(uint64_t *s);
double rand_unit(uint64_t *s);

#endif
