/* plan_dept.h — `mamc plan`'s outer rounds and DEPT (plan_dept.c; docs/dept.md). */
#ifndef MAMC_PLAN_DEPT_H
#define MAMC_PLAN_DEPT_H

#include "cli_dist.h"

typedef struct PlanRows { /* the global ids a copy's training text uses */
  int32_t *ids;
  int64_t n;
} PlanRows;

typedef struct PlanDept {
  const IrProgram *p;
  const DistSetup *ds;
  const CommPlan *cp;
  int variant;              /* passes/dept.h DeptVariant */
  int64_t steps;
  int64_t *dense;           /* per module: the bytes of a round's all-reduce (trainable, f32, not trimmed) */
  int *table;               /* per module: its embedding table's parameter, or -1 */
  int table_module, table_param; /* the first table (-1: none) */
  PlanRows **rows;          /* [rank][graph] (DEPT variants) */
  int rows_unknown;         /* a corpus did not load (not TRIM: reported, not an error) */
} PlanDept;

/* Builds the round accounting; with a DEPT variant it tokenizes every copy's training text
 * (TRIM's rows). Errors (a corpus or vocabulary that does not load) go to d; 1 on success. */
int plan_dept_build(const RunConfig *cfg, const IrProgram *p, const DistSetup *ds, const CommPlan *cp, Arena *a,
                    PlanDept *pd, Diag *d);
void plan_dept_free(PlanDept *pd);
/* Adds the payload and wire bytes of the rounds that end after step s to per_rank. */
void plan_dept_round_bytes(const PlanDept *pd, int64_t s, CommBytes *per_rank);
/* Adds the rounds' payload and wire bytes per step, averaged over the run (train.steps). */
void plan_dept_expected(const PlanDept *pd, CommBytes *per_rank);
/* The DEPT section: per rank the embedding memory, and the variants compared on this model. */
void plan_dept_print(StrBuf *b, const PlanDept *pd);

#endif
