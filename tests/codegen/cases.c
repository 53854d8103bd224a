/* cases.c — builds the codegen test cases (see cases.h): one small graph per case, built
 * with the IR builder and typed by the IR shape rules, the group being every non-input node.
 */
#include "cases.h"

#include <stdlib.h>

#include "rng.h"

uint64_t cg_cases_seed(void) {
  const char *s = getenv("MAMC_TEST_SEED");
  return s ? strtoull(s, NULL, 10) : 20240603u;
}

/* ---- building ------------------------------------------------------------------------------ */

static void begin(CgCase *c, Op op, int single, const char *fmt, ...) MAMC_PRINTF(4, 5);
static void begin(CgCase *c, Op op, int single, const char *fmt, ...) {
  memset(c, 0, sizeof *c);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->name, sizeof c->name, fmt, ap);
  va_end(ap);
  arena_init(&c->arena);
  ir_program_init(&c->p, &c->arena);
  ir_sym(&c->p, "B");
  ir_sym(&c->p, "S");
  ir_sym(&c->p, "L");
  ir_graph_add(&c->p, "t", 0, NULL);
  c->g = &c->p.graphs.v[0];
  c->nbind = 2;
  int64_t b0[4] = {2, 3, 5, 0}, b1[4] = {4, 37, 9, 0}; /* 42 and 1036 elements of [B, S, 7] */
  memcpy(c->bind[0], b0, sizeof b0);
  memcpy(c->bind[1], b1, sizeof b1);
  c->single = single;
  c->op = op;
}

/* rows of odd lengths: L = 1, 3, 17, 1000 under four bindings of one kernel */
static void row_bindings(CgCase *c) {
  int64_t b[4][4] = {{3, 2, 1, 0}, {2, 3, 3, 0}, {4, 2, 17, 0}, {2, 2, 1000, 0}};
  c->nbind = 4;
  memcpy(c->bind, b, sizeof b);
}

static const Dim dB = {0, 1, 0}, dS = {1, 1, 0}, dL = {2, 1, 0};
static Dim K(int64_t v) { return dim_const(v); }

static int in(CgCase *c, DType dt, Domain dom, int rank, Dim d0, Dim d1, Dim d2) {
  IrType t = {.dt = dt, .rank = rank, .d = {d0, d1, d2}};
  char name[16];
  snprintf(name, sizeof name, "x%d", c->g->nodes.n);
  int id = ir_input_add(&c->p, c->g, name, t);
  c->dom[id] = dom;
  return id;
}
#define IN1(c, dt, dom, a) in(c, dt, dom, 1, a, K(0), K(0))
#define IN2(c, dt, dom, a, b) in(c, dt, dom, 2, a, b, K(0))
#define IN3(c, dt, dom, a, b, d) in(c, dt, dom, 3, a, b, d)

static int add(CgCase *c, Op op, int a, int b, int d) {
  int ins[3] = {a, b, d}, n = d >= 0 ? 3 : b >= 0 ? 2 : a >= 0 ? 1 : 0;
  return ir_node_add(&c->p, c->g, op, n, ins);
}
static IrNode *NODE(CgCase *c, int id) { return &c->g->nodes.v[id]; }

/* infer the type and put the node in the group */
static int fin(CgCase *c, int id) {
  char err[256];
  if (!ir_infer(&c->p, c->g, id, err, sizeof err)) die("case %s: %s", c->name, err);
  c->nodes[c->nn++] = id;
  return id;
}
static int op1(CgCase *c, Op op, int a) { return fin(c, add(c, op, a, -1, -1)); }
static int op2(CgCase *c, Op op, int a, int b) { return fin(c, add(c, op, a, b, -1)); }

static int reduce(CgCase *c, Op op, int x, const int64_t *axes, int n, int keep) {
  int id = add(c, op, x, -1, -1);
  ir_set_ints(&c->p, NODE(c, id), "axes", axes, n);
  ir_set_i(NODE(c, id), "keepdim", keep);
  return fin(c, id);
}

static int cconst(CgCase *c, DType dt, double v) {
  int id = add(c, OP_CONST, -1, -1, -1);
  NODE(c, id)->type = (IrType){.dt = dt, .rank = 0};
  ir_set_f(NODE(c, id), "value", v);
  return fin(c, id);
}

static void done(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  fn(c, ctx);
  (*count)++;
  arena_free(&c->arena);
}

/* ---- families ------------------------------------------------------------------------------ */

static const DType dts[3] = {DT_F32, DT_F64, DT_I32};

