/* test_verify.c — the verifier: a valid program passes; each of many broken variants (built
 * with the builder, then broken by hand, or parsed from text and then broken) fails with
 * exactly the expected first message. */
#include "ir.h"
#include "test.h"

#include <stdlib.h>

/* The base program. Graph t(en):
 *   inputs %x: f32[N, 64], %ids: i32[N]              (node indices 0, 1)
 *   %0 = param @core.w   %1 = matmul %x, %0 {tb}   %2 = param @core.g   %3 = add %1, %2
 *   %4 = transpose %3 {perm = [1, 0]}   %5 = cast %3 {to = f64}   %6 = neg %3
 *   %7 = reduce_mean %6 {axes = [0, 1]}              (node indices 2..9)
 *   return loss = %7, y = %4
 * and graph u() reading nothing. */
typedef struct Fx {
  Arena a;
  IrProgram p;
  IrGraph *g;
  int core;
} Fx;

static IrNode *nd(Fx *f, int printed) { return &f->g->nodes.v[printed + 2]; }

static void base(Fx *f) {
  arena_init(&f->a);
  IrProgram *p = &f->p;
  ir_program_init(p, &f->a);
  int N = ir_sym(p, "N");
  f->core = ir_module_add(p, "core", NULL);
  IrType w = {DT_F32, 2, {dim_const(64), dim_const(64)}}, gv = {DT_F32, 1, {dim_const(64)}};
  ir_param_add(p, f->core, "w", w, (IrInit){INIT_XAVIER, 0, 0});
  ir_param_add(p, f->core, "g", gv, (IrInit){INIT_ONES, 0, 0});
  const char *en[] = {"en"};
  int gi = ir_graph_add(p, "t", 1, en);
  ir_graph_add(p, "u", 0, NULL);
  IrGraph *g = f->g = &p->graphs.v[gi];
  int x = ir_input_add(p, g, "x", (IrType){DT_F32, 2, {dim_sym(N), dim_const(64)}});
  ir_input_add(p, g, "ids", (IrType){DT_I32, 1, {dim_sym(N)}});
  int pw = ir_param_ref(p, g, f->core, 0);
  int in[2] = {x, pw};
  int mm = ir_node_add(p, g, OP_MATMUL, 2, in);
  ir_set_i(&g->nodes.v[mm], "tb", 1);
  int pg = ir_param_ref(p, g, f->core, 1);
  int in2[2] = {mm, pg};
  int ad = ir_node_add(p, g, OP_ADD, 2, in2);
  int tr = ir_node_add(p, g, OP_TRANSPOSE, 1, &ad);
  int64_t perm[] = {1, 0}, axes[] = {0, 1};
  ir_set_ints(p, &g->nodes.v[tr], "perm", perm, 2);
  int ca = ir_node_add(p, g, OP_CAST, 1, &ad);
  ir_set_enum(&g->nodes.v[ca], "to", "f64");
  int ng = ir_node_add(p, g, OP_NEG, 1, &ad);
  int rm = ir_node_add(p, g, OP_REDUCE_MEAN, 1, &ng);
  ir_set_ints(p, &g->nodes.v[rm], "axes", axes, 2);
  char err[256];
  for (int i = 2; i < g->nodes.n; i++) CHECK_MSG(ir_infer(p, g, i, err, sizeof err), "%s", err);
  ir_output_add(p, g, "loss", rm);
  ir_output_add(p, g, "y", tr);
}

/* Verify; the first message line must be `want`; returns the number of errors. */
static int expect_at(int line, Fx *f, const char *want) {
  Diag d;
  diag_init(&d);
  int ok = ir_verify(&f->p, &d);
  if (getenv("MAMC_DUMP_DIAG")) fprintf(stderr, "line %d:\n%s", line, d.out.s ? d.out.s : "");
  int n = d.nerrors;
  if (!want) {
    CHECK_MSG(ok, "line %d: %s", line, d.out.s ? d.out.s : "");
  } else {
    const char *out = d.out.s ? d.out.s : "";
    const char *nl = strchr(out, '\n');
    char first[512];
    snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - out) : (int)strlen(out), out);
    CHECK_MSG(!ok, "line %d: verified, expected: %s", line, want);
    CHECK_MSG(strcmp(first, want) == 0, "line %d:\n  got:      %s\n  expected: %s", line, first, want);
  }
  diag_free(&d);
  arena_free(&f->a);
  return n;
}
#define expect(f, want) expect_at(__LINE__, f, want)

