/* fast_linattn.h — the f32 cores of the linear-attention kernels (fast_linattn_core.c), on one
 * (batch, head) slice of feature-mapped operands, and their small GEMM wrapper. Internal to
 * runtime/fast/ (fast_linear_attention.c drives them per node).
 *
 * One slice (row-major, contiguous rows):
 *   q[T, m], k[T, m]    feature-mapped queries and keys
 *   v[T, dv]            values (dv = Dv + 1 with norm = running: a ones column appended)
 *   lg[T], beta[T]      log-gates (NULL: 0) and key weights (NULL: 1)
 *   S[m, dv]            the state: on entry the state before position 0, on exit after T-1
 * with the causal recurrence S_t = e^{lg_t} S_{t-1} + beta_t k_t^T v_t, o_t = q_t S_t, and
 * `strict` excluding the diagonal (o_t sees s < t only: the anti-causal half of the
 * bidirectional decay, run on the time-reversed slice).
 */
#ifndef MAMC_FAST_LINATTN_H
#define MAMC_FAST_LINATTN_H

#include <stdint.h>

typedef struct LaSlice {
  int64_t T, m, dv, C;      /* length, features, value width, chunk */
  const float *q, *k, *v;
  const float *lg, *beta;
  int strict;
} LaSlice;

/* C[M, N] = alpha op(A) op(B) + beta C, row-major (cblas_sgemm, or loops without BLAS). */
void la_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Scratch floats the chunked cores need for a slice (the caller allocates them). */
int64_t la_work_size(const LaSlice *s);

/* Chunked forward: o[T, dv] += the attention (o may be NULL: states only); S updated in place;
 * states (may be NULL) receives the state at the start of every chunk, [ceil(T/C), m, dv]. */
void la_chunk_fwd(const LaSlice *s, float *S, float *o, float *states, float *work);

/* Recurrent forward: one position at a time (decoding); same contract as la_chunk_fwd
 * without states. */
void la_recurrent_fwd(const LaSlice *s, float *S, float *o);

/* Chunked backward of la_chunk_fwd given its chunk states and dO[T, dv]: accumulates (+=)
 * dq[T, m], dk'[T, m] (the gradient of beta_t k_t: the caller applies beta), dv[T, dv];
 * R[m, dv] (zero on entry) ends as the gradient of the entry state. */
void la_chunk_bwd(const LaSlice *s, const float *states, const float *dO, float *dq, float *dkb, float *dv, float *R,
                  float *work);

#endif
