/* dev.h — one GPU as the device executor sees it: the driver context and stream, a caching
 * memory allocator, copies, kernel launches (hand-written modules and generated fusion
 * kernels), matrix products through cuBLASLt, events and CUDA graphs.
 *
 * Two modes behind the same calls:
 *   cuda  the driver API through cu_lib.h (dev_open): device memory, NVRTC-compiled kernels;
 *   emu   host emulation (dev_open_emu): "device" memory is host memory, generated kernels run
 *         through the CPU JIT (same CgKernel buffers and dims), products on the CPU, and the
 *         hand-written kernels run their CPU references (kref.c) where they have one (the
 *         executor runs the other ops on the host). It lets the executor's bookkeeping
 *         (allocation, views, liveness, transfers, product descriptors) be tested on machines
 *         without a GPU, CUDA graphs included: between dev_capture_begin and _end the emulation
 *         records the work without running it, as a GPU does, and dev_graph_launch runs the
 *         record (dev_graph.c) — so reading a result before the launch, a scalar baked into a
 *         captured launch, or a copy from pageable host memory (refused while capturing) shows.
 * Everything is asynchronous on one stream; dev_sync waits. MAMC_CUDA_SYNC=1 synchronises and
 * checks after every launch (slow; to find which kernel faults). Errors: functions return 1
 * ok, 0 with the message in dev->L.err (checked wrappers: file:line and a HINT).
 *
 * Memory: dev_alloc hands out blocks carved from large segments (cuMemAlloc'd once, kept until
 * dev_close), best fit over free lists by size class, coalescing on free. Its answers depend
 * only on the sequence of calls, so a training step repeated with the same shapes gets the
 * same addresses — what lets a CUDA graph captured once replay the step.
 */
#ifndef MAMC_DEV_H
#define MAMC_DEV_H

#include "codegen.h"
#include "cpu.h"
#include "cu_lib.h"
#include "kcache.h"
#include "ksrc.h"

typedef uint64_t DPtr; /* a device address (host address in emu mode); 0 = none */

/* ---- allocator ----------------------------------------------------------------------------- */
typedef struct DevBlock {
  DPtr addr;
  uint64_t size;
  int prev, next;      /* neighbours in address order within the segment, -1 at the ends */
  int fprev, fnext;    /* free list links (free blocks only) */
  int free, seg;
} DevBlock;

typedef struct DevAlloc {
  DevBlock *b;
  int nb, cap, unused;  /* unused: a chain (via next) of recycled block records, or -1 */
  int freel[48];        /* free list heads by size class, -1 when empty */
  DPtr *seg;            /* segment base addresses */
  uint64_t *segsize;
  int nseg;
  int *hidx, hcap, hused, hlive; /* live blocks by address (hash; -1 empty, -2 deleted) */
  uint64_t in_use, reserved, peak;
  uint64_t live_sig;    /* a hash of the live blocks (address, size), order-free (dev_alloc_live_sig) */
} DevAlloc;

/* ---- generated kernels ------------------------------------------------------------------------ */
typedef struct DevCg {  /* one compiled fusion kernel */
  CgKernel k;           /* buffers and dims (codegen.h); k.fn set in emu mode */
  CUfunction fn;        /* cuda mode */
  void *emu_fn;         /* emu mode with Dev.emu_cg_build: the kernel's CUDA text built for the host */
} DevCg;

/* Work queued on the stream since dev_open — in emu mode, what a GPU would have queued (a
 * bf16 product's operand rounding included) — so that plans can be compared by launches on
 * machines without a GPU. Counted at queue time; inside a capture that is the graph's nodes. */
typedef struct DevQueued {
  int64_t kernels;   /* hand-written kernels (dev_launch) */
  int64_t generated; /* generated fusion kernels (dev_cg_launch) */
  int64_t gemms;     /* cuBLASLt products */
  int64_t memops;    /* copies and memsets (dev_h2d, dev_d2h, dev_d2d, dev_zero) */
} DevQueued;
static inline int64_t dev_queued_total(const DevQueued *q) { return q->kernels + q->generated + q->gemms + q->memops; }

