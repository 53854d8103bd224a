/* cpu.h — the CPU JIT: fused groups compiled to native code through LLVM (ORC LLJIT, -O2,
 * vectorised for the host CPU). Built only with LLVM (MAMC_HAVE_LLVM); without it
 * cg_cpu_new fails with "built without LLVM" and callers run the interpreter instead.
 *
 * ---- calling convention ------------------------------------------------------------------
 *   typedef void (*CgFn)(void *const *bufs, const int64_t *dims, int64_t begin, int64_t end);
 *
 *   bufs   one pointer per buffer, CgKernel.bufs order (inputs, then outputs), each to dense
 *          row-major data of the buffer's dtype (f32, f64 or i32) and shape;
 *   dims   CgKernel.ndims int64 values filled by cg_fill_dims from the buffers' actual
 *          shapes: the extents and strides the kernel reads, so one compiled kernel serves
 *          every binding of the symbolic dims (a new batch shape never recompiles); also a
 *          dropout's key and the training flag (CgRun);
 *   [begin, end)  a range of outer iterations, 0 <= begin <= end <= cg_outer(k, dims):
 *          output elements (row-major) for an elementwise kernel, rows for a row kernel
 *          (CgKernel.row). A split at the boundaries cg_split_row allows gives the same
 *          results as none (vector and scalar libm calls round differently, and a vector
 *          loop's steps count from its range's start), so the runtime can hand disjoint
 *          ranges to threads; codegen itself starts no threads (test_cg_jit: every case).
 *
 * Buffers must not overlap, except that an output may be the very same memory as an input
 * that the kernel reads at the same index (ir/group.h: memory planning may give an output
 * the buffer of a same-typed operand dying at the group). Every value of an index is
 * computed before any output element of that index is stored. A kernel with one output
 * carries a copy of its loops for each input it may share memory with, chosen at entry by
 * pointer equality and vectorised like the disjoint case; a kernel with several outputs
 * carries one copy for any output equal to any input. Those copies keep LLVM's run-time
 * overlap checks; the disjoint copy tells LLVM that no buffer aliases another (scoped
 * no-alias metadata), so no check decides between its vector and scalar loops. (Such a check
 * works from conservative bounds over [begin, end): with it, results had depended on where
 * the buffers lay and on how the range was split.)
 *
 * Numerics (f32 values computed in f32, f64 in f64, i32 in i32 as the interpreter's):
 *   - +, -, *, /, sqrt are IEEE operations without contraction into FMA, so a chain of them
 *     rounds exactly as the f32 interpreter does (which rounds every node's result);
 *   - exp, log, tanh, sin, cos, pow call libm, or glibc's libmvec vector variants (ULP
 *     errors of a few units) when the loop vectorises;
 *   - reductions (sum, max) carry the `reassoc` flag and nothing else, so LLVM may
 *     vectorise them: sums are accumulated in lanes and added at the end (another order
 *     than the interpreter's f64 left-to-right sum; each f32 sum rounds in f32);
 *   - no nnan/ninf/nsz/arcp/afn/contract: NaN and infinities behave as in the interpreter.
 *
 * ---- use (the runtime's executor) ------------------------------------------------------------
 *   CgCpu *s = cg_cpu_new(err, sizeof err);                  NULL without LLVM: interpret
 *   CgKernel k;                                              once per group (cached by text)
 *   if (cg_cpu_compile(s, p, g, members, n, &k, err, sizeof err)) {
 *     for (i < k.nbufs) bufs[i] = data of value k.bufs[i].node, shapes[i] = its shape;
 *     cg_fill_dims(&k, shapes, symvals, &run, dims, err, sizeof err);   per call
 *     k.fn(bufs, dims, 0, cg_outer(&k, dims));    or [begin, end) per thread (cg_split_row)
 *   }
 *
 * ---- API ------------------------------------------------------------------------------------
 * A CgCpu session owns the LLJIT instance, the host target machine and a compile cache
 * keyed by the KIR text: identical groups (in any graph) compile once and share code.
 * Compiling from several threads on one session is serialised by a lock inside it;
 * compiled functions may be called from any thread while the session lives.
 */
#ifndef MAMC_CG_CPU_H
#define MAMC_CG_CPU_H

#include "codegen.h"

typedef struct CgCpu CgCpu;

/* 1 when built with LLVM */
int cg_cpu_available(void);

/* New JIT session for the host CPU; NULL with a message in err when built without LLVM or
 * when LLVM fails to set up. */
CgCpu *cg_cpu_new(char *err, size_t errlen);
void cg_cpu_free(CgCpu *s);

/* Lower and compile a group (nodes: indices of g, increasing; see codegen.h) into out,
 * whose fn is then callable. 1 on success; 0 with a message (lowering or LLVM). */
int cg_cpu_compile(CgCpu *s, const IrProgram *p, const IrGraph *g, const int *nodes, int nnodes, CgKernel *out,
                   char *err, size_t errlen);

/* Compile an already lowered kernel (out as cg_describe, with fn set). */
int cg_cpu_compile_kir(CgCpu *s, const Kir *k, CgKernel *out, char *err, size_t errlen);

/* Session statistics: kernels loaded (session cache misses: compiled, or read from the disk
 * cache) and session cache hits. */
void cg_cpu_stats(const CgCpu *s, int *compiled, int *hits);

/* The on-disk object cache (jit.c says what the key holds). Its folder: $MAMC_JIT_CACHE ("0"
 * or "off": none), else $XDG_CACHE_HOME/mamc, else ~/.cache/mamc; an entry that fails its
 * checks is counted corrupt, compiled again and replaced. */
typedef struct CgCpuDiskStats {
  int hits;           /* objects read from the disk cache */
  int compiled;       /* objects LLVM generated (disk misses, or no disk cache) */
  int corrupt;        /* entries that failed their checks (then compiled and rewritten) */
  int write_failures; /* entries that could not be stored */
} CgCpuDiskStats;
void cg_cpu_disk_stats(const CgCpu *s, CgCpuDiskStats *st);
/* Points the disk cache at dir ("" or NULL: off), creating it; the folder in use ("": off). */
void cg_cpu_set_cache_dir(CgCpu *s, const char *dir);
const char *cg_cpu_cache_dir(const CgCpu *s);

/* The LLVM IR of a kernel after optimisation (for `MAMC_CG_DUMP`-style debugging and tests);
 * a malloc'd string the caller frees, or NULL with a message. */
char *cg_cpu_llvm_ir(CgCpu *s, const Kir *k, int optimised, char *err, size_t errlen);

#endif
