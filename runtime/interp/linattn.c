/* linattn.c — the reference kernels of linear_attention, linear_attention_state and
 * linear_attention_grad (operand layout: ir/linattn.h), in f64, one (batch, head) at a time.
 *
 * Per (b, h), with q~ = phi(q)[Sq, m], k~ = phi(k)[Sk, m], v'[Sk, Dv'] (v with a column of
 * ones appended when norm = running), G_t = sum_{r <= t} lg_r the cumulated log-gates
 * (learned: g; decay: ln gamma_h; none: 0) and beta (learned; else 1):
 *
 *   o'_t = sum_{visible s} a_ts beta_s (q~_t . k~_s) v'_s  +  e^{G_t} q~_t S0
 *   a_ts = e^{G_t - G_s} (causal, s <= t)  |  gamma_h^|t - s| (decay, bidirectional)  |  1
 *   o_t  = o'_t[:Dv], divided by o'_t[Dv] (when norm = running and it is nonzero)
 *   state after the last position T-1:  S = e^{G_{T-1}} S0 + sum_s e^{G_{T-1} - G_s} beta_s k~_s^T v'_s
 *
 * Two forms: the quadratic one (every pair, exactly the formula above: the oracle) and the
 * recurrent one (S_t = alpha_t S_{t-1} + beta_t k~_t^T v'_t, o'_t = q~_t S_t; bidirectional
 * decay adds a reverse scan). lower = quadratic, or auto with Sk <= 256, runs the quadratic
 * form; recurrent, chunked (the f32 chunked kernels are runtime/fast/'s) and auto beyond
 * run the recurrent one. Neither ever forms gamma^-t or e^{-G_s} alone: only differences
 * G_t - G_s of cumulated gates, so long sequences stay finite.
 *
 * linear_attention_grad (always the quadratic form here), with dO' = dO (none) or
 * [dO / z, -(dO . o) / z] (running, z = o'[Dv] != 0):
 *   dq~_t  = sum_s a_ts beta_s (dO'_t . v'_s) k~_s + e^{G_t} S0 dO'_t
 *   dk'_s  = sum_t a_ts (dO'_t . v'_s) q~_t,   dk~_s = beta_s dk'_s,  dbeta_s = k~_s . dk'_s
 *   dv'_s  = sum_t a_ts beta_s (q~_t . k~_s) dO'_t
 *   dg_r   = sum_{t >= r} (q~_t . dq~_t - k~_t . dk~_t)
 *   dS0    = sum_t e^{G_t} q~_t^T dO'_t
 */
#include <stdlib.h>

#include "kernels.h"
#include "linattn.h"

typedef struct Slice {
  LinAttn la;
  int64_t B, H, Sq, Sk, D, m, Dv, Dvp;
  double gamma;
  double *fq, *fk, *v, *lg, *beta, *S0; /* [Sq, m], [Sk, m], [Sk, Dvp], [Sk], [Sk], [m, Dvp] */
  double *G;                            /* [Sk]: cumulated log-gates */
  double *z;                            /* [m]: feature scratch */
} Slice;

static void slice_free(Slice *s) {
  free(s->fq);
  free(s->fk);
  free(s->v);
  free(s->lg);
  free(s->beta);
  free(s->S0);
  free(s->G);
  free(s->z);
}

static int slice_alloc(Kern *k, Slice *s) {
  int64_t S = s->Sk > s->Sq ? s->Sk : s->Sq;
  s->fq = calloc((size_t)(s->Sq * s->m + 1), sizeof(double));
  s->fk = calloc((size_t)(s->Sk * s->m + 1), sizeof(double));
  s->v = calloc((size_t)(s->Sk * s->Dvp + 1), sizeof(double));
  s->lg = calloc((size_t)(S + 1), sizeof(double));
  s->beta = calloc((size_t)(S + 1), sizeof(double));
  s->S0 = calloc((size_t)(s->m * s->Dvp + 1), sizeof(double));
  s->G = calloc((size_t)(S + 1), sizeof(double));
  s->z = calloc((size_t)(s->m + s->D + 1), sizeof(double));
  if (s->fq && s->fk && s->v && s->lg && s->beta && s->S0 && s->G && s->z) return 1;
  slice_free(s);
  return kfail(k, "out of memory");
}

