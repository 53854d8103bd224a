/* ops_table.c — THE op -> kernel-expression table: one entry per IR op, generated from
 * ir/ops.def (an op without an entry RULE_<ID> below does not compile). Each rule builds the
 * op's value from its operands' KIR expressions with the primitive ops of kir.h, mirroring
 * the interpreter's formula operation for operation (runtime/interp/ew.c, reduce.c,
 * norm.c), so an f32 kernel rounds where the f32 interpreter rounds except inside composite
 * ops (sigmoid, gelu, rsqrt, ... compute in f32 step by step; the interpreter in f64).
 * Both printers read only the KIR these rules build.
 */
#include "rules.h"

static int fail(CgRuleCx *c, const char *msg) {
  snprintf(c->err, c->errlen, "%s: %s", op_info(c->n->op)->name, msg);
  return -1;
}

static int op1(CgRuleCx *c, KOp op, int a) { return kir_op(c->k, op, c->t, a, -1, -1); }
static int op2(CgRuleCx *c, KOp op, int a, int b) { return kir_op(c->k, op, c->t, a, b, -1); }
static int cst(CgRuleCx *c, double v) { return kir_const(c->k, c->t, v); }
static int is_int(CgRuleCx *c) { return c->xt[0] == KT_I32; }

/* ---- elementwise ------------------------------------------------------------------------- */

/* float-only unary op through one primitive */
static int float1(CgRuleCx *c, KOp op) {
  if (is_int(c)) return fail(c, "needs a float operand");
  return op1(c, op, c->x[0]);
}

static int cg_neg(CgRuleCx *c) { return op1(c, KOP_NEG, c->x[0]); }
static int cg_exp(CgRuleCx *c) { return float1(c, KOP_EXP); }
static int cg_log(CgRuleCx *c) { return float1(c, KOP_LOG); }
static int cg_sqrt(CgRuleCx *c) { return float1(c, KOP_SQRT); }
static int cg_tanh(CgRuleCx *c) { return float1(c, KOP_TANH); }
static int cg_sin(CgRuleCx *c) { return float1(c, KOP_SIN); }
static int cg_cos(CgRuleCx *c) { return float1(c, KOP_COS); }
static int cg_abs(CgRuleCx *c) { return op1(c, KOP_ABS, c->x[0]); }
static int cg_square(CgRuleCx *c) { return op2(c, KOP_MUL, c->x[0], c->x[0]); }
/* relu(x) = x > 0 ? x : (isnan(x) ? x : 0) = max(x, 0) with max's NaN rule */
static int cg_relu(CgRuleCx *c) { return op2(c, KOP_MAX, c->x[0], cst(c, 0)); }

/* rsqrt = 1 / sqrt(x); recip = 1 / x */
static int cg_rsqrt(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  return op2(c, KOP_DIV, cst(c, 1), op1(c, KOP_SQRT, c->x[0]));
}
static int cg_recip(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  return op2(c, KOP_DIV, cst(c, 1), c->x[0]);
}

/* sigmoid(x) = x >= 0 ? 1 / (1 + e) : e / (1 + e) with e = exp(-|x|), which is the
 * interpreter's exp(-x) resp. exp(x) without evaluating both exponentials */
static int sigmoid(CgRuleCx *c, int x) {
  int e = op1(c, KOP_EXP, op1(c, KOP_NEG, op1(c, KOP_ABS, x)));
  int den = op2(c, KOP_ADD, cst(c, 1), e);
  int pos = op2(c, KOP_DIV, cst(c, 1), den), neg = op2(c, KOP_DIV, e, den);
  return kir_op(c->k, KOP_SELECT, c->t, op2(c, KOP_LE, cst(c, 0), x), pos, neg);
}
static int cg_sigmoid(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  return sigmoid(c, c->x[0]);
}
static int cg_silu(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  return op2(c, KOP_MUL, c->x[0], sigmoid(c, c->x[0]));
}

/* gelu, tanh form, evaluated in the interpreter's order:
 *   0.5 * x * (1 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x))) */
