/* test_unit.c — the pieces of the passes layer that golden files do not show:
 *   - the fusion-group text form (round trip, parse errors) and every rule of ir/group.h as a
 *     verifier error on a hand-made program;
 *   - fusion_group_info: kind, root, anchor, inputs and outputs of the groups of a program;
 *   - the pipeline: the table, lookup by name and letter, `until`, `only`, dumps, errors;
 *     pass_rebuild_graph refusing a reference to a dropped node;
 *   - memory plans: symbolic element counts, memplan_check and the plan-respecting evaluator
 *     both catching a plan that overwrites a live value.
 */
#include <stdlib.h>

#include "equiv.h"
#include "fusion.h"
#include "pipeline.h"
#include "test.h"

typedef struct Prog {
  Arena a;
  Diag d;
  IrProgram p;
  int parsed;
} Prog;

static void prog_parse(Prog *g, const char *text) {
  arena_init(&g->a);
  diag_init(&g->d);
  ir_program_init(&g->p, &g->a);
  g->parsed = ir_parse(&g->p, srcfile_from_string(&g->a, "t.mir", text), &g->d);
}

static void prog_free(Prog *g) {
  diag_free(&g->d);
  arena_free(&g->a);
}

static char *print(const IrProgram *p) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, p);
  return b.s ? b.s : strdup("");
}

/* ---- the text form ----------------------------------------------------------------------- */

static void test_text(void) {
  const char *text = "task @t() (%x: f32[B, 8]) -> (y: f32[B, 8]) {\n"
                     "  %0 = exp %x                                       : f32[B, 8] group 7\n"
                     "  %1 = neg %0                                       : f32[B, 8] group 7\n"
                     "  return y = %1\n"
                     "}\n";
  Prog g;
  prog_parse(&g, text);
  CHECK_MSG(g.parsed, "%s", g.d.out.s ? g.d.out.s : "");
  if (g.parsed) {
    CHECK(g.p.graphs.v[0].nodes.v[1].group == 7);
    CHECK(ir_verify(&g.p, &g.d));
    char *t = print(&g.p);
    CHECK_STR(t, text);
    free(t);
  }
  prog_free(&g);
  static const struct {
    const char *line, *err;
  } bad[] = {
      {"%0 = exp %x : f32[B] group -1", "fusion group -1 is out of range"},
      {"%0 = exp %x : f32[B] group x", "expected a fusion group number"},
      {"%0 = exp %x : f32[B] group 99999999999", "out of range"},
  };
  for (int i = 0; i < COUNT_OF(bad); i++) {
    char buf[256];
    snprintf(buf, sizeof buf, "task @t() (%%x: f32[B]) -> (y: f32[B]) {\n  %s\n  return y = %%0\n}\n", bad[i].line);
    prog_parse(&g, buf);
    CHECK_MSG(!g.parsed && g.d.out.s && strstr(g.d.out.s, bad[i].err), "%s\n%s", bad[i].line,
              g.d.out.s ? g.d.out.s : "(parsed)");
    prog_free(&g);
  }
}

/* ---- the rules, as verifier errors ---------------------------------------------------------- */

static const char *head =
    "module @m sync every(1) used_by [t()]\n"
    "  param w : f32[8, 8] init xavier\n"
    "task @t() (%x: f32[B, 8], %v: f32[8]) -> (y: f32[B, 8], o: f32[B, 8], p: f32[8]) {\n"
    "  %w = param @m.w : f32[8, 8]\n";

static void expect_invalid(const char *body, const char *returns, const char *err) {
  char buf[2048];
  snprintf(buf, sizeof buf, "%s%s%s}\n", head, body, returns);
  Prog g;
  prog_parse(&g, buf);
  CHECK_MSG(g.parsed, "%s", g.d.out.s ? g.d.out.s : "");
  int ok = g.parsed && ir_verify(&g.p, &g.d);
  CHECK_MSG(!ok && g.d.out.s && strstr(g.d.out.s, err), "expected '%s' for:\n%s\ngot: %s", err, body,
            g.d.out.s ? g.d.out.s : "(valid)");
  prog_free(&g);
}

