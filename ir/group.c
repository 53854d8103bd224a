/* group.c — the fusion-group rules of group.h: member roles, kinds, the anchor, outputs,
 * structure; ir_group_check tests a candidate set, ir_fusion_groups describes every group of
 * a graph for code generators. Read by ir/verify.c (every group must pass GROUP_FINAL) and
 * passes/fusion.c (groups grow under GROUP_TENTATIVE).
 */
#include "group.h"

#include <stdarg.h>
#include <stdlib.h>

#include "irtext.h"

struct IrGroupCx {
  const IrProgram *p;
  const IrGraph *g;
  int n;
  int *ustart, *users; /* consumers of node i: users[ustart[i] .. ustart[i+1]) */
  char *returned;      /* node is a graph output */
  int *pos;            /* scratch: 1 + position in the candidate set, 0 outside */
  int *parent;         /* scratch: union-find over positions */
  char *below;         /* scratch: by position, in a root's prologue (prologue_moves) */
};

const char *fusion_kind_name(FusionKind k) {
  static const char *names[] = {"elementwise", "row-reduction", "norm", "epilogue"};
  return (unsigned)k < COUNT_OF(names) ? names[k] : "?";
}

static int last_axis(int64_t axis, int rank) { return rank >= 1 && (axis == -1 || axis == rank - 1); }

FusionRole ir_fusion_role(const IrGraph *g, int id) {
  const IrNode *n = &g->nodes.v[id];
  unsigned fl = op_info(n->op)->flags;
  if (fl & F_EW) return FR_EW;
  switch (n->op) {
  case OP_CONST:
  case OP_IOTA: return FR_EW;
  case OP_REDUCE_SUM:
  case OP_REDUCE_MEAN:
  case OP_REDUCE_MAX: {
    const AttrVal *ax = ir_get(n, "axes");
    int rank = g->nodes.v[n->in[0]].type.rank;
    return ax->n == 1 && ax->ints && last_axis(ax->ints[0], rank) ? FR_REDUCE : FR_NONE;
  }
  case OP_SOFTMAX:
  case OP_LOG_SOFTMAX: return last_axis(ir_get_i(n, "axis"), n->type.rank) ? FR_NORM : FR_NONE;
  case OP_LAYERNORM:
  case OP_RMSNORM:
  case OP_LAYERNORM_GRAD:
  case OP_RMSNORM_GRAD: return FR_NORM;
  case OP_MATMUL: return FR_MATMUL;
  case OP_SLICE:
  case OP_PAD: return ir_get_i(n, "step") == 1 ? FR_MOVE : FR_NONE;
  case OP_CONCAT: return n->nin <= 8 ? FR_MOVE : FR_NONE;
  case OP_TRANSPOSE: return FR_MOVE;
  default: return FR_NONE;
  }
}

int ir_sibling_norms(const IrGraph *g, int a, int b) {
  return ir_fusion_role(g, a) == FR_NORM && ir_fusion_role(g, b) == FR_NORM && g->nodes.v[a].in[0] == g->nodes.v[b].in[0];
}

/* ---- context ------------------------------------------------------------------------------- */

IrGroupCx *ir_group_cx_new(const IrProgram *p, int graph) {
  const IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n, edges = 0;
  for (int i = 0; i < n; i++) edges += g->nodes.v[i].nin;
  IrGroupCx *cx = calloc(1, sizeof *cx);
  if (!cx) return NULL;
  cx->p = p;
  cx->g = g;
  cx->n = n;
  cx->ustart = calloc((size_t)n + 1, sizeof(int));
  cx->users = calloc((size_t)edges + 1, sizeof(int));
  cx->returned = calloc((size_t)n + 1, 1);
  cx->pos = calloc((size_t)n + 1, sizeof(int));
  cx->parent = calloc((size_t)n + 1, sizeof(int));
  cx->below = calloc((size_t)n + 1, 1);
  if (!cx->ustart || !cx->users || !cx->returned || !cx->pos || !cx->parent || !cx->below) {
    ir_group_cx_free(cx);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++) cx->ustart[g->nodes.v[i].in[k] + 1]++;
  for (int i = 0; i < n; i++) cx->ustart[i + 1] += cx->ustart[i];
  int *fill = cx->pos; /* borrowed, zero again afterwards */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++) {
      int o = g->nodes.v[i].in[k];
      cx->users[cx->ustart[o] + fill[o]++] = i;
    }
  memset(fill, 0, sizeof(int) * (size_t)n);
  for (int i = 0; i < g->outputs.n; i++)
    if (g->outputs.v[i].node >= 0 && g->outputs.v[i].node < n) cx->returned[g->outputs.v[i].node] = 1;
  return cx;
}