static int cg_gelu(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  int x = c->x[0];
  int cube = op2(c, KOP_MUL, op2(c, KOP_MUL, op2(c, KOP_MUL, cst(c, 0.044715), x), x), x);
  int in = op2(c, KOP_MUL, cst(c, 0.79788456080286535588), op2(c, KOP_ADD, x, cube));
  return op2(c, KOP_MUL, op2(c, KOP_MUL, cst(c, 0.5), x), op2(c, KOP_ADD, cst(c, 1), op1(c, KOP_TANH, in)));
}

/* gelu_grad x, dy = dy * gelu'(x): with t = tanh(k (x + a x^3)),
 * gelu' = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 a x^2) */
static int cg_gelu_grad(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  int x = c->x[0], x2 = op2(c, KOP_MUL, x, x);
  int in = op2(c, KOP_MUL, cst(c, 0.79788456080286535588), op2(c, KOP_ADD, x, op2(c, KOP_MUL, op2(c, KOP_MUL, cst(c, 0.044715), x2), x)));
  int t = op1(c, KOP_TANH, in);
  int left = op2(c, KOP_MUL, cst(c, 0.5), op2(c, KOP_ADD, cst(c, 1), t));
  int du = op2(c, KOP_MUL, cst(c, 0.79788456080286535588), op2(c, KOP_ADD, cst(c, 1), op2(c, KOP_MUL, cst(c, 3 * 0.044715), x2)));
  int right = op2(c, KOP_MUL, op2(c, KOP_MUL, op2(c, KOP_MUL, cst(c, 0.5), x), op2(c, KOP_SUB, cst(c, 1), op2(c, KOP_MUL, t, t))), du);
  return op2(c, KOP_MUL, c->x[1], op2(c, KOP_ADD, left, right));
}

static int cg_cast(CgRuleCx *c) {
  if (c->t == c->xt[0]) return c->x[0];
  return op1(c, KOP_CAST, c->x[0]);
}

static int bin(CgRuleCx *c, KOp op) { return op2(c, op, c->x[0], c->x[1]); }
static int cg_add(CgRuleCx *c) { return bin(c, KOP_ADD); }
static int cg_sub(CgRuleCx *c) { return bin(c, KOP_SUB); }
static int cg_mul(CgRuleCx *c) { return bin(c, KOP_MUL); }
static int cg_div(CgRuleCx *c) { return bin(c, KOP_DIV); }
static int cg_pow(CgRuleCx *c) { return is_int(c) ? fail(c, "needs a float operand") : bin(c, KOP_POW); }
static int cg_maximum(CgRuleCx *c) { return bin(c, KOP_MAX); }
static int cg_minimum(CgRuleCx *c) { return bin(c, KOP_MIN); }
static int cg_eq(CgRuleCx *c) { return bin(c, KOP_EQ); }
static int cg_ne(CgRuleCx *c) { return bin(c, KOP_NE); }
static int cg_lt(CgRuleCx *c) { return bin(c, KOP_LT); }
static int cg_le(CgRuleCx *c) { return bin(c, KOP_LE); }
static int cg_where(CgRuleCx *c) { return kir_op(c->k, KOP_SELECT, c->t, c->x[0], c->x[1], c->x[2]); }
static int cg_identity(CgRuleCx *c) { return c->x[0]; } /* expand, transpose: indices only */

/* dropout {p, seed}: the identity unless the run trains; then element i (row-major in the
 * node's shape) is kept iff u_i >= p, u_i = rng_uniform(rng_key(run seed ^ seed, step), i),
 * and a kept element is x / (1 - p) computed in f64 and rounded once, as the interpreter */
