/* harness.h — shared by the interpreter's op-vs-reference tests (test_ops.c, ops_*.c).
 *
 * A Case is a one-op graph: input nodes with (possibly symbolic) types, one op node whose
 * type comes from the IR shape rule, fresh random operand values, and an expected result
 * computed by the test's own naive float64 reference. case_check runs interp_node in f64 and
 * in f32 and compares both with the reference: max over elements of |got - ref| / max(|ref|, 1)
 * must be <= 1e-12 (f64) and <= 1e-5 (f32); i32 results must match exactly.
 *
 * Operand values are drawn from a seeded counter-based stream (printed at start and on every
 * failure; MAMC_TEST_SEED=<n> replays it) and are exactly representable in f32, so an f32
 * run differs from the reference only by the rounding of its results.
 */
#ifndef MAMC_TEST_INTERP_HARNESS_H
#define MAMC_TEST_INTERP_HARNESS_H

#include "interp.h"

enum { CASE_MAX_IN = 12 };

typedef struct Case {
  Arena a;
  IrProgram p;
  int64_t sym[IR_MAX_RANK]; /* symbol values, p.syms order */
  int nx;
  int xnode[CASE_MAX_IN];   /* input node of each operand */
  Tensor x[CASE_MAX_IN];    /* operand values: f64 (f32-exact) or i32 */
  int node;                 /* the op under test */
  const Tensor *src;        /* INPUT/PARAM under test: their argument */
  int training;             /* dropout */
  uint64_t seed;
  int64_t step;
  char what[200];
} Case;

/* ---- random values ---- */
uint64_t h_u64(void);
int64_t h_int(int64_t lo, int64_t hi); /* uniform in [lo, hi] */
double h_unit(void);                   /* [0, 1) */
double h_val(void);                    /* ±[0.1, 2), f32-exact, never 0 */
double h_pos(void);                    /* [0.1, 2), f32-exact */
uint64_t h_seed(void);
double h_bf16(double v);               /* f32-exact v rounded to bf16 (bit arithmetic) */

/* ---- shapes ---- */
int64_t h_flat(int rank, const int64_t *shape, const int64_t *idx);
void h_unflat(int64_t i, int rank, const int64_t *shape, int64_t *idx);
/* Flat index into x (rank xr, shape xs) of output index idx (rank r) under broadcasting. */
int64_t h_bidx(int xr, const int64_t *xs, int r, const int64_t *idx);
/* Tensor helpers for references */
void h_alloc(Tensor *t, DType dt, int rank, const int64_t *shape);
double *h_f(const Tensor *t);   /* data of an f64 tensor */
int32_t *h_i(const Tensor *t);  /* data of an i32 tensor */

/* ---- cases ---- */
void case_begin(Case *c, Op op, const char *fmt, ...) MAMC_PRINTF(3, 4);
Dim case_sym(Case *c, const char *name, int64_t value);
/* Add an input of that type; float: random values (h_val); i32: zeros. Returns its index. */
int case_in(Case *c, DType dt, int rank, const Dim *d);
/* Add the op node on operands xs (indices into c->x); returns the node (valid until the
 * next node is added). */
IrNode *case_op(Case *c, Op op, int nin, const int *xs);
IrNode *case_node(Case *c);
/* Infer the op's type with the IR shape rule; 0 (recorded as NOT OK) on failure. */
int case_infer(Case *c);
/* Run at fdt into out (empty on entry). */
int case_run(Case *c, DType fdt, Tensor *out, InterpCx *cx);
/* Run at f64 and f32 and compare with ref (f64 or i32 tensor); ref is freed. */
void case_check(Case *c, Tensor *ref);
void case_end(Case *c);

/* ---- results ---- */
void h_fail(const char *fmt, ...) MAMC_PRINTF(1, 2); /* a NOT OK line, counted */
void h_op_begin(Op op);
void h_op_end(Op op);            /* prints the op's OK / NOT OK line */
int h_failures(void);
int h_checks(void);

/* Per-group registration: fills tests[op] for the ops of the group. */
typedef void (*OpTest)(Op op);
void register_ew(OpTest *tests);
void register_move(OpTest *tests);
void register_nn(OpTest *tests);
void register_linattn(OpTest *tests); /* ops_linattn.c */
void register_dept(OpTest *tests);    /* ops_dept.c */

#endif
