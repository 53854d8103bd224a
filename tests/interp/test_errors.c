/* test_errors.c — the interpreter's error paths: every failure returns 0 with a message that
 * names the node, the operand and the offending values (shapes, ids, targets), and leaves no
 * allocation behind (run under ASan with MAMC_SANITIZE=ON).
 */
#include <math.h>

#include "interp.h"
#include "test.h"

typedef struct Fx {
  Arena a;
  IrProgram p;
  IrGraph *g;
  Dim B, S;
} Fx;

static IrType ty(DType dt, int rank, const Dim *d) {
  IrType t = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) t.d[i] = d[i];
  return t;
}

static void fx_init(Fx *f) {
  arena_init(&f->a);
  ir_program_init(&f->p, &f->a);
  f->B = dim_sym(ir_sym(&f->p, "B"));
  f->S = dim_sym(ir_sym(&f->p, "S"));
  int gi = ir_graph_add(&f->p, "t", 0, NULL);
  f->g = &f->p.graphs.v[gi];
}

static int fx_node(Fx *f, Op op, int nin, const int *in) {
  char err[256];
  int id = ir_node_add(&f->p, f->g, op, nin, in);
  if (!ir_infer(&f->p, f->g, id, err, sizeof err)) fprintf(stderr, "infer: %s\n", err);
  return id;
}

static Tensor mk(DType dt, int rank, const int64_t *shape, double v) {
  Tensor t;
  rt_tensor_alloc(&t, dt, rank, shape);
  rt_tensor_fill(&t, v);
  return t;
}

/* Run node id on ins; expect failure with exactly `want`. */
static void expect_node(Fx *f, int id, const int64_t *sym, const Tensor *const *ins, const char *want) {
  InterpCx cx = {.fdt = DT_F32};
  Tensor out = {0};
  int ok = interp_node(&f->p, f->g, id, sym, ins, &out, &cx);
  CHECK_MSG(!ok, "expected failure: %s", want);
  CHECK_STR(cx.err, want);
  CHECK(out.data == NULL);
  rt_tensor_free(&out);
}

static void test_shapes(void) {
  Fx f;
  fx_init(&f);
  int x = ir_input_add(&f.p, f.g, "x", ty(DT_F32, 2, (Dim[]){f.B, dim_const(4)}));
  int y = ir_input_add(&f.p, f.g, "y", ty(DT_F32, 1, (Dim[]){dim_const(4)}));
  int add = fx_node(&f, OP_ADD, 2, (int[]){x, y});
  int64_t sym[2] = {3, 5};
  Tensor tx = mk(DT_F32, 2, (int64_t[]){3, 4}, 1), ty5 = mk(DT_F32, 1, (int64_t[]){5}, 1);
  Tensor ti = mk(DT_I32, 1, (int64_t[]){4}, 1), tx2 = mk(DT_F32, 2, (int64_t[]){2, 4}, 1);
  expect_node(&f, add, sym, (const Tensor *[]){&tx, &ty5},
              "%2 = add: operand 1 (%1) has shape [5], but its type f32[4] evaluates to [4]");
  expect_node(&f, add, sym, (const Tensor *[]){&tx2, &ty5},
              "%2 = add: operand 0 (%0) has shape [2, 4], but its type f32[B, 4] evaluates to [3, 4]");
  expect_node(&f, add, sym, (const Tensor *[]){&tx, &ti},
              "%2 = add: operand 1 (%1) has dtype i32, but its type is f32[4]");
  expect_node(&f, add, sym, (const Tensor *[]){&tx, NULL}, "%2 = add: operand 1 (%1) has no value");
  expect_node(&f, add, NULL, (const Tensor *[]){&tx, &ty5},
              "%2 = add: result type f32[B, 4] has a symbolic dimension but no symbol values were given");
  int64_t neg[2] = {-1, 0};
  expect_node(&f, add, neg, (const Tensor *[]){&tx, &ty5},
              "%2 = add: result type f32[B, 4] has dimension 0 = -1 under the symbol values");
  { /* bad precision, bad node index */
    InterpCx cx = {.fdt = DT_BF16};
    Tensor out = {0};
    CHECK(!interp_node(&f.p, f.g, add, sym, (const Tensor *[]){&tx, &tx}, &out, &cx));
    CHECK_STR(cx.err, "%2 = add: InterpCx.fdt must be f32 or f64, got bf16");
    cx.fdt = DT_F64;
    CHECK(!interp_node(&f.p, f.g, 17, sym, NULL, &out, &cx));
    CHECK_STR(cx.err, "interp_node: node 17 out of range (graph has 3)");
  }
  /* through interp_graph: the input's name and the graph's */
  {
    Tensor ins[2] = {tx2, ty5}, vals[3];
    InterpCx cx = {.fdt = DT_F64};
    CHECK(!interp_graph(&f.p, f.g, sym, ins, NULL, vals, &cx));
    CHECK_STR(cx.err, "t(): %0 = input: input 'x' has shape [2, 4], but its type f32[B, 4] evaluates to [3, 4]");
    for (int i = 0; i < 3; i++) CHECK(vals[i].data == NULL);
    ins[0] = tx; /* now y is wrong: x's value was made, then freed on failure */
    CHECK(!interp_graph(&f.p, f.g, sym, ins, NULL, vals, &cx));
    CHECK_STR(cx.err, "t(): %1 = input: input 'y' has shape [5], but its type f32[4] evaluates to [4]");
    CHECK(vals[0].data == NULL);
  }
  rt_tensor_free(&tx);
  rt_tensor_free(&ty5);
  rt_tensor_free(&ti);
  rt_tensor_free(&tx2);
  arena_free(&f.a);
}

