/* autodiff.h — reverse-mode automatic differentiation of task graphs (issue #3).
 *
 * pass_autodiff(p, graph, d): the graph must return a float scalar `loss`. It appends to the
 * same graph the nodes computing d loss / d param for every non-frozen float parameter the
 * loss depends on, and returns each as one more output named `grad.<module>.<param>` (with
 * IrOutput.module/param set), in module-table order. A parameter read by several `param`
 * nodes, or used several times, gets the sum. A parameter that does not influence the loss
 * gets no output: the optimizer treats it as having a zero gradient.
 * Its signature fits a pass table: int (*)(IrProgram *, int graph, Diag *).
 *
 * Gradients are written with the primitive ops of ir/ops.def (so fusion and the JIT handle
 * them), one rule per differentiable op in passes/grad_*.c (see grad.h). Errors (no loss,
 * an op that cannot be differentiated yet) go to d; the graph is then left as it was.
 */
#ifndef MAMC_PASSES_AUTODIFF_H
#define MAMC_PASSES_AUTODIFF_H

#include "ir.h"

int pass_autodiff(IrProgram *p, int graph, Diag *d);

/* The general form: appends the gradient of node `out` (a float scalar) with respect to each
 * of the float nodes wrt[0 .. nwrt-1] (any op: inputs too, which tests use) and stores its
 * node index in grads[i], or -1 where out does not depend on wrt[i]. Adds no outputs.
 * 1 on success; 0 with errors in d (and the graph as it was). */
int pass_autodiff_wrt(IrProgram *p, int graph, int out, int nwrt, const int *wrt, int *grads, Diag *d);

#endif
