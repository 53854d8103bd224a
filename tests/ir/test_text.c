/* test_text.c — the IR text form: programs built with the builder (every op of ops.def with
 * non-default attributes, symbolic dims, several modules and graphs, every init and sync
 * form) print, parse back and print identically, and verify before and after; the node
 * lines match the sketch atop ir.h; and each hand-written .mir file given on the command
 * line parses and prints as its `# expect:` block says.
 *
 *   test_ir_text [file.mir ...]
 */
#include "ir.h"
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static char *print_prog(const IrProgram *p) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, p);
  char *s = strdup(b.s ? b.s : "");
  sb_free(&b);
  return s;
}

/* "B S 512" -> f32[B, S, 512]; "2*T" and "T-1" are not needed by the builders here. */
static IrType ty(IrProgram *p, DType dt, const char *dims) {
  IrType t = {.dt = dt};
  char buf[128];
  snprintf(buf, sizeof buf, "%s", dims);
  for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
    t.d[t.rank++] = (*tok >= '0' && *tok <= '9') ? dim_const(atoll(tok)) : dim_sym(ir_sym(p, tok));
  return t;
}

typedef struct Bld {
  IrProgram *p;
  int g;
} Bld;

static IrGraph *G(Bld *b) { return &b->p->graphs.v[b->g]; }
static IrNode *N(Bld *b, int id) { return &G(b)->nodes.v[id]; }

static int mk(Bld *b, Op op, int nin, ...) {
  int in[8];
  va_list ap;
  va_start(ap, nin);
  for (int i = 0; i < nin; i++) in[i] = va_arg(ap, int);
  va_end(ap);
  return ir_node_add(b->p, G(b), op, nin, in);
}

static int inf(Bld *b, int id) {
  char err[512] = "";
  int ok = ir_infer(b->p, G(b), id, err, sizeof err);
  CHECK_MSG(ok, "infer %s: %s", op_info(N(b, id)->op)->name, err);
  return id;
}

static int un(Bld *b, Op op, int x) { return inf(b, mk(b, op, 1, x)); }
static int bin(Bld *b, Op op, int x, int y) { return inf(b, mk(b, op, 2, x, y)); }

static void output(Bld *b, const char *name, int node) {
  IrOutput o = {arena_strdup(b->p->arena, name), node, -1, -1}; /* may be a grad.* name */
  vec_push(b->p->arena, G(b)->outputs, o);
}

static int verify_ok(const IrProgram *p) {
  Diag d;
  diag_init(&d);
  int ok = ir_verify(p, &d);
  CHECK_MSG(ok, "verify: %s", d.out.s ? d.out.s : "");
  diag_free(&d);
  return ok;
}

/* print -> parse -> print is identical; the parsed program verifies too. */
static void roundtrip_v(const IrProgram *p, const char *what, int verify) {
  char *s1 = print_prog(p);
  Arena a;
  arena_init(&a);
  IrProgram q;
  ir_program_init(&q, &a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, what, s1);
  int ok = ir_parse(&q, f, &d);
  CHECK_MSG(ok, "%s: parse of printed text failed:\n%s\n--- text:\n%s", what, d.out.s ? d.out.s : "", s1);
  if (ok) {
    char *s2 = print_prog(&q);
    CHECK_STR(s2, s1);
    if (verify) verify_ok(&q);
    free(s2);
  }
  diag_free(&d);
  arena_free(&a);
  free(s1);
}

static void roundtrip(const IrProgram *p, const char *what) { roundtrip_v(p, what, 1); }

static void test_mutations(const char *text, int rounds);
static int mutation_rounds(void);

/* ---- the zoo: every op ------------------------------------------------------------------------- */

