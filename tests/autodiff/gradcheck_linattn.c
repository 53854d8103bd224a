/* gradcheck_linattn.c — the linear attentions against finite differences (gc.h): the
 * default rule (feature maps through primitives, the rest through linear_attention_grad, run
 * here by the interpreter's reference backward) and the oracle rule (lower = quadratic: the
 * whole quadratic form as primitives), over feature maps, gates, norms, causal / bidirectional
 * and a carried state, and cross attention (Sq != Sk); every float operand is checked, so P, w,
 * t, d, g, beta and S0 get their gradients checked too. linear_attention_state: its primitive rule.
 */
#include <stdlib.h>

#include "gc.h"
#include "linattn.h"

static Dim cd(int64_t v) { return dim_const(v); }

static void fill(GC *c, int x, double lo, double hi) {
  for (int64_t i = 0; i < c->x[x].n; i++) gc_f(&c->x[x])[i] = lo + (hi - lo) * gc_unit();
}

/* Builds the case's inputs and node; state_op leaves q out. */
static void la_case(GC *c, Op op, int feature, int gate, int running, int causal, int state, int quadratic) {
  static const char *fw[] = {"dct", "dct_exp", "none"}, *gw[] = {"none", "decay", "learned"};
  int64_t B = gc_int(1, 2), H = gc_int(1, 2), D = gc_int(1, 3), Dv = gc_int(1, 3);
  int64_t m = feature == LA_FEAT_NONE ? D : gc_int(1, 3);
  Dim S = gc_sym(c, "S", gc_int(2, 4));
  Dim dq[4] = {cd(B), cd(H), S, cd(D)}, dv[4] = {cd(B), cd(H), S, cd(Dv)};
  int xs[12], n = 0;
  int state_op = op == OP_LINEAR_ATTENTION_STATE;
  int q = state_op ? -1 : gc_in(c, DT_F32, 4, dq), k = gc_in(c, DT_F32, 4, dq), v = gc_in(c, DT_F32, 4, dv);
  if (running && feature == LA_FEAT_NONE) { /* positive scores keep the denominator away from 0 */
    if (q >= 0) fill(c, q, 0.2, 1.5);
    fill(c, k, 0.2, 1.5);
  }
  if (q >= 0) xs[n++] = q;
  xs[n++] = k;
  xs[n++] = v;
  if (feature != LA_FEAT_NONE) {
    int P = gc_in(c, DT_F32, 2, (Dim[]){cd(D), cd(m)}), w = gc_in(c, DT_F32, 1, (Dim[]){cd(m)});
    fill(c, P, -0.7, 0.7);
    xs[n++] = P;
    xs[n++] = w;
    if (feature == LA_FEAT_DCT_EXP) {
      fill(c, w, -0.5, 0.5);
      int d = gc_in(c, DT_F32, 1, (Dim[]){cd(m)});
      fill(c, d, 0.2, 1.5);
      xs[n++] = d;
    }
  }
  if (gate == LA_GATE_LEARNED) {
    Dim dg[3] = {cd(B), cd(H), S};
    int g = gc_in(c, DT_F32, 3, dg), b = gc_in(c, DT_F32, 3, dg);
    fill(c, g, -0.6, -0.05);
    fill(c, b, 0.3, 1.3);
    xs[n++] = g;
    xs[n++] = b;
  }
  if (state) {
    int s0 = gc_in(c, DT_F32, 4, (Dim[]){cd(B), cd(H), cd(m), cd(Dv + running)});
    if (running) fill(c, s0, 0.2, 1.5);
    xs[n++] = s0;
  }
  IrNode *nd = gc_op(c, op, n, xs);
  ir_set_enum(nd, "feature", fw[feature]);
  ir_set_enum(nd, "gate", gw[gate]);
  if (running) ir_set_enum(nd, "norm", "running");
  if (!state_op && causal) ir_set_i(nd, "causal", 1);
  if (quadratic) ir_set_enum(nd, "lower", "quadratic");
  ir_set_i(nd, "chunk", gc_int(1, 3));
}

