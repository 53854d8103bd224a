// attention_tc.cu — softmax attention on tensor cores: the flash-style forward and backward of
// attention.cu for bf16 q, k, v, o, dO, dq, dk, dv (argument block KaAttn, the same semantics),
// with every product a warp-wide mma.sync.m16n8k16 (bf16 in, f32 accumulate; sm_80 and later:
// the host picks these kernels only there, dexec_attn.c). D (= Dv) is 32 or 64.
//
//   k_fa_fwd_d{32,64}        o, lse                         grid (Sq/64, H, B), 128 threads
//   k_fa_bwd_dq_d{32,64}     dq = scale dS k                grid (Sq/64, H, B), 128 threads
//   k_fa_bwd_dkdv_d{32,64}   dk = scale dS^T q, dv = P^T dO grid (Sk/64, H, B), 128 threads
//   (delta = rowsum(dO o) comes first from attention.cu's k_attn_bwd_pre16 — or, with
//   KaAttn.delta_out, k_fa_bwd_dq computes it from its own rows of dO and o and writes it for
//   k_fa_bwd_dkdv after it: one launch fewer)
// q, k, v, o, dO, dq, dk, dv are read and written where their KaRows say (fa_slice): packed
// [B, H, n, D], or e.g. [B, S, H, D] — the heads' transposes that the executor then skips
// (dexec_attn_io.c) — or a part of a packed gradient.
//
// Each warp owns 16 rows (queries; keys in dkdv) and keeps them as mma A fragments in
// registers; the block walks the other side in tiles of 64 rows staged in shared memory as
// 32-bit words (two bf16), each row padded by 4 words: rows of 80 or 144 bytes, 16-byte
// aligned, and the 8 rows of an 8x8 matrix in distinct banks. The B fragments come from the
// tile by ldmatrix.x4 (fa_ldsm; four 8x8 matrices, the B fragments of two n-blocks): plain for
// the scores (B = the tile's rows transposed, k = feature), .trans for P v, dS k, P^T dO and
// dS^T q (B = the tile, k = row). The tiles are double-buffered: the next tile's rows (k and v in
// fwd and dq, q and dO in dkdv) are copied by cp.async (16-byte copies, when the operands are
// 16-byte aligned) while this one is computed (fa_next_keys, fa_stage_queries). A product's f32 result fragment is the A fragment of the next
// product once rounded to bf16 (the P v and dS k steps), so P and dS never leave registers.
// Online softmax per row as in attention.cu; the rows of a result fragment are spread over a
// quad of lanes (shuffles xor 1, 2).
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"): lane = 4 g + t;
//   A 16x16 (row-major): a[0] = A[g][2t, 2t+1], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..]
//   B 16x8 (k x n):      b[0] = B[2t, 2t+1][g], b[1] = B[2t+8, 2t+9][g]
//   C 16x8 (f32):        c[0..1] = C[g][2t, 2t+1], c[2..3] = C[g+8][2t, 2t+1]
// (two bf16 in a word: the lower index in the low half). tests/cuda/kemu/kemu.h emulates mma
// and ldmatrix with exactly these layouts (and cp.async as a synchronous copy), so the host tests
// run this file as written.

#define FA_ROWS 64 // rows per block (4 warps x 16) and per staged tile

#ifdef KEMU_HOST
#define fa_mma kemu_mma_bf16_16816
#else
// c += A B for one warp
KDEV void fa_mma(float c[4], const unsigned a[4], const unsigned b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();
#endif
}
#endif