typedef struct Dev {
  int emu;
  int compile_only;             /* dev_open_compile_only: NVRTC alone, nothing is loaded or run */
  CuLib L;
  KCache kc;
  KTarget target;
  int ordinal, cc, sms;
  char name[256];
  size_t total_mem;
  CUdevice cudev;
  CUcontext ctx;
  CUstream stream;
  int have_ctx, sync_each;
  CUmodule mod[KMOD_COUNT];     /* hand-written modules, loaded by dev_load_modules */
  int modules_compiled;         /* dev_load_modules succeeded (compile-only: nothing loaded) */
  cublasLtHandle_t lt;
  DPtr lt_ws;
  size_t lt_ws_size;
  struct DevGemmCache *gemm_cache;
  int gemm_epi_refused;         /* the last dev_gemm failed: no algorithm for its epilogue or R */
  struct DevCgCache *cg_cache;  /* generated kernels by name, and their modules */
  DevAlloc alloc;
  CgCpu *jit;                   /* emu mode: the CPU JIT for generated kernels (NULL: none) */
  int capturing;                /* inside dev_capture_begin .. end */
  struct DevEmuRec *rec;        /* emu: the work recorded while capturing */
  struct DevPinned *pinned;     /* emu: dev_host_alloc's blocks (copies from them can be captured) */
  int npinned, cap_pinned;
  int emu_fail_op;              /* emu: MAMC_CUDA_EMU_CAPTURE_FAIL=N fails every capture at its Nth
                                 * operation, or at its end when it has fewer (tests of the fallback
                                 * to eager runs) */
  double module_seconds;        /* loading hand-written modules (NVRTC or cache) */
  DevQueued queued;
  /* emu: when set (tests: tests/cuda/kemu), the hand-written kernels run from their own CUDA
   * source emulated on the host instead of their CPU references (kref.c) */
  int (*emu_has)(const char *name);
  int (*emu_run)(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem,
                 const void *args, char *err, size_t errlen);
  /* emu, when set (tests): the generated kernels' CUDA text too (cg_cuda_print_kernel, as NVRTC
   * would get it) is built for the host: build gets a source of n kernels and returns a handle
   * per name; run launches one over grid x gy blocks of `block` threads with the argument block
   * `arg` (CgArgs: bufs, then dims) and the range [begin, end), as cuLaunchKernel would */
  int (*emu_cg_build)(const char *src, int n, const char *const *names, void **fns, char *err, size_t errlen);
  int (*emu_cg_run)(void *fn, unsigned grid, unsigned gy, unsigned block, const void *arg, long long begin,
                    long long end, char *err, size_t errlen);
} Dev;

/* Opens GPU `ordinal` (-1: MAMC_CUDA_DEVICE or 0): driver, NVRTC, cuBLASLt, a context and a
 * stream, the kernel cache. 0 with the reason in dev->L.err ("no CUDA device: ..." when the
 * driver or a GPU is missing). dev must be zeroed; call dev_close on failure too. */
int dev_open(Dev *dev, int ordinal);
/* Compile-only (no driver, no GPU): NVRTC and the kernel cache for compute capability cc
 * (e.g. 90), so that dexec_init and dev_load_modules compile every kernel a program needs
 * (CI checks that they compile; a warm cache for a later run on a GPU). Nothing is loaded,
 * allocated or launched: dexec_run must not be called. cache_dir: as kc_init's. 0 with
 * dev->L.err when NVRTC is missing or supports no architecture at or below cc. */
int dev_open_compile_only(Dev *dev, int cc, const char *cache_dir);
/* Host emulation (see above); never fails but for memory. */
int dev_open_emu(Dev *dev);
/* The GPU of one process of a training run: `requested` (cuda:N) when >= 0; else
 * MAMC_CUDA_DEVICE when set; else local_rank mod the number of GPUs (one GPU per process of a
 * node). emu: the host emulation, pretending there are MAMC_CUDA_EMU_DEVICES GPUs (default 1)
 * so that the choice (dev->ordinal) can be tested. 0 with dev->L.err, as dev_open. */
int dev_open_for_rank(Dev *dev, int emu, int requested, int local_rank);
void dev_close(Dev *dev);

/* One paragraph about the device and the libraries (mamc gpu-info). */
void dev_describe(Dev *dev, StrBuf *b);

/* ---- memory ------------------------------------------------------------------------------- */
int dev_alloc(Dev *dev, uint64_t bytes, DPtr *out); /* bytes 0 gives a valid 256-byte block */
void dev_free(Dev *dev, DPtr p);
void dev_alloc_release(Dev *dev); /* returns every segment (dev_close) */
/* Which blocks are live (a hash of their addresses and sizes): equal values before two runs
 * mean the addresses a captured run used are free again (dtrain_graph.c checks it). */
