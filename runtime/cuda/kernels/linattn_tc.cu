// linattn_tc.cu — linattn.cu's feature maps and chunked causal core with every product on tensor
// cores (sm_80 and later: the host picks these kernels there, la_dev.c), at f32 accuracy:
// each product is three warp-wide mma.sync.m16n8k8 TF32 products of the operands split into
// hi + lo halves (lo hi + hi lo + hi hi, "3xTF32": errors near 2^-21 relative, where one TF32
// product's are near 2^-11). Part of linattn.cu's module (ksrc.c joins the files): the same
// argument block KaLin, gates (la_gates), chunk of LA_C = 32 positions and state layout, so
// k_la_carry carries these kernels' chunk states too. The algorithm is linattn.cu's header's.
//
//   k_la_features_tc  phi(x) of 64 rows                                  grid rows / 64
//   k_la_local_tc     a segment's state sum: part 0 S, part 1 R            grid (BH, segments)
//   k_la_out_tc       o of a segment's chunks from its start state       grid (BH, segments)
//   k_la_grad_tc      dq, dkb, dv of a segment's chunks                  grid (BH, segments)
// 128 threads (4 warps); m, dv_w and D at most 64 (the host checks). A segment is a.seg chunks
// (dexec_la_seg: enough segments to fill the GPU): its block walks them in order, carrying the
// state in shared memory, so only the segments' states go through global memory (with a
// state per chunk, as linattn.cu keeps, those are most of the traffic at T = 16k). A block
// covers every feature and value column, so no two blocks write one element: results are
// stored (or added, a.acc) without atomics, and nothing is zeroed first.
//
// Products are cut into units of 16 rows x 32 columns (four 16x8 mma tiles); a block's warps
// take the units in turn. lt_prod reads both operands from shared memory through row and
// column strides, so one helper computes X Y, X^T Y and X Y^T. Tiles are staged in rows
// padded to a multiple of 16 columns (zeros) plus 4 floats (fewer bank conflicts).
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k8", .tf32; lane = 4 g + t):
//   A 16x8: a[0] = A[g][t], a[1] = A[g+8][t], a[2] = A[g][t+4], a[3] = A[g+8][t+4]
//   B 8x8:  b[0] = B[t][g], b[1] = B[t+4][g]
//   C 16x8: c[0..1] = C[g][2t, 2t+1], c[2..3] = C[g+8][2t, 2t+1]
// tests/cuda/kemu/kemu.h emulates the instruction with these layouts; like the tensor cores it
// reads only the upper 19 bits of a TF32 operand, so a lost lo half shows in the f32 checks.

#define LT_U 32            // columns of a unit
#define LT_AL (LA_C + 4)   // row length of the staged chunk x chunk score tiles
#define LT_PAD(w) (((w) + 15) & ~15)

#ifdef KEMU_HOST
#define lt_mma kemu_mma_tf32_1688
#define lt_tf32 kemu_cvt_tf32
#else
// c += A B for one warp
KDEV void lt_mma(float c[4], const unsigned a[4], const unsigned b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();
#endif
}
// x rounded to TF32 (nearest, ties away), in an f32 word whose low 13 bits are zero
KDEV unsigned lt_tf32(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
#else
  return __float_as_uint(x);
#endif
}
#endif

// x = hi + lo + (an error near 2^-22 |x|), both halves TF32 (x - hi is exact in f32)
KDEV void lt_split(float x, unsigned &hi, unsigned &lo) {
  hi = lt_tf32(x);
  lo = lt_tf32(x - __uint_as_float(hi));
}

// A unit: its first row and column in the product, and its 16x8 tiles (columns / 8, at most 4)
struct LtUnit {
  int r0, n0, nt;
};
KDEV int lt_units(int rows, int cols) { return rows / 16 * ((cols + LT_U - 1) / LT_U); }
KDEV LtUnit lt_unit(int u, int rows, int cols) {
  LtUnit x;
  x.r0 = 16 * (u % (rows / 16));
  x.n0 = LT_U * (u / (rows / 16));
  x.nt = min(4, (cols - x.n0) / 8);
  return x;
}