// r[i] = this lane's word of 8x8 bf16 matrix i, i < 4 (ldmatrix.sync.aligned.m8n8.x4, PTX ISA
// "Warp-level matrix load instruction: ldmatrix"): lane 8 i + r passes the start of row r of
// matrix i (16 bytes, 16-byte aligned, in shared memory) as a base (fa_saddr) and a word offset;
// lane 4 g + t receives row g, columns 2t, 2t + 1, or with trans (the rows in memory are the
// matrix's columns) rows 2t, 2t + 1 of column g; the lower index in the low half. kemu.h
// emulates it with these layouts. The base is a 32-bit shared-window address on the GPU, found
// once per tile product (cvta), so that each load is an immediate offset from one register.
#ifdef KEMU_HOST
typedef const unsigned *FaSmem;
KDEV FaSmem fa_saddr(const unsigned *p) { return p; }
KDEV void fa_ldsm(unsigned r[4], FaSmem base, int words, bool trans) { kemu_ldmatrix_x4(r, base + words, trans); }
#else
typedef unsigned FaSmem;
KDEV FaSmem fa_saddr(const unsigned *p) {
  unsigned a;
  asm("{ .reg .u64 t;\n cvta.to.shared.u64 t, %1;\n cvt.u32.u64 %0, t; }\n" : "=r"(a) : "l"(p));
  return a;
}
KDEV void fa_ldsm(unsigned r[4], FaSmem base, int words, bool trans) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if (trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(base + 4u * (unsigned)words));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(base + 4u * (unsigned)words));
#else
  __trap();
#endif
}
#endif

// 16 bytes from global to shared memory without passing through registers (cp.async.cg, PTX
// ISA "cp.async"), asynchronous: fa_cp_commit closes this thread's group of copies, and
// fa_cp_wait<N> returns once at most N of its groups are pending ("cp.async.commit_group",
// "cp.async.wait_group"); other threads' copies need a barrier after their waits. Both
// addresses 16-byte aligned. kemu.h copies at once.
#ifdef KEMU_HOST
KDEV void fa_cp16(FaSmem base, int words, const unsigned *src) { kemu_cp_async16((void *)(base + words), src); }
KDEV void fa_cp_commit() { kemu_cp_async_commit(); }
template <int N> KDEV void fa_cp_wait() { kemu_cp_async_wait(N); }
#else
KDEV void fa_cp16(FaSmem base, int words, const unsigned *src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(base + 4u * (unsigned)words), "l"(src) : "memory");
#else
  __trap();
#endif
}
KDEV void fa_cp_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#else
  __trap();
#endif
}
template <int N> KDEV void fa_cp_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#else
  __trap();
#endif
}
#endif

KDEV unsigned fa_pack(float lo, float hi) { return (unsigned)to_bf16(lo) | ((unsigned)to_bf16(hi) << 16); }

// whether key j exists and the key mask keeps it (staged per tile: Ms below)
KDEV bool fa_key_ok(const KaAttn &a, int b, int j) { return j < a.Sk && (!a.mask || a.mask[(long long)b * a.Sk + j] != 0.0f); }
// query i sees key j, given the key's fa_key_ok
KDEV bool fa_sees(const KaAttn &a, bool key_ok, int i, int j) { return key_ok && i < a.Sq && (!a.causal || j <= i + (a.Sk - a.Sq)); }
// whether queries [i0, i0 + ni) all exist and see all keys [j0, j0 + nj) (no key mask): the
// block of scores needs no per-element test (a warp-uniform fast path)
KDEV bool fa_all_see(const KaAttn &a, int i0, int ni, int j0, int nj) {
  return !a.mask && i0 + ni <= a.Sq && j0 + nj <= a.Sk && (!a.causal || j0 + nj - 1 <= i0 + (a.Sk - a.Sq));
}

// exp of a value <= 0 (scores less their row's maximum or log-sum-exp): the fast approximation
// (ex2.approx; the host emulation has expf)
#ifdef KEMU_HOST
#define FA_EXP(x) expf(x)
#else
#define FA_EXP(x) __expf(x)
#endif