static void build_zoo(IrProgram *p, int *seen) {
  int me = ir_module_add(p, "embed[en]", "nn.Embedding");
  int wemb = ir_param_add(p, me, "weight", ty(p, DT_F32, "100 64"), (IrInit){INIT_NORMAL, 0, 0.02});
  int mc = ir_module_add(p, "core", "nn.Encoder");
  p->modules.v[mc].sync = (SyncPolicy){SYNC_OUTER, 4, 0.7, 0.9, 1};
  int wc = ir_param_add(p, mc, "l0.attn.wq", ty(p, DT_F32, "64 64"), (IrInit){INIT_XAVIER, 0, 0});
  int gc = ir_param_add(p, mc, "l0.norm.gain", ty(p, DT_F32, "64"), (IrInit){INIT_ONES, 0, 0});
  int bc = ir_param_add(p, mc, "l0.norm.bias", ty(p, DT_F32, "64"), (IrInit){INIT_ZEROS, 0, 0});
  int mx = ir_module_add(p, "enc[en, fr]", NULL);
  p->modules.v[mx].sync = (SyncPolicy){SYNC_LOCAL, 1, 1, 0, 0};
  vec_push(p->arena, p->modules.v[mx].ranks, 0);
  vec_push(p->arena, p->modules.v[mx].ranks, 2);
  int fx = ir_param_add(p, mx, "feat", ty(p, DT_F32, "16 64"), (IrInit){INIT_UNIFORM, -0.1, 0.1});
  p->modules.v[mx].params.v[fx].frozen = 1;
  int cx = ir_param_add(p, mx, "c", ty(p, DT_F32, "64"), (IrInit){INIT_CONST, 1.0 / 3.0, 0});
  /* DiJiang: the feature projection and weights, a gated xavier (gain 2^-2.5) */
  int px = ir_param_add(p, mx, "dj.proj", ty(p, DT_F32, "8 16"), (IrInit){INIT_DCT, 0, 0});
  p->modules.v[mx].params.v[px].frozen = 1;
  int tx = ir_param_add(p, mx, "dj.t", ty(p, DT_F32, "16"), (IrInit){INIT_NORMAL, 0, 1});
  int dx = ir_param_add(p, mx, "dj.d", ty(p, DT_F32, "16"), (IrInit){INIT_ONES, 0, 0});
  ir_param_add(p, mx, "dj.gate", ty(p, DT_F32, "8 8"), (IrInit){INIT_XAVIER, 0, 0.17677669529663687});
  int mu = ir_module_add(p, "unused", NULL);
  p->modules.v[mu].sync = (SyncPolicy){SYNC_EVERY, 8, 1, 0, 0};
  ir_param_add(p, mu, "w", ty(p, DT_BF16, "2 3"), (IrInit){INIT_NORMAL, -1e-3, 1e-7});

  const char *en[] = {"en"}, *fr[] = {"fr"};
  Bld b = {p, ir_graph_add(p, "zoo", 1, en)};
  int x = ir_input_add(p, G(&b), "x", ty(p, DT_F32, "B S 64"));
  int ids = ir_input_add(p, G(&b), "ids", ty(p, DT_I32, "B S"));
  int tgt = ir_input_add(p, G(&b), "tgt", ty(p, DT_I32, "B T"));
  int mask = ir_input_add(p, G(&b), "mask", ty(p, DT_F32, "B S"));
  int e = ir_param_ref(p, G(&b), me, wemb);
  int w = ir_param_ref(p, G(&b), mc, wc), gn = ir_param_ref(p, G(&b), mc, gc),
      bn = ir_param_ref(p, G(&b), mc, bc);
  int feat = ir_param_ref(p, G(&b), mx, fx), cc = ir_param_ref(p, G(&b), mx, cx);
  int h = bin(&b, OP_GATHER, e, ids);
  int k = mk(&b, OP_CONST, 0);
  ir_set_f(N(&b, k), "value", 0.1 + 0.2);
  N(&b, k)->type = ty(p, DT_F32, "B S 64");
  inf(&b, k);
  int io = mk(&b, OP_IOTA, 0);
  ir_set_i(N(&b, io), "axis", 1);
  N(&b, io)->type = ty(p, DT_I32, "4 9");
  inf(&b, io);
  /* unary chain */
  int u = h;
  for (Op op = OP_NEG; op <= OP_COS; op++) u = un(&b, op, u);
  int c64 = mk(&b, OP_CAST, 1, u);
  ir_set_enum(N(&b, c64), "to", "f64");
  inf(&b, c64);
  int c32 = mk(&b, OP_CAST, 1, c64);
  ir_set_enum(N(&b, c32), "to", "f32");
  inf(&b, c32);
  /* binary, comparisons, where */
  int v = bin(&b, OP_ADD, c32, x);
  v = bin(&b, OP_SUB, v, k);
  v = bin(&b, OP_MUL, v, gn);
  v = bin(&b, OP_DIV, v, cc);
  v = bin(&b, OP_POW, v, x);
  v = bin(&b, OP_MAXIMUM, v, x);
  v = bin(&b, OP_MINIMUM, v, x);
  int cmp = bin(&b, OP_EQ, v, x);
  cmp = bin(&b, OP_NE, cmp, x);
  cmp = bin(&b, OP_LT, cmp, x);
  cmp = bin(&b, OP_LE, cmp, x);
  v = inf(&b, mk(&b, OP_WHERE, 3, cmp, v, x));
  /* reductions */
  int64_t ax1[] = {1}, ax02[] = {0, -1}, axm1[] = {-1};
  int rs = mk(&b, OP_REDUCE_SUM, 1, v);
  ir_set_ints(p, N(&b, rs), "axes", ax1, 1);
  ir_set_i(N(&b, rs), "keepdim", 1);
  inf(&b, rs);
  int rm = mk(&b, OP_REDUCE_MEAN, 1, v);
  ir_set_ints(p, N(&b, rm), "axes", ax02, 2);
  inf(&b, rm);
  int rx = mk(&b, OP_REDUCE_MAX, 1, v);
  ir_set_ints(p, N(&b, rx), "axes", axm1, 1);
  inf(&b, rx);
  /* matmuls */
  int mm = mk(&b, OP_MATMUL, 2, v, w);
  ir_set_i(N(&b, mm), "tb", 1);
  inf(&b, mm);
  int mt = mk(&b, OP_MATMUL, 2, h, h);
  ir_set_i(N(&b, mt), "ta", 1);
  inf(&b, mt);
  /* movement */
  int r4 = mk(&b, OP_RESHAPE, 1, mm);
  N(&b, r4)->type = ty(p, DT_F32, "B S 8 8");
  inf(&b, r4);
  int64_t perm[] = {0, 2, 1, 3};
  int q = mk(&b, OP_TRANSPOSE, 1, r4);
  ir_set_ints(p, N(&b, q), "perm", perm, 4);
  inf(&b, q);
  int ex = mk(&b, OP_EXPAND, 1, bn);
  N(&b, ex)->type = ty(p, DT_F32, "B S 64");
  inf(&b, ex);
  int s1 = mk(&b, OP_SLICE, 1, tgt);
  ir_set_i(N(&b, s1), "axis", 1);
  ir_set_i(N(&b, s1), "start", 1);
  inf(&b, s1);
  int s2 = mk(&b, OP_SLICE, 1, tgt);
  ir_set_i(N(&b, s2), "axis", -1);
  ir_set_i(N(&b, s2), "end", -1);
  inf(&b, s2);
  int s3 = mk(&b, OP_SLICE, 1, v);
  ir_set_i(N(&b, s3), "axis", 2);
  ir_set_i(N(&b, s3), "start", 2);
  ir_set_i(N(&b, s3), "end", 10);
  ir_set_i(N(&b, s3), "step", 3);
  inf(&b, s3);
  int pd = mk(&b, OP_PAD, 1, s3); /* slice's gradient: back to v's type */
  N(&b, pd)->type = N(&b, v)->type;
  ir_set_i(N(&b, pd), "axis", 2);
  ir_set_i(N(&b, pd), "start", 2);
  ir_set_i(N(&b, pd), "end", 10);
  ir_set_i(N(&b, pd), "step", 3);
  inf(&b, pd);
  int sca = mk(&b, OP_SCATTER_ADD, 2, ids, h); /* gather's gradient: [B, S, 64] -> [100, 64] */
  N(&b, sca)->type = ty(p, DT_F32, "100 64");
  inf(&b, sca);
  int cat = mk(&b, OP_CONCAT, 3, v, ex, rs); /* [B, 2*S+1, 64] */
  ir_set_i(N(&b, cat), "axis", 1);
  inf(&b, cat);
  /* norms, losses */
  int sm = mk(&b, OP_SOFTMAX, 1, cat);
  ir_set_i(N(&b, sm), "axis", 1);
  inf(&b, sm);
  int ls = un(&b, OP_LOG_SOFTMAX, sm);
  int ln = mk(&b, OP_LAYERNORM, 3, ls, gn, bn);
  ir_set_f(N(&b, ln), "eps", 1e-6);
  inf(&b, ln);
  int rn = inf(&b, mk(&b, OP_RMSNORM, 2, ln, gn));
  int lng = mk(&b, OP_LAYERNORM_GRAD, 3, ls, rn, gn);
  ir_set_f(N(&b, lng), "eps", 1e-6);
  inf(&b, lng);
  rn = inf(&b, mk(&b, OP_RMSNORM_GRAD, 2, rn, lng));
  rn = bin(&b, OP_GELU_GRAD, rn, lng);
  int gr = mk(&b, OP_GROUPNORM, 1, rn);
  ir_set_i(N(&b, gr), "groups", 4);
  ir_set_f(N(&b, gr), "eps", 0.001);
  inf(&b, gr);
  int dr = mk(&b, OP_DROPOUT, 1, gr);
  ir_set_f(N(&b, dr), "p", 0.1);
  ir_set_i(N(&b, dr), "seed", 7);
  inf(&b, dr);
  int ht = bin(&b, OP_GATHER, e, s1);
  int logits = mk(&b, OP_MATMUL, 2, ht, e);
  ir_set_i(N(&b, logits), "tb", 1);
  inf(&b, logits);
  int ce = mk(&b, OP_CROSS_ENTROPY, 2, logits, s2);
  ir_set_f(N(&b, ce), "smoothing", 0.1);
  ir_set_i(N(&b, ce), "ignore", 0);
  inf(&b, ce);
  int ceg = mk(&b, OP_CROSS_ENTROPY_GRAD, 3, logits, s2, ce);
  ir_set_f(N(&b, ceg), "smoothing", 0.1);
  inf(&b, ceg);
  int cec = mk(&b, OP_CROSS_ENTROPY, 2, ceg, s2); /* autodiff through primitives */
  ir_set_enum(N(&b, cec), "bwd", "composed");
  inf(&b, cec);
  /* attention */
  int sa = mk(&b, OP_SOFTMAX_ATTENTION, 4, q, q, q, mask);
  ir_set_i(N(&b, sa), "causal", 1);
  ir_set_f(N(&b, sa), "scale", 1.0 / 3.0);
  inf(&b, sa);
  int sac = mk(&b, OP_SOFTMAX_ATTENTION, 3, q, q, q); /* autodiff through primitives */
  ir_set_enum(N(&b, sac), "bwd", "composed");
  inf(&b, sac);
  int sag = mk(&b, OP_SOFTMAX_ATTENTION_GRAD, 5, q, q, q, mask, sa); /* dq | dk | dv */
  ir_set_i(N(&b, sag), "causal", 1);
  ir_set_f(N(&b, sag), "scale", 1.0 / 3.0);
  inf(&b, sag);
  int sgq = mk(&b, OP_SOFTMAX_ATTENTION_GRAD, 4, q, q, q, sac);
  ir_set_enum(N(&b, sgq), "wrt", "q");
  inf(&b, sgq);
  int sgk = mk(&b, OP_SOFTMAX_ATTENTION_GRAD, 4, q, q, q, sa);
  ir_set_enum(N(&b, sgk), "wrt", "kv");
  inf(&b, sgk);
  (void)sag, (void)sgq, (void)sgk;
  int64_t ax3[] = {3};
  int gates = mk(&b, OP_REDUCE_MEAN, 1, sa);
  ir_set_ints(p, N(&b, gates), "axes", ax3, 1);
  inf(&b, gates);
  int pj = ir_param_ref(p, G(&b), mx, px), pt = ir_param_ref(p, G(&b), mx, tx), pd2 = ir_param_ref(p, G(&b), mx, dx);
  int la = mk(&b, OP_LINEAR_ATTENTION, 8, sa, q, q, pj, pt, pd2, gates, gates);
  ir_set_enum(N(&b, la), "feature", "dct_exp");
  ir_set_i(N(&b, la), "m", 16);
  ir_set_enum(N(&b, la), "gate", "learned");
  ir_set_enum(N(&b, la), "norm", "running");
  ir_set_i(N(&b, la), "causal", 1);
  ir_set_i(N(&b, la), "chunk", 32);
  ir_set_enum(N(&b, la), "lower", "chunked");
  inf(&b, la);
  int lst = mk(&b, OP_LINEAR_ATTENTION_STATE, 7, q, q, pj, pt, pd2, gates, gates);
  ir_set_enum(N(&b, lst), "feature", "dct_exp");
  ir_set_enum(N(&b, lst), "gate", "learned");
  ir_set_enum(N(&b, lst), "norm", "running");
  ir_set_i(N(&b, lst), "chunk", 16);
  ir_set_enum(N(&b, lst), "lower", "recurrent");
  inf(&b, lst);
  int lc = mk(&b, OP_LINEAR_ATTENTION, 8, la, q, q, pj, pt, gates, gates, lst);
  ir_set_enum(N(&b, lc), "feature", "dct");
  ir_set_enum(N(&b, lc), "gate", "learned");
  ir_set_enum(N(&b, lc), "norm", "running");
  ir_set_i(N(&b, lc), "causal", 1);
  inf(&b, lc);
  int lb = mk(&b, OP_LINEAR_ATTENTION, 3, lc, q, q);
  ir_set_i(N(&b, lb), "m", 8);
  ir_set_enum(N(&b, lb), "gate", "decay");
  ir_set_enum(N(&b, lb), "lower", "quadratic");
  inf(&b, lb);
  int lgr = mk(&b, OP_LINEAR_ATTENTION_GRAD, 6, q, q, q, gates, gates, la);
  ir_set_enum(N(&b, lgr), "gate", "learned");
  ir_set_enum(N(&b, lgr), "norm", "running");
  ir_set_i(N(&b, lgr), "causal", 1);
  ir_set_i(N(&b, lgr), "chunk", 16);
  inf(&b, lgr);
  int st2 = mk(&b, OP_LINEAR_ATTENTION_STATE, 2, q, q);
  inf(&b, st2);
  int lgs = mk(&b, OP_LINEAR_ATTENTION_GRAD, 5, q, q, q, st2, lb);
  ir_set_i(N(&b, lgs), "causal", 1);
  ir_set_enum(N(&b, lgs), "wrt", "state");
  inf(&b, lgs);
  (void)lgr, (void)lgs;
  /* collectives */
  int ar = mk(&b, OP_ALLREDUCE, 1, feat);
  ir_set_group(p, N(&b, ar), "group", "enc[en, fr]");
  ir_set_enum(N(&b, ar), "op", "mean");
  ir_set_enum(N(&b, ar), "weight", "tokens");
  ir_set_i(N(&b, ar), "bucket", 3);
  inf(&b, ar);
  int rsc = mk(&b, OP_REDUCE_SCATTER, 1, ar);
  ir_set_group(p, N(&b, rsc), "group", "core");
  ir_set_enum(N(&b, rsc), "op", "mean");
  inf(&b, rsc);
  int ag = mk(&b, OP_ALLGATHER, 1, rsc);
  ir_set_group(p, N(&b, ag), "group", "core");
  inf(&b, ag);
  int bc2 = mk(&b, OP_BROADCAST, 1, ag);
  ir_set_group(p, N(&b, bc2), "group", "core");
  ir_set_i(N(&b, bc2), "root", 1);
  inf(&b, bc2);
  int os = mk(&b, OP_OUTER_SYNC, 1, bc2);
  ir_set_group(p, N(&b, os), "group", "core");
  ir_set_i(N(&b, os), "every", 4);
  ir_set_f(N(&b, os), "lr", 0.7);
  ir_set_f(N(&b, os), "momentum", 0.9);
  inf(&b, os);
  int ars = mk(&b, OP_ALLREDUCE_START, 2, os, ce); /* ce: a float scalar as the token count */
  ir_set_group(p, N(&b, ars), "group", "ranks[0, 2]");
  ir_set_enum(N(&b, ars), "op", "mean");
  ir_set_enum(N(&b, ars), "weight", "tokens");
  ir_set_i(N(&b, ars), "bucket", 1);
  inf(&b, ars);
  int arv = mk(&b, OP_ALLREDUCE_START, 1, os);
  ir_set_group(p, N(&b, arv), "group", "ranks[0, 2]");
  ir_set_i(N(&b, arv), "bucket", 2);
  ir_set_i(N(&b, arv), "recv", 1);
  inf(&b, arv);
  int ard = mk(&b, OP_ALLREDUCE_DONE, 1, ars);
  inf(&b, ard);
  int arw = mk(&b, OP_ALLREDUCE_DONE, 1, arv);
  inf(&b, arw);
  os = bin(&b, OP_ADD, ard, arw);
  output(&b, "loss", ce);
  output(&b, "attn", lb);
  output(&b, "mix", dr);
  output(&b, "feat", os);
  output(&b, "ids", ids);
  (void)mt, (void)rm, (void)rx, (void)s3, (void)io, (void)pd, (void)sca;

  /* zoo(fr): reads core and enc[en, fr]; lm(): reads core only; unused: no graph */
  b.g = ir_graph_add(p, "zoo", 1, fr);
  int y = ir_input_add(p, G(&b), "y", ty(p, DT_F32, "N 64"));
  int rows = ir_input_add(p, G(&b), "vocab_rows", ty(p, DT_I32, "K"));
  int w2 = ir_param_ref(p, G(&b), mc, wc);
  int tg = bin(&b, OP_TRIM_GATHER, w2, rows); /* DEPT TRIM: [K, 64], and back to [64, 64] */
  int us = mk(&b, OP_UNTRIM_SCATTER, 2, tg, rows);
  N(&b, us)->type = ty(p, DT_F32, "64 64");
  inf(&b, us);
  (void)us;
  int c2 = ir_param_ref(p, G(&b), mx, cx);
  int z = bin(&b, OP_MATMUL, y, w2);
  z = bin(&b, OP_ADD, z, c2);
  int64_t all[] = {0, 1};
  int zl = mk(&b, OP_REDUCE_MEAN, 1, z);
  ir_set_ints(p, N(&b, zl), "axes", all, 2);
  inf(&b, zl);
  output(&b, "loss", zl);
  b.g = ir_graph_add(p, "lm", 0, NULL);
  int w3 = ir_param_ref(p, G(&b), mc, wc);
  output(&b, "w", un(&b, OP_NEG, w3));

  for (int gi = 0; gi < p->graphs.n; gi++)
    for (int i = 0; i < p->graphs.v[gi].nodes.n; i++) seen[p->graphs.v[gi].nodes.v[i].op] = 1;
}