KDEV void lt_zero(float c[4][4]) {
  KUNROLL for (int j = 0; j < 4; j++) c[j][0] = c[j][1] = c[j][2] = c[j][3] = 0.0f;
}

// c (a unit: its first nt tiles) += X Y over k < K (a multiple of 8), with X(i, k) = X[i xr + k xc]
// from the unit's first row and Y(k, n) = Y[k yr + n yc] from its first column (shared memory)
KDEV void lt_prod(float c[4][4], int nt, const float *X, int xr, int xc, const float *Y, int yr, int yc, int K) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  for (int k0 = 0; k0 < K; k0 += 8) {
    unsigned ah[4], al[4];
    const float *x = X + g * xr + (k0 + t) * xc;
    lt_split(x[0], ah[0], al[0]);
    lt_split(x[8 * xr], ah[1], al[1]);
    lt_split(x[4 * xc], ah[2], al[2]);
    lt_split(x[8 * xr + 4 * xc], ah[3], al[3]);
    KUNROLL for (int j = 0; j < 4; j++) {
      if (j >= nt) continue;
      const float *y = Y + (k0 + t) * yr + (8 * j + g) * yc;
      unsigned bh[2], bl[2];
      lt_split(y[0], bh[0], bl[0]);
      lt_split(y[4 * yr], bh[1], bl[1]);
      lt_mma(c[j], al, bh);
      lt_mma(c[j], ah, bl);
      lt_mma(c[j], ah, bh);
    }
  }
}

// the unit's rows i times s[i] (s in shared memory, indexed from row 0 of the product)
KDEV void lt_scale_rows(float c[4][4], const float *s, int r0) {
  const int g = (threadIdx.x & 31) >> 2;
  const float s0 = s[r0 + g], s1 = s[r0 + g + 8];
  KUNROLL for (int j = 0; j < 4; j++) c[j][0] *= s0, c[j][1] *= s0, c[j][2] *= s1, c[j][3] *= s1;
}

// f(row, column, value) for each element of the unit this lane holds
template <typename F>
KDEV void lt_each(float c[4][4], LtUnit u, F f) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  KUNROLL for (int j = 0; j < 4; j++) {
    if (j >= u.nt) continue;
    KUNROLL for (int q = 0; q < 4; q++) f(u.r0 + g + 8 * (q >> 1), u.n0 + 8 * j + 2 * t + (q & 1), c[j][q]);
  }
}

// chunk rows t0 .. t0 + LA_C - 1 of x[BH, T, w] into X[LA_C][ld] times s1[i] s2[i] (either may
// be null), and when X2 is set the same rows times s3[i] into X2 too (one read of x for both);
// zero past w (up to wp) and past L rows
KDEV void lt_rows(const KaLin &a, long long bh, int t0, int L, const float *x, const KaRows &R, bool x16, int w, int wp, float *X,
                  int ld, const float *s1, const float *s2, float *X2 = 0, const float *s3 = 0) {
  for (int e = threadIdx.x; e < LA_C * wp; e += blockDim.x) {
    const int i = e / wp, c = e - i * wp;
    float v = 0.0f, v2 = 0.0f;
    if (i < L && c < w) {
      v = la_ld(x, x16, la_at(a, R, bh, la_pos(a, t0 + i), w) + c);
      if (s1) v *= s1[i];
      if (s2) v *= s2[i];
      if (X2) v2 = v * s3[i];
    }
    X[i * ld + c] = v;
    if (X2) X2[i * ld + c] = v2;
  }
}

