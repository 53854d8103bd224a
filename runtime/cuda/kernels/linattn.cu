// linattn.cu — DiJiang's linear attention on the GPU: feature maps and the chunked causal
// core, forward and backward (argument blocks KaLin, KaLinPack in kargs.h). The algorithm is
// runtime/fast/fast_linattn_core.c's (flash-linear-attention's), per (b, h) slice:
//
//   b_i  = sum_{r <= i} lg_r within the chunk,  M_ij = e^{b_i - b_j} [j <= i]  (j < i when strict)
//   O_n += diag(e^b) Q_n S + ((Q_n K_n^T) * M * beta_j) V_n
//   S   <- e^{b_last} S + (K_n * e^{b_last - b} beta)^T V_n
// backward, chunks in reverse, R the reverse state, S_n the chunk-start states:
//   dQ_n += diag(e^b) dO_n S_n^T + ((dO_n V_n^T) * M * beta) K_n
//   dK'_n += ((dO_n V_n^T) * M)^T Q_n + diag(e^{b_last - b}) V_n R^T
//   dV_n += ((Q_n K_n^T) * M * beta)^T dO_n + diag(beta e^{b_last - b}) K_n R
//   R    <- e^{b_last} R + (Q_n * e^b)^T dO_n
//
// Shapes: q, k [BH, T, m] (feature-mapped), v, o, dO [BH, T, dv], lg, beta [BH, T]; the core
// reads q, k, v, dO and writes o where their KaRows say (la_at: e.g. v, o, dO in [B, T, H, dv],
// the executor skipping the heads' transposes), the gradients' dq, dkb, dv packed.
// Parallelism: one block (128 threads) per (slice, DVB value columns): the value columns are
// independent in the forward; in the backward dQ and dK' sum over them (atomicAdd into zeroed
// buffers). The chunk is LA_C = 32 positions (the op's `chunk` only changes f32 rounding:
// the chunked form equals the quadratic one exactly in real arithmetic).
// reverse = 1 runs positions T-1 .. 0 (the anti-causal half of a bidirectional attention,
// with strict = 1): every load and store goes through pos().
// Shared memory is dynamic: the launcher sets the size (la_smem_floats() on the host).

#define LA_C 32
#define LA_DVB 32

KDEV long long la_pos(const KaLin &a, int t) { return a.reverse ? a.T - 1 - t : t; }

// phi(x) for rows of x[rows, D]: a warp per row, lanes over features (m <= 128)
extern "C" __global__ void k_la_features(KaLin a) {
  const int lane = threadIdx.x & 31;
  for (long long r = gtid() >> 5; r < a.rows; r += gstride() >> 5) {
    const float *x = a.x + r * a.D;
    float z[4];
    for (int c = 0; c < 4; c++) {
      int j = lane + 32 * c;
      float s = 0;
      if (j < a.m)
        for (int d = 0; d < a.D; d++) s += x[d] * a.P[(long long)d * a.m + j];
      z[c] = s;
    }
    if (a.feature == 0) {  // dct: softmax(w * z)
      float mx = -__int_as_float(0x7f800000);
      for (int c = 0; c < 4; c++) {
        int j = lane + 32 * c;
        if (j < a.m) {
          z[c] *= a.fw[j];
          mx = fmaxf(mx, z[c]);
        }
      }
      mx = warp_max(mx);
      float sum = 0;
      for (int c = 0; c < 4; c++) {
        int j = lane + 32 * c;
        if (j < a.m) sum += z[c] = expf(z[c] - mx);
      }
      sum = warp_sum(sum);
      for (int c = 0; c < 4; c++) z[c] /= sum;
    } else if (a.feature == 1) {  // dct_exp: d * exp(t * z)
      for (int c = 0; c < 4; c++) {
        int j = lane + 32 * c;
        if (j < a.m) z[c] = a.fd[j] * expf(a.fw[j] * z[c]);
      }
    }
    for (int c = 0; c < 4; c++) {
      int j = lane + 32 * c;
      if (j < a.m) a.out[r * a.m + j] = z[c];
    }
  }
}

