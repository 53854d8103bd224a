/* kref.c — CPU references of the hand-written kernels (the .cu files of runtime/cuda/kernels), taking
 * the same argument blocks (kargs.h) with host addresses in place of device ones. They are
 * what the device's host emulation runs (dev.h: emu mode launches them), and what the GPU
 * check (bench/gpu_check.c) compares each kernel with on random inputs. Written for clarity:
 * plain loops, sums in f64 (the kernels sum in f32: compare with a tolerance).
 * The linear-attention kernels have no reference here (the emulation runs those nodes with
 * the interpreter; the GPU check compares them with the interpreter's op). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kargs.h"
#include "kref.h"
#include "tensor.h"

#define P(T, x) ((T *)(uintptr_t)(x))

/* the source and destination element offsets of the copy's i-th element (row-major over ext) */
static void nd_offsets(const KaCopy *a, long long i, long long *so, long long *d) {
  long long t = i;
  *so = a->src_off;
  *d = a->dst_off;
  for (int ax = a->rank - 1; ax >= 0; ax--) {
    long long x = t % a->ext[ax];
    t /= a->ext[ax];
    *so += x * a->src_st[ax];
    *d += x * a->dst_st[ax];
  }
}

/* k_copy_nd16 (cvt -1: 2-byte elements) and k_copy_cvt (1: f32 to bf16, 2: bf16 to f32) */
static void copy_nd16(const KaCopy *a, int cvt) {
  for (long long i = 0; i < a->n; i++) {
    long long so, d;
    nd_offsets(a, i, &so, &d);
    if (cvt < 0) P(uint16_t, a->dst)[d] = P(const uint16_t, a->src)[so];
    else if (cvt == 1) P(uint16_t, a->dst)[d] = rt_bf16_from_f64(P(const float, a->src)[so]);
    else P(float, a->dst)[d] = (float)rt_bf16_to_f64(P(const uint16_t, a->src)[so]);
  }
}

/* k_copy_nd (4-byte elements) and k_copy_nd_v16 (16-byte ones): the bits move unchanged */
static void copy_nd(const KaCopy *a, size_t es) {
  const char *src = P(const char, a->src);
  char *dst = P(char, a->dst);
  for (long long i = 0; i < a->n; i++) {
    long long so, d;
    nd_offsets(a, i, &so, &d);
    memcpy(dst + d * (long long)es, src + so * (long long)es, es);
  }
}

static void gather(const KaGather *a) {
  for (long long r = 0; r < a->nids; r++) {
    int id = P(const int, a->ids)[r];
    int in = id >= 0 && id < a->V;
    for (long long c = 0; c < a->row; c++)
      P(float, a->out)[r * a->row + c] = in ? P(const float, a->table)[(long long)id * a->row + c] : 0.0f;
  }
}

/* move.cu's deterministic scatter-add, the same integer arithmetic (so the same bits): part 0
 * k_scatter_max, 1 k_scatter_add, 2 k_scatter_fin */
static int scatter_shift(unsigned mx, long long lgn) {
  float m;
  memcpy(&m, &mx, 4);
  int e = 0;
  if (m > 0.0f) frexpf(m, &e);
  return 62 - e - (int)lgn;
}

static void scatter(const KaGather *a, int part) {
  const float *src = P(const float, a->src);
  unsigned *mx = P(unsigned, a->mx);
  uint64_t *acc = P(uint64_t, a->acc);
  float *out = P(float, a->out);
  if (part == 0) {
    for (long long i = 0; i < a->nids * a->row; i++) {
      float x = fabsf(src[i]);
      unsigned u;
      memcpy(&u, &x, 4);
      if (isfinite(x) && u > *mx) *mx = u;
    }
    return;
  }
  int s = scatter_shift(*mx, a->lgn);
  if (part == 2) {
    for (long long i = 0; i < a->V * a->row; i++)
      if (out[i] == 0.0f) out[i] = (float)ldexp((double)(int64_t)acc[i], -s);
    return;
  }
  for (long long r = 0; r < a->nids; r++) {
    int id = P(const int, a->ids)[r];
    if (id < 0 || id >= a->V) continue;
    for (long long c = 0; c < a->row; c++) {
      float x = src[r * a->row + c];
      long long o = (long long)id * a->row + c;
      if (isfinite(x)) acc[o] += (uint64_t)llrint(ldexp((double)x, s));
      else out[o] += x;
    }
  }
}