static void test_zoo(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  int seen[OP_COUNT] = {0};
  build_zoo(&p, seen);
  for (int op = 0; op < OP_COUNT; op++)
    CHECK_MSG(seen[op], "op %s is not covered by the zoo", op_info((Op)op)->name);
  verify_ok(&p);
  roundtrip(&p, "zoo.mir");
  char *s = print_prog(&p);
  test_mutations(s, mutation_rounds());
  if (getenv("MAMC_DUMP_IR")) fputs(s, stdout);
  /* spot checks of the canonical form */
  CHECK(strstr(s, "module @core sync outer(every = 4, lr = 0.7, momentum = 0.9, nesterov) used_by [*]\n"));
  CHECK(strstr(s, "module @enc[en, fr] sync local used_by [zoo(en), zoo(fr)] ranks [0, 2]\n"));
  CHECK(strstr(
      s, "module @unused sync every(8) used_by []\n  param w : bf16[2, 3] init normal(-0.001, 1e-07)\n"));
  CHECK(strstr(s, "  param feat : f32[16, 64] init uniform(-0.1, 0.1) frozen\n"));
  CHECK(strstr(s, "  param c : f32[64] init const(0.3333333333333333)\n"));
  CHECK(strstr(s, "task @zoo(en) (%x: f32[B, S, 64], %ids: i32[B, S], %tgt: i32[B, T], %mask: f32[B, S]) -> "
                  "(loss: f32[], attn: f32[B, 8, S, 8], mix: f32[B, 2*S+1, 64], feat: f32[16, 64], "
                  "ids: i32[B, S]) {\n"));
  CHECK(strstr(s, " = const {value = 0.30000000000000004}"));
  CHECK(strstr(s, "{feature = dct_exp, m = 16, gate = learned, norm = running, causal, chunk = 32, lower = chunked}"));
  CHECK(strstr(s, "  param dj.gate : f32[8, 8] init xavier(0.17677669529663687)\n"));
  CHECK(strstr(s, "  param dj.proj : f32[8, 16] init dct frozen\n"));
  CHECK(strstr(s, " = allreduce %4 {group = @enc[en, fr], op = mean, weight = tokens, bucket = 3}"));
  CHECK(strstr(s, " = slice %tgt {axis = -1, end = -1} "));
  CHECK(strstr(s, ": i32[B, T-1]\n"));
  CHECK(strstr(s, "  return ids = %ids\n"));
  CHECK(strstr(s, "task @lm() () -> (w: f32[64, 64]) {\n  %0 = param @core.l0.attn.wq"));
  CHECK(strstr(s, " {bwd = composed} : f32[B, 8, S, 8]\n"));
  CHECK(strstr(s, "{causal, scale = 0.3333333333333333} : f32[B, 8, S, 24]\n"));
  CHECK(strstr(s, " {wrt = q} : f32[B, 8, S, 8]\n"));
  CHECK(strstr(s, " {wrt = kv} : f32[B, 8, S, 16]\n"));
  free(s);
  arena_free(&a);
}