uint64_t dev_alloc_live_sig(const Dev *dev);
int dev_h2d(Dev *dev, DPtr dst, const void *src, uint64_t bytes);
int dev_d2h(Dev *dev, void *dst, DPtr src, uint64_t bytes);
int dev_d2d(Dev *dev, DPtr dst, DPtr src, uint64_t bytes);
int dev_zero(Dev *dev, DPtr dst, uint64_t bytes);
int dev_sync(Dev *dev);
/* Page-locked host memory (plain malloc in emu mode): copies from it can be captured. */
void *dev_host_alloc(Dev *dev, size_t bytes);
void dev_host_free(Dev *dev, void *p);

/* ---- kernels ------------------------------------------------------------------------------ */
/* Compiles (NVRTC, through the cache) and loads the hand-written modules; no-op in emu mode. */
int dev_load_modules(Dev *dev);
/* Launches kernel `name` of module `mod` with its argument block (kargs.h) by value. */
int dev_launch(Dev *dev, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block,
               unsigned smem, const void *args);
/* Whether kernel `name` can run here (always on a GPU; in emu mode when it has a reference). */
int dev_has_kernel(const Dev *dev, const char *name);
/* Grid size for n independent items at `per_block` per block (capped at a few waves). */
unsigned dev_grid(const Dev *dev, int64_t n, int per_block);

/* Generated kernels: lowers and compiles the groups (each a node list of graph g) in parallel
 * chunks (one NVRTC program per chunk, cached), filling out[i]; ok[i] = 0 for a group codegen
 * refuses (why[i] says why when why is not NULL; the caller runs its nodes otherwise).
 * in16 / out16 (per node of g, or NULL): an f32 input / output buffer holding that node is
 * stored as bf16 (kir.h: KBuf.bf16). 0 only on a hard failure (NVRTC, the driver), with
 * dev->L.err. */
int dev_cg_compile(Dev *dev, const IrProgram *p, const IrGraph *g, int n, const int *const *members,
                   const int *nmembers, const unsigned char *in16, const unsigned char *out16, DevCg *out, char *ok,
                   char (*why)[256]);
/* Runs a compiled kernel over bufs (device addresses, k.bufs order) and dims (cg_fill_dims). */
int dev_cg_launch(Dev *dev, const DevCg *k, const DPtr *bufs, const int64_t *dims);
void dev_cg_cache_free(Dev *dev);

/* ---- matrix products (dev_gemm.c) ------------------------------------------------------------------
 * C[batch][M, N] = op(A[batch]) op(B[batch]) (+ C when accumulate), row-major f32 buffers:
 * op(A) is [M, K] (A stored [K, M] when ta), op(B) [K, N]; consecutive batch items are stride
 * apart (0: the same matrix for every item). bf16: the operands are rounded to bf16 (into
 * scratch) and multiplied on tensor cores, accumulating in f32; else f32 throughout (no TF32).
 * epilogue (cuBLASLt's, in the same kernel; needs accumulate 0): C = act(op(A) op(B) + bias)
 * with bias[N] (f32, added to every row of every batch item) and act per DevEpilogue; GELU is
 * the tanh approximation (the IR's gelu). Emu mode applies it on the host after the product.
 * A product whose epilogue cuBLASLt has no algorithm for fails with dev->gemm_epi_refused set
 * (nothing was queued: the caller can run it without the epilogue).
 * Stored bf16 (the executor's bf16 activations, bf16 mode only): a16 / b16 say A / B already
 * hold bf16 (2-byte elements, strides in elements; not rounded again), c16 that C is written
 * as bf16 (the f32 result rounded to nearest even, after the epilogue; needs accumulate 0).
 * A and B are then taken as bf16 by cuBLASLt directly (the other operand, if f32, still goes
 * through scratch), C/D's layout is bf16; compute and bias stay f32. Emu mode the same on the
 * host.
 * DEV_EPI_BIAS_GELU_AUX (cuBLASLt's GELU_AUX_BIAS; through dev_gemm_aux only): C = gelu(x) as
 * DEV_EPI_BIAS_GELU, and the pre-activation x = op(A) op(B) + bias into aux too (what a training
 * graph's gelu gradient reads), laid out as C (leading dim N, batch stride sC) in C's dtype
 * (cuBLASLt's aux type is D's); cuBLASLt wants the aux leading dim a multiple of 8 and the aux
 * 16-byte aligned: else, as when it has no algorithm, a refusal (gemm_epi_refused, nothing
 * queued). ReLU has no such form here: RELU_AUX_BIAS stores a bitmask, not the pre-activation.
 * DEV_EPI_DGELU (cuBLASLt's DGELU; through dev_gemm_aux only, no bias): C = op(A) op(B) * gelu'(x)
 * with x read from aux, laid out as C in C's dtype (what GELU_AUX_BIAS wrote: the backward of a
 * product + GELU through the next product), gelu' of the tanh form; the same aux conditions.
 * DEV_EPI_BGRAD (cuBLASLt's BGRADA: our B is Lt's A): C as without an epilogue, and bias (an
 * output here, f32 [N]) = the sums of B's columns over K — the bias gradient beside a weight
 * gradient X^T dY: batch 1, B not transposed, C f32, no accumulation.
 * R (cuBLASLt's C with beta 1, D = C): C = op(A) op(B) [+ bias] + R, R a matrix laid out as C,
 * in C's dtype (bf16 too), read, not written — a residual after a bias, or another product's
 * result the IR adds (no epilogue or DEV_EPI_BIAS only; not with accumulate). */
