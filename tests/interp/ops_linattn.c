/* ops_linattn.c — op-vs-reference tests of linear_attention, linear_attention_state and
 * linear_attention_grad (ir/linattn.h): every feature map (none, dct, dct_exp) x gate (none,
 * decay, learned) x norm x causal x state, each in a random lowering (the interpreter runs the
 * quadratic and the recurrent forms). The references are written independently of the
 * kernels: gates as explicit products of alpha_r (never exponentials of cumulated sums),
 * gamma_h from its closed form 1 - 2^-5 16^(-h/(H-1)), gradients from the direct derivative
 * formulas (dg_r as the sum over the pairs s < r <= t that a gate at r decays).
 */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "linattn.h"

typedef struct La {
  int feature, gate, running, causal, state;
  int64_t B, H, Sq, Sk, D, m, Dv, Dvp;
  int q, k, v, P, fw, fd, g, beta, s0, dout; /* operands (indices into c->x), -1 absent */
} La;

static Dim cd(int64_t v) { return dim_const(v); }
static const double *X(Case *c, int i) { return h_f(&c->x[i]); }

static double gamma_ref(int64_t h, int64_t H) { return 1 - pow(2.0, -5) * (H > 1 ? pow(16.0, -(double)h / (double)(H - 1)) : 1); }

static double alpha(Case *c, const La *a, int64_t b, int64_t h, int64_t r) {
  if (a->gate == 2) return exp(X(c, a->g)[(b * a->H + h) * a->Sk + r]);
  return a->gate == 1 ? gamma_ref(h, a->H) : 1;
}
static double beta(Case *c, const La *a, int64_t b, int64_t h, int64_t s) {
  return a->gate == 2 ? X(c, a->beta)[(b * a->H + h) * a->Sk + s] : 1;
}
/* A_ts: the product of alpha over (s, t]; 0 when s is not visible from t */
static double gate_ts(Case *c, const La *a, int64_t b, int64_t h, int64_t t, int64_t s) {
  if (a->causal && s > t) return 0;
  double r = 1;
  for (int64_t u = s + 1; u <= t; u++) r *= alpha(c, a, b, h, u);
  for (int64_t u = t + 1; u <= s; u++) r *= alpha(c, a, b, h, u); /* bidirectional decay */
  return r;
}
static double carry(Case *c, const La *a, int64_t b, int64_t h, int64_t t) {
  double r = 1;
  for (int64_t u = 0; u <= t; u++) r *= alpha(c, a, b, h, u);
  return r;
}

/* phi of row `row` of operand x (length D) into out[m] */
static void phi(Case *c, const La *a, int x, int64_t row, double *out) {
  const double *xv = X(c, x) + row * a->D;
  if (a->feature == LA_FEAT_NONE) {
    for (int64_t j = 0; j < a->m; j++) out[j] = xv[j];
    return;
  }
  double sum = 0;
  for (int64_t j = 0; j < a->m; j++) {
    double z = 0;
    for (int64_t d = 0; d < a->D; d++) z += xv[d] * X(c, a->P)[d * a->m + j];
    z *= X(c, a->fw)[j];
    out[j] = a->feature == LA_FEAT_DCT ? exp(z) : X(c, a->fd)[j] * exp(z);
    sum += out[j];
  }
  if (a->feature == LA_FEAT_DCT)
    for (int64_t j = 0; j < a->m; j++) out[j] /= sum;
}
static double fdot(Case *c, const La *a, int64_t bqrow, int64_t bkrow) {
  double fq[16], fk[16], s = 0;
  phi(c, a, a->q, bqrow, fq);
  phi(c, a, a->k, bkrow, fk);
  for (int64_t j = 0; j < a->m; j++) s += fq[j] * fk[j];
  return s;
}
/* v'_s[e] (the ones column when running) */
static double vext(Case *c, const La *a, int64_t b, int64_t h, int64_t s, int64_t e) {
  return e == a->Dv ? 1.0 : X(c, a->v)[((b * a->H + h) * a->Sk + s) * a->Dv + e];
}
static double s0(Case *c, const La *a, int64_t b, int64_t h, int64_t i, int64_t e) {
  return a->state ? X(c, a->s0)[((b * a->H + h) * a->m + i) * a->Dvp + e] : 0;
}

/* o'_t[e], e < Dvp */
static double oprime(Case *c, const La *a, int64_t b, int64_t h, int64_t t, int64_t e) {
  double o = 0, fq[16];
  int64_t bh = b * a->H + h;
  for (int64_t s = 0; s < a->Sk; s++) {
    double w = gate_ts(c, a, b, h, t, s);
    if (w != 0) o += w * beta(c, a, b, h, s) * fdot(c, a, bh * a->Sq + t, bh * a->Sk + s) * vext(c, a, b, h, s, e);
  }
  if (a->state) {
    phi(c, a, a->q, bh * a->Sq + t, fq);
    for (int64_t i = 0; i < a->m; i++) o += carry(c, a, b, h, t) * fq[i] * s0(c, a, b, h, i, e);
  }
  return o;
}

