/* fast_linattn_core.c — chunked forward and backward, and the recurrent forward, of gated
 * linear attention on one (batch, head) slice in f32 (contract: fast_linattn.h). The chunked
 * algorithm is flash-linear-attention's (reference §C): per chunk of C positions
 *
 *   b_i    = sum_{r = t0 .. t0+i} lg_r                    chunk-local cumulated log-gates (f64)
 *   O_n   += diag(e^{b}) (Q_n S)                          inter-chunk: the carried state
 *          + ((Q_n K_n^T) * M) V_n,  M_ij = e^{b_i - b_j} beta_j [j <= i]   intra-chunk
 *   S     <- e^{b_last} S + (K_n * e^{b_last - b} beta)^T V_n
 *
 * and backward, chunks in reverse with R the reverse state (sum over later positions t of
 * e^{G_t - G_end} q_t^T dO_t):
 *
 *   dQ_n  += diag(e^{b}) dO_n S_n^T + ((dO_n V_n^T) * M) K_n
 *   dK'_n += ((dO_n V_n^T) * M0)^T Q_n + diag(e^{b_last - b}) V_n R^T         (M0: M without beta)
 *   dV_n  += ((Q_n K_n^T) * M)^T dO_n + diag(beta e^{b_last - b}) K_n R
 *   R     <- e^{b_last} R + (Q_n * e^{b})^T dO_n
 *
 * Every exponent is a difference of cumulated gates within one chunk, or a partial sum from
 * a chunk's start: no e^{-G} is ever formed, so any length stays finite. Matrix products go
 * through la_gemm (BLAS when built with it). Shapes: T positions, m features, dv values, C chunk.
 */
#include <math.h>
#include <string.h>

#include "fast_linattn.h"
#ifdef MAMC_HAVE_BLAS
#include <cblas.h>
#endif

void la_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
#ifdef MAMC_HAVE_BLAS
  if (K > 0) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
    return;
  }
#endif
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float acc = 0;
      for (int64_t p = 0; p < K; p++) acc += (ta ? A[p * lda + i] : A[i * lda + p]) * (tb ? B[j * ldb + p] : B[p * ldb + j]);
      C[i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[i * ldc + j]);
    }
}

static int64_t wmax(int64_t a, int64_t b) { return a > b ? a : b; }

int64_t la_work_size(const LaSlice *s) {
  int64_t C = s->C, w = wmax(s->m, s->dv);
  return 2 * C + 2 * C + 3 * C * C + 2 * C * w + 16;
}

typedef struct Chunk {
  int64_t t0, L;
  double *b;       /* [C] cumulated log-gates */
  float *eb, *wl;  /* [C] e^{b_i}, e^{b_last - b_i} */
  float *A, *P, *M; /* [C, C]; M: e^{b_i - b_j} where j is visible from i, else 0 */
  float *T1, *T2;  /* [C, max(m, dv)] */
} Chunk;

static void chunk_bufs(const LaSlice *s, float *work, Chunk *c) {
  int64_t C = s->C, w = wmax(s->m, s->dv);
  c->b = (double *)(void *)work; /* work comes from malloc: aligned for doubles */
  c->eb = work + 2 * C;
  c->wl = c->eb + C;
  c->A = c->wl + C;
  c->P = c->A + C * C;
  c->M = c->P + C * C;
  c->T1 = c->M + C * C;
  c->T2 = c->T1 + C * w;
}

/* b, e^{b}, e^{b_last - b} and the mask M of chunk n. A constant gate (decay) makes M
 * Toeplitz: its L powers are computed once. */
