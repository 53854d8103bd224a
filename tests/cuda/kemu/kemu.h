// kemu.h — the CUDA built-ins the hand-written kernels use (runtime/cuda/kernels/*.cu), for
// compiling their source as host C++ and running it in kemu.cc's block emulator: each CUDA
// thread of a block is a fiber; __syncthreads and the warp-synchronous calls (shuffles,
// __any_sync) switch fibers, so the kernels' shared memory, barriers and warp exchanges run
// as written. Only tests include this (tests/cuda/kemu_*.cc); see kemu_api.h.
#ifndef MAMC_KEMU_H
#define MAMC_KEMU_H

#include <math.h> // expf, logf, fmaxf, sqrtf: the global C functions, as in device code
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define __CUDACC_RTC__ 1 // kargs.h: typed pointers, no includes
#define KEMU_HOST 1      // attention_tc.cu, linattn_tc.cu: their mma.sync and cvt are the kemu_ functions below
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static // blocks run one after another: one copy per block (see kemu.cc)
#define KSMEM_DYN(T, name) T *name = (T *)kemu_dyn_smem()

struct uint3 {
  unsigned x, y, z;
};
struct uint4 {
  unsigned x, y, z, w;
};
typedef uint3 dim3;
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

void *kemu_dyn_smem();
void kemu_syncthreads();
uint64_t kemu_warp_exchange(uint64_t bits, int kind, int arg, unsigned mask); // kind: 0 xor, 1 idx, 2 up, 3 any

static inline void __syncthreads() { kemu_syncthreads(); }
static inline void __threadfence() {} // blocks run one after another: every store is seen

template <typename T> static inline T kemu_shfl(unsigned mask, T v, int kind, int arg) {
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof v);
  b = kemu_warp_exchange(b, kind, arg, mask);
  T r;
  std::memcpy(&r, &b, sizeof r);
  return r;
}
template <typename T> static inline T __shfl_xor_sync(unsigned m, T v, int lane_mask) { return kemu_shfl(m, v, 0, lane_mask); }
template <typename T> static inline T __shfl_sync(unsigned m, T v, int src) { return kemu_shfl(m, v, 1, src); }
template <typename T> static inline T __shfl_up_sync(unsigned m, T v, unsigned d) { return kemu_shfl(m, v, 2, (int)d); }
static inline int __any_sync(unsigned m, int pred) { return (int)kemu_warp_exchange(pred != 0, 3, 0, m); }

