/* attention.c — softmax_attention and its backward softmax_attention_grad in their quadratic
 * reference forms (every query against every visible key; O(S^2), exact up to f64 rounding);
 * the fast kernels are tested against them. The linear attentions (quadratic and recurrent
 * reference forms, backward) are in linattn.c.
 *
 * Shapes: q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv] -> o[B, H, Sq, Dv].
 */
#include <stdlib.h>

#include "kernels.h"

/* Check the q/k/v shapes and that t (the result, or dO) is [B, H, Sq, Dv]; fills the sizes. */
static int qkv_dims(Kern *k, const Tensor *o, int64_t *B, int64_t *H, int64_t *Sq, int64_t *Sk, int64_t *D, int64_t *Dv) {
  const Tensor *q = k->in[0], *kk = k->in[1], *v = k->in[2];
  char s1[200], s2[200], s3[200];
  for (int i = 0; i < 3; i++)
    if (!kneed_float(k, i)) return 0;
  if (q->rank != 4 || kk->rank != 4 || v->rank != 4 || o->rank != 4)
    return kfail(k, "q, k, v must be [B, H, S, D]");
  *B = q->shape[0], *H = q->shape[1], *Sq = q->shape[2], *D = q->shape[3], *Sk = kk->shape[2], *Dv = v->shape[3];
  if (kk->shape[0] != *B || kk->shape[1] != *H || kk->shape[3] != *D || v->shape[0] != *B || v->shape[1] != *H ||
      v->shape[2] != *Sk || o->shape[0] != *B || o->shape[1] != *H || o->shape[2] != *Sq || o->shape[3] != *Dv)
    return kfail(k, "q %s, k %s, v %s do not fit together", kshape(s1, sizeof s1, q), kshape(s2, sizeof s2, kk),
                 kshape(s3, sizeof s3, v));
  return 1;
}

static double dot(const Tensor *a, int64_t ia, const Tensor *b, int64_t ib, int64_t D) {
  double s = 0;
  for (int64_t d = 0; d < D; d++) s += ld(a, ia + d) * ld(b, ib + d);
  return s;
}

/* softmax_attention {causal, scale}: q, k, v (, mask[B, Sk]: nonzero keeps key j) -> o.
 *   scale = 0 means 1/sqrt(D). Key j is visible to query i iff the mask keeps it and, when
 *   causal, j <= i + (Sk - Sq) (queries are the last Sq of the Sk positions).
 *   o_i = sum_{visible j} softmax_j(scale * q_i . k_j) v_j   (max-subtracted)
 *   A query with no visible key gives zeros. */
int interp_SOFTMAX_ATTENTION(Kern *k) {
  int64_t B, H, Sq, Sk, D, Dv;
  if (!qkv_dims(k, k->out, &B, &H, &Sq, &Sk, &D, &Dv)) return 0;
  const Tensor *q = k->in[0], *kk = k->in[1], *v = k->in[2], *mask = k->nin > 3 ? k->in[3] : NULL;
  Tensor *o = k->out;
  if (mask && (mask->rank != 2 || mask->shape[0] != B || mask->shape[1] != Sk))
    return kfail(k, "key mask must be [B, Sk] = [%lld, %lld]", (long long)B, (long long)Sk);
  int causal = (int)ir_get_i(k->n, "causal");
  double scale = ir_get_f(k->n, "scale");
  if (scale == 0) scale = 1.0 / sqrt((double)D);
  double *s = malloc((size_t)(Sk ? Sk : 1) * sizeof *s);
  if (!s) return kfail(k, "out of memory");
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < Sq; i++) {
        int64_t qi = ((b * H + h) * Sq + i) * D, oi = ((b * H + h) * Sq + i) * Dv;
        double m = -INFINITY, z = 0;
        int any = 0;
        for (int64_t j = 0; j < Sk; j++) {
          int vis = (!causal || j <= i + (Sk - Sq)) && (!mask || ld(mask, b * Sk + j) != 0);
          s[j] = vis ? scale * dot(q, qi, kk, ((b * H + h) * Sk + j) * D, D) : -INFINITY;
          if (vis) {
            any = 1;
            m = fmax(m, s[j]);
          }
        }
        if (!any) continue; /* o stays zero */
        for (int64_t j = 0; j < Sk; j++) z += s[j] == -INFINITY ? 0.0 : exp(s[j] - m);
        for (int64_t e = 0; e < Dv; e++) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; j++)
            if (s[j] != -INFINITY) acc += exp(s[j] - m) * ld(v, ((b * H + h) * Sk + j) * Dv + e);
          st(o, oi + e, acc / z);
        }
      }
  free(s);
  return 1;
}

/* softmax_attention_grad {causal, scale, wrt}: q, k, v (, mask), dO -> dq | dk | dv (wrt = all),
 * dq (q), dk | dv (kv), packed on the last axis. Per query i, with P_i the forward's row
 * (recomputed, zeros when no key is visible):
 *   dP_ij = dO_i . v_j,  D_i = sum_j P_ij dP_ij (= dO_i . o_i),  dS_ij = P_ij (dP_ij - D_i)
 *   dq_i = scale sum_j dS_ij k_j,  dk_j = scale sum_i dS_ij q_i,  dv_j = sum_i P_ij dO_i */
