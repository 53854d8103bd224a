// attention.cu — fused softmax attention, flash-style: the [Sq, Sk] score matrix is never
// stored; forward keeps the log-sum-exp per query for the backward (argument block KaAttn in
// kargs.h; semantics of runtime/interp/attention.c: causal means key j <= i + (Sk - Sq), a
// key mask [B, Sk] drops keys, a query without a visible key gets zeros).
//
//   k_attn_fwd_d{32,64,128}      o = softmax(scale q k^T) v, lse       grid (Sq/16, H, B), 128 threads
//   k_attn_bwd_pre               delta = rowsum(dO * o)                 a warp per query row
//   k_attn_bwd_dq_d{32,64}       dq = scale dS k                        grid (Sq/16, H, B), 128 threads
//   k_attn_bwd_dkdv_d{32,64}     dk = scale dS^T q, dv = P^T dO         grid (Sk/32, H, B), 128 threads
//   with P = exp(scale q k^T - lse) on visible pairs, dS = P (dO v^T - delta).
//   k_attn_softmax               s = softmax(scale s) on visible keys   a warp per query row
//   k_attn_dsoftmax              ds = scale s (ds - rowsum(s ds))       a warp per query row
//   (the two row kernels of the products' form, dexec_attn.c: S = q k^T, P, o = P v; dV = P^T dO,
//   dP = dO v^T, dS, dq = dS k, dk = dS^T q through cuBLASLt, the [Sq, Sk] matrices stored)
//   k_attn_fwd16_d*, k_attn_bwd_pre16, k_attn_bwd_dq16_d*, k_attn_bwd_dkdv16_d*: the same with q,
//   k, v, o, dO, dq, dk, dv stored as bf16 (the executor's bf16 activations: widened on load,
//   rounded to nearest even on store; lse, delta, the mask and all arithmetic stay f32).
//
// f32 on CUDA cores (bf16 operands on sm_80+ run attention_tc.cu's tensor-core kernels instead). Layout per block: a tile of 32 keys (K, V) in
// shared memory, rows padded to D + 1 floats so that lane j reading key j's row is free of bank
// conflicts; each warp owns 4 queries of a 16-query tile; lane j scores key j of the tile, and
// accumulates output dims lane, lane + 32, ... with the probabilities broadcast by shuffles.

#define ATT_KT 32   // keys per tile
#define ATT_QT 16   // queries per block (4 warps x 4)

KDEV float att_ld(const float *p, long long i) { return p[i]; }
KDEV float att_ld(const unsigned short *p, long long i) { return from_bf16(p[i]); }
KDEV void att_st(float *p, long long i, float v) { p[i] = v; }
KDEV void att_st(unsigned short *p, long long i, float v) { p[i] = to_bf16(v); }

KDEV bool att_visible(const KaAttn &a, int b, int i, int j) {
  if (j >= a.Sk) return false;
  if (a.causal && j > i + (a.Sk - a.Sq)) return false;
  if (a.mask && a.mask[(long long)b * a.Sk + j] == 0.0f) return false;
  return true;
}

// load keys [k0, k0 + 32) of slice bh into Ks / Vs ([32][D + 1]); rows past Sk are zero
template <int D, typename T>
KDEV void att_load_kv(const KaAttn &a, long long bh, int k0, float *Ks, float *Vs, const T *kp, const T *vp) {
  for (int t = threadIdx.x; t < ATT_KT * D; t += blockDim.x) {
    int j = t / D, e = t - j * D, kj = k0 + j;
    bool in = kj < a.Sk;
    Ks[j * (D + 1) + e] = in ? att_ld(kp, (bh * a.Sk + kj) * D + e) : 0.0f;
    Vs[j * (D + 1) + e] = in ? att_ld(vp, (bh * a.Sk + kj) * D + e) : 0.0f;
  }
}

