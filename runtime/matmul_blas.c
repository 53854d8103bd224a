/* matmul_blas.c — the runtime's matrix product: a[..., M, K] @ b[..., K, N] (ta/tb transpose
 * the last two axes) with NumPy broadcasting of the leading axes, through OpenBLAS
 * (cblas_sgemm / cblas_dgemm) when built with it, else a blocked C loop.
 *
 * When b has no batch axes and a is not transposed, a's leading axes fold into M: one GEMM
 * [B*S, K] @ [K, N] instead of B small ones (the common x @ W of a linear layer).
 */
#include "matmul.h"

#include <stdlib.h>
#ifdef MAMC_HAVE_BLAS
#include <cblas.h>
#endif

static void gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A, const void *B, void *C,
                     int f64) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) {
        int64_t ia = ta ? k * M + i : i * K + k, ib = tb ? j * K + k : k * N + j;
        s += f64 ? ((const double *)A)[ia] * ((const double *)B)[ib]
                 : (double)((const float *)A)[ia] * ((const float *)B)[ib];
      }
      if (f64)
        ((double *)C)[i * N + j] = s;
      else
        ((float *)C)[i * N + j] = (float)s;
    }
}

static void gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A, const void *B, void *C, int f64) {
#ifdef MAMC_HAVE_BLAS
  if (M > 0 && N > 0 && K > 0) {
    if (f64)
      cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                  (int)K, 1.0, A, ta ? (int)M : (int)K, B, tb ? (int)K : (int)N, 0.0, C, (int)N);
    else
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                  (int)K, 1.0f, A, ta ? (int)M : (int)K, B, tb ? (int)K : (int)N, 0.0f, C, (int)N);
    return;
  }
#endif
  if (K == 0) {
    memset(C, 0, (size_t)(M * N) * (f64 ? 8 : 4));
    return;
  }
  gemm_ref(ta, tb, M, N, K, A, B, C, f64);
}

void rt_gemm_at_b(const float *A, const float *B, float *C, int64_t rows, int64_t K, int64_t N) {
  gemm(1, 0, K, N, rows, A, B, C, 0);
}

void rt_blas_set_threads(int n) {
#ifdef MAMC_HAVE_BLAS
  openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

int rt_matmul(const Tensor *a, const Tensor *b, int ta, int tb, Tensor *out, char *err, size_t errlen) {
  if (a->dt != b->dt || (a->dt != DT_F32 && a->dt != DT_F64) || a->rank < 2 || b->rank < 2) {
    snprintf(err, errlen, "matmul: needs f32 or f64 operands of rank >= 2 and one dtype");
    return 0;
  }
  int f64 = a->dt == DT_F64;
  int64_t M = a->shape[a->rank - 2 + ta], K = a->shape[a->rank - 1 - ta];
  int64_t K2 = b->shape[b->rank - 2 + tb], N = b->shape[b->rank - 1 - tb];
  if (K != K2) {
    snprintf(err, errlen, "matmul: inner dimensions differ (%lld and %lld)", (long long)K, (long long)K2);
    return 0;
  }
  /* batch shape: broadcast of the leading axes */
  int ra = a->rank - 2, rb = b->rank - 2, r = ra > rb ? ra : rb;
  int64_t bshape[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK];
  int64_t stride_a = M * K, stride_b = K * N;
  for (int i = r - 1, ia = ra - 1, ib = rb - 1; i >= 0; i--, ia--, ib--) {
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      snprintf(err, errlen, "matmul: batch dimensions do not broadcast (%lld and %lld)", (long long)da, (long long)db);
      return 0;
    }
    bshape[i] = da > db ? da : db;
    sa[i] = da == 1 ? 0 : stride_a;
    sb[i] = db == 1 ? 0 : stride_b;
    if (ia >= 0) stride_a *= a->shape[ia];
    if (ib >= 0) stride_b *= b->shape[ib];
  }
  int64_t oshape[IR_MAX_RANK];
  memcpy(oshape, bshape, sizeof(int64_t) * (size_t)r);
  oshape[r] = M;
  oshape[r + 1] = N;
  if (!out->data && !rt_tensor_alloc_raw(out, a->dt, r + 2, oshape)) {
    snprintf(err, errlen, "matmul: out of memory");
    return 0;
  }
  size_t es = f64 ? 8 : 4;
  if (rb == 0 && !ta) { /* fold a's batch axes into M */
    int64_t rows = a->n / K;
    gemm(0, tb, rows, N, K, a->data, b->data, out->data, f64);
    return 1;
  }
  int64_t nb = rt_numel(r, bshape), idx[IR_MAX_RANK] = {0};
  for (int64_t t = 0; t < nb; t++) {
    int64_t oa = 0, ob = 0;
    for (int i = 0; i < r; i++) {
      oa += idx[i] * sa[i];
      ob += idx[i] * sb[i];
    }
    gemm(ta, tb, M, N, K, (const char *)a->data + (size_t)oa * es, (const char *)b->data + (size_t)ob * es,
         (char *)out->data + (size_t)(t * M * N) * es, f64);
    for (int i = r - 1; i >= 0; i--) {
      if (++idx[i] < bshape[i]) break;
      idx[i] = 0;
    }
  }
  return 1;
}