int interp_SOFTMAX_ATTENTION_GRAD(Kern *k) {
  int64_t B, H, Sq, Sk, D, Dv;
  const Tensor *dO = k->in[k->nin - 1];
  if (!kneed_float(k, k->nin - 1) || !qkv_dims(k, dO, &B, &H, &Sq, &Sk, &D, &Dv)) return 0;
  const Tensor *q = k->in[0], *kk = k->in[1], *v = k->in[2], *mask = k->nin > 4 ? k->in[3] : NULL;
  Tensor *o = k->out;
  if (mask && (mask->rank != 2 || mask->shape[0] != B || mask->shape[1] != Sk))
    return kfail(k, "key mask must be [B, Sk] = [%lld, %lld]", (long long)B, (long long)Sk);
  int causal = (int)ir_get_i(k->n, "causal"), wrt = (int)ir_get_i(k->n, "wrt"); /* 0 all, 1 q, 2 kv */
  int64_t W = wrt == 1 ? D : wrt == 2 ? D + Dv : 2 * D + Dv, rows = wrt == 2 ? Sk : Sq;
  if (o->rank != 4 || o->shape[2] != rows || o->shape[3] != W || (wrt == 0 && Sq != Sk))
    return kfail(k, "the result must be [B, H, %lld, %lld]", (long long)rows, (long long)W);
  int64_t kcol = wrt == 0 ? D : 0, vcol = kcol + D; /* where dk and dv start in a result row */
  double scale = ir_get_f(k->n, "scale");
  if (scale == 0) scale = 1.0 / sqrt((double)D);
  size_t ns = (size_t)(Sk ? Sk : 1);
  double *s = malloc(ns * sizeof *s), *dp = malloc(ns * sizeof *dp), *dq = malloc((size_t)(D ? D : 1) * sizeof *dq);
  double *dk = malloc(ns * (size_t)(D ? D : 1) * sizeof *dk), *dv = malloc(ns * (size_t)(Dv ? Dv : 1) * sizeof *dv);
  int ok = (s && dp && dq && dk && dv) || kfail(k, "out of memory");
  for (int64_t b = 0; ok && b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      int64_t bh = b * H + h;
      memset(dk, 0, ns * (size_t)(D ? D : 1) * sizeof *dk);
      memset(dv, 0, ns * (size_t)(Dv ? Dv : 1) * sizeof *dv);
      for (int64_t i = 0; i < Sq; i++) {
        int64_t qi = (bh * Sq + i) * D, gi = (bh * Sq + i) * Dv;
        double m = -INFINITY, z = 0, Di = 0;
        for (int64_t j = 0; j < Sk; j++) {
          int vis = (!causal || j <= i + (Sk - Sq)) && (!mask || ld(mask, b * Sk + j) != 0);
          s[j] = vis ? scale * dot(q, qi, kk, (bh * Sk + j) * D, D) : -INFINITY;
          m = fmax(m, s[j]);
        }
        for (int64_t d = 0; d < D; d++) dq[d] = 0;
        if (m != -INFINITY) { /* else: no visible key, P_i = 0 and the row contributes nothing */
          for (int64_t j = 0; j < Sk; j++) z += s[j] == -INFINITY ? 0.0 : exp(s[j] - m);
          for (int64_t j = 0; j < Sk; j++) {
            s[j] = s[j] == -INFINITY ? 0.0 : exp(s[j] - m) / z; /* P_ij */
            dp[j] = dot(dO, gi, v, (bh * Sk + j) * Dv, Dv);
            Di += s[j] * dp[j];
          }
          for (int64_t j = 0; j < Sk; j++) {
            if (s[j] == 0) continue;
            double ds = s[j] * (dp[j] - Di) * scale;
            for (int64_t d = 0; d < D; d++) {
              dq[d] += ds * ld(kk, (bh * Sk + j) * D + d);
              dk[j * D + d] += ds * ld(q, qi + d);
            }
            for (int64_t e = 0; e < Dv; e++) dv[j * Dv + e] += s[j] * ld(dO, gi + e);
          }
        }
        if (wrt != 2)
          for (int64_t d = 0; d < D; d++) st(o, (bh * Sq + i) * W + d, dq[d]);
      }
      for (int64_t j = 0; wrt != 1 && j < Sk; j++) {
        for (int64_t d = 0; d < D; d++) st(o, (bh * Sk + j) * W + kcol + d, dk[j * D + d]);
        for (int64_t e = 0; e < Dv; e++) st(o, (bh * Sk + j) * W + vcol + e, dv[j * Dv + e]);
      }
    }
  free(s);
  free(dp);
  free(dq);
  free(dk);
  free(dv);
  return ok;
}
