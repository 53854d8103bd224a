/* matmul.c — batched matrix product, a plain triple loop (this is the oracle, not a fast path).
 *
 *   a[..., M, K] (ta: a[..., K, M]),  b[..., K, N] (tb: b[..., N, K])  ->  y[..., M, N]
 *
 * The leading (batch) dims of a and b broadcast as NumPy does; ta/tb transpose the last two
 * axes of a/b. Sums accumulate in f64. Float operands only.
 */
#include "kernels.h"

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
  for (int64_t bi = 0; bi < nbatch; bi++, knext(idx, y->shape, nb)) {
    int64_t oa = koff(idx, sa, nb), ob = koff(idx, sb, nb), oy = bi * M * N;
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double acc = 0;
        for (int64_t kk = 0; kk < K; kk++) {
          double av = ld(a, oa + (ta ? kk * M + m : m * K + kk));
          double bv = ld(b, ob + (tb ? n * K + kk : kk * N + n));
          acc += av * bv;
        }
        st(y, oy + m * N + n, acc);
      }
  }
  return 1;
}
