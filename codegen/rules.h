/* rules.h — internal to codegen/: the per-op lowering table (ops_table.c) as lower.c sees it.
 *
 * Every IR op has one entry, generated from ir/ops.def: its class (how lower.c maps the
 * operands' indices onto the iteration space) and a rule that builds the op's KIR
 * expression from the operands' expressions, or the reason it is not lowered.
 */
#ifndef MAMC_CG_RULES_H
#define MAMC_CG_RULES_H

#include "codegen.h"

typedef enum {
  CG_NONE,      /* not lowered (see why) */
  CG_SOURCE,    /* const, iota: no operands */
  CG_EW,        /* elementwise, operands broadcast NumPy-style (right-aligned) */
  CG_TRANSPOSE, /* operand indices permuted by perm */
  CG_REDUCE,    /* reduce over axes (keepdim or not) */
  CG_NORM,      /* softmax over axis; layernorm/rmsnorm over the last axis, gain/bias [C] */
  CG_MOVE,      /* slice, pad, concat (step 1): operands read through windows (lower.c: View) */
} CgClass;

typedef struct CgRuleCx {
  Kir *k;
  const IrNode *n;
  KType t;        /* result type */
  const int *x;   /* operand expressions (in the node's index space) */
  KType xt[4];    /* their types */
  int nx;
  int iota_axis;  /* iota: the iteration axis of its axis, -1 when broadcast (value 0) */
  int rand;       /* dropout: the uniform draw of this element (KE_RAND, f64) */
  int training;   /* dropout: the run's training flag (KE_DIM, i32 0/1) */
  char *err;
  size_t errlen;
} CgRuleCx;

typedef int (*CgRuleFn)(CgRuleCx *c); /* the expression, or -1 with a message in err */

typedef struct CgOpRule {
  CgClass cls;
  CgRuleFn fn;
  const char *why; /* CG_NONE: why not */
} CgOpRule;

const CgOpRule *cg_rule(Op op);

#endif
