/* ops_ew.c — op-vs-reference tests of the elementwise ops (unary, cast, binary with
 * broadcasting, comparisons, where), the reductions and matmul. Each reference is naive
 * float64 code over explicit index arithmetic (h_unflat / h_bidx), not the kernels' strides.
 */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "ref_f16.h"

static const double PI = 3.14159265358979323846;

/* ---- unary ------------------------------------------------------------------------------- */

static double ref_unary(Op op, double x) {
  switch (op) {
  case OP_NEG: return -x;
  case OP_EXP: return exp(x);
  case OP_LOG: return log(x);
  case OP_SQRT: return sqrt(x);
  case OP_RSQRT: return 1 / sqrt(x);
  case OP_RECIP: return 1 / x;
  case OP_ABS: return x < 0 ? -x : x;
  case OP_SQUARE: return x * x;
  case OP_TANH: return tanh(x);
  case OP_SIGMOID: return 1 / (1 + exp(-x));
  case OP_RELU: return x > 0 ? x : 0;
  case OP_GELU: return 0.5 * x * (1 + tanh(sqrt(2 / PI) * (x + 0.044715 * pow(x, 3))));
  case OP_SILU: return x / (1 + exp(-x));
  case OP_SIN: return sin(x);
  case OP_COS: return cos(x);
  default: return NAN;
  }
}