static void expect_valid(const char *body, const char *returns) {
  char buf[2048];
  snprintf(buf, sizeof buf, "%s%s%s}\n", head, body, returns);
  Prog g;
  prog_parse(&g, buf);
  int ok = g.parsed && ir_verify(&g.p, &g.d);
  CHECK_MSG(ok, "%s\n%s", body, g.d.out.s ? g.d.out.s : "");
  prog_free(&g);
}

static void test_rules(void) {
  const char *ret = "  return y = %y\n  return o = %o\n  return p = %p\n";
  const char *std_o = "  %o = neg %x : f32[B, 8]\n  %p = neg %v : f32[8]\n";
  char body[1024];
#define BODY(s) (snprintf(body, sizeof body, "%s%s", s, std_o), body)
  /* valid: a chain, an epilogue with a trailing reshape, a norm with its prologue */
  expect_valid(BODY("  %a = exp %x : f32[B, 8] group 0\n  %y = neg %a : f32[B, 8] group 0\n"), ret);
  expect_valid(BODY("  %m = matmul %x, %w : f32[B, 8] group 3\n  %a = add %m, %v : f32[B, 8] group 3\n"
                    "  %r = reshape %a : f32[B, 2, 4]\n  %y = reshape %r : f32[B, 8]\n"),
               ret);
  expect_valid(BODY("  %i = iota {axis = 1} : f32[B, 8] group 0\n  %c = const {value = 2} : f32[] group 0\n"
                    "  %a = mul %i, %c : f32[B, 8] group 0\n  %y = add %a, %x : f32[B, 8] group 0\n"),
               ret);
  expect_valid(BODY("  %a = tanh %x : f32[B, 8] group 1\n  %y = layernorm %a, %v : f32[B, 8] group 1\n"), ret);
  /* structure */
  expect_invalid(BODY("  %a = exp %x : f32[B, 8] group 0\n  %t = neg %x : f32[B, 8]\n  %y = tanh %a : f32[B, 8] group 0\n"),
                 ret, "members are not consecutive");
  expect_invalid(BODY("  %a = exp %x : f32[B, 8] group 0\n  %y = neg %x : f32[B, 8] group 0\n"), ret,
                 "is not connected");
  expect_invalid(BODY("  %w2 = param @m.w : f32[8, 8] group 0\n  %y = matmul %x, %w2 : f32[B, 8] group 0\n"),
                 ret, "(param) cannot be in a fusion group");
  expect_invalid(BODY("  %a = exp %x : f32[B, 8] group 0\n  %r = reshape %a : f32[B, 2, 4] group 0\n"
                      "  %y = reshape %r : f32[B, 8]\n"),
                 ret, "(reshape) cannot be in a fusion group");
  expect_invalid(BODY("  %t = expand %v : f32[B, 8] group 0\n  %y = exp %t : f32[B, 8] group 0\n"), ret,
                 "(expand) cannot be in a fusion group");
  expect_valid(BODY("  %s = slice %x {axis = 1, end = 4} : f32[B, 4] group 0\n  %e = exp %s : f32[B, 4] group 0\n"
                    "  %r = reduce_sum %e {axes = [1], keepdim = 1} : f32[B, 1] group 0\n  %y = add %x, %r : f32[B, 8]\n"),
               ret);
  expect_invalid(BODY("  %n = layernorm %x : f32[B, 8] group 0\n  %t = slice %n {axis = 1, start = 4} : f32[B, 4] group 0\n"
                      "  %s = slice %n {axis = 1, end = 4} : f32[B, 4] group 0\n  %a = add %s, %t : f32[B, 4] group 0\n"
                      "  %y = concat %a, %a {axis = 1} : f32[B, 8] group 0\n"),
                 ret, "is outside the prologue of");
  expect_invalid(BODY("  %m = matmul %x, %w : f32[B, 8] group 0\n  %t = transpose %m {perm = [0, 1]} : f32[B, 8] group 0\n"
                      "  %y = neg %t : f32[B, 8] group 0\n"),
                 ret, "joins no epilogue group");
  expect_invalid(BODY("  %a = exp %x : f32[B, 8] group 0\n  %s = slice %a {axis = 1, end = 4} : f32[B, 4] group 0\n"
                      "  %y = add %a, %a : f32[B, 8] group 0\n"),
                 ret, "does not broadcast with the other members' shapes");
  expect_invalid(BODY("  %d = dropout %x {p = 0.1} : f32[B, 8] group 0\n  %s = slice %d {axis = 1, end = 4} : f32[B, 4] group 0\n"
                      "  %y = concat %s, %s {axis = 1} : f32[B, 8] group 0\n"),
                 ret, "(dropout) is read through a slice, pad or concat");
  expect_valid(BODY("  %s = slice %x {axis = 1, end = 4} : f32[B, 4] group 0\n  %t = slice %x {axis = 1, start = 4} : f32[B, 4] group 0\n"
                    "  %a = add %s, %t : f32[B, 4] group 0\n  %y = concat %a, %t {axis = 1} : f32[B, 8] group 0\n"),
               ret);
  expect_invalid(BODY("  %s = reduce_sum %x {axes = [0]} : f32[8] group 0\n  %y = add %x, %s : f32[B, 8]\n"), ret,
                 "(reduce_sum) cannot be in a fusion group");
  expect_invalid(BODY("  %c = const {value = 2} : f32[B, 8] group 0\n  %y = neg %c : f32[B, 8]\n"), ret,
                 "the group computes nothing");
  expect_invalid(BODY("  %c = const {value = 2} : f32[] group 0\n  %a = add %x, %c : f32[B, 8] group 0\n"
                      "  %y = sub %a, %c : f32[B, 8]\n"),
                 ret, "%1 (const) is read outside its group but does not have the anchor shape");
  /* roots */
  expect_invalid(BODY("  %a = softmax %x : f32[B, 8] group 0\n  %b = rmsnorm %a : f32[B, 8] group 0\n"
                      "  %y = neg %b : f32[B, 8]\n"),
                 ret, "are both roots");
  expect_invalid(BODY("  %s = reduce_max %x {axes = [1], keepdim} : f32[B, 1] group 0\n"
                      "  %y = sub %x, %s : f32[B, 8] group 0\n"),
                 ret, "must be the last member");
  expect_invalid(BODY("  %a = tanh %x : f32[B, 8] group 0\n  %s = reduce_sum %a {axes = [1], keepdim} : f32[B, 1] group 0\n"
                      "  %z = neg %a : f32[B, 8]\n  %y = mul %x, %s : f32[B, 8]\n"),
                 ret, "is read outside its row-reduction group");
  /* sibling norms over the same rows share a group; over other rows they are two roots */
  expect_valid(BODY("  %a = layernorm_grad %x, %x : f32[B, 8] group 0\n  %b = layernorm %x : f32[B, 8] group 0\n"
                    "  %y = mul %a, %b : f32[B, 8] group 0\n"),
               ret);
  expect_invalid(BODY("  %t = tanh %x : f32[B, 8]\n  %a = layernorm_grad %x, %x : f32[B, 8] group 0\n"
                      "  %b = layernorm %t : f32[B, 8] group 0\n  %y = mul %a, %b : f32[B, 8] group 0\n"),
                 ret, "are both roots");
  /* a norm group goes on past its root (an epilogue), and any member may be an output */
  expect_valid(BODY("  %a = tanh %x : f32[B, 8] group 0\n  %b = rmsnorm %a : f32[B, 8] group 0\n"
                    "  %y = add %b, %x : f32[B, 8] group 0\n  %z = neg %a : f32[B, 8]\n  %u = neg %b : f32[B, 8]\n"),
               ret);
  expect_invalid(BODY("  %g = exp %v : f32[8] group 0\n  %y = layernorm %x, %g : f32[B, 8] group 0\n"), ret,
                 "reads operand 1 from inside its group");
  expect_invalid(BODY("  %m = matmul %x, %w : f32[B, 8] group 0\n  %a = add %m, %v : f32[B, 8] group 0\n"
                      "  %y = add %a, %m : f32[B, 8]\n"),
                 ret, "heads an epilogue group but is also read outside");
  /* shapes */
  expect_invalid("  %p = exp %v : f32[8] group 0\n  %y = add %x, %p : f32[B, 8] group 0\n  %o = neg %x : f32[B, 8]\n",
                 ret, "does not have the anchor shape");
  expect_invalid(BODY("  %c = const {value = 1} : f32[3, B, 8]\n  %a = exp %x : f32[B, 8] group 0\n"
                      "  %b = add %a, %c : f32[3, B, 8] group 0\n"
                      "  %s = reduce_sum %a {axes = [1], keepdim} : f32[B, 1] group 0\n  %y = add %x, %s : f32[B, 8]\n"),
                 ret, "%3 (add) has a shape that does not broadcast into the group's anchor");
#undef BODY
}

