/* dev_gemm.c — matrix products on the device through cuBLASLt (dev.h: DevGemm), with the
 * descriptors and the heuristic's algorithm cached per shape (one heuristic query per shape,
 * ever). Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T:
 * cuBLASLt's "A" is our B and its "B" our A, m = N, n = M. bf16 mode rounds the operands into
 * bf16 scratch first (k_to_bf16) and accumulates in f32 on tensor cores; f32 mode is plain
 * f32 (CUBLAS_COMPUTE_32F: no TF32, as the PyTorch reference runs with allow_tf32 off).
 * Epilogues (bias, bias + GELU, bias + ReLU: DevGemm.epilogue) are cuBLASLt's: the bias vector
 * is per output column of our row-major C, i.e. per row of Lt's column-major D (length m = N),
 * the same for every batch item (bias batch stride 0); its pointer is set on the cached
 * descriptor before each call. GELU_AUX_BIAS (dev_gemm_aux) also writes the pre-activation into
 * an aux matrix laid out as C (Lt: ld m = N, batch stride sC, D's dtype); its pointer, like the
 * bias's, is set per call (its alignment, which the heuristic depends on, is in the key's).
 * Emu mode applies them on the host after the product. DevGemm.R is Lt's C with beta 1 (D our C).
 * Emu mode runs the same descriptor on the CPU (la_gemm; bf16 operands rounded the same way).
 * Operands already stored as bf16 (a16, b16: the executor's bf16 activations) go to cuBLASLt
 * as they are; a bf16 C (c16) is a bf16 C/D layout (f32 compute and scale). A bias with a bf16
 * D is given to cuBLASLt as bf16 (rounded into scratch, k_to_bf16): on the H200 (CUDA 13.0) its
 * heuristic refuses an f32 bias with a bf16 D (CUBLAS_STATUS_INVALID_VALUE); the rounding is
 * PyTorch autocast's too (the bias cast to the product's dtype). Emu mode rounds it the same.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "fast/fast_linattn.h"
#include "kernels/kargs.h"
#include "tensor.h"

typedef struct GemmKey {
  int64_t M, N, K, batch, sA, sB, sC;
  int ta, tb, accumulate, bf16, align, epilogue, c16;
  int spare; /* 0: no padding (keys are compared with memcmp) */
} GemmKey;
_Static_assert(sizeof(GemmKey) == 7 * sizeof(int64_t) + 8 * sizeof(int), "GemmKey has padding (memcmp'd)");

enum { GEMM_CANDIDATES = 8 };
typedef struct GemmEntry {
  GemmKey key;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulAlgo_t algo;
  size_t ws;
  /* MAMC_CUDA_GEMM_TUNE=1: the heuristic's best few, timed on the first eager call (gemm_tune) */
  cublasLtMatmulAlgo_t cand[GEMM_CANDIDATES];
  size_t cand_ws[GEMM_CANDIDATES];
  int ncand, tuned;
} GemmEntry;

struct DevGemmCache {
  GemmEntry *e;
  int n, cap;
};

void dev_gemm_cache_free(Dev *dev) {
  struct DevGemmCache *c = dev->gemm_cache;
  if (!c) return;
  for (int i = 0; i < c->n && dev->have_ctx; i++) {
    dev->L.cublasLtMatmulDescDestroy(c->e[i].op);
    dev->L.cublasLtMatrixLayoutDestroy(c->e[i].a);
    dev->L.cublasLtMatrixLayoutDestroy(c->e[i].b);
    dev->L.cublasLtMatrixLayoutDestroy(c->e[i].c);
  }
  free(c->e);
  free(c);
  dev->gemm_cache = NULL;
}

/* the largest power of two (<= 256) dividing every address and batch stride in bytes */
static int alignment(const DevGemm *g, DPtr aux, int esize_ab) {
  uint64_t v = g->A | g->B | g->C | g->R | aux | (uint64_t)(g->sA * esize_ab) | (uint64_t)(g->sB * esize_ab) |
               (uint64_t)(g->sC * (g->c16 ? 2 : 4));
  int a = 256;
  while (a > 1 && (v % (uint64_t)a)) a >>= 1;
  return a;
}

