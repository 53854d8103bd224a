/* decode_check.c — the analysis half of the decode pass (decode.c has the rewrite; the rules
 * are in docs/decoding.md): the target input, the logits, the decoder length, which nodes are
 * on the target side, which the logits need, which encoder values the step reads, and the
 * check that every needed target-side node is position-wise along the target positions. A
 * node that is not is refused with its location (nodes are checked in order, so the first one
 * refused is the cause).
 */
#include <stdlib.h>

#include "decode_internal.h"
#include "linattn.h"

#define refuse decode_refuse

/* ---- reporting ----------------------------------------------------------------------------- */

int decode_refuse(Dx *x, int i, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const IrNode *nd = N(x, i);
  if (nd->op == OP_INPUT)
    diag_error(x->d, nd->loc, "cannot decode task @%s: %%%s: %s", x->gname, nd->name, msg);
  else
    diag_error(x->d, nd->loc, "cannot decode task @%s: %%%d = %s: %s", x->gname, i - x->ninputs,
               op_info(nd->op)->name, msg);
  return 0;
}

/* ---- analysis -------------------------------------------------------------------------------- */

int decode_mentions(const IrType *t, int32_t sym) {
  for (int r = 0; r < t->rank; r++)
    if (t->d[r].sym == sym) return 1;
  return 0;
}

/* The axis of a type that is the decoder length: >= 0, -1 none, -2 several, -3 another dim of T. */
static int pos_axis(const Dx *x, const IrType *t) {
  int a = -1;
  for (int r = 0; r < t->rank; r++) {
    if (t->d[r].sym != x->tsym) continue;
    if (!dim_eq(t->d[r], x->len)) return -3;
    if (a >= 0) return -2;
    a = r;
  }
  return a;
}

