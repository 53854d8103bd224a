// common.cuh — helpers every hand-written kernel source starts with (runtime/cuda/kmod.c puts
// kargs.h and this file in front of each kernel file; NVRTC gets no include path, so nothing
// here includes a header). Warp reductions, bf16 rounding, grid-stride loops.
#define KDEV static __device__ __forceinline__
#define KFULL 0xffffffffu
#ifdef KEMU_HOST // (the host compiler has no use for it)
#define KUNROLL
#else
#define KUNROLL _Pragma("unroll") // a loop whose arrays must stay in registers
#endif
#ifndef KSMEM_DYN // dynamic shared memory (tests/cuda/kemu runs these kernels on the host: a buffer there)
#define KSMEM_DYN(T, name) extern __shared__ T name[]
#endif

KDEV float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(KFULL, v, o);
  return v;
}
KDEV double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(KFULL, v, o);
  return v;
}
KDEV float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(KFULL, v, o));
  return v;
}
// f32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN (sm_80+: one cvt, whose NaN
// is the canonical one)
KDEV unsigned short to_bf16(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  unsigned short h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
#endif
}
KDEV float from_bf16(unsigned short b) { return __uint_as_float((unsigned int)b << 16); }
KDEV long long gtid() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
KDEV long long gstride() { return (long long)gridDim.x * blockDim.x; }
