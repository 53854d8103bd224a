/* decode.c — the decode pass (letter D; contract in decode.h, design in docs/decoding.md):
 * splits a forward task graph at its target input into an encoder program and a one-step
 * decoder program with caches, so a decoder runs the encoder once per batch and then one
 * position at a time.
 *
 * Analysis. The target input is the one named `tgt` (else the second input, else the only
 * one); T is the symbol of its axis 1 and B of its axis 0. The logits are the output named
 * `logits`, else the first operand of the one cross_entropy the loss depends on. A node is
 * on the target side when it is the target, mentions T in its type, or reads a target-side
 * node. The decoder input is the shifted slice tgt[:, :-1] (length L = T-1). Every
 * target-side node the logits need must have exactly one axis of length L (its position
 * axis) and be position-wise along it: elementwise ops with that axis aligned, products,
 * reductions, norms and softmaxes that do not contract or reduce it, reshapes that keep it
 * whole, slices and concats along other axes, attention whose keys are the encoder's or are
 * causal. Anything else mixes positions (or looks ahead) and is refused with its location.
 *
 * Rewrite (the step graph): target-side nodes are copied in order with L -> 1; the shifted
 * slice becomes %tok; an iota along the position axis becomes iota + %pos; a causal
 * softmax_attention reads concat(%cache.N, new rows) for its keys, values (and key mask)
 * and attends with its one query to all of them (no mask needed: the cache holds only the
 * past); a causal linear_attention runs one recurrent step from %state.N and a
 * linear_attention_state gives the next state. Parameters, constants and iotas the step
 * reads are cloned; every other encoder-side node it reads becomes an encoder value (an
 * output of the encoder graph, an input of the step graph).
 */
#include "decode.h"

#include <stdlib.h>

#include "linattn.h"
#include "pipeline.h"

typedef struct Dx {
  IrProgram *p;
  int graph, n, ninputs;
  Diag *d;
  const char *gname;
  int tgt, logits;
  int32_t tsym, bsym, psym;
  Dim len;         /* the decoder length (the shifted slice's axis 1) */
  char *side;      /* per node: target side */
  char *need;      /* per node: a target-side node the logits need */
  char *encv;      /* per node: an encoder value (read by the step graph, computed once) */
  int *ax;         /* per node: position axis */
  int *map;        /* per node: its node in the graph being built (-1) */
  int *cache_of;   /* per node: the cache holding its past rows (-1) */
} Dx;

static IrNode *N(const Dx *x, int i) { return &x->p->graphs.v[x->graph].nodes.v[i]; }

/* ---- reporting ----------------------------------------------------------------------------- */