static int int_ok(Op op) { /* ops the interpreter runs on i32 */
  switch (op) {
  case OP_NEG: case OP_ABS: case OP_SQUARE: case OP_RELU: case OP_ADD: case OP_SUB: case OP_MUL:
  case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_EQ: case OP_NE: case OP_LT: case OP_LE:
    return 1;
  default: return 0;
  }
}

static void ew_ops(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  for (int op = 0; op < OP_COUNT; op++) {
    unsigned f = op_info((Op)op)->flags;
    if (!(f & F_EW) || !cg_op_supported((Op)op, NULL) || op == OP_CAST || op == OP_WHERE || op == OP_DROPOUT) continue;
    for (int di = 0; di < 3; di++) {
      DType dt = dts[di];
      if (dt == DT_I32 && !int_ok((Op)op)) continue;
      Domain dom = op == OP_LOG || op == OP_SQRT || op == OP_RSQRT ? DOM_POS : DOM_ANY;
      if (dt == DT_I32) dom = DOM_SMALL;
      if (f & F_UNARY) {
        begin(c, (Op)op, 1, "%s %s[B, S, 7]", op_info((Op)op)->name, dtype_name(dt));
        op1(c, (Op)op, IN3(c, dt, dom, dB, dS, K(7)));
        done(c, fn, ctx, count);
        continue;
      }
      /* binary: same shapes; a vector over the last axis; [S, 1] with [B, 1, 7] */
      for (int v = 0; v < 3; v++) {
        static const char *vs[] = {"[B, S, 7] . [B, S, 7]", "[B, S, 7] . [7]", "[S, 1] . [B, 1, 7]"};
        begin(c, (Op)op, 1, "%s %s %s", op_info((Op)op)->name, dtype_name(dt), vs[v]);
        Domain da = op == OP_POW ? DOM_POS : (f & F_CMP) ? DOM_SMALL : dom;
        Domain db = dt == DT_I32 && op == OP_DIV ? DOM_NONZERO_INT : (f & F_CMP) ? DOM_SMALL : dom == DOM_POS ? DOM_ANY : dom;
        int a = v == 2 ? IN2(c, dt, da, dS, K(1)) : IN3(c, dt, da, dB, dS, K(7));
        int b = v == 0 ? IN3(c, dt, db, dB, dS, K(7)) : v == 1 ? IN1(c, dt, db, K(7)) : IN3(c, dt, db, dB, K(1), K(7));
        op2(c, (Op)op, a, b);
        done(c, fn, ctx, count);
      }
    }
  }
  /* libm functions over rows of up to 1000 (row_bindings): their vector and scalar forms round
   * differently, so a split inside a row must keep the vector loop's steps (cg_split_row) */
  static const Op lm[] = {OP_EXP, OP_TANH, OP_SIN, OP_GELU};
  for (int i = 0; i < (int)COUNT_OF(lm); i++) {
    begin(c, lm[i], 1, "%s f32[B, L] (long rows)", op_info(lm[i])->name);
    row_bindings(c);
    op1(c, lm[i], IN2(c, DT_F32, DOM_ANY, dB, dL));
    done(c, fn, ctx, count);
  }
  /* where: a mask [B, S, 1], operands [B, S, 7] and [7] */
  for (int di = 0; di < 3; di++) {
    begin(c, OP_WHERE, 1, "where %s", dtype_name(dts[di]));
    int m = IN3(c, DT_F32, DOM_MASK, dB, dS, K(1));
    int a = IN3(c, dts[di], DOM_SMALL, dB, dS, K(7)), b = IN1(c, dts[di], DOM_SMALL, K(7));
    fin(c, add(c, OP_WHERE, m, a, b));
    done(c, fn, ctx, count);
  }
  /* cast between every pair of f32, f64, i32 */
  static const char *tos[3] = {"f32", "f64", "i32"};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) {
      begin(c, OP_CAST, 1, "cast %s -> %s", dtype_name(dts[a]), tos[b]);
      int x = IN3(c, dts[a], dts[a] == DT_I32 ? DOM_SMALL : DOM_ANY, dB, dS, K(7));
      int id = add(c, OP_CAST, x, -1, -1);
      ir_set_enum(NODE(c, id), "to", tos[b]);
      fin(c, id);
      done(c, fn, ctx, count);
    }
}

