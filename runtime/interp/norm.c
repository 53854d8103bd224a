/* norm.c — softmax and normalisation kernels: softmax, log_softmax (along any axis),
 * layernorm, rmsnorm, groupnorm (over the last axis, optional gain and bias vectors), and
 * the gradients layernorm_grad, rmsnorm_grad. Statistics accumulate in f64; variances are biased (divide by the count).
 */
#include "kernels.h"

/* softmax / log_softmax {axis}: x[..., L, ...] -> y, same shape. Along `axis`, per line:
 *   m = max_j x_j,  z = sum_j exp(x_j - m)
 *   softmax y_j = exp(x_j - m) / z,   log_softmax y_j = x_j - m - log z
 * (max-subtracted; a line of all -inf gives NaN, as PyTorch.) */
static int softmax(Kern *k, int logp) {
  const Tensor *x = k->in[0];
  Tensor *y = k->out;
  int axis;
  if (!kneed_float(k, 0) || !kaxis(k, ir_get_i(k->n, "axis"), x->rank, &axis)) return 0;
  int64_t outer = 1, L = x->shape[axis], inner = 1;
  for (int i = 0; i < axis; i++) outer *= x->shape[i];
  for (int i = axis + 1; i < x->rank; i++) inner *= x->shape[i];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t in = 0; in < inner; in++) {
      int64_t base = o * L * inner + in; /* element j of this line: base + j * inner */
      double m = -INFINITY, z = 0;
      for (int64_t j = 0; j < L; j++) m = fmax(m, ld(x, base + j * inner));
      for (int64_t j = 0; j < L; j++) z += exp(ld(x, base + j * inner) - m);
      for (int64_t j = 0; j < L; j++) {
        double d = ld(x, base + j * inner) - m;
        st(y, base + j * inner, logp ? d - log(z) : exp(d) / z);
      }
    }
  return 1;
}

int interp_SOFTMAX(Kern *k) { return softmax(k, 0); }
int interp_LOG_SOFTMAX(Kern *k) { return softmax(k, 1); }

/* Gain and bias operands (if present) must be vectors of length C. */
static int affine_ok(Kern *k, int64_t C) {
  for (int j = 1; j < k->nin; j++)
    if (k->in[j]->rank != 1 || k->in[j]->shape[0] != C || !kneed_float(k, j))
      return kfail(k, "%s must be a float vector of length %lld", j == 1 ? "gain" : "bias", (long long)C);
  return 1;
}

/* layernorm {eps}: x[..., C] (, gain[C] (, bias[C])) -> y[..., C]. Per row:
 *   mu = mean(x), var = mean((x - mu)^2), y = (x - mu) / sqrt(var + eps) * gain + bias */
int interp_LAYERNORM(Kern *k) {
  const Tensor *x = k->in[0], *g = k->nin > 1 ? k->in[1] : NULL, *b = k->nin > 2 ? k->in[2] : NULL;
  Tensor *y = k->out;
  if (!kneed_float(k, 0) || x->rank < 1) return kfail(k, "needs a float tensor of rank >= 1");
  int64_t C = x->shape[x->rank - 1], rows = C ? x->n / C : 0;
  double eps = ir_get_f(k->n, "eps");
  if (!affine_ok(k, C)) return 0;
  for (int64_t r = 0; r < rows; r++) {
    double mu = 0, var = 0;
    for (int64_t c = 0; c < C; c++) mu += ld(x, r * C + c);
    mu /= (double)C;
    for (int64_t c = 0; c < C; c++) var += (ld(x, r * C + c) - mu) * (ld(x, r * C + c) - mu);
    var /= (double)C;
    double inv = 1.0 / sqrt(var + eps);
    for (int64_t c = 0; c < C; c++) {
      double v = (ld(x, r * C + c) - mu) * inv;
      if (g) v *= ld(g, c);
      if (b) v += ld(b, c);
      st(y, r * C + c, v);
    }
  }
  return 1;
}

/* rmsnorm {eps}: x[..., C] (, gain[C]) -> y[..., C]. Per row:
 *   y = x / sqrt(mean(x^2) + eps) * gain */
int interp_RMSNORM(Kern *k) {
  const Tensor *x = k->in[0], *g = k->nin > 1 ? k->in[1] : NULL;
  Tensor *y = k->out;
  if (!kneed_float(k, 0) || x->rank < 1) return kfail(k, "needs a float tensor of rank >= 1");
  int64_t C = x->shape[x->rank - 1], rows = C ? x->n / C : 0;
  double eps = ir_get_f(k->n, "eps");
  if (!affine_ok(k, C)) return 0;
  for (int64_t r = 0; r < rows; r++) {
    double ms = 0;
    for (int64_t c = 0; c < C; c++) ms += ld(x, r * C + c) * ld(x, r * C + c);
    double inv = 1.0 / sqrt(ms / (double)C + eps);
    for (int64_t c = 0; c < C; c++) st(y, r * C + c, ld(x, r * C + c) * inv * (g ? ld(g, c) : 1.0));
  }
  return 1;
}