/* Sizes from the operands; q of the state op is absent (Sq = 0). */
static int slice_init(Kern *k, Slice *s) {
  char err[256];
  memset(s, 0, sizeof *s);
  if (!ir_linattn_read(k->n, &s->la, err, sizeof err)) return kfail(k, "%s", err);
  for (int i = 0; i < k->nin; i++)
    if (!kneed_float(k, i)) return 0;
  const Tensor *kk = k->in[s->la.k], *v = k->in[s->la.v];
  s->B = kk->shape[0], s->H = kk->shape[1], s->Sk = kk->shape[2], s->D = kk->shape[3], s->Dv = v->shape[3];
  s->Sq = s->la.q >= 0 ? k->in[s->la.q]->shape[2] : 0;
  s->m = s->la.proj >= 0 ? k->in[s->la.proj]->shape[1] : s->D;
  s->Dvp = s->Dv + s->la.running;
  return slice_alloc(k, s);
}

/* phi of row x[off .. off + D) into out[m] */
static void feature(Kern *k, Slice *s, const Tensor *x, int64_t off, double *out) {
  if (s->la.feature == LA_FEAT_NONE) {
    for (int64_t j = 0; j < s->m; j++) out[j] = ld(x, off + j);
    return;
  }
  const Tensor *P = k->in[s->la.proj], *fw = k->in[s->la.fw];
  for (int64_t j = 0; j < s->m; j++) {
    double acc = 0;
    for (int64_t d = 0; d < s->D; d++) acc += ld(x, off + d) * ld(P, d * s->m + j);
    out[j] = acc * ld(fw, j); /* dct: w z; dct_exp: t z */
  }
  if (s->la.feature == LA_FEAT_DCT_EXP) {
    for (int64_t j = 0; j < s->m; j++) out[j] = ld(k->in[s->la.fd], j) * exp(out[j]);
    return;
  }
  double mx = -INFINITY, sum = 0; /* softmax, max-subtracted */
  for (int64_t j = 0; j < s->m; j++) mx = fmax(mx, out[j]);
  for (int64_t j = 0; j < s->m; j++) sum += out[j] = exp(out[j] - mx);
  for (int64_t j = 0; j < s->m; j++) out[j] /= sum;
}

/* Loads head (b, h): features, values (ones column), gates, state. grad: q~, k~ given. */
static void slice_load(Kern *k, Slice *s, int64_t b, int64_t h) {
  const LinAttn *la = &s->la;
  int64_t bh = b * s->H + h;
  s->gamma = ir_linattn_gamma(h, s->H);
  for (int64_t t = 0; t < s->Sq; t++) feature(k, s, k->in[la->q], (bh * s->Sq + t) * s->D, s->fq + t * s->m);
  for (int64_t t = 0; t < s->Sk; t++) {
    feature(k, s, k->in[la->k], (bh * s->Sk + t) * s->D, s->fk + t * s->m);
    for (int64_t e = 0; e < s->Dv; e++) s->v[t * s->Dvp + e] = ld(k->in[la->v], (bh * s->Sk + t) * s->Dv + e);
    if (la->running) s->v[t * s->Dvp + s->Dv] = 1;
    s->lg[t] = la->gate == LA_GATE_LEARNED ? ld(k->in[la->g], bh * s->Sk + t)
               : la->gate == LA_GATE_DECAY ? log(s->gamma) : 0;
    s->beta[t] = la->gate == LA_GATE_LEARNED ? ld(k->in[la->beta], bh * s->Sk + t) : 1;
    s->G[t] = (t ? s->G[t - 1] : 0) + s->lg[t];
  }
  for (int64_t i = 0; i < s->m * s->Dvp; i++) s->S0[i] = la->state >= 0 ? ld(k->in[la->state], bh * s->m * s->Dvp + i) : 0;
}