static void chunk_gates(const LaSlice *s, Chunk *c, int64_t n) {
  c->t0 = n * s->C;
  c->L = s->T - c->t0 < s->C ? s->T - c->t0 : s->C;
  int64_t L = c->L;
  double acc = 0;
  int constant = s->lg != NULL;
  for (int64_t i = 0; i < L; i++) {
    if (s->lg) acc += s->lg[c->t0 + i];
    c->b[i] = acc;
    if (s->lg && s->lg[c->t0 + i] != s->lg[c->t0]) constant = 0;
  }
  for (int64_t i = 0; i < L; i++) {
    c->eb[i] = (float)exp(c->b[i]);
    c->wl[i] = (float)exp(c->b[L - 1] - c->b[i]);
  }
  float *pw = c->T2; /* scratch: e^{d lg}, d < L */
  if (constant)
    for (int64_t d = 0; d < L; d++) pw[d] = (float)exp((double)d * s->lg[c->t0]);
  for (int64_t i = 0; i < L; i++) {
    float *row = c->M + i * L;
    int64_t last = s->strict ? i - 1 : i;
    for (int64_t j = 0; j <= last; j++)
      row[j] = !s->lg ? 1.0f : constant ? pw[i - j] : expf((float)(c->b[i] - c->b[j]));
    for (int64_t j = last + 1; j < L; j++) row[j] = 0;
  }
}

/* X[i, j] *= M_ij (times beta_j when with_beta) */
static void apply_mask(const LaSlice *s, const Chunk *c, float *X, int with_beta) {
  int64_t L = c->L;
  const float *beta = with_beta && s->beta ? s->beta + c->t0 : NULL;
  for (int64_t i = 0; i < L; i++) {
    float *row = X + i * L;
    const float *m = c->M + i * L;
    if (beta)
      for (int64_t j = 0; j < L; j++) row[j] *= m[j] * beta[j];
    else
      for (int64_t j = 0; j < L; j++) row[j] *= m[j];
  }
}

void la_chunk_fwd(const LaSlice *s, float *S, float *o, float *states, float *work) {
  int64_t m = s->m, dv = s->dv, NT = (s->T + s->C - 1) / s->C;
  Chunk c;
  chunk_bufs(s, work, &c);
  for (int64_t n = 0; n < NT; n++) {
    chunk_gates(s, &c, n);
    int64_t t0 = c.t0, L = c.L;
    const float *Q = s->q + t0 * m, *K = s->k + t0 * m, *V = s->v + t0 * dv;
    if (states) memcpy(states + n * m * dv, S, sizeof(float) * (size_t)(m * dv));
    if (o) {
      float *O = o + t0 * dv;
      la_gemm(0, 0, L, dv, m, 1, Q, m, S, dv, 0, c.T1, dv); /* inter: e^{b_i} q_i S */
      for (int64_t i = 0; i < L; i++)
        for (int64_t e = 0; e < dv; e++) O[i * dv + e] += c.eb[i] * c.T1[i * dv + e];
      la_gemm(0, 1, L, L, m, 1, Q, m, K, m, 0, c.A, L); /* intra: (Q K^T * M) V */
      apply_mask(s, &c, c.A, 1);
      la_gemm(0, 0, L, dv, L, 1, c.A, L, V, dv, 1, O, dv);
    }
    float eL = c.eb[L - 1]; /* S <- e^{b_last} S + (K * e^{b_last - b} beta)^T V */
    if (eL != 1)
      for (int64_t i = 0; i < m * dv; i++) S[i] *= eL;
    for (int64_t j = 0; j < L; j++) {
      float w = c.wl[j] * (s->beta ? s->beta[t0 + j] : 1.0f);
      for (int64_t i = 0; i < m; i++) c.T2[j * m + i] = w * K[j * m + i];
    }
    la_gemm(1, 0, m, dv, L, 1, c.T2, m, V, dv, 1, S, dv);
  }
}

