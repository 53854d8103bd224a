/* fast_attention.c — softmax_attention forward in f32 through BLAS, one (batch, head) at a
 * time: S = scale * Q Kᵀ (sgemm), the causal and key masks as -inf, a max-subtracted row
 * softmax (a row with no visible key gives zeros, as the interpreter), O = P V (sgemm).
 * Shapes: q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv], mask[B, Sk] -> o[B, H, Sq, Dv].
 * Without BLAS it declines and the interpreter runs. */
#include <stdlib.h>

#include "fast_internal.h"
#ifdef MAMC_HAVE_BLAS
#include <cblas.h>
#endif

int fast_attention(FastCx *c) {
#ifndef MAMC_HAVE_BLAS
  (void)c;
  return -1;
#else
  const Tensor *q = c->in[0], *k = c->in[1], *v = c->in[2], *mask = c->n->nin > 3 ? c->in[3] : NULL;
  if (q->dt != DT_F32 || k->dt != DT_F32 || v->dt != DT_F32 || (mask && mask->dt != DT_F32)) return -1;
  int64_t B = q->shape[0], H = q->shape[1], Sq = q->shape[2], D = q->shape[3], Sk = k->shape[2], Dv = v->shape[3];
  int causal = (int)ir_get_i(c->n, "causal");
  double scale = ir_get_f(c->n, "scale");
  if (scale == 0) scale = 1.0 / sqrt((double)D);
  float *S = malloc(sizeof(float) * (size_t)(Sq * Sk > 0 ? Sq * Sk : 1));
  if (!S) return snprintf(c->err, c->errlen, "out of memory"), 0;
  if (!fast_alloc_out(c, DT_F32)) {
    free(S);
    return 0;
  }
  const float *Q = q->data, *K = k->data, *Vv = v->data, *M = mask ? mask->data : NULL;
  float *O = c->out->data;
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t bh = b * H + h;
      if (Sq && Sk && D)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Sq, (int)Sk, (int)D, (float)scale, Q + bh * Sq * D,
                    (int)D, K + bh * Sk * D, (int)D, 0.0f, S, (int)Sk);
      for (int64_t i = 0; i < Sq; i++) {
        float *row = S + i * Sk, m = -INFINITY;
        for (int64_t j = 0; j < Sk; j++) {
          int vis = (!causal || j <= i + (Sk - Sq)) && (!M || M[b * Sk + j] != 0);
          if (!vis) row[j] = -INFINITY;
          else if (row[j] > m) m = row[j];
        }
        if (m == -INFINITY) {
          for (int64_t j = 0; j < Sk; j++) row[j] = 0;
          continue;
        }
        double z = 0;
        for (int64_t j = 0; j < Sk; j++) {
          float e = row[j] == -INFINITY ? 0.0f : expf(row[j] - m);
          row[j] = e;
          z += e;
        }
        float iz = (float)(1.0 / z);
        for (int64_t j = 0; j < Sk; j++) row[j] *= iz;
      }
      if (Sq && Dv && Sk)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Sq, (int)Dv, (int)Sk, 1.0f, S, (int)Sk,
                    Vv + bh * Sk * Dv, (int)Dv, 0.0f, O + bh * Sq * Dv, (int)Dv);
    }
  free(S);
  return 1;
#endif
}
