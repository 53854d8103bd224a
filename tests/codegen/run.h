/* run.h — running a case's graph in the reference interpreter and its group as a compiled
 * kernel, for the JIT tests (test_cg_jit.c) and the benchmark-free checks around them.
 */
#ifndef MAMC_TEST_CG_RUN_H
#define MAMC_TEST_CG_RUN_H

#include "cases.h"
#include "interp.h"

/* Fresh random inputs of case c under binding b (one tensor per INPUT node, in order;
 * values f32-exact, drawn from the node's domain). n receives the count. */
void run_inputs(const CgCase *c, int b, uint64_t key, Tensor *inputs, int *n);

/* Every node's value at fdt; 0 with the message printed on failure. */
int run_interp(const CgCase *c, int b, const Tensor *inputs, DType fdt, Tensor *values);

/* Run kernel k over [0, outer) in chunks: chunk <= 0 means one call over everything, else
 * ranges of `chunk` outer iterations. bufs[i] are allocated (outputs) or converted from
 * values (inputs) here; free them with run_free_bufs. inplace: the first output that has an
 * input of its dtype and symbolic shape is written into that input's memory (then copied to its
 * bufs entry). Returns 2 if it ran in place, else 1; 0 with a
 * message in err. */
int run_kernel(const CgKernel *k, const CgCase *c, int b, const Tensor *values, int64_t chunk, int inplace,
               Tensor *bufs, char *err, size_t errlen);
/* Run k again over the buffers of an earlier run_kernel (not in place; outputs reset to NaN)
 * in ranges of about `chunk` whose boundaries are the ones cg_split_row allows: the results
 * must equal one call's bit for bit. The same buffers, so that the split is the only thing
 * that differs. 1 ok, 0 with err. */
int run_kernel_split(const CgKernel *k, const CgCase *c, int b, Tensor *bufs, int64_t chunk, char *err, size_t errlen);
void run_free_bufs(Tensor *bufs, int n);

/* Distance in units in the last place between two floats (0 if both NaN). */
int64_t run_ulps(float a, float b);

#endif