static void vec(const KaVec *a, int kind) {
  float s = a->a_dev ? a->a * P(const float, a->a_dev)[0] : a->a;
  for (long long i = 0; i < a->n; i++) {
    if (kind == 0) P(float, a->y)[i] += s * P(const float, a->x)[i];
    else if (kind == 1) P(float, a->y)[i] = a->a;
    else P(uint16_t, a->yb)[i] = rt_bf16_from_f64(P(const float, a->x)[i]);
  }
}

static void axpy_n(const KaAxpyN *a) {
  for (int j = 0; j < a->count; j++) {
    KaVec v = {a->y[j], a->x[j], 0, a->a_dev, a->n[j], a->a, 0};
    vec(&v, 0);
  }
}

static void norm_fwd(const KaNorm *a) {
  const long long G = a->groups > 1 ? a->groups : 1, W = a->C / G, C = a->C;
  for (long long rg = 0; rg < a->rows * G; rg++) { /* one (row, group) */
    long long r = rg / G, c0 = (rg - r * G) * W, o = r * C + c0;
    const float *xa = P(const float, a->a) + o, *xb = a->b ? P(const float, a->b) + o : NULL;
    double mu = 0, var = 0;
    for (long long c = 0; c < W; c++) {
      double x = (double)xa[c] + (xb ? xb[c] : 0.0);
      if (a->xs) P(float, a->xs)[o + c] = (float)x;
      mu += a->rms ? 0 : x;
      var += a->rms ? x * x : 0;
    }
    mu /= (double)W;
    if (!a->rms) {
      for (long long c = 0; c < W; c++) {
        double d = (double)xa[c] + (xb ? xb[c] : 0.0) - mu;
        var += d * d;
      }
    }
    var /= (double)W;
    double inv = 1.0 / sqrt(var + a->eps);
    for (long long c = 0; c < W; c++) {
      double y = ((double)xa[c] + (xb ? xb[c] : 0.0) - mu) * inv;
      if (a->gain) y *= P(const float, a->gain)[c0 + c];
      if (a->bias && !a->rms) y += P(const float, a->bias)[c0 + c];
      P(float, a->y)[o + c] = (float)y;
    }
  }
}

/* kind 0 k_xent_rows, 1 k_xent_sum, 2 k_xent_grad, 3 k_xent_count; row_lse as kargs.h says */
static void xent(const KaXent *a, int kind) {
  float *wide = NULL; /* k_xent_rows16, k_xent_grad16: the bf16 logits widened */
  if ((kind == 0 || kind == 2) && a->bf16 && (wide = malloc(sizeof(float) * (size_t)(a->rows * a->V + 1))))
    for (long long i = 0; i < a->rows * a->V; i++) wide[i] = (float)rt_bf16_to_f64(P(const uint16_t, a->logits)[i]);
  if ((kind == 0 || kind == 2) && a->bf16 && !wide) return;
  const float *x0 = wide ? wide : P(const float, a->logits);
  float *loss = P(float, a->row_loss), *cnt = P(float, a->row_cnt);
  if (kind == 3) {
    long long c = 0;
    for (long long r = 0; r < a->rows; r++) c += P(const int, a->tg)[r] != a->ignore;
    cnt[a->rows] = (float)(c > 1 ? c : 1);
    return;
  }
  float *kept = a->row_lse ? P(float, a->row_lse) : NULL;
  if (kind == 1) {
    double l = 0, c = 0;
    long long ct = 0;
    for (long long r = 0; r < a->rows; r++) l += loss[r], c += cnt[r], ct += P(const int, a->tg)[r] != a->ignore;
    P(float, a->out)[0] = (float)(c > 0 ? l / c : 0.0);
    cnt[a->rows] = (float)(c > 1 ? c : 1);
    if (kept) kept[a->rows] = (float)(ct > 1 ? ct : 1);
    return;
  }
  for (long long r = 0; r < a->rows; r++) {
    const float *x = x0 + r * a->V;
    int t = P(const int, a->tg)[r];
    double m = -INFINITY, z = 0, sx = 0;
    for (long long j = 0; j < a->V; j++) m = fmax(m, x[j]);
    for (long long j = 0; j < a->V; j++) z += exp(x[j] - m), sx += x[j];
    double lse = kind == 2 && kept ? (double)kept[r] : (double)(float)(m + log(z)); /* f32, as the kernels' */
    if (kind == 0 && kept) kept[r] = (float)lse;
    if (kind == 0) {
      int counted = t != a->ignore && t >= 0 && t < a->V;
      double nll = counted ? lse - x[t] : 0, smooth = a->smoothing > 0 ? lse - sx / (double)a->V : 0;
      loss[r] = counted ? (float)((1 - a->smoothing) * nll + a->smoothing * smooth) : 0.0f;
      cnt[r] = counted ? 1.0f : 0.0f;
    } else {
      double count = kept ? kept[a->rows] : cnt[a->rows];
      double scale = t != a->ignore ? P(const float, a->g)[0] / count : 0.0, u = a->smoothing / (double)a->V;
      for (long long j = 0; j < a->V; j++) {
        double dx = (exp(x[j] - lse) - ((j == t ? 1 - a->smoothing : 0) + u)) * scale;
        if (a->bf16)
          P(uint16_t, a->dlogits)[r * a->V + j] = rt_bf16_from_f64(dx);
        else
          P(float, a->dlogits)[r * a->V + j] = (float)dx;
      }
    }
  }
  free(wide);
}

