/* simplify.c — rewrites one task graph into a smaller one computing the same outputs.
 *
 * One sweep in node order; each node, with its operands already replaced by their
 * representatives, goes through:
 *   1. identities    x*1, 1*x, x/1, x+0, 0+x, x-0 -> x  (when the result has x's type: a
 *                    broadcast that grows x is kept); neg(neg x) -> x;
 *                    reshape(reshape x) -> reshape x, and -> x when the types agree;
 *                    transpose(transpose x) -> one transpose with the composed permutation,
 *                    and -> x when it is the identity; cast to x's own dtype, expand to x's
 *                    own type -> x; matmul of a transpose that swaps just the last two axes
 *                    -> matmul of its operand with that side's flag (ta, tb) flipped (the
 *                    transpose dies: a tied output projection `y @ E^T` copies no E);
 *                    a sum of pads along one axis whose slices tile it (the gradient of a
 *                    value read as pieces: `kv[..., :d]`, `kv[..., d:]`) -> concat of the
 *                    pieces (no zeros written, no sum)
 *   2. folding       an elementwise op whose operands are all `const` (of any shape: every
 *                    element is the same value) becomes a `const` of its type, computed in
 *                    f64 exactly as the interpreter does (results f32/f64 only; no dropout).
 *                    Intermediate values are not rounded to f32, so an f32 run may differ
 *                    from the unfolded graph by the rounding of folded values only
 *   3. CSE           a node equal to an earlier one (same op, operands, attributes, type; for
 *                    `param`, the same module and parameter) is replaced by it. Inputs and
 *                    collectives are never merged.
 * then dead-code elimination keeps the inputs and what the outputs need, and the graph is
 * rebuilt (pass_rebuild_graph: order kept, references remapped, used_by updated). When
 * anything changed, fusion groups are dropped (a merged or removed member would break them).
 */
#include "simplify.h"

#include <math.h>
#include <stdlib.h>

#include "pipeline.h"

typedef struct Sx {
  IrProgram *p;
  IrGraph *g;
  int *rep;      /* node -> the node standing for it */
  int *tab;      /* CSE: open addressing over node indices, -1 empty */
  size_t cap;
  int changed;
} Sx;

static IrNode *N(Sx *s, int id) { return &s->g->nodes.v[id]; }

static int is_const(Sx *s, int id, double v) { return N(s, id)->op == OP_CONST && ir_get_f(N(s, id), "value") == v; }

/* The node's operand array, copied before the first change (it might be shared). */
static void set_operand(Sx *s, int id, int k, int v) {
  IrNode *x = N(s, id);
  if (x->in[k] == v) return;
  int *in = ARENA_ARRAY(s->p->arena, int, x->nin);
  memcpy(in, x->in, sizeof(int) * (size_t)x->nin);
  in[k] = v;
  x->in = in;
  s->changed = 1;
}

/* ---- 1. identities ------------------------------------------------------------------------ */

/* perm is the identity but for the last two axes, swapped */
static int swaps_last_two(const AttrVal *perm) {
  int r = perm ? perm->n : 0;
  if (r < 2 || perm->ints[r - 1] != r - 2 || perm->ints[r - 2] != r - 1) return 0;
  for (int i = 0; i < r - 2; i++)
    if (perm->ints[i] != i) return 0;
  return 1;
}

/* [start, end) of pad node v along its axis, resolved against the constant length L; 0 when
 * it is not a pad with step 1 and operands of the result's type outside the axis */
static int pad_range(Sx *s, int v, const IrType *t, int axis, int64_t L, int64_t *lo, int64_t *hi) {
  const IrNode *x = N(s, v);
  if (x->op != OP_PAD || !type_eq(&x->type, t) || ir_get_i(x, "step") != 1) return 0;
  int64_t a = ir_get_i(x, "axis");
  if ((a < 0 ? a + t->rank : a) != axis) return 0;
  const AttrVal *end = ir_get(x, "end");
  int64_t st = ir_get_i(x, "start");
  *lo = st < 0 ? st + L : st;
  *hi = end->set ? (end->i < 0 ? end->i + L : end->i) : L;
  return 1;
}

/* The pads a sum of node id is made of (through adds of its own type), appended to leaves[]
 * after the n already there; the new count, or -1 when a term is something else or there are
 * more than `max` */