static int layout(Dev *dev, cublasLtMatrixLayout_t *l, cudaDataType_t t, int64_t rows, int64_t cols, int64_t ld,
                  int64_t batch, int64_t stride) {
  CuLib *L = &dev->L;
  if (!LT_OK(L, cublasLtMatrixLayoutCreate(l, t, (uint64_t)rows, (uint64_t)cols, ld))) return 0;
  if (batch <= 1) return 1;
  int32_t bc = (int32_t)batch;
  return LT_OK(L, cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc, sizeof bc)) &&
         LT_OK(L, cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
}

/* the epilogue's attributes on a new descriptor; GELU_AUX and DGELU: the aux matrix as C (ld N,
 * stride sC); DGELU has no bias */
static int set_epilogue(CuLib *L, cublasLtMatmulDesc_t op, const GemmKey *k, DPtr bias, DPtr aux) {
  int epi = k->epilogue;
  if (epi == DEV_EPI_BGRAD) { /* the bias pointer (an output) is set per call */
    cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BGRADA;
    cudaDataType_t bt = CUDA_R_32F;
    return LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
  }
  if (epi == DEV_EPI_DGELU) {
    cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_DGELU;
    int64_t ld = k->N, astride = k->sC;
    const void *ap = (const void *)(uintptr_t)aux;
    return LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &ap, sizeof ap)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, &astride, sizeof astride));
  }
  cublasLtEpilogue_t ep = epi == DEV_EPI_BIAS_GELU       ? CUBLASLT_EPILOGUE_GELU_BIAS
                          : epi == DEV_EPI_BIAS_GELU_AUX ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS
                          : epi == DEV_EPI_BIAS_RELU     ? CUBLASLT_EPILOGUE_RELU_BIAS
                                                         : CUBLASLT_EPILOGUE_BIAS;
  cudaDataType_t bt = k->c16 ? CUDA_R_16BF : CUDA_R_32F; /* a bf16 D takes a bf16 bias (dev_gemm_aux rounds it) */
  int64_t bstride = 0, ld = k->N, astride = k->sC;
  const void *bp = (const void *)(uintptr_t)bias, *ap = (const void *)(uintptr_t)aux;
  int ok = LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, &bstride, sizeof bstride)) &&
           LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp));
  if (ok && epi == DEV_EPI_BIAS_GELU_AUX)
    ok = LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &ap, sizeof ap)) &&
         LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld)) &&
         LT_OK(L, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, &astride, sizeof astride));
  return ok;
}

/* MAMC_CUDA_GEMM_TUNE=1: each shape's algorithm chosen by timing the heuristic's best few on
 * its first eager call (gemm_tune), not the heuristic's first alone (an experiment for the GPU
 * run: bench/gpu.sh times the mt step both ways) */
static int gemm_tune_on(void) {
  const char *env = getenv("MAMC_CUDA_GEMM_TUNE");
  return env && atoi(env) > 0;
}