static int visible(const KaAttn *a, int b, int i, int j);

/* k_attn_softmax (dsoft 0) and k_attn_dsoftmax (1): the row kernels of the products' form */
static void attn_rows(const KaAttn *a, int dsoft) {
  for (long long r = 0; r < (long long)a->B * a->H * a->Sq; r++) {
    int i = (int)(r % a->Sq), b = (int)(r / ((long long)a->H * a->Sq));
    float *s = P(float, a->s) + r * a->Sk;
    if (dsoft) {
      float *d = P(float, a->ds) + r * a->Sk;
      double delta = 0;
      for (int j = 0; j < a->Sk; j++) delta += (double)s[j] * d[j];
      for (int j = 0; j < a->Sk; j++) d[j] = (float)(a->scale * s[j] * (d[j] - delta));
      continue;
    }
    double m = -INFINITY, z = 0;
    for (int j = 0; j < a->Sk; j++)
      if (visible(a, b, i, j)) m = fmax(m, (double)a->scale * s[j]);
    for (int j = 0; j < a->Sk; j++)
      if (visible(a, b, i, j)) z += exp((double)a->scale * s[j] - m);
    for (int j = 0; j < a->Sk; j++) s[j] = visible(a, b, i, j) && z > 0 ? (float)(exp((double)a->scale * s[j] - m) / z) : 0.0f;
    if (a->lse) P(float, a->lse)[r] = z > 0 ? (float)(m + log(z)) : -INFINITY;
  }
}

/* attention: kind 0 forward (o, lse), 1 delta, 2 dq, 3 dk and dv */
static int visible(const KaAttn *a, int b, int i, int j) {
  if (a->causal && j > i + (a->Sk - a->Sq)) return 0;
  return !a->mask || P(const float, a->mask)[(long long)b * a->Sk + j] != 0.0f;
}

/* where row r (of the B H n rows, slice by slice) of a tensor laid out as L starts (KaRows) */
static int64_t row_at(const KaRows *L, const KaAttn *a, int64_t r, int64_t n) {
  int64_t bh = r / n, i = r % n;
  return L->r ? bh / a->H * L->b + bh % a->H * L->h + i * L->r : r * a->D;
}

