/* test_parse_errors.c — malformed IR texts: each must fail to parse with exactly the
 * expected first diagnostic line `file:line:col: error: message`. */
#include "ir.h"
#include "test.h"

/* A module and the start of a task that most cases extend (lines 1-5; the body starts on
 * line 6). */
#define HEAD                                                                                                 \
  "module @core sync every(1) used_by [t()]\n"                                                               \
  "  param w : f32[64, 64] init xavier\n"                                                                    \
  "\n"                                                                                                       \
  "task @t() (%x: f32[N, 64], %ids: i32[N]) -> (loss: f32[]) {\n"                                            \
  "  %0 = param @core.w : f32[64, 64]\n"
#define TAIL                                                                                                 \
  "  %l = reduce_mean %x {axes = [0, 1]} : f32[]\n"                                                          \
  "  return loss = %l\n"                                                                                     \
  "}\n"

static void expect_err_at(int line, const char *text, const char *want) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, "t.mir", text);
  int ok = ir_parse(&p, f, &d);
  CHECK_MSG(!ok, "line %d: parsed, expected: %s", line, want);
  const char *out = d.out.s ? d.out.s : "";
  const char *nl = strchr(out, '\n');
  char first[512];
  snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - out) : (int)strlen(out), out);
  CHECK_MSG(strcmp(first, want) == 0, "line %d:\n  got:      %s\n  expected: %s", line, first, want);
  CHECK_MSG(d.nerrors == 1, "line %d: %d errors", line, d.nerrors);
  diag_free(&d);
  arena_free(&a);
}
#define expect_err(text, want) expect_err_at(__LINE__, text, want)

static void test_ok_base(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, "t.mir", HEAD TAIL);
  CHECK_MSG(ir_parse(&p, f, &d), "%s", d.out.s);
  diag_free(&d);
  arena_free(&a);
}

static void test_ops_and_values(void) {
  expect_err(HEAD "  %1 = frobnicate %x : f32[N, 64]\n" TAIL, "t.mir:6:8: error: unknown op 'frobnicate'");
  expect_err(HEAD "  %1 = neg %x, %x : f32[N, 64]\n" TAIL, "t.mir:6:8: error: neg: takes 1 operand, got 2");
  expect_err(HEAD "  %1 = concat : f32[N, 64]\n" TAIL,
             "t.mir:6:8: error: concat: takes at least 1 operand, got 0");
  expect_err(HEAD "  %1 = neg %nope : f32[N, 64]\n" TAIL, "t.mir:6:12: error: undefined value %nope");
  expect_err(HEAD "  %0 = neg %x : f32[N, 64]\n" TAIL, "t.mir:6:3: error: value %0 is defined twice");
  expect_err(HEAD "  %x = neg %x : f32[N, 64]\n" TAIL, "t.mir:6:3: error: value %x is defined twice");
  expect_err(HEAD "  %1 = input : f32[N]\n" TAIL,
             "t.mir:6:8: error: inputs are declared in the task signature, not with 'input'");
  expect_err(HEAD "  %1 = transpose %x : f32[64, N]\n" TAIL,
             "t.mir:6:8: error: transpose: missing attribute 'perm'");
  expect_err(HEAD "  %1 = matmul %0, %x : f32[64, 64]\n" TAIL,
             "t.mir:6:8: error: matmul: inner dimensions differ: f32[64, 64] @ f32[N, 64]");
}

static void test_attributes(void) {
  expect_err(HEAD "  %1 = softmax %x {axes = [1]} : f32[N, 64]\n" TAIL,
             "t.mir:6:20: error: op softmax has no attribute 'axes' (its attributes: axis)");
  expect_err(HEAD "  %1 = neg %x {axis = 1} : f32[N, 64]\n" TAIL,
             "t.mir:6:16: error: op neg has no attribute 'axis' (it takes none)");
  expect_err(HEAD "  %1 = softmax %x {axis = 0.5} : f32[N, 64]\n" TAIL,
             "t.mir:6:27: error: expected an integer for attribute 'axis' of softmax, found '0.5'");
  expect_err(HEAD "  %1 = softmax %x {axis = [1]} : f32[N, 64]\n" TAIL,
             "t.mir:6:27: error: expected an integer for attribute 'axis' of softmax, found '[1]'");
  expect_err(HEAD "  %1 = cast %x {to = f8} : f32[N, 64]\n" TAIL,
             "t.mir:6:22: error: attribute 'to' of cast must be one of f32, bf16, f16, i32, f64; found 'f8'");
  expect_err(HEAD "  %1 = transpose %x {perm = 1} : f32[64, N]\n" TAIL,
             "t.mir:6:29: error: expected a list of integers like [0, 1] for attribute 'perm' of transpose, "
             "found '1'");
  expect_err(
      HEAD "  %1 = allreduce %x {group = core} : f32[N, 64]\n" TAIL,
      "t.mir:6:30: error: expected a group like @core for attribute 'group' of allreduce, found 'core'");
  expect_err(HEAD "  %1 = matmul %x, %0 {tb = yes} : f32[N, 64]\n" TAIL,
             "t.mir:6:28: error: attribute 'tb' of matmul is a flag: write it bare, or = true / = false; "
             "found 'yes'");
  expect_err(HEAD "  %1 = softmax %x {axis = 1, axis = 0} : f32[N, 64]\n" TAIL,
             "t.mir:6:30: error: attribute 'axis' is given twice");
  expect_err(HEAD "  %1 = softmax %x {axis 1} : f32[N, 64]\n" TAIL,
             "t.mir:6:25: error: expected '=' after attribute 'axis' of softmax, found '1'");
}

