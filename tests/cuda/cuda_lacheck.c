/* cuda_lacheck.c — part 1 of the GPU check, DiJiang's kernels (cuda_check.c runs it after
 * cuda_kcheck.c's): la_dev.c's sequences in every form — tensor cores (linattn_tc.cu) in segments
 * of 1 and of 3 chunks, CUDA cores (linattn.cu) — against runtime/fast's chunked f32 core
 * (fast_linattn_core.c, which the CPU tests check against the f64 interpreter), on random slices
 * of the sizes the graph checks do not reach: m and dv up to 64 (several units a warp), ragged
 * widths, 7 chunks, no gates, the decay gate and learned gates, both directions; and the feature
 * maps against an f64 host reference. Runs where the device has the kernels (the GPU, or the
 * kemu emulation; not kref's). Test code only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/fast/fast_linattn.h" /* the reference: runtime/fast's internal header */
#include "cuda_check.h"
#include "la_dev.h"
#include "rng.h"
#include "tensor.h"

typedef struct LaCase {
  int B, H, T, m, dv, gate, both; /* gate: 0 none, 1 decay, 2 learned; both: not causal */
} LaCase;

typedef struct LaData {
  int64_t BH, T, m, dv;
  float *q, *k, *v, *dO, *lg, *beta;  /* lg, beta: [BH, T] (decay: the per-head constant) */
  float *o, *dq, *dkb, *dvv;          /* the reference's results */
} LaData;

/* positions of slice x reversed into y (rows of w floats) */
static void flip(const float *x, float *y, int64_t T, int64_t w) {
  for (int64_t t = 0; t < T; t++) memcpy(y + (T - 1 - t) * w, x + t * w, (size_t)w * 4);
}

/* the reference of one slice and direction, added into the results (reverse: on the flipped
 * slice with strict, as the kernels' reverse pass) */
static void ref_slice(LaData *d, int64_t bh, int reverse) {
  const int64_t T = d->T, m = d->m, dv = d->dv, NT = (T + 31) / 32;
  float *q = malloc(sizeof(float) * T * m), *k = malloc(sizeof(float) * T * m), *v = malloc(sizeof(float) * T * dv);
  float *g = malloc(sizeof(float) * T * dv), *lg = malloc(sizeof(float) * T), *bt = malloc(sizeof(float) * T);
  float *o = calloc((size_t)(T * dv), 4), *dq = calloc((size_t)(T * m), 4), *dk = calloc((size_t)(T * m), 4);
  float *dvv = calloc((size_t)(T * dv), 4), *S = calloc((size_t)(m * dv), 4), *R = calloc((size_t)(m * dv), 4);
  float *st = calloc((size_t)(NT * m * dv), 4);
  LaSlice s = {T, m, dv, 32, q, k, v, lg, bt, reverse};
  float *work = calloc((size_t)la_work_size(&s), 4);
  const float *src[6] = {d->q + bh * T * m, d->k + bh * T * m, d->v + bh * T * dv, d->dO + bh * T * dv,
                         d->lg + bh * T, d->beta + bh * T};
  float *dst[6] = {q, k, v, g, lg, bt};
  const int64_t w[6] = {m, m, dv, dv, 1, 1};
  for (int i = 0; i < 6; i++) {
    if (reverse) flip(src[i], dst[i], T, w[i]);
    else memcpy(dst[i], src[i], (size_t)(T * w[i]) * 4);
  }
  la_chunk_fwd(&s, S, o, st, work);
  la_chunk_bwd(&s, st, g, dq, dk, dvv, R, work);
  float *res[4] = {o, dq, dk, dvv}, *out[4] = {d->o + bh * T * dv, d->dq + bh * T * m, d->dkb + bh * T * m, d->dvv + bh * T * dv};
  const int64_t rw[4] = {dv, m, m, dv};
  for (int i = 0; i < 4; i++)
    for (int64_t t = 0; t < T; t++)
      for (int64_t j = 0; j < rw[i]; j++) out[i][t * rw[i] + j] += res[i][(reverse ? T - 1 - t : t) * rw[i] + j];
  free(q), free(k), free(v), free(g), free(lg), free(bt), free(o), free(dq), free(dk), free(dvv), free(S), free(R);
  free(st), free(work);
}

