/* linattn.c — operand layout and shape rule of linear_attention, linear_attention_state and
 * linear_attention_grad (see linattn.h for the layout, shapes named there), and DiJiang's
 * per-head decay gamma_h.
 */
#include "linattn.h"

#include <math.h>

static const char *feat_word(int f) { return f == LA_FEAT_DCT ? "dct" : f == LA_FEAT_DCT_EXP ? "dct_exp" : "none"; }
static const char *gate_word(int g) { return g == LA_GATE_DECAY ? "decay" : g == LA_GATE_LEARNED ? "learned" : "none"; }

int ir_linattn_read(const IrNode *n, LinAttn *la, char *err, size_t errlen) {
  memset(la, -1, sizeof *la);
  int grad = n->op == OP_LINEAR_ATTENTION_GRAD, state_op = n->op == OP_LINEAR_ATTENTION_STATE;
  la->feature = grad ? LA_FEAT_NONE : (int)ir_get_i(n, "feature");
  la->gate = (int)ir_get_i(n, "gate");
  la->running = ir_get_i(n, "norm") == 1;
  la->causal = state_op ? 1 : (int)ir_get_i(n, "causal");
  la->lower = (int)ir_get_i(n, "lower");
  la->chunk = ir_get_i(n, "chunk");
  la->wrt_state = grad ? ir_get_i(n, "wrt") == 1 : 0;
  int pos = 0;
  if (!state_op) la->q = pos++;
  la->k = pos++;
  la->v = pos++;
  int nfeat = la->feature == LA_FEAT_DCT ? 2 : la->feature == LA_FEAT_DCT_EXP ? 3 : 0;
  if (nfeat) {
    la->proj = pos;
    la->fw = pos + 1;
    if (nfeat == 3) la->fd = pos + 2;
    pos += nfeat;
  }
  if (la->gate == LA_GATE_LEARNED) {
    la->g = pos;
    la->beta = pos + 1;
    pos += 2;
  }
  int base = pos, extra = n->nin - pos, need = grad ? 1 : 0;
  if (extra < need || extra > need + 1) {
    snprintf(err, errlen, "with feature %s and gate %s it takes %d or %d operands (%s%s%s, [S0]%s), got %d",
             feat_word(la->feature), gate_word(la->gate), base + need, base + need + 1, state_op ? "k, v" : "q, k, v",
             nfeat == 2 ? ", P, w" : nfeat == 3 ? ", P, t, d" : "", la->gate == LA_GATE_LEARNED ? ", g, beta" : "",
             grad ? ", dO" : "", n->nin);
    return 0;
  }
  if (extra == need + 1) la->state = pos++;
  if (grad) la->dout = pos++;
  return 1;
}

double ir_linattn_gamma(int64_t h, int64_t H) {
  double a = log(1.0 / 32), b = log(1.0 / 512);
  double x = H > 1 ? a + (b - a) * (double)h / (double)(H - 1) : a;
  return 1.0 - exp(x);
}

/* ---- the shape rule ------------------------------------------------------------------------- */

typedef struct Sx {
  const IrProgram *p;
  const IrGraph *g;
  const IrNode *n;
  char *err;
  size_t errlen;
} Sx;

static int bad(Sx *s, const char *fmt, ...) MAMC_PRINTF(2, 3);
static int bad(Sx *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, s->errlen, fmt, ap);
  va_end(ap);
  return 0;
}

static const IrType *ty(Sx *s, int pos) { return &s->g->nodes.v[s->n->in[pos]].type; }

typedef struct Txt {
  char s[160];
} Txt;
static Txt tt(Sx *s, const IrType *t) {
  Txt r;
  StrBuf b;
  sb_init(&b);
  ir_print_type(&b, s->p, t);
  snprintf(r.s, sizeof r.s, "%s", b.s ? b.s : "?");
  sb_free(&b);
  return r;
}

/* t must be rank r with the given dims (NULL entries: any) */
static int want(Sx *s, int pos, const char *name, int r, const Dim *const *dims, const char *form) {
  const IrType *t = ty(s, pos);
  int ok = t->rank == r;
  for (int i = 0; ok && i < r; i++) ok = !dims[i] || dim_eq(t->d[i], *dims[i]);
  if (!ok) return bad(s, "%s must be %s, got %s", name, form, tt(s, t).s);
  return 1;
}