/* groupnorm {groups, eps}: x[..., C] (, gain[C] (, bias[C])) -> y[..., C]. The last axis
 * splits into `groups` contiguous groups of C/groups channels; per row and group:
 *   mu, var over the group's channels, y = (x - mu) / sqrt(var + eps)
 * then y * gain[c] + bias[c] over the whole last axis. (DiJiang's GroupNorm(d, H*d) applied
 * per token: each group spans H consecutive channels, not one head.) */
int interp_GROUPNORM(Kern *k) {
  const Tensor *x = k->in[0], *g = k->nin > 1 ? k->in[1] : NULL, *b = k->nin > 2 ? k->in[2] : NULL;
  Tensor *y = k->out;
  if (!kneed_float(k, 0) || x->rank < 1) return kfail(k, "needs a float tensor of rank >= 1");
  int64_t C = x->shape[x->rank - 1], rows = C ? x->n / C : 0, G = ir_get_i(k->n, "groups");
  double eps = ir_get_f(k->n, "eps");
  if (G < 1 || C % G) return kfail(k, "last dimension %lld is not divisible into %lld groups", (long long)C, (long long)G);
  if (!affine_ok(k, C)) return 0;
  int64_t W = C / G; /* channels per group */
  for (int64_t r = 0; r < rows; r++)
    for (int64_t gr = 0; gr < G; gr++) {
      int64_t c0 = r * C + gr * W;
      double mu = 0, var = 0;
      for (int64_t c = 0; c < W; c++) mu += ld(x, c0 + c);
      mu /= (double)W;
      for (int64_t c = 0; c < W; c++) var += (ld(x, c0 + c) - mu) * (ld(x, c0 + c) - mu);
      var /= (double)W;
      double inv = 1.0 / sqrt(var + eps);
      for (int64_t c = 0; c < W; c++) {
        int64_t ch = gr * W + c;
        double v = (ld(x, c0 + c) - mu) * inv;
        if (g) v *= ld(g, ch);
        if (b) v += ld(b, ch);
        st(y, c0 + c, v);
      }
    }
  return 1;
}

/* layernorm_grad / rmsnorm_grad {eps}: x[..., C], dy[..., C] (, gain[C]) -> dx[..., C]. Per
 * row, with the statistics of layernorm / rmsnorm recomputed from x:
 *   xh = (x - mu) r (rms: x r), gh = dy * gain,
 *   dx = r (gh - mean(gh) - xh mean(gh xh))   (rms: r (gh - xh mean(gh xh))) */
static int norm_grad(Kern *k, int centered) {
  const Tensor *x = k->in[0], *dy = k->in[1], *g = k->nin > 2 ? k->in[2] : NULL;
  Tensor *dx = k->out;
  if (!kneed_float(k, 0) || !kneed_float(k, 1) || x->rank < 1) return kfail(k, "needs float tensors of rank >= 1");
  int64_t C = x->shape[x->rank - 1], rows = C ? x->n / C : 0;
  if (dy->n != x->n) return kfail(k, "the upstream gradient has %lld elements, x %lld", (long long)dy->n, (long long)x->n);
  if (g && (g->rank != 1 || g->shape[0] != C || !kneed_float(k, 2)))
    return kfail(k, "gain must be a float vector of length %lld", (long long)C);
  double eps = ir_get_f(k->n, "eps");
  for (int64_t r = 0; r < rows; r++) {
    const int64_t o = r * C;
    double mu = 0, var = 0;
    if (centered) {
      for (int64_t c = 0; c < C; c++) mu += ld(x, o + c);
      mu /= (double)C;
    }
    for (int64_t c = 0; c < C; c++) var += (ld(x, o + c) - mu) * (ld(x, o + c) - mu);
    double inv = 1.0 / sqrt(var / (double)C + eps), mg = 0, mgx = 0;
    for (int64_t c = 0; c < C; c++) {
      double gh = ld(dy, o + c) * (g ? ld(g, c) : 1.0);
      mg += gh;
      mgx += gh * (ld(x, o + c) - mu) * inv;
    }
    mg = centered ? mg / (double)C : 0;
    mgx /= (double)C;
    for (int64_t c = 0; c < C; c++) {
      double gh = ld(dy, o + c) * (g ? ld(g, c) : 1.0), xh = (ld(x, o + c) - mu) * inv;
      st(dx, o + c, inv * (gh - mg - xh * mgx));
    }
  }
  return 1;
}

int interp_LAYERNORM_GRAD(Kern *k) { return norm_grad(k, 1); }
int interp_RMSNORM_GRAD(Kern *k) { return norm_grad(k, 0); }