template <int D, typename T>
KDEV void attn_fwd(const KaAttn &a) {
  const T *Q = (const T *)a.q, *K = (const T *)a.k, *V = (const T *)a.v;
  T *O = (T *)a.o;
  constexpr int C = D / 32;  // output dims per lane
  __shared__ float Ks[ATT_KT * (D + 1)], Vs[ATT_KT * (D + 1)], Qs[ATT_QT * D];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * ATT_QT;
  const long long bh = (long long)b * a.H + h;
  for (int t = threadIdx.x; t < ATT_QT * D; t += blockDim.x) {
    int i = q0 + t / D;
    Qs[t] = i < a.Sq ? att_ld(Q, (bh * a.Sq + i) * D + t % D) : 0.0f;
  }
  float m[4], l[4], acc[4][C];
  for (int r = 0; r < 4; r++) {
    m[r] = -__int_as_float(0x7f800000);
    l[r] = 0;
    for (int c = 0; c < C; c++) acc[r][c] = 0;
  }
  int qlast = min(q0 + ATT_QT, a.Sq) - 1;
  int kend = a.causal ? min(a.Sk, qlast + (a.Sk - a.Sq) + 1) : a.Sk;
  for (int k0 = 0; k0 < kend; k0 += ATT_KT) {
    __syncthreads();
    att_load_kv<D, T>(a, bh, k0, Ks, Vs, K, V);
    __syncthreads();
    KUNROLL for (int r = 0; r < 4; r++) {
      int qi = w * 4 + r, i = q0 + qi;
      if (i >= a.Sq) continue; // (not break: the loop unrolls, its arrays stay in registers)
      bool vis = att_visible(a, b, i, k0 + lane);
      float s = 0;
      for (int e = 0; e < D; e++) s += Qs[qi * D + e] * Ks[lane * (D + 1) + e];
      s = vis ? s * a.scale : -__int_as_float(0x7f800000);
      float mn = fmaxf(m[r], warp_max(s));
      if (mn == -__int_as_float(0x7f800000)) continue;  // nothing visible yet
      float p = vis ? expf(s - mn) : 0.0f, corr = expf(m[r] - mn);
      l[r] = l[r] * corr + warp_sum(p);
      for (int c = 0; c < C; c++) acc[r][c] *= corr;
      for (int j = 0; j < ATT_KT; j++) {
        float pj = __shfl_sync(KFULL, p, j);
        for (int c = 0; c < C; c++) acc[r][c] += pj * Vs[j * (D + 1) + lane + 32 * c];
      }
      m[r] = mn;
    }
  }
  for (int r = 0; r < 4; r++) {
    int i = q0 + w * 4 + r;
    if (i >= a.Sq) continue; // (not break: the loop unrolls, its arrays stay in registers)
    float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
    for (int c = 0; c < C; c++) att_st(O, (bh * a.Sq + i) * D + lane + 32 * c, acc[r][c] * inv);
    if (lane == 0 && a.lse) a.lse[bh * a.Sq + i] = l[r] > 0 ? m[r] + logf(l[r]) : -__int_as_float(0x7f800000);
  }
}

