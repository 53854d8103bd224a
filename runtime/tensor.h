/* tensor.h — the runtime's dense tensor: a dtype, a rank, an int64 shape and contiguous
 * row-major data owned by the tensor (malloc). Conversions between the storage formats
 * (f32, f64, bf16, f16, i32) and fills from the counter-based RNG (rng.h).
 *
 * bf16 and f16 are stored as their 16-bit patterns. Every conversion into a narrower float
 * format rounds once, to nearest with ties to even, from the f64 value (no double rounding);
 * values beyond the format's range become ±inf, NaN stays NaN.
 *
 * Used by the reference interpreter (interp.h), the parameter store (params.h) and tests.
 * No global state; allocation failures are reported by return values.
 */
#ifndef MAMC_TENSOR_H
#define MAMC_TENSOR_H

#include "ir.h"

typedef struct Tensor {
  DType dt;
  int rank;
  int64_t shape[IR_MAX_RANK];
  int64_t n;  /* number of elements: the product of shape (1 for a scalar) */
  void *data; /* n * dtype_size(dt) bytes, owned; NULL only for an empty Tensor */
} Tensor;

/* Element count of a shape; -1 if a dim is negative or the count overflows int64. */
int64_t rt_numel(int rank, const int64_t *shape);

/* Allocate a zero-filled tensor. 1 on success; 0 (t left empty) if rank is out of
 * [0, IR_MAX_RANK], a dim is negative, the size overflows, or memory runs out. */
int rt_tensor_alloc(Tensor *t, DType dt, int rank, const int64_t *shape);
/* The same without filling: for outputs whose producer writes every element (generated
 * kernels, matrix products, copies). Zeroing them cost ~5% of a CPU training step: freed
 * memory stays in the process (tools/mamc.c), so calloc has to clear it. Builds with
 * MAMC_SANITIZE fill them with 0xFF bytes instead (NaN in f32/f64, -1 in i32), so that an
 * element a producer forgets shows up in every test that compares results. */
int rt_tensor_alloc_raw(Tensor *t, DType dt, int rank, const int64_t *shape);
void rt_tensor_free(Tensor *t); /* frees the data and leaves t empty (all zero); NULL-safe */
int rt_tensor_copy(const Tensor *src, Tensor *dst);               /* dst: a new tensor */
int rt_tensor_convert(const Tensor *src, DType dt, Tensor *dst);  /* dst: a new tensor of dt */
int rt_same_shape(const Tensor *a, const Tensor *b);

/* Element i as a double / stored from a double (rounded to t's format; to i32 by
 * truncation toward zero, saturating at the int32 range, NaN -> 0). */
double rt_tensor_get(const Tensor *t, int64_t i);
void rt_tensor_set(Tensor *t, int64_t i, double v);

/* Round v to the nearest value representable in a float dtype (f64: v itself). */
double rt_round_to(DType dt, double v);

/* 16-bit formats from and to their bit patterns. */
uint16_t rt_bf16_from_f64(double v);
double rt_bf16_to_f64(uint16_t bits);
uint16_t rt_f16_from_f64(double v);
double rt_f16_to_f64(uint16_t bits);

/* Fills: element i gets a draw at counter i of `key`, so values do not depend on the
 * order of filling or on which other tensors exist. */
void rt_tensor_fill_normal(Tensor *t, uint64_t key, double mean, double std);
void rt_tensor_fill_uniform(Tensor *t, uint64_t key, double lo, double hi); /* [lo, hi) */
void rt_tensor_fill(Tensor *t, double v);

/* "[2, 3, 4]" / "f32[2, 3, 4]" into buf (always NUL-terminated). Returns buf. */
char *rt_shape_str(char *buf, size_t len, int rank, const int64_t *shape);
char *rt_tensor_str(char *buf, size_t len, const Tensor *t);

#endif
