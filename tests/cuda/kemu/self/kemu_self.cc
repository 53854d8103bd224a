// kemu_self.cc — test_kemu_self: the block emulator (kemu.cc) on kernels written here to
// succeed or to break: a block reduction through shared memory and warp shuffles must give
// the exact sum on every block; a __syncthreads that only some threads reach, and a shuffle
// after lanes of the warp returned, must be reported, not run.
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "kemu.h"

namespace self {
struct Args {
  const float *x;
  float *out;
  int n;
};
static float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// out[block] = sum of x[block * n .. + n): per thread strided sums, warps by shuffles, then the
// warps' partial sums in shared memory
static void k_sum(Args a) {
  __shared__ float part[32];
  float v = 0;
  for (int i = threadIdx.x; i < a.n; i += blockDim.x) v += a.x[blockIdx.x * a.n + i];
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; w++) s += part[w];
    a.out[blockIdx.x] = s;
  }
}
static void k_divergent_barrier(Args a) {
  if (threadIdx.x < 16) __syncthreads();
  else a.out[0] = warp_sum(1.0f); // warp 0's lanes 16-31 wait for lanes stuck at the barrier
}
static void k_exited_lanes(Args a) {
  if (threadIdx.x % 32 >= 8) return;
  a.out[threadIdx.x] = warp_sum(1.0f);
}
static void k_inclusive_scan(Args a) { // __shfl_up_sync: prefix sums of 0..31 per warp
  float v = (float)(threadIdx.x % 32);
  for (int o = 1; o < 32; o <<= 1) {
    float y = __shfl_up_sync(0xffffffffu, v, o);
    if ((int)(threadIdx.x % 32) >= o) v += y;
  }
  a.out[threadIdx.x] = v;
}
} // namespace self

static const KemuKernel ks[] = {KEMU_K(self, k_sum, Args), KEMU_K(self, k_divergent_barrier, Args),
                                KEMU_K(self, k_exited_lanes, Args), KEMU_K(self, k_inclusive_scan, Args)};

int main() {
  int fails = 0;
  char err[400];
  static float x[7 * 1000], out[256];
  double want[7] = {0};
  for (int i = 0; i < 7 * 1000; i++) x[i] = (float)((i * 37 % 101) - 50) / 8, want[i / 1000] += x[i]; // exact in f32
  self::Args a = {x, out, 1000};
  for (unsigned block : {32u, 128u, 256u}) {
    memset(out, 0, sizeof out);
    int ok = kemu_run(&ks[0], 7, 1, 1, block, 0, &a, err, sizeof err);
    for (int b = 0; ok && b < 7; b++) ok = out[b] == (float)want[b];
    printf("%s k_sum block %u: sums of 7 blocks exact\n", ok ? "ok  " : "FAIL", block);
    fails += !ok;
  }
  int ok = kemu_run(&ks[3], 1, 1, 1, 64, 0, &a, err, sizeof err);
  for (int t = 0; ok && t < 64; t++) ok = out[t] == (float)((t % 32) * (t % 32 + 1) / 2);
  printf("%s k_inclusive_scan: __shfl_up_sync prefix sums\n", ok ? "ok  " : "FAIL");
  fails += !ok;
  struct {
    int k;
    const char *what, *expect;
  } bad[] = {{1, "k_divergent_barrier", "deadlock"}, {2, "k_exited_lanes", "lanes of the warp have exited"}};
  for (auto &b : bad) {
    err[0] = 0;
    int ran = kemu_run(&ks[b.k], 2, 1, 1, 64, 0, &a, err, sizeof err);
    int good = !ran && strstr(err, b.expect);
    printf("%s %s refused: %s\n", good ? "ok  " : "FAIL", b.what, err[0] ? err : "(ran without an error)");
    fails += !good;
  }
  printf(fails ? "NOT OK: %d failed\n" : "OK\n", fails);
  return fails != 0;
}
