/* test_cg_kir.c — the lowering without running anything:
 *   - the op table: every op of ir/ops.def either lowers or is on the justified list below;
 *   - golden KIR text for four groups (tests/codegen/NAME.kir; MAMC_UPDATE_GOLDEN=1
 *     rewrites them — review the diff by eye);
 *   - groups that must be refused, with their messages;
 *   - the dims layout: cg_fill_dims from shapes (and its shape check), cg_outer;
 *   - the compile cache: the same group in two graphs compiles once (with LLVM).
 */
#include <stdlib.h>

#include "cpu.h"
#include "test.h"

/* ---- the op table ------------------------------------------------------------------------- */

/* Ops that do not lower to a KIR kernel, and why (the table's own reasons are checked to be
 * non-empty; this list is the test's statement of which ops they are). */
static const Op unsupported[] = {
    OP_INPUT, OP_PARAM,            /* values the runtime passes in as buffers */
    OP_MATMUL,                     /* BLAS / cuBLAS; an epilogue group reads its product */
    OP_RESHAPE,                    /* a view: leading/trailing group members, no kernel of its own */
    OP_GATHER, OP_SCATTER_ADD,     /* data-dependent sources per index */
    OP_GROUPNORM,                  /* needs the last axis split into groups */
    OP_CROSS_ENTROPY, OP_CROSS_ENTROPY_GRAD, /* data-dependent reads, a scalar mean; a row kernel */
    OP_SOFTMAX_ATTENTION, OP_SOFTMAX_ATTENTION_GRAD, OP_LINEAR_ATTENTION, /* runtime kernels around matrix products */
    OP_LINEAR_ATTENTION_STATE, OP_LINEAR_ATTENTION_GRAD,
    OP_ALLREDUCE, OP_REDUCE_SCATTER, OP_ALLGATHER, OP_BROADCAST, OP_OUTER_SYNC, /* collectives */
    OP_TRIM_GATHER, OP_UNTRIM_SCATTER, /* data-dependent rows (DEPT) */
    OP_ALLREDUCE_START, OP_ALLREDUCE_DONE,
    OP_ALLREDUCE_START, OP_ALLREDUCE_DONE,
};

static void test_op_table(void) {
  int listed[OP_COUNT] = {0};
  for (int i = 0; i < COUNT_OF(unsupported); i++) listed[unsupported[i]] = 1;
  for (int op = 0; op < OP_COUNT; op++) {
    const char *why = NULL;
    int ok = cg_op_supported((Op)op, &why);
    CHECK_MSG(ok == !listed[op], "%s: lowers %d, listed unsupported %d", op_info((Op)op)->name, ok, listed[op]);
    if (!ok) CHECK_MSG(why && why[0], "%s: no reason given", op_info((Op)op)->name);
  }
}

/* ---- small graphs ------------------------------------------------------------------------- */

typedef struct G {
  Arena a;
  IrProgram p;
  IrGraph *g;
  int nodes[32], nn;
} G;

static void g_begin(G *t) {
  arena_init(&t->a);
  ir_program_init(&t->p, &t->a);
  ir_sym(&t->p, "B");
  ir_sym(&t->p, "S");
  ir_graph_add(&t->p, "t", 0, NULL);
  t->g = &t->p.graphs.v[0];
  t->nn = 0;
}
static IrType ty(DType dt, int rank, Dim a, Dim b, Dim c) { return (IrType){.dt = dt, .rank = rank, .d = {a, b, c}}; }
static int g_in(G *t, const char *name, IrType type) { return ir_input_add(&t->p, t->g, name, type); }
static int g_op(G *t, Op op, int a, int b, int c, int member) {
  int ins[3] = {a, b, c}, n = c >= 0 ? 3 : b >= 0 ? 2 : 1;
  int id = ir_node_add(&t->p, t->g, op, op == OP_CONST ? 0 : n, ins);
  if (op == OP_CONST) t->g->nodes.v[id].type = ty(DT_F32, 0, dim_const(0), dim_const(0), dim_const(0));
  if (member) t->nodes[t->nn++] = id;
  return id;
}
static void g_infer(G *t, int id) {
  char err[256];
  if (!ir_infer(&t->p, t->g, id, err, sizeof err)) die("%s", err);
}
static int OPI(G *t, Op op, int a, int b, int c) {
  int id = g_op(t, op, a, b, c, 1);
  g_infer(t, id);
  return id;
}
static int g_const(G *t, double v) {
  int id = g_op(t, OP_CONST, -1, -1, -1, 1);
  ir_set_f(&t->g->nodes.v[id], "value", v);
  return id;
}