static void test_types(void) {
  expect_err(HEAD "  %1 = gather %0, %ids : f32[N]\n" TAIL,
             "t.mir:6:26: error: type mismatch: written f32[N], but gather gives f32[N, 64]");
  expect_err(HEAD "  %1 = neg %x : f33[N, 64]\n" TAIL,
             "t.mir:6:17: error: unknown dtype 'f33' (expected f32, bf16, f16, i32 or f64)");
  expect_err(HEAD "  %1 = neg %x : f32[N+M, 64]\n" TAIL,
             "t.mir:6:23: error: a dimension may use only one symbol, found N and M");
  expect_err(HEAD "  %1 = neg %x : f32[N, ]\n" TAIL,
             "t.mir:6:24: error: expected a dimension (like 512, T, T-1 or 2*T+1), found ']'");
  expect_err(HEAD "  %1 = neg %x f32[N, 64]\n" TAIL,
             "t.mir:6:15: error: expected ':' and the type of %1, found 'f32[N, 64]'");
  expect_err(HEAD "  %1 = neg %x : f32[N, 64\n" TAIL,
             "t.mir:7:3: error: expected ']' to close the shape, found '%'");
  expect_err(HEAD "  %1 = neg %x : f32[N, 64-65]\n" TAIL, "t.mir:6:24: error: dimension -1 is negative");
  expect_err(HEAD "  %1 = neg %x : f32[N, 2199023255553]\n" TAIL,
             "t.mir:6:24: error: dimension out of range (at most 2^40)");
  expect_err(HEAD "  %1 = slice %x {axis = 1, end = -4611686018427387905} : f32[N, 0]\n" TAIL,
             "t.mir:6:8: error: slice: start or end out of range");
  expect_err(HEAD "  %1 = reshape %x : f32[N, 65]\n" TAIL,
             "t.mir:6:8: error: reshape: element counts differ: f32[N, 64] to f32[N, 65]");
}

static void test_params(void) {
  expect_err(HEAD "  %1 = param @nope.w : f32[64, 64]\n" TAIL,
             "t.mir:6:15: error: no declared module matches @nope.w (expected @MODULE.PARAM)");
  expect_err(HEAD "  %1 = param @core.v : f32[64, 64]\n" TAIL,
             "t.mir:6:15: error: module @core has no parameter 'v'");
  expect_err(HEAD "  %1 = param @core.w : f32[64, 32]\n" TAIL,
             "t.mir:6:24: error: type mismatch: @core.w is f32[64, 64] in its module, written f32[64, 32]");
  expect_err("param w : f32[4] init zeros\n",
             "t.mir:1:1: error: 'param' outside a module: parameters follow their 'module' line");
  expect_err(
      "module @m\n  param w : f32[4] init gaussian(0, 1)\n",
      "t.mir:2:25: error: unknown initializer 'gaussian' (expected zeros, ones, const(v), normal(mean, std), "
      "uniform(a, b), xavier or dct)");
  expect_err("module @m\n  param w : f32[4] init zeros\n  param w : f32[4] init ones\n",
             "t.mir:3:9: error: module @m already has a parameter 'w'");
  expect_err("module @m sync sometimes\n", "t.mir:1:16: error: expected a sync policy (every(N), outer(every "
                                           "= H, lr = X, momentum = Y) or local), "
                                           "found 'sometimes'");
  expect_err("module @m sync outer(lr = 0.5)\n", "t.mir:1:16: error: outer(...) needs 'every = H'");
  expect_err("module @m\nmodule @m\n", "t.mir:2:9: error: module @m is defined twice");
  expect_err("module @enc[en, fr sync local\n", "t.mir:1:12: error: unclosed '[' in a module name");
}

static void test_used_by(void) {
  expect_err("module @core sync every(1) used_by []\n  param w : f32[4] init zeros\n"
             "task @t() () -> () {\n  %0 = param @core.w : f32[4]\n}\n",
             "t.mir:1:28: error: module @core: task @t() reads its parameters, but used_by does not list it");
  expect_err("module @core used_by [t(), u()]\n  param w : f32[4] init zeros\n"
             "task @t() () -> () {\n  %0 = param @core.w : f32[4]\n}\ntask @u() () -> () {}\n",
             "t.mir:1:28: error: module @core: used_by lists task @u(), which reads none of its parameters");
  expect_err("module @core used_by [t(a,b)]\n  param w : f32[4] init zeros\n"
             "task @t(a) () -> () {\n  %0 = param @core.w : f32[4]\n}\n",
             "t.mir:1:23: error: module @core: used_by names task @t(a, b), which is not defined");
  expect_err("module @core used_by [*]\n  param w : f32[4] init zeros\n"
             "task @t() () -> () {\n  %0 = param @core.w : f32[4]\n}\ntask @u() () -> () {}\n",
             "t.mir:1:14: error: module @core: used_by [*], but task @u() reads none of its parameters");
  expect_err("module @core used_by [t(), t()]\n  param w : f32[4] init zeros\n"
             "task @t() () -> () {\n  %0 = param @core.w : f32[4]\n}\n",
             "t.mir:1:28: error: module @core: task @t() is listed twice in used_by");
}