static int pad_terms(Sx *s, int id, const IrType *t, int *leaves, int n, int max) {
  const IrNode *x = N(s, id);
  if (x->op == OP_PAD) return n < max ? (leaves[n] = id, n + 1) : -1;
  if (x->op != OP_ADD || !type_eq(&x->type, t)) return -1;
  for (int k = 0; k < 2 && n >= 0; k++) n = pad_terms(s, x->in[k], t, leaves, n, max);
  return n;
}

/* add node id as a concat of the pads' operands, when the pads' slices tile one constant axis */
static void pads_to_concat(Sx *s, int id) {
  IrNode *x = N(s, id);
  int leaves[8], order[8], n = 0;
  for (int k = 0; k < 2 && n >= 0; k++) n = pad_terms(s, x->in[k], &x->type, leaves, n, 8);
  if (n < 2) return;
  int64_t a = ir_get_i(N(s, leaves[0]), "axis");
  int axis = (int)(a < 0 ? a + x->type.rank : a);
  if (axis < 0 || axis >= x->type.rank || !dim_is_const(x->type.d[axis])) return;
  int64_t L = x->type.d[axis].add, lo[8], hi[8], at = 0;
  for (int k = 0; k < n; k++)
    if (!pad_range(s, leaves[k], &x->type, axis, L, &lo[k], &hi[k])) return;
  for (int c = 0; c < n; c++) { /* the piece starting at `at`, each in turn */
    int f = -1;
    for (int k = 0; k < n; k++)
      if (lo[k] == at && hi[k] > lo[k]) f = k;
    if (f < 0) return;
    order[c] = N(s, leaves[f])->in[0];
    at = hi[f];
  }
  if (at != L) return;
  int *in = ARENA_ARRAY(s->p->arena, int, n);
  memcpy(in, order, sizeof(int) * (size_t)n);
  x->op = OP_CONCAT;
  x->nin = n;
  x->in = in;
  x->attr = ARENA_ARRAY(s->p->arena, AttrVal, op_info(OP_CONCAT)->nattrs);
  ir_set_i(x, "axis", axis);
  s->changed = 1;
}

/* The operand that node id reduces to, or -1. May rewrite the node in place (sets changed). */
static int identity(Sx *s, int id) {
  IrNode *x = N(s, id);
  int a = x->nin > 0 ? x->in[0] : -1, b = x->nin > 1 ? x->in[1] : -1;
#define SAME(v) (type_eq(&x->type, &N(s, v)->type))
  switch (x->op) {
  case OP_MUL:
    if (is_const(s, b, 1) && SAME(a)) return a;
    if (is_const(s, a, 1) && SAME(b)) return b;
    return -1;
  case OP_ADD:
    if (is_const(s, b, 0) && SAME(a)) return a;
    if (is_const(s, a, 0) && SAME(b)) return b;
    pads_to_concat(s, id);
    return -1;
  case OP_SUB: return is_const(s, b, 0) && SAME(a) ? a : -1;
  case OP_DIV: return is_const(s, b, 1) && SAME(a) ? a : -1;
  case OP_NEG: return N(s, a)->op == OP_NEG && SAME(N(s, a)->in[0]) ? N(s, a)->in[0] : -1;
  case OP_CAST:
  case OP_EXPAND: return SAME(a) ? a : -1;
  case OP_RESHAPE:
    if (N(s, a)->op == OP_RESHAPE) set_operand(s, id, 0, a = N(s, a)->in[0]);
    return SAME(a) ? a : -1;
  case OP_TRANSPOSE: {
    const AttrVal *po = ir_get(x, "perm");
    if (N(s, a)->op == OP_TRANSPOSE) {
      const AttrVal *pi = ir_get(N(s, a), "perm");
      int64_t c[IR_MAX_RANK];
      if (pi->n != po->n || po->n > IR_MAX_RANK) return -1;
      for (int i = 0; i < po->n; i++) c[i] = pi->ints[po->ints[i]];
      ir_set_ints(s->p, x, "perm", c, po->n);
      set_operand(s, id, 0, a = N(s, a)->in[0]);
      po = ir_get(x, "perm");
    }
    for (int i = 0; i < po->n; i++)
      if (po->ints[i] != i) return -1;
    return SAME(a) ? a : -1;
  }
  case OP_MATMUL:
    for (int k = 0; k < 2; k++) {
      const IrNode *t = N(s, x->in[k]);
      if (t->op != OP_TRANSPOSE || !swaps_last_two(ir_get(t, "perm"))) continue;
      const char *flag = k ? "tb" : "ta";
      ir_set_i(x, flag, !ir_get_i(x, flag));
      set_operand(s, id, k, t->in[0]);
    }
    return -1;
  default: return -1;
  }
#undef SAME
}