static const Dim dB = {0, 1, 0}, dS = {1, 1, 0};

/* t = x * s + b; y = gelu(t) over x[B, S, 64], s[64], b[64] */
static void build_bias_gelu(G *t) {
  g_begin(t);
  int x = g_in(t, "x", ty(DT_F32, 3, dB, dS, dim_const(64)));
  int s = g_in(t, "s", ty(DT_F32, 1, dim_const(64), dim_const(0), dim_const(0)));
  int b = g_in(t, "b", ty(DT_F32, 1, dim_const(64), dim_const(0), dim_const(0)));
  int m = OPI(t, OP_MUL, x, s, -1);
  OPI(t, OP_GELU, OPI(t, OP_ADD, m, b, -1), -1, -1);
}

/* y = softmax(x * 0.125 + mask[1, S]) over x[B, S, S] */
static void build_softmax(G *t) {
  g_begin(t);
  int x = g_in(t, "x", ty(DT_F32, 3, dB, dS, dS));
  int mask = g_in(t, "mask", ty(DT_F32, 2, dim_const(1), dS, dim_const(0)));
  int sc = OPI(t, OP_MUL, x, g_const(t, 0.125), -1);
  OPI(t, OP_SOFTMAX, OPI(t, OP_ADD, sc, mask, -1), -1, -1);
}

/* h = x + r (returned); y = layernorm(h, g, b) over [B, S, 32] */
static void build_residual_ln(G *t) {
  g_begin(t);
  int x = g_in(t, "x", ty(DT_F32, 3, dB, dS, dim_const(32)));
  int r = g_in(t, "r", ty(DT_F32, 3, dB, dS, dim_const(32)));
  int g = g_in(t, "g", ty(DT_F32, 1, dim_const(32), dim_const(0), dim_const(0)));
  int b = g_in(t, "b", ty(DT_F32, 1, dim_const(32), dim_const(0), dim_const(0)));
  int h = OPI(t, OP_ADD, x, r, -1);
  ir_output_add(&t->p, t->g, "h", h);
  OPI(t, OP_LAYERNORM, h, g, b);
}

/* rotary's rotate-half on the first 8 of x[B, S, 16]: y = concat(x[..., :8] * c + rot * s,
 * x[..., 8:]) with rot = concat(-x[..., 4:8], x[..., :4]); and pad(y[..., :8]) at 8:16 added:
 * slices, concats and a pad read through windows (offset terms, guarded loads) */
static int g_move(G *t, Op op, int x, int axis, int64_t start, int64_t end) {
  int id = g_op(t, op, x, -1, -1, 1);
  ir_set_i(&t->g->nodes.v[id], "axis", axis);
  ir_set_i(&t->g->nodes.v[id], "start", start);
  if (end >= 0) ir_set_i(&t->g->nodes.v[id], "end", end);
  return id;
}
static void build_rotary(G *t) {
  g_begin(t);
  int x = g_in(t, "x", ty(DT_F32, 3, dB, dS, dim_const(16)));
  int c = g_in(t, "c", ty(DT_F32, 2, dS, dim_const(8), dim_const(0)));
  int sn = g_in(t, "s", ty(DT_F32, 2, dS, dim_const(8), dim_const(0)));
  int hi = g_move(t, OP_SLICE, x, 2, 4, 8), lo = g_move(t, OP_SLICE, x, 2, 0, 4), head = g_move(t, OP_SLICE, x, 2, 0, 8);
  int tail = g_move(t, OP_SLICE, x, 2, 8, -1);
  g_infer(t, hi), g_infer(t, lo), g_infer(t, head), g_infer(t, tail);
  int ins[2] = {OPI(t, OP_NEG, hi, -1, -1), lo};
  int rot = ir_node_add(&t->p, t->g, OP_CONCAT, 2, ins);
  ir_set_i(&t->g->nodes.v[rot], "axis", -1);
  g_infer(t, rot);
  t->nodes[t->nn++] = rot;
  int y = OPI(t, OP_ADD, OPI(t, OP_MUL, head, c, -1), OPI(t, OP_MUL, rot, sn, -1), -1);
  int ins2[2] = {y, tail};
  int out = ir_node_add(&t->p, t->g, OP_CONCAT, 2, ins2);
  ir_set_i(&t->g->nodes.v[out], "axis", -1);
  g_infer(t, out);
  t->nodes[t->nn++] = out;
  int p = g_move(t, OP_PAD, y, 2, 8, 16);
  t->g->nodes.v[p].type = ty(DT_F32, 3, dB, dS, dim_const(16));
  g_infer(t, p);
  OPI(t, OP_ADD, out, p, -1);
}