static void sources_and_moves(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  begin(c, OP_CONST, 0, "const f32 2.5 + x");
  int x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  op2(c, OP_ADD, x, cconst(c, DT_F32, 2.5));
  done(c, fn, ctx, count);

  begin(c, OP_IOTA, 0, "iota f32[B, S, 7] axis 1 + x");
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  int io = add(c, OP_IOTA, -1, -1, -1);
  NODE(c, io)->type = (IrType){.dt = DT_F32, .rank = 3, .d = {dB, dS, K(7)}};
  ir_set_i(NODE(c, io), "axis", 1);
  op2(c, OP_ADD, x, fin(c, io));
  done(c, fn, ctx, count);

  begin(c, OP_IOTA, 0, "iota i32[B, S, 7] axis -1 alone (no inputs)");
  io = add(c, OP_IOTA, -1, -1, -1);
  NODE(c, io)->type = (IrType){.dt = DT_I32, .rank = 3, .d = {dB, dS, K(7)}};
  ir_set_i(NODE(c, io), "axis", -1);
  fin(c, io);
  done(c, fn, ctx, count);

  begin(c, OP_EXPAND, 0, "expand [S, 1] -> [B, S, 7] * y");
  x = IN2(c, DT_F32, DOM_ANY, dS, K(1));
  int y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  int ex = add(c, OP_EXPAND, x, -1, -1);
  NODE(c, ex)->type = (IrType){.dt = DT_F32, .rank = 3, .d = {dB, dS, K(7)}};
  op2(c, OP_MUL, fin(c, ex), y);
  done(c, fn, ctx, count);

  static const int64_t perm[3] = {0, 2, 1};
  begin(c, OP_TRANSPOSE, 0, "transpose [B, 7, S] (0 2 1) + y[B, S, 7]");
  x = IN3(c, DT_F32, DOM_ANY, dB, K(7), dS);
  y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  int tr = add(c, OP_TRANSPOSE, x, -1, -1);
  ir_set_ints(&c->p, NODE(c, tr), "perm", perm, 3);
  op2(c, OP_ADD, fin(c, tr), y);
  done(c, fn, ctx, count);

  begin(c, OP_TRANSPOSE, 0, "x + y then transpose (0 2 1): a transposed output");
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  y = IN1(c, DT_F32, DOM_ANY, K(7));
  tr = add(c, OP_TRANSPOSE, op2(c, OP_ADD, x, y), -1, -1);
  ir_set_ints(&c->p, NODE(c, tr), "perm", perm, 3);
  fin(c, tr);
  done(c, fn, ctx, count);
}

/* slices, pads and concats inside a kernel (windows: lower.c's View) */
static int slice(CgCase *c, int x, int axis, int64_t start, int64_t end, int has_end) {
  int id = add(c, OP_SLICE, x, -1, -1);
  ir_set_i(NODE(c, id), "axis", axis);
  ir_set_i(NODE(c, id), "start", start);
  if (has_end) ir_set_i(NODE(c, id), "end", end);
  return fin(c, id);
}
static int pad(CgCase *c, int x, int axis, int64_t start, IrType to) {
  int id = add(c, OP_PAD, x, -1, -1);
  ir_set_i(NODE(c, id), "axis", axis);
  ir_set_i(NODE(c, id), "start", start);
  const IrType *xt = &NODE(c, x)->type;
  if (dim_is_const(xt->d[axis])) ir_set_i(NODE(c, id), "end", start + xt->d[axis].add);
  NODE(c, id)->type = to;
  return fin(c, id);
}
static int concat(CgCase *c, const int *xs, int n, int axis) {
  int id = ir_node_add(&c->p, c->g, OP_CONCAT, n, xs);
  ir_set_i(NODE(c, id), "axis", axis);
  return fin(c, id);
}

