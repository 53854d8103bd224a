/* fast_attention_grad.c — softmax_attention_grad (ops.def; semantics: runtime/interp/attention.c)
 * in f32 through BLAS, flash-style: per (batch, head), blocks of ATT_BQ query rows (causal:
 * ATT_BQ_CAUSAL), so only two [ATT_BQ, Sk] buffers exist at any time:
 *   S  = scale Q_blk K^T                 (sgemm)  -> P: the row softmax over visible keys (a row
 *                                                    with none gives zeros, as the forward)
 *   dP = dO_blk V^T                      (sgemm)  -> dS = P (dP - D_i), D_i = sum_j P_ij dP_ij
 *   dQ_blk  = scale dS K                 (sgemm, straight into the result's dq columns)
 *   dK     += scale dS^T Q_blk,  dV += P^T dO_blk   (sgemm, accumulated in the result in block
 *                                                    order: deterministic)
 * Causal blocks only touch the keys their last row may see. Shapes: q[B, H, Sq, D],
 * k[B, H, Sk, D], v[B, H, Sk, Dv], mask[B, Sk] (f32), dO[B, H, Sq, Dv]. Without BLAS it
 * declines and the interpreter runs. */
#include <stdlib.h>

#include "fast_internal.h"
#ifdef MAMC_HAVE_BLAS
#include <cblas.h>
#endif

/* query rows per block; causal blocks are smaller so more of the keys no row sees are skipped
 * (measured on 2 cores: 32 beats 16 and 64 for causal, T = 64 ... 2048) */
enum { ATT_BQ = 64, ATT_BQ_CAUSAL = 32 };

#ifdef MAMC_HAVE_BLAS
/* P and dS of one block in place: S[nq, kend] -> P, dP[nq, kend] -> dS, for query rows i0 ...
 * (causal: row i sees keys j <= i + shift; M: the batch's key mask or NULL). Sums run over
 * four fixed partial sums (a fixed order: deterministic). */
static void block_softmax(float *S, float *dP, int64_t nq, int64_t kend, int64_t i0, int64_t shift, int causal,
                          const float *M) {
  for (int64_t r = 0; r < nq; r++) {
    float *row = S + r * kend, *dp = dP + r * kend, m = -INFINITY;
    int64_t n = causal ? i0 + r + shift + 1 : kend; /* keys [0, n) may be visible */
    n = n < 0 ? 0 : n > kend ? kend : n;
    for (int64_t j = 0; M && j < n; j++)
      if (M[j] == 0) row[j] = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = row[j] > m ? row[j] : m;
    if (m == -INFINITY) n = 0; /* no visible key: P = 0, dS = 0 */
    for (int64_t j = n; j < kend; j++) row[j] = dp[j] = 0;
    if (!n) continue;
    float z[4] = {0, 0, 0, 0}, d[4] = {0, 0, 0, 0};
    for (int64_t j = 0; j < n; j++) { /* exp(-inf) = 0: masked keys */
      row[j] = expf(row[j] - m);
      z[j & 3] += row[j];
    }
    float iz = 1.0f / ((z[0] + z[1]) + (z[2] + z[3]));
    for (int64_t j = 0; j < n; j++) {
      row[j] *= iz;
      d[j & 3] += row[j] * dp[j];
    }
    float D = (d[0] + d[1]) + (d[2] + d[3]);
    for (int64_t j = 0; j < n; j++) dp[j] = row[j] * (dp[j] - D);
  }
}
#endif

int fast_attention_grad(FastCx *c) {
#ifndef MAMC_HAVE_BLAS
  (void)c;
  return -1;
#else
  int nin = c->n->nin;
  const Tensor *q = c->in[0], *k = c->in[1], *v = c->in[2], *mask = nin > 4 ? c->in[3] : NULL, *g = c->in[nin - 1];
  if (q->dt != DT_F32 || k->dt != DT_F32 || v->dt != DT_F32 || g->dt != DT_F32 || (mask && mask->dt != DT_F32)) return -1;
  int64_t B = q->shape[0], H = q->shape[1], Sq = q->shape[2], D = q->shape[3], Sk = k->shape[2], Dv = v->shape[3];
  if (D < 1 || Dv < 1 || Sk > INT32_MAX / ATT_BQ) return -1;
  int causal = (int)ir_get_i(c->n, "causal"), wrt = (int)ir_get_i(c->n, "wrt"); /* 0 all, 1 q, 2 kv */
  int64_t W = wrt == 1 ? D : wrt == 2 ? D + Dv : 2 * D + Dv, kcol = wrt == 0 ? D : 0, vcol = kcol + D;
  double scale = ir_get_f(c->n, "scale");
  if (scale == 0) scale = 1.0 / sqrt((double)D);
  size_t blk = (size_t)ATT_BQ * (size_t)(Sk > 0 ? Sk : 1);
  float *S = malloc(sizeof(float) * blk), *dP = malloc(sizeof(float) * blk);
  if (!S || !dP || !fast_alloc_out_zeroed(c, DT_F32)) {
    free(S);
    free(dP);
    if (!S || !dP) snprintf(c->err, c->errlen, "out of memory");
    return 0;
  }
  const float *Q = q->data, *K = k->data, *V = v->data, *G = g->data, *M = mask ? mask->data : NULL;
  float *O = c->out->data;
  int64_t shift = Sk - Sq, bq = causal ? ATT_BQ_CAUSAL : ATT_BQ; /* causal: query i sees keys j <= i + shift */
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t bh = b * H + h;
      const float *Kb = K + bh * Sk * D, *Vb = V + bh * Sk * Dv;
      float *dKV = O + bh * Sk * W; /* wrt all / kv: rows of keys */
      for (int64_t i0 = 0; i0 < Sq; i0 += bq) {
        int64_t nq = Sq - i0 < bq ? Sq - i0 : bq;
        int64_t kend = causal ? i0 + nq + shift : Sk; /* keys the block's last row may see */
        if (kend > Sk) kend = Sk;
        if (kend <= 0) continue; /* no key visible to any row: zeros */
        const float *Qb = Q + (bh * Sq + i0) * D, *Gb = G + (bh * Sq + i0) * Dv;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)kend, (int)D, (float)scale, Qb, (int)D, Kb,
                    (int)D, 0.0f, S, (int)kend);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)kend, (int)Dv, 1.0f, Gb, (int)Dv, Vb,
                    (int)Dv, 0.0f, dP, (int)kend);
        block_softmax(S, dP, nq, kend, i0, shift, causal, M ? M + b * Sk : NULL);
        if (wrt != 2)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)kend, (float)scale, dP,
                      (int)kend, Kb, (int)D, 0.0f, O + (bh * Sq + i0) * W, (int)W);
        if (wrt != 1) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kend, (int)D, (int)nq, (float)scale, dP,
                      (int)kend, Qb, (int)D, 1.0f, dKV + kcol, (int)W);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kend, (int)Dv, (int)nq, 1.0f, S, (int)kend, Gb,
                      (int)Dv, 1.0f, dKV + vcol, (int)W);
        }
      }
    }
  free(S);
  free(dP);
  return 1;
#endif
}