static GemmEntry *entry_for(Dev *dev, const GemmKey *k, DPtr bias, DPtr aux) {
  CuLib *L = &dev->L;
  struct DevGemmCache *c = dev->gemm_cache;
  if (!c && !(c = dev->gemm_cache = calloc(1, sizeof *c))) return NULL;
  for (int i = 0; i < c->n; i++)
    if (memcmp(&c->e[i].key, k, sizeof *k) == 0) return &c->e[i];
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 32;
    GemmEntry *ne = realloc(c->e, sizeof *ne * (size_t)cap);
    if (!ne) return NULL;
    c->e = ne;
    c->cap = cap;
  }
  GemmEntry *e = &c->e[c->n];
  memset(e, 0, sizeof *e);
  e->key = *k;
  cudaDataType_t ab = k->bf16 ? CUDA_R_16BF : CUDA_R_32F;
  cublasOperation_t opa = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (!LT_OK(L, cublasLtMatmulDescCreate(&e->op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
      !LT_OK(L, cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa)) ||
      !LT_OK(L, cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb)))
    return NULL;
  if (k->epilogue && !set_epilogue(L, e->op, k, bias, aux)) {
    L->cublasLtMatmulDescDestroy(e->op);
    dev->gemm_epi_refused = 1;
    return NULL;
  }
  /* Lt's A = our B: stored [K, N] (tb = 0: N x K column-major, ld N) or [N, K] (K x N, ld K) */
  if (!layout(dev, &e->a, ab, k->tb ? k->K : k->N, k->tb ? k->N : k->K, k->tb ? k->K : k->N, k->batch, k->sB) ||
      !layout(dev, &e->b, ab, k->ta ? k->M : k->K, k->ta ? k->K : k->M, k->ta ? k->M : k->K, k->batch, k->sA) ||
      !layout(dev, &e->c, k->c16 ? CUDA_R_16BF : CUDA_R_32F, k->N, k->M, k->N, k->batch, k->sC))
    return NULL;
  cublasLtMatmulPreference_t pref;
  if (!LT_OK(L, cublasLtMatmulPreferenceCreate(&pref))) return NULL;
  uint64_t ws = dev->lt_ws_size;
  uint32_t al = (uint32_t)k->align;
  int ok = LT_OK(L, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  cublasLtMatmulPreferenceAttributes_t aligns[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; ok && i < 4; i++) ok = LT_OK(L, cublasLtMatmulPreferenceSetAttribute(pref, aligns[i], &al, sizeof al));
  cublasLtMatmulHeuristicResult_t res, cands[GEMM_CANDIDATES];
  memset(&res, 0, sizeof res);
  int found = 0, want = gemm_tune_on() ? GEMM_CANDIDATES : 1;
  if (ok) ok = LT_OK(L, cublasLtMatmulAlgoGetHeuristic(dev->lt, e->op, e->a, e->b, e->c, e->c, pref, want, cands, &found));
  if (ok && found > 0) res = cands[0];
  for (int i = 0; ok && i < found && want > 1; i++) e->cand[i] = cands[i].algo, e->cand_ws[i] = cands[i].workspaceSize;
  e->ncand = want > 1 && found > 0 ? found : 0;
  L->cublasLtMatmulPreferenceDestroy(pref);
  if (ok && found < 1) {
    snprintf(L->err, sizeof L->err,
             "cuBLASLt has no algorithm for C[%lld x %lld] = A B (K %lld, batch %lld, ta %d, tb %d, %s, alignment %d%s)\n"
             "HINT: MAMC_CUDA_GEMM=f32 runs the products in f32",
             (long long)k->M, (long long)k->N, (long long)k->K, (long long)k->batch, k->ta, k->tb,
             k->bf16 ? "bf16" : "f32", k->align, k->epilogue ? ", with an epilogue" : "");
    ok = 0;
  }
  if (!ok && (k->epilogue || k->accumulate)) dev->gemm_epi_refused = 1; /* no algorithm, or an unsupported combination */
  if (!ok) {
    L->cublasLtMatmulDescDestroy(e->op);
    L->cublasLtMatrixLayoutDestroy(e->a);
    L->cublasLtMatrixLayoutDestroy(e->b);
    L->cublasLtMatrixLayoutDestroy(e->c);
    return NULL;
  }
  e->algo = res.algo;
  e->ws = res.workspaceSize;
  c->n++;
  return e;
}

/* bf16 copy of a strided batch of matrices: the whole span [0, (batch-1) stride + rows*cols) */
static int to_bf16(Dev *dev, DPtr src, int64_t n, DPtr *dst) {
  if (!dev_alloc(dev, (uint64_t)n * 2, dst)) return 0;
  KaVec a = {0, src, *dst, 0, n, 0, 0};
  return dev_launch(dev, KMOD_MOVE, "k_to_bf16", dev_grid(dev, n, 256), 1, 1, 256, 0, &a);
}

/* an operand of one batch item as f32 on the host: bf16-stored ones widened, f32 ones rounded to
 * bf16 in bf16 mode (as the device's scratch copies), else the memory itself */
static const float *emu_operand(DPtr base, int64_t item, int64_t n, int stored16, int round16, float **tmp) {
  *tmp = NULL;
  if (!stored16 && !round16) return (const float *)(uintptr_t)base + item;
  float *t = *tmp = malloc(sizeof(float) * (size_t)(n + 1));
  if (!t) return NULL;
  if (stored16) {
    const uint16_t *h = (const uint16_t *)(uintptr_t)base + item;
    for (int64_t i = 0; i < n; i++) t[i] = (float)rt_bf16_to_f64(h[i]);
  } else {
    const float *f = (const float *)(uintptr_t)base + item;
    for (int64_t i = 0; i < n; i++) t[i] = (float)rt_bf16_to_f64(rt_bf16_from_f64(f[i]));
  }
  return t;
}

