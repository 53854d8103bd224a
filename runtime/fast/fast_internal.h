/* fast_internal.h — shared by the fast kernels (runtime/fast/): the per-group entry points
 * and a strided iteration helper over collapsed dims. Not a public header. */
#ifndef MAMC_FAST_INTERNAL_H
#define MAMC_FAST_INTERNAL_H

#include <math.h>

#include "fast.h"

typedef struct FastCx {
  const IrNode *n;
  const Tensor *const *in;
  Tensor *out;
  const int64_t *oshape;  /* the node's evaluated shape */
  int orank;
  char *err;
  size_t errlen;
  FastLse *lse;           /* cross-entropy's kept row statistics (fast.h), or NULL */
} FastCx;

/* Row helpers compiled for AVX2 and AVX-512 too, the widest the CPU has chosen when the program
 * loads (x86-64 with glibc's ifunc; elsewhere the default build only). mamc is built for any
 * x86-64, which gives them 4 lanes; the JIT's kernels use the host's full width already. Each
 * lane does the same operations in the same order in every clone (ISO C: no contraction into
 * FMA), so the results are bit for bit the same whichever runs. Used where it paid: the
 * exponentials and sums of softmax and cross-entropy rows (fast_rows.c: exp_row's share of a
 * multi.yaml step 5.2% -> 2.7% of the samples, `perf record`); attention's block softmax, whose
 * rows are short in translation, and the row maximum were no faster (GCC keeps the maximum's
 * compares scalar under its default -ftrapping-math; vectorised with -fno-trapping-math its
 * share did not move either: it is the first read of each row of the logits, memory-bound). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && defined(__GLIBC__)
#define FAST_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define FAST_CLONES
#endif

int fast_ew(FastCx *c);       /* -1 / 0 / 1 as fast_node */
int fast_reduce(FastCx *c);
int fast_rows(FastCx *c);     /* softmax, log_softmax, layernorm, rmsnorm, cross_entropy */
int fast_attention(FastCx *c);
int fast_attention_grad(FastCx *c);  /* fast_attention_grad.c */
int fast_linear_attention(FastCx *c); /* fast_linear_attention.c */
int fast_move(FastCx *c);

/* Broadcast strides (in elements) of x read at the indices of a rank-r output of `shape`;
 * 0 where x broadcasts. 0 if it does not broadcast. */
int fast_bcast_strides(const Tensor *x, int r, const int64_t *shape, int64_t *st);

/* Merges adjacent dims where every one of the n stride vectors is contiguous across them.
 * shape/strides are modified in place; returns the new rank (>= 1). */
int fast_collapse(int r, int64_t *shape, int n, int64_t **strides);

/* The node's result, c->out, of its shape and dtype dt; 0 (c->err set) when memory runs out.
 * fast_alloc_out leaves the elements unset (rt_tensor_alloc_raw): the kernel writes them all;
 * fast_alloc_out_zeroed fills them with zeros for kernels that accumulate into their result or
 * write part of it (pad, scatter_add, the attention gradients). */
int fast_alloc_out(FastCx *c, DType dt);
int fast_alloc_out_zeroed(FastCx *c, DType dt);

#endif