static int cg_dropout(CgRuleCx *c) {
  double p = ir_get_f(c->n, "p");
  if (is_int(c)) return fail(c, "needs a float operand");
  if (!(p >= 0 && p <= 1)) return fail(c, "p must be in [0, 1]");
  Kir *k = c->k;
  int x = c->x[0], x64 = c->t == KT_F64 ? x : kir_op(k, KOP_CAST, KT_F64, x, -1, -1);
  int scaled = kir_op(k, KOP_DIV, KT_F64, x64, kir_const(k, KT_F64, 1.0 - p), -1);
  if (c->t != KT_F64) scaled = op1(c, KOP_CAST, scaled);
  int keep = kir_op(k, KOP_LE, KT_F64, kir_const(k, KT_F64, p), c->rand, -1);
  int drop = kir_op(k, KOP_SELECT, c->t, keep, scaled, cst(c, 0));
  return kir_op(k, KOP_SELECT, c->t, c->training, drop, x);
}

/* ---- sources ------------------------------------------------------------------------------ */

static int cg_const(CgRuleCx *c) { return cst(c, ir_get_f(c->n, "value")); }
static int cg_iota(CgRuleCx *c) {
  if (c->iota_axis < 0) return cst(c, 0);
  return kir_expr(c->k, (KExpr){.kind = KE_IOTA, .t = c->t, .a = {c->iota_axis, -1, -1}});
}

/* ---- reductions and norms: x is in the iteration space, reduced along the reduced axes -- */

static int count(CgRuleCx *c) { return kir_expr(c->k, (KExpr){.kind = KE_COUNT, .t = c->t, .a = {-1, -1, -1}}); }
static int cg_reduce_sum(CgRuleCx *c) { return kir_acc(c->k, KACC_SUM, c->x[0]); }
static int cg_reduce_max(CgRuleCx *c) { return kir_acc(c->k, KACC_MAX, c->x[0]); }
static int cg_reduce_mean(CgRuleCx *c) {
  if (is_int(c)) return fail(c, "needs a float operand");
  return op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, c->x[0]), count(c));
}

/* softmax: m = max x, z = sum exp(x - m), y = exp(x - m) / z; log_softmax: x - m - log z.
 * (max propagates NaN where the interpreter's fmax skips it: either way a NaN in the line
 * makes z and so every result of the line NaN.) */
static int softmax(CgRuleCx *c, int logp) {
  int x = c->x[0];
  int d = op2(c, KOP_SUB, x, kir_acc(c->k, KACC_MAX, x));
  int e = op1(c, KOP_EXP, d);
  int z = kir_acc(c->k, KACC_SUM, e);
  return logp ? op2(c, KOP_SUB, d, op1(c, KOP_LOG, z)) : op2(c, KOP_DIV, e, z);
}
static int cg_softmax(CgRuleCx *c) { return softmax(c, 0); }
static int cg_log_softmax(CgRuleCx *c) { return softmax(c, 1); }

/* layernorm: mu = sum(x) / C, var = sum((x - mu)^2) / C, y = (x - mu) / sqrt(var + eps)
 * * gain + bias (two passes, as the interpreter: no E[x^2] - mu^2 cancellation) */
static int cg_layernorm(CgRuleCx *c) {
  int x = c->x[0], n = count(c);
  int d = op2(c, KOP_SUB, x, op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, x), n));
  int var = op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, op2(c, KOP_MUL, d, d)), n);
  int inv = op2(c, KOP_DIV, cst(c, 1), op1(c, KOP_SQRT, op2(c, KOP_ADD, var, cst(c, ir_get_f(c->n, "eps")))));
  int y = op2(c, KOP_MUL, d, inv);
  if (c->nx > 1) y = op2(c, KOP_MUL, y, c->x[1]);
  if (c->nx > 2) y = op2(c, KOP_ADD, y, c->x[2]);
  return y;
}

/* rmsnorm: y = x / sqrt(sum(x^2) / C + eps) * gain */
static int cg_rmsnorm(CgRuleCx *c) {
  int x = c->x[0];
  int ms = op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, op2(c, KOP_MUL, x, x)), count(c));
  int inv = op2(c, KOP_DIV, cst(c, 1), op1(c, KOP_SQRT, op2(c, KOP_ADD, ms, cst(c, ir_get_f(c->n, "eps")))));
  int y = op2(c, KOP_MUL, x, inv);
  return c->nx > 1 ? op2(c, KOP_MUL, y, c->x[1]) : y;
}