void la_recurrent_fwd(const LaSlice *s, float *S, float *o) {
  int64_t m = s->m, dv = s->dv;
  for (int64_t t = 0; t < s->T; t++) {
    float a = s->lg ? expf(s->lg[t]) : 1.0f, w = s->beta ? s->beta[t] : 1.0f;
    const float *k = s->k + t * m, *v = s->v + t * dv, *q = s->q ? s->q + t * m : NULL;
    if (s->strict && o && q) /* read before adding position t */
      for (int64_t i = 0; i < m; i++)
        for (int64_t e = 0; e < dv; e++) o[t * dv + e] += a * q[i] * S[i * dv + e];
    for (int64_t i = 0; i < m; i++) {
      float *row = S + i * dv, wk = w * k[i];
      for (int64_t e = 0; e < dv; e++) row[e] = a * row[e] + wk * v[e];
    }
    if (!s->strict && o && q)
      for (int64_t i = 0; i < m; i++)
        for (int64_t e = 0; e < dv; e++) o[t * dv + e] += q[i] * S[i * dv + e];
  }
}

void la_chunk_bwd(const LaSlice *s, const float *states, const float *dO, float *dq, float *dkb, float *dv, float *R,
                  float *work) {
  int64_t m = s->m, w = s->dv, NT = (s->T + s->C - 1) / s->C;
  Chunk c;
  chunk_bufs(s, work, &c);
  for (int64_t n = NT - 1; n >= 0; n--) {
    chunk_gates(s, &c, n);
    int64_t t0 = c.t0, L = c.L;
    const float *Q = s->q + t0 * m, *K = s->k + t0 * m, *V = s->v + t0 * w, *DO = dO + t0 * w;
    const float *Sn = states + n * m * w;
    float *dQ = dq + t0 * m, *dK = dkb + t0 * m, *dV = dv + t0 * w;
    /* intra-chunk */
    la_gemm(0, 1, L, L, w, 1, DO, w, V, w, 0, c.P, L); /* P = dO V^T */
    la_gemm(0, 1, L, L, m, 1, Q, m, K, m, 0, c.A, L);  /* A = Q K^T */
    apply_mask(s, &c, c.P, 0);
    apply_mask(s, &c, c.A, 1);
    la_gemm(1, 0, L, m, L, 1, c.P, L, Q, m, 1, dK, m);  /* dK' += (P * M0)^T Q */
    la_gemm(1, 0, L, w, L, 1, c.A, L, DO, w, 1, dV, w); /* dV += (A * M)^T dO */
    if (s->beta)
      for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < L; j++) c.P[i * L + j] *= s->beta[t0 + j];
    la_gemm(0, 0, L, m, L, 1, c.P, L, K, m, 1, dQ, m); /* dQ += (P * M) K */
    /* inter-chunk: the state before the chunk (dq) and the reverse state after it (dk, dv) */
    la_gemm(0, 1, L, m, w, 1, DO, w, Sn, w, 0, c.T1, m);
    for (int64_t i = 0; i < L; i++)
      for (int64_t j = 0; j < m; j++) dQ[i * m + j] += c.eb[i] * c.T1[i * m + j];
    la_gemm(0, 1, L, m, w, 1, V, w, R, w, 0, c.T1, m);
    for (int64_t i = 0; i < L; i++)
      for (int64_t j = 0; j < m; j++) dK[i * m + j] += c.wl[i] * c.T1[i * m + j];
    la_gemm(0, 0, L, w, m, 1, K, m, R, w, 0, c.T2, w);
    for (int64_t i = 0; i < L; i++) {
      float f = c.wl[i] * (s->beta ? s->beta[t0 + i] : 1.0f);
      for (int64_t e = 0; e < w; e++) dV[i * w + e] += f * c.T2[i * w + e];
    }
    /* R <- e^{b_last} R + (Q * e^{b})^T dO */
    float eL = c.eb[L - 1];
    if (eL != 1)
      for (int64_t i = 0; i < m * w; i++) R[i] *= eL;
    for (int64_t i = 0; i < L; i++)
      for (int64_t j = 0; j < m; j++) c.T1[i * m + j] = c.eb[i] * Q[i * m + j];
    la_gemm(1, 0, m, w, L, 1, c.T1, m, DO, w, 1, R, w);
  }
}