typedef enum { DEV_EPI_NONE, DEV_EPI_BIAS, DEV_EPI_BIAS_GELU, DEV_EPI_BIAS_RELU, DEV_EPI_BIAS_GELU_AUX, DEV_EPI_DGELU,
               DEV_EPI_BGRAD } DevEpilogue;
typedef struct DevGemm {
  DPtr A, B, C;
  int64_t M, N, K, batch;
  int64_t sA, sB, sC;
  int ta, tb, accumulate, bf16;
  int epilogue;                 /* DevEpilogue */
  DPtr bias;                    /* [N] f32 when epilogue is set */
  int a16, b16, c16;            /* A, B stored as bf16; C written as bf16 (see above) */
  DPtr R;                       /* added to the product (see above), or 0 */
} DevGemm;
int dev_gemm(Dev *dev, const DevGemm *g);
/* dev_gemm with the aux output of DEV_EPI_BIAS_GELU_AUX, or the aux input of DEV_EPI_DGELU (0
 * for every other epilogue) */
int dev_gemm_aux(Dev *dev, const DevGemm *g, DPtr aux);
void dev_gemm_cache_free(Dev *dev);

/* ---- events and graphs -------------------------------------------------------------------------------- */
typedef struct DevEvent {
  CUevent e;
  double host;                  /* emu: wall time at record */
} DevEvent;
int dev_event_record(Dev *dev, DevEvent *ev);     /* creates it on first use */
int dev_event_ms(Dev *dev, DevEvent *a, DevEvent *b, double *ms); /* waits for b */
void dev_event_free(Dev *dev, DevEvent *ev);

typedef struct DevGraph {
  CUgraph g;
  CUgraphExec x;
  struct DevEmuRec *emu;        /* emu: the recorded work */
  int ok;
} DevGraph;
/* Work queued between begin and end is recorded, not run (both modes; dev_graph.c). While
 * capturing, dev_d2h and dev_sync fail (they wait for the stream), and so does, in emu mode, a
 * copy from host memory that dev_host_alloc did not give (a GPU would read it at replay). The
 * allocator keeps working on the host: a graph replays the addresses of its capture. After a
 * failure inside the capture, dev_capture_abort leaves capture mode (nothing ran). */
int dev_capture_begin(Dev *dev);
int dev_capture_end(Dev *dev, DevGraph *out);
void dev_capture_abort(Dev *dev);
int dev_graph_launch(Dev *dev, DevGraph *g);
void dev_graph_free(Dev *dev, DevGraph *g);

/* (dev*.c internal) emu-mode recording while capturing; 0 with dev->L.err */
int dev_emu_rec_copy(Dev *dev, int kind, DPtr dst, DPtr src, const void *hsrc, uint64_t n); /* 0 h2d, 1 d2d, 2 zero */
int dev_emu_rec_launch(Dev *dev, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block,
                       unsigned smem, const void *args);
int dev_emu_rec_cg(Dev *dev, const DevCg *k, const DPtr *bufs, const int64_t *dims);
int dev_emu_rec_gemm(Dev *dev, const DevGemm *g, DPtr aux);
void dev_emu_pin(Dev *dev, void *p, size_t n);
void dev_emu_unpin(Dev *dev, void *p);
void dev_emu_free_all(Dev *dev);  /* dev_close: the pinned registry and an unfinished record */

#endif