// chunk n's slots of st[BH, NT, m, dv_w] into S[wm][ld] (zero past m and dv_w, up to wm, wv)
KDEV void lt_state(const KaLin &a, long long bh, int n, const float *st, int wm, int wv, float *S, int ld) {
  for (int e = threadIdx.x; e < wm * wv; e += blockDim.x) {
    const int k = e / wv, c = e - k * wv;
    S[k * ld + c] = k < a.m && c < a.dv_w ? st[la_slot(a, bh, n, k, c)] : 0.0f;
  }
}

// the intra-chunk mask M_ij (la_mask) for positions i, j of a chunk of L; plain 0/1 without gates
KDEV float lt_mask(const KaLin &a, const double *b, int i, int j, int L) {
  if (i >= L || j >= L) return 0.0f;
  if (a.lg || a.decay) return la_mask(a, b, i, j);
  return j < i || (j == i && !a.strict) ? 1.0f : 0.0f;
}

// phi(x) for rows [64 blockIdx.x, + 64) of x[rows, D]: each warp's 16 rows of Z = X P stay in
// registers (two units: m <= 64) for the row's softmax; a row's values are spread over a quad of
// lanes (element q of a tile is row g + 8 (q >> 1))
extern "C" __global__ void __launch_bounds__(128) k_la_features_tc(KaLin a) {
  KSMEM_DYN(float, sm);
  const int wd = LT_PAD(a.D), wm = LT_PAD(a.m), lp = wm + 4, lx = wd + 4;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  float *Ps = sm, *X = Ps + wd * lp;
  const long long r0 = (long long)blockIdx.x * 64 + 16 * w;
  for (int e = threadIdx.x; e < wd * wm; e += blockDim.x) {
    const int d = e / wm, j = e - d * wm;
    Ps[d * lp + j] = d < a.D && j < a.m ? a.P[(long long)d * a.m + j] : 0.0f;
  }
  for (int e = threadIdx.x; e < 64 * wd; e += blockDim.x) {
    const int i = e / wd, d = e - i * wd;
    const long long r = (long long)blockIdx.x * 64 + i;
    X[i * lx + d] = r < a.rows && d < a.D ? a.x[r * a.D + d] : 0.0f;
  }
  __syncthreads();
  float z[2][4][4];
  KUNROLL for (int u = 0; u < 2; u++) {
    lt_zero(z[u]);
    if (LT_U * u < wm) lt_prod(z[u], min(4, (wm - LT_U * u) / 8), X + 16 * w * lx, lx, 1, Ps + LT_U * u, lp, 1, wd);
  }
  float mx[2] = {-__int_as_float(0x7f800000), -__int_as_float(0x7f800000)}, sum[2] = {0.0f, 0.0f};
#define LT_EACH_Z(BODY)                                   \
  KUNROLL for (int u = 0; u < 2; u++)                     \
    KUNROLL for (int jj = 0; jj < 4; jj++)                \
      KUNROLL for (int q = 0; q < 4; q++) {               \
        const int j = LT_U * u + 8 * jj + 2 * t + (q & 1), r = q >> 1; \
        float &v = z[u][jj][q];                           \
        (void)r;                                          \
        if (j < a.m) { BODY; }                            \
      }
  if (a.feature == 0) {  // dct: softmax(w * z)
    LT_EACH_Z(v *= a.fw[j]; mx[r] = fmaxf(mx[r], v))
    KUNROLL for (int r = 0; r < 2; r++) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(KFULL, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(KFULL, mx[r], 2));
    }
    LT_EACH_Z(v = expf(v - mx[r]); sum[r] += v)
    KUNROLL for (int r = 0; r < 2; r++) {
      sum[r] += __shfl_xor_sync(KFULL, sum[r], 1);
      sum[r] += __shfl_xor_sync(KFULL, sum[r], 2);
    }
  } else if (a.feature == 1) {  // dct_exp: d * exp(t * z)
    LT_EACH_Z(v = a.fd[j] * expf(a.fw[j] * v))
  }
  LT_EACH_Z(if (r0 + g + 8 * r < a.rows) a.out[(r0 + g + 8 * r) * a.m + j] = a.feature == 0 ? v / sum[r] : v)
