/* fast_linear_attention.c — f32 kernels of linear_attention, linear_attention_state and
 * linear_attention_grad (operand layout: ir/linattn.h; semantics: runtime/interp/linattn.c,
 * which the tests hold these to). Per node:
 *   - the feature maps of all rows at once: Z = X P (one GEMM over [B*H*S, D] x [D, m]),
 *     then softmax(w * Z) (dct) or d * exp(t * Z) (dct_exp), max-subtracted;
 *   - per (batch, head) slice, the causal cores of fast_linattn_core.c: chunked (default) or
 *     recurrent (lower = recurrent, or auto with one query position: decoding);
 *     bidirectional decay = the causal pass plus a strict pass over the time-reversed slice;
 *     bidirectional without a gate = q~ (k~^T v') (two GEMMs);
 *   - norm = running through a ones column appended to v (its output is the denominator).
 * The backward (linear_attention_grad) always runs the chunked core: a forward sweep that
 * keeps each chunk's starting state (and o' when the norm needs it), then the reverse sweep.
 * lower = quadratic is the chunked core with a single chunk holding every position (the masked
 * product (Q K^T * M) V itself) up to 2048 positions; beyond, it declines (-1) and the
 * interpreter runs its reference form.
 * Shapes: q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv], S0[B, H, m, Dv'].
 */
#include <stdlib.h>

#include "fast_internal.h"
#include "fast_linattn.h"
#include "linattn.h"

enum { QUADRATIC_MAX = 2048 }; /* lower = quadratic runs here up to this length */

typedef struct Node {
  FastCx *c;
  LinAttn la;
  int64_t B, H, Sq, Sk, D, m, Dv, Dvp;
} Node;

static int oom(FastCx *c) {
  snprintf(c->err, c->errlen, "out of memory");
  return 0;
}

static const float *F(const Node *n, int pos) { return pos >= 0 ? (const float *)n->c->in[pos]->data : NULL; }

/* phi of every row of x[rows, D] into out[rows, m] (feature dct / dct_exp) */
static void features(const Node *n, const float *x, int64_t rows, float *out) {
  const float *P = F(n, n->la.proj), *fw = F(n, n->la.fw), *fd = F(n, n->la.fd);
  int64_t m = n->m;
  la_gemm(0, 0, rows, m, n->D, 1, x, n->D, P, m, 0, out, m);
  for (int64_t r = 0; r < rows; r++) {
    float *z = out + r * m;
    if (n->la.feature == LA_FEAT_DCT_EXP) {
      for (int64_t j = 0; j < m; j++) z[j] = fd[j] * expf(fw[j] * z[j]);
      continue;
    }
    float mx = -INFINITY;
    for (int64_t j = 0; j < m; j++) {
      z[j] *= fw[j];
      if (z[j] > mx) mx = z[j];
    }
    double sum = 0;
    for (int64_t j = 0; j < m; j++) sum += z[j] = expf(z[j] - mx);
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < m; j++) z[j] *= inv;
  }
}

/* x[rows, w] reversed along the rows into out */
static void flip(const float *x, int64_t rows, int64_t w, float *out) {
  for (int64_t r = 0; r < rows; r++) memcpy(out + (rows - 1 - r) * w, x + r * w, sizeof(float) * (size_t)w);
}

/* v' of slice bh: v itself, or v with a ones column */
static const float *vext(const Node *n, int64_t bh, float *buf) {
  const float *v = F(n, n->la.v) + bh * n->Sk * n->Dv;
  if (!n->la.running) return v;
  for (int64_t t = 0; t < n->Sk; t++) {
    memcpy(buf + t * n->Dvp, v + t * n->Dv, sizeof(float) * (size_t)n->Dv);
    buf[t * n->Dvp + n->Dv] = 1;
  }
  return buf;
}

static void slice_gates(const Node *n, int64_t bh, LaSlice *s, float *lgbuf) {
  if (n->la.gate == LA_GATE_LEARNED) {
    s->lg = F(n, n->la.g) + bh * n->Sk;
    s->beta = F(n, n->la.beta) + bh * n->Sk;
  } else if (n->la.gate == LA_GATE_DECAY) {
    float lg = (float)log(ir_linattn_gamma(bh % n->H, n->H));
    for (int64_t t = 0; t < n->Sk; t++) lgbuf[t] = lg;
    s->lg = lgbuf;
  }
}