/* The node lines of the sketch atop ir.h, exactly. */
static void test_sketch(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  int m = ir_module_add(&p, "embed[en]", NULL);
  int w = ir_param_add(&p, m, "weight", ty(&p, DT_F32, "260 512"), (IrInit){INIT_NORMAL, 0, 0.02});
  const char *args[] = {"en", "fr"};
  Bld b = {&p, ir_graph_add(&p, "translate", 2, args)};
  int src = ir_input_add(&p, G(&b), "src", ty(&p, DT_I32, "B S"));
  int tgt = ir_input_add(&p, G(&b), "tgt", ty(&p, DT_I32, "B T"));
  int e = ir_param_ref(&p, G(&b), m, w);
  bin(&b, OP_GATHER, e, src);
  int sl = mk(&b, OP_SLICE, 1, tgt);
  ir_set_i(N(&b, sl), "axis", 1);
  ir_set_i(N(&b, sl), "end", -1);
  inf(&b, sl);
  char *s = print_prog(&p);
  CHECK_STR(s, "module @embed[en] sync every(1) used_by [translate(en, fr)]\n"
               "  param weight : f32[260, 512] init normal(0, 0.02)\n"
               "\n"
               "task @translate(en, fr) (%src: i32[B, S], %tgt: i32[B, T]) -> () {\n"
               "  %0 = param @embed[en].weight                      : f32[260, 512]\n"
               "  %1 = gather %0, %src                              : f32[B, S, 512]\n"
               "  %2 = slice %tgt {axis = 1, end = -1}              : i32[B, T-1]\n"
               "}\n");
  free(s);
  roundtrip(&p, "sketch.mir");
  arena_free(&a);
}