static void t_unary(Op op) {
  int positive = op == OP_LOG || op == OP_SQRT || op == OP_RSQRT;
  for (int rep = 0; rep < 4; rep++) {
    Case c;
    int64_t B = h_int(1, 3), S = h_int(1, 4);
    case_begin(&c, op, "x[B=%lld, 3, S=%lld]%s", (long long)B, (long long)S, rep == 3 ? " scalar" : "");
    Dim d[3] = {case_sym(&c, "B", B), dim_const(3), case_sym(&c, "S", S)};
    int x = case_in(&c, DT_F32, rep == 3 ? 0 : 3, d);
    for (int64_t i = 0; i < c.x[x].n; i++)
      h_f(&c.x[x])[i] = positive ? h_pos() : 4 * h_val(); /* x4: the tails of tanh, sigmoid, ... */
    case_op(&c, op, 1, &x);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, c.x[x].rank, c.x[x].shape);
      for (int64_t i = 0; i < ref.n; i++) h_f(&ref)[i] = ref_unary(op, h_f(&c.x[x])[i]);
      case_check(&c, &ref);
    }
    case_end(&c);
  }
  if (op == OP_NEG || op == OP_ABS || op == OP_SQUARE || op == OP_RELU) { /* exact on i32 */
    Case c;
    case_begin(&c, op, "i32[5, 2]");
    Dim d[2] = {dim_const(5), dim_const(2)};
    int x = case_in(&c, DT_I32, 2, d);
    for (int64_t i = 0; i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(-100, 100);
    case_op(&c, op, 1, &x);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_I32, 2, c.x[x].shape);
      for (int64_t i = 0; i < ref.n; i++) h_i(&ref)[i] = (int32_t)ref_unary(op, h_i(&c.x[x])[i]);
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- cast: rounding references independent of runtime/tensor.c ---------------------------- */


static void t_cast(Op op) {
  static const DType tos[] = {DT_F32, DT_BF16, DT_F16, DT_F64, DT_I32};
  for (int from_int = 0; from_int < 2; from_int++)
    for (int t = 0; t < COUNT_OF(tos); t++) {
      DType to = tos[t];
      Case c;
      case_begin(&c, op, "%s -> %s", from_int ? "i32" : "f32", dtype_name(to));
      Dim d[2] = {case_sym(&c, "B", h_int(1, 4)), dim_const(7)};
      int x = case_in(&c, from_int ? DT_I32 : DT_F32, 2, d);
      for (int64_t i = 0; i < c.x[x].n; i++) {
        if (from_int)
          h_i(&c.x[x])[i] = (int32_t)h_int(-70000, 70000);
        else /* scaled by 2^k: f16 subnormals (k < -14) and overflow (k > 15) included */
          h_f(&c.x[x])[i] = ldexp(h_val(), to == DT_I32 ? 6 : (int)h_int(-22, 17));
      }
      ir_set_enum(case_op(&c, op, 1, &x), "to", dtype_name(to));
      if (case_infer(&c)) {
        Tensor ref;
        h_alloc(&ref, to == DT_I32 ? DT_I32 : DT_F64, 2, c.x[x].shape);
        for (int64_t i = 0; i < ref.n; i++) {
          double v = from_int ? h_i(&c.x[x])[i] : h_f(&c.x[x])[i];
          if (to == DT_I32)
            h_i(&ref)[i] = (int32_t)v; /* C truncation toward zero */
          else
            h_f(&ref)[i] = to == DT_BF16 ? h_bf16(v) : to == DT_F16 ? ref_f16(v) : v;
        }
        case_check(&c, &ref);
      }
      case_end(&c);
    }
}

/* ---- binary and where: random NumPy-broadcast shapes ---------------------------------------- */

typedef struct Shapes {
  int r, rank[3];
  int64_t out[IR_MAX_RANK], s[3][IR_MAX_RANK];
} Shapes;

/* n operands; one has the full rank; every dim of an operand is the full one or 1. */
static Shapes rand_shapes(int n) {
  Shapes sh = {0};
  int64_t full[IR_MAX_RANK];
  sh.r = (int)h_int(0, 4);
  for (int i = 0; i < sh.r; i++) full[i] = h_int(2, 4), sh.out[i] = 1;
  int big = (int)h_int(0, n - 1);
  for (int k = 0; k < n; k++) {
    sh.rank[k] = k == big ? sh.r : (int)h_int(0, sh.r);
    for (int i = 0; i < sh.rank[k]; i++) {
      int o = sh.r - sh.rank[k] + i;
      sh.s[k][i] = h_int(0, 2) ? full[o] : 1;
      if (sh.s[k][i] != 1) sh.out[o] = full[o];
    }
  }
  return sh;
}

static int in_shape(Case *c, DType dt, int rank, const int64_t *s) {
  Dim d[IR_MAX_RANK];
  for (int i = 0; i < rank; i++) d[i] = dim_const(s[i]);
  return case_in(c, dt, rank, d);
}

static double ref_bin(Op op, double a, double b) {
  switch (op) {
  case OP_ADD: return a + b;
  case OP_SUB: return a - b;
  case OP_MUL: return a * b;
  case OP_DIV: return a / b;
  case OP_POW: return pow(a, b);
  case OP_MAXIMUM: return a > b ? a : b;
  case OP_MINIMUM: return a < b ? a : b;
  case OP_EQ: return a == b ? 1 : 0;
  case OP_NE: return a != b ? 1 : 0;
  case OP_LT: return a < b ? 1 : 0;
  case OP_LE: return a <= b ? 1 : 0;
  case OP_GELU_GRAD: { /* b gelu'(a), written with sech^2 u = 1 / cosh^2 u (ew.c: 1 - tanh^2 u) */
    const double k = 0.79788456080286535588, u = k * (a + 0.044715 * a * a * a);
    return b * (0.5 * (1 + tanh(u)) + 0.5 * a / (cosh(u) * cosh(u)) * k * (1 + 3 * 0.044715 * a * a));
  }
  default: return NAN;
  }
}

/* Fill operand k: comparisons draw from a small set so that ties occur; pow gets a > 0. */
static void fill_bin(Case *c, Op op, int k) {
  static const double few[4] = {-1, 0.5, 1, 1.5};
  for (int64_t i = 0; i < c->x[k].n; i++) {
    if (c->x[k].dt == DT_I32)
      h_i(&c->x[k])[i] = (int32_t)(op == OP_DIV && k == 1 ? (h_int(0, 1) ? h_int(1, 9) : -h_int(1, 9)) : h_int(-20, 20));
    else
      h_f(&c->x[k])[i] = (op_info(op)->flags & F_CMP) ? few[h_int(0, 3)] : op == OP_POW && k == 0 ? h_pos() : h_val();
  }
}

static void check_binary(Case *c, Op op, int a, int b, int r, const int64_t *out) {
  case_op(c, op, 2, (int[]){a, b});
  if (!case_infer(c)) return;
  int ints = c->x[a].dt == DT_I32, cmp = (op_info(op)->flags & F_CMP) != 0;
  Tensor ref;
  h_alloc(&ref, ints && !cmp ? DT_I32 : DT_F64, r, out);
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < ref.n; i++) {
    h_unflat(i, r, out, idx);
    int64_t ia = h_bidx(c->x[a].rank, c->x[a].shape, r, idx), ib = h_bidx(c->x[b].rank, c->x[b].shape, r, idx);
    if (ints) {
      int64_t u = h_i(&c->x[a])[ia], v = h_i(&c->x[b])[ib];
      int64_t w = op == OP_DIV ? u / v : (int64_t)ref_bin(op, (double)u, (double)v);
      if (cmp)
        h_f(&ref)[i] = (double)w;
      else
        h_i(&ref)[i] = (int32_t)w;
    } else {
      h_f(&ref)[i] = ref_bin(op, h_f(&c->x[a])[ia], h_f(&c->x[b])[ib]);
    }
  }
  case_check(c, &ref);
}