void ir_group_cx_free(IrGroupCx *cx) {
  if (!cx) return;
  free(cx->ustart);
  free(cx->users);
  free(cx->returned);
  free(cx->pos);
  free(cx->parent);
  free(cx->below);
  free(cx);
}

int ir_group_cx_nusers(const IrGroupCx *cx, int node) { return cx->ustart[node + 1] - cx->ustart[node]; }
const int *ir_group_cx_users(const IrGroupCx *cx, int node) { return cx->users + cx->ustart[node]; }
int ir_group_cx_returned(const IrGroupCx *cx, int node) { return cx->returned[node]; }

/* ---- shapes ---------------------------------------------------------------------------------- */

static int same_dims(const IrType *a, const IrType *b) {
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (!dim_eq(a->d[i], b->d[i])) return 0;
  return 1;
}

/* s broadcasts into a: right-aligned, each dim equal or 1, no extra dims. */
static int bcast_into(const IrType *s, const IrType *a) {
  if (s->rank > a->rank) return 0;
  int off = a->rank - s->rank;
  for (int i = 0; i < s->rank; i++)
    if (!dim_eq(s->d[i], a->d[off + i]) && !dim_eq(s->d[i], dim_const(1))) return 0;
  return 1;
}

/* NumPy broadcast of the dims of a and b into out (dtype of a); 0 if they do not broadcast. */
static int bcast2(const IrType *a, const IrType *b, IrType *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  IrType t = {.dt = a->dt, .rank = r};
  for (int i = 0; i < r; i++) {
    int ia = a->rank - r + i, ib = b->rank - r + i;
    Dim da = ia >= 0 ? a->d[ia] : dim_const(1), db = ib >= 0 ? b->d[ib] : dim_const(1);
    if (dim_eq(da, db) || dim_eq(db, dim_const(1)))
      t.d[i] = da;
    else if (dim_eq(da, dim_const(1)))
      t.d[i] = db;
    else
      return 0;
  }
  *out = t;
  return 1;
}

/* ---- checking a set ---------------------------------------------------------------------------- */

typedef struct Chk {
  IrGroupCx *cx;
  char *err;
  size_t errlen;
} Chk;

static int bad(Chk *c, const char *fmt, ...) MAMC_PRINTF(2, 3);
static int bad(Chk *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (c->err && c->errlen) vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  return 0;
}

static int num(const Chk *c, int id) { return irt_node_number(c->cx->g, id); }
static const char *opname(const Chk *c, int id) { return op_info(c->cx->g->nodes.v[id].op)->name; }

static int in_set(const IrGroupCx *cx, int id) { return id >= 0 && id < cx->n && cx->pos[id] > 0; }

static int is_output(const IrGroupCx *cx, int id) {
  if (cx->returned[id]) return 1;
  for (int u = cx->ustart[id]; u < cx->ustart[id + 1]; u++)
    if (!in_set(cx, cx->users[u])) return 1;
  return 0;
}

static int read_inside(const IrGroupCx *cx, int id) {
  for (int u = cx->ustart[id]; u < cx->ustart[id + 1]; u++)
    if (in_set(cx, cx->users[u])) return 1;
  return 0;
}

