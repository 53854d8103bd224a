/* dj.h — shared by the DiJiang tests (tests/dijiang/): one-node programs of the linear-attention
 * ops built from a compact attribute string, random inputs, and runs of a node through the
 * fast f32 kernels (runtime/fast/) or the reference interpreter at f32 / f64.
 */
#ifndef MAMC_TEST_DJ_H
#define MAMC_TEST_DJ_H

#include "interp.h"
#include "test.h"

enum { DJ_MAX_IN = 12 };

typedef struct Dj {
  Arena a;
  IrProgram p;
  int nx;
  int xnode[DJ_MAX_IN]; /* input node of each operand */
  Tensor x[DJ_MAX_IN];  /* operand values (f32) */
  int node;             /* the last node made */
} Dj;

void dj_begin(Dj *t);
void dj_end(Dj *t);
/* An input of dtype dt (f32 or bf16) and constant shape, filled uniformly in [lo, hi) from
 * seed; returns its operand index. */
int dj_input(Dj *t, DType dt, int rank, const int64_t *shape, uint64_t seed, double lo, double hi);
/* A node of op on operands xs (operand indices); attrs: "feature=dct gate=learned norm=running
 * causal=1 chunk=32 lower=chunked wrt=state m=8" (any subset). Shape-inferred: 0 on failure. */
int dj_node(Dj *t, Op op, int nin, const int *xs, const char *attrs);
/* Runs node (its operands must be inputs) into out (empty on entry): fast = 1 through
 * fast_node (an error if it declines), else interp_node at fdt. 1 ok. */
int dj_run(Dj *t, int node, int fast, DType fdt, Tensor *out);
/* max |got - ref| / max(max |ref|, 1e-30); INFINITY on a shape mismatch or a non-finite value */
double dj_diff(const Tensor *got, const Tensor *ref);
int dj_finite(const Tensor *t);
/* positions [from, to) (axis 2 of [B, H, S, E] or [B, H, S]) as a new tensor */
Tensor dj_slice2(const Tensor *x, int64_t from, int64_t to);
/* dst[:, :, at:at+src.shape[2], :] = src */
void dj_put2(Tensor *dst, const Tensor *src, int64_t at);

#endif