static void t_binary(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    Shapes sh = rand_shapes(2);
    Case c;
    char s1[100], s2[100];
    case_begin(&c, op, "%s with %s", rt_shape_str(s1, sizeof s1, sh.rank[0], sh.s[0]),
               rt_shape_str(s2, sizeof s2, sh.rank[1], sh.s[1]));
    int a = in_shape(&c, DT_F32, sh.rank[0], sh.s[0]), b = in_shape(&c, DT_F32, sh.rank[1], sh.s[1]);
    fill_bin(&c, op, a);
    fill_bin(&c, op, b);
    check_binary(&c, op, a, b, sh.r, sh.out);
    case_end(&c);
  }
  { /* symbolic: a[B, S, 4] with b[S, 1] */
    Case c;
    int64_t B = h_int(1, 3), S = h_int(2, 4);
    case_begin(&c, op, "[B=%lld, S=%lld, 4] with [S, 1]", (long long)B, (long long)S);
    Dim da[3] = {case_sym(&c, "B", B), case_sym(&c, "S", S), dim_const(4)}, db[2] = {da[1], dim_const(1)};
    int a = case_in(&c, DT_F32, 3, da), b = case_in(&c, DT_F32, 2, db);
    fill_bin(&c, op, a);
    fill_bin(&c, op, b);
    check_binary(&c, op, a, b, 3, (int64_t[]){B, S, 4});
    case_end(&c);
  }
  if (op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_MAXIMUM || op == OP_MINIMUM) {
    /* bf16 operands and result: operands read as bf16 values, the result rounded to bf16
     * (exact sums/products of values in [0.1, 2) fit in f32, so h_bf16 applies) */
    Case c;
    case_begin(&c, op, "bf16 [3, 4] with [4]");
    int a = in_shape(&c, DT_BF16, 2, (int64_t[]){3, 4}), b = in_shape(&c, DT_BF16, 1, (int64_t[]){4});
    case_op(&c, op, 2, (int[]){a, b});
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, DT_F64, 2, (int64_t[]){3, 4});
      for (int64_t i = 0; i < 12; i++)
        h_f(&ref)[i] = h_bf16(ref_bin(op, h_bf16(h_f(&c.x[a])[i]), h_bf16(h_f(&c.x[b])[i % 4])));
      case_check(&c, &ref);
    }
    case_end(&c);
  }
  if (op != OP_POW && op != OP_GELU_GRAD) { /* exact i32 arithmetic */
    Case c;
    case_begin(&c, op, "i32 [3, 4] with [4]");
    int a = in_shape(&c, DT_I32, 2, (int64_t[]){3, 4}), b = in_shape(&c, DT_I32, 1, (int64_t[]){4});
    fill_bin(&c, op, a);
    fill_bin(&c, op, b);
    check_binary(&c, op, a, b, 2, (int64_t[]){3, 4});
    case_end(&c);
  }
}

static void t_where(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    Shapes sh = rand_shapes(3);
    Case c;
    DType cdt = rep == 5 ? DT_I32 : DT_F32;
    char s1[100];
    case_begin(&c, op, "cond %s%s", rep == 5 ? "i32" : "f32", rt_shape_str(s1, sizeof s1, sh.rank[0], sh.s[0]));
    int k = in_shape(&c, cdt, sh.rank[0], sh.s[0]), a = in_shape(&c, DT_F32, sh.rank[1], sh.s[1]),
        b = in_shape(&c, DT_F32, sh.rank[2], sh.s[2]);
    for (int64_t i = 0; i < c.x[k].n; i++) {
      if (cdt == DT_I32)
        h_i(&c.x[k])[i] = (int32_t)h_int(-1, 1);
      else
        h_f(&c.x[k])[i] = h_int(0, 1) ? h_val() : 0.0;
    }
    case_op(&c, op, 3, (int[]){k, a, b});
    if (case_infer(&c)) {
      Tensor ref;
      int64_t idx[IR_MAX_RANK];
      h_alloc(&ref, DT_F64, sh.r, sh.out);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, sh.r, sh.out, idx);
        int64_t ik = h_bidx(sh.rank[0], sh.s[0], sh.r, idx);
        double cv = cdt == DT_I32 ? h_i(&c.x[k])[ik] : h_f(&c.x[k])[ik];
        int pick = cv != 0 ? a : b;
        h_f(&ref)[i] = h_f(&c.x[pick])[h_bidx(sh.rank[pick], sh.s[pick], sh.r, idx)];
      }
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- reductions ---------------------------------------------------------------------------- */