/* (q, k, v, o and the gradients packed: attn16 reads and writes the others' layouts) */
static void attn(const KaAttn *a, int kind) {
  const int D = a->D;
  const float *q = P(const float, a->q), *k = P(const float, a->k), *v = P(const float, a->v);
  if (kind == 1) { /* k_attn_bwd_pre: dO and o where a->ldO and a->lo say */
    for (long long r = 0; r < (long long)a->B * a->H * a->Sq; r++) {
      double s = 0;
      int64_t g = row_at(&a->ldO, a, r, a->Sq), f = row_at(&a->lo, a, r, a->Sq);
      for (int e = 0; e < D; e++) s += (double)P(const float, a->dO)[g + e] * P(const float, a->o)[f + e];
      P(float, a->delta)[r] = (float)s;
    }
    return;
  }
  if (kind == 3) {
    memset(P(float, a->dk), 0, sizeof(float) * (size_t)a->B * a->H * a->Sk * D);
    memset(P(float, a->dv), 0, sizeof(float) * (size_t)a->B * a->H * a->Sk * D);
  }
  double *s = malloc(sizeof(double) * (size_t)(a->Sk + 1));
  if (!s) return;
  for (int b = 0; b < a->B; b++)
    for (int h = 0; h < a->H; h++) {
      long long bh = (long long)b * a->H + h;
      for (int i = 0; i < a->Sq; i++) {
        const float *qi = q + (bh * a->Sq + i) * D;
        double m = -INFINITY, z = 0;
        for (int j = 0; j < a->Sk; j++) {
          double d = 0;
          for (int e = 0; e < D; e++) d += (double)qi[e] * k[(bh * a->Sk + j) * D + e];
          s[j] = visible(a, b, i, j) ? d * a->scale : -INFINITY;
          m = fmax(m, s[j]);
        }
        for (int j = 0; j < a->Sk; j++) z += s[j] == -INFINITY ? 0 : exp(s[j] - m);
        double lse = z > 0 ? m + log(z) : -INFINITY;
        if (kind == 0) {
          for (int e = 0; e < D; e++) {
            double acc = 0;
            for (int j = 0; j < a->Sk; j++)
              if (s[j] != -INFINITY) acc += exp(s[j] - lse) * v[(bh * a->Sk + j) * D + e];
            P(float, a->o)[(bh * a->Sq + i) * D + e] = (float)acc;
          }
          if (a->lse) P(float, a->lse)[bh * a->Sq + i] = (float)lse;
          continue;
        }
        const float *gi = P(const float, a->dO) + (bh * a->Sq + i) * D;
        double dl = P(const float, a->delta)[bh * a->Sq + i];
        for (int e = 0; kind == 2 && e < D; e++) P(float, a->dq)[(bh * a->Sq + i) * D + e] = 0;
        for (int j = 0; j < a->Sk; j++) {
          if (s[j] == -INFINITY) continue;
          double p = exp(s[j] - lse), dp = 0;
          for (int e = 0; e < D; e++) dp += (double)gi[e] * v[(bh * a->Sk + j) * D + e];
          double ds = p * (dp - dl) * a->scale;
          for (int e = 0; e < D; e++) {
            if (kind == 2) P(float, a->dq)[(bh * a->Sq + i) * D + e] += (float)(ds * k[(bh * a->Sk + j) * D + e]);
            if (kind == 3) {
              P(float, a->dk)[(bh * a->Sk + j) * D + e] += (float)(ds * qi[e]);
              P(float, a->dv)[(bh * a->Sk + j) * D + e] += (float)(p * gi[e]);
            }
          }
        }
      }
    }
  free(s);
}

/* the kernels named 16 (a->bf16): q k v o dO widened into packed f32 copies from where their
 * KaRows say, the f32 reference, and its o / dq / dk / dv rounded to nearest even into the bf16
 * buffers where theirs say (attention_tc.cu's: [B, S, H, D], a packed gradient's parts) */