/* ---- golden .mir files -------------------------------------------------------------------------
 * The input is the whole file (comments are ignored); the expected print is the block of
 * comment lines after `# expect:`, each with its "# " (or "#") prefix removed. */
static void test_golden(const char *path) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_read(&a, &d, path);
  CHECK_MSG(f != NULL, "%s", d.out.s ? d.out.s : path);
  if (!f) goto done;
  const char *ex = strstr(f->text, "# expect:\n");
  CHECK_MSG(ex != NULL, "%s: no '# expect:' block", path);
  if (!ex) goto done;
  StrBuf want;
  sb_init(&want);
  for (const char *s = ex + strlen("# expect:\n"); *s == '#';) {
    const char *e = strchr(s, '\n');
    if (!e) e = s + strlen(s);
    const char *t = s + 1;
    if (*t == ' ') t++;
    sb_putn(&want, t, (size_t)(e - t));
    sb_putc(&want, '\n');
    s = *e ? e + 1 : e;
  }
  IrProgram p;
  ir_program_init(&p, &a);
  int ok = ir_parse(&p, f, &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  if (ok) {
    char *got = print_prog(&p);
    CHECK_MSG(strcmp(got, want.s ? want.s : "") == 0,
              "%s: printed text differs:\n--- got:\n%s--- expected:\n%s", path, got, want.s ? want.s : "");
    verify_ok(&p);
    roundtrip(&p, path);
    free(got);
  }
  sb_free(&want);
done:
  diag_free(&d);
  arena_free(&a);
}