static void t_cross(Op op);

static void t_linear_attention(Op op) {
  static const char *fn[] = {"dct", "dct_exp", "none"}, *gn[] = {"none", "decay", "learned"};
  for (int feature = 0; feature < 3; feature++)
    for (int gate = 0; gate < 3; gate++)
      for (int mode = 0; mode < 4; mode++) {
        int running = mode & 1, causal = gate == LA_GATE_LEARNED || (mode >> 1), state = causal && gc_int(0, 1);
        int quadratic = gc_int(0, 2) == 0;
        GC c;
        gc_begin(&c, op, "feature %s, gate %s, norm %d, causal %d, state %d, rule %s", fn[feature], gn[gate], running,
                 causal, state, quadratic ? "quadratic (primitives)" : "linear_attention_grad");
        la_case(&c, op, feature, gate, running, causal, state, quadratic);
        gc_check(&c);
        gc_end(&c);
      }
  t_cross(op);
}

/* cross attention: Sq != Sk, bidirectional, no gate (the linear order q~ (k~^T v') through
 * primitives, or the quadratic oracle) */
static void t_cross(Op op) {
  for (int rep = 0; rep < 6; rep++) {
    int feature = rep % 3, running = (rep / 3) & 1, quadratic = gc_int(0, 1);
    GC c;
    gc_begin(&c, op, "cross attention, feature %d, norm %d, %s", feature, running, quadratic ? "quadratic" : "linear order");
    int64_t B = gc_int(1, 2), H = gc_int(1, 2), D = gc_int(1, 3), Dv = gc_int(1, 3), m = feature == LA_FEAT_NONE ? D : 2;
    Dim S = gc_sym(&c, "S", gc_int(1, 3)), T = gc_sym(&c, "T", gc_int(2, 4));
    int xs[8], n = 0;
    xs[n++] = gc_in(&c, DT_F32, 4, (Dim[]){cd(B), cd(H), S, cd(D)});
    xs[n++] = gc_in(&c, DT_F32, 4, (Dim[]){cd(B), cd(H), T, cd(D)});
    xs[n++] = gc_in(&c, DT_F32, 4, (Dim[]){cd(B), cd(H), T, cd(Dv)});
    if (running && feature == LA_FEAT_NONE) fill(&c, xs[0], 0.2, 1.5), fill(&c, xs[1], 0.2, 1.5);
    if (feature != LA_FEAT_NONE) {
      xs[n] = gc_in(&c, DT_F32, 2, (Dim[]){cd(D), cd(m)});
      fill(&c, xs[n++], -0.7, 0.7);
      xs[n] = gc_in(&c, DT_F32, 1, (Dim[]){cd(m)});
      fill(&c, xs[n++], -0.5, 0.5);
      if (feature == LA_FEAT_DCT_EXP) {
        xs[n] = gc_in(&c, DT_F32, 1, (Dim[]){cd(m)});
        fill(&c, xs[n++], 0.2, 1.5);
      }
    }
    static const char *fw[] = {"dct", "dct_exp", "none"};
    IrNode *nd = gc_op(&c, op, n, xs);
    ir_set_enum(nd, "feature", fw[feature]);
    if (running) ir_set_enum(nd, "norm", "running");
    if (quadratic) ir_set_enum(nd, "lower", "quadratic");
    gc_check(&c);
    gc_end(&c);
  }
}

static void t_linear_attention_state(Op op) {
  for (int rep = 0; rep < 9; rep++) {
    int feature = rep % 3, gate = rep / 3, running = gc_int(0, 1), state = gc_int(0, 1);
    GC c;
    gc_begin(&c, op, "feature %d, gate %d, norm %d, state %d", feature, gate, running, state);
    la_case(&c, op, feature, gate, running, 1, state, 0);
    gc_check(&c);
    gc_end(&c);
  }
}

void gc_register_linattn(GcTest *t) {
  t[OP_LINEAR_ATTENTION] = t_linear_attention;
  t[OP_LINEAR_ATTENTION_STATE] = t_linear_attention_state;
}