static void windows(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  const Dim dSm1 = {1, 1, -1};
  begin(c, OP_SLICE, 0, "slice x[..., 2:5] * y");
  c->windows = 1;
  int x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7)), y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(3));
  op2(c, OP_MUL, slice(c, x, 2, 2, 5, 1), y);
  done(c, fn, ctx, count);

  begin(c, OP_SLICE, 0, "slice x[:, 1:] (symbolic axis) + y[B, S-1, 7]");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  y = IN3(c, DT_F32, DOM_ANY, dB, dSm1, K(7));
  op2(c, OP_ADD, slice(c, x, 1, 1, 0, 0), y);
  done(c, fn, ctx, count);

  begin(c, OP_SLICE, 0, "slice x[:, -2:] (a symbolic start) then exp");
  c->windows = 1;
  x = IN3(c, DT_F64, DOM_ANY, dB, dS, K(7));
  op1(c, OP_EXP, slice(c, x, 1, -2, 0, 0));
  done(c, fn, ctx, count);

  begin(c, OP_PAD, 0, "pad exp(x[B, S, 3]) into [B, S, 7] at 2:5, + y");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(3));
  y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  op2(c, OP_ADD, pad(c, op1(c, OP_EXP, x), 2, 2, (IrType){.dt = DT_F32, .rank = 3, .d = {dB, dS, K(7)}}), y);
  done(c, fn, ctx, count);

  begin(c, OP_PAD, 0, "pad x[B, S-1, 7] at 1: along S (a symbolic end), times y");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dSm1, K(7));
  y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  op2(c, OP_MUL, pad(c, x, 1, 1, (IrType){.dt = DT_F32, .rank = 3, .d = {dB, dS, K(7)}}), y);
  done(c, fn, ctx, count);

  begin(c, OP_CONCAT, 0, "concat [2x, -y, z] along -1 (2 + 3 + 4)");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(2));
  y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(3));
  int z = IN3(c, DT_F32, DOM_ANY, dB, dS, K(4));
  int parts[3] = {op2(c, OP_MUL, x, cconst(c, DT_F32, 2.0)), op1(c, OP_NEG, y), z};
  concat(c, parts, 3, -1);
  done(c, fn, ctx, count);

  begin(c, OP_CONCAT, 0, "concat [x, y + 1] along S (symbolic positions), i32");
  c->windows = 1;
  x = IN3(c, DT_I32, DOM_ANY, dB, dS, K(7));
  y = IN3(c, DT_I32, DOM_ANY, dB, dS, K(7));
  int p2[2] = {x, op2(c, OP_ADD, y, cconst(c, DT_I32, 1))};
  concat(c, p2, 2, 1);
  done(c, fn, ctx, count);

  begin(c, OP_SLICE, 0, "slice of a concat of slices: concat(x[..., 4:], -x[..., :4])[..., 1:6]");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  int p3[2] = {slice(c, x, 2, 4, 0, 0), op1(c, OP_NEG, slice(c, x, 2, 0, 4, 1))};
  slice(c, concat(c, p3, 2, -1), 2, 1, 6, 1);
  done(c, fn, ctx, count);

  begin(c, OP_CONCAT, 0, "rotary (rotate-half) on the first 8 of 16: concat(x[..8] c + rot s, x[8:])");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(16));
  int cs = IN2(c, DT_F32, DOM_ANY, dS, K(8)), sn = IN2(c, DT_F32, DOM_ANY, dS, K(8));
  int rot[2] = {op1(c, OP_NEG, slice(c, x, 2, 4, 8, 1)), slice(c, x, 2, 0, 4, 1)};
  int yv = op2(c, OP_ADD, op2(c, OP_MUL, slice(c, x, 2, 0, 8, 1), cs), op2(c, OP_MUL, concat(c, rot, 2, -1), sn));
  int p4[2] = {yv, slice(c, x, 2, 8, 0, 0)};
  concat(c, p4, 2, -1);
  done(c, fn, ctx, count);

  static const int64_t last[1] = {-1}, swap2[2] = {1, 0};
  begin(c, OP_REDUCE_SUM, 0, "row sums of x[..., 2:6] * y (a window along the reduced axis)");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(4));
  reduce(c, OP_REDUCE_SUM, op2(c, OP_MUL, slice(c, x, 2, 2, 6, 1), y), last, 1, 1);
  done(c, fn, ctx, count);

  begin(c, OP_SOFTMAX, 0, "softmax over concat(x, -x[..., 1:]) (a concat in a norm's prologue)");
  c->windows = 1;
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  int p5[2] = {x, op1(c, OP_NEG, slice(c, x, 2, 1, 0, 0))};
  op1(c, OP_SOFTMAX, concat(c, p5, 2, -1));
  done(c, fn, ctx, count);

  begin(c, OP_LAYERNORM, 0, "layernorm of t + exp(t), t = transpose(x[L, B]) (a transposed prologue)");
  c->windows = 1;
  row_bindings(c);
  x = IN2(c, DT_F32, DOM_ANY, dL, dB);
  int tr = add(c, OP_TRANSPOSE, x, -1, -1);
  ir_set_ints(&c->p, NODE(c, tr), "perm", swap2, 2);
  tr = fin(c, tr);
  fin(c, add(c, OP_LAYERNORM, op2(c, OP_ADD, tr, op1(c, OP_EXP, tr)), -1, -1));
  done(c, fn, ctx, count);

  begin(c, OP_PAD, 0, "rotary's gradient: a sum of pads of slices of dy (backward of the above)");
  c->windows = 1;
  int dy = IN3(c, DT_F32, DOM_ANY, dB, dS, K(16));
  IrType full = {.dt = DT_F32, .rank = 3, .d = {dB, dS, K(16)}};
  int a1 = pad(c, op1(c, OP_NEG, slice(c, dy, 2, 0, 4, 1)), 2, 4, full);
  int a2 = pad(c, slice(c, dy, 2, 4, 8, 1), 2, 0, full);
  op2(c, OP_ADD, op2(c, OP_ADD, a1, a2), pad(c, slice(c, dy, 2, 8, 0, 0), 2, 8, full));
  done(c, fn, ctx, count);
}