static double dotv(const double *a, const double *b, int64_t n) {
  double r = 0;
  for (int64_t i = 0; i < n; i++) r += a[i] * b[i];
  return r;
}

/* a_ts (without beta): 0 when s is not visible from t */
static double coef(const Slice *s, int64_t t, int64_t j) {
  if (s->la.causal) return j <= t ? exp(s->G[t] - s->G[j]) : 0;
  if (s->la.gate == LA_GATE_DECAY) return pow(s->gamma, fabs((double)(t - j)));
  return 1;
}

/* e^{G_t}: the weight of the carried state at position t */
static double state_w(const Slice *s, int64_t t) { return s->la.state >= 0 ? exp(s->G[t]) : 0; }

/* o'[Sq, Dvp], quadratic form */
static void quadratic(const Slice *s, double *o) {
  for (int64_t t = 0; t < s->Sq; t++) {
    double *ot = o + t * s->Dvp;
    const double *qt = s->fq + t * s->m;
    for (int64_t j = 0; j < s->Sk; j++) {
      double a = coef(s, t, j);
      if (a == 0) continue;
      double w = a * s->beta[j] * dotv(qt, s->fk + j * s->m, s->m);
      for (int64_t e = 0; e < s->Dvp; e++) ot[e] += w * s->v[j * s->Dvp + e];
    }
    double sw = state_w(s, t);
    if (sw != 0)
      for (int64_t i = 0; i < s->m; i++)
        for (int64_t e = 0; e < s->Dvp; e++) ot[e] += sw * qt[i] * s->S0[i * s->Dvp + e];
  }
}

/* S (m x Dvp) = a S + w k~_j^T v'_j */
static void rank1(const Slice *s, double *S, double a, double w, int64_t j) {
  for (int64_t i = 0; i < s->m; i++)
    for (int64_t e = 0; e < s->Dvp; e++) S[i * s->Dvp + e] = a * S[i * s->Dvp + e] + w * s->fk[j * s->m + i] * s->v[j * s->Dvp + e];
}

static void q_times(const Slice *s, const double *S, int64_t t, double *ot) {
  for (int64_t i = 0; i < s->m; i++)
    for (int64_t e = 0; e < s->Dvp; e++) ot[e] += s->fq[t * s->m + i] * S[i * s->Dvp + e];
}

/* o'[Sq, Dvp] (may be NULL) and the final state Sf[m, Dvp] (may be NULL), recurrent form */
static int recurrent(Kern *k, const Slice *s, double *o, double *Sf) {
  double *S = calloc((size_t)(s->m * s->Dvp + 1), sizeof(double));
  if (!S) return kfail(k, "out of memory");
  if (!s->la.causal && s->la.gate == LA_GATE_NONE && o) { /* o_t = q~_t (sum_s k~_s^T v'_s) */
    for (int64_t j = 0; j < s->Sk; j++) rank1(s, S, 1, 1, j);
    for (int64_t t = 0; t < s->Sq; t++) q_times(s, S, t, o + t * s->Dvp);
    free(S);
    return 1;
  }
  memcpy(S, s->S0, sizeof(double) * (size_t)(s->m * s->Dvp));
  for (int64_t t = 0; t < s->Sk; t++) {
    rank1(s, S, exp(s->lg[t]), s->beta[t], t);
    if (o) q_times(s, S, t, o + t * s->Dvp);
  }
  if (Sf) memcpy(Sf, S, sizeof(double) * (size_t)(s->m * s->Dvp));
  if (!s->la.causal && o) { /* bidirectional decay: + sum_{j > t} gamma^{j - t} k~_j^T v'_j */
    memset(S, 0, sizeof(double) * (size_t)(s->m * s->Dvp));
    for (int64_t t = s->Sk - 2; t >= 0; t--) {
      rank1(s, S, s->gamma, s->gamma, t + 1);
      q_times(s, S, t, o + t * s->Dvp);
    }
  }
  free(S);
  return 1;
}

