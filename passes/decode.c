/* decode.c — the decode pass (letter D; contract in decode.h, design in docs/decoding.md):
 * splits a forward task graph at its target input into an encoder program and a one-step
 * decoder program with caches, so a decoder runs the encoder once per batch and then one
 * position at a time.
 *
 * Analysis (decode_check.c). The target input is the one named `tgt` (else the second input, else the only
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
#include "decode_internal.h"

#include <stdlib.h>

#include "linattn.h"
#include "pipeline.h"

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
  if (!ir_infer(x->p, g, id, err, sizeof err)) return decode_refuse(x, orig, "internal error in the step graph: %s", err);
  if (want && !type_eq(&g->nodes.v[id].type, want)) return decode_refuse(x, orig, "internal error: the step node's type differs");
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
    if (nin > 64) return decode_refuse(x, i, "too many operands");
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
    if (decode_is_shift(x, i)) x->map[i] = t;
  for (int i = 0, e = 0; i < x->n; i++)
    if (x->encv[i]) x->map[i] = add_input(x, sg, name_of(x, "enc", e++), N(x, i)->type);
  for (int i = 0; i < x->n; i++) {
    const IrNode *nd = N(x, i);
    if (!x->need[i] || (nd->op != OP_SOFTMAX_ATTENTION && nd->op != OP_LINEAR_ATTENTION) || !x->side[nd->in[1]])
      continue;
    if (io->ncache + 3 > 256 || io->nstate + 1 > 256) return decode_refuse(x, i, "too many attention layers");
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
    if (!dim_is_const(vt->d[3])) return decode_refuse(x, i, "the value width must be a constant");
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
  if (nd->nin > 64) return decode_refuse(x, i, "too many operands");
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
            used = decode_mentions(&p->graphs.v[gi].nodes.v[i].type, s);
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
  ok = ok && decode_analyse(&x, scratch);
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