/* x[i] rounded to bf16 (nearest even) in place, and their bits into a new array */
static uint16_t *to_bf16(float *x, int64_t n) {
  uint16_t *b = malloc(sizeof(uint16_t) * (size_t)(n + 1));
  for (int64_t i = 0; b && i < n; i++) b[i] = rt_bf16_from_f64(x[i]), x[i] = (float)rt_bf16_to_f64(b[i]);
  return b;
}

/* r16: v and dO rounded to bf16 first (the reference of the core's bf16 loads) */
static void la_data(const LaCase *cs, LaData *d, uint64_t seed, int r16) {
  d->BH = (int64_t)cs->B * cs->H, d->T = cs->T, d->m = cs->m, d->dv = cs->dv;
  const int64_t nq = d->BH * d->T * d->m, nv = d->BH * d->T * d->dv, n1 = d->BH * d->T;
  d->q = malloc(sizeof(float) * nq), d->k = malloc(sizeof(float) * nq), d->v = malloc(sizeof(float) * nv);
  d->dO = malloc(sizeof(float) * nv), d->lg = malloc(sizeof(float) * n1), d->beta = malloc(sizeof(float) * n1);
  for (int64_t i = 0; i < nq; i++) d->q[i] = (float)rng_uniform(seed, i), d->k[i] = (float)rng_uniform(seed + 1, i);
  fill(d->v, nv, seed + 2, 1.0);
  fill(d->dO, nv, seed + 3, 1.0);
  if (r16) free(to_bf16(d->v, nv)), free(to_bf16(d->dO, nv));
  for (int64_t i = 0; i < n1; i++) {
    const int h = (int)((i / d->T) % cs->H);
    d->lg[i] = cs->gate == 2   ? (float)(-0.02 - 0.3 * rng_uniform(seed + 4, i))
               : cs->gate == 1 ? (float)log(1.0 - exp(-3.4657359027997265 + (cs->H > 1 ? h * (-2.772588722239781 / (cs->H - 1)) : 0.0)))
                               : 0.0f;
    d->beta[i] = cs->gate == 2 ? (float)(0.5 + rng_uniform(seed + 5, i)) : 1.0f;
  }
  d->o = calloc((size_t)nv, 4), d->dq = calloc((size_t)nq, 4), d->dkb = calloc((size_t)nq, 4), d->dvv = calloc((size_t)nv, 4);
  for (int64_t bh = 0; bh < d->BH; bh++)
    for (int r = 0; r < (cs->both ? 2 : 1); r++) ref_slice(d, bh, r);
}

static void la_data_free(LaData *d) {
  free(d->q), free(d->k), free(d->v), free(d->dO), free(d->lg), free(d->beta);
  free(d->o), free(d->dq), free(d->dkb), free(d->dvv);
}

/* x [B, H, T, w] as [B, T, H, w] (back: the other way), a new array */
static float *heads_swapped(const float *x, int B, int H, int64_t T, int64_t w, int back) {
  float *y = malloc(sizeof(float) * (size_t)(B * H * T * w + 1));
  for (int64_t b = 0; y && b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t t = 0; t < T; t++) {
        int64_t bht = ((b * H + h) * T + t) * w, bth = ((b * T + t) * H + h) * w;
        memcpy(y + (back ? bht : bth), x + (back ? bth : bht), sizeof(float) * (size_t)w);
      }
  return y;
}

/* one form (tc, seg) of case cs on the device against d; bthd: v, dO and o in [B, T, H, dv]
 * (read and written through KaRows, as the executor does around the heads' transposes); in16:
 * v and dO stored as bf16 (d's are bf16 values) */
