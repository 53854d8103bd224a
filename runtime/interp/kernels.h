/* kernels.h — internal to the reference interpreter: the context a kernel receives, element
 * access, broadcasting and index helpers, and one kernel prototype per op generated from
 * ir/ops.def (interp_<ID>, defined in the file of its op group). Not a public header.
 *
 * Contract of a kernel `int interp_<ID>(Kern *k)`:
 *   - k->in[0 .. k->nin-1] have exactly their declared shapes; float operands are in
 *     cx->fdt, i32 operands in i32 (node.c converted and checked them);
 *   - k->out is allocated (zeroed) with the node's evaluated shape, dtype i32 or cx->fdt;
 *   - compute in f64 (ld/st), return 1, or return kfail(k, "...") with a message.
 */
#ifndef MAMC_INTERP_KERNELS_H
#define MAMC_INTERP_KERNELS_H

#include <math.h>

#include "interp.h"

typedef struct Kern {
  const IrProgram *p;
  const IrGraph *g;
  const IrNode *n;
  int node;
  const int64_t *symvals;
  int nin;
  const Tensor *const *in;
  Tensor *out;
  InterpCx *cx;
} Kern;

/* Write the message (the caller prefixes "%<node> = <op>: ") and return 0. */
int kfail(Kern *k, const char *fmt, ...) MAMC_PRINTF(2, 3);

/* Prepend pre to the message in err (truncating at len). */
void kprefix(char *err, size_t len, const char *pre);

/* Elements as doubles (f32, f64, i32 tensors; others through rt_tensor_get). */
static inline double ld(const Tensor *t, int64_t i) {
  switch (t->dt) {
  case DT_F64: return ((const double *)t->data)[i];
  case DT_F32: return ((const float *)t->data)[i];
  case DT_I32: return ((const int32_t *)t->data)[i];
  default: return rt_tensor_get(t, i);
  }
}
static inline void st(Tensor *t, int64_t i, double v) {
  switch (t->dt) {
  case DT_F64: ((double *)t->data)[i] = v; break;
  case DT_F32: ((float *)t->data)[i] = (float)v; break;
  default: rt_tensor_set(t, i, v); break;
  }
}
/* i32 elements: exact integers; sti wraps to 32 bits like two's-complement hardware. */
static inline int64_t ldi(const Tensor *t, int64_t i) { return ((const int32_t *)t->data)[i]; }
static inline void sti(Tensor *t, int64_t i, int64_t v) { ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)v; }
static inline int is_int(const Tensor *t) { return t->dt == DT_I32; }

/* Copy element j of src to element i of dst (same dtype). */
static inline void copy_el(Tensor *dst, int64_t i, const Tensor *src, int64_t j) {
  size_t e = (size_t)dtype_size(dst->dt);
  memcpy((char *)dst->data + (size_t)i * e, (const char *)src->data + (size_t)j * e, e);
}

/* Row-major strides of t. */
void kstrides(const Tensor *t, int64_t *st);
/* Strides to read x at the indices of a rank-r output of the given shape under NumPy
 * broadcasting (dims aligned right, a dim of 1 repeats: stride 0). 0 if x does not
 * broadcast to that shape. */
int kbcast_strides(const Tensor *x, int r, const int64_t *shape, int64_t *st);
/* Advance a row-major multi-index over shape (the last axis fastest). */
static inline void knext(int64_t *idx, const int64_t *shape, int r) {
  for (int i = r - 1; i >= 0; i--) {
    if (++idx[i] < shape[i]) return;
    idx[i] = 0;
  }
}
static inline int64_t koff(const int64_t *idx, const int64_t *stride, int r) {
  int64_t o = 0;
  for (int i = 0; i < r; i++) o += idx[i] * stride[i];
  return o;
}
/* axis in [-rank, rank) to [0, rank); 0 (with a message) if out of range. */
int kaxis(Kern *k, int64_t axis, int rank, int *out);
/* "[2, 3]" of a tensor's shape, in a caller buffer. */
char *kshape(char *buf, size_t len, const Tensor *t);
/* Fail unless operand i is a float tensor. */
int kneed_float(Kern *k, int i);

#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) int interp_##ID(Kern *k);
#include "ops.def"

#endif