#undef LT_EACH_Z
}

// ---- the chunked core, a segment of chunks a block ----------------------------------------
// Per chunk n of the segment (gates e^b, e^{b_last - b}, beta and d_n = e^{b_last} of la_gates):
//   S_{n+1} = d_n S_n + Kw_n^T V_n   with Kw = K * e^{b_last - b} beta   (forward state)
//   R_{n-1} = d_n R_n + Qe_n^T G_n   with Qe = Q * e^b, G = dO          (reverse state)
// The state lives in shared memory (S[wm][lv]) while the block walks its chunks; each warp
// computes its units of the next state in registers, and writes them back after a barrier.

// la_gates of chunk n
KDEV void lt_gates(const KaLin &a, long long bh, int n, double *b, float *eb, float *wl, float *bt) {
  la_gates(a, bh, n * LA_C, min(LA_C, a.T - n * LA_C), b, eb, wl, bt);
}

// the chunks [*n0, *n1) of this block's segment (grid y)
KDEV void lt_segment(const KaLin &a, int *n0, int *n1) {
  const int NT = (a.T + LA_C - 1) / LA_C;
  *n0 = blockIdx.y * a.seg;
  *n1 = min(NT, *n0 + a.seg);
}

// c = the unit of S[.][ld] times s (from shared memory, in the C fragment layout)
KDEV void lt_load(float c[4][4], LtUnit u, const float *S, int ld, float s) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  KUNROLL for (int j = 0; j < 4; j++) {
    if (j >= u.nt) continue;
    KUNROLL for (int q = 0; q < 4; q++) c[j][q] = s * S[(u.r0 + g + 8 * (q >> 1)) * ld + u.n0 + 8 * j + 2 * t + (q & 1)];
  }
}
KDEV void lt_save(float c[4][4], LtUnit u, float *S, int ld) {
  lt_each(c, u, [&](int i, int j, float v) { S[i * ld + j] = v; });
}

// the state units of warp w (u = w, w + 4: at most 8 units of 64 x 64) after chunk n:
// st[s] = d S + X^T Y (X: Kw or Qe, Y: V or G; all in shared memory)
KDEV void lt_state_next(float st[2][4][4], int w, int wm, int wv, const float *S, int lv, float d, const float *X, int lm,
                        const float *Y) {
  KUNROLL for (int s = 0; s < 2; s++) {
    const int u = w + 4 * s;
    if (u >= lt_units(wm, wv)) continue;
    const LtUnit un = lt_unit(u, wm, wv);
    lt_load(st[s], un, S, lv, d);
    lt_prod(st[s], un.nt, X + un.r0, 1, lm, Y + un.n0, lv, 1, LA_C);
  }
}
KDEV void lt_state_save(float st[2][4][4], int w, int wm, int wv, float *S, int lv) {
  KUNROLL for (int s = 0; s < 2; s++) {
    const int u = w + 4 * s;
    if (u < lt_units(wm, wv)) lt_save(st[s], lt_unit(u, wm, wv), S, lv);
  }
}

// y (row i of a chunk's output, column e) = v, or += v (a.acc)
KDEV void lt_put(const KaLin &a, float *y, const KaRows &R, long long bh, int t0, int i, int w, int e, float v) {
  float *p = y + la_at(a, R, bh, la_pos(a, t0 + i), w) + e;
  *p = a.acc ? *p + v : v;
}