typedef unsigned short att_bf16;
extern "C" __global__ void __launch_bounds__(128) k_attn_fwd_d32(KaAttn a) { attn_fwd<32, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_fwd_d64(KaAttn a) { attn_fwd<64, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_fwd_d128(KaAttn a) { attn_fwd<128, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_fwd16_d32(KaAttn a) { attn_fwd<32, att_bf16>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_fwd16_d64(KaAttn a) { attn_fwd<64, att_bf16>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_fwd16_d128(KaAttn a) { attn_fwd<128, att_bf16>(a); }

// delta[row] = sum_e dO[row, e] o[row, e] over rows = B H Sq of width a.D (the rows where
// a.ldO and a.lo say)
KDEV long long att_row(const KaRows &L, const KaAttn &a, long long r) {
  return L.r ? r / a.Sq / a.H * L.b + r / a.Sq % a.H * L.h + r % a.Sq * L.r : r * a.D;
}
template <typename T>
KDEV void attn_bwd_pre(const KaAttn &a) {
  const T *dO = (const T *)a.dO, *o = (const T *)a.o;
  const int D = a.D;
  const int lane = threadIdx.x & 31;
  const long long rows = (long long)a.B * a.H * a.Sq;
  for (long long r = gtid() >> 5; r < rows; r += gstride() >> 5) {
    const long long g = att_row(a.ldO, a, r), f = att_row(a.lo, a, r);
    float s = 0;
    for (int e = lane; e < D; e += 32) s += att_ld(dO, g + e) * att_ld(o, f + e);
    s = warp_sum(s);
    if (lane == 0) a.delta[r] = s;
  }
}
extern "C" __global__ void k_attn_bwd_pre(KaAttn a) { attn_bwd_pre<float>(a); }
extern "C" __global__ void k_attn_bwd_pre16(KaAttn a) { attn_bwd_pre<att_bf16>(a); }

template <int D, typename T>
KDEV void attn_bwd_dq(const KaAttn &a) {
  const T *Q = (const T *)a.q, *K = (const T *)a.k, *V = (const T *)a.v, *dO = (const T *)a.dO;
  constexpr int C = D / 32;
  __shared__ float Ks[ATT_KT * (D + 1)], Vs[ATT_KT * (D + 1)], Qs[ATT_QT * D], Gs[ATT_QT * D];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * ATT_QT;
  const long long bh = (long long)b * a.H + h;
  for (int t = threadIdx.x; t < ATT_QT * D; t += blockDim.x) {
    int i = q0 + t / D;
    Qs[t] = i < a.Sq ? att_ld(Q, (bh * a.Sq + i) * D + t % D) : 0.0f;
    Gs[t] = i < a.Sq ? att_ld(dO, (bh * a.Sq + i) * D + t % D) : 0.0f;
  }
  float acc[4][C], lse[4], dl[4];
  for (int r = 0; r < 4; r++) {
    int i = q0 + w * 4 + r;
    lse[r] = i < a.Sq ? a.lse[bh * a.Sq + i] : 0.0f;
    dl[r] = i < a.Sq ? a.delta[bh * a.Sq + i] : 0.0f;
    for (int c = 0; c < C; c++) acc[r][c] = 0;
  }
  int qlast = min(q0 + ATT_QT, a.Sq) - 1;
  int kend = a.causal ? min(a.Sk, qlast + (a.Sk - a.Sq) + 1) : a.Sk;
  for (int k0 = 0; k0 < kend; k0 += ATT_KT) {
    __syncthreads();
    att_load_kv<D, T>(a, bh, k0, Ks, Vs, K, V);
    __syncthreads();
    KUNROLL for (int r = 0; r < 4; r++) {
      int qi = w * 4 + r, i = q0 + qi;
      if (i >= a.Sq) continue; // (not break: the loop unrolls, its arrays stay in registers)
      bool vis = att_visible(a, b, i, k0 + lane) && lse[r] != -__int_as_float(0x7f800000);
      float s = 0, dp = 0;
      for (int e = 0; e < D; e++) {
        s += Qs[qi * D + e] * Ks[lane * (D + 1) + e];
        dp += Gs[qi * D + e] * Vs[lane * (D + 1) + e];
      }
      float p = vis ? expf(s * a.scale - lse[r]) : 0.0f, ds = p * (dp - dl[r]);
      for (int j = 0; j < ATT_KT; j++) {
        float dj = __shfl_sync(KFULL, ds, j);
        for (int c = 0; c < C; c++) acc[r][c] += dj * Ks[j * (D + 1) + lane + 32 * c];
      }
    }
  }
  for (int r = 0; r < 4; r++) {
    int i = q0 + w * 4 + r;
    if (i >= a.Sq) continue; // (not break: the loop unrolls, its arrays stay in registers)
    for (int c = 0; c < C; c++) att_st((T *)a.dq, (bh * a.Sq + i) * D + lane + 32 * c, acc[r][c] * a.scale);
  }
}

extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dq_d32(KaAttn a) { attn_bwd_dq<32, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dq_d64(KaAttn a) { attn_bwd_dq<64, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dq16_d32(KaAttn a) { attn_bwd_dq<32, att_bf16>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dq16_d64(KaAttn a) { attn_bwd_dq<64, att_bf16>(a); }

// lane j of every warp owns key k0 + j: its dk and dv rows live in registers; warp w takes
// queries w, w + 4, ...; the four warps' sums meet in shared memory at the end.
template <int D, typename T>
KDEV void attn_bwd_dkdv(const KaAttn &a) {
  const T *Q = (const T *)a.q, *K = (const T *)a.k, *V = (const T *)a.v, *dO = (const T *)a.dO;
  __shared__ float sm[4 * ATT_KT * D];  // K and V tiles first, the warps' partial sums after
  float *Ks = sm, *Vs = sm + ATT_KT * (D + 1);
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int b = blockIdx.z, h = blockIdx.y, k0 = blockIdx.x * ATT_KT, kj = k0 + lane;
  const long long bh = (long long)b * a.H + h;
  att_load_kv<D, T>(a, bh, k0, Ks, Vs, K, V);
  __syncthreads();
  const float *kr = Ks + lane * (D + 1), *vr = Vs + lane * (D + 1);
  float dk[D], dv[D]; // registers: every loop over them unrolls
  KUNROLL for (int e = 0; e < D; e++) {
    dk[e] = 0;
    dv[e] = 0;
  }
  int istart = a.causal ? max(0, k0 - (a.Sk - a.Sq)) : 0;
  for (int i = istart + w; i < a.Sq; i += 4) {
    const T *qi = Q + (bh * a.Sq + i) * D, *gi = dO + (bh * a.Sq + i) * D;
    float lse = a.lse[bh * a.Sq + i], dl = a.delta[bh * a.Sq + i];
    bool vis = att_visible(a, b, i, kj) && lse != -__int_as_float(0x7f800000);
    float s = 0, dp = 0;
    for (int e = 0; e < D; e++) {
      s += att_ld(qi, e) * kr[e];
      dp += att_ld(gi, e) * vr[e];
    }
    float p = vis ? expf(s * a.scale - lse) : 0.0f, ds = p * (dp - dl) * a.scale;
    if (__any_sync(KFULL, p != 0.0f))
      KUNROLL for (int e = 0; e < D; e++) {
        dv[e] += p * att_ld(gi, e);
        dk[e] += ds * att_ld(qi, e);
      }
  }
  for (int pass = 0; pass < 2; pass++) {
    T *dst = (T *)(pass ? a.dv : a.dk);
    __syncthreads();
    KUNROLL for (int e = 0; e < D; e++) sm[(w * ATT_KT + lane) * D + e] = pass ? dv[e] : dk[e];
    __syncthreads();
    for (int t = threadIdx.x; t < ATT_KT * D; t += blockDim.x) {
      int j = t / D, e = t - j * D;
      if (k0 + j >= a.Sk) continue;
      float s = 0;
      for (int ww = 0; ww < 4; ww++) s += sm[(ww * ATT_KT + j) * D + e];
      att_st(dst, (bh * a.Sk + k0 + j) * D + e, s);
    }
  }
}

extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dkdv_d32(KaAttn a) { attn_bwd_dkdv<32, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dkdv_d64(KaAttn a) { attn_bwd_dkdv<64, float>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dkdv16_d32(KaAttn a) { attn_bwd_dkdv<32, att_bf16>(a); }
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dkdv16_d64(KaAttn a) { attn_bwd_dkdv<64, att_bf16>(a); }

// one warp per row r of a.s [B H Sq, Sk]: the scores of query i = r % Sq of batch b become its
// probabilities over the keys it sees (causal: j <= i + Sk - Sq; a.mask[b, j] != 0), 0 elsewhere
// (every entry of a row that sees none); a.lse[r] = its log-sum-exp (-inf: none) where set
extern "C" __global__ void k_attn_softmax(KaAttn a) {
  const int lane = threadIdx.x & 31;
  const long long rows = (long long)a.B * a.H * a.Sq;
  for (long long r = gtid() >> 5; r < rows; r += gstride() >> 5) {
    const int i = (int)(r % a.Sq);
    const long long b = r / ((long long)a.H * a.Sq);
    float *s = a.s + r * a.Sk;
    const float *mk = a.mask ? a.mask + b * a.Sk : 0;
    const int jend = a.causal ? min(a.Sk, i + (a.Sk - a.Sq) + 1) : a.Sk;
    float m = -__int_as_float(0x7f800000);
    for (int j = lane; j < jend; j += 32)
      if (!mk || mk[j] != 0.0f) m = fmaxf(m, a.scale * s[j]);
    m = warp_max(m);
    float z = 0;
    for (int j = lane; j < jend; j += 32)
      if (!mk || mk[j] != 0.0f) z += expf(a.scale * s[j] - m);
    z = warp_sum(z);
    const float inv = z > 0 ? 1.0f / z : 0.0f;
    for (int j = lane; j < a.Sk; j += 32) s[j] = j < jend && (!mk || mk[j] != 0.0f) && z > 0 ? expf(a.scale * s[j] - m) * inv : 0.0f;
    if (lane == 0 && a.lse) a.lse[r] = z > 0 ? m + logf(z) : -__int_as_float(0x7f800000);
  }
}

// one warp per row r: a.ds [B H Sq, Sk] holds dP = dO v^T; it becomes dS = scale P (dP - delta)
// with delta = sum_j P dP (= rowsum(dO o)) and P = a.s
extern "C" __global__ void k_attn_dsoftmax(KaAttn a) {
  const int lane = threadIdx.x & 31;
  const long long rows = (long long)a.B * a.H * a.Sq;
  for (long long r = gtid() >> 5; r < rows; r += gstride() >> 5) {
    const float *p = a.s + r * a.Sk;
    float *d = a.ds + r * a.Sk;
    float delta = 0;
    for (int j = lane; j < a.Sk; j += 32) delta += p[j] * d[j];
    delta = warp_sum(delta);
    for (int j = lane; j < a.Sk; j += 32) d[j] = a.scale * p[j] * (d[j] - delta);
  }
}