// The block's slice (batch blockIdx.z, head blockIdx.y) of a bf16 tensor P of n rows laid out
// as L (KaRows): row r at p + r * w, in 32-bit words (two bf16 each)
struct FaSlice {
  unsigned *p;
  int w;
};
template <int D> KDEV FaSlice fa_slice(const void *P, const KaRows &L, const KaAttn &a, int n) {
  const long long b = blockIdx.z, h = blockIdx.y;
  FaSlice s;
  s.w = L.r ? (int)(L.r / 2) : D / 2;
  s.p = (unsigned *)P + (L.r ? (b * L.b + h * L.h) / 2 : (b * a.H + h) * n * (D / 2));
  return s;
}
// whether every row of s starts 16-byte aligned (cp.async's pieces)
KDEV bool fa_aligned16(const FaSlice &s) { return ((unsigned long long)s.p & 15u) == 0 && (s.w & 3) == 0; }

// rows [r0, r0 + 64) of slice G into S, in 16-byte pieces: by cp.async where G's rows are
// 16-byte aligned (async; else plain loads and stores); rows past n: zero (plain stores). The
// caller commits, waits and syncs.
template <int D>
KDEV void fa_stage_cp(unsigned *S, const FaSlice &G, int r0, int n, bool async) {
  constexpr int WD = D / 2, W = WD + 4, C = WD / 4; // C pieces a row
  const FaSmem Sa = fa_saddr(S);
  for (int x = threadIdx.x; x < FA_ROWS * C; x += blockDim.x) {
    const int r = x / C, c = x - r * C;
    unsigned *d = S + r * W + 4 * c;
    const unsigned *g = G.p + (long long)(r0 + r) * G.w + 4 * c;
    if (r0 + r >= n) d[0] = d[1] = d[2] = d[3] = 0u;
    else if (async) fa_cp16(Sa, r * W + 4 * c, g);
    else d[0] = g[0], d[1] = g[1], d[2] = g[2], d[3] = g[3];
  }
}

// rows r0 + g, r0 + g + 8 of slice G as A fragments f[D/16][4] (rows past n: zero)
template <int D>
KDEV void fa_rows(unsigned f[][4], const FaSlice &G, int r0, int n) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const unsigned *p0 = G.p + (long long)(r0 + g) * G.w, *p1 = p0 + 8 * G.w;
  bool in0 = r0 + g < n, in1 = r0 + g + 8 < n;
  for (int kk = 0; kk < D / 16; kk++) {
    f[kk][0] = in0 ? p0[kk * 8 + t] : 0u;
    f[kk][1] = in1 ? p1[kk * 8 + t] : 0u;
    f[kk][2] = in0 ? p0[kk * 8 + t + 4] : 0u;
    f[kk][3] = in1 ? p1[kk * 8 + t + 4] : 0u;
  }
}