/* ---- building cases ---------------------------------------------------------------------- */

static void fill(Case *c, int x, double lo, double hi) {
  for (int64_t i = 0; i < c->x[x].n; i++) h_f(&c->x[x])[i] = (double)(float)(lo + (hi - lo) * h_unit());
}

/* inputs for a case; grad: q~, k~ with m = D and dO */
static La la_inputs(Case *c, int feature, int gate, int running, int causal, int state, int grad, int cross) {
  La a = {0};
  a.feature = feature, a.gate = gate, a.running = running, a.causal = causal, a.state = state;
  a.B = h_int(1, 2), a.H = h_int(1, 3), a.Sq = h_int(1, 6), a.D = h_int(1, 4), a.Dv = h_int(1, 3);
  a.Sk = cross ? h_int(1, 6) : a.Sq;
  a.m = feature == LA_FEAT_NONE ? a.D : h_int(1, 5);
  a.Dvp = a.Dv + running;
  a.q = a.k = a.v = a.P = a.fw = a.fd = a.g = a.beta = a.s0 = a.dout = -1;
  Dim S = case_sym(c, "S", a.Sq), T = cross ? case_sym(c, "T", a.Sk) : S;
  Dim dq[4] = {cd(a.B), cd(a.H), S, cd(a.D)}, dk[4] = {cd(a.B), cd(a.H), T, cd(a.D)}, dv[4] = {cd(a.B), cd(a.H), T, cd(a.Dv)};
  int positive = running && feature == LA_FEAT_NONE; /* keeps the denominators away from 0 */
  a.q = case_in(c, DT_F32, 4, dq);
  a.k = case_in(c, DT_F32, 4, dk);
  a.v = case_in(c, DT_F32, 4, dv);
  if (positive) fill(c, a.q, 0.1, 2), fill(c, a.k, 0.1, 2);
  if (feature != LA_FEAT_NONE) {
    a.P = case_in(c, DT_F32, 2, (Dim[]){cd(a.D), cd(a.m)});
    a.fw = case_in(c, DT_F32, 1, (Dim[]){cd(a.m)});
    fill(c, a.P, -0.5, 0.5);
    if (feature == LA_FEAT_DCT_EXP) {
      fill(c, a.fw, -0.5, 0.5);
      a.fd = case_in(c, DT_F32, 1, (Dim[]){cd(a.m)});
      fill(c, a.fd, 0.1, 2);
    }
  }
  if (gate == LA_GATE_LEARNED) {
    Dim dg[3] = {cd(a.B), cd(a.H), S};
    a.g = case_in(c, DT_F32, 3, dg);
    a.beta = case_in(c, DT_F32, 3, dg);
    fill(c, a.g, -0.7, -0.01);
    fill(c, a.beta, 0.2, 1.5);
  }
  if (state) {
    a.s0 = case_in(c, DT_F32, 4, (Dim[]){cd(a.B), cd(a.H), cd(a.m), cd(a.Dvp)});
    if (running) fill(c, a.s0, 0.1, 2);
  }
  if (grad) a.dout = case_in(c, DT_F32, 4, dv);
  return a;
}

static IrNode *la_node(Case *c, Op op, const La *a, int lower) {
  static const char *fw[] = {"dct", "dct_exp", "none"}, *gw[] = {"none", "decay", "learned"},
                    *lw[] = {"auto", "quadratic", "chunked", "recurrent"};
  int xs[10], n = 0;
  if (op != OP_LINEAR_ATTENTION_STATE) xs[n++] = a->q;
  xs[n++] = a->k;
  xs[n++] = a->v;
  int extra[] = {a->P, a->fw, a->fd, a->g, a->beta, a->s0, a->dout};
  for (int i = 0; i < COUNT_OF(extra); i++)
    if (extra[i] >= 0) xs[n++] = extra[i];
  IrNode *nd = case_op(c, op, n, xs);
  if (op != OP_LINEAR_ATTENTION_GRAD) ir_set_enum(nd, "feature", fw[a->feature]);
  ir_set_enum(nd, "gate", gw[a->gate]);
  ir_set_enum(nd, "norm", a->running ? "running" : "none");
  if (op != OP_LINEAR_ATTENTION_STATE) ir_set_i(nd, "causal", a->causal);
  ir_set_enum(nd, "lower", lw[lower]);
  ir_set_i(nd, "chunk", h_int(1, 4));
  return nd;
}

