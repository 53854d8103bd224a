/* cuda_kcheck.c — part 1 of the GPU check (cuda_check.c runs it): every hand-written kernel
 * (the .cu files of runtime/cuda/kernels) on random inputs against its CPU reference (kref.c), each launch
 * given host buffers whose device twins the kernel gets (KTest). With the device emulation the
 * "device" side is the same reference (a check of the harness), or with MAMC_KEMU the kernel's
 * own CUDA source in the block emulator (tests/cuda/kemu). Test code only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "kernels/kargs.h"
#include "kref.h"
#include "rng.h"
#include "tensor.h"

/* A kernel test: host buffers (the reference's), their device twins, the argument block with
 * host addresses; dev_args() rewrites every host address in the block to its twin. */
typedef struct KtBuf {
  void *h;
  DPtr d;
  size_t bytes;
} KtBuf;

typedef struct KTest {
  KtBuf b[32];
  int n;
} KTest;

static void *kt_buf(KTest *t, size_t bytes, int kind, uint64_t seed) { /* kind 0 zero, 1 normal, 2 uniform(0,1) */
  void *h = calloc(1, bytes ? bytes : 4);
  if (kind == 1) fill(h, (int64_t)(bytes / 4), seed, 1.0);
  if (kind == 2)
    for (size_t i = 0; i < bytes / 4; i++) ((float *)h)[i] = (float)rng_uniform(seed, i);
  t->b[t->n++] = (KtBuf){h, 0, bytes};
  return h;
}

static int kt_upload(Ck *c, KTest *t) {
  for (int i = 0; i < t->n; i++)
    if (!(t->b[i].d = ck_up(c, t->b[i].h, t->b[i].bytes))) return 0;
  return 1;
}

static void kt_rewrite(const KTest *t, void *args, size_t size) {
  uint64_t *w = args;
  for (size_t k = 0; k < size / 8; k++)
    for (int i = 0; i < t->n; i++)
      if (w[k] && w[k] == (uint64_t)(uintptr_t)t->b[i].h) w[k] = t->b[i].d;
}

static void kt_free(Ck *c, KTest *t) {
  for (int i = 0; i < t->n; i++) {
    free(t->b[i].h);
    dev_free(&c->dev, t->b[i].d);
  }
  t->n = 0;
}

/* the device's copy of buffer host h, into a fresh host array */
static float *kt_result(Ck *c, const KTest *t, const void *h) {
  for (int i = 0; i < t->n; i++)
    if (t->b[i].h == h) {
      float *r = malloc(t->b[i].bytes ? t->b[i].bytes : 4);
      if (r && ck_down(c, r, t->b[i].d, t->b[i].bytes)) return r;
      free(r);
      return NULL;
    }
  return NULL;
}

static void kt_compare(Ck *c, const KTest *t, const void *h, int64_t n, const char *what, double tol) {
  float *d = kt_result(c, t, h);
  int fin = 0;
  double e = d ? nerr_f(d, h, n, &fin) : INFINITY;
  result(c, "kernel", what, e, tol, d != NULL && fin, NULL);
  free(d);
}

/* kt_compare for bf16 buffers: both sides widened to f32 */
static void kt_compare16(Ck *c, const KTest *t, const uint16_t *h, int64_t n, const char *what, double tol) {
  float *got = kt_result(c, t, h), *wd = malloc(sizeof(float) * (size_t)(n + 1)), *wr = malloc(sizeof(float) * (size_t)(n + 1));
  int fin = 0;
  for (int64_t i = 0; got && wd && wr && i < n; i++)
    wd[i] = (float)rt_bf16_to_f64(((const uint16_t *)got)[i]), wr[i] = (float)rt_bf16_to_f64(h[i]);
  double e = got && wd && wr ? nerr_f(wd, wr, n, &fin) : INFINITY;
  result(c, "kernel", what, e, tol, got && fin, NULL);
  free(got), free(wd), free(wr);
}

/* n bf16 values drawn from a normal distribution */
static uint16_t *kt_buf16(KTest *t, int64_t n, uint64_t seed) {
  uint16_t *h = kt_buf(t, (size_t)n * 2, 0, 0);
  float *f = malloc(sizeof(float) * (size_t)(n + 1));
  if (f) fill(f, n, seed, 1.0);
  for (int64_t i = 0; f && i < n; i++) h[i] = rt_bf16_from_f64(f[i]);
  free(f);
  return h;
}

static int launch2(Ck *c, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block, const void *dargs,
                   const void *hargs) {
  if (!dev_launch(&c->dev, mod, name, gx, gy, gz, block, 0, dargs)) {
    fprintf(stderr, "cuda_check: %s: %s\n", name, c->dev.L.err);
    return 0;
  }
  return kref_launch(name, hargs); /* the reference on the host buffers */
}