/* ---- 2. folding ----------------------------------------------------------------------------- *
 * The scalar functions are the interpreter's (runtime/interp/ew.c), expression for expression,
 * so a folded f64 value is bit-identical to what the interpreter computes. */

static double f_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

static int fold_value(Op op, const double *v, double *out) {
  double x = v[0], y = v[1];
  switch (op) {
  case OP_NEG: *out = -x; break;
  case OP_EXP: *out = exp(x); break;
  case OP_LOG: *out = log(x); break;
  case OP_SQRT: *out = sqrt(x); break;
  case OP_RSQRT: *out = 1.0 / sqrt(x); break;
  case OP_RECIP: *out = 1.0 / x; break;
  case OP_ABS: *out = fabs(x); break;
  case OP_SQUARE: *out = x * x; break;
  case OP_TANH: *out = tanh(x); break;
  case OP_SIGMOID: *out = f_sigmoid(x); break;
  case OP_RELU: *out = x > 0 ? x : (isnan(x) ? x : 0.0); break;
  case OP_GELU: *out = 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x))); break;
  case OP_SILU: *out = x * f_sigmoid(x); break;
  case OP_SIN: *out = sin(x); break;
  case OP_COS: *out = cos(x); break;
  case OP_CAST: *out = x; break;
  case OP_ADD: *out = x + y; break;
  case OP_SUB: *out = x - y; break;
  case OP_MUL: *out = x * y; break;
  case OP_DIV: *out = x / y; break;
  case OP_POW: *out = pow(x, y); break;
  case OP_MAXIMUM: *out = isnan(x) || isnan(y) ? NAN : (x > y ? x : y); break;
  case OP_MINIMUM: *out = isnan(x) || isnan(y) ? NAN : (x < y ? x : y); break;
  case OP_EQ: *out = x == y; break;
  case OP_NE: *out = x != y; break;
  case OP_LT: *out = x < y; break;
  case OP_LE: *out = x <= y; break;
  case OP_WHERE: *out = x != 0 ? y : v[2]; break;
  default: return 0;
  }
  return 1;
}

/* Turns node id into `const {value}` of its type when its operands are all constants. */
static void fold(Sx *s, int id) {
  IrNode *x = N(s, id);
  if (!(op_info(x->op)->flags & F_EW) || x->op == OP_DROPOUT || x->nin > 3) return;
  if (x->type.dt != DT_F32 && x->type.dt != DT_F64) return;
  double v[3] = {0, 0, 0}, r;
  for (int k = 0; k < x->nin; k++) {
    if (N(s, x->in[k])->op != OP_CONST) return;
    v[k] = ir_get_f(N(s, x->in[k]), "value");
  }
  if (x->op == OP_POW && N(s, x->in[0])->type.dt == DT_I32) return; /* an interpreter error */
  if (!fold_value(x->op, v, &r)) return;
  x->op = OP_CONST;
  x->nin = 0;
  x->attr = ARENA_ARRAY(s->p->arena, AttrVal, op_info(OP_CONST)->nattrs);
  ir_set_f(x, "value", r);
  s->changed = 1;
}

