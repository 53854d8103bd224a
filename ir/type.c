/* type.c — dtypes, affine symbolic dims and tensor types. */
#include "ir.h"

static const char *dt_names[DT_COUNT] = {"f32", "bf16", "f16", "i32", "f64"};
static const int dt_sizes[DT_COUNT] = {4, 2, 2, 4, 8};

const char *dtype_name(DType t) { return (unsigned)t < DT_COUNT ? dt_names[t] : "?"; }
int dtype_size(DType t) { return dt_sizes[t]; }
int dtype_is_float(DType t) { return t != DT_I32; }

int dtype_parse(const char *s, DType *out) {
  for (int i = 0; i < DT_COUNT; i++)
    if (strcmp(s, dt_names[i]) == 0) {
      *out = (DType)i;
      return 1;
    }
  return 0;
}

Dim dim_const(int64_t c) { return (Dim){-1, 0, c}; }
Dim dim_sym(int32_t sym) { return (Dim){sym, 1, 0}; }
int dim_is_const(Dim d) { return d.sym < 0 || d.mul == 0; }

/* Canonical form: a constant has sym -1 and mul 0. */
static Dim canon(Dim d) {
  if (d.sym < 0 || d.mul == 0) return dim_const(d.add);
  return d;
}

int dim_eq(Dim a, Dim b) {
  a = canon(a);
  b = canon(b);
  return a.sym == b.sym && a.mul == b.mul && a.add == b.add;
}

/* Overflow of int64 (sizes written in a model or IR file can be anything) gives 0, as a
 * non-affine result does: wrapping around is undefined behaviour. */
int dim_add(Dim a, int64_t c, Dim *out) {
  if (__builtin_add_overflow(a.add, c, &a.add)) return 0;
  *out = canon(a);
  return 1;
}

int dim_sum(Dim a, Dim b, Dim *out) {
  a = canon(a);
  b = canon(b);
  if (a.sym >= 0 && b.sym >= 0 && a.sym != b.sym) return 0;
  Dim r = {a.sym >= 0 ? a.sym : b.sym, 0, 0};
  if (__builtin_add_overflow(a.mul, b.mul, &r.mul) || __builtin_add_overflow(a.add, b.add, &r.add)) return 0;
  *out = canon(r);
  return 1;
}

int dim_sub(Dim a, Dim b, Dim *out) {
  a = canon(a);
  b = canon(b);
  if (b.sym < 0) return b.add != INT64_MIN && dim_add(a, -b.add, out);
  if (a.sym >= 0 && a.sym != b.sym) return 0;
  Dim r = {b.sym, 0, 0};
  if (__builtin_sub_overflow(a.sym >= 0 ? a.mul : 0, b.mul, &r.mul) || __builtin_sub_overflow(a.add, b.add, &r.add))
    return 0;
  *out = canon(r);
  return 1;
}

int dim_mul(Dim a, Dim b, Dim *out) {
  a = canon(a);
  b = canon(b);
  if (a.sym >= 0 && b.sym >= 0) return 0;
  if (a.sym >= 0) {
    Dim t = a;
    a = b;
    b = t;
  }
  /* a is the constant c: c * (mul*sym + add) */
  Dim r = {b.sym, 0, 0};
  if (__builtin_mul_overflow(b.mul, a.add, &r.mul) || __builtin_mul_overflow(b.add, a.add, &r.add)) return 0;
  *out = canon(r);
  return 1;
}

int64_t dim_eval(Dim d, const int64_t *symvals) {
  d = canon(d);
  return d.sym < 0 ? d.add : d.mul * symvals[d.sym] + d.add;
}

int type_eq(const IrType *a, const IrType *b) {
  if (a->dt != b->dt || a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (!dim_eq(a->d[i], b->d[i])) return 0;
  return 1;
}

int type_is_scalar(const IrType *t) { return t->rank == 0; }

/* ---- printing: `f32[B, T-1, 512]`, `f32[]` ----------------------------------------------- */

void ir_print_dim(StrBuf *b, const IrProgram *p, Dim d) {
  d = canon(d);
  if (d.sym < 0) {
    sb_printf(b, "%lld", (long long)d.add);
    return;
  }
  const char *name = d.sym < p->syms.n ? p->syms.v[d.sym] : "?";
  if (d.mul == 1)
    sb_puts(b, name);
  else if (d.mul == -1)
    sb_printf(b, "-%s", name);
  else
    sb_printf(b, "%lld*%s", (long long)d.mul, name);
  if (d.add > 0) sb_printf(b, "+%lld", (long long)d.add);
  if (d.add < 0) sb_printf(b, "-%lld", -(long long)d.add);
}

void ir_print_type(StrBuf *b, const IrProgram *p, const IrType *t) {
  sb_puts(b, dtype_name(t->dt));
  sb_putc(b, '[');
  for (int i = 0; i < t->rank; i++) {
    if (i) sb_puts(b, ", ");
    ir_print_dim(b, p, t->d[i]);
  }
  sb_putc(b, ']');
}