// part 0: states[g] = the segment's sum of Kw_n^T V_n (decayed to its end), part 1: rstates[g] =
// that of Qe_n^T G_n walking from its end; decays[g] = the product of its chunks' d_n. The sum
// waits in shared memory while la_gates runs (its f64 exp is a call: registers live across
// it spill)
extern "C" __global__ void __launch_bounds__(128) k_la_local_tc(KaLin a) {
  KSMEM_DYN(float, sm);
  const int wm = LT_PAD(a.m), wv = LT_PAD(a.dv_w), lm = wm + 4, lv = wv + 4, w = threadIdx.x >> 5;
  const long long bh = blockIdx.x;
  float *X = sm, *Y = X + LA_C * lm, *S = Y + LA_C * lv, *eb = S + wm * lv, *wl = eb + LA_C, *bt = wl + LA_C;
  double *b = (double *)(void *)(bt + LA_C);
  int n0, n1;
  lt_segment(a, &n0, &n1);
  for (int e = threadIdx.x; e < wm * lv; e += blockDim.x) S[e] = 0.0f;
  float dall = 1.0f;
  for (int i = 0; i < n1 - n0; i++) {
    __syncthreads();  // the last chunk's readers are done, the sum written
    lt_gates(a, bh, a.part ? n1 - 1 - i : n0 + i, b, eb, wl, bt);
    __syncthreads();
    // (computed again after the call: live across it, they would spill)
    const int n = a.part ? n1 - 1 - i : n0 + i, t0 = n * LA_C, L = min(LA_C, a.T - t0);
    if (a.part) {
      lt_rows(a, bh, t0, L, a.q, a.lq, false, a.m, wm, X, lm, eb, 0);
      lt_rows(a, bh, t0, L, a.dO, a.ldO, a.dO16, a.dv_w, wv, Y, lv, 0, 0);
    } else {
      lt_rows(a, bh, t0, L, a.k, a.lk, false, a.m, wm, X, lm, wl, bt);
      lt_rows(a, bh, t0, L, a.v, a.lv, a.v16, a.dv_w, wv, Y, lv, 0, 0);
    }
    __syncthreads();
    const float d = eb[L - 1];
    dall *= d;
    float st[2][4][4];
    lt_state_next(st, w, wm, wv, S, lv, d, X, lm, Y);  // a warp reads and writes its own units only
    lt_state_save(st, w, wm, wv, S, lv);
  }
  __syncthreads();
  float *dst = a.part ? a.rstates : a.states;
  for (int e = threadIdx.x; e < a.m * a.dv_w; e += blockDim.x) {
    const int k = e / a.dv_w, c = e - k * a.dv_w;
    dst[la_slot(a, bh, blockIdx.y, k, c)] = S[k * lv + c];
  }
  if (threadIdx.x == 0) a.decays[bh * gridDim.y + blockIdx.y] = dall;
}