/* ---- 3. CSE ----------------------------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211u; }

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) h = mix(h, c[i]);
  return h;
}

static uint64_t node_hash(const IrNode *x) {
  uint64_t h = mix(1469598103934665603u, (uint64_t)x->op);
  h = mix(mix(h, (uint64_t)x->type.dt), (uint64_t)x->type.rank);
  for (int i = 0; i < x->type.rank; i++) {
    Dim d = x->type.d[i];
    h = dim_is_const(d) ? mix(h, (uint64_t)d.add) : mix(mix(mix(h, (uint64_t)d.sym), (uint64_t)d.mul), (uint64_t)d.add);
  }
  for (int k = 0; k < x->nin; k++) h = mix(h, (uint64_t)x->in[k]);
  h = mix(mix(h, (uint64_t)x->module), (uint64_t)x->param);
  const OpInfo *oi = op_info(x->op);
  for (int k = 0; k < oi->nattrs; k++) {
    const AttrVal *a = &x->attr[k];
    switch (oi->attrs[k].kind) {
    case AK_FLOAT: h = hash_bytes(h, &a->f, sizeof a->f); break;
    case AK_INTS: h = hash_bytes(mix(h, (uint64_t)a->n), a->ints, sizeof(int64_t) * (size_t)(a->ints ? a->n : 0)); break;
    case AK_GROUP: h = a->s ? hash_bytes(h, a->s, strlen(a->s)) : h; break;
    default: h = mix(h, (uint64_t)a->i);
    }
  }
  return h;
}

static int attr_eq(const AttrSpec *sp, const AttrVal *a, const AttrVal *b) {
  if (sp->default_unset && a->set != b->set) return 0;
  switch (sp->kind) {
  case AK_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
  case AK_INTS:
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
      if (a->ints[i] != b->ints[i]) return 0;
    return 1;
  case AK_GROUP: return (!a->s && !b->s) || (a->s && b->s && strcmp(a->s, b->s) == 0);
  default: return a->i == b->i;
  }
}

static int node_eq(const IrNode *x, const IrNode *y) {
  if (x->op != y->op || x->nin != y->nin || !type_eq(&x->type, &y->type) || x->module != y->module ||
      x->param != y->param)
    return 0;
  for (int k = 0; k < x->nin; k++)
    if (x->in[k] != y->in[k]) return 0;
  const OpInfo *oi = op_info(x->op);
  for (int k = 0; k < oi->nattrs; k++)
    if (!attr_eq(&oi->attrs[k], &x->attr[k], &y->attr[k])) return 0;
  return 1;
}

/* An earlier node equal to id, or id itself (then recorded). */
static int cse(Sx *s, int id) {
  const IrNode *x = N(s, id);
  if (x->op == OP_INPUT || (op_info(x->op)->flags & F_COLL)) return id;
  size_t i = (size_t)node_hash(x) & (s->cap - 1);
  for (; s->tab[i] >= 0; i = (i + 1) & (s->cap - 1))
    if (node_eq(N(s, s->tab[i]), x)) return s->tab[i];
  s->tab[i] = id;
  return id;
}

/* ---- the pass ----------------------------------------------------------------------------------- */

int pass_simplify(IrProgram *p, int graph, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n;
  Sx s = {p, g, NULL, NULL, 16, 0};
  while (s.cap < 2 * (size_t)n) s.cap *= 2;
  s.rep = malloc(sizeof(int) * (size_t)(n + 1));
  s.tab = malloc(sizeof(int) * s.cap);
  char *live = calloc((size_t)n + 1, 1);
  if (!s.rep || !s.tab || !live) {
    free(s.rep);
    free(s.tab);
    free(live);
    diag_plain(d, "out of memory");
    return 0;
  }
  int *volatile rep = s.rep, *volatile tab = s.tab; /* for the handler */
  jmp_buf oom, *saved = p->arena->oom;
  if (setjmp(oom)) {
    free(rep);
    free(tab);
    free(live);
    arena_rethrow(p->arena, saved);
    diag_plain(d, "out of memory in simplify");
    return 0;
  }
  p->arena->oom = &oom;
  for (size_t i = 0; i < s.cap; i++) s.tab[i] = -1;
  for (int id = 0; id < n; id++) {
    for (int k = 0; k < N(&s, id)->nin; k++) set_operand(&s, id, k, s.rep[N(&s, id)->in[k]]);
    int r = N(&s, id)->op == OP_INPUT ? id : identity(&s, id); /* operands are final: one step */
    if (r < 0) {
      fold(&s, id);
      r = cse(&s, id);
    }
    s.rep[id] = r;
    if (r != id) s.changed = 1;
  }
  /* dead code: what the outputs need, and the inputs */
  for (int o = 0; o < g->outputs.n; o++) live[s.rep[g->outputs.v[o].node]] = 1;
  for (int id = n - 1; id >= 0; id--) {
    const IrNode *x = N(&s, id);
    if (x->op == OP_INPUT) live[id] = 1;
    if (!live[id] || s.rep[id] != id) {
      live[id] = 0;
      s.changed = 1;
      continue;
    }
    for (int k = 0; k < x->nin; k++) live[x->in[k]] = 1;
  }
  int ok = 1;
  if (s.changed) {
    for (int id = 0; id < n; id++) N(&s, id)->group = -1;
    ok = pass_rebuild_graph(p, graph, live, s.rep, NULL, d);
  }
  p->arena->oom = saved;
  free(s.rep);
  free(s.tab);
  free(live);
  return ok;
}