/* z = o'[Dv]: o = o'[:Dv] / z where z != 0 */
static void store_o(const Slice *s, Tensor *out, int64_t bh, const double *o) {
  for (int64_t t = 0; t < s->Sq; t++) {
    const double *ot = o + t * s->Dvp;
    double z = s->la.running && ot[s->Dv] != 0 ? ot[s->Dv] : 1;
    for (int64_t e = 0; e < s->Dv; e++) st(out, (bh * s->Sq + t) * s->Dv + e, ot[e] / z);
  }
}

static int use_quadratic(const Slice *s) {
  return s->la.lower == LA_LOWER_QUADRATIC || (s->la.lower == LA_LOWER_AUTO && s->Sk <= 256);
}

int interp_LINEAR_ATTENTION(Kern *k) {
  Slice s;
  if (!slice_init(k, &s)) return 0;
  double *o = malloc(sizeof(double) * (size_t)(s.Sq * s.Dvp + 1));
  int ok = o != NULL || kfail(k, "out of memory");
  for (int64_t b = 0; ok && b < s.B; b++)
    for (int64_t h = 0; ok && h < s.H; h++) {
      slice_load(k, &s, b, h);
      memset(o, 0, sizeof(double) * (size_t)(s.Sq * s.Dvp));
      if (use_quadratic(&s)) quadratic(&s, o);
      else ok = recurrent(k, &s, o, NULL);
      if (ok) store_o(&s, k->out, b * s.H + h, o);
    }
  free(o);
  slice_free(&s);
  return ok;
}

int interp_LINEAR_ATTENTION_STATE(Kern *k) {
  Slice s;
  if (!slice_init(k, &s)) return 0;
  double *S = malloc(sizeof(double) * (size_t)(s.m * s.Dvp + 1));
  int ok = S != NULL || kfail(k, "out of memory");
  for (int64_t b = 0; ok && b < s.B; b++)
    for (int64_t h = 0; ok && h < s.H; h++) {
      slice_load(k, &s, b, h);
      if (use_quadratic(&s)) { /* the closed form: every key's weight e^{G_last - G_j} beta_j */
        int64_t last = s.Sk - 1;
        double a0 = last >= 0 ? exp(s.G[last]) : 1;
        for (int64_t i = 0; i < s.m * s.Dvp; i++) S[i] = a0 * s.S0[i];
        for (int64_t j = 0; j < s.Sk; j++) rank1(&s, S, 1, exp(s.G[last] - s.G[j]) * s.beta[j], j);
      } else {
        ok = recurrent(k, &s, NULL, S);
      }
      for (int64_t i = 0; ok && i < s.m * s.Dvp; i++) st(k->out, (b * s.H + h) * s.m * s.Dvp + i, S[i]);
    }
  free(S);
  slice_free(&s);
  return ok;
}

/* ---- backward (quadratic) ------------------------------------------------------------------ */