#define RUN(mod, name, gx, gy, gz, block, A)                                                                          \
  do {                                                                                                                \
    __typeof__(A) d_ = A;                                                                                             \
    kt_rewrite(&t, &d_, sizeof d_);                                                                                   \
    if (!launch2(c, mod, name, gx, gy, gz, block, &d_, &A)) {                                                         \
      result(c, "kernel", name, INFINITY, 0, 0, "launch failed");                                                     \
      goto done;                                                                                                      \
    }                                                                                                                 \
  } while (0)

/* The reference runs on the host buffers; in emu mode the "device" launch runs the same
 * reference on the device twins (a check of the harness: argument rewriting, sizes). */
void check_kernels(Ck *c) {
  KTest t = {0};
  Dev *dev = &c->dev;
  /* copy_nd as a transpose [3, 5, 7] -> [7, 3, 5] (and over 16-byte elements) */
  {
    float *src = kt_buf(&t, 105 * 4, 1, 1), *dst = kt_buf(&t, 105 * 4, 0, 0);
    float *s4 = kt_buf(&t, 420 * 4, 1, 2), *d4 = kt_buf(&t, 420 * 4, 0, 0);
    if (!kt_upload(c, &t)) goto done;
    KaCopy a = {0};
    a.src = (uint64_t)(uintptr_t)src, a.dst = (uint64_t)(uintptr_t)dst, a.n = 105, a.rank = 3;
    long long ext[3] = {7, 3, 5}, sst[3] = {1, 35, 7}, dst_st[3] = {15, 5, 1};
    for (int i = 0; i < 3; i++) a.ext[i] = ext[i], a.src_st[i] = sst[i], a.dst_st[i] = dst_st[i];
    RUN(KMOD_MOVE, "k_copy_nd", dev_grid(dev, 105, 256), 1, 1, 256, a);
    kt_compare(c, &t, dst, 105, "k_copy_nd transpose [3,5,7] -> [7,3,5]", 0);
    /* the same transpose over 16-byte elements, [3, 5, 7, 4] floats (k_copy_nd_v16: the last axis moves 4 at a time) */
    a.src = (uint64_t)(uintptr_t)s4, a.dst = (uint64_t)(uintptr_t)d4;
    RUN(KMOD_MOVE, "k_copy_nd_v16", dev_grid(dev, 105, 256), 1, 1, 256, a);
    kt_compare(c, &t, d4, 420, "k_copy_nd_v16 transpose [3,5,7,4] -> [7,3,5,4] (16-byte elements)", 0);
    kt_free(c, &t);
  }
  /* k_axpy_n: three vectors of different lengths (the trainer's gradient sums), a scale on the device */
  {
    long long ns[3] = {1000, 37, 4099};
    float *ys[3], *xs[3], *sc = kt_buf(&t, 4, 0, 0);
    for (int j = 0; j < 3; j++) ys[j] = kt_buf(&t, (size_t)ns[j] * 4, 1, 40 + j), xs[j] = kt_buf(&t, (size_t)ns[j] * 4, 1, 50 + j);
    sc[0] = 37.0f;
    if (!kt_upload(c, &t)) goto done;
    KaAxpyN a;
    memset(&a, 0, sizeof a);
    for (int j = 0; j < 3; j++) a.y[j] = (uint64_t)(uintptr_t)ys[j], a.x[j] = (uint64_t)(uintptr_t)xs[j], a.n[j] = ns[j];
    a.count = 3, a.a = 0.5f, a.a_dev = (uint64_t)(uintptr_t)sc;
    RUN(KMOD_MOVE, "k_axpy_n", dev_grid(dev, 4099, 256), 3, 1, 256, a);
    for (int j = 0; j < 3; j++) kt_compare(c, &t, ys[j], ns[j], "k_axpy_n y[j] += a * a_dev * x[j], three lengths", 1e-6);
    kt_free(c, &t);
  }
  /* gather: 300 ids (some out of range) of a 50 x 96 table */
  {
    long long V = 50, row = 96, nids = 300;
    float *table = kt_buf(&t, (size_t)(V * row * 4), 1, 2), *out = kt_buf(&t, (size_t)(nids * row * 4), 0, 0);
    int *ids = kt_buf(&t, (size_t)nids * 4, 0, 0);
    for (int i = 0; i < nids; i++) ids[i] = (int)(rng_u64(4, (uint64_t)i) % 54) - 2;
    if (!kt_upload(c, &t)) goto done;
    KaGather a = {0};
    a.table = (uint64_t)(uintptr_t)table, a.ids = (uint64_t)(uintptr_t)ids, a.out = (uint64_t)(uintptr_t)out;
    a.nids = nids, a.row = row, a.V = V;
    RUN(KMOD_MOVE, "k_gather", dev_grid(dev, nids * row, 256), 1, 1, 256, a);
    kt_compare(c, &t, out, nids * row, "k_gather 300 ids of [50, 96]", 0);
    kt_free(c, &t);
  }
  /* scatter-add (move.cu's fixed point: k_scatter_max, _add, _fin): 3000 ids (some out of range, so
   * rows get ~60 values each) into [50, 96], and the same rows in reverse order into a second output;
   * the device against kref bit for bit (kref does the same integer sums), kref's result against f64
   * sums (below f32's rounding: 1e-6 normwise), and the two orders' results bit for bit (an f32 sum
   * in order would differ) */
  {
    long long V = 50, row = 96, nids = 3000, n = nids * row;
    float *src = kt_buf(&t, (size_t)n * 4, 1, 3), *srcr = kt_buf(&t, (size_t)n * 4, 0, 0);
    int *ids = kt_buf(&t, (size_t)nids * 4, 0, 0), *idsr = kt_buf(&t, (size_t)nids * 4, 0, 0);
    float *out = kt_buf(&t, (size_t)(V * row * 4), 0, 0), *outr = kt_buf(&t, (size_t)(V * row * 4), 0, 0);
    void *acc = kt_buf(&t, (size_t)(V * row * 8), 0, 0), *accr = kt_buf(&t, (size_t)(V * row * 8), 0, 0);
    void *mx = kt_buf(&t, 4, 0, 0), *mxr = kt_buf(&t, 4, 0, 0);
    for (long long i = 0; i < nids; i++) ids[i] = (int)(rng_u64(4, (uint64_t)i) % 54) - 2;
    for (long long r = 0; r < nids; r++) {
      idsr[r] = ids[nids - 1 - r];
      memcpy(srcr + r * row, src + (nids - 1 - r) * row, (size_t)row * 4);
    }
    double *ref = calloc((size_t)(V * row), sizeof(double));
    for (long long r = 0; ref && r < nids; r++)
      for (long long j = 0; ids[r] >= 0 && ids[r] < V && j < row; j++) ref[ids[r] * row + j] += src[r * row + j];
    if (!ref || !kt_upload(c, &t)) {
      free(ref);
      goto done;
    }
    KaGather a = {0}, b;
    a.ids = (uint64_t)(uintptr_t)ids, a.out = (uint64_t)(uintptr_t)out, a.src = (uint64_t)(uintptr_t)src;
    a.acc = (uint64_t)(uintptr_t)acc, a.mx = (uint64_t)(uintptr_t)mx, a.nids = nids, a.row = row, a.V = V, a.lgn = 12;
    b = a;
    b.ids = (uint64_t)(uintptr_t)idsr, b.out = (uint64_t)(uintptr_t)outr, b.src = (uint64_t)(uintptr_t)srcr;
    b.acc = (uint64_t)(uintptr_t)accr, b.mx = (uint64_t)(uintptr_t)mxr;
    unsigned gs = dev_grid(dev, n, 256), gv = dev_grid(dev, V * row, 256);
    RUN(KMOD_MOVE, "k_scatter_max", gs, 1, 1, 256, a);
    RUN(KMOD_MOVE, "k_scatter_add", gs, 1, 1, 256, a);
    RUN(KMOD_MOVE, "k_scatter_fin", gv, 1, 1, 256, a);
    RUN(KMOD_MOVE, "k_scatter_max", gs, 1, 1, 256, b);
    RUN(KMOD_MOVE, "k_scatter_add", gs, 1, 1, 256, b);
    RUN(KMOD_MOVE, "k_scatter_fin", gv, 1, 1, 256, b);
    kt_compare(c, &t, out, V * row, "k_scatter_* 3000 ids -> [50, 96]: the device = kref, bit for bit", 0);
    kt_compare(c, &t, outr, V * row, "k_scatter_* the rows in reverse order: the device = kref, bit for bit", 0);
    int same = 1, fin = 0;
    for (long long i = 0; i < V * row; i++) same &= memcmp(&out[i], &outr[i], 4) == 0;
    result(c, "kernel", "k_scatter_* kref: the rows in reverse order give the same bits", same ? 0 : 1, 0, 1, NULL);
    float *ref32 = malloc(sizeof(float) * (size_t)(V * row)); /* the f64 sums rounded once */
    for (long long i = 0; ref32 && i < V * row; i++) ref32[i] = (float)ref[i];
    double e = ref32 ? nerr_f(out, ref32, V * row, &fin) : INFINITY;
    result(c, "kernel", "k_scatter_* kref against f64 sums", e, 1e-6, fin, NULL);
    free(ref32);
    free(ref);
    kt_free(c, &t);
  }
  /* norms: layernorm with a residual, rmsnorm; rows 37, C 512 and 1000; groupnorm [37, 256]
   * in 32 groups of 8 (k_norm_fwd_small) and 4 groups of 64 (k_norm_fwd) */
  for (int v = 0; v < 5; v++) {
    long long rows = 37, C = v == 2 ? 1000 : v >= 3 ? 256 : 512, G = v == 3 ? 32 : v == 4 ? 4 : 1;
    float *a_ = kt_buf(&t, (size_t)(rows * C * 4), 1, 5), *b_ = kt_buf(&t, (size_t)(rows * C * 4), 1, 6);
    float *gain = kt_buf(&t, (size_t)C * 4, 1, 7), *bias = kt_buf(&t, (size_t)C * 4, 1, 8);
    float *y = kt_buf(&t, (size_t)(rows * C * 4), 0, 0), *xs = kt_buf(&t, (size_t)(rows * C * 4), 0, 0);
    if (!kt_upload(c, &t)) goto done;
    KaNorm a = {0};
    a.a = (uint64_t)(uintptr_t)a_, a.b = v == 0 ? (uint64_t)(uintptr_t)b_ : 0, a.gain = (uint64_t)(uintptr_t)gain;
    a.bias = v == 1 ? 0 : (uint64_t)(uintptr_t)bias, a.y = (uint64_t)(uintptr_t)y, a.xs = v == 0 ? (uint64_t)(uintptr_t)xs : 0;
    a.rows = rows, a.C = C, a.rms = v == 1, a.eps = 1e-5f, a.groups = (int)G;
    if (v == 3) RUN(KMOD_NORM, "k_norm_fwd_small", dev_grid(dev, rows * G, 256), 1, 1, 256, a);
    else RUN(KMOD_NORM, "k_norm_fwd", dev_grid(dev, rows * G * 32, 256), 1, 1, 256, a);
    const char *what[] = {"k_norm_fwd layernorm(a + b) [37, 512]", "k_norm_fwd rmsnorm [37, 512]",
                          "k_norm_fwd layernorm [37, 1000]", "k_norm_fwd_small groupnorm [37, 256] 32 groups",
                          "k_norm_fwd groupnorm [37, 256] 4 groups"};
    kt_compare(c, &t, y, rows * C, what[v], 1e-5);
    if (v == 0) kt_compare(c, &t, xs, rows * C, "k_norm_fwd the residual sum a + b", 0);
    kt_free(c, &t);
  }
  /* cross-entropy: rows 70 (some ignored), V 1000, smoothing 0.1; loss and gradient */
  {
    long long rows = 70, V = 1000;
    float *logits = kt_buf(&t, (size_t)(rows * V * 4), 1, 9);
    int *tg = kt_buf(&t, (size_t)rows * 4, 0, 0);
    for (int i = 0; i < rows; i++) tg[i] = (int)(rng_u64(10, (uint64_t)i) % (uint64_t)V) * (i % 7 != 3);
    float *rl = kt_buf(&t, (size_t)rows * 4, 0, 0), *rc = kt_buf(&t, (size_t)(rows + 1) * 4, 0, 0);
    float *out = kt_buf(&t, 4, 0, 0), *g = kt_buf(&t, 4, 0, 0), *dl = kt_buf(&t, (size_t)(rows * V * 4), 0, 0);
    g[0] = 0.75f;
    if (!kt_upload(c, &t)) goto done;
    KaXent a = {0};
    a.logits = (uint64_t)(uintptr_t)logits, a.tg = (uint64_t)(uintptr_t)tg, a.row_loss = (uint64_t)(uintptr_t)rl;
    a.row_cnt = (uint64_t)(uintptr_t)rc, a.out = (uint64_t)(uintptr_t)out, a.g = (uint64_t)(uintptr_t)g;
    a.dlogits = (uint64_t)(uintptr_t)dl, a.rows = rows, a.V = V, a.ignore = 0, a.smoothing = 0.1f;
    RUN(KMOD_XENT, "k_xent_rows", dev_grid(dev, rows, 1), 1, 1, 256, a);
    RUN(KMOD_XENT, "k_xent_sum", 1, 1, 1, 256, a);
    RUN(KMOD_XENT, "k_xent_grad", dev_grid(dev, rows, 1), 1, 1, 256, a);
    kt_compare(c, &t, out, 1, "k_xent_rows + k_xent_sum loss [70, 1000] smoothing 0.1", 1e-5);
    kt_compare(c, &t, dl, rows * V, "k_xent_grad dlogits [70, 1000]", 1e-5);
    kt_free(c, &t);
  }
  /* cross_entropy_grad without the loss (k_xent_count, then k_xent_grad / k_xent_grad16: logits
   * and dlogits stored as bf16): rows 70 (some ignored), V 1000, smoothing 0.1 */
  for (int bf = 0; bf < 2; bf++) {
    long long rows = 70, V = 1000;
    float *logits = kt_buf(&t, (size_t)(rows * V * 4), 1, 15);
    uint16_t *l16 = kt_buf(&t, (size_t)(rows * V * 2), 0, 0), *d16 = kt_buf(&t, (size_t)(rows * V * 2), 0, 0);
    for (long long i = 0; i < rows * V; i++) l16[i] = rt_bf16_from_f64(logits[i] * 4);
    int *tg = kt_buf(&t, (size_t)rows * 4, 0, 0);
    for (int i = 0; i < rows; i++) tg[i] = (int)(rng_u64(16, (uint64_t)i) % (uint64_t)V) * (i % 5 != 2);
    float *rc = kt_buf(&t, (size_t)(rows + 1) * 4, 0, 0), *g = kt_buf(&t, 4, 0, 0);
    float *dl = kt_buf(&t, (size_t)(rows * V * 4), 0, 0);
    g[0] = -1.25f;
    if (!kt_upload(c, &t)) goto done;
    KaXent a = {0};
    a.logits = (uint64_t)(uintptr_t)(bf ? (void *)l16 : (void *)logits), a.tg = (uint64_t)(uintptr_t)tg;
    a.row_cnt = (uint64_t)(uintptr_t)rc, a.g = (uint64_t)(uintptr_t)g, a.bf16 = bf;
    a.dlogits = (uint64_t)(uintptr_t)(bf ? (void *)d16 : (void *)dl), a.rows = rows, a.V = V, a.ignore = 0, a.smoothing = 0.1f;
    RUN(KMOD_XENT, "k_xent_count", 1, 1, 1, 256, a);
    kt_compare(c, &t, rc, rows + 1, "k_xent_count [70] targets", 0);
    if (!bf) {
      RUN(KMOD_XENT, "k_xent_grad", dev_grid(dev, rows, 1), 1, 1, 256, a);
      kt_compare(c, &t, dl, rows * V, "k_xent_count + k_xent_grad dlogits [70, 1000]", 1e-5);
    } else {
      RUN(KMOD_XENT, "k_xent_grad16", dev_grid(dev, rows, 1), 1, 1, 256, a);
      kt_compare16(c, &t, d16, rows * V, "k_xent_grad16 dlogits [70, 1000] (bf16 logits and dlogits)", 1e-2);
    }
    kt_free(c, &t);
  }
  /* attention forward (D 32, 64, 128) and backward (D 32, 64): B 2, H 3, Sq 45, Sk 45 / 77 */
  for (int v = 0; v < 6; v++) {
    int D = v < 2 ? 32 : v < 4 ? 64 : 128, causal = v % 2, B = 2, H = 3, Sq = 45, Sk = causal ? 45 : 77;
    int bwd = D != 128;
    size_t nq = (size_t)B * H * Sq * D, nk = (size_t)B * H * Sk * D;
    float *q = kt_buf(&t, nq * 4, 1, 11), *k = kt_buf(&t, nk * 4, 1, 12), *vv = kt_buf(&t, nk * 4, 1, 13);
    float *mask = kt_buf(&t, (size_t)B * Sk * 4, 0, 0);
    for (int i = 0; i < B * Sk; i++) mask[i] = (i % Sk) % 5 != 4;
    float *o = kt_buf(&t, nq * 4, 0, 0), *lse = kt_buf(&t, (size_t)B * H * Sq * 4, 0, 0);
    float *dO = kt_buf(&t, nq * 4, 1, 14), *delta = kt_buf(&t, (size_t)B * H * Sq * 4, 0, 0);
    float *dq = kt_buf(&t, nq * 4, 0, 0), *dk = kt_buf(&t, nk * 4, 0, 0), *dv = kt_buf(&t, nk * 4, 0, 0);
    if (!kt_upload(c, &t)) goto done;
    KaAttn a = {0};
    a.q = (uint64_t)(uintptr_t)q, a.k = (uint64_t)(uintptr_t)k, a.v = (uint64_t)(uintptr_t)vv;
    a.mask = causal ? 0 : (uint64_t)(uintptr_t)mask, a.o = (uint64_t)(uintptr_t)o, a.lse = (uint64_t)(uintptr_t)lse;
    a.dO = (uint64_t)(uintptr_t)dO, a.delta = (uint64_t)(uintptr_t)delta, a.dq = (uint64_t)(uintptr_t)dq;
    a.dk = (uint64_t)(uintptr_t)dk, a.dv = (uint64_t)(uintptr_t)dv;
    a.B = B, a.H = H, a.Sq = Sq, a.Sk = Sk, a.causal = causal, a.D = D, a.scale = (float)(1.0 / sqrt((double)D));
    char name[48], what[96];
    snprintf(name, sizeof name, "k_attn_fwd_d%d", D);
    RUN(KMOD_ATTENTION, name, (unsigned)((Sq + 15) / 16), (unsigned)H, (unsigned)B, 128, a);
    snprintf(what, sizeof what, "%s %s B2 H3 Sq45 Sk%d: o", name, causal ? "causal" : "key mask", Sk);
    kt_compare(c, &t, o, (int64_t)nq, what, 1e-5);
    if (bwd) {
      RUN(KMOD_ATTENTION, "k_attn_bwd_pre", dev_grid(dev, (int64_t)B * H * Sq * 32, 256), 1, 1, 256, a);
      snprintf(name, sizeof name, "k_attn_bwd_dq_d%d", D);
      RUN(KMOD_ATTENTION, name, (unsigned)((Sq + 15) / 16), (unsigned)H, (unsigned)B, 128, a);
      snprintf(name, sizeof name, "k_attn_bwd_dkdv_d%d", D);
      RUN(KMOD_ATTENTION, name, (unsigned)((Sk + 31) / 32), (unsigned)H, (unsigned)B, 128, a);
      snprintf(what, sizeof what, "k_attn_bwd_* d%d %s: dq", D, causal ? "causal" : "key mask");
      kt_compare(c, &t, dq, (int64_t)nq, what, 1e-5);
      snprintf(what, sizeof what, "k_attn_bwd_* d%d %s: dk", D, causal ? "causal" : "key mask");
      kt_compare(c, &t, dk, (int64_t)nk, what, 1e-5);
      snprintf(what, sizeof what, "k_attn_bwd_* d%d %s: dv", D, causal ? "causal" : "key mask");
      kt_compare(c, &t, dv, (int64_t)nk, what, 1e-5);
    }
    kt_free(c, &t);
  }
  /* the tensor-core kernels (attention_tc.cu; bf16): a key mask; causal with Sq > Sk (the first
   * queries see no key) and Sq < Sk over three key tiles; two query tiles; neither mask nor
   * causality, and causal over three tiles (the tiles every query sees whole: the fast path);
   * cases 1 and 4 with every tensor in [B, S, H, D] (KaRows: the executor's skipped transposes);
   * odd cases with delta from the dq kernel (KaAttn.delta_out), as the executor runs them */
  for (int v = 0; v < 6; v++) {
    static const int cfg[6][4] = {{32, 0, 45, 77},  {64, 1, 70, 45},   {64, 1, 45, 150},
                                  {32, 1, 100, 100}, {64, 2, 140, 128}, {32, 1, 192, 192}}; /* D causal(2: no mask) Sq Sk */
    int D = cfg[v][0], causal = cfg[v][1] == 1, nomask = cfg[v][1] == 2, Sq = cfg[v][2], Sk = cfg[v][3], B = 2, H = 2;
    int64_t nq = (int64_t)B * H * Sq * D, nk = (int64_t)B * H * Sk * D;
    uint16_t *q = kt_buf16(&t, nq, 31), *k = kt_buf16(&t, nk, 32), *vv = kt_buf16(&t, nk, 33), *dO = kt_buf16(&t, nq, 34);
    float *mask = kt_buf(&t, (size_t)B * Sk * 4, 0, 0), *lse = kt_buf(&t, (size_t)B * H * Sq * 4, 0, 0);
    float *delta = kt_buf(&t, (size_t)B * H * Sq * 4, 0, 0);
    for (int i = 0; i < B * Sk; i++) mask[i] = (i % Sk) % 7 != 3;
    uint16_t *o = kt_buf(&t, (size_t)nq * 2, 0, 0), *dq = kt_buf(&t, (size_t)nq * 2, 0, 0);
    uint16_t *dk = kt_buf(&t, (size_t)nk * 2, 0, 0), *dv = kt_buf(&t, (size_t)nk * 2, 0, 0);
    if (!kt_upload(c, &t)) goto done;
    KaAttn a = {0};
    a.q = (uint64_t)(uintptr_t)q, a.k = (uint64_t)(uintptr_t)k, a.v = (uint64_t)(uintptr_t)vv;
    a.mask = causal || nomask ? 0 : (uint64_t)(uintptr_t)mask, a.o = (uint64_t)(uintptr_t)o, a.lse = (uint64_t)(uintptr_t)lse;
    a.dO = (uint64_t)(uintptr_t)dO, a.delta = (uint64_t)(uintptr_t)delta, a.dq = (uint64_t)(uintptr_t)dq;
    a.dk = (uint64_t)(uintptr_t)dk, a.dv = (uint64_t)(uintptr_t)dv, a.bf16 = 1;
    a.B = B, a.H = H, a.Sq = Sq, a.Sk = Sk, a.causal = causal, a.D = D, a.scale = (float)(1.0 / sqrt((double)D));
    int bshd = v == 1 || v == 4;
    if (bshd) {
      KaRows lq = {(long long)Sq * H * D, D, (long long)H * D}, lk = {(long long)Sk * H * D, D, (long long)H * D};
      a.lq = a.lo = a.ldO = a.ldq = lq, a.lk = a.lv = a.ldk = a.ldv = lk;
    }
    char name[48], what[112];
    unsigned gq = (unsigned)((Sq + 63) / 64), gk = (unsigned)((Sk + 63) / 64);
    snprintf(name, sizeof name, "k_fa_fwd_d%d", D);
    RUN(KMOD_ATTENTION_TC, name, gq, (unsigned)H, (unsigned)B, 128, a);
    a.delta_out = v % 2; /* odd cases: the dq kernel computes delta (no k_attn_bwd_pre16) */
    if (!a.delta_out) RUN(KMOD_ATTENTION, "k_attn_bwd_pre16", dev_grid(dev, (int64_t)B * H * Sq * 32, 256), 1, 1, 256, a);
    snprintf(name, sizeof name, "k_fa_bwd_dq_d%d", D);
    RUN(KMOD_ATTENTION_TC, name, gq, (unsigned)H, (unsigned)B, 128, a);
    snprintf(name, sizeof name, "k_fa_bwd_dkdv_d%d", D);
    RUN(KMOD_ATTENTION_TC, name, gk, (unsigned)H, (unsigned)B, 128, a);
    uint16_t *res[4] = {o, dq, dk, dv};
    for (int r = 0; r < 4; r++) {
      snprintf(what, sizeof what, "k_fa_* d%d %s Sq%d Sk%d%s: %s", D, causal ? "causal" : nomask ? "all keys" : "key mask", Sq, Sk,
               bshd ? " [B,S,H,D]" : "", (const char *[]){"o", "dq", "dk", "dv"}[r]);
      kt_compare16(c, &t, res[r], r < 2 ? nq : nk, what, 1e-2);
    }
    if (a.delta_out) { /* from each side's own o (bf16, as o's check: 1e-2); a row or column missed is O(1) */
      snprintf(what, sizeof what, "k_fa_bwd_dq d%d Sq%d Sk%d%s: delta = rowsum(dO o) (delta_out)", D, Sq, Sk, bshd ? " [B,S,H,D]" : "");
      kt_compare(c, &t, delta, (int64_t)B * H * Sq, what, 1e-2);
    }
    kt_free(c, &t);
  }
  /* the products' form's row kernels: k_attn_softmax (causal with Sq < Sk and > Sk: the first
   * queries see no key; a key mask with a batch that masks every key) and k_attn_dsoftmax */
  for (int v = 0; v < 3; v++) {
    int B = 2, H = 3, Sq = v == 2 ? 50 : 37, Sk = v == 2 ? 40 : 70, causal = v != 1;
    size_t ns = (size_t)B * H * Sq * Sk;
    float *sc = kt_buf(&t, ns * 4, 1, 21), *ds = kt_buf(&t, ns * 4, 1, 22), *lse = kt_buf(&t, (size_t)B * H * Sq * 4, 0, 0);
    float *mask = kt_buf(&t, (size_t)B * Sk * 4, 0, 0);
    for (int i = 0; i < B * Sk; i++) mask[i] = i >= Sk ? 0.0f : (i % 7) != 3; /* batch 1: every key masked */
    if (!kt_upload(c, &t)) goto done;
    KaAttn a = {0};
    a.s = (uint64_t)(uintptr_t)sc, a.ds = (uint64_t)(uintptr_t)ds, a.lse = (uint64_t)(uintptr_t)lse;
    a.mask = v == 1 ? (uint64_t)(uintptr_t)mask : 0;
    a.B = B, a.H = H, a.Sq = Sq, a.Sk = Sk, a.causal = causal, a.D = 64, a.scale = 0.125f;
    char what[96];
    RUN(KMOD_ATTENTION, "k_attn_softmax", dev_grid(dev, (int64_t)B * H * Sq * 32, 256), 1, 1, 256, a);
    snprintf(what, sizeof what, "k_attn_softmax %s Sq%d Sk%d: P", v == 1 ? "key mask" : "causal", Sq, Sk);
    kt_compare(c, &t, sc, (int64_t)ns, what, 1e-5);
    snprintf(what, sizeof what, "k_attn_softmax %s Sq%d Sk%d: lse", v == 1 ? "key mask" : "causal", Sq, Sk);
    kt_compare(c, &t, lse, (int64_t)B * H * Sq, what, 1e-5);
    RUN(KMOD_ATTENTION, "k_attn_dsoftmax", dev_grid(dev, (int64_t)B * H * Sq * 32, 256), 1, 1, 256, a);
    snprintf(what, sizeof what, "k_attn_dsoftmax Sq%d Sk%d: dS", Sq, Sk);
    kt_compare(c, &t, ds, (int64_t)ns, what, 1e-5);
    kt_free(c, &t);
  }
  /* AdamW over three tensors of two modules (one not trained), with clipping */
  {
    long long sizes[3] = {5000, 300, 9000};
    KaAdamTensor *tens = kt_buf(&t, sizeof(KaAdamTensor) * 3, 0, 0);
    float *w[3], *g[3], *m[3], *v[3];
    int nchunks = 0;
    for (int i = 0; i < 3; i++) nchunks += (int)((sizes[i] + KA_ADAM_CHUNK - 1) / KA_ADAM_CHUNK);
    int *tab = kt_buf(&t, (size_t)nchunks * 4, 0, 0);
    long long *start = kt_buf(&t, (size_t)nchunks * 8, 0, 0);
    for (int i = 0, ch = 0; i < 3; i++) {
      w[i] = kt_buf(&t, (size_t)sizes[i] * 4, 1, 20 + (uint64_t)i), g[i] = kt_buf(&t, (size_t)sizes[i] * 4, 1, 30 + (uint64_t)i);
      m[i] = kt_buf(&t, (size_t)sizes[i] * 4, 1, 40 + (uint64_t)i), v[i] = kt_buf(&t, (size_t)sizes[i] * 4, 2, 50 + (uint64_t)i);
      tens[i] = (KaAdamTensor){(uint64_t)(uintptr_t)w[i], (uint64_t)(uintptr_t)g[i], (uint64_t)(uintptr_t)m[i],
                               (uint64_t)(uintptr_t)v[i], 0, sizes[i], i == 1, 0};
      for (long long s = 0; s < sizes[i]; s += KA_ADAM_CHUNK) tab[ch] = i, start[ch++] = s;
    }
    float *inv = kt_buf(&t, 8, 0, 0);
    inv[0] = 0.01f, inv[1] = 0.02f;
    long long *steps = kt_buf(&t, 16, 0, 0);
    steps[0] = 3, steps[1] = 1;
    KaAdamStep *st = kt_buf(&t, sizeof *st, 0, 0);
    st->lr = 1e-3, st->max_norm = 0.5;
    double *part = kt_buf(&t, (size_t)nchunks * 8, 0, 0), *norm = kt_buf(&t, 8, 0, 0);
    /* the table holds pointers: its device copy gets the device ones */
    KaAdamTensor htens[3];
    memcpy(htens, tens, sizeof htens);
    if (!kt_upload(c, &t)) goto done;
    KaAdamTensor dtens[3];
    memcpy(dtens, tens, sizeof dtens);
    kt_rewrite(&t, dtens, sizeof dtens);
    if (!dev_h2d(dev, t.b[0].d, dtens, sizeof dtens)) goto done;
    KaAdam a = {0};
    a.tensors = (uint64_t)(uintptr_t)tens, a.tab = (uint64_t)(uintptr_t)tab, a.start = (uint64_t)(uintptr_t)start;
    a.inv = (uint64_t)(uintptr_t)inv, a.steps = (uint64_t)(uintptr_t)steps, a.step = (uint64_t)(uintptr_t)st;
    a.part = (uint64_t)(uintptr_t)part, a.norm = (uint64_t)(uintptr_t)norm, a.nchunks = nchunks;
    a.beta1 = 0.9, a.beta2 = 0.999, a.eps = 1e-8, a.wd = 0.01, a.kind = 0;
    RUN(KMOD_ADAMW, "k_sqnorm", (unsigned)nchunks, 1, 1, 256, a);
    RUN(KMOD_ADAMW, "k_sqnorm_final", 1, 1, 1, 32, a);
    RUN(KMOD_ADAMW, "k_adamw", (unsigned)nchunks, 1, 1, 256, a);
    {
      double dn = 0;
      int fin = 0;
      if (ck_down(c, &dn, t.b[t.n - 1].d, 8)) {
        double e = fabs(dn - *norm) / (*norm > 0 ? *norm : 1);
        fin = isfinite(dn);
        result(c, "kernel", "k_sqnorm + k_sqnorm_final global norm", e, 1e-12, fin, NULL);
      }
    }
    for (int i = 0; i < 3; i++) {
      char what[96];
      snprintf(what, sizeof what, "k_adamw w of tensor %d (%lld, module %d%s)", i, sizes[i], i == 1,
               i == 1 ? "" : ", clipped");
      kt_compare(c, &t, w[i], sizes[i], what, 1e-6);
      snprintf(what, sizeof what, "k_adamw m, v of tensor %d", i);
      float *dm = kt_result(c, &t, m[i]), *dvv = kt_result(c, &t, v[i]);
      int f1 = 0, f2 = 0;
      double e1 = dm ? nerr_f(dm, m[i], sizes[i], &f1) : INFINITY, e2 = dvv ? nerr_f(dvv, v[i], sizes[i], &f2) : INFINITY;
      result(c, "kernel", what, e1 > e2 ? e1 : e2, 1e-6, f1 && f2, NULL);
      free(dm);
      free(dvv);
    }
    (void)htens;
    kt_free(c, &t);
  }
done:
  kt_free(c, &t);
}
