/* matmul.h — the runtime's fast matrix product (BLAS when built with it). */
#ifndef MAMC_MATMUL_H
#define MAMC_MATMUL_H

#include "tensor.h"

/* out = a @ b with ta/tb transposing the last two axes of a/b, leading axes broadcast
 * (the semantics of the IR's matmul). out: empty (allocated here) or already allocated with
 * the right shape and dtype. f32 or f64 operands of one dtype. 1 ok, 0 with err. */
int rt_matmul(const Tensor *a, const Tensor *b, int ta, int tb, Tensor *out, char *err, size_t errlen);

/* C[K, N] = Aᵀ B for row-major A[rows, K], B[rows, N] (f32). */
void rt_gemm_at_b(const float *A, const float *B, float *C, int64_t rows, int64_t K, int64_t N);

/* The number of threads OpenBLAS uses (process-wide: OpenBLAS keeps it globally). No-op
 * without BLAS. */
void rt_blas_set_threads(int n);

#endif