static void test_valid(void) {
  Fx f;
  base(&f);
  expect(&f, NULL);
}

static void test_nodes(void) {
  Fx f;
  base(&f); /* SSA order */
  nd(&f, 4)->in[0] = 9;
  expect(&f, "error: task @t(en): %4: transpose: operand 0 is not defined before use (node index 9)");
  base(&f); /* arity */
  nd(&f, 6)->nin = 0;
  expect(&f, "error: task @t(en): %6: neg takes 1 operand, got 0");
  base(&f);
  nd(&f, 1)->nin = 1;
  expect(&f, "error: task @t(en): %1: matmul takes 2 operands, got 1");
  base(&f); /* required attribute */
  nd(&f, 4)->attr[0].set = 0;
  expect(&f, "error: task @t(en): %4: transpose: attribute 'perm' is required but not set");
  base(&f); /* enum word */
  nd(&f, 5)->attr[0].i = 9;
  expect(&f, "error: task @t(en): %5: cast: attribute 'to' is not one of its words");
  base(&f); /* flag */
  nd(&f, 1)->attr[1].i = 2;
  expect(&f, "error: task @t(en): %1: matmul: attribute 'tb' is a flag but not 0 or 1");
  base(&f); /* recorded type differs from the shape rule */
  nd(&f, 3)->type.d[1] = dim_const(32);
  expect(&f, "error: task @t(en): %3: type is f32[N, 32], but the shape rule of add gives f32[N, 64]");
  base(&f); /* the shape rule fails */
  nd(&f, 1)->attr[1].i = 0;
  nd(&f, 1)->in[1] = 1;
  expect(&f, "error: task @t(en): %1: matmul: operand dtypes differ: f32[N, 64] and i32[N]");
  base(&f); /* ill-formed type */
  nd(&f, 6)->type.d[0].sym = 5;
  expect(&f, "error: task @t(en): %6: neg: its type uses an undefined dimension symbol");
  base(&f); /* invalid op */
  nd(&f, 6)->op = (Op)1000;
  expect(&f, "error: task @t(en): %6: invalid op 1000");
  base(&f); /* inputs first */
  f.g->nodes.v[1].op = OP_NEG;
  f.g->nodes.v[1].nin = 1;
  f.g->nodes.v[1].in = ARENA_ARRAY(&f.a, int, 1);
  f.g->nodes.v[1].type = f.g->nodes.v[0].type;
  f.g->nodes.v[2].op = OP_INPUT;
  f.g->nodes.v[2].name = "late";
  expect(&f,
         "error: task @t(en): %late: input comes after other nodes; inputs come first, in signature order");
}

static void test_params(void) {
  Fx f;
  base(&f); /* module index out of range */
  nd(&f, 0)->module = 7;
  expect(&f, "error: task @t(en): %0: param refers to module #7, but the program has 1 module");
  base(&f);
  nd(&f, 2)->param = 2;
  expect(&f, "error: task @t(en): %2: param refers to parameter #2 of module @core, which has 2");
  base(&f); /* type against the module table */
  f.p.modules.v[0].params.v[1].type.d[0] = dim_const(32);
  expect(&f, "error: task @t(en): %2: param @core.g has type f32[64], but the module declares f32[32]");
  base(&f); /* parameters have constant shapes */
  f.p.modules.v[0].params.v[1].type.d[0] = dim_sym(0);
  expect(&f, "error: module @core: parameter 'g' needs constant positive dimensions, got f32[N]");
  base(&f);
  f.p.modules.v[0].params.v[0].init = (IrInit){INIT_UNIFORM, 1, -1};
  expect(&f, "error: module @core: parameter 'w': uniform(a, b) needs a <= b, got 1 > -1");
  base(&f);
  f.p.modules.v[0].sync.every = 0;
  expect(&f, "error: module @core: sync every 0: the step count must be at least 1");
  base(&f);
  f.p.modules.v[0].sync = (SyncPolicy){SYNC_OUTER, 4, 0.5, 1.5, 1};
  expect(&f, "error: module @core: outer sync needs a momentum in [0, 1), got 1.5");
  base(&f); /* names the printer could not write */
  f.p.modules.v[0].name = "a b";
  expect(&f, "error: module #0: name 'a b' cannot be written in the IR text");
  base(&f);
  f.p.modules.v[0].params.v[1].name = "w";
  expect(&f, "error: module @core: parameter 'w' is defined twice");
  base(&f); /* @core.l0.w would be ambiguous */
  int m2 = ir_module_add(&f.p, "core.l0", NULL);
  IrType t = {DT_F32, 1, {dim_const(2)}};
  ir_param_add(&f.p, m2, "w", t, (IrInit){INIT_ZEROS, 0, 0});
  ir_param_add(&f.p, f.core, "l0.w", t, (IrInit){INIT_ZEROS, 0, 0});
  expect(
      &f,
      "error: module @core: parameter 'l0.w' would print as @core.l0.w, which names module @core.l0's 'w'");
}