static void test_structure(void) {
  expect_err("modul @m\n", "t.mir:1:1: error: expected 'module', 'param' or 'task', found 'modul'");
  expect_err("task @t() () -> () {}\ntask @t( ) () -> () {}\n",
             "t.mir:2:7: error: task @t() is defined twice");
  expect_err("task @t() (%a: f32[]) -> (y: f32[]) {\n  %0 = neg %a : f32[]\n",
             "t.mir:3:1: error: expected a node ('%N = op ...'), 'return' or '}', found end of file");
  expect_err("task @t() (%a: f32[]) -> (y: f32[], z: f32[]) {\n  return y = %a\n}\n",
             "t.mir:1:37: error: output 'z' is never returned");
  expect_err("task @t() (%a: f32[]) -> (y: f32[]) {\n  return z = %a\n}\n",
             "t.mir:2:10: error: the task signature declares no output 'z'");
  expect_err("task @t() (%a: f32[]) -> (y: f32[]) {\n  return y = %a\n  return y = %a\n}\n",
             "t.mir:3:10: error: output 'y' is returned twice");
  expect_err("task @t() (%a: f32[2]) -> (y: f32[]) {\n  return y = %a\n}\n",
             "t.mir:2:14: error: output 'y' is declared f32[], but %a is f32[2]");
  expect_err("task @t() (%a: f32[], %a: f32[]) -> () {}\n", "t.mir:1:23: error: value %a is defined twice");
  expect_err("task @t() (%a: f32[]) (y: f32[]) {}\n",
             "t.mir:1:23: error: expected '->' after the task inputs, found '('");
  expect_err("task @t() (%a: f32[]) -> (y: f32[], y: f32[]) {}\n",
             "t.mir:1:37: error: output 'y' is declared twice");
}

/* The whole diagnostic: location, message, the line, and the caret under the column. */
static void test_caret(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  Diag d;
  diag_init(&d);
  SrcFile *f =
      srcfile_from_string(&a, "x.mir", "task @t() (%a: f32[N]) -> () {\n\t%1 = exp %a : f32[M]\n}\n");
  CHECK(!ir_parse(&p, f, &d));
  CHECK_STR(d.out.s, "x.mir:2:16: error: type mismatch: written f32[M], but exp gives f32[N]\n"
                     "   %1 = exp %a : f32[M]\n"
                     "                 ^\n");
  diag_free(&d);
  arena_free(&a);
}

/* softmax_attention_grad's shape rule: wrt = all needs Sq = Sk, dO the forward's result type */
static void test_attention_grad(void) {
#define AHEAD "task @t() (%q: f32[2, 4, S, 8], %k: f32[2, 4, T, 8], %v: f32[2, 4, T, 6], %g: f32[2, 4, S, 6]) -> (y: f32[]) {\n"
#define ATAIL "  %l = reduce_mean %1 {axes = [0, 1, 2, 3]} : f32[]\n  return y = %l\n}\n"
  expect_err(AHEAD "  %1 = softmax_attention_grad %q, %k, %v, %g : f32[2, 4, S, 22]\n" ATAIL,
             "t.mir:2:8: error: softmax_attention_grad: wrt = all packs dq with dk, dv and needs equal query and key "
             "lengths: f32[2, 4, S, 8], f32[2, 4, T, 8] (use wrt = q and kv)");
  expect_err(AHEAD "  %1 = softmax_attention_grad %q, %k, %v, %q {wrt = q} : f32[2, 4, S, 8]\n" ATAIL,
             "t.mir:2:8: error: softmax_attention_grad: dO f32[2, 4, S, 8] must have the attention's result type (q "
             "f32[2, 4, S, 8] with v's last dim f32[2, 4, T, 6])");
  expect_err(AHEAD "  %1 = softmax_attention_grad %q, %k, %v, %g {wrt = kv} : f32[2, 4, T, 8]\n" ATAIL,
             "t.mir:2:59: error: type mismatch: written f32[2, 4, T, 8], but softmax_attention_grad gives f32[2, 4, T, "
             "14]");
#undef AHEAD
#undef ATAIL
}

int main(void) {
  test_ok_base();
  test_attention_grad();
  test_ops_and_values();
  test_attributes();
  test_types();
  test_params();
  test_used_by();
  test_structure();
  test_caret();
  return test_done();
}