static void la_form(Ck *c, const LaCase *cs, const LaData *d, int tc, int seg, int bthd, int in16) {
  Dev *dev = &c->dev;
  const int64_t nq = d->BH * d->T * d->m, nv = d->BH * d->T * d->dv;
  KaLin a;
  memset(&a, 0, sizeof a);
  a.BH = d->BH, a.H = cs->H, a.T = cs->T, a.D = cs->m, a.m = cs->m, a.dv_w = cs->dv, a.seg = seg;
  a.decay = cs->gate == 1;
  if (bthd) {
    KaRows r = {(long long)d->T * cs->H * d->dv, d->dv, (long long)cs->H * d->dv};
    a.lv = a.ldO = a.lo = r;
  }
  const int64_t ns = d->BH * la_dev_groups(&a) * d->m * d->dv;
  float *vs = bthd ? heads_swapped(d->v, cs->B, cs->H, d->T, d->dv, 0) : NULL;
  float *gs = bthd ? heads_swapped(d->dO, cs->B, cs->H, d->T, d->dv, 0) : NULL;
  uint16_t *v16 = in16 ? to_bf16(vs ? vs : (float *)d->v, nv) : NULL, *g16 = in16 ? to_bf16(gs ? gs : (float *)d->dO, nv) : NULL;
  a.v16 = a.dO16 = in16; /* (to_bf16 rounds in place: d's values are bf16 already, so they stay) */
  DPtr q = ck_up(c, d->q, nq * 4), k = ck_up(c, d->k, nq * 4);
  DPtr v = in16 ? ck_up(c, v16, nv * 2) : ck_up(c, vs ? vs : d->v, nv * 4);
  DPtr g = in16 ? ck_up(c, g16, nv * 2) : ck_up(c, gs ? gs : d->dO, nv * 4);
  free(vs), free(gs), free(v16), free(g16);
  DPtr lg = cs->gate == 2 ? ck_up(c, d->lg, d->BH * d->T * 4) : 0, bt = cs->gate == 2 ? ck_up(c, d->beta, d->BH * d->T * 4) : 0;
  DPtr o = 0, dq = 0, dkb = 0, dvv = 0, st = 0, rst = 0, dec = 0;
  int ok = q && k && v && g && (cs->gate != 2 || (lg && bt)) && dev_alloc(dev, nv * 4, &o) && dev_alloc(dev, nq * 4, &dq) &&
           dev_alloc(dev, nq * 4, &dkb) && dev_alloc(dev, nv * 4, &dvv) && dev_alloc(dev, ns * 4, &st) &&
           dev_alloc(dev, ns * 4, &rst) && dev_alloc(dev, d->BH * la_dev_groups(&a) * 4, &dec);
  a.q = q, a.k = k, a.v = v, a.dO = g, a.lg = lg, a.beta = bt, a.o = o, a.dq = dq, a.dkb = dkb, a.dv = dvv;
  a.states = st, a.rstates = rst, a.decays = dec;
  ok = ok && la_dev_core(dev, &a, tc, 0, cs->both) && la_dev_core(dev, &a, tc, 1, cs->both);
  if (!ok) fprintf(stderr, "cuda_check: %s\n", dev->L.err);
  const char *what[4] = {"o", "dq", "dkb", "dv"};
  const DPtr got[4] = {o, dq, dkb, dvv};
  const float *ref[4] = {d->o, d->dq, d->dkb, d->dvv};
  const int64_t n[4] = {nv, nq, nq, nv};
  for (int i = 0; i < 4; i++) {
    float *h = malloc(sizeof(float) * (size_t)n[i]);
    int fin = 0, okd = ok && h && ck_down(c, h, got[i], (size_t)n[i] * 4);
    if (okd && bthd && i == 0) { /* o back to [B, H, T, dv] */
      float *back = heads_swapped(h, cs->B, cs->H, d->T, d->dv, 1);
      free(h);
      okd = (h = back) != NULL;
    }
    double e = okd ? nerr_f(h, ref[i], n[i], &fin) : INFINITY;
    char name[200];
    snprintf(name, sizeof name, "la_dev_core %s B%d H%d T%d m%d dv%d %s%s%s%s: %s", tc ? seg > 1 ? "tensor cores, segments of 3" : "tensor cores" : "CUDA cores",
             cs->B, cs->H, cs->T, cs->m, cs->dv, cs->gate == 2 ? "learned gates" : cs->gate ? "decay" : "no gates",
             cs->both ? ", both directions" : "", bthd ? ", v dO o [B,T,H,dv]" : "", in16 ? ", v dO bf16" : "", what[i]);
    result(c, "kernel", name, e, 2e-5, fin, "against runtime/fast's f32 chunked core");
    free(h);
  }
  DPtr all[] = {q, k, v, g, lg, bt, o, dq, dkb, dvv, st, rst, dec};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) dev_free(dev, all[i]);
}

