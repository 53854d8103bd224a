/* matmul.c — batched matrix product, the oracle's definition (not a fast path).
 *
 *   a[..., M, K] (ta: a[..., K, M]),  b[..., K, N] (tb: b[..., N, K])  ->  y[..., M, N]
 *
 * The leading (batch) dims of a and b broadcast as NumPy does; ta/tb transpose the last two
 * axes of a/b. Each y[m, n] is the f64 sum of a[m, k] * b[k, n] for k = 0, 1, ..., K - 1 in
 * that order, rounded once when stored. Float operands only.
 *
 * Each batch's operands are first read into f64 arrays, a's rows and b's columns contiguous
 * in k, and four outputs of a row accumulate side by side (four independent sums, each in
 * the order above: the same values as one output at a time, bit for bit, without its
 * strided reads and per-element type dispatch; the interpreter took most of its time here).
 */
#include <stdlib.h>

#include "kernels.h"

/* x's matrix at offset o as R x C f64s, row-major: out[r * C + c] = x[o + (tr ? c * R + r : r * C + c)]. */
static void load_f64(const Tensor *x, int64_t o, int64_t R, int64_t C, int tr, double *out) {
  for (int64_t r = 0; r < R; r++)
    for (int64_t c = 0; c < C; c++) out[r * C + c] = ld(x, o + (tr ? c * R + r : r * C + c));
}

/* Strides over the batch dims of y (rank nb, shape bshape) into x, whose matrices have
 * x.shape[-2] * x.shape[-1] elements; 0 where x broadcasts. */
static int batch_strides(const Tensor *x, int nb, const int64_t *bshape, int64_t *st) {
  int xb = x->rank - 2;
  int64_t s = x->shape[x->rank - 2] * x->shape[x->rank - 1];
  if (xb > nb) return 0;
  for (int i = nb - 1; i >= 0; i--) {
    int xi = i - (nb - xb);
    if (xi < 0) {
      st[i] = 0;
      continue;
    }
    int64_t d = x->shape[xi];
    if (d == bshape[i])
      st[i] = d == 1 ? 0 : s;
    else if (d == 1)
      st[i] = 0;
    else
      return 0;
    s *= d;
  }
  return 1;
}

int interp_MATMUL(Kern *k) {
  const Tensor *a = k->in[0], *b = k->in[1];
  Tensor *y = k->out;
  if (!kneed_float(k, 0) || !kneed_float(k, 1)) return 0;
  int ta = (int)ir_get_i(k->n, "ta"), tb = (int)ir_get_i(k->n, "tb");
  char s1[200], s2[200], s3[200];
  if (a->rank < 2 || b->rank < 2 || y->rank < 2) return kfail(k, "operands need rank >= 2");
  int64_t M = a->shape[a->rank - 2 + ta], K = a->shape[a->rank - 1 - ta];
  int64_t Kb = b->shape[b->rank - 2 + tb], N = b->shape[b->rank - 1 - tb];
  int nb = y->rank - 2;
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
  if (K != Kb || y->shape[nb] != M || y->shape[nb + 1] != N || !batch_strides(a, nb, y->shape, sa) ||
      !batch_strides(b, nb, y->shape, sb))
    return kfail(k, "shapes %s @ %s (ta=%d, tb=%d) do not give %s", kshape(s1, sizeof s1, a),
                 kshape(s2, sizeof s2, b), ta, tb, kshape(s3, sizeof s3, y));
  int64_t nbatch = 1;
  for (int i = 0; i < nb; i++) nbatch *= y->shape[i];
  double *A = malloc(sizeof(double) * (size_t)(M * K > 0 ? M * K : 1));
  double *BT = malloc(sizeof(double) * (size_t)(N * K > 0 ? N * K : 1)); /* b's columns */
  if (!A || !BT) {
    free(A);
    free(BT);
    return kfail(k, "out of memory");
  }
  for (int64_t bi = 0; bi < nbatch; bi++, knext(idx, y->shape, nb)) {
    int64_t oy = bi * M * N;
    load_f64(a, koff(idx, sa, nb), M, K, ta, A);
    load_f64(b, koff(idx, sb, nb), N, K, !tb, BT);
    for (int64_t m = 0; m < M; m++) {
      const double *ar = A + m * K;
      int64_t n = 0;
      for (; n + 4 <= N; n += 4) {
        const double *b0 = BT + n * K, *b1 = b0 + K, *b2 = b1 + K, *b3 = b2 + K;
        double acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (int64_t kk = 0; kk < K; kk++) {
          double av = ar[kk];
          acc0 += av * b0[kk];
          acc1 += av * b1[kk];
          acc2 += av * b2[kk];
          acc3 += av * b3[kk];
        }
        st(y, oy + m * N + n, acc0);
        st(y, oy + m * N + n + 1, acc1);
        st(y, oy + m * N + n + 2, acc2);
        st(y, oy + m * N + n + 3, acc3);
      }
      for (; n < N; n++) {
        const double *bc = BT + n * K;
        double acc = 0;
        for (int64_t kk = 0; kk < K; kk++) acc += ar[kk] * bc[kk];
        st(y, oy + m * N + n, acc);
      }
    }
  }
  free(A);
  free(BT);
  return 1;
}