static int norm_axis(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

int decode_is_shift(const Dx *x, int i) {
  const IrNode *nd = N(x, i);
  if (nd->op != OP_SLICE || nd->in[0] != x->tgt) return 0;
  const AttrVal *end = ir_get(nd, "end");
  return norm_axis(ir_get_i(nd, "axis"), 2) == 1 && ir_get_i(nd, "start") == 0 && end->set && end->i == -1 &&
         ir_get_i(nd, "step") == 1;
}

static int find_target(Dx *x) {
  const IrGraph *g = &x->p->graphs.v[x->graph];
  int named = -1, second = -1, only = -1;
  for (int i = 0; i < g->nodes.n && g->nodes.v[i].op == OP_INPUT; i++) {
    if (strcmp(g->nodes.v[i].name, "tgt") == 0) named = i;
    if (i == 1) second = i;
    only = i;
  }
  x->tgt = named >= 0 ? named : second >= 0 ? second : only;
  if (x->tgt < 0) {
    diag_plain(x->d, "cannot decode task @%s: it has no inputs (decoding needs a target input %%tgt: i32[B, T])",
               x->gname);
    return 0;
  }
  const IrType *t = &N(x, x->tgt)->type;
  if (t->dt != DT_I32 || t->rank != 2 || t->d[0].sym < 0 || t->d[0].mul != 1 || t->d[0].add != 0 ||
      t->d[1].sym < 0 || t->d[1].mul != 1 || t->d[1].add != 0)
    return refuse(x, x->tgt, "the target input must be i32[B, T] with symbolic B and T (token ids)");
  x->bsym = t->d[0].sym;
  x->tsym = t->d[1].sym;
  return 1;
}

/* The logits: the output `logits`, else the first operand of the loss's one cross_entropy. */
static int find_logits(Dx *x, char *seen) {
  const IrGraph *g = &x->p->graphs.v[x->graph];
  int loss = -1, ce = -1, nce = 0;
  for (int o = 0; o < g->outputs.n; o++) {
    if (strcmp(g->outputs.v[o].name, "logits") == 0) return x->logits = g->outputs.v[o].node, 1;
    if (strcmp(g->outputs.v[o].name, "loss") == 0) loss = g->outputs.v[o].node;
  }
  if (loss < 0) {
    diag_plain(x->d, "cannot decode task @%s: it has neither an output `logits` nor a `loss`", x->gname);
    return 0;
  }
  memset(seen, 0, (size_t)x->n);
  seen[loss] = 1;
  for (int i = loss; i >= 0; i--) {
    if (!seen[i]) continue;
    const IrNode *nd = N(x, i);
    if (nd->op == OP_CROSS_ENTROPY) ce = i, nce++;
    for (int k = 0; k < nd->nin; k++) seen[nd->in[k]] = 1;
  }
  if (nce != 1) {
    diag_plain(x->d,
               "cannot decode task @%s: its loss reads %d cross_entropy nodes; name the logits with "
               "`output logits = ...` in the task",
               x->gname, nce);
    return 0;
  }
  x->logits = N(x, ce)->in[0];
  return 1;
}

/* Operand k of node i, with position axis ax, aligned with i's position axis (broadcasting
 * aligns trailing axes). */
static int aligned(const Dx *x, int i, int k) {
  int o = N(x, i)->in[k];
  return !x->side[o] || x->ax[o] + (N(x, i)->type.rank - N(x, o)->type.rank) == x->ax[i];
}

/* Product of dims [from, to) as a constant and a sorted list of symbolic factors. */
static void dims_product(const IrType *t, int from, int to, int64_t *c, Dim *f, int *nf) {
  *c = 1;
  *nf = 0;
  for (int r = from; r < to; r++) {
    if (dim_is_const(t->d[r])) {
      *c *= t->d[r].add;
      continue;
    }
    int j = (*nf)++;
    f[j] = t->d[r];
    while (j > 0 && (f[j - 1].sym > f[j].sym || (f[j - 1].sym == f[j].sym && f[j - 1].add > f[j].add))) {
      Dim s = f[j - 1];
      f[j - 1] = f[j];
      f[j] = s;
      j--;
    }
  }
}

static int same_product(const IrType *a, int af, int at, const IrType *b, int bf, int bt) {
  int64_t ca, cb;
  Dim fa[IR_MAX_RANK], fb[IR_MAX_RANK];
  int na, nb;
  dims_product(a, af, at, &ca, fa, &na);
  dims_product(b, bf, bt, &cb, fb, &nb);
  if (ca != cb || na != nb) return 0;
  for (int k = 0; k < na; k++)
    if (!dim_eq(fa[k], fb[k])) return 0;
  return 1;
}

/* Causal linear attention: its operands, checked. */
static int check_linattn(Dx *x, int i, const LinAttn *la) {
  const IrNode *nd = N(x, i);
  int kside = x->side[nd->in[la->k]] || x->side[nd->in[la->v]];
  if (!kside) {
    if (la->gate != LA_GATE_NONE || la->causal)
      return refuse(x, i, "a linear attention of target queries over encoder keys must be non-causal without gate");
    return x->ax[nd->in[la->q]] == 2 ? 1 : refuse(x, i, "its queries' positions are not on axis 2");
  }
  if (!la->causal)
    return refuse(x, i, "a non-causal linear attention over target positions attends to later positions");
  if (la->state >= 0) return refuse(x, i, "a linear attention that already starts from a state cannot be decoded");
  for (int k = 0; k < nd->nin; k++) {
    int o = nd->in[k];
    int want = k == la->q || k == la->k || k == la->v || k == la->g || k == la->beta;
    if (want && (!x->side[o] || x->ax[o] != 2))
      return refuse(x, i, "operand %d must run over the target positions on axis 2", k);
    if (!want && x->side[o]) return refuse(x, i, "its feature operand %d depends on the target", k);
  }
  return 1;
}

/* Node i (target side, needed): position-wise along its position axis? */
static int check_node(Dx *x, int i) {
  const IrNode *nd = N(x, i);
  const OpInfo *oi = op_info(nd->op);
  int a = x->ax[i];
  if (decode_is_shift(x, i)) return 1;
  if (nd->op == OP_INPUT) return refuse(x, i, "the decoder may read the target only as tgt[:, :-1]");
  if (a == -3) return refuse(x, i, "a dimension of T other than the decoder length appears in its type");
  if (a < 0)
    return refuse(x, i, "%s", a == -1 ? "it combines all target positions into one value (decoding computes one position at a time)"
                                      : "it has two axes over the target positions (position pairs mix positions)");
  for (int k = 0; k < nd->nin; k++)
    if (nd->in[k] == x->tgt) return refuse(x, i, "it reads the target beyond tgt[:, :-1] (the tokens to predict)");
  if (oi->flags & F_EW) {
    for (int k = 0; k < nd->nin; k++)
      if (!aligned(x, i, k)) return refuse(x, i, "operand %d's positions do not line up with the result's", k);
    return 1;
  }
  switch (nd->op) {
  case OP_CONST:
  case OP_IOTA:
  case OP_TRANSPOSE: return 1;
  case OP_EXPAND: return aligned(x, i, 0) ? 1 : refuse(x, i, "it moves the position axis");
  case OP_RESHAPE: {
    const IrType *t = &N(x, nd->in[0])->type;
    int b = x->ax[nd->in[0]];
    if (!same_product(t, 0, b, &nd->type, 0, a) || !same_product(t, b + 1, t->rank, &nd->type, a + 1, nd->type.rank))
      return refuse(x, i, "it merges or splits the position axis");
    return 1;
  }
  case OP_MATMUL: {
    for (int k = 0; k < 2; k++) {
      int o = nd->in[k], r = N(x, o)->type.rank, t = (int)ir_get_i(nd, k ? "tb" : "ta");
      int contracted = k == 0 ? (t ? r - 2 : r - 1) : (t ? r - 1 : r - 2);
      if (x->side[o] && x->ax[o] == contracted) return refuse(x, i, "it sums over the target positions");
    }
    return 1;
  }
  case OP_REDUCE_SUM:
  case OP_REDUCE_MEAN:
  case OP_REDUCE_MAX: {
    const AttrVal *axes = ir_get(nd, "axes");
    int r = N(x, nd->in[0])->type.rank;
    for (int k = 0; k < axes->n; k++)
      if (norm_axis(axes->ints[k], r) == x->ax[nd->in[0]]) return refuse(x, i, "it reduces over the target positions");
    return 1;
  }
  case OP_SOFTMAX:
  case OP_LOG_SOFTMAX:
    if (norm_axis(ir_get_i(nd, "axis"), nd->type.rank) == a) return refuse(x, i, "it normalises over the target positions");
    return 1;
  case OP_LAYERNORM:
  case OP_RMSNORM:
  case OP_GROUPNORM:
    if (a == nd->type.rank - 1) return refuse(x, i, "it normalises over the target positions");
    for (int k = 1; k < nd->nin; k++)
      if (x->side[nd->in[k]]) return refuse(x, i, "its gain or bias depends on the target");
    return 1;
  case OP_SLICE:
  case OP_PAD:
    if (norm_axis(ir_get_i(nd, "axis"), nd->type.rank) == a) return refuse(x, i, "it slices the target positions");
    return 1;
  case OP_CONCAT:
    if (norm_axis(ir_get_i(nd, "axis"), nd->type.rank) == a) return refuse(x, i, "it concatenates along the target positions");
    return 1;
  case OP_GATHER:
    if (x->side[nd->in[0]]) return refuse(x, i, "it gathers from a table that depends on the target");
    return 1;
  case OP_SOFTMAX_ATTENTION: {
    int q = nd->in[0], k = nd->in[1], v = nd->in[2], m = nd->nin > 3 ? nd->in[3] : -1;
    int kside = x->side[k] || x->side[v] || (m >= 0 && x->side[m]);
    if (!x->side[q] || x->ax[q] != 2) return refuse(x, i, "its queries' positions are not on axis 2");
    if (!kside) return ir_get_i(nd, "causal") ? refuse(x, i, "a causal attention over encoder keys") : 1;
    if (!ir_get_i(nd, "causal")) return refuse(x, i, "a non-causal attention over target positions attends to later positions");
    if (!x->side[k] || !x->side[v] || x->ax[k] != 2 || x->ax[v] != 2 || (m >= 0 && (!x->side[m] || x->ax[m] != 1)))
      return refuse(x, i, "its keys, values and key mask must all run over the target positions");
    return 1;
  }
  case OP_LINEAR_ATTENTION: {
    LinAttn la;
    char err[256];
    if (!ir_linattn_read(nd, &la, err, sizeof err)) return refuse(x, i, "%s", err);
    return check_linattn(x, i, &la);
  }
  default: return refuse(x, i, "this op is not position-wise over the target positions");
  }
}

int decode_analyse(Dx *x, char *scratch) {
  if (!find_target(x) || !find_logits(x, scratch)) return 0;
  int shifts = 0;
  for (int i = 0; i < x->n; i++) {
    const IrNode *nd = N(x, i);
    x->side[i] = i == x->tgt || decode_mentions(&nd->type, x->tsym);
    for (int k = 0; k < nd->nin && !x->side[i]; k++) x->side[i] = x->side[nd->in[k]];
    if (decode_is_shift(x, i) && !shifts++) x->len = nd->type.d[1];
    x->map[i] = -1;
  }
  if (!shifts) {
    diag_plain(x->d, "cannot decode task @%s: the decoder does not read tgt[:, :-1] (the shifted target)", x->gname);
    return 0;
  }
  for (int i = 0; i < x->n; i++) x->ax[i] = x->side[i] ? pos_axis(x, &N(x, i)->type) : -1;
  if (!x->side[x->logits]) return refuse(x, x->logits, "the logits do not depend on the target");
  const IrType *lt = &N(x, x->logits)->type;
  if (lt->rank != 3 || x->ax[x->logits] != 1 || !dim_eq(lt->d[0], dim_sym(x->bsym)))
    return refuse(x, x->logits, "the logits must be [B, T-1, V] (batch, positions, vocabulary)");
  x->need[x->logits] = 1;
  for (int i = x->logits; i >= 0; i--) {
    const IrNode *nd = N(x, i);
    if (!x->need[i] || decode_is_shift(x, i)) continue;
    for (int k = 0; k < nd->nin; k++) {
      int o = nd->in[k];
      if (x->side[o]) x->need[o] = o != x->tgt;
      else if (!(op_info(N(x, o)->op)->flags & F_SOURCE) || N(x, o)->op == OP_INPUT) x->encv[o] = 1;
    }
  }
  for (int i = 0; i < x->n; i++) /* in order: the first node refused is the cause */
    if (x->need[i] && !check_node(x, i)) return 0;
  for (int i = 0; i < x->n; i++) {
    const IrType *t = &N(x, i)->type;
    for (int r = 1; x->encv[i] && r < t->rank; r++)
      if (t->d[r].sym == x->bsym)
        return refuse(x, i, "this encoder value has the batch dimension on axis %d (decoding selects rows on axis 0)", r);
  }
  return 1;
}
