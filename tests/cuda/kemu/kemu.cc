// kemu.cc — the CUDA block emulator behind kemu_api.h. A launch runs its blocks one after
// another; the threads of a block are fibers (kemu_fiber.h) run round-robin, each until it
// finishes or reaches a barrier:
//   __syncthreads        waits until every thread of the block that has not exited waits there;
//   warp-synchronous     (__shfl_*_sync, __any_sync) waits until every lane of its warp waits at
//                        one; the lanes' values are exchanged through a per-warp slot array,
//                        double-buffered by generation (a lane released from one exchange cannot
//                        overwrite the slots before the others have read them).
// Threads run in index order, or from the last with KEMU_SCHEDULE=reverse: a kernel that reads
// what another thread writes without a barrier between them reads stale data under one of the
// two orders (test_cuda_kemu_reverse runs the checks both ways).
// A round in which nobody can run and no barrier is complete is a deadlock (reported). Because
// fibers switch only at those calls, `__shared__` is `static` (one copy, reused by the next
// block: kernels that read shared memory before writing it show stale values, as on a GPU)
// and atomics are plain read-modify-writes. Dynamic shared memory is filled with NaN bit
// patterns at each block's start, and so is a guard of 4 KiB past its end, which must still
// hold them when the block ends (a write past the launch's size is reported).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kemu.h"
#include "kemu_api.h"
#include "kemu_fiber.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

enum State { RUN, WAIT_BLOCK, WAIT_WARP, DONE };
enum { LANES = 32, STACK = 128 << 10, SMEM_GUARD = 4096 };
const uint32_t SMEM_FILL = 0x7fc00bad; // a NaN

struct Fiber {
  KemuFiber ctx;
  State state;
};

struct Launch {
  std::vector<Fiber> f;
  std::vector<char> stacks;
  std::vector<uint64_t> slot[2]; // [warp * 32 + lane]
  std::vector<unsigned> gen;     // per warp: exchanges completed
  std::vector<char> smem;
  KemuFiber sched;
  int cur = 0, n = 0;
  void (*run)(const void *) = nullptr;
  const void *args = nullptr;
  char err[300] = "";
};

Launch L;

void fail(const char *msg) {
  if (!L.err[0]) snprintf(L.err, sizeof L.err, "block (%u, %u, %u) thread %d: %s", blockIdx.x, blockIdx.y, blockIdx.z, L.cur, msg);
}

void yield(State s) {
  Fiber &me = L.f[L.cur];
  me.state = s;
  kemu_fiber_switch(&me.ctx, &L.sched);
}

void entry() {
  L.run(L.args);
  yield(DONE); // never resumed
}

void set_thread(int t) {
  L.cur = t;
  threadIdx.x = (unsigned)t % blockDim.x;
  threadIdx.y = (unsigned)t / blockDim.x % blockDim.y;
  threadIdx.z = (unsigned)t / (blockDim.x * blockDim.y);
}

// Releases the barriers that are complete; 1 if any was.
int release() {
  int any = 0;
  for (int w = 0; w * LANES < L.n; w++) {
    int lo = w * LANES, hi = lo + LANES < L.n ? lo + LANES : L.n, waiting = 0, live = 0;
    for (int t = lo; t < hi; t++) waiting += L.f[t].state == WAIT_WARP, live += L.f[t].state != DONE;
    if (!waiting || waiting != live) continue;
    if (live != hi - lo) L.cur = lo, fail("a warp-synchronous call while lanes of the warp have exited");
    for (int t = lo; t < hi; t++)
      if (L.f[t].state == WAIT_WARP) L.f[t].state = RUN;
    L.gen[w]++;
    any = 1;
  }
  if (any) return 1;
  int waiting = 0, live = 0;
  for (int t = 0; t < L.n; t++) waiting += L.f[t].state == WAIT_BLOCK, live += L.f[t].state != DONE;
  if (!waiting || waiting != live) return 0;
  for (int t = 0; t < L.n; t++)
    if (L.f[t].state == WAIT_BLOCK) L.f[t].state = RUN;
  return 1;
}

int run_block() {
  for (int t = 0; t < L.n; t++) {
    Fiber &f = L.f[t];
    kemu_fiber_make(&f.ctx, &L.stacks[(size_t)t * STACK], STACK, entry);
    f.state = RUN;
  }
  std::fill(L.gen.begin(), L.gen.end(), 0u);
  for (size_t i = 0; i + 4 <= L.smem.size(); i += 4) memcpy(&L.smem[i], &SMEM_FILL, 4);
  static const char *order = getenv("KEMU_SCHEDULE");
  int rev = order && !strcmp(order, "reverse");
  for (;;) {
    for (int i = 0; i < L.n; i++) {
      int t = rev ? L.n - 1 - i : i;
      if (L.f[t].state == RUN) {
        set_thread(t);
        kemu_fiber_switch(&L.sched, &L.f[t].ctx);
      }
    }
    int live = 0;
    for (int t = 0; t < L.n; t++) live += L.f[t].state != DONE;
    if (!live) return 1;
    if (!release()) {
      fail("deadlock: threads wait at barriers that cannot complete (divergent __syncthreads or warp calls)");
      return 0;
    }
  }
}

} // namespace