static void attn16(const KaAttn *a, int kind) {
  int64_t rq = (int64_t)a->B * a->H * a->Sq, rk = (int64_t)a->B * a->H * a->Sk;
  KaAttn f = *a;
  uint64_t *slot[8] = {&f.q, &f.k, &f.v, &f.o, &f.dO, &f.dq, &f.dk, &f.dv};
  const uint64_t orig[8] = {a->q, a->k, a->v, a->o, a->dO, a->dq, a->dk, a->dv};
  const KaRows *lay[8] = {&a->lq, &a->lk, &a->lv, &a->lo, &a->ldO, &a->ldq, &a->ldk, &a->ldv};
  int64_t rows[8] = {rq, rk, rk, rq, rq, rq, rk, rk};
  int own = kind == 2 && a->delta_out; /* k_fa_bwd_dq computing delta itself */
  int in[8] = {kind != 1, kind != 1, kind != 1, kind == 1 || own, kind >= 1, 0, 0, 0};
  int out[8] = {0, 0, 0, kind == 0, 0, kind == 2, kind == 3, kind == 3};
  float *tmp[8] = {0};
  int ok = 1;
  const int64_t D = a->D;
  for (int t = 0; t < 8; t++) {
    if (!in[t] && !out[t]) continue;
    if (!(tmp[t] = malloc(sizeof(float) * (size_t)(rows[t] * D + 1)))) ok = 0;
    for (int64_t r = 0; ok && in[t] && r < rows[t]; r++) {
      const uint16_t *src = P(const uint16_t, *slot[t]) + row_at(lay[t], a, r, t == 1 || t == 2 ? a->Sk : a->Sq);
      for (int64_t e = 0; e < D; e++) tmp[t][r * D + e] = (float)rt_bf16_to_f64(src[e]);
    }
  }
  for (int t = 0; t < 8; t++)
    if (tmp[t]) *slot[t] = (uint64_t)(uintptr_t)tmp[t];
  const KaRows packed = {0, 0, 0}; /* the copies are */
  f.lq = f.lk = f.lv = f.lo = f.ldO = f.ldq = f.ldk = f.ldv = packed;
  if (ok && own) attn(&f, 1);
  if (ok) attn(&f, kind);
  for (int t = 0; t < 8; t++) {
    for (int64_t r = 0; ok && out[t] && r < rows[t]; r++) {
      uint16_t *dst = P(uint16_t, orig[t]) + row_at(lay[t], a, r, t >= 6 ? a->Sk : a->Sq);
      for (int64_t e = 0; e < D; e++) dst[e] = rt_bf16_from_f64(tmp[t][r * D + e]);
    }
    free(tmp[t]);
  }
}

/* AdamW: kind 0 sqnorm parts, 1 sqnorm final, 2 update */
static void adam(const KaAdam *a, int kind) {
  const KaAdamTensor *T = P(const KaAdamTensor, a->tensors);
  const int *tab = P(const int, a->tab);
  const long long *start = P(const long long, a->start), *steps = P(const long long, a->steps);
  const float *inv = P(const float, a->inv);
  double *part = P(double, a->part);
  if (kind == 1) {
    double t = 0;
    for (long long c = 0; c < a->nchunks; c++) t += part[c];
    P(double, a->norm)[0] = sqrt(t);
    return;
  }
  const KaAdamStep *st = P(const KaAdamStep, a->step);
  double norm = a->norm ? P(double, a->norm)[0] : 0;
  double clip = kind == 2 && st->max_norm > 0 && norm > st->max_norm ? st->max_norm / (norm + 1e-6) : 1.0;
  for (long long c = 0; c < a->nchunks; c++) {
    const KaAdamTensor *t = &T[tab[c]];
    long long s = start[c], e = s + KA_ADAM_CHUNK < t->n ? s + KA_ADAM_CHUNK : t->n;
    double iv = inv[t->module], acc = 0;
    float *w = P(float, t->w), *g = P(float, t->g), *m = P(float, t->m), *v = P(float, t->v);
    if (kind == 0) {
      for (long long i = s; i < e; i++) acc += (iv * g[i]) * (iv * g[i]);
      part[c] = acc;
      continue;
    }
    if (iv == 0) continue;
    double tt = (double)steps[t->module], c1 = 1 - pow(a->beta1, tt), c2 = 1 - pow(a->beta2, tt);
    double step = st->lr / c1, decay = a->kind == 0 ? 1 - st->lr * a->wd : 1, l2 = a->kind == 1 ? a->wd : 0;
    for (long long i = s; i < e; i++) {
      double wi = w[i], gi = (double)g[i] * iv * clip + l2 * wi;
      double mi = a->beta1 * m[i] + (1 - a->beta1) * gi, vi = a->beta2 * v[i] + (1 - a->beta2) * gi * gi;
      m[i] = (float)mi;
      v[i] = (float)vi;
      w[i] = (float)(wi * decay - step * mi / (sqrt(vi / c2) + a->eps));
      g[i] = 0;
      if (t->wb) P(uint16_t, t->wb)[i] = rt_bf16_from_f64(w[i]);
    }
  }
}