// gates of chunk positions t0 .. t0 + L - 1: b (f64, inclusive cumsum), e^b, e^{b_last - b}, beta
KDEV void la_gates(const KaLin &a, long long bh, int t0, int L, double *b, float *eb, float *wl, float *bt) {
  if (threadIdx.x < 32) {
    int i = threadIdx.x;
    double g = 0;
    if (i < L) {
      long long p = bh * a.T + la_pos(a, t0 + i);
      g = a.lg ? (double)a.lg[p] : a.decay ? log(1.0 - exp(-3.4657359027997265 + (a.H > 1 ? (double)(bh % a.H) * (-2.772588722239781 / (a.H - 1)) : 0.0))) : 0.0;
      bt[i] = a.beta ? a.beta[p] : 1.0f;
    }
    for (int o = 1; o < 32; o <<= 1) {  // inclusive scan
      double y = __shfl_up_sync(KFULL, g, o);
      if (i >= o) g += y;
    }
    b[i] = g;
    double last = __shfl_sync(KFULL, g, L - 1);
    eb[i] = (float)exp(g);
    wl[i] = (float)exp(last - g);
  }
}

KDEV float la_mask(const KaLin &a, const double *b, int i, int j) {
  return (j < i || (j == i && !a.strict)) ? (float)exp(b[i] - b[j]) : 0.0f;
}

// Chunks run in parallel (grid z = the chunk): the states that carry attention from chunk to
// chunk are summed per chunk (k_la_local), carried across chunks by a scan per state element
// (k_la_carry: the only sequential part, NT steps of one multiply-add), and then each chunk
// computes its output (k_la_out) or its gradients (k_la_grad) from its start state alone.

// rows t0 .. t0 + L - 1 of x[BH, T, w] (columns c0 .. c0 + nc - 1) into X[C][ld]; zeros elsewhere
// where row t of slice bh of a tensor of width w laid out as R starts (R.r = 0: packed [BH, T, w])
KDEV long long la_at(const KaLin &a, const KaRows &R, long long bh, long long t, int w) {
  return R.r ? bh / a.H * R.b + bh % a.H * R.h + t * R.r : (bh * a.T + t) * w;
}

// element i of x, stored as bf16 (x16) or f32
KDEV float la_ld(const float *x, bool x16, long long i) { return x16 ? from_bf16(((const unsigned short *)x)[i]) : x[i]; }

KDEV void la_rows(const KaLin &a, long long bh, int t0, int L, const float *x, const KaRows &R, bool x16, int w, int c0, int nc,
                  float *X, int ld) {
  for (int t = threadIdx.x; t < LA_C * nc; t += blockDim.x) {
    int i = t / nc, c = t - i * nc;
    X[i * ld + c] = i < L && x && c0 + c < w ? la_ld(x, x16, la_at(a, R, bh, la_pos(a, t0 + i), w) + c0 + c) : 0.0f;
  }
}

// the states' groups of chunks: segments of a.seg chunks (linattn_tc.cu), or each chunk
KDEV int la_groups(const KaLin &a) {
  const int NT = (a.T + LA_C - 1) / LA_C;
  return a.seg > 1 ? (NT + a.seg - 1) / a.seg : NT;
}

// state slot [m, DVB columns from e0] of group n of st[BH, groups, m, dv]
KDEV long long la_slot(const KaLin &a, long long bh, int n, int k, int e) {
  return ((bh * la_groups(a) + n) * a.m + k) * a.dv_w + e;
}