// s[j] (16 x 8 block j of the 16 x 64 result) = A B^T with A = f (16 x D), B = the staged tile's
// rows: the B fragments of k-step kk for blocks 2 jp and 2 jp + 1 are one ldmatrix of the tile's
// rows 16 jp + lane % 8 (+ 8 for lanes 16-31), words 8 kk (+ 4 for lanes 8-15 and 24-31):
// b = r[0..1] for block 2 jp, r[2..3] for 2 jp + 1 (k-steps outermost: fewer registers live)
template <int D>
KDEV void fa_scores(float s[8][4], const unsigned f[][4], const unsigned *S) {
  constexpr int W = D / 2 + 4;
  const int lane = threadIdx.x & 31;
  const FaSmem p = fa_saddr(S + ((lane & 7) + 8 * (lane >> 4)) * W + 4 * ((lane >> 3) & 1));
  KUNROLL for (int j = 0; j < 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
  KUNROLL for (int kk = 0; kk < D / 16; kk++)
    KUNROLL for (int jp = 0; jp < 4; jp++) {
      unsigned r[4];
      fa_ldsm(r, p, 16 * jp * W + 8 * kk, false);
      fa_mma(s[2 * jp], f[kk], r);
      fa_mma(s[2 * jp + 1], f[kk], r + 2);
    }
}

// acc (16 x D) += P T with P = p (16 x 64, f32 fragments, rounded to bf16 here), T = the staged
// tile (k x n = rows x columns): T's fragments for k in [16 kk, 16 kk + 16) and n in [16 h, 16 h +
// 16) are one transposed ldmatrix, lanes 0-15 at rows 16 kk + lane, words 8 h, lanes 16-31 at
// words 8 h + 4: b = r[0..1] for the columns 16 h .. 16 h + 7, r[2..3] for the next 8
template <int D>
KDEV void fa_accum(float acc[][4], const float p[8][4], const unsigned *S) {
  constexpr int W = D / 2 + 4;
  const int lane = threadIdx.x & 31;
  const FaSmem pt = fa_saddr(S + (lane & 15) * W + 4 * (lane >> 4));
  KUNROLL for (int kk = 0; kk < 4; kk++) {
    const unsigned a[4] = {fa_pack(p[2 * kk][0], p[2 * kk][1]), fa_pack(p[2 * kk][2], p[2 * kk][3]),
                           fa_pack(p[2 * kk + 1][0], p[2 * kk + 1][1]), fa_pack(p[2 * kk + 1][2], p[2 * kk + 1][3])};
    KUNROLL for (int h = 0; h < D / 16; h++) {
      unsigned r[4];
      fa_ldsm(r, pt, 16 * kk * W + 8 * h, true);
      fa_mma(acc[2 * h], a, r);
      fa_mma(acc[2 * h + 1], a, r + 2);
    }
  }
}

// rows r0 + g, r0 + g + 8 of the 16 x D fragments acc, times mul, into slice G (its rows: a
// packed tensor's, a packed gradient's part's or [B, S, H, D]'s); rows past n: not stored
template <int D>
KDEV void fa_store(const FaSlice &G, int r0, int n, const float acc[][4], float mul0, float mul1) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  unsigned *p0 = G.p + (long long)(r0 + g) * G.w + t, *p1 = p0 + 8 * G.w;
  for (int n8 = 0; n8 < D / 8; n8++) {
    if (r0 + g < n) p0[4 * n8] = fa_pack(acc[n8][0] * mul0, acc[n8][1] * mul0);
    if (r0 + g + 8 < n) p1[4 * n8] = fa_pack(acc[n8][2] * mul1, acc[n8][3] * mul1);
  }
}

KDEV float fa_quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(KFULL, v, 1));
  return fmaxf(v, __shfl_xor_sync(KFULL, v, 2));
}
KDEV float fa_quad_sum(float v) {
  v += __shfl_xor_sync(KFULL, v, 1);
  return v + __shfl_xor_sync(KFULL, v, 2);
}

// the dot product of the two bf16 pairs in words x and y, in f32
KDEV float fa_dot2(unsigned x, unsigned y) {
  return from_bf16((unsigned short)(x & 0xffffu)) * from_bf16((unsigned short)(y & 0xffffu)) +
         from_bf16((unsigned short)(x >> 16)) * from_bf16((unsigned short)(y >> 16));
}

#define FA_NEG_INF (-__int_as_float(0x7f800000))

// keys [k0, k0 + 64) of slice bh: k and v rows into Ks and Vs (fa_stage_cp: one group of
// copies, committed), whether each exists and the mask keeps it into Ms. The block's previous
// readers of these buffers are done; the caller waits (fa_cp_wait) and syncs before reading them.
template <int D>
KDEV void fa_stage_keys(const KaAttn &a, int k0, unsigned *Ks, unsigned *Vs, bool *Ms, bool async) {
  fa_stage_cp<D>(Ks, fa_slice<D>(a.k, a.lk, a, a.Sk), k0, a.Sk, async);
  fa_stage_cp<D>(Vs, fa_slice<D>(a.v, a.lv, a, a.Sk), k0, a.Sk, async);
  fa_cp_commit();
  if (threadIdx.x < FA_ROWS) Ms[threadIdx.x] = fa_key_ok(a, blockIdx.z, k0 + threadIdx.x);
}