static void test_used_by(void) {
  Fx f;
  base(&f); /* a reader missing from used_by */
  f.p.modules.v[0].used_by.n = 0;
  expect(&f, "error: task @t(en): %0: reads @core.w, but module @core's used_by does not list this task");
  base(&f); /* used_by lists a graph that reads nothing */
  vec_push(&f.a, f.p.modules.v[0].used_by, 1);
  expect(&f, "error: module @core: used_by lists task @u(), which reads none of its parameters");
  base(&f);
  f.p.modules.v[0].used_by.v[0] = 5;
  CHECK(expect(&f, "error: module @core: used_by names graph #5, but the program has 2 graphs") == 2);
}

static void test_graphs(void) {
  Fx f;
  base(&f); /* output names unique */
  f.g->outputs.v[1].name = "loss";
  expect(&f, "error: task @t(en): output 'loss' is returned twice");
  base(&f); /* loss scalar */
  f.g->outputs.v[0].node = 5;
  expect(&f, "error: task @t(en): %3: output 'loss' must be a float scalar, got f32[N, 64]");
  base(&f); /* loss float */
  f.g->outputs.v[0].node = 1;
  expect(&f, "error: task @t(en): %ids: output 'loss' must be a float scalar, got i32[N]");
  base(&f);
  f.g->outputs.v[1].node = 99;
  expect(&f, "error: task @t(en): output 'y' refers to node index 99, but the graph has 10 nodes");
  base(&f); /* two graphs with one name */
  f.p.graphs.v[1].task = "t";
  f.p.graphs.v[1].nargs = 1;
  f.p.graphs.v[1].args = f.g->args;
  expect(&f, "error: task @t(en): task @t(en) is defined twice");
  base(&f);
  f.p.graphs.v[1].task = "u v";
  expect(&f, "error: task @u v(): the task name or its arguments cannot be written in the IR text");
  base(&f); /* several problems: all reported */
  nd(&f, 4)->attr[0].set = 0;
  nd(&f, 6)->type.dt = DT_F64;
  f.g->outputs.v[1].name = "loss";
  CHECK(expect(&f, "error: task @t(en): %4: transpose: attribute 'perm' is required but not set") == 4);
}

/* Parsed IR keeps locations: the verifier points at the text. */
static void test_located(void) {
  Fx f;
  arena_init(&f.a);
  ir_program_init(&f.p, &f.a);
  Diag d;
  diag_init(&d);
  SrcFile *src = srcfile_from_string(&f.a, "v.mir",
                                     "task @t() (%a: f32[N]) -> (loss: f32[]) {\n"
                                     "  %0 = exp %a : f32[N]\n"
                                     "  %1 = reduce_sum %0 {axes = [0]} : f32[]\n"
                                     "  return loss = %1\n}\n");
  CHECK(ir_parse(&f.p, src, &d));
  diag_free(&d);
  f.p.graphs.v[0].nodes.v[1].type.dt = DT_F16;
  diag_init(&d);
  CHECK(!ir_verify(&f.p, &d));
  CHECK_STR(d.out.s,
            "v.mir:2:3: error: task @t(): %0: type is f16[N], but the shape rule of exp gives f32[N]\n"
            "    %0 = exp %a : f32[N]\n"
            "    ^\n"
            "v.mir:3:3: error: task @t(): %1: type is f32[], but the shape rule of reduce_sum "
            "gives f16[]\n"
            "    %1 = reduce_sum %0 {axes = [0]} : f32[]\n"
            "    ^\n");
  diag_free(&d);
  arena_free(&f.a);
}

int main(void) {
  test_valid();
  test_nodes();
  test_params();
  test_used_by();
  test_graphs();
  test_located();
  return test_done();
}
