/* nonfinite.h — where did a NaN or an Inf come from? The numerical guard's debug mode
 * (train.nonfinite_debug, and every step that stops on a non-finite loss or gradient): it
 * re-runs one task graph on the failing step's inputs and parameters with the reference
 * interpreter, op by op, and names the first value that is not finite:
 *
 *   op %57 exp (from stdlib/nn.mam:41:12) produced Inf at [0, 3, 1] of f32[2, 31, 16]
 *   (forward pass; module body, layer.0.attn); its operands were finite
 *
 * or a parameter (or input) that already held one. Values are freed after their last use,
 * so it needs no more memory than one interpreter run of the graph.
 */
#ifndef MAMC_NONFINITE_H
#define MAMC_NONFINITE_H

#include "interp.h"

/* 1: a non-finite value was found (msg says which); 0: every value of the graph is finite
 * under the interpreter (msg says so); -1: the interpreter failed (msg has its error).
 * forward: per node, 1 for the forward pass (Exec.forward), or NULL. inputs: one per INPUT
 * node, in order. cx: as the step ran it (seed, step, training: dropout masks match). */
int nonfinite_first_op(const IrProgram *p, int graph, const int64_t *symvals, const Tensor *inputs,
                       const ParamStore *ps, const char *forward, InterpCx *cx, char *msg, size_t msglen);

/* The index of the first element of t that is NaN or ±Inf, or -1 (i32 tensors: -1). */
int64_t nonfinite_find(const Tensor *t);

#endif