// o (=, or += with a.acc) the attention of the segment's chunks from its start state (states[g],
// k_la_carry's): per chunk A = (Q Kb^T) * M with Kb = beta K, O = diag(e^b) Q S + A V
extern "C" __global__ void __launch_bounds__(128) k_la_out_tc(KaLin a) {
  KSMEM_DYN(float, sm);
  const int wm = LT_PAD(a.m), wv = LT_PAD(a.dv_w), lm = wm + 4, lv = wv + 4, w = threadIdx.x >> 5;
  const long long bh = blockIdx.x;
  float *Q = sm, *Kb = Q + LA_C * lm, *Kw = Kb + LA_C * lm, *V = Kw + LA_C * lm, *S = V + LA_C * lv, *A = S + wm * lv;
  float *eb = A + LA_C * LT_AL, *wl = eb + LA_C, *bt = wl + LA_C;
  double *b = (double *)(void *)(bt + LA_C);
  int n0, n1;
  lt_segment(a, &n0, &n1);
  lt_state(a, bh, blockIdx.y, a.states, wm, wv, S, lv);
  for (int n = n0; n < n1; n++) {
    const int t0 = n * LA_C, L = min(LA_C, a.T - t0);
    __syncthreads();  // the last chunk's readers are done, the state written
    la_gates(a, bh, t0, L, b, eb, wl, bt);
    __syncthreads();
    lt_rows(a, bh, t0, L, a.q, a.lq, false, a.m, wm, Q, lm, 0, 0);
    lt_rows(a, bh, t0, L, a.k, a.lk, false, a.m, wm, Kb, lm, bt, 0, n + 1 < n1 ? Kw : 0, wl);  // Kw = Kb e^{b_last - b}
    lt_rows(a, bh, t0, L, a.v, a.lv, a.v16, a.dv_w, wv, V, lv, 0, 0);
    __syncthreads();
    if (w < lt_units(LA_C, LA_C)) {
      const LtUnit un = lt_unit(w, LA_C, LA_C);
      float c[4][4];
      lt_zero(c);
      lt_prod(c, un.nt, Q + un.r0 * lm, lm, 1, Kb + un.n0 * lm, 1, lm, wm);  // Q Kb^T
      lt_each(c, un, [&](int i, int j, float v) { A[i * LT_AL + j] = v * lt_mask(a, b, i, j, L); });
    }
    __syncthreads();
    for (int u = w; u < lt_units(LA_C, wv); u += 4) {
      const LtUnit un = lt_unit(u, LA_C, wv);
      float c[4][4];
      lt_zero(c);
      lt_prod(c, un.nt, Q + un.r0 * lm, lm, 1, S + un.n0, lv, 1, wm);  // Q S
      lt_scale_rows(c, eb, un.r0);
      lt_prod(c, un.nt, A + un.r0 * LT_AL, LT_AL, 1, V + un.n0, lv, 1, LA_C);  // + A V
      lt_each(c, un, [&](int i, int e, float v) {
        if (i < L && e < a.dv_w) lt_put(a, a.o, a.lo, bh, t0, i, a.dv_w, e, v);
      });
    }
    if (n + 1 < n1) {  // S <- d S + Kw^T V
      float st[2][4][4];
      lt_state_next(st, w, wm, wv, S, lv, eb[L - 1], Kw, lm, V);
      __syncthreads();
      lt_state_save(st, w, wm, wv, S, lv);
    }
  }
}