/* ---- fusion_group_info ------------------------------------------------------------------------ */

static void test_info(void) {
  Prog g;
  prog_parse(&g, "module @m sync every(1) used_by [t()]\n"
                 "  param w : f32[8, 16] init xavier\n  param b : f32[16] init zeros\n  param g : f32[16] init ones\n"
                 "task @t() (%x: f32[B, 8]) -> (h: f32[B, 16], n: f32[B, 16], s: f32[B]) {\n"
                 "  %w = param @m.w : f32[8, 16]\n  %b = param @m.b : f32[16]\n  %g = param @m.g : f32[16]\n"
                 "  %m = matmul %x, %w : f32[B, 16]\n  %a = add %m, %b : f32[B, 16]\n  %h = relu %a : f32[B, 16]\n"
                 "  %p = mul %h, %g : f32[B, 16]\n  %n = rmsnorm %p, %g : f32[B, 16]\n"
                 "  %e = exp %a : f32[B, 16]\n  %s = reduce_sum %e {axes = [1]} : f32[B]\n"
                 "  return h = %h\n  return n = %n\n  return s = %s\n}\n");
  CHECK_MSG(g.parsed, "%s", g.d.out.s ? g.d.out.s : "");
  if (!g.parsed) goto done;
  CHECK(pass_fusion(&g.p, 0, &g.d));
  CHECK_MSG(ir_verify(&g.p, &g.d), "%s", g.d.out.s ? g.d.out.s : "");
  FusionGroups fg;
  char err[256];
  CHECK_MSG(fusion_group_info(&g.p, 0, &g.a, &fg, err, sizeof err), "%s", err);
  CHECK(fg.n == 3);
  if (fg.n != 3) goto done;
  const IrGraph *gr = &g.p.graphs.v[0];
  const FusionGroup *ep = &fg.v[0], *nm = &fg.v[1], *rd = &fg.v[2];
  /* the epilogue: matmul root, add + relu; outputs: a (read by exp), h (returned, read by mul) */
  CHECK(ep->kind == FK_EPILOGUE && gr->nodes.v[ep->root].op == OP_MATMUL && ep->count == 3);
  CHECK(ep->ninputs == 3 && gr->nodes.v[ep->inputs[0]].op == OP_INPUT && gr->nodes.v[ep->inputs[1]].op == OP_PARAM);
  CHECK(ep->noutputs == 2 && gr->nodes.v[ep->outputs[0]].op == OP_ADD && gr->nodes.v[ep->outputs[1]].op == OP_RELU);
  CHECK(ep->anchor.rank == 2 && dim_eq(ep->anchor.d[1], dim_const(16)));
  CHECK(nm->kind == FK_NORM && gr->nodes.v[nm->root].op == OP_RMSNORM && nm->count == 2);
  CHECK(nm->noutputs == 1 && nm->outputs[0] == nm->root && nm->ninputs == 2); /* h, g (once) */
  CHECK(rd->kind == FK_ROW_REDUCE && gr->nodes.v[rd->root].op == OP_REDUCE_SUM && rd->root == rd->first + rd->count - 1);
  CHECK(rd->anchor.rank == 2 && rd->ninputs == 1 && gr->nodes.v[rd->inputs[0]].op == OP_ADD);
  CHECK(!strcmp(fusion_kind_name(FK_ROW_REDUCE), "row-reduction"));
  for (int k = 0; k < fg.n; k++) CHECK(fg.v[k].id == k); /* numbered in node order */
done:
  prog_free(&g);
}