/* ---- golden -------------------------------------------------------------------------------- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static void golden(const char *name, void (*build)(G *)) {
  G t;
  build(&t);
  Kir k;
  char err[256], path[256];
  CHECK_MSG(cg_lower(&t.p, t.g, t.nodes, t.nn, &k, err, sizeof err), "%s: %s", name, err);
  StrBuf b;
  sb_init(&b);
  sb_printf(&b, "# %s: golden KIR (tests/codegen/test_cg_kir.c). MAMC_UPDATE_GOLDEN=1 rewrites it.\n", name);
  kir_print(&b, &k, 1);
  CgKernel ck;
  CHECK(cg_describe(&k, &ck, err, sizeof err));
  sb_printf(&b, "# %s: %d inputs, %d outputs; outer iterations (%s) = product of", ck.name, ck.nin, ck.nbufs - ck.nin,
            ck.row ? "rows" : "elements");
  for (int i = 0; i < ck.nouter; i++) sb_printf(&b, " d%d", ck.outer[i]);
  sb_putc(&b, '\n');
  snprintf(path, sizeof path, "tests/codegen/%s.kir", name);
  if (getenv("MAMC_UPDATE_GOLDEN")) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (f) {
      fputs(b.s, f);
      fclose(f);
    }
    printf("updated %s\n", path);
  } else {
    char *want = slurp(path);
    CHECK_MSG(want != NULL, "missing %s (run with MAMC_UPDATE_GOLDEN=1)", path);
    if (want) CHECK_STR(b.s, want);
    printf("%s %s\n", want && strcmp(b.s, want) == 0 ? "OK    " : "NOT OK", path);
    free(want);
  }
  sb_free(&b);
  kir_free(&k);
  arena_free(&t.a);
}

/* ---- refusals --------------------------------------------------------------------------------- */

static void refuse(G *t, const char *want) {
  Kir k;
  char err[256] = "";
  int ok = cg_lower(&t->p, t->g, t->nodes, t->nn, &k, err, sizeof err);
  CHECK_MSG(!ok && strstr(err, want), "expected a refusal containing '%s', got %s'%s'", want, ok ? "success " : "", err);
  printf("%s refused: %s\n", !ok && strstr(err, want) ? "OK    " : "NOT OK", err);
  if (ok) kir_free(&k);
  arena_free(&t->a);
}

static void test_refusals(void) {
  G t;
  IrType v = ty(DT_F32, 2, dB, dS, dim_const(0));
  g_begin(&t); /* gather is not lowered */
  int tab = g_in(&t, "tab", ty(DT_F32, 2, dim_const(10), dim_const(4), dim_const(0)));
  int ids = g_in(&t, "ids", ty(DT_I32, 1, dB, dim_const(0), dim_const(0)));
  OPI(&t, OP_GATHER, tab, ids, -1);
  refuse(&t, "gather: not lowered: data-dependent");

  g_begin(&t); /* elementwise outputs of two shapes */
  int x = g_in(&t, "x", v), c = g_in(&t, "c", ty(DT_F32, 1, dS, dim_const(0), dim_const(0)));
  int e = OPI(&t, OP_EXP, c, -1, -1);
  ir_output_add(&t.p, t.g, "e", e);
  OPI(&t, OP_ADD, x, e, -1);
  refuse(&t, "need one shape");

  g_begin(&t); /* reductions over different axes */
  x = g_in(&t, "x", v);
  int r0 = g_op(&t, OP_REDUCE_SUM, x, -1, -1, 1);
  int64_t a0 = 0, a1 = 1;
  ir_set_ints(&t.p, &t.g->nodes.v[r0], "axes", &a0, 1);
  ir_set_i(&t.g->nodes.v[r0], "keepdim", 1);
  g_infer(&t, r0);
  int r1 = g_op(&t, OP_REDUCE_MAX, x, -1, -1, 1);
  ir_set_ints(&t.p, &t.g->nodes.v[r1], "axes", &a1, 1);
  ir_set_i(&t.g->nodes.v[r1], "keepdim", 1);
  g_infer(&t, r1);
  OPI(&t, OP_ADD, r0, r1, -1);
  refuse(&t, "");

  g_begin(&t); /* bf16 storage belongs to the GPU backend */
  x = g_in(&t, "x", ty(DT_BF16, 2, dB, dS, dim_const(0)));
  OPI(&t, OP_NEG, x, -1, -1);
  refuse(&t, "bf16");

  g_begin(&t); /* transcendental of i32 */
  x = g_in(&t, "x", ty(DT_I32, 2, dB, dS, dim_const(0)));
  OPI(&t, OP_EXP, x, -1, -1);
  refuse(&t, "exp: needs a float operand");

  g_begin(&t); /* nodes out of order */
  x = g_in(&t, "x", v);
  int n1 = OPI(&t, OP_NEG, x, -1, -1), n2 = OPI(&t, OP_EXP, n1, -1, -1);
  t.nodes[0] = n2;
  t.nodes[1] = n1;
  refuse(&t, "increasing order");
}