/* layernorm_grad / rmsnorm_grad: x, dy[, gain]. The statistics as layernorm's / rmsnorm's,
 * then gh = dy * gain, dx = r (gh - mean(gh) - xh mean(gh xh)) (rms: no mean(gh)); sum(gh)
 * reads no accumulator, so it shares the first pass with sum(x) */
static int norm_grad(CgRuleCx *c, int centered) {
  int x = c->x[0], n = count(c);
  int d = centered ? op2(c, KOP_SUB, x, op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, x), n)) : x;
  int var = op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, op2(c, KOP_MUL, d, d)), n);
  int inv = op2(c, KOP_DIV, cst(c, 1), op1(c, KOP_SQRT, op2(c, KOP_ADD, var, cst(c, ir_get_f(c->n, "eps")))));
  int xh = op2(c, KOP_MUL, d, inv);
  int gh = c->nx > 2 ? op2(c, KOP_MUL, c->x[1], c->x[2]) : c->x[1];
  int in = op2(c, KOP_SUB, gh, op2(c, KOP_MUL, xh, op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, op2(c, KOP_MUL, gh, xh)), n)));
  if (centered) in = op2(c, KOP_SUB, in, op2(c, KOP_DIV, kir_acc(c->k, KACC_SUM, gh), n));
  return op2(c, KOP_MUL, inv, in);
}
static int cg_layernorm_grad(CgRuleCx *c) { return norm_grad(c, 1); }
static int cg_rmsnorm_grad(CgRuleCx *c) { return norm_grad(c, 0); }