int ir_linattn_infer(const IrProgram *p, const IrGraph *g, IrNode *n, char *err, size_t errlen) {
  Sx s = {p, g, n, err, errlen};
  LinAttn la;
  if (!ir_linattn_read(n, &la, err, errlen)) return 0;
  int grad = n->op == OP_LINEAR_ATTENTION_GRAD, state_op = n->op == OP_LINEAR_ATTENTION_STATE;
  const IrType *k = ty(&s, la.k), *v = ty(&s, la.v), *q = la.q >= 0 ? ty(&s, la.q) : k;
  if (!dtype_is_float(q->dt)) return bad(&s, "q, k, v must be float, got %s", tt(&s, q).s);
  for (int i = 0; i < n->nin; i++)
    if (ty(&s, i)->dt != q->dt)
      return bad(&s, "operand %d has dtype %s, the others %s", i, dtype_name(ty(&s, i)->dt), dtype_name(q->dt));
  if (q->rank != 4 || k->rank != 4 || v->rank != 4)
    return bad(&s, "q, k, v must be [B, H, S, D]: got %s, %s, %s", tt(&s, q).s, tt(&s, k).s, tt(&s, v).s);
  if (!dim_eq(q->d[0], k->d[0]) || !dim_eq(q->d[1], k->d[1]) || !dim_eq(q->d[3], k->d[3]))
    return bad(&s, "q %s and k %s differ in batch, heads or head dim", tt(&s, q).s, tt(&s, k).s);
  if (!dim_eq(k->d[0], v->d[0]) || !dim_eq(k->d[1], v->d[1]) || !dim_eq(k->d[2], v->d[2]))
    return bad(&s, "k %s and v %s differ in batch, heads or length", tt(&s, k).s, tt(&s, v).s);
  int same_len = dim_eq(q->d[2], k->d[2]);
  if (la.causal && !same_len)
    return bad(&s, "causal attention needs equal query and key lengths: %s, %s", tt(&s, q).s, tt(&s, k).s);
  if (la.gate != LA_GATE_NONE && !same_len)
    return bad(&s, "gate = %s needs equal query and key lengths: %s, %s", gate_word(la.gate), tt(&s, q).s, tt(&s, k).s);
  if (la.gate == LA_GATE_LEARNED && !la.causal)
    return bad(&s, "gate = learned needs causal (a gate decays towards the past only)");
  if (la.chunk < 1) return bad(&s, "chunk must be positive, got %lld", (long long)la.chunk);
  /* features: m */
  Dim D = k->d[3], m = D;
  if (la.feature != LA_FEAT_NONE) {
    const IrType *P = ty(&s, la.proj);
    if (P->rank != 2 || !dim_eq(P->d[0], D) || !dim_is_const(P->d[1]))
      return bad(&s, "the feature projection P must be [D, m] with D = %s's head dim, got %s", tt(&s, k).s,
                 tt(&s, P).s);
    m = P->d[1];
    const Dim *dm[1] = {&m};
    if (!want(&s, la.fw, la.feature == LA_FEAT_DCT ? "the feature weights w" : "the feature scales t", 1, dm, "[m]"))
      return 0;
    if (la.fd >= 0 && !want(&s, la.fd, "the feature weights d", 1, dm, "[m]")) return 0;
  }
  if (!grad && !state_op) {
    int64_t mm = ir_get_i(n, "m");
    if (mm != 0 && !dim_eq(m, dim_const(mm)))
      return bad(&s, "m = %lld, but the feature map gives %s features", (long long)mm,
                 dim_is_const(m) ? arena_printf(p->arena, "%lld", (long long)m.add) : "a symbolic number of");
  }
  if (la.gate == LA_GATE_LEARNED) {
    const Dim *dg[3] = {&k->d[0], &k->d[1], &k->d[2]};
    if (!want(&s, la.g, "the log-gates g", 3, dg, "[B, H, S]") || !want(&s, la.beta, "the gates beta", 3, dg, "[B, H, S]"))
      return 0;
  }
  Dim dvp = v->d[3];
  if (la.running && !dim_add(v->d[3], 1, &dvp)) return bad(&s, "Dv + 1 is not an affine dim");
  if (la.state >= 0) {
    if (!la.causal) return bad(&s, "a state operand needs causal");
    const Dim *ds[4] = {&k->d[0], &k->d[1], &m, &dvp};
    if (!want(&s, la.state, "the state S0", 4, ds, la.running ? "[B, H, m, Dv + 1]" : "[B, H, m, Dv]")) return 0;
  }
  IrType out = *q;
  if (state_op) {
    out.d[2] = m;
    out.d[3] = dvp;
  } else if (grad) {
    if (!same_len) return bad(&s, "needs equal query and key lengths: %s, %s", tt(&s, q).s, tt(&s, k).s);
    const Dim *dd[4] = {&q->d[0], &q->d[1], &q->d[2], &v->d[3]};
    if (!want(&s, la.dout, "dO", 4, dd, "[B, H, S, Dv]")) return 0;
    if (la.wrt_state) {
      if (la.state < 0) return bad(&s, "wrt = state needs a state operand");
      out.d[2] = m;
      out.d[3] = dvp;
    } else {
      if (!dim_is_const(m) || !dim_is_const(v->d[3]))
        return bad(&s, "needs constant head dims, got %s and %s", tt(&s, q).s, tt(&s, v).s);
      int64_t w;
      if (__builtin_mul_overflow(m.add, 2, &w) || __builtin_add_overflow(w, v->d[3].add, &w) ||
          __builtin_add_overflow(w, la.gate == LA_GATE_LEARNED ? 2 : 0, &w))
        return bad(&s, "size out of range");
      out.d[3] = dim_const(w);
    }
  } else {
    out.d[3] = v->d[3];
  }
  n->type = out;
  return 1;
}
