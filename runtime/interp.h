/* interp.h — the reference interpreter: runs any IR op (interp_node) or a whole task graph
 * (interp_graph) in plain C. It is the oracle every backend is tested against and the
 * fallback where no backend is built: clarity over speed (a matrix product is a triple loop).
 *
 * Kernels live under runtime/interp/, one file per op group (ew, reduce, matmul, move, norm,
 * loss, attention, misc); dispatch is generated from ir/ops.def, so an op without a kernel
 * does not link. Each kernel's semantics are written beside it, with shapes named.
 *
 * Precision: float tensors are stored in cx->fdt (f32 or f64): float inputs and parameters
 * are converted to it, i32 stays i32. Inside one op arithmetic runs in f64 and each result is
 * rounded once when stored, so an f32 run differs from an f64 run only by the storage
 * rounding of each value. A node whose declared dtype is bf16 or f16 has its result rounded
 * through that format (stored in fdt): bf16/f16 tensors only ever hold bf16/f16 values.
 *
 * Shapes: every node's IrType is evaluated with dim_eval under `symvals` (one value per
 * program symbol, p->syms order); each operand must have exactly its declared shape (the
 * error names the operand and both shapes).
 *
 * Errors: functions return 1 on success, 0 with a message in cx->err naming the node, e.g.
 *   "%4 = gather: id 12 at index [1, 3] is out of range [0, 10)".
 */
#ifndef MAMC_INTERP_H
#define MAMC_INTERP_H

#include "params.h"
#include "tensor.h"

typedef struct InterpCx {
  DType fdt;        /* DT_F32 or DT_F64: precision of every float tensor */
  uint64_t seed;    /* dropout: run seed */
  int64_t step;     /* dropout: training step (counter of the keep mask's key) */
  int training;     /* dropout is the identity unless set */
  char err[256];
} InterpCx;

/* Run node `node` of graph g on operand values ins[0 .. nin-1] (the sources INPUT and PARAM
 * take their value as ins[0]). `out` must be empty (zero-initialised or freed); it is
 * allocated here with the node's evaluated shape, dtype i32 for i32 nodes and cx->fdt for
 * float ones; the caller frees it with rt_tensor_free. Operand tensors may be of any float
 * dtype where the declared type is float (they are converted). 1 ok, 0 error in cx->err. */
int interp_node(const IrProgram *p, const IrGraph *g, int node, const int64_t *symvals,
                const Tensor *const *ins, Tensor *out, InterpCx *cx);

/* Run every node of g in order. inputs: one per INPUT node, in order. ps: the parameters
 * (PARAM nodes read ps[module][param]). values: g->nodes.n tensors, filled with every node's
 * value (free them with interp_values_free). On error every value is freed (left empty). */
int interp_graph(const IrProgram *p, const IrGraph *g, const int64_t *symvals, const Tensor *inputs,
                 const ParamStore *ps, Tensor *values, InterpCx *cx);

void interp_values_free(Tensor *values, int n);

#endif