static void t_linear_attention(Op op) {
  static const char *fn[] = {"dct", "dct_exp", "none"}, *gn[] = {"none", "decay", "learned"};
  for (int feature = 0; feature < 3; feature++)
    for (int gate = 0; gate < 3; gate++)
      for (int mode = 0; mode < 8; mode++) {
        int running = mode & 1, causal = (mode >> 1) & 1, state = causal && (mode >> 2);
        int cross = !causal && gate == 0 && (mode >> 2);
        if (gate == LA_GATE_LEARNED && !causal) continue; /* the shape rule refuses it (tested in test_ir_verify) */
        int lower = (int)h_int(0, 3);
        Case c;
        case_begin(&c, op, "feature %s, gate %s, norm %d, causal %d, state %d, cross %d, lower %d", fn[feature],
                   gn[gate], running, causal, state, cross, lower);
        La a = la_inputs(&c, feature, gate, running, causal, state, 0, cross);
        la_node(&c, op, &a, lower);
        if (case_infer(&c)) {
          Tensor ref;
          h_alloc(&ref, DT_F64, 4, (int64_t[]){a.B, a.H, a.Sq, a.Dv});
          for (int64_t i = 0; i < ref.n; i++) {
            int64_t e = i % a.Dv, t = (i / a.Dv) % a.Sq, h = (i / a.Dv / a.Sq) % a.H, b = i / a.Dv / a.Sq / a.H;
            double o = oprime(&c, &a, b, h, t, e), z = running ? oprime(&c, &a, b, h, t, a.Dv) : 1;
            h_f(&ref)[i] = z != 0 ? o / z : o;
          }
          case_check(&c, &ref);
        }
        case_end(&c);
      }
}