static int init_node(FastCx *c, Node *n) {
  char err[256];
  memset(n, 0, sizeof *n);
  n->c = c;
  if (!ir_linattn_read(c->n, &n->la, err, sizeof err)) return 0;
  const Tensor *k = c->in[n->la.k], *v = c->in[n->la.v];
  n->B = k->shape[0], n->H = k->shape[1], n->Sk = k->shape[2], n->D = k->shape[3], n->Dv = v->shape[3];
  n->Sq = n->la.q >= 0 ? c->in[n->la.q]->shape[2] : n->Sk;
  n->m = n->la.proj >= 0 ? c->in[n->la.proj]->shape[1] : n->D;
  n->Dvp = n->Dv + n->la.running;
  if (n->la.chunk < 1) n->la.chunk = 64;
  return 1;
}

/* The forward of one slice into o'[Sq, Dvp] (NULL: none) and S (state in/out). */
static int slice_forward(const Node *n, LaSlice *s, float *S, float *o, float *work, int recurrent) {
  if (!n->la.causal && n->la.gate == LA_GATE_NONE) { /* o = q~ (k~^T v') */
    la_gemm(1, 0, n->m, n->Dvp, n->Sk, 1, s->k, n->m, s->v, n->Dvp, 0, S, n->Dvp);
    if (o) la_gemm(0, 0, n->Sq, n->Dvp, n->m, 1, s->q, n->m, S, n->Dvp, 1, o, n->Dvp);
    return 1;
  }
  if (recurrent) la_recurrent_fwd(s, S, o);
  else la_chunk_fwd(s, S, o, NULL, work);
  if (n->la.causal || !o) return 1;
  /* bidirectional decay: the strict anti-causal half on the reversed slice */
  int64_t T = n->Sk, m = n->m, w = n->Dvp;
  float *buf = malloc(sizeof(float) * (size_t)(2 * T * m + 2 * T * w + m * w + 1));
  if (!buf) return 0;
  float *qf = buf, *kf = qf + T * m, *vf = kf + T * m, *of = vf + T * w, *Sf = of + T * w;
  flip(s->q, T, m, qf);
  flip(s->k, T, m, kf);
  flip(s->v, T, w, vf);
  memset(of, 0, sizeof(float) * (size_t)(T * w + m * w));
  LaSlice r = *s;
  r.q = qf, r.k = kf, r.v = vf, r.strict = 1;
  if (recurrent) la_recurrent_fwd(&r, Sf, of);
  else la_chunk_fwd(&r, Sf, of, NULL, work);
  for (int64_t t = 0; t < T; t++)
    for (int64_t e = 0; e < w; e++) o[t * w + e] += of[(T - 1 - t) * w + e];
  free(buf);
  return 1;
}

/* linear_attention and linear_attention_state */
static int forward(FastCx *c, Node *n) {
  int state_op = c->n->op == OP_LINEAR_ATTENTION_STATE;
  int recurrent = n->la.lower == LA_LOWER_RECURRENT || (n->la.lower == LA_LOWER_AUTO && n->Sq == 1);
  int64_t rows_q = n->B * n->H * n->Sq, rows_k = n->B * n->H * n->Sk, m = n->m, w = n->Dvp;
  float *fq = NULL, *fk = NULL, *o = NULL, *vb = NULL, *S = NULL, *lg = NULL, *work = NULL;
  const float *q = state_op ? NULL : F(n, n->la.q), *k = F(n, n->la.k);
  int ok = 0;
  if (n->la.feature != LA_FEAT_NONE) {
    fq = state_op ? NULL : malloc(sizeof(float) * (size_t)(rows_q * m + 1));
    fk = malloc(sizeof(float) * (size_t)(rows_k * m + 1));
    if ((!state_op && !fq) || !fk) goto done;
    if (!state_op) features(n, q, rows_q, fq);
    features(n, k, rows_k, fk);
    q = fq;
    k = fk;
  }
  LaSlice proto = {n->Sk, m, w, n->la.chunk, NULL, NULL, NULL, NULL, NULL, 0};
  o = malloc(sizeof(float) * (size_t)(n->Sq * w + 1));
  vb = malloc(sizeof(float) * (size_t)(n->Sk * w + 1));
  S = malloc(sizeof(float) * (size_t)(m * w + 1));
  lg = malloc(sizeof(float) * (size_t)(n->Sk + 1));
  work = malloc(sizeof(float) * (size_t)la_work_size(&proto));
  if (!o || !vb || !S || !lg || !work || !fast_alloc_out_zeroed(c, DT_F32)) goto done;
  float *out = c->out->data;
  const float *S0 = F(n, n->la.state);
  for (int64_t bh = 0; bh < n->B * n->H; bh++) {
    LaSlice s = proto;
    s.q = q ? q + bh * n->Sq * m : NULL;
    s.k = k + bh * n->Sk * m;
    s.v = vext(n, bh, vb);
    slice_gates(n, bh, &s, lg);
    if (S0) memcpy(S, S0 + bh * m * w, sizeof(float) * (size_t)(m * w));
    else memset(S, 0, sizeof(float) * (size_t)(m * w));
    if (state_op) {
      if (!slice_forward(n, &s, S, NULL, work, recurrent)) goto done;
      memcpy(out + bh * m * w, S, sizeof(float) * (size_t)(m * w));
      continue;
    }
    memset(o, 0, sizeof(float) * (size_t)(n->Sq * w));
    if (!slice_forward(n, &s, S, o, work, recurrent)) goto done;
    for (int64_t t = 0; t < n->Sq; t++) {
      float z = n->la.running && o[t * w + n->Dv] != 0 ? o[t * w + n->Dv] : 1.0f;
      for (int64_t e = 0; e < n->Dv; e++) out[(bh * n->Sq + t) * n->Dv + e] = o[t * w + e] / z;
    }
  }
  ok = 1;
done:
  free(fq);
  free(fk);
  free(o);
  free(vb);
  free(S);
  free(lg);
  free(work);
  return ok ? 1 : oom(c);
}