/* dropout: the interpreter's counter-based stream, training or not, on a full and on a
 * broadcast operand (the counter runs over the dropout node's own shape) */
static void dropouts(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  for (int di = 0; di < 2; di++)
    for (int training = 0; training < 2; training++) {
      begin(c, OP_DROPOUT, 1, "dropout p=0.3 %s[B, S, 7]%s", dtype_name(dts[di]), training ? " training" : "");
      c->training = training;
      c->seed = 1234;
      c->step = 7;
      int d = add(c, OP_DROPOUT, IN3(c, dts[di], DOM_ANY, dB, dS, K(7)), -1, -1);
      ir_set_f(NODE(c, d), "p", 0.3);
      ir_set_i(NODE(c, d), "seed", 99);
      fin(c, d);
      done(c, fn, ctx, count);
    }
  begin(c, OP_DROPOUT, 0, "x * dropout(m[S, 1], p=0.5) + dropout(gelu(x), p=0.1), training");
  c->training = 1;
  c->seed = 5;
  c->step = 123456789;
  int x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7)), m = IN2(c, DT_F32, DOM_ANY, dS, K(1));
  int d1 = add(c, OP_DROPOUT, m, -1, -1);
  ir_set_f(NODE(c, d1), "p", 0.5);
  fin(c, d1);
  int d2 = add(c, OP_DROPOUT, op1(c, OP_GELU, x), -1, -1);
  ir_set_f(NODE(c, d2), "p", 0.1);
  ir_set_i(NODE(c, d2), "seed", 3);
  op2(c, OP_ADD, op2(c, OP_MUL, x, d1), fin(c, d2));
  done(c, fn, ctx, count);
}

/* members the fusion pass may add (ir/group.h): a matmul epilogue's root and reshapes */
static void group_roles(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  begin(c, OP_MATMUL, 0, "epilogue: gelu(a @ w + bias), the product read as a buffer");
  int a = IN3(c, DT_F32, DOM_ANY, dB, dS, K(4)), w = IN2(c, DT_F32, DOM_ANY, K(4), K(7));
  int bias = IN1(c, DT_F32, DOM_ANY, K(7));
  op1(c, OP_GELU, op2(c, OP_ADD, op2(c, OP_MATMUL, a, w), bias));
  done(c, fn, ctx, count);

  begin(c, OP_RESHAPE, 0, "leading reshape: x[B, 7, S] -> [B, S, 7], + y");
  int x = IN3(c, DT_F32, DOM_ANY, dB, K(7), dS), y = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  int r = add(c, OP_RESHAPE, x, -1, -1);
  NODE(c, r)->type = (IrType){.dt = DT_F32, .rank = 3, .d = {dB, dS, K(7)}};
  op2(c, OP_ADD, fin(c, r), y);
  done(c, fn, ctx, count);

  begin(c, OP_RESHAPE, 0, "trailing reshape: exp(x + y[7]) written as [B, 7, S]");
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, K(7));
  y = IN1(c, DT_F32, DOM_ANY, K(7));
  r = add(c, OP_RESHAPE, op1(c, OP_EXP, op2(c, OP_ADD, x, y)), -1, -1);
  NODE(c, r)->type = (IrType){.dt = DT_F32, .rank = 3, .d = {dB, K(7), dS}};
  fin(c, r);
  done(c, fn, ctx, count);
}