/* ---- the pipeline ---------------------------------------------------------------------------------- */

static const char *lossy = "module @m sync every(1) used_by [t()]\n  param w : f32[8] init ones\n"
                           "task @t() (%x: f32[B, 8]) -> (loss: f32[]) {\n"
                           "  %w = param @m.w : f32[8]\n  %one = const {value = 1} : f32[]\n"
                           "  %a = mul %x, %w : f32[B, 8]\n  %b = mul %a, %one : f32[B, 8]\n  %c = tanh %b : f32[B, 8]\n"
                           "  %l = reduce_mean %c {axes = [0, 1]} : f32[]\n  return loss = %l\n}\n";

static void test_pipeline(void) {
  int n;
  const Pass *t = pass_table(&n);
  CHECK(n >= 5 && !strcmp(t[0].name, "autodiff") && t[1].letter == 'L' && t[2].letter == 'S' && t[n - 2].letter == 'F' &&
        t[n - 1].letter == 'M');
  CHECK(pass_find("F") == pass_find("fusion") && pass_find("fusion") == &t[n - 2]);
  CHECK(pass_find("L") == pass_find("lower_attn") && pass_find("lower_attn") == &t[1]);
  CHECK(pass_find("C") == pass_find("comm") && pass_find("comm") == &t[n - 3]); /* after simplify */
  CHECK(pass_find("f") == NULL && pass_find("SF") == NULL && pass_find(NULL) == NULL);
  Prog g;
  prog_parse(&g, lossy);
  CHECK(g.parsed);
  CHECK(!pass_run_pipeline(&g.p, "nope", &g.d) && strstr(g.d.out.s, "unknown pass 'nope'"));
  prog_free(&g);
  /* until simplify: autodiff ran (gradient output), simplify ran (the x*1 is gone), no groups */
  prog_parse(&g, lossy);
  StrBuf dump;
  sb_init(&dump);
  PipelineOpts o = {"simplify", NULL, 1, "AS", &dump};
  CHECK_MSG(pass_run(&g.p, &o, &g.d), "%s", g.d.out.s ? g.d.out.s : "");
  const IrGraph *gr = &g.p.graphs.v[0];
  CHECK(gr->outputs.n == 2 && !strcmp(gr->outputs.v[1].name, "grad.m.w"));
  int groups = 0, ones = 0;
  for (int i = 0; i < gr->nodes.n; i++) {
    groups += gr->nodes.v[i].group >= 0;
    const IrNode *c = gr->nodes.v[i].op == OP_MUL ? &gr->nodes.v[gr->nodes.v[i].in[1]] : NULL;
    ones += c && c->op == OP_CONST && ir_get_f(c, "value") == 1;
  }
  CHECK(groups == 0 && ones == 0);
  CHECK(dump.s && strstr(dump.s, "# ---- after autodiff (A)") && strstr(dump.s, "# ---- after simplify (S)"));
  sb_free(&dump);
  prog_free(&g);
  /* only fusion: no autodiff, groups */
  prog_parse(&g, lossy);
  PipelineOpts o2 = {NULL, "F", 1, NULL, NULL};
  CHECK(pass_run(&g.p, &o2, &g.d));
  CHECK(g.p.graphs.v[0].outputs.n == 1 && g.p.graphs.v[0].nodes.v[g.p.graphs.v[0].nodes.n - 2].group >= 0);
  PipelineOpts o3 = {NULL, "Fz", 1, NULL, NULL};
  CHECK(!pass_run(&g.p, &o3, &g.d) && strstr(g.d.out.s, "unknown pass letter 'z'"));
  prog_free(&g);
  /* the whole pipeline: autodiff refuses a graph that already has gradients */
  prog_parse(&g, lossy);
  CHECK(pass_run_pipeline(&g.p, NULL, &g.d));
  CHECK(!pass_run_pipeline(&g.p, NULL, &g.d) && strstr(g.d.out.s, "already has gradient outputs"));
  prog_free(&g);
  /* rebuild: a reference to a dropped node is an internal error, the graph is left as it was */
  prog_parse(&g, lossy);
  char keep[16] = {1, 1, 1, 0, 1, 1, 1, 1};
  Diag d;
  diag_init(&d);
  int nn = g.p.graphs.v[0].nodes.n;
  CHECK(!pass_rebuild_graph(&g.p, 0, keep, NULL, NULL, &d) && d.out.s && strstr(d.out.s, "dropped"));
  CHECK(g.p.graphs.v[0].nodes.n == nn && ir_verify(&g.p, &d));
  diag_free(&d);
  prog_free(&g);
}