static int uf_find(int *parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

/* ---- windows: members below a slice, pad or concat ------------------------------------------------ */

typedef struct WView {       /* a member's axes -> anchor axes (-1: extent 1), and the axes */
  int map[IR_MAX_RANK];      /* inside a window (their extent is the operand's) */
  unsigned win;
} WView;

/* Does member id (and every member below it) fit the anchor under view v? *budget bounds
 * the walk (a member is visited once per distinct path of windows). */
static int fits(Chk *c, const FusionGroup *gi, int id, const WView *v, int *budget) {
  const IrGraph *g = c->cx->g;
  const IrNode *x = &g->nodes.v[id];
  if (--*budget < 0) return bad(c, "%%%d (%s): too many windows to check", num(c, id), opname(c, id));
  if (x->op == OP_DROPOUT && v->win) /* its draws are numbered by its own indices, not a window's */
    return bad(c, "%%%d (dropout) is read through a slice, pad or concat", num(c, id));
  for (int j = 0; j < x->type.rank; j++) {
    int w = v->win >> j & 1u, one = dim_eq(x->type.d[j], dim_const(1));
    if (!w && !one && (v->map[j] < 0 || !dim_eq(x->type.d[j], gi->anchor.d[v->map[j]])))
      return bad(c, "%%%d (%s) has a shape that does not fit the group's anchor (through its windows)", num(c, id),
                 opname(c, id));
  }
  int window = ir_fusion_role(g, id) == FR_MOVE && x->op != OP_TRANSPOSE;
  int axis = window ? (int)ir_get_i(x, "axis") : 0;
  if (axis < 0) axis += x->type.rank;
  for (int i = 0; i < x->nin; i++) {
    if (!in_set(c->cx, x->in[i])) continue;
    const IrType *ot = &g->nodes.v[x->in[i]].type;
    const AttrVal *perm = x->op == OP_TRANSPOSE ? ir_get(x, "perm") : NULL;
    WView ov = {{0}, 0};
    for (int j = 0; j < ot->rank; j++) { /* right-aligned (a move's operand has its rank) */
      int from = j + x->type.rank - ot->rank;
      for (int q = 0; perm && q < x->type.rank; q++) /* a transpose: operand axis perm[q] is q's */
        if (perm->ints[q] == j) from = q;
      ov.map[j] = v->map[from];
      if (v->win >> from & 1u) ov.win |= 1u << j;
    }
    if (window) ov.win |= 1u << axis;
    if (!fits(c, gi, x->in[i], &ov, budget)) return 0;
  }
  return 1;
}

/* Moves in a reduction or norm group: only in the root's prologue (below[k] marks the members
 * its row input is computed from, that input included), fitting the anchor through their
 * windows from the row input down. */
static int prologue_moves(Chk *c, const int *m, int n, const FusionGroup *gi, char *below) {
  IrGroupCx *cx = c->cx;
  const IrGraph *g = cx->g;
  if (gi->kind == FK_EPILOGUE)
    return bad(c, "a slice, pad, concat or transpose joins no epilogue group (%%%d is its matmul)", num(c, gi->root));
  int x = g->nodes.v[gi->root].in[0], *stack = cx->parent, top = 0; /* parent: free scratch here */
  if (in_set(cx, x)) { /* members reachable from x through operand edges; each pushed once */
    below[cx->pos[x] - 1] = 1;
    stack[top++] = x;
  }
  while (top > 0) {
    const IrNode *nd = &g->nodes.v[stack[--top]];
    for (int i = 0; i < nd->nin; i++) {
      int o = nd->in[i];
      if (!in_set(cx, o) || below[cx->pos[o] - 1]) continue;
      below[cx->pos[o] - 1] = 1;
      stack[top++] = o;
    }
  }
  for (int k = 0; k < n; k++)
    if (ir_fusion_role(g, m[k]) == FR_MOVE && !below[k])
      return bad(c, "%%%d (%s) is outside the prologue of %%%d (%s); a move in a %s group must be in it", num(c, m[k]),
                 opname(c, m[k]), num(c, gi->root), opname(c, gi->root), fusion_kind_name(gi->kind));
  WView v = {{0}, 0};
  for (int j = 0; j < gi->anchor.rank; j++) v.map[j] = j;
  int budget = 64 * n;
  return fits(c, gi, x, &v, &budget);
}

/* Member k of a root group with moves is checked by prologue_moves alone: it is in the
 * prologue and read inside only there (and by the root and its sibling norms, which read the
 * row input at the anchor's shape). */
static int prologue_only_member(const IrGroupCx *cx, const char *below, int k, int id) {
  if (!below[k]) return 0;
  for (int u = cx->ustart[id]; u < cx->ustart[id + 1]; u++) {
    int r = cx->users[u];
    FusionRole rr = ir_fusion_role(cx->g, r);
    if (in_set(cx, r) && !below[cx->pos[r] - 1] && rr != FR_NORM && rr != FR_REDUCE) return 0;
  }
  return 1;
}

static int has_moves(const IrGroupCx *cx, const int *m, int n) {
  for (int k = 0; k < n; k++)
    if (ir_fusion_role(cx->g, m[k]) == FR_MOVE) return 1;
  return 0;
}

/* Kind, root and anchor of the set (moves: it has FR_MOVE members); 0 (with err) when the roles
 * do not fit together. */
static int kind_and_anchor(Chk *c, const int *m, int n, int moves, FusionGroup *gi, char *below) {
  IrGroupCx *cx = c->cx;
  const IrGraph *g = cx->g;
  gi->root = -1;
  gi->kind = FK_ELEMENTWISE;
  for (int k = 0; k < n; k++) {
    FusionRole r = ir_fusion_role(g, m[k]);
    if (r == FR_NONE) return bad(c, "%%%d (%s) cannot be in a fusion group", num(c, m[k]), opname(c, m[k]));
    if (r != FR_REDUCE && r != FR_NORM && r != FR_MATMUL) continue;
    if (gi->root >= 0 && gi->kind == FK_NORM && ir_sibling_norms(g, m[k], gi->root)) continue;
    if (gi->root >= 0)
      return bad(c, "%%%d (%s) and %%%d (%s) are both roots; a group has at most one reduction, norm or matmul",
                 num(c, gi->root), opname(c, gi->root), num(c, m[k]), opname(c, m[k]));
    gi->root = m[k];
    gi->kind = r == FR_REDUCE ? FK_ROW_REDUCE : r == FR_NORM ? FK_NORM : FK_EPILOGUE;
  }
  if (gi->root >= 0) {
    const IrNode *rn = &g->nodes.v[gi->root];
    gi->anchor = gi->kind == FK_EPILOGUE ? rn->type : g->nodes.v[rn->in[0]].type;
    for (int q = 0; q < n; q++) { /* the root, and a NORM group's sibling norms */
      int id = m[q];
      if (id != gi->root && (gi->kind != FK_NORM || ir_fusion_role(g, id) != FR_NORM)) continue;
      const IrNode *nd = &g->nodes.v[id];
      for (int k = gi->kind == FK_EPILOGUE ? 0 : 1; k < nd->nin; k++)
        if (in_set(cx, nd->in[k]))
          return bad(c, "%%%d (%s) reads operand %d from inside its group; only %s", num(c, id), opname(c, id), k,
                     gi->kind == FK_EPILOGUE ? "outside values may feed a matmul" : "its first operand may");
    }
    if (gi->kind == FK_ROW_REDUCE && m[n - 1] != gi->root)
      return bad(c, "%%%d (%s) must be the last member of its group", num(c, gi->root), opname(c, gi->root));
    return moves ? prologue_moves(c, m, n, gi, below) : 1;
  }
  int first = -1;
  for (int k = 0; k < n; k++) {
    if (moves && read_inside(cx, m[k])) continue; /* with moves: the sinks */
    if (first < 0) {
      gi->anchor = g->nodes.v[m[k]].type;
      first = k;
    } else if (!bcast2(&gi->anchor, &g->nodes.v[m[k]].type, &gi->anchor)) {
      return bad(c, "%%%d (%s) does not broadcast with the other members' shapes", num(c, m[k]), opname(c, m[k]));
    }
  }
  if (first < 0) return bad(c, "the group has no member that no member reads");
  int budget = 64 * n;
  for (int k = 0; moves && k < n; k++) { /* every member through the windows above it */
    if (read_inside(cx, m[k])) continue;
    const IrType *t = &g->nodes.v[m[k]].type;
    WView v = {{0}, 0};
    for (int j = 0; j < t->rank; j++) v.map[j] = j + gi->anchor.rank - t->rank;
    if (!fits(c, gi, m[k], &v, &budget)) return 0;
  }
  return 1;
}

int ir_group_check(IrGroupCx *cx, const int *m, int n, int mode, FusionGroup *info, char *err, size_t errlen) {
  Chk c = {cx, err, errlen};
  const IrGraph *g = cx->g;
  FusionGroup gi = {.id = -1, .first = n > 0 ? m[0] : -1, .count = n};
  if (n < 1) return bad(&c, "a group needs a member");
  for (int k = 0; k < n; k++) {
    if (m[k] < 0 || m[k] >= cx->n || (k && m[k] <= m[k - 1])) return bad(&c, "members out of order");
    cx->pos[m[k]] = k + 1;
    cx->parent[k] = k;
  }
  char *below = cx->below;
  memset(below, 0, (size_t)n);
  int moves = has_moves(cx, m, n), ok = kind_and_anchor(&c, m, n, moves, &gi, below);
  for (int k = 0; k < n; k++) cx->parent[k] = k; /* prologue_moves' scratch */
  int useful = 0, first_out = -1;
  for (int k = 0; ok && k < n; k++) {
    int id = m[k];
    const IrNode *x = &g->nodes.v[id];
    FusionRole r = ir_fusion_role(g, id);
    int out = is_output(cx, id);
    useful |= (r == FR_EW && x->nin > 0) || r == FR_REDUCE || r == FR_NORM;
    for (int i = 0; i < x->nin; i++)
      if (in_set(cx, x->in[i])) {
        int a = uf_find(cx->parent, k), b = uf_find(cx->parent, cx->pos[x->in[i]] - 1);
        cx->parent[a] = b;
      }
    if (id != gi.root && gi.kind == FK_NORM && ir_sibling_norms(g, id, gi.root)) /* connected through its rows */
      cx->parent[uf_find(cx->parent, k)] = uf_find(cx->parent, cx->pos[gi.root] - 1);
    if (r == FR_EW && !(gi.root < 0 && moves) && !(gi.root >= 0 && prologue_only_member(cx, below, k, id)) &&
        !bcast_into(&x->type, &gi.anchor)) {
      ok = bad(&c, "%%%d (%s) has a shape that does not broadcast into the group's anchor", num(&c, id), opname(&c, id));
    } else if (id == gi.root && gi.kind == FK_EPILOGUE && mode == GROUP_FINAL && out) {
      ok = bad(&c, "%%%d (matmul) heads an epilogue group but is also read outside it", num(&c, id));
    } else if (id == gi.root && gi.kind == FK_ROW_REDUCE && read_inside(cx, id)) {
      ok = bad(&c, "%%%d (%s) is read inside its group; a reduction ends its group", num(&c, id), opname(&c, id));
    }
    if (!ok || !out || id == gi.root) continue;
    if (gi.kind == FK_ROW_REDUCE)
      ok = bad(&c, "%%%d (%s) is read outside its %s group; only the root %%%d may be", num(&c, id), opname(&c, id),
               fusion_kind_name(gi.kind), num(&c, gi.root));
    else if (!same_dims(&x->type, &gi.anchor))
      ok = bad(&c, "%%%d (%s) is read outside its group but does not have the anchor shape", num(&c, id),
               opname(&c, id));
    if (first_out < 0) first_out = id;
  }
  for (int k = 1; ok && k < n; k++)
    if (uf_find(cx->parent, k) != uf_find(cx->parent, 0))
      ok = bad(&c, "%%%d (%s) is not connected to %%%d", num(&c, m[k]), opname(&c, m[k]), num(&c, m[0]));
  if (ok && mode == GROUP_FINAL) {
    if (!useful) ok = bad(&c, "the group computes nothing: no elementwise op on operands, reduction or norm");
    for (int k = 1; ok && k < n; k++)
      if (m[k] != m[0] + k)
        ok = bad(&c, "members are not consecutive: %%%d is followed by %%%d", num(&c, m[k - 1]), num(&c, m[k]));
  }
  for (int k = 0; k < n; k++)
    if (m[k] >= 0 && m[k] < cx->n) cx->pos[m[k]] = 0;
  if (!ok) return 0;
  if (gi.root >= 0 && gi.kind != FK_EPILOGUE)
    gi.anchor.dt = g->nodes.v[gi.root].type.dt;
  else if (first_out >= 0)
    gi.anchor.dt = g->nodes.v[first_out].type.dt;
  if (info) *info = gi;
  return 1;
}

/* ---- describing a graph's groups ------------------------------------------------------------------- */

typedef struct Pair {
  int group, node;
} Pair;

static int pair_cmp(const void *a, const void *b) {
  const Pair *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  return (x->node > y->node) - (x->node < y->node);
}

static int first_cmp(const void *a, const void *b) {
  const FusionGroup *x = a, *y = b;
  return (x->first > y->first) - (x->first < y->first);
}

/* Inputs and outputs of a checked group (members first .. first+count-1 marked in pos). */
static void group_io(IrGroupCx *cx, Arena *a, FusionGroup *gi, int *seen, int stamp) {
  const IrGraph *g = cx->g;
  int ni = 0, no = 0;
  for (int id = gi->first; id < gi->first + gi->count; id++) {
    ni += g->nodes.v[id].nin;
    no += is_output(cx, id);
  }
  gi->inputs = ARENA_ARRAY(a, int, ni > 0 ? ni : 1);
  gi->outputs = ARENA_ARRAY(a, int, no > 0 ? no : 1);
  gi->ninputs = gi->noutputs = 0;
  for (int id = gi->first; id < gi->first + gi->count; id++) {
    const IrNode *x = &g->nodes.v[id];
    for (int i = 0; i < x->nin; i++) {
      int o = x->in[i];
      if (in_set(cx, o) || seen[o] == stamp) continue;
      seen[o] = stamp;
      gi->inputs[gi->ninputs++] = o;
    }
    if (is_output(cx, id)) gi->outputs[gi->noutputs++] = id;
  }
}

/* The groups of g into out (scratch: pairs, members for np grouped nodes, seen, cx). */
static int collect(const IrGraph *g, Arena *a, FusionGroups *out, Pair *pairs, int *members, int *seen, IrGroupCx *cx,
                   int np, char *err, size_t errlen) {
  for (int i = 0, k = 0; i < g->nodes.n; i++)
    if (g->nodes.v[i].group >= 0) pairs[k++] = (Pair){g->nodes.v[i].group, i};
  qsort(pairs, (size_t)np, sizeof *pairs, pair_cmp);
  int ngroups = 0;
  for (int k = 0; k < np; k++) ngroups += k == 0 || pairs[k].group != pairs[k - 1].group;
  out->v = ARENA_ARRAY(a, FusionGroup, ngroups);
  for (int k = 0; k < np;) {
    int id = pairs[k].group, n = 0;
    while (k < np && pairs[k].group == id) members[n++] = pairs[k++].node;
    char why[400];
    FusionGroup *gi = &out->v[out->n];
    if (!ir_group_check(cx, members, n, GROUP_FINAL, gi, why, sizeof why)) {
      snprintf(err, errlen, "group %d: %s", id, why);
      return 0;
    }
    gi->id = id;
    for (int j = 0; j < n; j++) cx->pos[members[j]] = j + 1;
    group_io(cx, a, gi, seen, out->n + 1);
    for (int j = 0; j < n; j++) cx->pos[members[j]] = 0;
    out->n++;
  }
  qsort(out->v, (size_t)out->n, sizeof *out->v, first_cmp);
  return 1;
}

/* collect() with allocation failure in a caught: 1 ok, 0 an invalid group, -1 out of memory. */
static int collect_guarded(const IrGraph *g, Arena *a, FusionGroups *out, Pair *pairs, int *members, int *seen,
                           IrGroupCx *cx, int np, char *err, size_t errlen) {
  jmp_buf oom, *saved = a->oom;
  if (setjmp(oom)) {
    a->oom = saved;
    return -1;
  }
  a->oom = &oom;
  int ok = collect(g, a, out, pairs, members, seen, cx, np, err, errlen);
  a->oom = saved;
  return ok;
}

/* Number of nodes in a group; -1 (with a message) for an invalid group number. */
static int count_grouped(const IrGraph *g, char *err, size_t errlen) {
  int np = 0;
  for (int i = 0; i < g->nodes.n; i++) {
    if (g->nodes.v[i].group < -1) {
      snprintf(err, errlen, "%%%d: invalid group %d", irt_node_number(g, i), g->nodes.v[i].group);
      return -1;
    }
    np += g->nodes.v[i].group >= 0;
  }
  return np;
}

int ir_fusion_groups(const IrProgram *p, int graph, Arena *a, FusionGroups *out, char *err, size_t errlen) {
  const IrGraph *g = &p->graphs.v[graph];
  memset(out, 0, sizeof *out);
  const int np = count_grouped(g, err, errlen);
  if (np <= 0) return np == 0;
  Pair *pairs = malloc(sizeof(Pair) * (size_t)np);
  int *members = malloc(sizeof(int) * (size_t)np);
  int *seen = calloc((size_t)g->nodes.n, sizeof(int));
  IrGroupCx *cx = ir_group_cx_new(p, graph);
  int ok = pairs && members && seen && cx ? collect_guarded(g, a, out, pairs, members, seen, cx, np, err, errlen) : 0;
  if (!(pairs && members && seen && cx)) snprintf(err, errlen, "out of memory");
  free(pairs);
  free(members);
  free(seen);
  ir_group_cx_free(cx);
  if (ok != 1) memset(out, 0, sizeof *out);
  if (ok < 0) { /* allocation failure in a: the scratch is freed, pass it on */
    snprintf(err, errlen, "out of memory");
    arena_rethrow(a, a->oom);
  }
  return ok == 1;
}