// part 0: states[n] = (K_n * e^{b_last - b} beta)^T V_n; part 1: rstates[n] = (Q_n * e^b)^T dO_n;
// decays[n] = e^{b_last} of the chunk. Grid (BH, value slices, NT).
extern "C" __global__ void __launch_bounds__(128) k_la_local(KaLin a) {
  KSMEM_DYN(float, sm);
  const int m = a.m, mp = m + 1, e0 = blockIdx.y * LA_DVB, n = blockIdx.z, t0 = n * LA_C, L = min(LA_C, a.T - t0);
  const long long bh = blockIdx.x;
  float *X = sm, *Y = X + LA_C * mp, *eb = Y + LA_C * LA_DVB, *wl = eb + LA_C, *bt = wl + LA_C;
  double *b = (double *)(void *)(bt + LA_C + (LA_C & 1));
  la_rows(a, bh, t0, L, a.part ? a.q : a.k, a.part ? a.lq : a.lk, false, m, 0, m, X, mp);
  la_rows(a, bh, t0, L, a.part ? a.dO : a.v, a.part ? a.ldO : a.lv, a.part ? a.dO16 : a.v16, a.dv_w, e0, LA_DVB, Y, LA_DVB);
  la_gates(a, bh, t0, L, b, eb, wl, bt);
  __syncthreads();
  if (threadIdx.x == 0 && blockIdx.y == 0) a.decays[bh * gridDim.z + n] = eb[L - 1];
  float *dst = a.part ? a.rstates : a.states;
  for (int t = threadIdx.x; t < m * LA_DVB; t += blockDim.x) {
    int k = t / LA_DVB, e = t - k * LA_DVB;
    if (e0 + e >= a.dv_w) continue;
    float s = 0;
    for (int j = 0; j < L; j++) s += X[j * mp + k] * (a.part ? eb[j] : wl[j] * bt[j]) * Y[j * LA_DVB + e];
    dst[la_slot(a, bh, n, k, e0 + e)] = s;
  }
}

// the chunks' (or segments': la_groups) sums into each one's start state, a thread per (slice,
// state element): part 0 forward, S_0 = 0, S_{n+1} = e^{b_last,n} S_n + states[n]; part 1
// backward (the reverse state), R_{NT-1} = 0, R_{n-1} = e^{b_last,n} R_n + rstates[n] — in place
extern "C" __global__ void k_la_carry(KaLin a) {
  const int NT = la_groups(a);
  const long long per = (long long)a.m * a.dv_w, total = a.BH * per;
  float *st = a.part ? a.rstates : a.states;
  for (long long x = gtid(); x < total; x += gstride()) {
    const long long bh = x / per, off = x - bh * per;
    float s = 0;
    for (int i = 0; i < NT; i++) {
      const int n = a.part ? NT - 1 - i : i;
      float *p = st + (bh * NT + n) * per + off, u = *p;
      *p = s;
      s = a.decays[bh * NT + n] * s + u;
    }
  }
}