static void reductions(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  static const Op ops[3] = {OP_REDUCE_SUM, OP_REDUCE_MEAN, OP_REDUCE_MAX};
  static const int64_t axsets[4][2] = {{-1, 0}, {0, 0}, {0, 1}, {1, 0}};
  static const int naxes[4] = {1, 1, 2, 1};
  for (int o = 0; o < 3; o++)
    for (int di = 0; di < 3; di++) {
      if (dts[di] == DT_I32 && ops[o] == OP_REDUCE_MEAN) continue;
      for (int a = 0; a < 4; a++)
        for (int keep = 0; keep < 2; keep++) {
          begin(c, ops[o], 1, "%s %s[B, S, 7] axes %lld%s%s", op_info(ops[o])->name, dtype_name(dts[di]),
                (long long)axsets[a][0], naxes[a] > 1 ? ",1" : "", keep ? " keepdim" : "");
          int x = IN3(c, dts[di], dts[di] == DT_I32 ? DOM_SMALL : DOM_ANY, dB, dS, K(7));
          reduce(c, ops[o], x, axsets[a], naxes[a], keep);
          done(c, fn, ctx, count);
        }
    }
  /* prologue and epilogue: mean of squares, kept as [B, S, 1], scaling x (a manual rmsnorm):
   * outputs the row statistic and the normalised values */
  begin(c, OP_REDUCE_MEAN, 0, "x * rsqrt(mean(x^2, keepdim) + 1e-6), rows L = 1, 3, 17, 1000");
  row_bindings(c);
  int x = IN2(c, DT_F32, DOM_ANY, dB, dL);
  static const int64_t last[1] = {-1};
  int ms = reduce(c, OP_REDUCE_MEAN, op1(c, OP_SQUARE, x), last, 1, 1);
  ir_output_add(&c->p, c->g, "ms", ms);
  op2(c, OP_MUL, x, op1(c, OP_RSQRT, op2(c, OP_ADD, ms, cconst(c, DT_F32, 1e-6))));
  done(c, fn, ctx, count);

  begin(c, OP_REDUCE_SUM, 0, "sum(exp(x), axis 1) * 0.5 over [B, L, 3]: a strided row");
  row_bindings(c);
  x = IN3(c, DT_F32, DOM_ANY, dB, dL, K(3));
  static const int64_t mid[1] = {1};
  op2(c, OP_MUL, reduce(c, OP_REDUCE_SUM, op1(c, OP_EXP, x), mid, 1, 0), cconst(c, DT_F32, 0.5));
  done(c, fn, ctx, count);
}

static void norms(CgCase *c, CgCaseFn fn, void *ctx, int *count) {
  for (int di = 0; di < 2; di++) {
    DType dt = dts[di];
    for (int o = 0; o < 2; o++) {
      Op op = o ? OP_LOG_SOFTMAX : OP_SOFTMAX;
      begin(c, op, 1, "%s %s[B, L] rows L = 1, 3, 17, 1000", op_info(op)->name, dtype_name(dt));
      row_bindings(c);
      op1(c, op, IN2(c, dt, DOM_ANY, dB, dL));
      done(c, fn, ctx, count);
      begin(c, op, 1, "%s %s[L, 5] axis 0 (strided lines)", op_info(op)->name, dtype_name(dt));
      row_bindings(c);
      int id = add(c, op, IN2(c, dt, DOM_ANY, dL, K(5)), -1, -1);
      ir_set_i(NODE(c, id), "axis", 0);
      fin(c, id);
      done(c, fn, ctx, count);
    }
    for (int aff = 0; aff < 3; aff++) {
      begin(c, OP_LAYERNORM, 1, "layernorm %s[B, S, L]%s", dtype_name(dt), aff == 2 ? " gain bias" : aff ? " gain" : "");
      row_bindings(c);
      int x = IN3(c, dt, DOM_ANY, dB, dS, dL);
      int g = aff ? IN1(c, dt, DOM_ANY, dL) : -1, b = aff > 1 ? IN1(c, dt, DOM_ANY, dL) : -1;
      fin(c, add(c, OP_LAYERNORM, x, g, b));
      done(c, fn, ctx, count);
    }
    for (int aff = 0; aff < 2; aff++) {
      begin(c, OP_RMSNORM, 1, "rmsnorm %s[B, L]%s", dtype_name(dt), aff ? " gain" : "");
      row_bindings(c);
      int x = IN2(c, dt, DOM_ANY, dB, dL);
      fin(c, add(c, OP_RMSNORM, x, aff ? IN1(c, dt, DOM_ANY, dL) : -1, -1));
      done(c, fn, ctx, count);
    }
  }
  for (int di = 0; di < 2; di++) /* the norms' gradients: x, dy[, gain] */
    for (int k = 0; k < 4; k++) {
      DType dt = dts[di];
      Op op = k < 2 ? OP_LAYERNORM_GRAD : OP_RMSNORM_GRAD;
      begin(c, op, 1, "%s %s[B, S, L], dy%s", op_info(op)->name, dtype_name(dt), k & 1 ? ", gain" : "");
      row_bindings(c);
      int x = IN3(c, dt, DOM_ANY, dB, dS, dL), dy = IN3(c, dt, DOM_ANY, dB, dS, dL);
      fin(c, add(c, op, x, dy, k & 1 ? IN1(c, dt, DOM_ANY, dL) : -1));
      done(c, fn, ctx, count);
    }
  /* fused groups */
  begin(c, OP_LAYERNORM_GRAD, 0, "layernorm_grad(x + r, dy, g) * 0.5");
  row_bindings(c);
  int x = IN3(c, DT_F32, DOM_ANY, dB, dS, dL), r = IN3(c, DT_F32, DOM_ANY, dB, dS, dL);
  int dy = IN3(c, DT_F32, DOM_ANY, dB, dS, dL), g = IN1(c, DT_F32, DOM_ANY, dL);
  op2(c, OP_MUL, fin(c, add(c, OP_LAYERNORM_GRAD, op2(c, OP_ADD, x, r), dy, g)), cconst(c, DT_F32, 0.5));
  done(c, fn, ctx, count);

  begin(c, OP_LAYERNORM_GRAD, 0, "sibling norms: layernorm_grad(x, dy, g) + r and layernorm(x) * dy");
  row_bindings(c);
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, dL), dy = IN3(c, DT_F32, DOM_ANY, dB, dS, dL), r = IN3(c, DT_F32, DOM_ANY, dB, dS, dL);
  g = IN1(c, DT_F32, DOM_ANY, dL);
  int lg = fin(c, add(c, OP_LAYERNORM_GRAD, x, dy, g));
  ir_output_add(&c->p, c->g, "dx", op2(c, OP_ADD, lg, r));
  op2(c, OP_MUL, fin(c, add(c, OP_LAYERNORM, x, -1, -1)), dy);
  done(c, fn, ctx, count);

  begin(c, OP_LAYERNORM, 0, "h = x + r; layernorm(h, g, b): outputs h and y");
  row_bindings(c);
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, dL), r = IN3(c, DT_F32, DOM_ANY, dB, dS, dL);
  g = IN1(c, DT_F32, DOM_ANY, dL);
  int b = IN1(c, DT_F32, DOM_ANY, dL);
  int h = op2(c, OP_ADD, x, r);
  ir_output_add(&c->p, c->g, "h", h);
  fin(c, add(c, OP_LAYERNORM, h, g, b));
  done(c, fn, ctx, count);

  begin(c, OP_SOFTMAX, 0, "softmax(x * 0.125 + mask[1, L])");
  row_bindings(c);
  x = IN3(c, DT_F32, DOM_ANY, dB, dS, dL);
  int m = IN2(c, DT_F32, DOM_ANY, K(1), dL);
  op1(c, OP_SOFTMAX, op2(c, OP_ADD, op2(c, OP_MUL, x, cconst(c, DT_F32, 0.125)), m));
  done(c, fn, ctx, count);

  begin(c, OP_GELU, 0, "gelu(rmsnorm(x, g)) * y");
  row_bindings(c);
  x = IN2(c, DT_F32, DOM_ANY, dB, dL);
  g = IN1(c, DT_F32, DOM_ANY, dL);
  int y = IN2(c, DT_F32, DOM_ANY, dB, dL);
  op2(c, OP_MUL, op1(c, OP_GELU, fin(c, add(c, OP_RMSNORM, x, g, -1))), y);
  done(c, fn, ctx, count);

  begin(c, OP_LOG_SOFTMAX, 0, "log_softmax(x) and max(x) (two row outputs)");
  row_bindings(c);
  x = IN2(c, DT_F32, DOM_ANY, dB, dL);
  static const int64_t last[1] = {-1};
  int mx = reduce(c, OP_REDUCE_MAX, x, last, 1, 0);
  ir_output_add(&c->p, c->g, "max", mx);
  op1(c, OP_LOG_SOFTMAX, x);
  done(c, fn, ctx, count);
}

