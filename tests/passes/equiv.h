/* equiv.h — checking that passes preserve results, with the reference interpreter (f64):
 * run a graph before and after a pass on the same random inputs and parameters and compare
 * every output (by name) to 1e-12; and run a graph under its memory plan with a small
 * evaluator that keeps every planned value only in its slot (slots are allocated once, each
 * node's result is written into its slot, operands are read back from their slots, a fusion
 * group's outputs are written when the whole group has run, a reshape is a view of its
 * operand's memory), so a plan that overwrote a live value gives different outputs.
 */
#ifndef MAMC_TEST_PASSES_EQUIV_H
#define MAMC_TEST_PASSES_EQUIV_H

#include "interp.h"
#include "memplan.h"

/* A value for every symbol, by name (B=2, S=5, T=6, others 3), in p's symbol order. */
void eq_symbols(const IrProgram *p, int64_t *symvals);

/* Random inputs of graph g: floats N(0,1), i32 ids in [0, 5); inputs[] gets one tensor per
 * INPUT node (free with eq_free). 1 ok. */
int eq_inputs(const IrProgram *p, const IrGraph *g, const int64_t *symvals, uint64_t seed, Tensor *inputs);
void eq_free(Tensor *t, int n);

/* Runs graph `graph` with the interpreter (f64); outs[k] gets a copy of output k. 1 ok; 0 with
 * the interpreter's message in err. */
int eq_run(const IrProgram *p, int graph, const int64_t *symvals, const Tensor *inputs, const ParamStore *ps,
           Tensor *outs, char *err, size_t errlen);

/* Runs graph `graph` under plan mp, as described above. Same contract as eq_run. */
int eq_run_plan(const IrProgram *p, const MemPlan *mp, const int64_t *symvals, const Tensor *inputs,
                const ParamStore *ps, Tensor *outs, char *err, size_t errlen);

/* Max over outputs and elements of |a - b| / max(|b|, 1), matching outputs by name between
 * graph ga of pa (values va) and graph gb of pb (values vb); -1 if an output is missing or
 * shapes differ. NaN in both places counts as equal. */
double eq_max_diff(const IrGraph *ga, const Tensor *va, const IrGraph *gb, const Tensor *vb);

/* The whole check for one graph: random inputs, run pa's graph and pb's graph (and pb's
 * under a fresh memory plan when `plan`), compare to 1e-12. Returns 1 if equal, 0 if not
 * (message printed), -1 if pa's graph cannot be interpreted (skipped, reason in err). */
int eq_check_graph(const IrProgram *pa, const IrProgram *pb, int graph, const ParamStore *ps, int plan,
                   uint64_t seed, char *err, size_t errlen);

#endif
