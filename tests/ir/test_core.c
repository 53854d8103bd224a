/* test_core.c — unit tests of the IR core: the op table, dims, shape rules, builder. */
#include "ir.h"
#include "test.h"

static char err[512];

static IrType ty(DType dt, int rank, const Dim *d) {
  IrType t = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) t.d[i] = d[i];
  return t;
}

static const char *typestr(IrProgram *p, const IrType *t) {
  static char buf[256];
  StrBuf b;
  sb_init(&b);
  ir_print_type(&b, p, t);
  snprintf(buf, sizeof buf, "%s", b.s);
  sb_free(&b);
  return buf;
}

static void test_table(void) {
  Op op;
  CHECK(op_lookup("linear_attention", &op) && op == OP_LINEAR_ATTENTION);
  CHECK(!op_lookup("nonsense", &op));
  const OpInfo *oi = op_info(OP_LINEAR_ATTENTION);
  CHECK(oi->nattrs == 7);
  CHECK(op_attr_index(OP_LINEAR_ATTENTION, "gate") == 2);
  CHECK(oi->attrs[0].kind == AK_ENUM && oi->attrs[0].nwords == 3);
  CHECK(op_info(OP_SLICE)->attrs[2].default_unset);
  CHECK(op_info(OP_ALLREDUCE)->flags & F_COLL);
  for (int i = 0; i < OP_COUNT; i++) CHECK(op_info((Op)i)->name != NULL);
}

static void test_dims(void) {
  Dim t = dim_sym(0), r;
  CHECK(dim_add(t, -1, &r) && r.add == -1 && r.sym == 0);
  CHECK(dim_sub(t, t, &r) && dim_eq(r, dim_const(0)));
  CHECK(!dim_mul(t, t, &r));
  CHECK(dim_mul(dim_const(2), t, &r) && r.mul == 2);
  int64_t vals[1] = {7};
  CHECK(dim_eval(r, vals) == 14);
}

static void test_shapes(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  int B = ir_sym(&p, "B"), S = ir_sym(&p, "S");
  CHECK(ir_sym(&p, "B") == B);
  int g = ir_graph_add(&p, "t", 0, NULL);
  IrGraph *G = &p.graphs.v[g];
  Dim bsd[3] = {dim_sym(B), dim_sym(S), dim_const(512)};
  int x = ir_input_add(&p, G, "x", ty(DT_F32, 3, bsd));
  int m = ir_module_add(&p, "lin", "Linear");
  CHECK(ir_module_add(&p, "lin", "Linear") == -1);
  Dim de[2] = {dim_const(512), dim_const(64)};
  int w = ir_param_add(&p, m, "w", ty(DT_F32, 2, de), (IrInit){INIT_XAVIER, 0, 0});
  int pw = ir_param_ref(&p, G, m, w);
  CHECK(p.modules.v[m].used_by.n == 1 && p.modules.v[m].used_by.v[0] == g);
  int in[2] = {x, pw};
  int mm = ir_node_add(&p, G, OP_MATMUL, 2, in);
  CHECK(ir_infer(&p, G, mm, err, sizeof err));
  CHECK_STR(typestr(&p, &G->nodes.v[mm].type), "f32[B, S, 64]");
  /* wrong inner dim */
  int in2[2] = {pw, x};
  int bad = ir_node_add(&p, G, OP_MATMUL, 2, in2);
  CHECK(!ir_infer(&p, G, bad, err, sizeof err));
  CHECK_STR(err, "matmul: inner dimensions differ: f32[512, 64] @ f32[B, S, 512]");
  /* slice of a symbolic dim */
  int sl = ir_node_add(&p, G, OP_SLICE, 1, &x);
  ir_set_i(&G->nodes.v[sl], "axis", 1);
  ir_set_i(&G->nodes.v[sl], "end", -1);
  CHECK(ir_infer(&p, G, sl, err, sizeof err));
  CHECK_STR(typestr(&p, &G->nodes.v[sl].type), "f32[B, S-1, 512]");
  /* broadcast add with a vector */
  Dim v64[1] = {dim_const(64)};
  int bias = ir_param_ref(&p, G, m, ir_param_add(&p, m, "b", ty(DT_F32, 1, v64), (IrInit){INIT_ZEROS, 0, 0}));
  int in3[2] = {mm, bias};
  int ad = ir_node_add(&p, G, OP_ADD, 2, in3);
  CHECK(ir_infer(&p, G, ad, err, sizeof err));
  CHECK_STR(typestr(&p, &G->nodes.v[ad].type), "f32[B, S, 64]");
  int in4[2] = {x, bias};
  int ad2 = ir_node_add(&p, G, OP_ADD, 2, in4);
  CHECK(!ir_infer(&p, G, ad2, err, sizeof err));
  CHECK_STR(err, "add: shapes do not broadcast: f32[B, S, 512] and f32[64] (axis -1)");
  /* reshape checks element counts symbolically */
  int rs = ir_node_add(&p, G, OP_RESHAPE, 1, &x);
  Dim heads[4] = {dim_sym(B), dim_sym(S), dim_const(8), dim_const(64)};
  G->nodes.v[rs].type = ty(DT_F32, 4, heads);
  CHECK(ir_infer(&p, G, rs, err, sizeof err));
  Dim badh[4] = {dim_sym(B), dim_sym(B), dim_const(8), dim_const(64)};
  G->nodes.v[rs].type = ty(DT_F32, 4, badh);
  CHECK(!ir_infer(&p, G, rs, err, sizeof err));
  /* missing required attribute */
  int tr = ir_node_add(&p, G, OP_TRANSPOSE, 1, &x);
  CHECK(!ir_infer(&p, G, tr, err, sizeof err));
  CHECK_STR(err, "transpose: missing attribute 'perm'");
  arena_free(&a);
}

static void test_diag(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, "m.mam", "const d = 5\nmodule x = y(\n");
  diag_error(&d, (SrcLoc){f, 2, 12}, "unknown block '%s'", "y");
  CHECK_STR(d.out.s, "m.mam:2:12: error: unknown block 'y'\n  module x = y(\n             ^\n");
  CHECK(d.nerrors == 1);
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  test_table();
  test_dims();
  test_shapes();
  test_diag();
  return test_done();
}