/* seeded random chains of 2-6 elementwise ops with broadcasting operands */
static void chains(CgCase *c, CgCaseFn fn, void *ctx, int *count, uint64_t seed) {
  static const Op un[] = {OP_NEG, OP_EXP, OP_TANH, OP_SIGMOID, OP_RELU, OP_GELU, OP_SILU, OP_SQUARE, OP_ABS, OP_SIN, OP_COS};
  static const Op bi[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAXIMUM, OP_MINIMUM};
  for (int ch = 0; ch < 16; ch++) {
    uint64_t key = rng_key(seed, 0xc4a1 + (uint64_t)ch), ctr = 0;
#define R(n) ((int)(rng_u64(key, ctr++) % (uint64_t)(n)))
    int nops = 2 + R(5);
    begin(c, OP_ADD, 0, "chain %d (%d ops):", ch, nops);
    int v = IN3(c, DT_F32, DOM_ANY, dB, dS, K(5));
    for (int i = 0; i < nops; i++) {
      size_t at = strlen(c->name);
      if (R(2)) {
        Op op = un[R(COUNT_OF(un))];
        v = op1(c, op, v);
        snprintf(c->name + at, sizeof c->name - at, " %s", op_info(op)->name);
      } else {
        Op op = bi[R(COUNT_OF(bi))];
        int shape = R(4), o;
        if (shape == 0) o = IN3(c, DT_F32, DOM_ANY, dB, dS, K(5));
        else if (shape == 1) o = IN1(c, DT_F32, DOM_ANY, K(5));
        else if (shape == 2) o = IN3(c, DT_F32, DOM_ANY, dB, K(1), K(5));
        else o = IN2(c, DT_F32, DOM_ANY, dS, K(1));
        v = R(2) ? op2(c, op, v, o) : op2(c, op, o, v);
        snprintf(c->name + at, sizeof c->name - at, " %s%s", op_info(op)->name,
                 shape == 1 ? "[5]" : shape == 2 ? "[B,1,5]" : shape == 3 ? "[S,1]" : "");
      }
    }
#undef R
    done(c, fn, ctx, count);
  }
}

