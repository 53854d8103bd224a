/* misc.c — sources (input, param, const, iota), dropout, and the collectives.
 *
 * The collectives (allreduce, reduce_scatter, allgather, broadcast, outer_sync) are the
 * identity here: in a one-process interpreter every group has a single member, so a sum, a
 * mean, a gather or a broadcast over it returns the value unchanged, and an outer sync
 * averages one delta. The MPI runtime implements them across processes.
 */
#include "kernels.h"
#include "rng.h"

static int copy_in(Kern *k) {
  const Tensor *x = k->in[0];
  if (x->dt != k->out->dt || x->n != k->out->n)
    return kfail(k, "value %s does not fit the result %s", dtype_name(x->dt), dtype_name(k->out->dt));
  if (x->n) memcpy(k->out->data, x->data, (size_t)x->n * (size_t)dtype_size(x->dt));
  return 1;
}

/* input: its value is the argument (ins[0]), checked against the declared type. */
int interp_INPUT(Kern *k) { return copy_in(k); }
/* param @module.name: its value is the argument (ins[0]: the ParamStore's tensor). */
int interp_PARAM(Kern *k) { return copy_in(k); }

/* const {value}: y[declared type], every element = value (i32: an integral value in range). */
int interp_CONST(Kern *k) {
  double v = ir_get_f(k->n, "value");
  if (is_int(k->out) && !(v == trunc(v) && v >= -2147483648.0 && v <= 2147483647.0))
    return kfail(k, "value %g is not an i32", v);
  for (int64_t i = 0; i < k->out->n; i++) st(k->out, i, v);
  return 1;
}

/* iota {axis}: y[declared type], y[i0, ..., ir] = i_axis (an operand, if the op table allows
 * one, only carries dims and is not read). */
int interp_IOTA(Kern *k) {
  Tensor *y = k->out;
  int axis;
  int64_t idx[IR_MAX_RANK] = {0};
  if (!kaxis(k, ir_get_i(k->n, "axis"), y->rank, &axis)) return 0;
  for (int64_t i = 0; i < y->n; i++, knext(idx, y->shape, y->rank)) st(y, i, (double)idx[axis]);
  return 1;
}

/* dropout {p, seed}: x[...] -> y[...]. The identity unless cx->training; then inverted
 * dropout: element i is kept iff u_i >= p, u_i = rng_uniform(rng_key(cx->seed ^ seed,
 * cx->step), i), and a kept element is scaled by 1/(1 - p) (p = 1 drops everything). */
int interp_DROPOUT(Kern *k) {
  const Tensor *x = k->in[0];
  double p = ir_get_f(k->n, "p");
  if (!(p >= 0 && p <= 1)) return kfail(k, "p must be in [0, 1], got %g", p);
  if (!k->cx->training) return copy_in(k);
  if (!kneed_float(k, 0)) return 0;
  uint64_t key = rng_key(k->cx->seed ^ (uint64_t)ir_get_i(k->n, "seed"), (uint64_t)k->cx->step);
  for (int64_t i = 0; i < x->n; i++) {
    int keep = rng_uniform(key, (uint64_t)i) >= p;
    st(k->out, i, keep ? ld(x, i) / (1.0 - p) : 0.0);
  }
  return 1;
}

/* collectives: the identity in one process (see the top of this file) */
int interp_ALLREDUCE(Kern *k) { return copy_in(k); }
int interp_REDUCE_SCATTER(Kern *k) { return copy_in(k); }
int interp_ALLGATHER(Kern *k) { return copy_in(k); }
int interp_BROADCAST(Kern *k) { return copy_in(k); }
int interp_OUTER_SYNC(Kern *k) { return copy_in(k); }
/* allreduce_start / allreduce_done: one process is the only trainer (its token-weighted mean
 * is its own value) or, for a recv slot, the only holder (nothing to receive: the zero
 * placeholder stays). */
int interp_ALLREDUCE_START(Kern *k) { return copy_in(k); }
int interp_ALLREDUCE_DONE(Kern *k) { return copy_in(k); }