static void test_values(void) {
  Fx f;
  fx_init(&f);
  int tab = ir_input_add(&f.p, f.g, "tab", ty(DT_F32, 2, (Dim[]){dim_const(10), dim_const(3)}));
  int ids = ir_input_add(&f.p, f.g, "ids", ty(DT_I32, 2, (Dim[]){f.B, f.S}));
  int gat = fx_node(&f, OP_GATHER, 2, (int[]){tab, ids});
  int64_t sym[2] = {2, 3};
  Tensor tt = mk(DT_F32, 2, (int64_t[]){10, 3}, 0.5), ti = mk(DT_I32, 2, sym, 1);
  ((int32_t *)ti.data)[4] = 12;
  expect_node(&f, gat, sym, (const Tensor *[]){&tt, &ti},
              "%2 = gather: id 12 at index [1, 1] is out of range [0, 10) of the table's first dimension");
  ((int32_t *)ti.data)[4] = 1;
  ((int32_t *)ti.data)[0] = -1;
  expect_node(&f, gat, sym, (const Tensor *[]){&tt, &ti},
              "%2 = gather: id -1 at index [0, 0] is out of range [0, 10) of the table's first dimension");
  /* cross_entropy: a target outside [0, V) that is not the ignore index */
  int lg = ir_input_add(&f.p, f.g, "lg", ty(DT_F32, 3, (Dim[]){f.B, f.S, dim_const(10)}));
  int ce = fx_node(&f, OP_CROSS_ENTROPY, 2, (int[]){lg, ids});
  Tensor tl = mk(DT_F32, 3, (int64_t[]){2, 3, 10}, 0.1);
  ((int32_t *)ti.data)[0] = 10;
  expect_node(&f, ce, sym, (const Tensor *[]){&tl, &ti},
              "%4 = cross_entropy: target 10 at index [0, 0] is out of range [0, 10) (ignore = -1)");
  ((int32_t *)ti.data)[0] = -1; /* ignored: fine */
  {
    InterpCx cx = {.fdt = DT_F64};
    Tensor out = {0};
    CHECK_MSG(interp_node(&f.p, f.g, ce, sym, (const Tensor *[]){&tl, &ti}, &out, &cx), "%s", cx.err);
    CHECK_NEAR(rt_tensor_get(&out, 0), log(10.0), 1e-12);
    rt_tensor_free(&out);
  }
  /* integer division by zero; cast of a value outside i32 */
  int dv = fx_node(&f, OP_DIV, 2, (int[]){ids, ids});
  ((int32_t *)ti.data)[0] = 0;
  expect_node(&f, dv, sym, (const Tensor *[]){&ti, &ti}, "%5 = div: integer division by zero at element 0");
  int cs = ir_node_add(&f.p, f.g, OP_CAST, 1, &tab);
  ir_set_enum(&f.g->nodes.v[cs], "to", "i32");
  char err[256];
  CHECK(ir_infer(&f.p, f.g, cs, err, sizeof err));
  ((float *)tt.data)[4] = 3e9f;
  expect_node(&f, cs, sym, (const Tensor *[]){&tt}, "%6 = cast: value 3e+09 at element 4 does not fit in i32");
  /* exp of an i32 (the shape rule allows it; the interpreter does not) */
  int ex = fx_node(&f, OP_EXP, 1, &ids);
  expect_node(&f, ex, sym, (const Tensor *[]){&ti}, "%7 = exp: needs a float operand, operand 0 is i32");
  rt_tensor_free(&tt);
  rt_tensor_free(&ti);
  rt_tensor_free(&tl);
  arena_free(&f.a);
}