typedef struct Ref {
  const char *name;
  int kind;
} Ref;

static const Ref refs[] = {
    {"k_copy_nd", 0},      {"k_gather", 1},       {"k_scatter_add", 2},       {"k_axpy", 3},
    {"k_scatter_max", 24}, {"k_scatter_fin", 25},
    {"k_fill", 4},         {"k_to_bf16", 5},      {"k_norm_fwd", 6},          {"k_norm_fwd_small", 6},
    {"k_xent_rows", 7},
    {"k_xent_sum", 8},     {"k_xent_grad", 9},    {"k_attn_fwd_d32", 10},     {"k_attn_fwd_d64", 10},
    {"k_attn_fwd_d128", 10}, {"k_attn_bwd_pre", 11}, {"k_attn_bwd_dq_d32", 12}, {"k_attn_bwd_dq_d64", 12},
    {"k_attn_bwd_dkdv_d32", 13}, {"k_attn_bwd_dkdv_d64", 13}, {"k_sqnorm", 14}, {"k_sqnorm_final", 15},
    {"k_adamw", 16},       {"k_copy_nd16", 17},    {"k_copy_cvt", 18},    {"k_xent_rows16", 7},    {"k_attn_fwd16_d32", 10},
    {"k_attn_fwd16_d64", 10}, {"k_attn_fwd16_d128", 10}, {"k_attn_bwd_pre16", 11}, {"k_attn_bwd_dq16_d32", 12},
    {"k_attn_bwd_dq16_d64", 12}, {"k_attn_bwd_dkdv16_d32", 13}, {"k_attn_bwd_dkdv16_d64", 13},
    {"k_xent_grad16", 9},  {"k_xent_count", 19},  {"k_attn_softmax", 20}, {"k_attn_dsoftmax", 21},
    {"k_copy_nd_v16", 22}, {"k_axpy_n", 23}, {"k_fa_fwd_d32", 10}, {"k_fa_fwd_d64", 10}, {"k_fa_bwd_dq_d32", 12}, {"k_fa_bwd_dq_d64", 12}, {"k_fa_bwd_dkdv_d32", 13},
    {"k_fa_bwd_dkdv_d64", 13},
};

int kref_has(const char *name) {
  for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
    if (strcmp(refs[i].name, name) == 0) return 1;
  return 0;
}

int kref_launch(const char *name, const void *args) {
  int kind = -1;
  for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
    if (strcmp(refs[i].name, name) == 0) kind = refs[i].kind;
  switch (kind) {
  case 0: copy_nd(args, 4); break;
  case 1: gather(args); break;
  case 2: scatter(args, 1); break;
  case 24: scatter(args, 0); break;
  case 25: scatter(args, 2); break;
  case 3: vec(args, 0); break;
  case 4: vec(args, 1); break;
  case 5: vec(args, 2); break;
  case 6: norm_fwd(args); break;
  case 7: xent(args, 0); break;
  case 8: xent(args, 1); break;
  case 9: xent(args, 2); break;
  case 10:
  case 11:
  case 12:
  case 13: (((const KaAttn *)args)->bf16 ? attn16 : attn)(args, kind - 10); break;
  case 14: adam(args, 0); break;
  case 15: adam(args, 1); break;
  case 16: adam(args, 2); break;
  case 17: copy_nd16(args, -1); break;
  case 18: copy_nd16(args, ((const KaCopy *)args)->cvt); break;
  case 19: xent(args, 3); break;
  case 20: attn_rows(args, 0); break;
  case 21: attn_rows(args, 1); break;
  case 22: copy_nd(args, 16); break;
  case 23: axpy_n(args); break;
  default: return 0;
  }
  return 1;
}