/* the GELU_AUX epilogue's aux item b: x (the pre-activation) in C's dtype */
static void emu_aux(const DevGemm *g, DPtr aux, int64_t b, int64_t i, double x) {
  if (g->c16) ((uint16_t *)(uintptr_t)aux)[b * g->sC + i] = rt_bf16_from_f64((float)x);
  else ((float *)(uintptr_t)aux)[b * g->sC + i] = (float)x;
}

/* DGELU's input: x of batch item b, element i, in C's dtype; gelu'(x) of the tanh form */
static double emu_dgelu(const DevGemm *g, DPtr aux, int64_t b, int64_t i) {
  double x = g->c16 ? rt_bf16_to_f64(((const uint16_t *)(uintptr_t)aux)[b * g->sC + i])
                    : (double)((const float *)(uintptr_t)aux)[b * g->sC + i];
  const double k = 0.79788456080286535588, a = 0.044715;
  double t = tanh(k * (x + a * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * a * x * x);
}

/* the bias as cuBLASLt reads it: f32, or rounded to bf16 with a bf16 D (dev_gemm_aux) */
static double emu_bias(const DevGemm *g, int64_t c) {
  float v = ((const float *)(uintptr_t)g->bias)[c];
  return g->c16 ? rt_bf16_to_f64(rt_bf16_from_f64(v)) : (double)v;
}

static int emu_gemm(Dev *dev, const DevGemm *g, DPtr aux) {
  int bf = g->bf16 || g->a16 || g->b16;
  for (int64_t b = 0; b < g->batch; b++) {
    float *ta = NULL, *tb = NULL, *tc = NULL;
    const float *A = emu_operand(g->A, b * g->sA, g->M * g->K, g->a16, bf, &ta);
    const float *B = emu_operand(g->B, b * g->sB, g->K * g->N, g->b16, bf, &tb);
    float *C = g->c16 ? (tc = malloc(sizeof(float) * (size_t)(g->M * g->N + 1))) : (float *)(uintptr_t)g->C + b * g->sC;
    if (!A || !B || !C) {
      free(ta), free(tb), free(tc);
      snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm (emulated): out of memory");
      return 0;
    }
    la_gemm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, A, g->ta ? g->M : g->K, B, g->tb ? g->K : g->N,
            g->accumulate ? 1.0f : 0.0f, C, g->N);
    if (g->epilogue == DEV_EPI_BGRAD) { /* B's column sums over K, of B as the product reads it */
      float *bias = (float *)(uintptr_t)g->bias;
      for (int64_t c = 0; c < g->N; c++) {
        double s = 0;
        for (int64_t k = 0; k < g->K; k++) s += B[k * g->N + c];
        bias[c] = (float)s;
      }
    } else if (g->epilogue == DEV_EPI_DGELU) /* the f32 product times gelu'(aux) */
      for (int64_t i = 0; i < g->M * g->N; i++) C[i] = (float)((double)C[i] * emu_dgelu(g, aux, b, i));
    else if (g->R) { /* [+ bias] + R in f32, R widened from C's dtype */
      for (int64_t r = 0; r < g->M; r++)
        for (int64_t c = 0; c < g->N; c++) {
          int64_t i = b * g->sC + r * g->N + c;
          double rv = g->c16 ? rt_bf16_to_f64(((const uint16_t *)(uintptr_t)g->R)[i]) : (double)((const float *)(uintptr_t)g->R)[i];
          float x = g->epilogue ? (float)((double)C[r * g->N + c] + emu_bias(g, c)) : C[r * g->N + c];
          C[r * g->N + c] = (float)((double)x + rv);
        }
    } else if (g->epilogue) { /* the epilogue on the f32 product, as cuBLASLt: act(x + bias) (x to aux first) */
      int gelu = g->epilogue == DEV_EPI_BIAS_GELU || g->epilogue == DEV_EPI_BIAS_GELU_AUX;
      for (int64_t r = 0; r < g->M; r++)
        for (int64_t c = 0; c < g->N; c++) {
          double x = (double)(float)((double)C[r * g->N + c] + emu_bias(g, c)); /* an f32 sum, as on the device */
          if (g->epilogue == DEV_EPI_BIAS_GELU_AUX) emu_aux(g, aux, b, r * g->N + c, x);
          if (gelu) x = 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
          else if (g->epilogue == DEV_EPI_BIAS_RELU) x = x > 0 ? x : 0;
          C[r * g->N + c] = (float)x;
        }
    }
    if (g->c16) { /* D in bf16: the f32 result rounded to nearest even */
      uint16_t *D = (uint16_t *)(uintptr_t)g->C + b * g->sC;
      for (int64_t i = 0; i < g->M * g->N; i++) D[i] = rt_bf16_from_f64(C[i]);
    }
    free(ta), free(tb), free(tc);
  }
  return 1;
}