/* ---- the table ------------------------------------------------------------------------------ */
#define NO(why) {CG_NONE, NULL, why}
#define RULE_INPUT NO("a graph input: the runtime passes its value as a buffer")
#define RULE_PARAM NO("a parameter: the runtime passes its value as a buffer")
#define RULE_CONST {CG_SOURCE, cg_const, NULL}
#define RULE_IOTA {CG_SOURCE, cg_iota, NULL}
#define RULE_NEG {CG_EW, cg_neg, NULL}
#define RULE_EXP {CG_EW, cg_exp, NULL}
#define RULE_LOG {CG_EW, cg_log, NULL}
#define RULE_SQRT {CG_EW, cg_sqrt, NULL}
#define RULE_RSQRT {CG_EW, cg_rsqrt, NULL}
#define RULE_RECIP {CG_EW, cg_recip, NULL}
#define RULE_ABS {CG_EW, cg_abs, NULL}
#define RULE_SQUARE {CG_EW, cg_square, NULL}
#define RULE_TANH {CG_EW, cg_tanh, NULL}
#define RULE_SIGMOID {CG_EW, cg_sigmoid, NULL}
#define RULE_RELU {CG_EW, cg_relu, NULL}
#define RULE_GELU {CG_EW, cg_gelu, NULL}
#define RULE_SILU {CG_EW, cg_silu, NULL}
#define RULE_SIN {CG_EW, cg_sin, NULL}
#define RULE_COS {CG_EW, cg_cos, NULL}
#define RULE_CAST {CG_EW, cg_cast, NULL}
#define RULE_ADD {CG_EW, cg_add, NULL}
#define RULE_SUB {CG_EW, cg_sub, NULL}
#define RULE_MUL {CG_EW, cg_mul, NULL}
#define RULE_GELU_GRAD {CG_EW, cg_gelu_grad, NULL}
#define RULE_DIV {CG_EW, cg_div, NULL}
#define RULE_POW {CG_EW, cg_pow, NULL}
#define RULE_MAXIMUM {CG_EW, cg_maximum, NULL}
#define RULE_MINIMUM {CG_EW, cg_minimum, NULL}
#define RULE_EQ {CG_EW, cg_eq, NULL}
#define RULE_NE {CG_EW, cg_ne, NULL}
#define RULE_LT {CG_EW, cg_lt, NULL}
#define RULE_LE {CG_EW, cg_le, NULL}
#define RULE_WHERE {CG_EW, cg_where, NULL}
#define RULE_REDUCE_SUM {CG_REDUCE, cg_reduce_sum, NULL}
#define RULE_REDUCE_MEAN {CG_REDUCE, cg_reduce_mean, NULL}
#define RULE_REDUCE_MAX {CG_REDUCE, cg_reduce_max, NULL}
#define RULE_MATMUL NO("matrix products go to BLAS / cuBLAS (runtime)")
#define RULE_RESHAPE NO("a view: the runtime reinterprets the buffer (no kernel)")
#define RULE_EXPAND {CG_EW, cg_identity, NULL}
#define RULE_TRANSPOSE {CG_TRANSPOSE, cg_identity, NULL}
#define RULE_SLICE {CG_MOVE, NULL, NULL}
#define RULE_CONCAT {CG_MOVE, NULL, NULL}
#define RULE_GATHER NO("data-dependent indices: not an affine access")
#define RULE_PAD {CG_MOVE, NULL, NULL}
#define RULE_SCATTER_ADD NO("data-dependent indices with accumulation: not an affine access")
#define RULE_TRIM_GATHER NO("data-dependent rows (a source's index map): not an affine access")
#define RULE_UNTRIM_SCATTER NO("data-dependent rows (a source's index map): not an affine access")
#define RULE_SOFTMAX {CG_NORM, cg_softmax, NULL}
#define RULE_LOG_SOFTMAX {CG_NORM, cg_log_softmax, NULL}
#define RULE_LAYERNORM {CG_NORM, cg_layernorm, NULL}
#define RULE_RMSNORM {CG_NORM, cg_rmsnorm, NULL}
#define RULE_LAYERNORM_GRAD {CG_NORM, cg_layernorm_grad, NULL}
#define RULE_RMSNORM_GRAD {CG_NORM, cg_rmsnorm_grad, NULL}
#define RULE_GROUPNORM NO("splits the last axis into groups: needs split axes, not lowered yet")
#define RULE_CROSS_ENTROPY NO("reads logits at data-dependent targets and reduces to a scalar mean")
#define RULE_CROSS_ENTROPY_GRAD NO("a row kernel: the row's softmax statistics before its elements")
#define RULE_DROPOUT {CG_EW, cg_dropout, NULL}
#define RULE_SOFTMAX_ATTENTION NO("attention is a runtime kernel (matrix products inside)")
#define RULE_SOFTMAX_ATTENTION_GRAD NO("attention is a runtime kernel (matrix products inside)")
#define RULE_LINEAR_ATTENTION NO("attention is a runtime kernel (matrix products and scans)")
#define RULE_LINEAR_ATTENTION_STATE NO("attention is a runtime kernel (matrix products and scans)")
#define RULE_LINEAR_ATTENTION_GRAD NO("attention is a runtime kernel (matrix products and scans)")
#define RULE_ALLREDUCE NO("a collective: the runtime's communication layer")
#define RULE_REDUCE_SCATTER NO("a collective: the runtime's communication layer")
#define RULE_ALLGATHER NO("a collective: the runtime's communication layer")
#define RULE_BROADCAST NO("a collective: the runtime's communication layer")
#define RULE_OUTER_SYNC NO("a collective: the runtime's communication layer")
#define RULE_ALLREDUCE_START NO("a collective: the runtime's communication layer")
#define RULE_ALLREDUCE_DONE NO("a collective: the runtime's communication layer")
#define RULE_ALLREDUCE_START NO("a collective: the runtime's communication layer")
#define RULE_ALLREDUCE_DONE NO("a collective: the runtime's communication layer")

static const CgOpRule rules[OP_COUNT] = {
#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) [OP_##ID] = RULE_##ID,
#include "ops.def"
};

const CgOpRule *cg_rule(Op op) { return &rules[op]; }

int cg_op_supported(Op op, const char **why) {
  if ((unsigned)op >= OP_COUNT) {
    if (why) *why = "not an op";
    return 0;
  }
  if (rules[op].cls == CG_NONE && why) *why = rules[op].why;
  return rules[op].cls != CG_NONE;
}