void *kemu_dyn_smem() { return L.smem.data(); }

void kemu_syncthreads() { yield(WAIT_BLOCK); }

uint64_t kemu_warp_exchange(uint64_t bits, int kind, int arg, unsigned mask) {
  int w = L.cur / LANES, lane = L.cur % LANES, lo = w * LANES;
  int width = L.n - lo < LANES ? L.n - lo : LANES;
  if (mask != 0xffffffffu) fail("a warp-synchronous call with a partial mask (not emulated)");
  if (width != LANES) fail("a warp-synchronous call in a partial warp (blockDim not a multiple of 32)");
  unsigned g = L.gen[w] & 1;
  L.slot[g][(size_t)w * LANES + lane] = bits;
  yield(WAIT_WARP);
  const uint64_t *s = &L.slot[g][(size_t)w * LANES];
  switch (kind) {
  case 0: return s[(lane ^ arg) & (LANES - 1)];
  case 1: return s[arg & (LANES - 1)];
  case 2: return lane >= arg ? s[lane - arg] : bits;
  default: {
    uint64_t any = 0;
    for (int i = 0; i < width; i++) any |= s[i] != 0;
    return any;
  }
  }
}

#define KEMU_MODULES(X) X(move) X(norm) X(xent) X(adamw) X(attention) X(linattn) X(attention_tc)
#define DECL(m) extern "C" const KemuKernel kemu_tab_##m[];
KEMU_MODULES(DECL)
#define TAB(m) kemu_tab_##m,
static const KemuKernel *const tables[] = {KEMU_MODULES(TAB)};

static const KemuKernel *find(const char *name) {
  for (const KemuKernel *t : tables)
    for (; t->name; t++)
      if (!strcmp(t->name, name)) return t;
  return nullptr;
}

extern "C" int kemu_has(const char *name) { return find(name) != nullptr; }

extern "C" const char *const *kemu_names(void) {
  static std::vector<const char *> names;
  if (names.empty()) {
    for (const KemuKernel *t : tables)
      for (; t->name; t++) names.push_back(t->name);
    names.push_back(nullptr);
  }
  return names.data();
}

extern "C" int kemu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem,
                           const void *args, char *err, size_t errlen) {
  const KemuKernel *k = find(name);
  if (!k) return snprintf(err, errlen, "kemu: no kernel %s", name), 0;
  return kemu_run(k, gx, gy, gz, block, smem, args, err, errlen);
}

int kemu_run(const KemuKernel *k, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem, const void *args,
             char *err, size_t errlen) {
  const char *name = k->name;
  if (block < 1 || block > 1024) return snprintf(err, errlen, "kemu: %s: block of %u threads", name, block), 0;
  L.err[0] = 0;
  L.run = k->run, L.args = args, L.n = (int)block;
  L.f.resize(block);
  if (L.stacks.size() < (size_t)block * STACK) L.stacks.resize((size_t)block * STACK);
  int warps = ((int)block + LANES - 1) / LANES;
  L.slot[0].assign((size_t)warps * LANES, 0), L.slot[1].assign((size_t)warps * LANES, 0), L.gen.assign(warps, 0);
  L.smem.assign((size_t)smem + SMEM_GUARD, 0); /* the guard: run_block fills it with NaNs, which must stay */
  blockDim = {block, 1, 1}, gridDim = {gx, gy, gz};
  int ok = 1;
  for (unsigned z = 0; ok && z < gz; z++)
    for (unsigned y = 0; ok && y < gy; y++)
      for (unsigned x = 0; ok && x < gx; x++) {
        blockIdx = {x, y, z};
        ok = run_block() && !L.err[0];
        for (size_t i = smem; ok && i + 4 <= L.smem.size(); i += 4)
          if (memcmp(&L.smem[i], &SMEM_FILL, 4) != 0)
            snprintf(L.err, sizeof L.err, "block (%u,%u,%u) wrote past its %u bytes of dynamic shared memory", x, y, z, smem), ok = 0;
      }
  if (!ok) snprintf(err, errlen, "kemu: %s: %s", name, L.err[0] ? L.err : "failed");
  return ok;
}