int interp_LINEAR_ATTENTION_GRAD(Kern *k) {
  Slice s;
  if (!slice_init(k, &s)) return 0;
  const LinAttn *la = &s.la;
  int64_t S = s.Sk, m = s.m, Dv = s.Dv, Dvp = s.Dvp, W = k->out->shape[3];
  int learned = la->gate == LA_GATE_LEARNED;
  double *o = calloc((size_t)(S * Dvp + 1), sizeof(double)), *dO = calloc((size_t)(S * Dvp + 1), sizeof(double));
  double *dq = calloc((size_t)(S * m + 1), sizeof(double)), *dk = calloc((size_t)(S * m + 1), sizeof(double));
  double *dv = calloc((size_t)(S * Dvp + 1), sizeof(double)), *dS0 = calloc((size_t)(m * Dvp + 1), sizeof(double));
  double *dG = calloc((size_t)(S + 1), sizeof(double));
  int ok = (o && dO && dq && dk && dv && dS0 && dG) || kfail(k, "out of memory");
  for (int64_t b = 0; ok && b < s.B; b++)
    for (int64_t h = 0; h < s.H; h++) {
      int64_t bh = b * s.H + h;
      slice_load(k, &s, b, h);
      memset(o, 0, sizeof(double) * (size_t)(S * Dvp));
      quadratic(&s, o);
      for (int64_t t = 0; t < S; t++) { /* dO' */
        double z = la->running ? o[t * Dvp + Dv] : 0, proj = 0;
        for (int64_t e = 0; e < Dv; e++) {
          double g = ld(k->in[la->dout], (bh * S + t) * Dv + e);
          dO[t * Dvp + e] = z != 0 ? g / z : g;
          proj += g * (z != 0 ? o[t * Dvp + e] / z : 0);
        }
        if (la->running) dO[t * Dvp + Dv] = z != 0 ? -proj / z : 0;
      }
      memset(dq, 0, sizeof(double) * (size_t)(S * m));
      memset(dk, 0, sizeof(double) * (size_t)(S * m));
      memset(dv, 0, sizeof(double) * (size_t)(S * Dvp));
      memset(dS0, 0, sizeof(double) * (size_t)(m * Dvp));
      for (int64_t t = 0; t < S; t++) {
        const double *qt = s.fq + t * m, *dot = dO + t * Dvp;
        for (int64_t j = 0; j < S; j++) {
          double a = coef(&s, t, j);
          if (a == 0) continue;
          const double *kj = s.fk + j * m, *vj = s.v + j * Dvp;
          double dov = dotv(dot, vj, Dvp), qk = dotv(qt, kj, m);
          for (int64_t i = 0; i < m; i++) {
            dq[t * m + i] += a * s.beta[j] * dov * kj[i];
            dk[j * m + i] += a * dov * qt[i]; /* dk'; times beta below */
          }
          for (int64_t e = 0; e < Dvp; e++) dv[j * Dvp + e] += a * s.beta[j] * qk * dot[e];
        }
        double sw = state_w(&s, t);
        if (sw != 0)
          for (int64_t i = 0; i < m; i++)
            for (int64_t e = 0; e < Dvp; e++) {
              dq[t * m + i] += sw * s.S0[i * Dvp + e] * dot[e];
              dS0[i * Dvp + e] += sw * qt[i] * dot[e];
            }
      }
      double acc = 0;
      for (int64_t t = 0; t < S; t++) { /* dbeta, dk, dG */
        double dbeta = dotv(s.fk + t * m, dk + t * m, m);
        for (int64_t i = 0; i < m; i++) dk[t * m + i] *= s.beta[t];
        dG[t] = dotv(s.fq + t * m, dq + t * m, m) - dotv(s.fk + t * m, dk + t * m, m);
        if (learned && !la->wrt_state) st(k->out, (bh * S + t) * W + 2 * m + Dv + 1, dbeta);
      }
      if (la->wrt_state) {
        for (int64_t i = 0; i < m * Dvp; i++) st(k->out, bh * m * Dvp + i, dS0[i]);
        continue;
      }
      for (int64_t t = S - 1; t >= 0; t--) {
        int64_t row = (bh * S + t) * W;
        acc += dG[t];
        for (int64_t i = 0; i < m; i++) {
          st(k->out, row + i, dq[t * m + i]);
          st(k->out, row + m + i, dk[t * m + i]);
        }
        for (int64_t e = 0; e < Dv; e++) st(k->out, row + 2 * m + e, dv[t * Dvp + e]);
        if (learned) st(k->out, row + 2 * m + Dv, acc);
      }
    }
  free(o);
  free(dO);
  free(dq);
  free(dk);
  free(dv);
  free(dS0);
  free(dG);
  slice_free(&s);
  return ok;
}