static int refuse(Dx *x, int i, const char *fmt, ...) MAMC_PRINTF(3, 4);
static int refuse(Dx *x, int i, const char *fmt, ...) {
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

static int mentions(const IrType *t, int32_t sym) {
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

static int is_shift(const Dx *x, int i) {
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
  if (is_shift(x, i)) return 1;
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

/* Marks side, need, encv and ax; checks every needed target-side node. */
static int analyse(Dx *x) {
  const IrGraph *g = &x->p->graphs.v[x->graph];
  int shifts = 0;
  for (int i = 0; i < x->n; i++) {
    const IrNode *nd = N(x, i);
    x->side[i] = i == x->tgt || mentions(&nd->type, x->tsym);
    for (int k = 0; k < nd->nin && !x->side[i]; k++) x->side[i] = x->side[nd->in[k]];
    if (is_shift(x, i) && !shifts++) x->len = nd->type.d[1];
    x->map[i] = -1;
  }
  (void)g;
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
    if (!x->need[i] || is_shift(x, i)) continue;
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

/* ---- building -------------------------------------------------------------------------------- */

static IrNode *G(Dx *x, int graph, int id) { return &x->p->graphs.v[graph].nodes.v[id]; }

/* A node of graph `graph` copied from original node i (attributes deep-copied), operands in. */
static int copy_node(Dx *x, int graph, int i, const int *in, int nin) {
  IrGraph *g = &x->p->graphs.v[graph];
  IrNode nd = *N(x, i);
  int na = op_info(nd.op)->nattrs;
  nd.attr = ARENA_ARRAY(x->p->arena, AttrVal, na > 0 ? na : 1);
  memcpy(nd.attr, N(x, i)->attr, sizeof(AttrVal) * (size_t)na);
  nd.nin = nin;
  nd.in = ARENA_ARRAY(x->p->arena, int, nin > 0 ? nin : 1);
  for (int k = 0; k < nin; k++) nd.in[k] = in[k];
  nd.group = -1;
  vec_push(x->p->arena, g->nodes, nd);
  return g->nodes.n - 1;
}

static int new_node(Dx *x, int graph, Op op, int a, int b, const IrType *declared) {
  IrGraph *g = &x->p->graphs.v[graph];
  int in[2] = {a, b};
  int id = ir_node_add(x->p, g, op, (a >= 0) + (b >= 0), in);
  if (declared) g->nodes.v[id].type = *declared;
  return id;
}

static int infer(Dx *x, int graph, int id, const IrType *want, int orig) {
  char err[256];
  IrGraph *g = &x->p->graphs.v[graph];
  if (!ir_infer(x->p, g, id, err, sizeof err)) return refuse(x, orig, "internal error in the step graph: %s", err);
  if (want && !type_eq(&g->nodes.v[id].type, want)) return refuse(x, orig, "internal error: the step node's type differs");
  return 1;
}

/* The type with the decoder length replaced: by 1 (step) or by the symbol P (caches). */
static IrType map_type(const Dx *x, IrType t, int to_p) {
  for (int r = 0; r < t.rank; r++)
    if (t.d[r].sym == x->tsym) t.d[r] = to_p ? dim_sym(x->psym) : dim_const(1);
  return t;
}

static const char *name_of(Dx *x, const char *kind, int k) { return arena_printf(x->p->arena, "%s.%d", kind, k); }

/* The encoder graph: the non-target inputs and what the encoder values need. */
static int build_encoder(Dx *x, int eg, char *keep) {
  memset(keep, 0, (size_t)x->n);
  for (int i = x->n - 1; i >= 0; i--) {
    if (x->encv[i]) keep[i] = 1;
    if (keep[i])
      for (int k = 0; k < N(x, i)->nin; k++) keep[N(x, i)->in[k]] = 1;
  }
  for (int i = 0; i < x->n; i++) {
    if (!(keep[i] || (N(x, i)->op == OP_INPUT && i != x->tgt))) continue;
    int in[64], nin = N(x, i)->nin;
    if (nin > 64) return refuse(x, i, "too many operands");
    for (int k = 0; k < nin; k++) in[k] = x->map[N(x, i)->in[k]];
    x->map[i] = copy_node(x, eg, i, in, nin);
  }
  int e = 0;
  for (int i = 0; i < x->n; i++)
    if (x->encv[i]) ir_output_add(x->p, &x->p->graphs.v[eg], name_of(x, "enc", e++), x->map[i]);
  pass_update_used_by(x->p, eg);
  return 1;
}

/* Node i's counterpart in the step graph: built already, an input, or a cloned source. */
static int get(Dx *x, int sg, int i) {
  if (x->map[i] >= 0) return x->map[i];
  const IrNode *nd = N(x, i);
  if (nd->op == OP_PARAM) return x->map[i] = ir_param_ref(x->p, &x->p->graphs.v[sg], nd->module, nd->param);
  return x->map[i] = copy_node(x, sg, i, NULL, 0); /* const, iota: no operands */
}

typedef struct StepIo {
  int pos, ncache, nstate;
  int cache_in[256], cache_new[256], cat[256], state_in[256], state_new[256];
} StepIo;

static int add_input(Dx *x, int sg, const char *name, IrType t) {
  return ir_input_add(x->p, &x->p->graphs.v[sg], name, t);
}

/* Inputs of the step graph (all before any other node): tok, pos, enc.N, cache.N, state.N. */
static int step_inputs(Dx *x, int sg, StepIo *io) {
  IrType tok = {DT_I32, 2, {dim_sym(x->bsym), dim_const(1)}}, pos = {DT_I32, 0, {{0}}};
  int t = add_input(x, sg, "tok", tok);
  io->pos = add_input(x, sg, "pos", pos);
  for (int i = 0; i < x->n; i++)
    if (is_shift(x, i)) x->map[i] = t;
  for (int i = 0, e = 0; i < x->n; i++)
    if (x->encv[i]) x->map[i] = add_input(x, sg, name_of(x, "enc", e++), N(x, i)->type);
  for (int i = 0; i < x->n; i++) {
    const IrNode *nd = N(x, i);
    if (!x->need[i] || (nd->op != OP_SOFTMAX_ATTENTION && nd->op != OP_LINEAR_ATTENTION) || !x->side[nd->in[1]])
      continue;
    if (io->ncache + 3 > 256 || io->nstate + 1 > 256) return refuse(x, i, "too many attention layers");
    if (nd->op == OP_SOFTMAX_ATTENTION) { /* keys, values, key mask: one cache per node */
      for (int k = 1; k < nd->nin; k++) {
        int o = nd->in[k];
        if (x->cache_of[o] >= 0) continue;
        x->cache_of[o] = io->ncache;
        io->cache_in[io->ncache] = add_input(x, sg, name_of(x, "cache", io->ncache), map_type(x, N(x, o)->type, 1));
        io->cat[io->ncache++] = -1;
      }
      continue;
    }
    LinAttn la;
    char err[256];
    ir_linattn_read(nd, &la, err, sizeof err);
    const IrType *kt = &N(x, nd->in[la.k])->type, *vt = &N(x, nd->in[la.v])->type;
    Dim m = la.feature == LA_FEAT_NONE ? kt->d[3] : N(x, nd->in[la.proj])->type.d[1];
    if (!dim_is_const(vt->d[3])) return refuse(x, i, "the value width must be a constant");
    IrType st = {kt->dt, 4, {kt->d[0], kt->d[1], m, dim_const(vt->d[3].add + la.running)}};
    io->state_in[io->nstate] = add_input(x, sg, name_of(x, "state", io->nstate), st);
    io->nstate++;
  }
  return 1;
}

static void copy_attr(IrNode *dst, const IrNode *src, const char *name) {
  dst->attr[op_attr_index(dst->op, name)] = src->attr[op_attr_index(src->op, name)];
}

/* A causal softmax attention: the query against concat(cache, new) for keys, values, mask. */
static int step_attention(Dx *x, int sg, int i, StepIo *io) {
  const IrNode *nd = N(x, i);
  int ops[4];
  ops[0] = get(x, sg, nd->in[0]);
  for (int k = 1; k < nd->nin; k++) {
    int c = x->cache_of[nd->in[k]];
    if (io->cat[c] < 0) { /* the past rows and the new one */
      int fresh = get(x, sg, nd->in[k]);
      io->cat[c] = new_node(x, sg, OP_CONCAT, io->cache_in[c], fresh, NULL);
      ir_set_i(G(x, sg, io->cat[c]), "axis", k == 3 ? 1 : 2);
      if (!infer(x, sg, io->cat[c], NULL, i)) return 0;
      io->cache_new[c] = fresh;
    }
    ops[k] = io->cat[c];
  }
  int id = ir_node_add(x->p, &x->p->graphs.v[sg], OP_SOFTMAX_ATTENTION, nd->nin, ops);
  copy_attr(G(x, sg, id), nd, "scale");
  IrType want = map_type(x, nd->type, 0);
  if (!infer(x, sg, id, &want, i)) return 0;
  x->map[i] = id;
  return 1;
}

/* A causal linear attention: one recurrent step from the state, and the next state. */
static int step_linattn(Dx *x, int sg, int i, StepIo *io, int *si) {
  const IrNode *nd = N(x, i);
  LinAttn la;
  char err[256];
  ir_linattn_read(nd, &la, err, sizeof err);
  int ops[16], nops = 0;
  for (int k = 0; k < nd->nin && k < 15; k++) ops[nops++] = get(x, sg, nd->in[k]);
  ops[nops] = io->state_in[*si];
  IrGraph *g = &x->p->graphs.v[sg];
  int id = ir_node_add(x->p, g, OP_LINEAR_ATTENTION, nops + 1, ops);
  IrNode *o = G(x, sg, id);
  memcpy(o->attr, nd->attr, sizeof(AttrVal) * (size_t)op_info(nd->op)->nattrs);
  ir_set_enum(o, "lower", "recurrent"); /* one query from a state (lower_attn's choice too) */
  IrType want = map_type(x, nd->type, 0);
  if (!infer(x, sg, id, &want, i)) return 0;
  int st = ir_node_add(x->p, g, OP_LINEAR_ATTENTION_STATE, nops, ops + 1); /* without q */
  IrNode *s = G(x, sg, st);
  static const char *const shared[] = {"feature", "gate", "norm", "chunk"};
  for (int k = 0; k < 4; k++) copy_attr(s, nd, shared[k]);
  ir_set_enum(s, "lower", "recurrent");
  if (!infer(x, sg, st, &x->p->graphs.v[sg].nodes.v[io->state_in[*si]].type, i)) return 0;
  io->state_new[(*si)++] = st;
  x->map[i] = id;
  return 1;
}

/* Target-side node i of the step graph: its counterpart with the position axis of length 1
 * (x->map[i]). 1, or 0 with an error. */
static int step_node(Dx *x, int sg, int i, StepIo *io, int *si) {
  const IrNode *nd = N(x, i);
  IrType want = map_type(x, nd->type, 0);
  if (nd->op == OP_SOFTMAX_ATTENTION && x->side[nd->in[1]]) return step_attention(x, sg, i, io);
  if (nd->op == OP_LINEAR_ATTENTION && x->side[nd->in[1]]) return step_linattn(x, sg, i, io, si);
  int in[64];
  if (nd->nin > 64) return refuse(x, i, "too many operands");
  for (int k = 0; k < nd->nin; k++) in[k] = get(x, sg, nd->in[k]);
  int id = copy_node(x, sg, i, in, nd->nin);
  G(x, sg, id)->type = want;
  if (!infer(x, sg, id, &want, i)) return 0;
  if (nd->op == OP_IOTA && ir_get_i(nd, "axis") == x->ax[i]) { /* positions: iota + pos */
    int off = io->pos;
    if (want.dt != DT_I32) {
      IrType ft = {want.dt, 0, {{0}}};
      off = new_node(x, sg, OP_CAST, io->pos, -1, NULL);
      ir_set_enum(G(x, sg, off), "to", dtype_name(want.dt));
      if (!infer(x, sg, off, &ft, i)) return 0;
    }
    id = new_node(x, sg, OP_ADD, id, off, NULL);
    if (!infer(x, sg, id, &want, i)) return 0;
  }
  x->map[i] = id;
  return 1;
}

static int build_step(Dx *x, int sg) {
  StepIo *io = calloc(1, sizeof *io);
  if (!io) return diag_plain(x->d, "out of memory"), 0;
  int si = 0, ok = step_inputs(x, sg, io);
  for (int i = 0; ok && i < x->n; i++)
    if (x->need[i] && x->map[i] < 0) ok = step_node(x, sg, i, io, &si);
  if (ok) {
    const IrType *lt = &G(x, sg, x->map[x->logits])->type;
    IrType flat = {lt->dt, 2, {lt->d[0], lt->d[2]}};
    int out = new_node(x, sg, OP_RESHAPE, x->map[x->logits], -1, &flat);
    ok = infer(x, sg, out, &flat, x->logits);
    IrGraph *g = &x->p->graphs.v[sg];
    ir_output_add(x->p, g, "logits", out);
    for (int k = 0; k < io->ncache; k++) ir_output_add(x->p, g, name_of(x, "cache", k), io->cache_new[k]);
    for (int k = 0; k < si; k++) ir_output_add(x->p, g, name_of(x, "state", k), io->state_new[k]);
    pass_update_used_by(x->p, sg);
  }
  free(io);
  return ok;
}

/* ---- the pass ------------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int find_graph(const IrProgram *p, const IrGraph *g, const char *suffix) {
  for (int k = 0; k < p->graphs.n; k++) {
    const IrGraph *h = &p->graphs.v[k];
    size_t n = strlen(g->task);
    if (h->nargs != g->nargs || strncmp(h->task, g->task, n) != 0 || strcmp(h->task + n, suffix) != 0) continue;
    int same = 1;
    for (int a = 0; a < g->nargs; a++) same &= strcmp(h->args[a], g->args[a]) == 0;
    if (same) return k;
  }
  return -1;
}

int pass_decode_graphs(const IrProgram *p, int graph, int *encode, int *step) {
  const IrGraph *g = &p->graphs.v[graph];
  *encode = find_graph(p, g, DECODE_ENCODE_SUFFIX);
  *step = find_graph(p, g, DECODE_STEP_SUFFIX);
  return *encode >= 0 && *step >= 0;
}

/* A symbol for the cached length that no graph but the step graphs uses. */
static int32_t past_symbol(IrProgram *p) {
  for (int k = 0;; k++) {
    const char *name = k ? arena_printf(p->arena, "P%d", k) : "P";
    int used = 0;
    for (int s = 0; s < p->syms.n; s++)
      if (strcmp(p->syms.v[s], name) == 0)
        for (int gi = 0; gi < p->graphs.n && !used; gi++)
          for (int i = 0; !ends_with(p->graphs.v[gi].task, DECODE_STEP_SUFFIX) && i < p->graphs.v[gi].nodes.n && !used; i++)
            used = mentions(&p->graphs.v[gi].nodes.v[i].type, s);
    if (!used) return ir_sym(p, name);
  }
}

int pass_decode(IrProgram *p, int graph, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  int enc, step;
  if (ends_with(g->task, DECODE_ENCODE_SUFFIX) || ends_with(g->task, DECODE_STEP_SUFFIX) ||
      pass_decode_graphs(p, graph, &enc, &step))
    return 1;
  Dx x = {.p = p, .graph = graph, .n = g->nodes.n, .d = d, .gname = ir_graph_name(p, g), .tgt = -1, .logits = -1};
  while (x.ninputs < x.n && g->nodes.v[x.ninputs].op == OP_INPUT) x.ninputs++;
  size_t n = (size_t)x.n + 1;
  x.side = calloc(n, 1);
  x.need = calloc(n, 1);
  x.encv = calloc(n, 1);
  x.ax = calloc(n, sizeof(int));
  x.map = calloc(n, sizeof(int));
  x.cache_of = malloc(n * sizeof(int));
  char *scratch = calloc(n, 1);
  char *volatile hold[] = {x.side, x.need, x.encv, (char *)x.ax, (char *)x.map, (char *)x.cache_of, scratch};
  jmp_buf oom, *saved = p->arena->oom;
  if (setjmp(oom)) {
    for (int k = 0; k < COUNT_OF(hold); k++) free(hold[k]);
    arena_rethrow(p->arena, saved);
    diag_plain(d, "out of memory in the decode pass");
    return 0;
  }
  p->arena->oom = &oom;
  int ok = x.side && x.need && x.encv && x.ax && x.map && x.cache_of && scratch;
  for (int i = 0; ok && i < x.n; i++) x.cache_of[i] = -1;
  if (!ok) diag_plain(d, "out of memory");
  ok = ok && find_target(&x) && find_logits(&x, scratch) && analyse(&x);
  if (ok) {
    x.psym = past_symbol(p);
    const char *base = g->task;
    char *et = arena_printf(p->arena, "%s%s", base, DECODE_ENCODE_SUFFIX);
    char *st = arena_printf(p->arena, "%s%s", base, DECODE_STEP_SUFFIX);
    int nargs = g->nargs;
    const char *const *args = g->args;
    enc = ir_graph_add(p, et, nargs, args); /* p->graphs may move: g is stale from here */
    step = ir_graph_add(p, st, nargs, args);
    ok = build_encoder(&x, enc, scratch);
    for (int i = 0; i < x.n; i++) x.map[i] = -1;
    ok = ok && build_step(&x, step);
    IrGraph *orig = &p->graphs.v[graph];
    int has = 0;
    for (int o = 0; o < orig->outputs.n; o++) has |= strcmp(orig->outputs.v[o].name, "logits") == 0;
    if (ok && !has) ir_output_add(p, orig, "logits", x.logits);
  }
  p->arena->oom = saved;
  for (int k = 0; k < COUNT_OF(hold); k++) free(hold[k]);
  return ok;
}
