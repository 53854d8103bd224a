/* pool.h — a small pool of worker threads that split a range [0, n) between them: the
 * executor hands each fused kernel's outer iterations to it (at the boundaries the kernel
 * allows: cg_split_row in codegen/codegen.h), the optimizer its parameters. After a job a
 * worker polls for the next for 0.2 ms, then sleeps on a condition variable (between steps,
 * BLAS and other processes get the cores back). One job at a time; the caller's thread
 * takes a share. */
#ifndef MAMC_POOL_H
#define MAMC_POOL_H

#include <stdint.h>

typedef struct Pool Pool;
typedef void (*PoolFn)(void *ctx, int64_t begin, int64_t end);

/* nthreads total (the caller included); <= 1 gives a pool that runs everything inline.
 * NULL when threads cannot be started (the caller then runs inline). */
Pool *pool_new(int nthreads);
void pool_free(Pool *p);
int pool_size(const Pool *p);
/* Runs fn over [0, n) in contiguous chunks, one per thread, and returns when all are done.
 * Ranges shorter than min_chunk * 2 run inline. */
void pool_run(Pool *p, PoolFn fn, void *ctx, int64_t n, int64_t min_chunk);
/* pool_run with every boundary between chunks at r * row + j * grain (row > 0; within the
 * row): for kernels whose results depend on where a range starts within a row (cg_split_row).
 * row <= 0: any boundary. Some chunks may then be empty. */
void pool_run_aligned(Pool *p, PoolFn fn, void *ctx, int64_t n, int64_t min_chunk, int64_t row, int64_t grain);

#endif