// o += the attention of chunk n (grid z) given its start state (states[n], k_la_carry's)
extern "C" __global__ void __launch_bounds__(128) k_la_out(KaLin a) {
  KSMEM_DYN(float, sm);
  const int m = a.m, mp = m + 1, e0 = blockIdx.y * LA_DVB, n = blockIdx.z, t0 = n * LA_C, L = min(LA_C, a.T - t0);
  const long long bh = blockIdx.x;
  float *Q = sm, *K = Q + LA_C * mp, *V = K + LA_C * mp, *S = V + LA_C * LA_DVB, *A = S + m * LA_DVB;
  float *eb = A + LA_C * (LA_C + 1), *wl = eb + LA_C, *bt = wl + LA_C;
  double *b = (double *)(void *)(bt + LA_C + (LA_C & 1));
  la_rows(a, bh, t0, L, a.q, a.lq, false, m, 0, m, Q, mp);
  la_rows(a, bh, t0, L, a.k, a.lk, false, m, 0, m, K, mp);
  la_rows(a, bh, t0, L, a.v, a.lv, a.v16, a.dv_w, e0, LA_DVB, V, LA_DVB);
  for (int t = threadIdx.x; t < m * LA_DVB; t += blockDim.x) {
    int k = t / LA_DVB, e = t - k * LA_DVB;
    S[t] = e0 + e < a.dv_w ? a.states[la_slot(a, bh, n, k, e0 + e)] : 0.0f;
  }
  la_gates(a, bh, t0, L, b, eb, wl, bt);
  __syncthreads();
  for (int t = threadIdx.x; t < LA_C * LA_C; t += blockDim.x) {  // A = (Q K^T) * M * beta
    int i = t / LA_C, j = t - i * LA_C;
    float s = 0;
    if (i < L && j <= i)
      for (int k = 0; k < m; k++) s += Q[i * mp + k] * K[j * mp + k];
    A[i * (LA_C + 1) + j] = i < L && j < L ? s * la_mask(a, b, i, j) * bt[j] : 0.0f;
  }
  __syncthreads();
  for (int t = threadIdx.x; t < LA_C * LA_DVB; t += blockDim.x) {  // O += e^b Q S + A V
    int i = t / LA_DVB, e = t - i * LA_DVB;
    if (i >= L || e0 + e >= a.dv_w) continue;
    float inter = 0, intra = 0;
    for (int k = 0; k < m; k++) inter += Q[i * mp + k] * S[k * LA_DVB + e];
    for (int j = 0; j <= i; j++) intra += A[i * (LA_C + 1) + j] * V[j * LA_DVB + e];
    a.o[la_at(a, a.lo, bh, la_pos(a, t0 + i), a.dv_w) + e0 + e] += eb[i] * inter + intra;
  }
}

// the gradients of chunk n (grid z) given its start states: S_n (states) and the reverse
// state R_n (rstates); dq, dkb by atomics (the value slices add up), dv per slice
extern "C" __global__ void __launch_bounds__(128) k_la_grad(KaLin a) {
  KSMEM_DYN(float, sm);
  const int m = a.m, mp = m + 1, e0 = blockIdx.y * LA_DVB, CP = LA_C + 1, n = blockIdx.z, t0 = n * LA_C;
  const int L = min(LA_C, a.T - t0);
  const long long bh = blockIdx.x;
  float *Q = sm, *K = Q + LA_C * mp, *V = K + LA_C * mp, *G = V + LA_C * LA_DVB, *R = G + LA_C * LA_DVB;
  float *Sn = R + m * LA_DVB, *P = Sn + m * LA_DVB, *A = P + LA_C * CP, *eb = A + LA_C * CP, *wl = eb + LA_C;
  float *bt = wl + LA_C;
  double *b = (double *)(void *)(bt + LA_C + (LA_C & 1));
  la_rows(a, bh, t0, L, a.q, a.lq, false, m, 0, m, Q, mp);
  la_rows(a, bh, t0, L, a.k, a.lk, false, m, 0, m, K, mp);
  la_rows(a, bh, t0, L, a.v, a.lv, a.v16, a.dv_w, e0, LA_DVB, V, LA_DVB);
  la_rows(a, bh, t0, L, a.dO, a.ldO, a.dO16, a.dv_w, e0, LA_DVB, G, LA_DVB);
  for (int t = threadIdx.x; t < m * LA_DVB; t += blockDim.x) {
    int k = t / LA_DVB, e = t - k * LA_DVB;
    bool in = e0 + e < a.dv_w;
    Sn[t] = in ? a.states[la_slot(a, bh, n, k, e0 + e)] : 0.0f;
    R[t] = in ? a.rstates[la_slot(a, bh, n, k, e0 + e)] : 0.0f;
  }
  la_gates(a, bh, t0, L, b, eb, wl, bt);
  __syncthreads();
  for (int t = threadIdx.x; t < LA_C * LA_C; t += blockDim.x) {  // P = (dO V^T) * M, A = (Q K^T) * M * beta
    int i = t / LA_C, j = t - i * LA_C;
    float p = 0, s = 0, mk = i < L && j < L ? la_mask(a, b, i, j) : 0.0f;
    if (mk != 0) {
      for (int e = 0; e < LA_DVB; e++) p += G[i * LA_DVB + e] * V[j * LA_DVB + e];
      for (int k = 0; k < m; k++) s += Q[i * mp + k] * K[j * mp + k];
    }
    P[i * CP + j] = p * mk;
    A[i * CP + j] = s * mk * bt[j];
  }
  __syncthreads();
  for (int t = threadIdx.x; t < LA_C * m; t += blockDim.x) {  // dQ and dK' rows of this chunk
    int i = t / m, k = t - i * m;
    if (i >= L) continue;
    float dq = 0, dk = 0, x = 0, y = 0;
    for (int j = 0; j < L; j++) {
      dq += P[i * CP + j] * bt[j] * K[j * mp + k];
      dk += P[j * CP + i] * Q[j * mp + k];
    }
    for (int e = 0; e < LA_DVB; e++) {
      x += G[i * LA_DVB + e] * Sn[k * LA_DVB + e];
      y += V[i * LA_DVB + e] * R[k * LA_DVB + e];
    }
    long long p = (bh * a.T + la_pos(a, t0 + i)) * m + k;
    atomicAdd(&a.dq[p], dq + eb[i] * x);
    atomicAdd(&a.dkb[p], dk + wl[i] * y);
  }
  for (int t = threadIdx.x; t < LA_C * LA_DVB; t += blockDim.x) {  // dV rows (exact per column slice)
    int i = t / LA_DVB, e = t - i * LA_DVB;
    if (i >= L || e0 + e >= a.dv_w) continue;
    float s = 0, r = 0;
    for (int j = 0; j < L; j++) s += A[j * CP + i] * G[j * LA_DVB + e];
    for (int k = 0; k < m; k++) r += K[i * mp + k] * R[k * LA_DVB + e];
    a.dv[(bh * a.T + la_pos(a, t0 + i)) * a.dv_w + e0 + e] += s + wl[i] * bt[i] * r;
  }
}

