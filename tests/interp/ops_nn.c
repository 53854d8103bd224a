/* ops_nn.c — op-vs-reference tests of softmax / log_softmax, the norms, cross_entropy (and its
 * gradient), softmax_attention and softmax_attention_grad (the linear attentions: ops_linattn.c).
 * References are written per output element with explicit index arithmetic.
 */
#include <math.h>
#include <stdlib.h>

#include "harness.h"

static Dim cdim(int64_t v) { return dim_const(v); }

/* ---- softmax / log_softmax ------------------------------------------------------------------ */

static void t_softmax(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    int r = (int)h_int(1, 4), axis = (int)h_int(-r, r - 1), a = (axis + r) % r;
    int64_t s[4], idx[4];
    Case c;
    case_begin(&c, op, "rank %d axis %d", r, axis);
    Dim d[4];
    for (int i = 0; i < r; i++) {
      s[i] = h_int(1, 5);
      d[i] = i == 0 && rep == 0 ? case_sym(&c, "B", s[i]) : cdim(s[i]);
    }
    int x = case_in(&c, DT_F32, r, d);
    for (int64_t i = 0; i < c.x[x].n; i++) h_f(&c.x[x])[i] *= 4;
    ir_set_i(case_op(&c, op, 1, &x), "axis", axis);
    if (case_infer(&c)) {
      Tensor ref;
      const double *xv = h_f(&c.x[x]);
      h_alloc(&ref, DT_F64, r, s);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, r, s, idx);
        int64_t own = idx[a];
        double m = -INFINITY, z = 0;
        for (idx[a] = 0; idx[a] < s[a]; idx[a]++) m = fmax(m, xv[h_flat(r, s, idx)]);
        for (idx[a] = 0; idx[a] < s[a]; idx[a]++) z += exp(xv[h_flat(r, s, idx)] - m);
        idx[a] = own;
        h_f(&ref)[i] = op == OP_SOFTMAX ? exp(xv[i] - m) / z : xv[i] - m - log(z);
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- layernorm, rmsnorm, groupnorm over x[B, S, C] ------------------------------------------- */

static void t_norm(Op op) {
  int maxin = op == OP_RMSNORM ? 2 : 3;
  for (int nin = 1; nin <= maxin; nin++)
    for (int rep = 0; rep < 2; rep++) {
      int64_t B = h_int(1, 3), S = h_int(1, 3), G = op == OP_GROUPNORM ? h_int(1, 3) : 1, C = G * h_int(1, 5);
      double eps = rep ? 0.1 : op == OP_RMSNORM ? 1e-6 : 1e-5;
      Case c;
      case_begin(&c, op, "x[B, S, C=%lld] groups %lld, %d operands, eps %g", (long long)C, (long long)G, nin, eps);
      Dim d[3] = {case_sym(&c, "B", B), cdim(S), cdim(C)};
      int xs[3];
      xs[0] = case_in(&c, DT_F32, 3, d);
      for (int k = 1; k < nin; k++) xs[k] = case_in(&c, DT_F32, 1, &d[2]);
      IrNode *n = case_op(&c, op, nin, xs);
      if (rep) ir_set_f(n, "eps", eps);
      if (op == OP_GROUPNORM) ir_set_i(n, "groups", G);
      if (case_infer(&c)) {
        Tensor ref;
        const double *x = h_f(&c.x[xs[0]]), *g = nin > 1 ? h_f(&c.x[xs[1]]) : NULL,
                     *b = nin > 2 ? h_f(&c.x[xs[2]]) : NULL;
        int64_t W = C / G; /* the channels one statistic covers */
        h_alloc(&ref, DT_F64, 3, c.x[xs[0]].shape);
        for (int64_t i = 0; i < ref.n; i++) {
          int64_t ch = i % C, row0 = i - ch, g0 = row0 + (ch / W) * W; /* first channel of the group */
          double mu = 0, var = 0, ms = 0;
          for (int64_t j = 0; j < W; j++) mu += x[g0 + j] / (double)W;
          for (int64_t j = 0; j < W; j++) var += (x[g0 + j] - mu) * (x[g0 + j] - mu) / (double)W;
          for (int64_t j = 0; j < W; j++) ms += x[g0 + j] * x[g0 + j] / (double)W;
          double y = op == OP_RMSNORM ? x[i] / sqrt(ms + eps) : (x[i] - mu) / sqrt(var + eps);
          h_f(&ref)[i] = y * (g ? g[ch] : 1) + (b ? b[ch] : 0);
        }
        case_check(&c, &ref);
      }
      case_end(&c);
    }
}

/* ---- layernorm_grad, rmsnorm_grad over x[B, S, C], dy[B, S, C] (, gain[C]) -------------------
 * The reference goes through the normalisation's Jacobian, built entry by entry:
 * d xh_j / d x_i = r (delta_ij - 1/C - xh_i xh_j / C) (rms: no 1/C), dx_i = sum_j gh_j d xh_j / d x_i */
static void t_norm_grad(Op op) {
  int centered = op == OP_LAYERNORM_GRAD;
  for (int nin = 2; nin <= 3; nin++)
    for (int rep = 0; rep < 3; rep++) {
      int64_t B = h_int(1, 3), S = h_int(1, 3), C = rep == 2 ? 1 : h_int(2, 9);
      double eps = rep ? 0.1 : centered ? 1e-5 : 1e-6;
      Case c;
      case_begin(&c, op, "x[B, S, C=%lld], dy%s, eps %g", (long long)C, nin > 2 ? ", gain" : "", eps);
      Dim d[3] = {case_sym(&c, "B", B), cdim(S), cdim(C)};
      int xs[3];
      xs[0] = case_in(&c, DT_F32, 3, d);
      xs[1] = case_in(&c, DT_F32, 3, d);
      if (nin > 2) xs[2] = case_in(&c, DT_F32, 1, &d[2]);
      IrNode *n = case_op(&c, op, nin, xs);
      if (rep) ir_set_f(n, "eps", eps);
      if (case_infer(&c)) {
        Tensor ref;
        const double *x = h_f(&c.x[xs[0]]), *dy = h_f(&c.x[xs[1]]), *g = nin > 2 ? h_f(&c.x[xs[2]]) : NULL;
        h_alloc(&ref, DT_F64, 3, c.x[xs[0]].shape);
        for (int64_t row = 0; row < ref.n / C; row++) {
          const double *xr = x + row * C, *dr = dy + row * C;
          double mu = 0, var = 0;
          for (int64_t j = 0; j < C && centered; j++) mu += xr[j] / (double)C;
          for (int64_t j = 0; j < C; j++) var += (xr[j] - mu) * (xr[j] - mu) / (double)C;
          double r = 1 / sqrt(var + eps);
          for (int64_t i = 0; i < C; i++) {
            double acc = 0, xi = (xr[i] - mu) * r;
            for (int64_t j = 0; j < C; j++) {
              double xj = (xr[j] - mu) * r, jac = r * ((i == j) - (centered ? 1.0 / (double)C : 0) - xi * xj / (double)C);
              acc += dr[j] * (g ? g[j] : 1) * jac;
            }
            h_f(&ref)[row * C + i] = acc;
          }
        }
        case_check(&c, &ref);
      }
      case_end(&c);
    }
}

/* ---- cross_entropy ------------------------------------------------------------------------------ */

static void t_cross_entropy(Op op) {
  for (int rep = 0; rep < 8; rep++) {
    int tr = rep == 0 ? 2 : (int)h_int(1, 2), all_ignored = rep == 7;
    int64_t V = h_int(1, 7), ts[2] = {h_int(1, 4), h_int(1, 4)};
    double s = rep % 2 ? (double)(float)(0.05 + 0.3 * h_unit()) : 0;
    int64_t ignore = rep % 3 == 0 ? -1 : h_int(0, V - 1);
    Case c;
    case_begin(&c, op, "targets rank %d, V %lld, smoothing %g, ignore %lld%s", tr, (long long)V, s,
               (long long)ignore, all_ignored ? ", all ignored" : "");
    Dim ld[3] = {rep == 0 ? case_sym(&c, "B", ts[0]) : cdim(ts[0]), cdim(ts[1]), cdim(V)};
    ld[tr] = cdim(V);
    int lg = case_in(&c, DT_F32, tr + 1, ld), tg = case_in(&c, DT_I32, tr, ld);
    for (int64_t i = 0; i < c.x[lg].n; i++) h_f(&c.x[lg])[i] *= 4;
    for (int64_t i = 0; i < c.x[tg].n; i++)
      h_i(&c.x[tg])[i] = (int32_t)(all_ignored || h_int(0, 3) == 0 ? ignore : h_int(0, V - 1));
    int grad = op == OP_CROSS_ENTROPY_GRAD, gy = grad ? case_in(&c, DT_F32, 0, NULL) : -1;
    IrNode *n = case_op(&c, op, 2 + grad, (int[]){lg, tg, gy});
    if (s > 0) ir_set_f(n, "smoothing", s);
    if (ignore != -1) ir_set_i(n, "ignore", ignore);
    if (grad && case_infer(&c)) { /* (softmax - q) * [t != ignore] * g / max(1, count) */
      Tensor ref;
      h_alloc(&ref, DT_F64, tr + 1, c.x[lg].shape);
      int64_t count = 0;
      for (int64_t p = 0; p < c.x[tg].n; p++) count += h_i(&c.x[tg])[p] != ignore;
      double g = h_f(&c.x[gy])[0] / (double)(count ? count : 1);
      for (int64_t p = 0; p < c.x[tg].n; p++) {
        int64_t t = h_i(&c.x[tg])[p];
        const double *x = h_f(&c.x[lg]) + p * V;
        double z = 0;
        for (int64_t j = 0; j < V; j++) z += exp(x[j]);
        for (int64_t j = 0; j < V; j++)
          h_f(&ref)[p * V + j] = t == ignore ? 0 : (exp(x[j]) / z - (j == t ? 1 - s : 0) - s / (double)V) * g;
      }
      case_check(&c, &ref);
    } else if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, 0, NULL);
      double total = 0;
      int64_t count = 0;
      for (int64_t p = 0; p < c.x[tg].n; p++) {
        int64_t t = h_i(&c.x[tg])[p];
        const double *x = h_f(&c.x[lg]) + p * V;
        if (t == ignore) continue;
        double z = 0, mean_logp = 0;
        for (int64_t j = 0; j < V; j++) z += exp(x[j]); /* |x| < 8: no overflow */
        for (int64_t j = 0; j < V; j++) mean_logp += (x[j] - log(z)) / (double)V;
        total += -(1 - s) * (x[t] - log(z)) - s * mean_logp;
        count++;
      }
      h_f(&ref)[0] = count ? total / (double)count : 0;
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- attention ------------------------------------------------------------------------------------ */

typedef struct Att {
  int64_t B, H, Sq, Sk, D, Dv;
  int q, k, v, x4;
} Att;

/* q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv] with Sq and Sk symbolic ("S", "T"). */
static Att att_inputs(Case *c, int same_len) {
  Att a = {0};
  a.B = h_int(1, 2), a.H = h_int(1, 3), a.Sq = h_int(1, 5), a.D = h_int(1, 4), a.Dv = h_int(1, 3), a.x4 = -1;
  a.Sk = same_len ? a.Sq : h_int(1, 5);
  Dim S = case_sym(c, "S", a.Sq), T = same_len ? S : case_sym(c, "T", a.Sk);
  Dim dq[4] = {cdim(a.B), cdim(a.H), S, cdim(a.D)}, dk[4] = {cdim(a.B), cdim(a.H), T, cdim(a.D)},
      dv[4] = {cdim(a.B), cdim(a.H), T, cdim(a.Dv)};
  a.q = case_in(c, DT_F32, 4, dq);
  a.k = case_in(c, DT_F32, 4, dk);
  a.v = case_in(c, DT_F32, 4, dv);
  return a;
}

static double qk(Case *c, const Att *a, int64_t b, int64_t h, int64_t i, int64_t j) {
  double s = 0;
  for (int64_t d = 0; d < a->D; d++)
    s += h_f(&c->x[a->q])[((b * a->H + h) * a->Sq + i) * a->D + d] * h_f(&c->x[a->k])[((b * a->H + h) * a->Sk + j) * a->D + d];
  return s;
}
static double vv(Case *c, const Att *a, int64_t b, int64_t h, int64_t j, int64_t e) {
  return h_f(&c->x[a->v])[((b * a->H + h) * a->Sk + j) * a->Dv + e];
}

static void t_softmax_attention(Op op) {
  for (int rep = 0; rep < 10; rep++) {
    int causal = rep & 1, masked = (rep >> 1) & 1, imask = rep == 6, scaled = rep % 3 == 1;
    Case c;
    case_begin(&c, op, "causal %d, mask %s, scale %s", causal, masked ? (imask ? "i32" : "f32") : "none",
               scaled ? "set" : "0 (1/sqrt(D))");
    Att a = att_inputs(&c, causal || rep >= 8);
    if (masked) {
      Dim dm[2] = {cdim(a.B), c.p.graphs.v[0].nodes.v[c.xnode[a.k]].type.d[2]};
      a.x4 = case_in(&c, imask ? DT_I32 : DT_F32, 2, dm);
      for (int64_t i = 0; i < c.x[a.x4].n; i++) {
        int keep = h_int(0, 2) != 0;
        if (imask)
          h_i(&c.x[a.x4])[i] = keep;
        else
          h_f(&c.x[a.x4])[i] = keep;
      }
    }
    double scale = scaled ? h_pos() : 0;
    IrNode *n = case_op(&c, op, masked ? 4 : 3, (int[]){a.q, a.k, a.v, a.x4});
    ir_set_i(n, "causal", causal);
    if (scaled) ir_set_f(n, "scale", scale);
    if (case_infer(&c)) {
      Tensor ref;
      double sc = scaled ? scale : 1 / sqrt((double)a.D);
      h_alloc(&ref, DT_F64, 4, (int64_t[]){a.B, a.H, a.Sq, a.Dv});
      for (int64_t i = 0; i < ref.n; i++) {
        int64_t e = i % a.Dv, qi = (i / a.Dv) % a.Sq, h = (i / a.Dv / a.Sq) % a.H, b = i / a.Dv / a.Sq / a.H;
        double m = -INFINITY, z = 0, o = 0;
        for (int pass = 0; pass < 2; pass++)
          for (int64_t j = 0; j < a.Sk; j++) {
            double keep = !masked ? 1 : imask ? h_i(&c.x[a.x4])[b * a.Sk + j] : h_f(&c.x[a.x4])[b * a.Sk + j];
            if ((causal && j > qi + a.Sk - a.Sq) || keep == 0) continue;
            double s = sc * qk(&c, &a, b, h, qi, j);
            if (pass == 0) {
              m = s > m ? s : m;
            } else {
              z += exp(s - m);
              o += exp(s - m) * vv(&c, &a, b, h, j, e);
            }
          }
        h_f(&ref)[i] = z > 0 ? o / z : 0;
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* softmax_attention_grad: the reference builds P, dP and dS of each (b, h) as whole matrices
 * (the formulas of passes/grad_attn.c's composed backward), then the three products. */
static void t_softmax_attention_grad(Op op) {
  static const char *wrts[] = {"all", "q", "kv"};
  for (int rep = 0; rep < 18; rep++) {
    int wrt = rep % 3, causal = (rep / 3) & 1, masked = rep >= 6, imask = rep >= 15, scaled = rep % 4 == 1;
    int same = wrt == 0 || causal || rep % 5 == 0;
    Case c;
    case_begin(&c, op, "wrt %s, causal %d, mask %s, scale %s, %s", wrts[wrt], causal,
               masked ? (imask ? "i32" : "f32") : "none", scaled ? "set" : "0", same ? "Sq = Sk" : "Sq, Sk");
    Att a = att_inputs(&c, same);
    if (masked) { /* batch 0: key 0 dropped (a causal query 0 sees nothing); rep 9: all of batch 0 */
      Dim dm[2] = {cdim(a.B), c.p.graphs.v[0].nodes.v[c.xnode[a.k]].type.d[2]};
      a.x4 = case_in(&c, imask ? DT_I32 : DT_F32, 2, dm);
      for (int64_t i = 0; i < c.x[a.x4].n; i++) {
        int keep = i < a.Sk ? i > 0 && rep != 9 && h_int(0, 3) != 0 : h_int(0, 2) != 0;
        if (imask)
          h_i(&c.x[a.x4])[i] = keep;
        else
          h_f(&c.x[a.x4])[i] = keep;
      }
    }
    Dim dd[4];
    for (int i = 0; i < 4; i++) dd[i] = c.p.graphs.v[0].nodes.v[c.xnode[i == 3 ? a.v : a.q]].type.d[i];
    int g = case_in(&c, DT_F32, 4, dd);
    double scale = scaled ? h_pos() : 0;
    IrNode *n = case_op(&c, op, masked ? 5 : 4, masked ? (int[]){a.q, a.k, a.v, a.x4, g} : (int[]){a.q, a.k, a.v, g});
    ir_set_i(n, "causal", causal);
    if (wrt) ir_set_enum(n, "wrt", wrts[wrt]);
    if (scaled) ir_set_f(n, "scale", scale);
    if (case_infer(&c)) {
      double sc = scaled ? scale : 1 / sqrt((double)a.D);
      int64_t rows = wrt == 2 ? a.Sk : a.Sq, W = wrt == 1 ? a.D : wrt == 2 ? a.D + a.Dv : 2 * a.D + a.Dv;
      int64_t kc = wrt == 0 ? a.D : 0, Sq = a.Sq, Sk = a.Sk;
      Tensor ref;
      h_alloc(&ref, DT_F64, 4, (int64_t[]){a.B, a.H, rows, W});
      double *P = calloc((size_t)(Sq * Sk), sizeof(double)), *dS = calloc((size_t)(Sq * Sk), sizeof(double));
      const double *gv = h_f(&c.x[g]), *qv = h_f(&c.x[a.q]), *kv = h_f(&c.x[a.k]);
      for (int64_t b = 0; b < a.B; b++)
        for (int64_t h = 0; h < a.H; h++) {
          int64_t bh = b * a.H + h;
          for (int64_t i = 0; i < Sq; i++) {
            double m = -INFINITY, z = 0, rs = 0;
            for (int64_t j = 0; j < Sk; j++) {
              double keep = !masked ? 1 : imask ? h_i(&c.x[a.x4])[b * Sk + j] : h_f(&c.x[a.x4])[b * Sk + j];
              int vis = keep != 0 && !(causal && j > i + Sk - Sq);
              P[i * Sk + j] = vis ? sc * qk(&c, &a, b, h, i, j) : -INFINITY;
              m = fmax(m, P[i * Sk + j]);
            }
            for (int64_t j = 0; j < Sk; j++) z += m == -INFINITY ? 0 : exp(P[i * Sk + j] - m);
            for (int64_t j = 0; j < Sk; j++) {
              P[i * Sk + j] = z > 0 ? exp(P[i * Sk + j] - m) / z : 0;
              double dp = 0;
              for (int64_t e = 0; e < a.Dv; e++) dp += gv[(bh * Sq + i) * a.Dv + e] * vv(&c, &a, b, h, j, e);
              dS[i * Sk + j] = dp;
              rs += dp * P[i * Sk + j];
            }
            for (int64_t j = 0; j < Sk; j++) dS[i * Sk + j] = P[i * Sk + j] * (dS[i * Sk + j] - rs);
          }
          for (int64_t i = 0; wrt != 2 && i < Sq; i++) /* dq = scale dS k */
            for (int64_t d = 0; d < a.D; d++) {
              double s = 0;
              for (int64_t j = 0; j < Sk; j++) s += dS[i * Sk + j] * kv[(bh * Sk + j) * a.D + d];
              h_f(&ref)[(bh * rows + i) * W + d] = sc * s;
            }
          for (int64_t j = 0; wrt != 1 && j < Sk; j++) { /* dk = scale dS^T q, dv = P^T dO */
            for (int64_t d = 0; d < a.D; d++) {
              double s = 0;
              for (int64_t i = 0; i < Sq; i++) s += dS[i * Sk + j] * qv[(bh * Sq + i) * a.D + d];
              h_f(&ref)[(bh * rows + j) * W + kc + d] = sc * s;
            }
            for (int64_t e = 0; e < a.Dv; e++) {
              double s = 0;
              for (int64_t i = 0; i < Sq; i++) s += P[i * Sk + j] * gv[(bh * Sq + i) * a.Dv + e];
              h_f(&ref)[(bh * rows + j) * W + kc + a.D + e] = s;
            }
          }
        }
      free(P);
      free(dS);
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

void register_nn(OpTest *t) {
  t[OP_SOFTMAX] = t[OP_LOG_SOFTMAX] = t_softmax;
  t[OP_LAYERNORM] = t[OP_RMSNORM] = t[OP_GROUPNORM] = t_norm;
  t[OP_LAYERNORM_GRAD] = t[OP_RMSNORM_GRAD] = t_norm_grad;
  t[OP_CROSS_ENTROPY] = t[OP_CROSS_ENTROPY_GRAD] = t_cross_entropy;
  t[OP_SOFTMAX_ATTENTION] = t_softmax_attention;
  t[OP_SOFTMAX_ATTENTION_GRAD] = t_softmax_attention_grad;
}
