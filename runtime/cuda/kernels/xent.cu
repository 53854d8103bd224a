// xent.cu — cross-entropy fused with the softmax of the logits: the probability matrix is
// never stored (argument block KaXent in kargs.h; semantics of runtime/interp/loss.c).
//   k_xent_rows  one block per row of logits[rows, V]: max, sum of exp, sum of logits, the
//                target's logit -> row_loss[r], row_cnt[r]
//   k_xent_sum   one block: out[0] = sum(row_loss) / max(1, sum(row_cnt)), fixed order;
//                row_cnt[rows] = that count (row_cnt has rows + 1 floats)
//   k_xent_count one block: row_cnt[rows] = max(1, targets != ignore) (cross_entropy_grad
//                without the loss: the count k_xent_sum leaves there otherwise)
//   k_xent_grad  one block per row: dlogits = (softmax - q) * counted * g / count; with row_lse
//                (kept by the forward's k_xent_rows and k_xent_sum) the row's log-sum-exp and
//                the count are read, not computed: one pass over the row instead of three
//   k_xent_rows16, k_xent_grad16  the same over logits (and dlogits) stored as bf16 (the
//                executor's bf16 activations; widened on load, every sum in f32, dlogits
//                rounded to nearest even on store)
// Block size: 256 threads (the launcher's).

KDEV float block_reduce(float v, int is_max, float *sh) {
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = is_max ? warp_max(v) : warp_sum(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  float r = is_max ? -__int_as_float(0x7f800000) : 0.0f;
  for (int i = 0; i < nw; i++) r = is_max ? fmaxf(r, sh[i]) : r + sh[i];
  return r;
}

KDEV float xent_ld(const float *x, long long j) { return x[j]; }
KDEV float xent_ld(const unsigned short *x, long long j) { return from_bf16(x[j]); }

// per row: m = max, lse = m + log(sum exp(x - m)), sx = sum x
template <typename T>
KDEV void row_stats(const T *x, long long V, float *sh, float *m_out, float *lse_out, float *sx_out) {
  float m = -__int_as_float(0x7f800000), z = 0, sx = 0;
  for (long long j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, xent_ld(x, j));
  m = block_reduce(m, 1, sh);
  for (long long j = threadIdx.x; j < V; j += blockDim.x) {
    z += expf(xent_ld(x, j) - m);
    sx += xent_ld(x, j);
  }
  z = block_reduce(z, 0, sh);
  sx = block_reduce(sx, 0, sh);
  *m_out = m;
  *lse_out = m + logf(z);
  *sx_out = sx;
}

template <typename T>
KDEV void xent_rows(const KaXent &a) {
  __shared__ float sh[32];
  for (long long r = blockIdx.x; r < a.rows; r += gridDim.x) {
    const T *x = (const T *)a.logits + r * a.V;
    int t = a.tg[r];
    float m, lse, sx;
    row_stats(x, a.V, sh, &m, &lse, &sx);
    if (threadIdx.x == 0) {
      int counted = t != a.ignore && t >= 0 && t < a.V;
      float nll = counted ? lse - xent_ld(x, t) : 0.0f;
      float smooth = a.smoothing > 0 ? lse - sx / (float)a.V : 0.0f;
      a.row_loss[r] = counted ? (1.0f - a.smoothing) * nll + a.smoothing * smooth : 0.0f;
      a.row_cnt[r] = counted ? 1.0f : 0.0f;
      if (a.row_lse) a.row_lse[r] = lse;
    }
    __syncthreads();
  }
}

extern "C" __global__ void k_xent_rows(KaXent a) { xent_rows<float>(a); }
extern "C" __global__ void k_xent_rows16(KaXent a) { xent_rows<unsigned short>(a); }

extern "C" __global__ void k_xent_sum(KaXent a) {
  __shared__ float sh[32];
  float l = 0, c = 0, ct = 0;
  for (long long r = threadIdx.x; r < a.rows; r += blockDim.x) {
    l += a.row_loss[r];
    c += a.row_cnt[r];
    ct += a.tg[r] != a.ignore ? 1.0f : 0.0f;  // k_xent_count's count, for a kept row_lse
  }
  l = block_reduce(l, 0, sh);
  c = block_reduce(c, 0, sh);
  if (a.row_lse) ct = block_reduce(ct, 0, sh);
  if (threadIdx.x == 0) {
    a.out[0] = c > 0 ? l / c : 0.0f;
    a.row_cnt[a.rows] = c > 1.0f ? c : 1.0f;  // the count k_xent_grad divides by
    if (a.row_lse) a.row_lse[a.rows] = ct > 1.0f ? ct : 1.0f;
  }
}

KDEV void xent_st(float *x, long long j, float v) { x[j] = v; }
KDEV void xent_st(unsigned short *x, long long j, float v) { x[j] = to_bf16(v); }

// row_cnt[rows] = max(1, the targets != ignore): the count cross_entropy_grad divides by
// when the loss was not computed in the same run (one block)
extern "C" __global__ void k_xent_count(KaXent a) {
  __shared__ float sh[32];
  float c = 0;
  for (long long r = threadIdx.x; r < a.rows; r += blockDim.x) c += a.tg[r] != a.ignore ? 1.0f : 0.0f;
  c = block_reduce(c, 0, sh);
  if (threadIdx.x == 0) a.row_cnt[a.rows] = c > 1.0f ? c : 1.0f;
}

// needs the count in row_cnt[rows] (k_xent_sum or k_xent_count), or row_lse (the forward's
// row statistics and count); T: the logits' and dlogits' storage (bf16 both, or f32 both)
template <typename T>
KDEV void xent_grad(const KaXent &a) {
  __shared__ float sh[32];
  const float count = a.row_lse ? a.row_lse[a.rows] : a.row_cnt[a.rows];
  for (long long r = blockIdx.x; r < a.rows; r += gridDim.x) {
    const T *x = (const T *)a.logits + r * a.V;
    T *dx = (T *)a.dlogits + r * a.V;
    int t = a.tg[r];
    float m, lse, sx;
    if (a.row_lse) lse = a.row_lse[r];  // the same row_stats, run by the forward
    else row_stats(x, a.V, sh, &m, &lse, &sx);
    int counted = t != a.ignore;
    float scale = counted ? a.g[0] / count : 0.0f, u = a.smoothing / (float)a.V;
    for (long long j = threadIdx.x; j < a.V; j += blockDim.x) {
      float q = (j == t ? 1.0f - a.smoothing : 0.0f) + u;
      xent_st(dx, j, (expf(xent_ld(x, j) - lse) - q) * scale);
    }
    __syncthreads();
  }
}

extern "C" __global__ void k_xent_grad(KaXent a) { xent_grad<float>(a); }
extern "C" __global__ void k_xent_grad16(KaXent a) { xent_grad<unsigned short>(a); }