// packed gradient: dq | beta dkb | dv | (dg | dbeta); a warp per position
extern "C" __global__ void k_la_pack(KaLinPack a) {
  const int lane = threadIdx.x & 31, W = 2 * a.m + a.Dv + (a.learned ? 2 : 0);
  const long long rows = a.BH * a.T;
  for (long long r = gtid() >> 5; r < rows; r += gstride() >> 5) {
    float bt = a.beta ? a.beta[r] : 1.0f, qd = 0, kd = 0, kb = 0;
    float *out = a.out + r * W;
    for (int k = lane; k < a.m; k += 32) {
      float dq = a.dq[r * a.m + k], dkb = a.dkb[r * a.m + k], q = a.q[r * a.m + k], kk = a.k[r * a.m + k];
      out[k] = dq;
      out[a.m + k] = bt * dkb;
      qd += q * dq;
      kd += kk * bt * dkb;
      kb += kk * dkb;
    }
    for (int e = lane; e < a.Dv; e += 32) out[2 * a.m + e] = a.dv[r * a.dv_w + e];
    if (!a.learned) continue;
    qd = warp_sum(qd);
    kd = warp_sum(kd);
    kb = warp_sum(kb);
    if (lane == 0) {
      a.scratch[r] = qd - kd;
      out[2 * a.m + a.Dv + 1] = kb;
    }
  }
}

// dg_t = sum_{r >= t} scratch_r per slice (a thread per slice, in f64)
extern "C" __global__ void k_la_scan(KaLinPack a) {
  const int W = 2 * a.m + a.Dv + 2;
  for (long long bh = gtid(); bh < a.BH; bh += gstride()) {
    double acc = 0;
    for (int t = a.T - 1; t >= 0; t--) {
      acc += a.scratch[bh * a.T + t];
      a.out[(bh * a.T + t) * W + 2 * a.m + a.Dv] = (float)acc;
    }
  }
}