/* the product with e's current algorithm (D our C; Lt's C: R, or C itself) */
static int lt_call(Dev *dev, const GemmEntry *e, const DevGemm *h) {
  float one = 1, beta = h->accumulate || h->R ? 1.0f : 0.0f;
  return LT_OK(&dev->L, cublasLtMatmul(dev->lt, e->op, &one, (const void *)(uintptr_t)h->B, e->a, (const void *)(uintptr_t)h->A,
                                       e->b, &beta, (const void *)(uintptr_t)(h->R ? h->R : h->C), e->c,
                                       (void *)(uintptr_t)h->C, e->c, &e->algo, (void *)(uintptr_t)dev->lt_ws, e->ws,
                                       dev->stream));
}

/* e's algorithm: the fastest of its candidates on this call's operands (one warm-up, then three
 * timed calls each; a product that accumulates into C is never tuned: each call would add
 * again). A candidate that fails is passed over; with none timed, the heuristic's first stays. */
static void gemm_tune(Dev *dev, GemmEntry *e, const DevGemm *h) {
  DevEvent a = {0}, b = {0};
  double best = -1;
  int pick = 0;
  for (int i = 0; i < e->ncand; i++) {
    e->algo = e->cand[i], e->ws = e->cand_ws[i];
    double ms = 0;
    int ok = lt_call(dev, e, h) && dev_event_record(dev, &a);
    for (int r = 0; ok && r < 3; r++) ok = lt_call(dev, e, h);
    ok = ok && dev_event_record(dev, &b) && dev_event_ms(dev, &a, &b, &ms);
    if (ok && (best < 0 || ms < best)) best = ms, pick = i;
    if (!ok) dev->L.err[0] = 0;
  }
  e->algo = e->cand[pick], e->ws = e->cand_ws[pick], e->tuned = 1;
  if (getenv("MAMC_DEBUG_CUDA"))
    fprintf(stderr, "mamc: cuda: gemm M%lld N%lld K%lld batch %lld: algorithm %d of %d (%.4f ms for 3)\n", (long long)h->M,
            (long long)h->N, (long long)h->K, (long long)h->batch, pick, e->ncand, best);
  dev_event_free(dev, &a), dev_event_free(dev, &b);
}

/* whether g's bias goes to cuBLASLt rounded to bf16: a bias epilogue with a bf16 D */
static int bias16(const DevGemm *g) {
  return g->c16 && g->bias && g->epilogue != DEV_EPI_DGELU && g->epilogue != DEV_EPI_BGRAD;
}

int dev_gemm(Dev *dev, const DevGemm *g) { return dev_gemm_aux(dev, g, 0); }