static void t_reduce(Op op) {
  for (int rep = 0; rep < 8; rep++) {
    int ints = rep == 7 && op != OP_REDUCE_MEAN;
    int r = (int)h_int(1, 4), keep = (int)h_int(0, 1), red[IR_MAX_RANK] = {0}, na = 0;
    int64_t s[IR_MAX_RANK], axes[IR_MAX_RANK], os[IR_MAX_RANK];
    Case c;
    case_begin(&c, op, "rep %d", rep);
    Dim d[IR_MAX_RANK];
    for (int i = 0; i < r; i++) {
      s[i] = h_int(1, 4);
      d[i] = i == 0 && rep == 0 ? case_sym(&c, "B", s[i]) : dim_const(s[i]);
    }
    while (na == 0)
      for (int i = 0; i < r; i++)
        if (h_int(0, 1)) {
          red[i] = 1;
          axes[na++] = h_int(0, 1) ? i - r : i; /* negative axes too */
        }
    int orank = 0;
    for (int i = 0; i < r; i++)
      if (!red[i] || keep) os[orank++] = red[i] ? 1 : s[i];
    snprintf(c.what + strlen(c.what), sizeof c.what - strlen(c.what), " rank %d, %d axes, keepdim %d%s", r, na,
             keep, ints ? ", i32" : "");
    int x = case_in(&c, ints ? DT_I32 : DT_F32, r, d);
    if (ints)
      for (int64_t i = 0; i < c.x[x].n; i++) h_i(&c.x[x])[i] = (int32_t)h_int(-50, 50);
    IrNode *n = case_op(&c, op, 1, &x);
    ir_set_ints(&c.p, n, "axes", axes, na);
    ir_set_i(n, "keepdim", keep);
    if (case_infer(&c)) {
      Tensor ref;
      h_alloc(&ref, ints ? DT_I32 : DT_F64, orank, os);
      double *acc = calloc((size_t)ref.n, sizeof *acc);
      int64_t *cnt = calloc((size_t)ref.n, sizeof *cnt);
      int64_t idx[IR_MAX_RANK], oidx[IR_MAX_RANK];
      for (int64_t i = 0; i < c.x[x].n; i++) {
        h_unflat(i, r, s, idx);
        int o = 0;
        for (int a = 0; a < r; a++)
          if (!red[a] || keep) oidx[o++] = red[a] ? 0 : idx[a];
        int64_t f = h_flat(orank, os, oidx);
        double v = ints ? h_i(&c.x[x])[i] : h_f(&c.x[x])[i];
        acc[f] = op == OP_REDUCE_MAX ? (cnt[f] == 0 || v > acc[f] ? v : acc[f]) : acc[f] + v;
        cnt[f]++;
      }
      for (int64_t f = 0; f < ref.n; f++) {
        double v = op == OP_REDUCE_MEAN ? acc[f] / (double)cnt[f] : acc[f];
        if (ints)
          h_i(&ref)[f] = (int32_t)v;
        else
          h_f(&ref)[f] = v;
      }
      free(acc);
      free(cnt);
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

/* ---- matmul -------------------------------------------------------------------------------- */

/* matmul's definition fixes the order of its f64 sums (runtime/interp/matmul.c), so its result
 * must equal this reference bit for bit, at f64 and rounded once to f32; N up to 11 covers the
 * interpreter's four-column blocks and their remainders. */
static void matmul_exact(Case *c, const Tensor *ref) {
  for (int f = 0; f < 2; f++) {
    Tensor out = {0};
    InterpCx cx;
    if (!case_run(c, f ? DT_F32 : DT_F64, &out, &cx)) continue; /* case_check reports it */
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < ref->n && out.n == ref->n; i++) {
      double want = f ? (double)(float)h_f(ref)[i] : h_f(ref)[i];
      if (rt_tensor_get(&out, i) != want && bad++ == 0) first = i;
    }
    if (bad || out.n != ref->n)
      h_fail("%s [%s]: %lld elements differ from the reference's sums in order (first at %lld)", c->what,
             f ? "f32" : "f64", (long long)bad, (long long)first);
    rt_tensor_free(&out);
  }
}

static void t_matmul(Op op) {
  for (int rep = 0; rep < 12; rep++) {
    int64_t M = h_int(1, 5), K = h_int(1, 9), N = h_int(1, 11), full[2] = {h_int(2, 3), h_int(2, 3)};
    int ta = (int)h_int(0, 1), tb = (int)h_int(0, 1), sym = rep == 0;
    int nba = (int)h_int(0, 2), nbb = (int)h_int(0, 2), nb = nba > nbb ? nba : nbb;
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], so[IR_MAX_RANK];
    for (int i = 0; i < nb; i++) so[i] = 1;
    for (int i = 0; i < nba; i++) sa[i] = h_int(0, 2) ? full[nb - nba + i] : 1;
    for (int i = 0; i < nbb; i++) sb[i] = h_int(0, 2) ? full[nb - nbb + i] : 1;
    for (int i = 0; i < nba; i++) so[nb - nba + i] = sa[i] > so[nb - nba + i] ? sa[i] : so[nb - nba + i];
    for (int i = 0; i < nbb; i++) so[nb - nbb + i] = sb[i] > so[nb - nbb + i] ? sb[i] : so[nb - nbb + i];
    if (sym) nba = 0, nbb = 0, nb = 0, ta = 0; /* a[S, K] with S symbolic */
    sa[nba] = ta ? K : M, sa[nba + 1] = ta ? M : K;
    sb[nbb] = tb ? N : K, sb[nbb + 1] = tb ? K : N;
    so[nb] = M, so[nb + 1] = N;
    Case c;
    char s1[100], s2[100];
    case_begin(&c, op, "%s @ %s ta=%d tb=%d%s", rt_shape_str(s1, sizeof s1, nba + 2, sa),
               rt_shape_str(s2, sizeof s2, nbb + 2, sb), ta, tb, sym ? " (M symbolic)" : "");
    Dim da[IR_MAX_RANK], db[IR_MAX_RANK];
    for (int i = 0; i < nba + 2; i++) da[i] = dim_const(sa[i]);
    for (int i = 0; i < nbb + 2; i++) db[i] = dim_const(sb[i]);
    if (sym) da[0] = case_sym(&c, "S", M);
    int a = case_in(&c, DT_F32, nba + 2, da), b = case_in(&c, DT_F32, nbb + 2, db);
    IrNode *n = case_op(&c, op, 2, (int[]){a, b});
    ir_set_i(n, "ta", ta);
    ir_set_i(n, "tb", tb);
    if (case_infer(&c)) {
      Tensor ref;
      int64_t idx[IR_MAX_RANK], ia[IR_MAX_RANK], ib[IR_MAX_RANK];
      h_alloc(&ref, DT_F64, nb + 2, so);
      for (int64_t i = 0; i < ref.n; i++) {
        h_unflat(i, nb + 2, so, idx);
        int64_t m = idx[nb], nn = idx[nb + 1];
        double s = 0;
        for (int64_t kk = 0; kk < K; kk++) {
          /* a's index: its batch dims (broadcast) then (m, k) or (k, m) */
          for (int d = 0; d < nba; d++) ia[d] = sa[d] == 1 ? 0 : idx[nb - nba + d];
          for (int d = 0; d < nbb; d++) ib[d] = sb[d] == 1 ? 0 : idx[nb - nbb + d];
          ia[nba] = ta ? kk : m, ia[nba + 1] = ta ? m : kk;
          ib[nbb] = tb ? nn : kk, ib[nbb + 1] = tb ? kk : nn;
          s += h_f(&c.x[a])[h_flat(nba + 2, sa, ia)] * h_f(&c.x[b])[h_flat(nbb + 2, sb, ib)];
        }
        h_f(&ref)[i] = s;
      }
      matmul_exact(&c, &ref);
      case_check(&c, &ref);
    }
    case_end(&c);
  }
}

void register_ew(OpTest *t) {
  static const Op unary[] = {OP_NEG,  OP_EXP,     OP_LOG,  OP_SQRT, OP_RSQRT, OP_RECIP, OP_ABS, OP_SQUARE,
                             OP_TANH, OP_SIGMOID, OP_RELU, OP_GELU, OP_SILU,  OP_SIN,   OP_COS};
  static const Op binary[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_MAXIMUM,
                              OP_MINIMUM, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GELU_GRAD};
  for (int i = 0; i < COUNT_OF(unary); i++) t[unary[i]] = t_unary;
  for (int i = 0; i < COUNT_OF(binary); i++) t[binary[i]] = t_binary;
  t[OP_CAST] = t_cast;
  t[OP_WHERE] = t_where;
  t[OP_REDUCE_SUM] = t[OP_REDUCE_MEAN] = t[OP_REDUCE_MAX] = t_reduce;
  t[OP_MATMUL] = t_matmul;
}