/* ---- memory plans ------------------------------------------------------------------------------------ */

static void test_sizes(void) {
  Prog g;
  prog_parse(&g, "task @t() (%a: f32[B, 2*T+2, 3], %b: f32[2, T+1, B, 3], %c: f32[B, 1-T]) -> (y: f32[B, 2*T+2, 3]) {\n"
                 "  return y = %a\n}\n");
  CHECK(g.parsed);
  if (g.parsed) {
    const IrGraph *gr = &g.p.graphs.v[0];
    SizeExpr a = size_numel(&gr->nodes.v[0].type), b = size_numel(&gr->nodes.v[1].type);
    SizeExpr c = size_numel(&gr->nodes.v[2].type);
    CHECK(size_eq(&a, &b) && a.c == 6 && a.nf == 2);
    StrBuf s;
    sb_init(&s);
    size_print(&s, &g.p, &a);
    sb_puts(&s, " ");
    size_print(&s, &g.p, &c);
    CHECK_STR(s.s, "6*B*(T+1) -1*B*(T-1)");
    sb_free(&s);
    int64_t sv[2];
    sv[ir_sym(&g.p, "B")] = 3;
    sv[ir_sym(&g.p, "T")] = 4;
    CHECK(size_eval(&a, sv) == 3 * 10 * 3 && size_eval(&c, sv) == 3 * -3);
  }
  prog_free(&g);
}