/* seeded random chains over x[B, S, 6] mixing elementwise ops with windows that keep the shape:
 * a rotation (concat of two slices) along the last or the symbolic axis, a mask (pad of a
 * slice: zeros before k), halves transformed apart (concat of ops on slices), a transpose
 * sandwich (transpose, op, transpose back) */
static void window_chains(CgCase *c, CgCaseFn fn, void *ctx, int *count, uint64_t seed) {
  static const Op un[] = {OP_NEG, OP_EXP, OP_TANH, OP_SIGMOID, OP_SQUARE, OP_SIN};
  static const int64_t swap[3] = {0, 2, 1};
  for (int ch = 0; ch < 12; ch++) {
    uint64_t key = rng_key(seed, 0x3d17 + (uint64_t)ch), ctr = 0;
#define R(n) ((int)(rng_u64(key, ctr++) % (uint64_t)(n)))
    int nops = 3 + R(4);
    begin(c, OP_CONCAT, 0, "window chain %d (%d steps):", ch, nops);
    c->windows = 1;
    int v = IN3(c, DT_F32, DOM_ANY, dB, dS, K(6));
    IrType full = c->g->nodes.v[v].type;
    for (int i = 0; i < nops; i++) {
      size_t at = strlen(c->name);
      int kind = R(6), axis = R(2) ? 2 : 1, k = axis == 2 ? 1 + R(5) : 1 + R(2); /* S >= 3 in every binding */
      if (kind == 0) {
        Op op = un[R(COUNT_OF(un))];
        v = op1(c, op, v);
        snprintf(c->name + at, sizeof c->name - at, " %s", op_info(op)->name);
      } else if (kind == 1) {
        v = op2(c, OP_MUL, v, IN1(c, DT_F32, DOM_ANY, K(6)));
        snprintf(c->name + at, sizeof c->name - at, " mul[6]");
      } else if (kind == 2) {
        int parts[2] = {slice(c, v, axis, k, 0, 0), slice(c, v, axis, 0, k, 1)};
        v = concat(c, parts, 2, axis);
        snprintf(c->name + at, sizeof c->name - at, " rotate(axis %d by %d)", axis, k);
      } else if (kind == 3) {
        v = pad(c, slice(c, v, axis, k, 0, 0), axis, k, full);
        snprintf(c->name + at, sizeof c->name - at, " mask(axis %d before %d)", axis, k);
      } else if (kind == 4) {
        Op a = un[R(COUNT_OF(un))], b = un[R(COUNT_OF(un))];
        int parts[2] = {op1(c, a, slice(c, v, axis, 0, k, 1)), op1(c, b, slice(c, v, axis, k, 0, 0))};
        v = concat(c, parts, 2, axis);
        snprintf(c->name + at, sizeof c->name - at, " halves(axis %d at %d: %s | %s)", axis, k, op_info(a)->name,
                 op_info(b)->name);
      } else {
        Op op = un[R(COUNT_OF(un))];
        int t = add(c, OP_TRANSPOSE, v, -1, -1);
        ir_set_ints(&c->p, NODE(c, t), "perm", swap, 3);
        int u = add(c, OP_TRANSPOSE, op1(c, op, fin(c, t)), -1, -1);
        ir_set_ints(&c->p, NODE(c, u), "perm", swap, 3);
        v = fin(c, u);
        snprintf(c->name + at, sizeof c->name - at, " transposed %s", op_info(op)->name);
      }
    }
#undef R
    done(c, fn, ctx, count);
  }
}

int cg_cases_each(uint64_t seed, CgCaseFn fn, void *ctx) {
  CgCase *c = malloc(sizeof *c);
  int count = 0;
  if (!c) die("out of memory");
  ew_ops(c, fn, ctx, &count);
  sources_and_moves(c, fn, ctx, &count);
  windows(c, fn, ctx, &count);
  group_roles(c, fn, ctx, &count);
  dropouts(c, fn, ctx, &count);
  reductions(c, fn, ctx, &count);
  norms(c, fn, ctx, &count);
  chains(c, fn, ctx, &count, seed);
  window_chains(c, fn, ctx, &count, seed);
  free(c);
  return count;
}