// Key tiles are double-buffered (fa_fwd, fa_bwd_dq): tile k0 is in buffers (k0 / 64) % 2. At its
// start the next tile's copies go to the other buffers (the barrier that ended tile k0 - 64 freed
// them) and tile k0's are awaited, by this thread, then by all (the barrier)
template <int D>
KDEV void fa_next_keys(const KaAttn &a, int k0, int kend, unsigned *Kn, unsigned *Vn, bool *Mn, bool async) {
  if (k0 + FA_ROWS < kend) {
    fa_stage_keys<D>(a, k0 + FA_ROWS, Kn, Vn, Mn, async);
    fa_cp_wait<1>();
  } else {
    fa_cp_wait<0>();
  }
  __syncthreads();
}

// queries [i0, i0 + 64) of slice bh for dkdv: q and dO rows into Qs and Gs (fa_stage_cp: one
// group of copies, committed), their lse and delta into Ls and Dls (plain; rows past Sq: -inf, 0).
// The caller waits (fa_cp_wait) and syncs before reading them.
template <int D>
KDEV void fa_stage_queries(const KaAttn &a, long long bh, int i0, unsigned *Qs, unsigned *Gs, float *Ls, float *Dls,
                           bool async) {
  fa_stage_cp<D>(Qs, fa_slice<D>(a.q, a.lq, a, a.Sq), i0, a.Sq, async);
  fa_stage_cp<D>(Gs, fa_slice<D>(a.dO, a.ldO, a, a.Sq), i0, a.Sq, async);
  fa_cp_commit();
  for (int x = threadIdx.x; x < FA_ROWS; x += blockDim.x) {
    const bool in = i0 + x < a.Sq;
    Ls[x] = in ? a.lse[bh * a.Sq + i0 + x] : FA_NEG_INF;
    Dls[x] = in ? a.delta[bh * a.Sq + i0 + x] : 0.0f;
  }
}

// the end of the keys that the block of queries [q0, q0 + 64) sees
KDEV int fa_key_end(const KaAttn &a, int q0) {
  return a.causal ? min(a.Sk, min(q0 + FA_ROWS, a.Sq) - 1 + (a.Sk - a.Sq) + 1) : a.Sk;
}