/* ---- dims layout and the cache ---------------------------------------------------------------- */

static void test_layout_and_cache(void) {
  G t;
  build_bias_gelu(&t);
  Kir k;
  CgKernel ck;
  char err[256];
  CHECK(cg_lower(&t.p, t.g, t.nodes, t.nn, &k, err, sizeof err));
  CHECK(cg_describe(&k, &ck, err, sizeof err));
  int64_t sx[3] = {2, 5, 64}, sv[1] = {64}, bad[3] = {2, 6, 64}, sym[2] = {2, 5}, dims[CG_MAX_DIMS];
  const int64_t *shapes[4] = {sx, sv, sv, sx};
  CHECK(ck.nbufs == 4 && ck.nin == 3 && !ck.row);
  CHECK(cg_fill_dims(&ck, shapes, sym, NULL, dims, err, sizeof err));
  CHECK(cg_outer(&ck, dims) == 2 * 5 * 64);
  CHECK(cg_fill_dims(&ck, shapes, NULL, NULL, dims, err, sizeof err)); /* no slot needs the symbols */
  shapes[3] = bad;
  CHECK(!cg_fill_dims(&ck, shapes, sym, NULL, dims, err, sizeof err));
  CHECK_MSG(strstr(err, "has extent 6 on axis 1, its type says 5") != NULL, "%s", err);
  kir_free(&k);

  /* the same group in a second graph, after other nodes: one compile, one cache hit */
  CgCpu *s = cg_cpu_new(err, sizeof err);
  if (!s) {
    CHECK(strstr(err, "without LLVM") != NULL);
    CHECK(!cg_cpu_compile(NULL, &t.p, t.g, t.nodes, t.nn, &ck, err, sizeof err));
    printf("no LLVM: %s\n", err);
    arena_free(&t.a);
    return;
  }
  CgKernel k1, k2;
  CHECK_MSG(cg_cpu_compile(s, &t.p, t.g, t.nodes, t.nn, &k1, err, sizeof err), "%s", err);
  G u;
  g_begin(&u);
  int pad = g_in(&u, "unused", ty(DT_F32, 1, dB, dim_const(0), dim_const(0)));
  OPI(&u, OP_NEG, pad, -1, -1);
  u.nn = 0;
  int x = g_in(&u, "x", ty(DT_F32, 3, dB, dS, dim_const(64)));
  int sc = g_in(&u, "s", ty(DT_F32, 1, dim_const(64), dim_const(0), dim_const(0)));
  int b = g_in(&u, "b", ty(DT_F32, 1, dim_const(64), dim_const(0), dim_const(0)));
  OPI(&u, OP_GELU, OPI(&u, OP_ADD, OPI(&u, OP_MUL, x, sc, -1), b, -1), -1, -1);
  CHECK_MSG(cg_cpu_compile(s, &u.p, u.g, u.nodes, u.nn, &k2, err, sizeof err), "%s", err);
  int compiled, hits;
  cg_cpu_stats(s, &compiled, &hits);
  CHECK(compiled == 1 && hits == 1);
  CHECK(k1.fn == k2.fn && strcmp(k1.name, k2.name) == 0);
  CHECK(k2.bufs[0].node == x && k1.bufs[0].node == 0); /* same code, each graph's own buffers */
  printf("%s cache: 1 compile, 1 hit, one function for both graphs\n", compiled == 1 && hits == 1 ? "OK    " : "NOT OK");
  cg_cpu_free(s);
  arena_free(&u.a);
  arena_free(&t.a);
}

int main(void) {
  test_op_table();
  golden("ew_bias_gelu", build_bias_gelu);
  golden("softmax_mask", build_softmax);
  golden("residual_layernorm", build_residual_ln);
  golden("rotary_windows", build_rotary);
  test_refusals();
  test_layout_and_cache();
  return test_done();
}