/* the feature maps: phi(x) of rows x[rows, D] against f64 on the host, both forms */
static void la_features_check(Ck *c, int64_t rows, int D, int m, int feature, int tc) {
  Dev *dev = &c->dev;
  float *x = malloc(sizeof(float) * rows * D), *P = malloc(sizeof(float) * D * m), *fw = malloc(sizeof(float) * m);
  float *fd = malloc(sizeof(float) * m), *ref = malloc(sizeof(float) * rows * m), *got = malloc(sizeof(float) * rows * m);
  fill(x, rows * D, 31, 1.0);
  fill(P, (int64_t)D * m, 32, 0.2);
  for (int j = 0; j < m; j++) fw[j] = (float)(0.5 + rng_uniform(33, j)), fd[j] = (float)(0.5 + rng_uniform(34, j));
  for (int64_t r = 0; r < rows; r++) {
    double z[64], mx = -INFINITY, sum = 0;
    for (int j = 0; j < m; j++) {
      z[j] = 0;
      for (int e = 0; e < D; e++) z[j] += (double)x[r * D + e] * P[e * m + j];
      if (feature == 0) z[j] *= fw[j], mx = fmax(mx, z[j]);
      else z[j] = fd[j] * exp(fw[j] * z[j]);
    }
    if (feature == 0)
      for (int j = 0; j < m; j++) sum += z[j] = exp(z[j] - mx);
    for (int j = 0; j < m; j++) ref[r * m + j] = (float)(feature == 0 ? z[j] / sum : z[j]);
  }
  KaLin a;
  memset(&a, 0, sizeof a);
  a.rows = rows, a.D = D, a.m = m, a.dv_w = m, a.feature = feature;
  DPtr dx = ck_up(c, x, rows * D * 4), dP = ck_up(c, P, (size_t)D * m * 4), dfw = ck_up(c, fw, m * 4), dfd = ck_up(c, fd, m * 4), out = 0;
  a.P = dP, a.fw = dfw, a.fd = dfd;
  int fin = 0, ok = dx && dP && dfw && dfd && dev_alloc(dev, rows * m * 4, &out) && la_dev_features(dev, &a, tc, dx, out) &&
                    ck_down(c, got, out, (size_t)(rows * m) * 4);
  if (!ok) fprintf(stderr, "cuda_check: %s\n", dev->L.err);
  double e = ok ? nerr_f(got, ref, rows * m, &fin) : INFINITY;
  char name[128];
  snprintf(name, sizeof name, "la_dev_features %s rows%lld D%d m%d %s", tc ? "tensor cores" : "CUDA cores", (long long)rows, D, m,
           feature == 0 ? "dct" : "dct_exp");
  result(c, "kernel", name, e, 1e-5, fin, "against f64 on the host");
  DPtr all[] = {dx, dP, dfw, dfd, out};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) dev_free(dev, all[i]);
  free(x), free(P), free(fw), free(fd), free(ref), free(got);
}

void check_linattn(Ck *c) {
  if (!dev_has_kernel(&c->dev, "k_la_out_tc")) return; /* kref.c has no DiJiang references */
  static const LaCase cases[] = {
      {1, 3, 200, 64, 64, 0, 0},  /* 7 chunks; 8 state units (2 a warp), two column units */
      {2, 2, 150, 40, 24, 1, 1},  /* ragged widths (padded to 48, 32), the decay gate, both directions */
      {1, 2, 97, 16, 48, 2, 1},   /* learned gates, both directions, a ragged last chunk */
  };
  const int tc_ok = la_dev_tc(&c->dev, 64, 64, 64);
  for (size_t i = 0; i < sizeof cases / sizeof *cases && !over_budget(c); i++) {
    LaData d;
    la_data(&cases[i], &d, 700 + 10 * i, 0);
    if (tc_ok) la_form(c, &cases[i], &d, 1, 1, 0, 0), la_form(c, &cases[i], &d, 1, 3, 0, 0);
    la_form(c, &cases[i], &d, 0, 1, 0, 0);
    if (i == 1 && tc_ok) la_form(c, &cases[i], &d, 1, 3, 1, 0);
    if (i == 1) la_form(c, &cases[i], &d, 0, 1, 1, 0);
    la_data_free(&d);
    if (i != 1) continue; /* v and dO stored as bf16 (strided too) */
    la_data(&cases[i], &d, 900, 1);
    if (tc_ok) la_form(c, &cases[i], &d, 1, 3, 1, 1);
    la_form(c, &cases[i], &d, 0, 1, 1, 1);
    la_data_free(&d);
  }
  for (int f = 0; f < 2; f++) {
    if (tc_ok) la_features_check(c, 200, 64, 64, f, 1), la_features_check(c, 75, 40, 24, f, 1);
    la_features_check(c, 200, 64, 64, f, 0);
  }
}
