// move.cu — data movement and small vector kernels (argument blocks: kargs.h):
//   k_copy_nd     strided n-d copy: transpose, slice, expand (src strides), pad, concat (dst strides)
//   k_gather      rows of a table by i32 ids       k_scatter_*    rows added back (deterministic: below)
//   k_axpy k_fill k_to_bf16                        vectors; k_axpy_n: k_axpy over many vectors
//   k_copy_nd16   k_copy_nd over 2-byte elements (bf16 activations: strides and offsets in elements)
//   k_copy_nd_v16 k_copy_nd over 16-byte elements (the host's vectorised form of a copy whose
//                 innermost axis is contiguous on both sides: dexec_ops.c, dx_copy_launch)
//   k_copy_cvt    k_copy_nd converting f32 -> bf16 (cvt 1, nearest even) or bf16 -> f32 (cvt 2)
// Elements are 4 bytes (f32 or i32: the copies move bits) unless named 16. One thread per element,
// grid-stride.

// the source and destination element offsets of the copy's i-th element (row-major over ext);
// I: the index arithmetic's type (unsigned where the copy has fewer than 2^31 elements: a
// 64-bit division is a long software routine on the GPU)
template <typename I>
KDEV void nd_offsets(const KaCopy &a, I i, long long *so, long long *d) {
  *so = a.src_off;
  *d = a.dst_off;
  for (int ax = a.rank - 1; ax > 0; ax--) {
    I e = (I)a.ext[ax], x = i % e;
    i /= e;
    *so += (long long)x * a.src_st[ax];
    *d += (long long)x * a.dst_st[ax];
  }
  if (a.rank > 0) *so += (long long)i * a.src_st[0], *d += (long long)i * a.dst_st[0];
}

// copy element i of the copy (f: the element's move, given its source and destination offsets)
template <typename F>
KDEV void copy_each(const KaCopy &a, F f) {
  for (long long i = gtid(); i < a.n; i += gstride()) {
    long long so, d;
    if (a.n <= 0x7fffffffLL) nd_offsets<unsigned>(a, (unsigned)i, &so, &d);
    else nd_offsets<long long>(a, i, &so, &d);
    f(so, d);
  }
}

// the copy over elements of T's size (the bits move unchanged)
template <typename T>
KDEV void copy_nd(const KaCopy &a) {
  const T *src = (const T *)a.src;
  T *dst = (T *)a.dst;
  copy_each(a, [&](long long so, long long d) { dst[d] = src[so]; });
}

extern "C" __global__ void k_copy_nd(KaCopy a) { copy_nd<unsigned int>(a); }
extern "C" __global__ void k_copy_nd16(KaCopy a) { copy_nd<unsigned short>(a); }
extern "C" __global__ void k_copy_nd_v16(KaCopy a) { copy_nd<uint4>(a); }

extern "C" __global__ void k_copy_cvt(KaCopy a) {
  copy_each(a, [&](long long so, long long d) {
    if (a.cvt == 1) ((unsigned short *)a.dst)[d] = to_bf16(((const float *)a.src)[so]);
    else ((float *)a.dst)[d] = from_bf16(((const unsigned short *)a.src)[so]);
  });
}

extern "C" __global__ void k_gather(KaGather a) {
  long long n = a.nids * a.row;
  for (long long i = gtid(); i < n; i += gstride()) {
    long long r = i / a.row, c = i - r * a.row;
    int id = a.ids[r];
    a.out[i] = id >= 0 && id < a.V ? a.table[(long long)id * a.row + c] : 0.0f;
  }
}

// Scatter-add, deterministic (an embedding's gradient: out[ids[r], :] += src[r, :]). f32 atomics
// would sum each row in whatever order the threads land, so two runs of one step could differ in
// the last bits; here each finite value is added as a 64-bit integer, x 2^s rounded, and integer
// addition is associative: the result is the same bits for any order, on any GPU, and equals
// kref.c's host loop. Three launches over one argument block:
//   k_scatter_max  mx = the largest finite |src| (as bits: non-negative floats order as unsigned ints)
//   k_scatter_add  acc[id, c] += llrint(x 2^s), s = 62 - e - lgn where mx < 2^e and nids <= 2^lgn, so
//                  no partial sum can overflow; a non-finite x is added to out itself (zeroed;
//                  sums of infinities and NaNs do not depend on order either)
//   k_scatter_fin  out = acc 2^-s where out is still 0 (no non-finite value reached it)
// The quantum 2^-s = 2^(e + lgn - 62) is below 4 mx nids 2^-62 (mx >= 2^(e-1), 2^lgn < 2 nids), so a
// sum of at most nids values is off by less than nids^2 mx 2^-61 (1.9e-9 mx at nids = 65536) before
// its one rounding to f32.
KDEV int scatter_shift(unsigned mx, long long lgn) {
  float m = __uint_as_float(mx);
  int e = 0;
  if (m > 0.0f) frexpf(m, &e); /* m < 2^e */
  return 62 - e - (int)lgn;
}

extern "C" __global__ void k_scatter_max(KaGather a) {
  long long n = a.nids * a.row;
  unsigned m = 0;
  for (long long i = gtid(); i < n; i += gstride()) {
    float x = a.src[i];
    if (isfinite(x)) m = max(m, __float_as_uint(fabsf(x)));
  }
  for (int o = 16; o > 0; o >>= 1) m = max(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((threadIdx.x & 31) == 0 && m) atomicMax(a.mx, m);
}

extern "C" __global__ void k_scatter_add(KaGather a) {
  const int s = scatter_shift(*a.mx, a.lgn);
  long long n = a.nids * a.row;
  for (long long i = gtid(); i < n; i += gstride()) {
    long long r = i / a.row, c = i - r * a.row;
    int id = a.ids[r];
    if (id < 0 || id >= a.V) continue;
    float x = a.src[i];
    long long o = (long long)id * a.row + c;
    if (isfinite(x)) atomicAdd(&a.acc[o], (unsigned long long)llrint(ldexp((double)x, s)));
    else atomicAdd(&a.out[o], x);
  }
}

extern "C" __global__ void k_scatter_fin(KaGather a) {
  const int s = scatter_shift(*a.mx, a.lgn);
  long long n = a.V * a.row;
  for (long long i = gtid(); i < n; i += gstride())
    if (a.out[i] == 0.0f) a.out[i] = (float)ldexp((double)(long long)a.acc[i], -s);
}

extern "C" __global__ void k_axpy(KaVec a) {
  float s = a.a_dev ? a.a * a.a_dev[0] : a.a;
  for (long long i = gtid(); i < a.n; i += gstride()) a.y[i] += s * a.x[i];
}

extern "C" __global__ void k_axpy_n(KaAxpyN a) {
  const int j = blockIdx.y;
  if (j >= a.count) return;
  float s = a.a_dev ? a.a * a.a_dev[0] : a.a, *y = a.y[j];
  const float *x = a.x[j];
  for (long long i = gtid(); i < a.n[j]; i += gstride()) y[i] += s * x[i];
}

extern "C" __global__ void k_fill(KaVec a) {
  for (long long i = gtid(); i < a.n; i += gstride()) a.y[i] = a.a;
}

extern "C" __global__ void k_to_bf16(KaVec a) {
  for (long long i = gtid(); i < a.n; i += gstride()) a.yb[i] = to_bf16(a.x[i]);
}