/* A plan that hands a live value's slot to another is caught twice: by memplan_check and by
 * the evaluator (different outputs). */
static void test_bad_plan(void) {
  Prog g;
  prog_parse(&g, "task @t() (%x: f32[B, 8]) -> (y: f32[8, B]) {\n"
                 "  %t = transpose %x {perm = [1, 0]} : f32[8, B]\n  %e = exp %t : f32[8, B]\n"
                 "  %u = transpose %x {perm = [1, 0]} : f32[8, B]\n  %n = neg %u : f32[8, B]\n"
                 "  %y = add %e, %n : f32[8, B]\n  return y = %y\n}\n");
  CHECK(g.parsed);
  MemPlan mp;
  char err[256];
  CHECK(g.parsed && memplan_build(&g.p, 0, &g.a, &mp, &g.d));
  CHECK(memplan_check(&g.p, &mp, err, sizeof err));
  ParamStore ps;
  CHECK(rt_params_init(&ps, &g.p, 1, DT_F64, err, sizeof err));
  int64_t sym[1];
  eq_symbols(&g.p, sym);
  Tensor in[1] = {{0}}, good[1] = {{0}}, bad[1] = {{0}};
  CHECK(eq_inputs(&g.p, &g.p.graphs.v[0], sym, 5, in));
  CHECK(eq_run_plan(&g.p, &mp, sym, in, &ps, good, err, sizeof err));
  /* %e (node 2) and %u (node 3) are both live at %n: give %u the slot of %e */
  CHECK(mp.slot[2] != mp.slot[3]);
  mp.slot[3] = mp.slot[4] = mp.slot[2];
  mp.inplace[4] = 3;
  CHECK(!memplan_check(&g.p, &mp, err, sizeof err) && strstr(err, "while it is live"));
  CHECK(eq_run_plan(&g.p, &mp, sym, in, &ps, bad, err, sizeof err));
  double d = eq_max_diff(&g.p.graphs.v[0], good, &g.p.graphs.v[0], bad);
  CHECK_MSG(d > 1e-6, "the evaluator did not notice the overwrite (diff %g)", d);
  eq_free(in, 1);
  eq_free(good, 1);
  eq_free(bad, 1);
  rt_params_free(&ps);
  prog_free(&g);
}

int main(void) {
  test_text();
  test_rules();
  test_info();
  test_pipeline();
  test_sizes();
  test_bad_plan();
  return test_done();
}