// the gradients of the segment's chunks given its start states: S (states[g], walking forward)
// and R (rstates[g], walking back from its end); per chunk, with G = dO, Kb = beta K,
// P = (G V^T) * M, A = (Q Kb^T) * M:
//   dq  = diag(e^b) G S^T + P Kb                   (the forward walk)
//   dkb = diag(e^{b_last - b}) V R^T + P^T Q       (the backward walk)
//   dv  = diag(e^{b_last - b}) Kb R + A^T G
// (=, or += with a.acc)
extern "C" __global__ void __launch_bounds__(128) k_la_grad_tc(KaLin a) {
  KSMEM_DYN(float, sm);
  const int wm = LT_PAD(a.m), wv = LT_PAD(a.dv_w), lm = wm + 4, lv = wv + 4, w = threadIdx.x >> 5;
  const long long bh = blockIdx.x;
  float *Q = sm, *Kb = Q + LA_C * lm, *X = Kb + LA_C * lm, *V = X + LA_C * lm, *G = V + LA_C * lv, *S = G + LA_C * lv;
  float *P = S + wm * lv, *A = P + LA_C * LT_AL, *eb = A + LA_C * LT_AL, *wl = eb + LA_C, *bt = wl + LA_C;
  double *b = (double *)(void *)(bt + LA_C);
  int n0, n1;
  lt_segment(a, &n0, &n1);
  const int nq = lt_units(LA_C, wm), nv = lt_units(LA_C, wv);
  for (int dir = 0; dir < 2; dir++) {  // 0: forward (S, dq), 1: backward (R, dkb and dv)
    __syncthreads();
    lt_state(a, bh, blockIdx.y, dir ? a.rstates : a.states, wm, wv, S, lv);
    for (int i = 0; i < n1 - n0; i++) {
      const int n = dir ? n1 - 1 - i : n0 + i, t0 = n * LA_C, L = min(LA_C, a.T - t0);
      const bool more = i + 1 < n1 - n0;
      __syncthreads();
      la_gates(a, bh, t0, L, b, eb, wl, bt);
      __syncthreads();
      // X: Qe = Q e^b (backward walk) or Kw = Kb e^{b_last - b} (forward), for the next state;
      // the forward walk has no use for q
      if (dir) lt_rows(a, bh, t0, L, a.q, a.lq, false, a.m, wm, Q, lm, 0, 0, more ? X : 0, eb);
      lt_rows(a, bh, t0, L, a.k, a.lk, false, a.m, wm, Kb, lm, bt, 0, more && !dir ? X : 0, wl);
      lt_rows(a, bh, t0, L, a.v, a.lv, a.v16, a.dv_w, wv, V, lv, 0, 0);
      lt_rows(a, bh, t0, L, a.dO, a.ldO, a.dO16, a.dv_w, wv, G, lv, 0, 0);
      __syncthreads();
      if (w < 2 || dir) {  // warps 0, 1: P; 2, 3: A (the backward walk)
        const LtUnit un = lt_unit(w & 1, LA_C, LA_C);
        float c[4][4];
        lt_zero(c);
        if (w < 2) lt_prod(c, un.nt, G + un.r0 * lv, lv, 1, V + un.n0 * lv, 1, lv, wv);  // G V^T
        else lt_prod(c, un.nt, Q + un.r0 * lm, lm, 1, Kb + un.n0 * lm, 1, lm, wm);      // Q Kb^T
        float *to = w < 2 ? P : A;
        lt_each(c, un, [&](int ii, int j, float v) { to[ii * LT_AL + j] = v * lt_mask(a, b, ii, j, L); });
      }
      __syncthreads();
      for (int u = w; u < (dir ? nq + nv : nq); u += 4) {
        const int out = dir == 0 ? 0 : u < nq ? 1 : 2;
        const LtUnit un = lt_unit(out == 2 ? u - nq : u, LA_C, out < 2 ? wm : wv);
        float c[4][4];
        lt_zero(c);
        if (out == 0) {
          lt_prod(c, un.nt, G + un.r0 * lv, lv, 1, S + un.n0 * lv, 1, lv, wv);  // G S^T
          lt_scale_rows(c, eb, un.r0);
          lt_prod(c, un.nt, P + un.r0 * LT_AL, LT_AL, 1, Kb + un.n0, lm, 1, LA_C);  // + P Kb
        } else if (out == 1) {
          lt_prod(c, un.nt, V + un.r0 * lv, lv, 1, S + un.n0 * lv, 1, lv, wv);  // V R^T
          lt_scale_rows(c, wl, un.r0);
          lt_prod(c, un.nt, P + un.r0, 1, LT_AL, Q + un.n0, lm, 1, LA_C);  // + P^T Q
        } else {
          lt_prod(c, un.nt, Kb + un.r0 * lm, lm, 1, S + un.n0, lv, 1, wm);  // Kb R
          lt_scale_rows(c, wl, un.r0);
          lt_prod(c, un.nt, A + un.r0, 1, LT_AL, G + un.n0, lv, 1, LA_C);  // + A^T G
        }
        float *dst = out == 0 ? a.dq : out == 1 ? a.dkb : a.dv;
        const int width = out < 2 ? a.m : a.dv_w;
        const KaRows packed = {0, 0, 0}; // the executor's scratch, packed by k_la_pack
        lt_each(c, un, [&](int ii, int e, float v) {
          if (ii < L && e < width) lt_put(a, dst, packed, bh, t0, ii, width, e, v);
        });
      }
      if (more) {  // S <- d S + Kw^T V, or R <- d R + Qe^T G
        float st[2][4][4];
        lt_state_next(st, w, wm, wv, S, lv, eb[L - 1], X, lm, dir ? G : V);
        __syncthreads();
        lt_state_save(st, w, wm, wv, S, lv);
      }
    }
  }
}