template <int D>
KDEV void fa_fwd(const KaAttn &a) {
  constexpr int W = D / 2 + 4;
  // two buffers each (fa_next_keys); 16-byte rows for fa_ldsm and fa_cp16
  alignas(16) __shared__ unsigned Ks[2][FA_ROWS * W], Vs[2][FA_ROWS * W];
  __shared__ bool Ms[2][FA_ROWS];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int b = blockIdx.z, q0 = blockIdx.x * FA_ROWS, qw = q0 + 16 * w;
  const long long bh = (long long)b * a.H + blockIdx.y;
  unsigned qf[D / 16][4];
  fa_rows<D>(qf, fa_slice<D>(a.q, a.lq, a, a.Sq), qw, a.Sq);
  float acc[D / 8][4], m[2] = {FA_NEG_INF, FA_NEG_INF}, l[2] = {0.0f, 0.0f};
  for (int n = 0; n < D / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
  const int kend = fa_key_end(a, q0);
  const bool async = fa_aligned16(fa_slice<D>(a.k, a.lk, a, a.Sk)) && fa_aligned16(fa_slice<D>(a.v, a.lv, a, a.Sk));
  if (kend > 0) fa_stage_keys<D>(a, 0, Ks[0], Vs[0], Ms[0], async);
  for (int k0 = 0; k0 < kend; k0 += FA_ROWS) {
    const int cur = (k0 / FA_ROWS) & 1;
    fa_next_keys<D>(a, k0, kend, Ks[cur ^ 1], Vs[cur ^ 1], Ms[cur ^ 1], async);
    float s[8][4], mx[2] = {FA_NEG_INF, FA_NEG_INF};
    fa_scores<D>(s, qf, Ks[cur]);
    const bool all = fa_all_see(a, qw, 16, k0, FA_ROWS);
    for (int j = 0; j < 8; j++)
      for (int c = 0; c < 4; c++) {
        int jj = 8 * j + 2 * t + (c & 1);
        bool vis = all || fa_sees(a, Ms[cur][jj], qw + g + 8 * (c >> 1), k0 + jj);
        s[j][c] = vis ? s[j][c] * a.scale : FA_NEG_INF;
        mx[c >> 1] = fmaxf(mx[c >> 1], s[j][c]);
      }
    float base[2];
    KUNROLL for (int r = 0; r < 2; r++) {
      float mn = fmaxf(m[r], fa_quad_max(mx[r]));
      float corr = m[r] == FA_NEG_INF ? 0.0f : FA_EXP(m[r] - mn); // nothing seen yet: acc and l are 0
      base[r] = mn == FA_NEG_INF ? 0.0f : mn;                    // nothing visible: every p is exp(-inf) = 0
      m[r] = mn, l[r] *= corr;
      for (int n = 0; n < D / 8; n++) acc[n][2 * r] *= corr, acc[n][2 * r + 1] *= corr;
    }
    for (int j = 0; j < 8; j++)
      for (int c = 0; c < 4; c++) {
        s[j][c] = FA_EXP(s[j][c] - base[c >> 1]);
        l[c >> 1] += s[j][c];
      }
    fa_accum<D>(acc, s, Vs[cur]);
    __syncthreads(); // every warp done with tile k0's buffers: tile k0 + 128 takes them
  }
  KUNROLL for (int r = 0; r < 2; r++) l[r] = fa_quad_sum(l[r]);
  fa_store<D>(fa_slice<D>(a.o, a.lo, a, a.Sq), qw, a.Sq, acc, l[0] > 0 ? 1.0f / l[0] : 0.0f, l[1] > 0 ? 1.0f / l[1] : 0.0f);
  KUNROLL for (int r = 0; r < 2; r++) {
    int i = qw + g + 8 * r;
    if (a.lse && t == 0 && i < a.Sq) a.lse[bh * a.Sq + i] = l[r] > 0 ? m[r] + logf(l[r]) : FA_NEG_INF;
  }
}

extern "C" __global__ void __launch_bounds__(128) k_fa_fwd_d32(KaAttn a) { fa_fwd<32>(a); }
// (128, 4): 4 blocks an SM, i.e. at most 128 registers, which it fits without spilling (ptxas
// took 130 with the ldmatrix loads before cp.async; test_cuda_nvrtc checks for spills)
extern "C" __global__ void __launch_bounds__(128, 4) k_fa_fwd_d64(KaAttn a) { fa_fwd<64>(a); }

// P = exp(scale s - lse) on visible pairs (0 elsewhere) into s; dS = P (dP - delta) into dp.
// Element c of block j is row (query) i(j, c) and column (key) k(j, c) of the caller's tiles.
// ALL: every pair visible (fa_all_see; then every lse is finite)
#define FA_DS(ALL, KEY_OK, QI, KJ, LSE, DL)                                                     \
  for (int j = 0; j < 8; j++)                                                                   \
    for (int c = 0; c < 4; c++) {                                                               \
      float lse_ = (LSE), p = 0.0f;                                                             \
      if ((ALL) || (lse_ != FA_NEG_INF && fa_sees(a, (KEY_OK), (QI), (KJ)))) p = FA_EXP(s[j][c] * a.scale - lse_); \
      s[j][c] = p;                                                                              \
      dp[j][c] = p * (dp[j][c] - (DL));                                                         \
    }

template <int D>
KDEV void fa_bwd_dq(const KaAttn &a) {
  constexpr int W = D / 2 + 4;
  // two buffers each (fa_next_keys); 16-byte rows for fa_ldsm and fa_cp16
  alignas(16) __shared__ unsigned Ks[2][FA_ROWS * W], Vs[2][FA_ROWS * W];
  __shared__ bool Ms[2][FA_ROWS];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int b = blockIdx.z, q0 = blockIdx.x * FA_ROWS, qw = q0 + 16 * w;
  const long long bh = (long long)b * a.H + blockIdx.y;
  unsigned qf[D / 16][4], gf[D / 16][4];
  fa_rows<D>(qf, fa_slice<D>(a.q, a.lq, a, a.Sq), qw, a.Sq);
  fa_rows<D>(gf, fa_slice<D>(a.dO, a.ldO, a, a.Sq), qw, a.Sq);
  float lse[2], dl[2], acc[D / 8][4];
  if (a.delta_out) { // delta = rowsum(dO o) of this warp's rows: o as A fragments beside dO's
    unsigned of[D / 16][4];
    fa_rows<D>(of, fa_slice<D>(a.o, a.lo, a, a.Sq), qw, a.Sq);
    dl[0] = dl[1] = 0.0f;
    KUNROLL for (int kk = 0; kk < D / 16; kk++) {
      dl[0] += fa_dot2(of[kk][0], gf[kk][0]) + fa_dot2(of[kk][2], gf[kk][2]); // row g
      dl[1] += fa_dot2(of[kk][1], gf[kk][1]) + fa_dot2(of[kk][3], gf[kk][3]); // row g + 8
    }
    dl[0] = fa_quad_sum(dl[0]), dl[1] = fa_quad_sum(dl[1]);
  }
  KUNROLL for (int r = 0; r < 2; r++) {
    int i = qw + g + 8 * r;
    lse[r] = i < a.Sq ? a.lse[bh * a.Sq + i] : FA_NEG_INF;
    if (!a.delta_out) dl[r] = i < a.Sq ? a.delta[bh * a.Sq + i] : 0.0f;
    else if (t == 0 && i < a.Sq) a.delta[bh * a.Sq + i] = dl[r]; // for k_fa_bwd_dkdv
  }
  for (int n = 0; n < D / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
  const int kend = fa_key_end(a, q0);
  const bool async = fa_aligned16(fa_slice<D>(a.k, a.lk, a, a.Sk)) && fa_aligned16(fa_slice<D>(a.v, a.lv, a, a.Sk));
  if (kend > 0) fa_stage_keys<D>(a, 0, Ks[0], Vs[0], Ms[0], async);
  for (int k0 = 0; k0 < kend; k0 += FA_ROWS) {
    const int cur = (k0 / FA_ROWS) & 1;
    fa_next_keys<D>(a, k0, kend, Ks[cur ^ 1], Vs[cur ^ 1], Ms[cur ^ 1], async);
    float s[8][4], dp[8][4];
    fa_scores<D>(s, qf, Ks[cur]);
    fa_scores<D>(dp, gf, Vs[cur]);
    const bool all = fa_all_see(a, qw, 16, k0, FA_ROWS);
    FA_DS(all, Ms[cur][8 * j + 2 * t + (c & 1)], qw + g + 8 * (c >> 1), k0 + 8 * j + 2 * t + (c & 1), lse[c >> 1],
          dl[c >> 1])
    fa_accum<D>(acc, dp, Ks[cur]);
    __syncthreads(); // every warp done with tile k0's buffers: tile k0 + 128 takes them
  }
  fa_store<D>(fa_slice<D>(a.dq, a.ldq, a, a.Sq), qw, a.Sq, acc, a.scale, a.scale);
}

extern "C" __global__ void __launch_bounds__(128) k_fa_bwd_dq_d32(KaAttn a) { fa_bwd_dq<32>(a); }
extern "C" __global__ void __launch_bounds__(128) k_fa_bwd_dq_d64(KaAttn a) { fa_bwd_dq<64>(a); }

// the transposed view: each warp's 16 keys are the A rows; S^T = k q^T and dP^T = v dO^T over a
// tile of 64 queries; dv += P^T dO, dk += dS^T q
template <int D>
KDEV void fa_bwd_dkdv(const KaAttn &a) {
  constexpr int W = D / 2 + 4;
  // two buffers each, as fa_fwd's keys: the next query tile's q and dO rows by cp.async
  alignas(16) __shared__ unsigned Qs[2][FA_ROWS * W], Gs[2][FA_ROWS * W];
  __shared__ float Ls[2][FA_ROWS], Dls[2][FA_ROWS];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int b = blockIdx.z, k0 = blockIdx.x * FA_ROWS, kw = k0 + 16 * w;
  const long long bh = (long long)b * a.H + blockIdx.y;
  unsigned kf[D / 16][4], vf[D / 16][4];
  fa_rows<D>(kf, fa_slice<D>(a.k, a.lk, a, a.Sk), kw, a.Sk);
  fa_rows<D>(vf, fa_slice<D>(a.v, a.lv, a, a.Sk), kw, a.Sk);
  const bool kok[2] = {fa_key_ok(a, b, kw + g), fa_key_ok(a, b, kw + g + 8)};
  float dk[D / 8][4], dv[D / 8][4];
  for (int n = 0; n < D / 8; n++)
    for (int c = 0; c < 4; c++) dk[n][c] = dv[n][c] = 0.0f;
  const int istart = a.causal ? max(0, k0 - (a.Sk - a.Sq)) : 0;
  const bool async = fa_aligned16(fa_slice<D>(a.q, a.lq, a, a.Sq)) && fa_aligned16(fa_slice<D>(a.dO, a.ldO, a, a.Sq));
  if (istart < a.Sq) fa_stage_queries<D>(a, bh, istart, Qs[0], Gs[0], Ls[0], Dls[0], async);
  for (int i0 = istart; i0 < a.Sq; i0 += FA_ROWS) {
    const int cur = ((i0 - istart) / FA_ROWS) & 1;
    if (i0 + FA_ROWS < a.Sq) { // the next tile into the other buffers (freed by the last barrier)
      fa_stage_queries<D>(a, bh, i0 + FA_ROWS, Qs[cur ^ 1], Gs[cur ^ 1], Ls[cur ^ 1], Dls[cur ^ 1], async);
      fa_cp_wait<1>();
    } else {
      fa_cp_wait<0>();
    }
    __syncthreads();
    float s[8][4], dp[8][4];
    fa_scores<D>(s, kf, Qs[cur]);
    fa_scores<D>(dp, vf, Gs[cur]);
    const bool all = fa_all_see(a, i0, FA_ROWS, kw, 16);
    FA_DS(all, kok[c >> 1], i0 + 8 * j + 2 * t + (c & 1), kw + g + 8 * (c >> 1), Ls[cur][8 * j + 2 * t + (c & 1)],
          Dls[cur][8 * j + 2 * t + (c & 1)])
    fa_accum<D>(dv, s, Gs[cur]);
    fa_accum<D>(dk, dp, Qs[cur]);
    __syncthreads(); // every warp done with tile i0's buffers: tile i0 + 128 takes them
  }
  fa_store<D>(fa_slice<D>(a.dk, a.ldk, a, a.Sk), kw, a.Sk, dk, a.scale, a.scale);
  fa_store<D>(fa_slice<D>(a.dv, a.ldv, a, a.Sk), kw, a.Sk, dv, 1.0f, 1.0f);
}

extern "C" __global__ void __launch_bounds__(128) k_fa_bwd_dkdv_d32(KaAttn a) { fa_bwd_dkdv<32>(a); }
extern "C" __global__ void __launch_bounds__(128) k_fa_bwd_dkdv_d64(KaAttn a) { fa_bwd_dkdv<64>(a); }