static void t_linear_attention_state(Op op) {
  for (int rep = 0; rep < 24; rep++) {
    int feature = rep % 3, gate = (rep / 3) % 3, running = (rep / 9) & 1, state = rep % 2;
    Case c;
    case_begin(&c, op, "feature %d, gate %d, norm %d, state %d", feature, gate, running, state);
    La a = la_inputs(&c, feature, gate, running, 1, state, 0, 0);
    a.q = -1; /* the state op reads no queries */
    la_node(&c, op, &a, (int)h_int(0, 3));
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, 4, (int64_t[]){a.B, a.H, a.m, a.Dvp});
      double fk[16];
      for (int64_t i = 0; i < ref.n; i++) {
        int64_t e = i % a.Dvp, j = (i / a.Dvp) % a.m, h = (i / a.Dvp / a.m) % a.H, b = i / a.Dvp / a.m / a.H;
        int64_t last = a.Sk - 1;
        double s = carry(&c, &a, b, h, last) * s0(&c, &a, b, h, j, e);
        for (int64_t u = 0; u < a.Sk; u++) {
          phi(&c, &a, a.k, (b * a.H + h) * a.Sk + u, fk);
          s += gate_ts(&c, &a, b, h, last, u) * beta(&c, &a, b, h, u) * fk[j] * vext(&c, &a, b, h, u, e);
        }
        h_f(&ref)[i] = s;
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- the backward ------------------------------------------------------------------------------ */

/* dO'_t[e]: dO, or [dO / z, -(dO . o) / z] under the running norm */
static double dop(Case *c, const La *a, int64_t b, int64_t h, int64_t t, int64_t e) {
  const double *dO = X(c, a->dout) + ((b * a->H + h) * a->Sq + t) * a->Dv;
  if (!a->running) return dO[e];
  double z = oprime(c, a, b, h, t, a->Dv);
  if (z == 0) return e < a->Dv ? dO[e] : 0;
  if (e < a->Dv) return dO[e] / z;
  double p = 0;
  for (int64_t f = 0; f < a->Dv; f++) p += dO[f] * oprime(c, a, b, h, t, f) / z;
  return -p / z;
}

static double row(Case *c, int x, const La *a, int64_t b, int64_t h, int64_t t, int64_t i) {
  return X(c, x)[((b * a->H + h) * a->Sk + t) * a->m + i];
}
static double pair(Case *c, const La *a, int64_t b, int64_t h, int64_t t, int64_t s) { /* (q_t . k_s)(dO'_t . v'_s) */
  double qk = 0, dv = 0;
  for (int64_t i = 0; i < a->m; i++) qk += row(c, a->q, a, b, h, t, i) * row(c, a->k, a, b, h, s, i);
  for (int64_t e = 0; e < a->Dvp; e++) dv += dop(c, a, b, h, t, e) * vext(c, a, b, h, s, e);
  return qk * dv;
}

static double grad_ref(Case *c, const La *a, int64_t b, int64_t h, int64_t t, int64_t col) {
  int64_t m = a->m, S = a->Sk;
  double r = 0;
  if (col < m) { /* dq_t */
    for (int64_t s = 0; s < S; s++) {
      double dv = 0;
      for (int64_t e = 0; e < a->Dvp; e++) dv += dop(c, a, b, h, t, e) * vext(c, a, b, h, s, e);
      r += gate_ts(c, a, b, h, t, s) * beta(c, a, b, h, s) * dv * row(c, a->k, a, b, h, s, col);
    }
    for (int64_t e = 0; e < a->Dvp; e++) r += carry(c, a, b, h, t) * s0(c, a, b, h, col, e) * dop(c, a, b, h, t, e);
  } else if (col < 2 * m) { /* dk_s, s = t */
    for (int64_t u = 0; u < S; u++) {
      double dv = 0;
      for (int64_t e = 0; e < a->Dvp; e++) dv += dop(c, a, b, h, u, e) * vext(c, a, b, h, t, e);
      r += gate_ts(c, a, b, h, u, t) * beta(c, a, b, h, t) * dv * row(c, a->q, a, b, h, u, col - m);
    }
  } else if (col < 2 * m + a->Dv) { /* dv_s */
    for (int64_t u = 0; u < S; u++) {
      double qk = 0;
      for (int64_t i = 0; i < m; i++) qk += row(c, a->q, a, b, h, u, i) * row(c, a->k, a, b, h, t, i);
      r += gate_ts(c, a, b, h, u, t) * beta(c, a, b, h, t) * qk * dop(c, a, b, h, u, col - 2 * m);
    }
  } else if (col == 2 * m + a->Dv) { /* dg_r, r = t: the pairs s < r <= u and the carried state */
    for (int64_t u = t; u < S; u++) {
      for (int64_t s = 0; s < t; s++) r += gate_ts(c, a, b, h, u, s) * beta(c, a, b, h, s) * pair(c, a, b, h, u, s);
      for (int64_t i = 0; i < m; i++)
        for (int64_t e = 0; e < a->Dvp; e++)
          r += carry(c, a, b, h, u) * row(c, a->q, a, b, h, u, i) * s0(c, a, b, h, i, e) * dop(c, a, b, h, u, e);
    }
  } else { /* dbeta_s */
    for (int64_t u = 0; u < S; u++) r += gate_ts(c, a, b, h, u, t) * pair(c, a, b, h, u, t);
  }
  return r;
}

static void t_linear_attention_grad(Op op) {
  for (int rep = 0; rep < 30; rep++) {
    int gate = rep % 3, running = (rep / 3) & 1, causal = gate == 2 || ((rep / 6) & 1), state = causal && (rep / 12) % 2;
    int wrt_state = state && rep % 5 == 0;
    Case c;
    case_begin(&c, op, "gate %d, norm %d, causal %d, state %d, wrt %s", gate, running, causal, state,
               wrt_state ? "state" : "qkv");
    La a = la_inputs(&c, LA_FEAT_NONE, gate, running, causal, state, 1, 0);
    IrNode *n = la_node(&c, op, &a, (int)h_int(0, 3));
    if (wrt_state) ir_set_enum(n, "wrt", "state");
    if (case_infer(&c)) {
      Tensor ref;
      int64_t W = 2 * a.m + a.Dv + (gate == 2 ? 2 : 0);
      if (wrt_state) {
        h_alloc(&ref, DT_F64, 4, (int64_t[]){a.B, a.H, a.m, a.Dvp});
        for (int64_t i = 0; i < ref.n; i++) {
          int64_t e = i % a.Dvp, j = (i / a.Dvp) % a.m, h = (i / a.Dvp / a.m) % a.H, b = i / a.Dvp / a.m / a.H;
          double r = 0;
          for (int64_t t = 0; t < a.Sk; t++) r += carry(&c, &a, b, h, t) * row(&c, a.q, &a, b, h, t, j) * dop(&c, &a, b, h, t, e);
          h_f(&ref)[i] = r;
        }
      } else {
        h_alloc(&ref, DT_F64, 4, (int64_t[]){a.B, a.H, a.Sk, W});
        for (int64_t i = 0; i < ref.n; i++) {
          int64_t col = i % W, t = (i / W) % a.Sk, h = (i / W / a.Sk) % a.H, b = i / W / a.Sk / a.H;
          h_f(&ref)[i] = grad_ref(&c, &a, b, h, t, col);
        }
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

void register_linattn(OpTest *t) {
  t[OP_LINEAR_ATTENTION] = t_linear_attention;
  t[OP_LINEAR_ATTENTION_STATE] = t_linear_attention_state;
  t[OP_LINEAR_ATTENTION_GRAD] = t_linear_attention_grad;
}
