/* fast.h — hand-written f32 CPU kernels for the ops and shapes that dominate training, used
 * by the executor before it falls back to the reference interpreter: elementwise ops with
 * broadcasting (strided loops over collapsed dims), reductions over any axes, row softmax /
 * norms, softmax attention through BLAS (forward and backward by blocks of query rows:
 * fast_attention.c, fast_attention_grad.c), the linear attentions (chunked and recurrent forms, forward and
 * backward: fast_linear_attention.c), and data movement. Every kernel is tested
 * against the interpreter (tests/runtime/, tests/dijiang/). Fused groups go to the JIT instead
 * (codegen/).
 */
#ifndef MAMC_FAST_H
#define MAMC_FAST_H

#include "tensor.h"

/* Runs node `node` if a fast kernel handles its op, dtypes and shapes. ins: operand values
 * (f32 or i32 as declared); out: empty, allocated here. Returns 1 done, 0 error (err set),
 * -1 not handled (the caller uses the interpreter). */
int fast_node(const IrProgram *p, const IrGraph *g, int node, const int64_t *symvals, const Tensor *const *ins,
              Tensor *out, char *err, size_t errlen);

#endif