/* ---- mutations ------------------------------------------------------------------------------
 * Deterministic small edits of a valid text: the parser must never crash or leak, and what
 * it accepts must print stably (print(parse(print(P))) == print(P)). */
static uint64_t rng_next(uint64_t *s) {
  *s = *s * 6364136223846793005u + 1442695040888963407u;
  return *s >> 33;
}

static void test_mutations(const char *text, int rounds) {
  static const char alphabet[] = "%@[](){},:=-*+#\n 0123456789abefTNS.";
  Diag d;
  SrcFile *f = &(SrcFile){"orig", text, strlen(text)};
  uint64_t seed = 12345;
  size_t cap = f->len + 64;
  char *buf = malloc(cap + 1);
  int accepted = 0;
  for (int r = 0; r < rounds; r++) {
    memcpy(buf, f->text, f->len + 1);
    size_t len = f->len;
    int edits = 1 + (int)(rng_next(&seed) % 3);
    for (int e = 0; e < edits && len > 4; e++) {
      size_t at = rng_next(&seed) % len;
      switch (rng_next(&seed) % 3) {
      case 0: { /* delete 1-4 chars */
        size_t n = 1 + rng_next(&seed) % 4;
        if (at + n > len) n = len - at;
        memmove(buf + at, buf + at + n, len - at - n + 1);
        len -= n;
        break;
      }
      case 1: /* insert one char */
        if (len + 1 < cap) {
          memmove(buf + at + 1, buf + at, len - at + 1);
          buf[at] = alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
          len++;
        }
        break;
      default: { /* replace one char */ buf[at] = alphabet[rng_next(&seed) % (sizeof alphabet - 1)]; break;
      }
      }
    }
    Arena a;
    arena_init(&a);
    IrProgram p;
    ir_program_init(&p, &a);
    diag_init(&d);
    SrcFile *m = srcfile_from_string(&a, "mutant.mir", buf);
    if (ir_parse(&p, m, &d)) {
      accepted++;
      roundtrip_v(&p, "mutant.mir", 0);
    } else {
      CHECK_MSG(d.nerrors == 1 && strncmp(d.out.s, "mutant.mir:", 11) == 0, "%s",
                d.out.s ? d.out.s : "(no message)");
    }
    diag_free(&d);
    arena_free(&a);
  }
  CHECK(accepted > 0 && accepted < rounds);
  free(buf);
}

static int mutation_rounds(void) { return getenv("MAMC_MUTATIONS") ? atoi(getenv("MAMC_MUTATIONS")) : 1500; }

int main(int argc, char **argv) {
  test_zoo();
  test_sketch();
  for (int i = 1; i < argc; i++) test_golden(argv[i]);
  for (int i = 1; i < argc; i++) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    SrcFile *f = srcfile_read(&a, &d, argv[i]);
    if (f) test_mutations(f->text, mutation_rounds());
    diag_free(&d);
    arena_free(&a);
  }
  return test_done();
}
