/* fast_attention.c — softmax_attention forward (ops.def; semantics: runtime/interp/attention.c)
 * in f32 through BLAS, by blocks of query rows as its backward (fast_attention_grad.c): per
 * (batch, head) and block of ATT_BQ rows (causal: ATT_BQ_CAUSAL),
 *   S = scale Q_blk K[0:kend]^T   (sgemm; kend: the keys the block's last row may see when
 *                                  causal, and never past the batch's last unmasked key)
 *   P = the row softmax of S over the visible keys (causal j <= i + Sk - Sq, key mask != 0),
 *       max-subtracted; a row with no visible key gives zeros, as the interpreter
 *   O_blk = P V[0:kend]           (sgemm, straight into the result)
 * so only one [ATT_BQ, Sk] buffer exists, never a head's [Sq, Sk] scores, and causal blocks
 * skip the keys no row of theirs sees, padded batches their trailing masked keys. Fixed order
 * throughout (deterministic); the row loops vectorise (a branch-free exp).
 * Shapes: q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv], mask[B, Sk] -> o[B, H, Sq, Dv].
 * Without BLAS (or D, Dv = 0) it declines and the interpreter runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fast_internal.h"
#include "fast_math.h"
#ifdef MAMC_HAVE_BLAS
#include <cblas.h>
#endif

/* query rows per block: bench/attention.c's forward table (B = 1, H = 8, D = 64; 2 shared cores,
 * one BLAS thread) over 16 ... 256: causal 64 (32 is as fast up to T = 1024 and 10% slower at
 * 2048+, 128+ slower below 512); not causal 128 (3% faster than 64 at T >= 256, 256 no better) */
enum { ATT_BQ = 128, ATT_BQ_CAUSAL = 64 };

#ifdef MAMC_HAVE_BLAS
/* S[nq, kend] -> P in place for query rows i0 ... (causal: row i sees keys j < i + shift + 1;
 * keep: the batch's key mask as 1 keep / 0 drop, or NULL). Each step is its own loop so that
 * GCC vectorises it (a clamp whose result is used again in the same loop is not if-converted
 * under -ftrapping-math); the maximum runs over eight lanes, the sum over eight lanes in a
 * fixed order (deterministic). Below e^-87 a weight is ~1.6e-38 rather than 0, next to a
 * row sum >= 1; masked keys get exactly 0 (keep 0 times the clamped e^-87). */
static void block_softmax(float *S, int64_t nq, int64_t kend, int64_t i0, int64_t shift, int causal,
                          const float *keep) {
  for (int64_t r = 0; r < nq; r++) {
    float *row = S + r * kend;
    int64_t n = causal ? i0 + r + shift + 1 : kend; /* keys [0, n) may be visible */
    n = n < 0 ? 0 : n > kend ? kend : n;
    for (int64_t j = n; j < kend; j++) row[j] = 0;
    if (keep)
      for (int64_t j = 0; j < n; j++) row[j] = keep[j] != 0 ? row[j] : -INFINITY;
    float mx[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int l = 0; l < 8; l++) mx[l] = row[j + l] > mx[l] ? row[j + l] : mx[l];
    for (int l = 0; j < n; j++, l++) mx[l] = row[j] > mx[l] ? row[j] : mx[l];
    float m = mx[0];
    for (int l = 1; l < 8; l++) m = mx[l] > m ? mx[l] : m;
    if (m == -INFINITY) { /* no visible key: zeros */
      for (j = 0; j < n; j++) row[j] = 0;
      continue;
    }
    for (j = 0; j < n; j++) {
      float x = row[j] - m; /* <= 0; -inf for a masked key */
      row[j] = x < -87.0f ? -87.0f : x;
    }
    if (keep)
      for (j = 0; j < n; j++) row[j] = keep[j] * fm_exp_nonpos(row[j]);
    else
      for (j = 0; j < n; j++) row[j] = fm_exp_nonpos(row[j]);
    float z[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (j = 0; j + 8 <= n; j += 8)
      for (int l = 0; l < 8; l++) z[l] += row[j + l];
    for (int l = 0; j < n; j++, l++) z[l] += row[j];
    float iz = 1.0f / (((z[0] + z[1]) + (z[2] + z[3])) + ((z[4] + z[5]) + (z[6] + z[7])));
    for (j = 0; j < n; j++) row[j] *= iz;
  }
}
#endif

int fast_attention(FastCx *c) {
#ifndef MAMC_HAVE_BLAS
  (void)c;
  return -1;
#else
  const Tensor *q = c->in[0], *k = c->in[1], *v = c->in[2], *mask = c->n->nin > 3 ? c->in[3] : NULL;
  if (q->dt != DT_F32 || k->dt != DT_F32 || v->dt != DT_F32 || (mask && mask->dt != DT_F32)) return -1;
  int64_t B = q->shape[0], H = q->shape[1], Sq = q->shape[2], D = q->shape[3], Sk = k->shape[2], Dv = v->shape[3];
  if (D < 1 || Dv < 1 || Sk > INT32_MAX / ATT_BQ) return -1;
  int causal = (int)ir_get_i(c->n, "causal");
  double scale = ir_get_f(c->n, "scale");
  if (scale == 0) scale = 1.0 / sqrt((double)D);
  int64_t bq = causal ? ATT_BQ_CAUSAL : ATT_BQ, shift = Sk - Sq; /* causal: query i sees keys j <= i + shift */
  size_t ns = (size_t)(Sk > 0 ? Sk : 1);
  float *S = malloc(sizeof(float) * (size_t)bq * ns), *keep = mask ? malloc(sizeof(float) * ns) : NULL;
  if (!S || (mask && !keep) || !fast_alloc_out(c, DT_F32)) {
    free(S);
    free(keep);
    if (!S || (mask && !keep)) snprintf(c->err, c->errlen, "out of memory");
    return 0;
  }
  const float *Q = q->data, *K = k->data, *V = v->data, *M = mask ? mask->data : NULL;
  float *O = c->out->data;
  for (int64_t b = 0; b < B; b++) {
    int64_t klast = Sk; /* keys from klast on are all masked (padding): no block reads them */
    if (M) {
      for (int64_t j = 0; j < Sk; j++) keep[j] = M[b * Sk + j] != 0 ? 1.0f : 0.0f;
      while (klast > 0 && keep[klast - 1] == 0) klast--;
    }
    for (int64_t h = 0; h < H; h++) {
      int64_t bh = b * H + h;
      const float *Kb = K + bh * Sk * D, *Vb = V + bh * Sk * Dv;
      for (int64_t i0 = 0; i0 < Sq; i0 += bq) {
        int64_t nq = Sq - i0 < bq ? Sq - i0 : bq;
        int64_t kend = causal ? i0 + nq + shift : Sk; /* keys the block's last row may see */
        if (kend > klast) kend = klast;
        float *Ob = O + (bh * Sq + i0) * Dv;
        if (kend <= 0) { /* no key visible to any row of the block */
          memset(Ob, 0, sizeof(float) * (size_t)(nq * Dv));
          continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)kend, (int)D, (float)scale,
                    Q + (bh * Sq + i0) * D, (int)D, Kb, (int)D, 0.0f, S, (int)kend);
        block_softmax(S, nq, kend, i0, shift, causal, keep);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)Dv, (int)kend, 1.0f, S, (int)kend, Vb,
                    (int)Dv, 0.0f, Ob, (int)Dv);
      }
    }
  }
  free(S);
  free(keep);
  return 1;
#endif
}