int dev_gemm_aux(Dev *dev, const DevGemm *g, DPtr aux) {
  dev->gemm_epi_refused = 0;
  int dgelu = g->epilogue == DEV_EPI_DGELU;
  if (g->epilogue == DEV_EPI_BGRAD && (g->batch != 1 || g->tb || g->c16)) {
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: BGRAD needs batch 1, B not transposed and an f32 C");
    dev->gemm_epi_refused = 1;
    return 0;
  }
  if (g->epilogue && (g->accumulate || (!g->bias && !dgelu))) {
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: an epilogue needs a bias (DGELU: none) and no accumulation");
    return 0;
  }
  if ((g->epilogue == DEV_EPI_BIAS_GELU_AUX || dgelu) != (aux != 0)) {
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: an aux matrix is for the GELU_AUX and DGELU epilogues (and they need one)");
    return 0;
  }
  if (aux && (g->N % 8 || aux % 16 || g->sC % 8)) { /* cuBLASLt's: the aux leading dim and batch stride multiples of 8, aligned */
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: %s needs N (%lld) a multiple of 8 and the aux 16-byte aligned",
             dgelu ? "DGELU" : "GELU_AUX", (long long)g->N);
    dev->gemm_epi_refused = 1;
    return 0;
  }
  if (g->R && (g->accumulate || (g->epilogue != DEV_EPI_NONE && g->epilogue != DEV_EPI_BIAS))) {
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: R is added with no epilogue or a bias only, and no accumulation");
    return 0;
  }
  if (g->c16 && g->accumulate) {
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: accumulation into a bf16 C is not supported");
    return 0;
  }
  if (g->M <= 0 || g->N <= 0 || g->batch <= 0) return 1;
  if (g->K <= 0 && g->epilogue) { /* act(bias): left to the caller's unfused path */
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: an epilogue on an empty sum (K = 0)");
    dev->gemm_epi_refused = 1;
    return 0;
  }
  if (g->K <= 0 && g->R) { /* R alone: left to the caller's unfused path */
    snprintf(dev->L.err, sizeof dev->L.err, "dev_gemm: R on an empty sum (K = 0)");
    dev->gemm_epi_refused = 1;
    return 0;
  }
  if (g->K <= 0) /* an empty sum */
    return g->accumulate ? 1 : dev_zero(dev, g->C, (uint64_t)(((g->batch - 1) * g->sC + g->M * g->N) * (g->c16 ? 2 : 4)));
  if (dev->emu && (g->epilogue || g->R) && getenv("MAMC_CUDA_EMU_EPI_REFUSE")) { /* tests of the caller's fallback */
    snprintf(dev->L.err, sizeof dev->L.err, "emulated: no algorithm with this epilogue (MAMC_CUDA_EMU_EPI_REFUSE)");
    dev->gemm_epi_refused = 1;
    return 0;
  }
  dev->queued.gemms++;
  if (dev->emu && (g->bf16 || g->a16 || g->b16)) /* the operand roundings a GPU would launch (to_bf16) */
    dev->queued.kernels += !g->a16 + !g->b16;
  if (dev->emu && bias16(g)) dev->queued.kernels++; /* the bias's rounding */
  if (dev->emu && dev->capturing) return dev_emu_rec_gemm(dev, g, aux);
  if (dev->emu) return emu_gemm(dev, g, aux);
  DevGemm h = *g;
  DPtr ab = 0, bb = 0, biasb = 0;
  h.bf16 = g->bf16 || g->a16 || g->b16; /* a bf16-stored operand makes the product bf16 */
  if (bias16(g)) {
    if (!to_bf16(dev, g->bias, g->N, &biasb)) return 0;
    h.bias = biasb;
  }
  if (h.bf16) { /* f32 operands rounded into bf16 scratch; stored bf16 ones taken as they are */
    int64_t na = (g->batch - 1) * g->sA + g->M * g->K, nb = (g->batch - 1) * g->sB + g->K * g->N;
    if ((!g->a16 && !to_bf16(dev, g->A, na, &ab)) || (!g->b16 && !to_bf16(dev, g->B, nb, &bb))) {
      dev_free(dev, ab);
      dev_free(dev, bb);
      dev_free(dev, biasb);
      return 0;
    }
    if (ab) h.A = ab;
    if (bb) h.B = bb;
  }
  GemmKey k = {h.M, h.N, h.K, h.batch, h.sA, h.sB, h.sC, h.ta, h.tb, h.accumulate || h.R, h.bf16,
               alignment(&h, aux, h.bf16 ? 2 : 4), h.epilogue, h.c16, 0};
  GemmEntry *e = entry_for(dev, &k, h.bias, aux);
  const void *bp = (const void *)(uintptr_t)h.bias, *ap = (const void *)(uintptr_t)aux;
  int ok = e && (!h.epilogue || h.epilogue == DEV_EPI_DGELU ||
                 LT_OK(&dev->L, cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp)));
  ok = ok && (!aux || LT_OK(&dev->L, cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER,
                                                                        &ap, sizeof ap)));
  if (ok && !e->tuned && e->ncand > 1 && !dev->capturing && !g->accumulate) gemm_tune(dev, e, &h);
  ok = ok && lt_call(dev, e, &h);
  if (!ok && (h.epilogue || h.R)) dev->gemm_epi_refused = 1; /* refused when called: no product was queued */
  if (!ok && e) {
    size_t n = strlen(dev->L.err);
    snprintf(dev->L.err + n, sizeof dev->L.err - n, "\n(product [%lld x %lld] = [%lld x %lld] [%lld x %lld], batch %lld)",
             (long long)g->M, (long long)g->N, (long long)g->M, (long long)g->K, (long long)g->K, (long long)g->N,
             (long long)g->batch);
  }
  dev_free(dev, ab);
  dev_free(dev, bb);
  dev_free(dev, biasb);
  return ok;
}
