/* loss.c — cross_entropy, the training loss (mean over the positions that count), and
 * cross_entropy_grad, its gradient with respect to the logits (at the end of the file).
 *
 *   logits[..., V] float, targets[...] i32  ->  loss[] (scalar)
 *
 * With log p = log_softmax(logits) along the last axis (max-subtracted, in f64), smoothing s
 * and ignore index i, over the positions P whose target != i:
 *
 *   loss = 1/|P| * sum_{p in P} [ (1 - s) * (-log p[t_p]) + s * (-1/V * sum_j log p[j]) ]
 *
 * (PyTorch's label smoothing: the target distribution is (1 - s) one-hot + s uniform.)
 * The loss is 0 when every position is ignored. A counted target outside [0, V) is an error.
 */
#include "kernels.h"

int interp_CROSS_ENTROPY(Kern *k) {
  const Tensor *lg = k->in[0], *tg = k->in[1];
  if (!kneed_float(k, 0)) return 0;
  if (!is_int(tg)) return kfail(k, "targets must be i32, got %s", dtype_name(tg->dt));
  if (lg->rank != tg->rank + 1) return kfail(k, "logits must have one more axis than targets");
  int64_t V = lg->shape[lg->rank - 1], ignore = ir_get_i(k->n, "ignore");
  double s = ir_get_f(k->n, "smoothing");
  if (!(s >= 0 && s < 1)) return kfail(k, "smoothing must be in [0, 1), got %g", s);
  if (tg->n * V != lg->n) return kfail(k, "logits do not match targets (expected targets + [V])");
  double total = 0;
  int64_t count = 0, idx[IR_MAX_RANK] = {0};
  for (int64_t p = 0; p < tg->n; p++, knext(idx, tg->shape, tg->rank)) {
    int64_t t = ldi(tg, p);
    if (t == ignore) continue;
    if (t < 0 || t >= V) {
      char where[200];
      return kfail(k, "target %lld at index %s is out of range [0, %lld) (ignore = %lld)", (long long)t,
                   rt_shape_str(where, sizeof where, tg->rank, idx), (long long)V, (long long)ignore);
    }
    const int64_t row = p * V;
    double m = -INFINITY, z = 0, sumlogp = 0;
    for (int64_t j = 0; j < V; j++) m = fmax(m, ld(lg, row + j));
    for (int64_t j = 0; j < V; j++) z += exp(ld(lg, row + j) - m);
    double lse = m + log(z); /* log p[j] = x_j - lse */
    for (int64_t j = 0; j < V; j++) sumlogp += ld(lg, row + j) - lse;
    double nll = -(ld(lg, row + t) - lse);
    total += (1 - s) * nll + (s > 0 ? s * (-sumlogp / (double)V) : 0.0);
    count++;
  }
  st(k->out, 0, count ? total / (double)count : 0.0);
  return 1;
}

/* cross_entropy_grad: logits[..., V], targets[...], g[] -> dlogits[..., V] =
 *   (softmax(logits) - q) * [t != ignore] * g / max(1, count),  q = (1 - s) onehot(t) + s / V
 * (the gradient rule of passes/grad_nn.c; count = the positions whose target != ignore). A
 * counted target outside [0, V) matches no column (as the composed rule's one-hot). */
int interp_CROSS_ENTROPY_GRAD(Kern *k) {
  const Tensor *lg = k->in[0], *tg = k->in[1];
  if (!kneed_float(k, 0)) return 0;
  if (!is_int(tg)) return kfail(k, "targets must be i32, got %s", dtype_name(tg->dt));
  if (lg->rank != tg->rank + 1 || k->in[2]->n != 1) return kfail(k, "expected logits = targets + [V] and a scalar g");
  int64_t V = lg->shape[lg->rank - 1], ignore = ir_get_i(k->n, "ignore"), count = 0;
  double s = ir_get_f(k->n, "smoothing"), g = ld(k->in[2], 0);
  if (tg->n * V != lg->n) return kfail(k, "logits do not match targets (expected targets + [V])");
  for (int64_t p = 0; p < tg->n; p++) count += ldi(tg, p) != ignore;
  double scale = g / (double)(count > 1 ? count : 1);
  for (int64_t p = 0; p < tg->n; p++) {
    int64_t t = ldi(tg, p), row = p * V;
    if (t == ignore) {
      for (int64_t j = 0; j < V; j++) st(k->out, row + j, 0.0);
      continue;
    }
    double m = -INFINITY, z = 0;
    for (int64_t j = 0; j < V; j++) m = fmax(m, ld(lg, row + j));
    for (int64_t j = 0; j < V; j++) z += exp(ld(lg, row + j) - m);
    for (int64_t j = 0; j < V; j++) {
      double q = (j == t ? 1 - s : 0) + s / (double)V;
      st(k->out, row + j, (exp(ld(lg, row + j) - m) / z - q) * scale);
    }
  }
  return 1;
}
