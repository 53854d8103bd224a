/* gc.h — the per-op gradient check harness (gradcheck_ops.c, gc.c).
 *
 * A case is a one-op graph on input nodes (types possibly symbolic, the symbols bound to
 * random sizes) with fresh random values. gc_check appends loss = sum(op ⊙ R), R a fixed
 * random input of the op's type, differentiates it with pass_autodiff_wrt with respect to
 * every float input marked for checking, verifies the program, runs it in the interpreter in
 * f64, and compares each gradient element (up to GC_MAX_ELEMS per operand, chosen at random)
 * with a central difference of the forward graph:
 *   n = [8 (L(x + h) - L(x - h)) - (L(x + 2h) - L(x - 2h))] / 12h,   h = 1e-4
 * (the two-step Richardson form: its error is O(h^4), so rounding and truncation both stay
 * near 1e-11 where a single central difference with h = 1e-6 would leave ~1e-9).
 * Error: |a - n| / max(|a|, |n|, 1e-3); a case fails above GC_TOL.
 *
 * Values are drawn from a seeded counter-based stream (printed; MAMC_TEST_SEED=<n> replays).
 */
#ifndef MAMC_TEST_AUTODIFF_GC_H
#define MAMC_TEST_AUTODIFF_GC_H

#include "autodiff.h"
#include "interp.h"

enum { GC_MAX_IN = 12, GC_MAX_ELEMS = 48 };
#define GC_TOL 1e-6

typedef struct GC {
  Arena a;
  IrProgram p;
  int64_t sym[IR_MAX_RANK];
  int nx;
  int xnode[GC_MAX_IN];
  Tensor x[GC_MAX_IN];  /* f64 or i32 values */
  int check[GC_MAX_IN]; /* compare this input's gradient */
  int node;             /* the op under test */
  int training;         /* dropout */
  char what[200];
} GC;

/* ---- random values ---- */
uint64_t gc_seed(void);
uint64_t gc_u64(void);
int64_t gc_int(int64_t lo, int64_t hi); /* uniform in [lo, hi] */
double gc_unit(void);                   /* [0, 1) */
double gc_pos(void);                    /* [0.1, 2) */
double gc_val(void);                    /* ±[0.1, 2) */
double *gc_f(const Tensor *t);
int32_t *gc_i(const Tensor *t);

/* ---- cases ---- */
void gc_begin(GC *c, Op op, const char *fmt, ...) MAMC_PRINTF(3, 4);
Dim gc_sym(GC *c, const char *name, int64_t value);
/* An input of that type: float: gc_val() values, checked; i32: zeros, not checked. */
int gc_in(GC *c, DType dt, int rank, const Dim *d);
IrNode *gc_op(GC *c, Op op, int nin, const int *xs); /* valid until the next node is added */
IrNode *gc_node(GC *c);
void gc_check(GC *c);
void gc_end(GC *c);

/* ---- results ---- */
void gc_fail(const char *fmt, ...) MAMC_PRINTF(1, 2);
void gc_op_begin(Op op);
void gc_op_end(Op op); /* OK / NOT OK line with the worst error */
int gc_failures(void);

typedef void (*GcTest)(Op op);
void gc_register(GcTest *tests);
void gc_register_linattn(GcTest *tests); /* gradcheck_linattn.c */

#endif