// fibers switch only at the calls above: an atomic is a plain read-modify-write
template <typename T> static inline T atomicAdd(T *p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <typename T> static inline T atomicMax(T *p, T v) {
  T old = *p;
  if (old < v) *p = v;
  return old;
}

static inline double __longlong_as_double(long long i) {
  double d;
  std::memcpy(&d, &i, 8);
  return d;
}
// truncating conversions, saturating, NaN -> 0 (the PTX cvt.rzi semantics)
static inline int __float2int_rz(float x) { return x != x ? 0 : x >= 2147483647.0f ? 2147483647 : x <= -2147483648.0f ? (-2147483647 - 1) : (int)x; }
static inline int __double2int_rz(double x) { return x != x ? 0 : x >= 2147483647.0 ? 2147483647 : x <= -2147483648.0 ? (-2147483647 - 1) : (int)x; }
static inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
static inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
template <typename T> static inline T min(T a, T b) { return b < a ? b : a; }
template <typename T> static inline T max(T a, T b) { return a < b ? b : a; }

// ---- ldmatrix, cp.async (attention_tc.cu's B fragments and tile staging) -------------------------
// ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16 for the calling warp, as the PTX ISA says
// (section "Warp-level matrix load instruction: ldmatrix": its table of addresses by .num and
// Figure "ldmatrix fragment layout for one 8x8 Matrix with 16-bit elements"): four 8x8 matrices
// of 16-bit elements; lane 8 i + r passes the address of row r of matrix i (16 bytes, 16-byte
// aligned); lane 4 g + t receives in r[i] matrix i's row g, elements 2t and 2t + 1 (the word at
// byte 4t of that row), or with trans (the matrix read column-major) elements (row 2t, column g)
// and (row 2t + 1, column g); the lower index in the low half. Real uses agree: a B 16x8 (k x n)
// fragment pair stored k-major is one .x4.trans with lanes 0-15 at k rows 0-15 of column n0 and
// lanes 16-31 at column n0 + 8 (r[0..1], r[2..3]: the two b[0..1]). Every lane posts its row
// address, the warp meets, each lane gathers its words, and the warp meets again before a lane
// may post the next call's.
static inline void kemu_ldmatrix_x4(unsigned r[4], const void *row_ptr, bool trans) {
  static const unsigned char *post[1024];
  static bool post_trans[1024];
  const int tid = (int)threadIdx.x, w0 = tid & ~31, lane = tid & 31, g = lane >> 2, t = lane & 3;
  if ((uintptr_t)row_ptr & 15) {
    fprintf(stderr, "kemu: ldmatrix: thread %d: row address %p is not 16-byte aligned\n", tid, row_ptr);
    abort();
  }
  post[tid] = (const unsigned char *)row_ptr, post_trans[tid] = trans;
  kemu_warp_exchange(0, 1, 0, 0xffffffffu);
  for (int l = 0; l < 32; l++)
    if (post_trans[w0 + l] != trans) {
      fprintf(stderr, "kemu: ldmatrix: thread %d: lanes of a warp disagree on .trans\n", tid);
      abort();
    }
  for (int i = 0; i < 4; i++) {
    const unsigned char *const *row = &post[w0 + 8 * i];
    if (!trans) {
      std::memcpy(&r[i], row[g] + 4 * t, 4);
    } else {
      uint16_t lo, hi;
      std::memcpy(&lo, row[2 * t] + 2 * g, 2);
      std::memcpy(&hi, row[2 * t + 1] + 2 * g, 2);
      r[i] = (unsigned)lo | (unsigned)hi << 16;
    }
  }
  kemu_warp_exchange(0, 1, 0, 0xffffffffu);
}
// cp.async.cg.shared.global [dst], [src], 16 (attention_tc.cu's tile staging): here a synchronous
// 16-byte copy, so commit_group and wait_group have nothing to do. Not caught, then: a missing
// wait_group; nor, in attention_tc.cu (its warps meet at every mma, so run in step here), a
// missing barrier before a buffer is refilled (tried: the checks pass without it). Both
// addresses must be 16-byte aligned, as on the GPU.
static inline void kemu_cp_async16(void *dst, const void *src) {
  if (((uintptr_t)dst | (uintptr_t)src) & 15) {
    fprintf(stderr, "kemu: cp.async: thread %u: %p <- %p not 16-byte aligned\n", threadIdx.x, dst, src);
    abort();
  }
  std::memcpy(dst, src, 16);
}
static inline void kemu_cp_async_commit() {}
static inline void kemu_cp_async_wait(int) {}
// __launch_bounds__ with a minimum of blocks per SM too (attention_tc.cu's k_fa_fwd_d64)
#undef __launch_bounds__
#define __launch_bounds__(...)
// ---- end ldmatrix, cp.async ---------------------------------------------------------------------

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 for the calling warp, c += A B, with the
// PTX ISA's fragment layouts (lane = 4 g + t; attention_tc.cu's header lists them): every lane
// posts its A and B words, the warp meets, each lane computes its four results from all the
// posts (products exact in f32, summed in k order), and the warp meets again before a lane may
// post the next product's words.
struct KemuMmaPost {
  unsigned a[4], b[2];
};
// one warp-wide mma (the layouts: the caller's dot): every lane posts its A and B words, the
// warp meets, each of the lane's four results is dot(the warp's posts, row, column, c) (lane =
// 4 g + t: rows g, g + 8, columns 2t, 2t + 1), and the warp meets again
template <typename Dot> static inline void kemu_mma_warp(float c[4], const unsigned a[4], const unsigned b[2], Dot dot) {
  static KemuMmaPost post[1024];
  const int tid = (int)threadIdx.x, w0 = tid & ~31, lane = tid & 31, g = lane >> 2, t = lane & 3;
  std::memcpy(post[tid].a, a, sizeof post[tid].a);
  std::memcpy(post[tid].b, b, sizeof post[tid].b);
  kemu_warp_exchange(0, 1, 0, 0xffffffffu);
  for (int r = 0; r < 2; r++)
    for (int cc = 0; cc < 2; cc++) c[2 * r + cc] = dot(post + w0, g + 8 * r, 2 * t + cc, c[2 * r + cc]);
  kemu_warp_exchange(0, 1, 0, 0xffffffffu);
}
static inline float kemu_bf16_at(unsigned word, int half) { return __uint_as_float((word >> (16 * half)) << 16); }
static inline void kemu_mma_bf16_16816(float c[4], const unsigned a[4], const unsigned b[2]) {
  kemu_mma_warp(c, a, b, [](const KemuMmaPost *p, int row, int col, float acc) {
    for (int k = 0; k < 16; k++) {
      const KemuMmaPost &pa = p[(row & 7) * 4 + ((k & 7) >> 1)], &pb = p[col * 4 + ((k & 7) >> 1)];
      acc += kemu_bf16_at(pa.a[(row >> 3) + 2 * (k >> 3)], k & 1) * kemu_bf16_at(pb.b[k >> 3], k & 1);
    }
    return acc;
  });
}

// TF32 (linattn_tc.cu's products): cvt.rna.tf32.f32 — round the f32 to 10 mantissa bits, to
// nearest with ties away from zero, the low 13 bits of the result zero; NaN stays NaN
static inline unsigned kemu_cvt_tf32(float x) {
  unsigned u = __float_as_uint(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffffffu;
  return (u + 0x1000u) & 0xffffe000u;
}
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 for the calling warp, c += A B, with the PTX
// ISA's fragment layouts ("Matrix Fragments for mma.m16n8k8", .tf32; lane = 4 g + t):
//   A 16x8: a[0] = A[g][t], a[1] = A[g+8][t], a[2] = A[g][t+4], a[3] = A[g+8][t+4]
//   B 8x8:  b[0] = B[t][g], b[1] = B[t+4][g]
//   C 16x8: c[0..1] = C[g][2t, 2t+1], c[2..3] = C[g+8][2t, 2t+1]
// The tensor cores read only a tf32 operand's upper 19 bits: so does this (a kernel that passes
// raw f32 words loses their low mantissa bits here too). Products exact, summed in k order.
static inline void kemu_mma_tf32_1688(float c[4], const unsigned a[4], const unsigned b[2]) {
  kemu_mma_warp(c, a, b, [](const KemuMmaPost *p, int row, int col, float acc) {
    for (int k = 0; k < 8; k++) {
      unsigned x = p[(row & 7) * 4 + (k & 3)].a[(row >> 3) + 2 * (k >> 2)], y = p[col * 4 + (k & 3)].b[k >> 2];
      acc += __uint_as_float(x & 0xffffe000u) * __uint_as_float(y & 0xffffe000u);
    }
    return acc;
  });
}

// One table per kernel module (kemu_<module>.cc): name -> a call with the argument block
typedef struct KemuKernel {
  const char *name;
  void (*run)(const void *args);
} KemuKernel;
// Runs k (kemu_api.h's kemu_launch without the lookup: kemu_self.cc's kernels)
int kemu_run(const KemuKernel *k, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem, const void *args,
             char *err, size_t errlen);
#define KEMU_K(ns, name, Ka) {#name, [](const void *a) { ns::name(*(const ns::Ka *)a); }}

#endif