static void test_unimplemented(void) {
  Fx f;
  fx_init(&f);
  Dim d[4] = {dim_const(1), dim_const(2), f.S, dim_const(4)};
  int q = ir_input_add(&f.p, f.g, "q", ty(DT_F32, 4, d));
  int la = fx_node(&f, OP_LINEAR_ATTENTION, 3, (int[]){q, q, q}); /* feature dct without P, w */
  ir_set_enum(&f.g->nodes.v[la], "feature", "dct");
  int64_t sym[2] = {1, 3};
  Tensor tq = mk(DT_F32, 4, (int64_t[]){1, 2, 3, 4}, 0.25);
  expect_node(&f, la, sym, (const Tensor *[]){&tq, &tq, &tq},
              "%1 = linear_attention: with feature dct and gate none it takes 5 or 6 operands (q, k, v, P, w, [S0]), "
              "got 3");
  int lb = fx_node(&f, OP_LINEAR_ATTENTION, 3, (int[]){q, q, q});
  ir_set_enum(&f.g->nodes.v[lb], "gate", "learned");
  expect_node(&f, lb, sym, (const Tensor *[]){&tq, &tq, &tq},
              "%2 = linear_attention: with feature none and gate learned it takes 5 or 6 operands (q, k, v, g, beta, "
              "[S0]), got 3");
  int dr = ir_node_add(&f.p, f.g, OP_DROPOUT, 1, &q);
  ir_set_f(&f.g->nodes.v[dr], "p", 1.5);
  char err[256];
  CHECK(ir_infer(&f.p, f.g, dr, err, sizeof err));
  expect_node(&f, dr, sym, (const Tensor *[]){&tq}, "%3 = dropout: p must be in [0, 1], got 1.5");
  /* a PARAM whose module the store does not have */
  int m = ir_module_add(&f.p, "late", "B");
  ir_param_add(&f.p, m, "w", ty(DT_F32, 1, (Dim[]){dim_const(2)}), (IrInit){INIT_ZEROS, 0, 0});
  ir_param_ref(&f.p, f.g, m, 0);
  Arena a2;
  arena_init(&a2);
  IrProgram empty;
  ir_program_init(&empty, &a2);
  ParamStore ps;
  CHECK(rt_params_init(&ps, &empty, 1, DT_F32, err, sizeof err));
  Tensor vals[8];
  InterpCx cx = {.fdt = DT_F32};
  /* the param message, on a graph of its own */
  int g2i = ir_graph_add(&f.p, "u", 1, (const char *[]){"x"});
  IrGraph *g2 = &f.p.graphs.v[g2i];
  ir_param_ref(&f.p, g2, m, 0);
  CHECK(!interp_graph(&f.p, g2, sym, NULL, &ps, vals, &cx));
  CHECK_STR(cx.err, "u(x): %0 = param @late.w: not in the parameter store");
  rt_params_free(&ps);
  arena_free(&a2);
  rt_tensor_free(&tq);
  arena_free(&f.a);
}

int main(void) {
  test_shapes();
  test_values();
  test_unimplemented();
  return test_done();
}
