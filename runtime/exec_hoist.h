/* exec_hoist.h — the CPU executor's invariant values (exec_hoist.c): the members of a fusion
 * group that depend on nothing but the shapes of a run (iota, constants and pure elementwise
 * or movement ops of them) and cost a transcendental per element — a sinusoidal positional
 * encoding — run as a kernel of their own whose results are kept per distinct shape across
 * runs (least recently used evicted); the rest of the group reads them as inputs. Private to
 * runtime/exec.c. MAMC_HOIST=0 turns it off.
 */
#ifndef MAMC_EXEC_HOIST_H
#define MAMC_EXEC_HOIST_H

#include "exec.h"

/* Per node of g: inv[i] = 1 when its value is a function of the run's shapes alone;
 * cost[i] = 1 when it is, and computing it takes a transcendental (exp, sin, ...). */
void exec_hoist_marks(const IrGraph *g, char *inv, char *cost);

/* Splits a group's compiled members (no matmul; node order) into the hoisted part h and the
 * rest r (either may be empty; 0 hoisted: nothing to do). inv, cost from exec_hoist_marks;
 * read_variant[i]: a value some non-invariant node or a graph output reads. */
int exec_hoist_split(const IrGraph *g, const char *inv, const char *cost, const char *read_variant, const int *members,
                     int nm, int *h, int *nh, int *r, int *nr);

/* Takes the compiled kernel of the hoisted members (k: moved into the result). NULL when out
 * of memory or when the kernel reads a value that is not a constant (its key, the kernel's
 * dims, would not determine its results); k is then left to the caller. */
ExecHoist *exec_hoist_new(CgKernel *k, const IrGraph *g);
void exec_hoist_free(ExecHoist *h);

/* Points e->ref at the hoisted values for this run's shapes, computing them when they are
 * not kept (then kept). 1 ok, 0 with cx->err. */
int exec_hoist_run(Exec *e, ExecHoist *h, const int64_t *symvals, InterpCx *cx);

/* Runs compiled kernel k over all its outer iterations, split over the pool (exec.c). */
void exec_call_kernel(Pool *pool, const CgKernel *k, void *const *bufs, const int64_t *dims);

#endif
