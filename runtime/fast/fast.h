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

/* Cross-entropy's row log-sum-exps, kept from a cross_entropy for a cross_entropy_grad of the
 * same logits, targets and ignore id (runtime/exec.c pairs them within one run): with them the
 * gradient makes one pass over each row instead of three (no maximum, no sum: p = e^(x - lse)). */
typedef struct FastLse {
  float *v;        /* per row of the logits: log sum_j e^x[j]; rows whose target is ignored: unset */
  int64_t rows;    /* rows the forward wrote; 0: none (the gradient computes its own statistics) */
  int64_t cap;     /* floats allocated at v */
  int64_t reused;  /* gradients that read them (statistics for tests and benchmarks) */
} FastLse;

/* fast_node with lse: a cross_entropy writes its rows' log-sum-exp there (growing v), a
 * cross_entropy_grad reads them when lse->rows is its row count; other ops ignore it. */
int fast_node_lse(const IrProgram *p, const IrGraph *g, int node, const int64_t *symvals, const Tensor *const *ins,
                  Tensor *out, FastLse *lse, char *err, size_t errlen);

#endif