/* ---- backward ----------------------------------------------------------------------------- */

/* One direction of the backward on slice s: forward sweep keeping states, reverse sweep. */
static int slice_backward(const Node *n, const LaSlice *s, const float *S0, const float *dO, float *dq, float *dkb,
                          float *dv, float *R, float *work) {
  int64_t m = n->m, w = n->Dvp, NT = (s->T + s->C - 1) / s->C;
  float *states = malloc(sizeof(float) * (size_t)(NT * m * w + m * w + 1));
  if (!states) return 0;
  float *S = states + NT * m * w;
  if (S0) memcpy(S, S0, sizeof(float) * (size_t)(m * w));
  else memset(S, 0, sizeof(float) * (size_t)(m * w));
  la_chunk_fwd(s, S, NULL, states, work);
  memset(R, 0, sizeof(float) * (size_t)(m * w));
  la_chunk_bwd(s, states, dO, dq, dkb, dv, R, work);
  free(states);
  return 1;
}

static int backward(FastCx *c, Node *n) {
  int64_t T = n->Sk, m = n->m, w = n->Dvp, Dv = n->Dv;
  int learned = n->la.gate == LA_GATE_LEARNED;
  LaSlice proto = {T, m, w, n->la.chunk, NULL, NULL, NULL, NULL, NULL, 0};
  size_t per = (size_t)(T * w * 4 + T * m * 6 + 2 * m * w + T + 16);
  float *buf = malloc(sizeof(float) * per), *work = malloc(sizeof(float) * (size_t)la_work_size(&proto));
  if (!buf || !work || !fast_alloc_out_zeroed(c, DT_F32)) {
    free(buf);
    free(work);
    return oom(c);
  }
  int64_t W = c->out->shape[3];
  float *vb = buf, *o = vb + T * w, *dOp = o + T * w, *dvb = dOp + T * w, *dq = dvb + T * w, *dkb = dq + T * m;
  float *qf = dkb + T * m, *kf = qf + T * m, *dqf = kf + T * m, *dkf = dqf + T * m, *R = dkf + T * m, *lg = R + m * w;
  float *vf = NULL, *dOf = NULL, *dvf = NULL;
  int ok = 1;
  if (!n->la.causal) {
    vf = malloc(sizeof(float) * (size_t)(3 * T * w + 1));
    if (!vf) ok = 0;
    else dOf = vf + T * w, dvf = dOf + T * w;
  }
  float *out = c->out->data;
  const float *S0all = F(n, n->la.state), *dOall = F(n, n->la.dout);
  for (int64_t bh = 0; ok && bh < n->B * n->H; bh++) {
    LaSlice s = proto;
    s.q = F(n, n->la.q) + bh * T * m;
    s.k = F(n, n->la.k) + bh * T * m;
    s.v = vext(n, bh, vb);
    slice_gates(n, bh, &s, lg);
    const float *S0 = S0all ? S0all + bh * m * w : NULL, *dO = dOall + bh * T * Dv;
    /* dO' (the norm's denominator needs the forward output) */
    if (n->la.running) {
      memset(o, 0, sizeof(float) * (size_t)(T * w));
      if (S0) memcpy(R, S0, sizeof(float) * (size_t)(m * w));
      else memset(R, 0, sizeof(float) * (size_t)(m * w));
      if (!slice_forward(n, &s, R, o, work, 0)) { ok = 0; break; }
      for (int64_t t = 0; t < T; t++) {
        float z = o[t * w + Dv], proj = 0;
        for (int64_t e = 0; e < Dv; e++) {
          float g = dO[t * Dv + e];
          dOp[t * w + e] = z != 0 ? g / z : g;
          if (z != 0) proj += g * o[t * w + e] / z;
        }
        dOp[t * w + Dv] = z != 0 ? -proj / z : 0;
      }
    } else {
      memcpy(dOp, dO, sizeof(float) * (size_t)(T * w));
    }
    memset(dq, 0, sizeof(float) * (size_t)(T * m));
    memset(dkb, 0, sizeof(float) * (size_t)(T * m));
    memset(dvb, 0, sizeof(float) * (size_t)(T * w));
    if (!slice_backward(n, &s, S0, dOp, dq, dkb, dvb, R, work)) { ok = 0; break; }
    if (n->la.wrt_state) {
      memcpy(out + bh * m * w, R, sizeof(float) * (size_t)(m * w));
      continue;
    }
    if (!n->la.causal) { /* the anti-causal half, on the reversed slice */
      LaSlice r = s;
      flip(s.q, T, m, qf);
      flip(s.k, T, m, kf);
      flip(s.v, T, w, vf);
      flip(dOp, T, w, dOf);
      r.q = qf, r.k = kf, r.v = vf, r.strict = 1;
      memset(dqf, 0, sizeof(float) * (size_t)(T * m));
      memset(dkf, 0, sizeof(float) * (size_t)(T * m));
      memset(dvf, 0, sizeof(float) * (size_t)(T * w));
      if (!slice_backward(n, &r, NULL, dOf, dqf, dkf, dvf, R, work)) { ok = 0; break; }
      for (int64_t t = 0; t < T; t++) {
        int64_t u = T - 1 - t;
        for (int64_t i = 0; i < m; i++) dq[t * m + i] += dqf[u * m + i], dkb[t * m + i] += dkf[u * m + i];
        for (int64_t e = 0; e < w; e++) dvb[t * w + e] += dvf[u * w + e];
      }
    }
    double acc = 0; /* pack dq | dk | dv | dg | dbeta; dg = reverse cumsum of q.dq - k.dk */
    for (int64_t t = T - 1; t >= 0; t--) {
      float *row = out + (bh * T + t) * W;
      double qd = 0, kd = 0, kb = 0, beta = s.beta ? s.beta[t] : 1.0;
      for (int64_t i = 0; i < m; i++) {
        double dk = beta * dkb[t * m + i];
        row[i] = dq[t * m + i];
        row[m + i] = (float)dk;
        qd += (double)s.q[t * m + i] * dq[t * m + i];
        kd += (double)s.k[t * m + i] * dk;
        kb += (double)s.k[t * m + i] * dkb[t * m + i];
      }
      memcpy(row + 2 * m, dvb + t * w, sizeof(float) * (size_t)Dv);
      if (learned) {
        acc += qd - kd;
        row[2 * m + Dv] = (float)acc;
        row[2 * m + Dv + 1] = (float)kb;
      }
    }
  }
  free(buf);
  free(work);
  free(vf);
  return ok ? 1 : oom(c);
}

int fast_linear_attention(FastCx *c) {
  Node n;
  if (!init_node(c, &n)) return -1;
  if (n.la.lower == LA_LOWER_QUADRATIC) { /* one chunk of every position: the masked quadratic product */
    if (n.Sk > QUADRATIC_MAX) return -1;   /* beyond: the interpreter's reference form */
    n.la.chunk = n.Sk > 0 ? n.Sk : 1;
    n.la.lower = LA_LOWER_CHUNKED;
  }
  if (c->n->op == OP_LINEAR_ATTENTION_GRAD) return backward(c, &n);
  return forward(c, &n);
}
