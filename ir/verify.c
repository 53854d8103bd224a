/* verify.c — ir_verify: the invariants every pass may assume and must keep. Program level:
 * symbols, module names, sync policies, parameter types and initializers, used_by and ranks
 * well formed. Graph level: names writable and unique, inputs first, SSA order, arity,
 * attributes (required ones set, flags 0/1, enum words, lists, groups), well-formed types,
 * every node's type equal to what its shape rule infers (re-run on a scratch copy, so the
 * program is never touched), param nodes against the module table, outputs unique, a
 * `loss` output scalar and float; fusion groups (IrNode.group) following the rules of
 * ir/group.h; and used_by against the graphs' actual reads, both ways.
 * Each problem is one error naming the graph and the node as printed:
 *   task @translate(en, fr): %12: matmul: inner dimensions differ: ...
 * at the node's source location when it has one (parsed IR, lowered .mam).
 */
#include "group.h"
#include "irtext.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

typedef struct Vx {
  const IrProgram *p;
  Diag *d;
  int graph; /* -1: program level */
} Vx;

static const char *gname(const IrProgram *p, int gi, char *buf, size_t n) {
  const IrGraph *g = &p->graphs.v[gi];
  size_t k = (size_t)snprintf(buf, n, "%s(", g->task ? g->task : "?");
  for (int i = 0; i < g->nargs && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", g->args[i] ? g->args[i] : "?");
  if (k < n) snprintf(buf + k, n - k, ")");
  return buf;
}

/* An error about graph v->graph, node `node` (-1: the graph itself), or the program. */
static void verr(Vx *v, int node, const char *fmt, ...) MAMC_PRINTF(3, 4);
static void verr(Vx *v, int node, const char *fmt, ...) {
  StrBuf b;
  sb_init(&b);
  SrcLoc loc = {0};
  if (v->graph >= 0) {
    char buf[256];
    const IrGraph *g = &v->p->graphs.v[v->graph];
    sb_printf(&b, "task @%s: ", gname(v->p, v->graph, buf, sizeof buf));
    if (node >= 0) {
      const IrNode *n = &g->nodes.v[node];
      if (n->op == OP_INPUT)
        sb_printf(&b, "%%%s: ", n->name ? n->name : "?");
      else
        sb_printf(&b, "%%%d: ", irt_node_number(g, node));
      loc = n->loc;
    }
  }
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  diag_error(v->d, loc, "%s", b.s ? b.s : "?");
  sb_free(&b);
}

/* The type's text, for messages (by value, so several fit in one call). */
typedef struct TT {
  char s[200];
} TT;
static TT tt(const IrProgram *p, const IrType *t) {
  TT r;
  StrBuf b;
  sb_init(&b);
  ir_print_type(&b, p, t);
  snprintf(r.s, sizeof r.s, "%s", b.s ? b.s : "?");
  sb_free(&b);
  return r;
}

/* NULL if t is well formed, else why not. */
static const char *type_problem(const IrProgram *p, const IrType *t) {
  if ((unsigned)t->dt >= DT_COUNT) return "has an invalid dtype";
  if (t->rank < 0 || t->rank > IR_MAX_RANK) return "has an invalid rank";
  for (int i = 0; i < t->rank; i++) {
    if (t->d[i].sym < -1 || t->d[i].sym >= p->syms.n) return "uses an undefined dimension symbol";
    if (dim_is_const(t->d[i]) && t->d[i].add < 0) return "has a negative dimension";
  }
  return NULL;
}

static int ident_ok(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return 0;
  return 1;
}

/* ---- program level ----------------------------------------------------------------------- */

static void check_params(Vx *v, const IrModule *m) {
  const IrProgram *p = v->p;
  for (int i = 0; i < m->params.n; i++) {
    const IrParam *q = &m->params.v[i];
    const char *why;
    if (!irt_name_ok(q->name)) {
      verr(v, -1, "module @%s: parameter #%d: name '%s' cannot be written in the IR text", m->name, i,
           q->name ? q->name : "");
      continue;
    }
    for (int j = 0; j < i; j++)
      if (m->params.v[j].name && strcmp(m->params.v[j].name, q->name) == 0)
        verr(v, -1, "module @%s: parameter '%s' is defined twice", m->name, q->name);
    if ((why = type_problem(p, &q->type))) {
      verr(v, -1, "module @%s: parameter '%s': its type %s", m->name, q->name, why);
      continue;
    }
    for (int k = 0; k < q->type.rank; k++)
      if (!dim_is_const(q->type.d[k]) || q->type.d[k].add < 1) {
        verr(v, -1, "module @%s: parameter '%s' needs constant positive dimensions, got %s", m->name, q->name,
             tt(p, &q->type).s);
        break;
      }
    const IrInit *in = &q->init;
    if ((unsigned)in->kind > INIT_DCT)
      verr(v, -1, "module @%s: parameter '%s' has an invalid initializer", m->name, q->name);
    else if (!isfinite(in->a) || !isfinite(in->b))
      verr(v, -1, "module @%s: parameter '%s': initializer arguments must be finite", m->name, q->name);
    else if (in->kind == INIT_NORMAL && in->b < 0)
      verr(v, -1, "module @%s: parameter '%s': normal() needs a non-negative std, got %g", m->name, q->name,
           in->b);
    else if (in->kind == INIT_XAVIER && in->b < 0)
      verr(v, -1, "module @%s: parameter '%s': xavier needs a positive gain, got %g", m->name, q->name, in->b);
    else if (in->kind == INIT_UNIFORM && in->a > in->b)
      verr(v, -1, "module @%s: parameter '%s': uniform(a, b) needs a <= b, got %g > %g", m->name, q->name,
           in->a, in->b);
  }
}

static void check_module(Vx *v, int mi) {
  const IrProgram *p = v->p;
  const IrModule *m = &p->modules.v[mi];
  if (!irt_name_ok(m->name)) {
    verr(v, -1, "module #%d: name '%s' cannot be written in the IR text", mi, m->name ? m->name : "");
    return;
  }
  for (int j = 0; j < mi; j++)
    if (p->modules.v[j].name && strcmp(p->modules.v[j].name, m->name) == 0)
      verr(v, -1, "module @%s is defined twice", m->name);
  const SyncPolicy *s = &m->sync;
  if ((unsigned)s->kind > SYNC_LOCAL)
    verr(v, -1, "module @%s: invalid sync policy", m->name);
  else if (s->kind != SYNC_LOCAL && s->every < 1)
    verr(v, -1, "module @%s: sync every %d: the step count must be at least 1", m->name, s->every);
  else if (s->kind == SYNC_OUTER && (!isfinite(s->lr) || s->lr <= 0))
    verr(v, -1, "module @%s: outer sync needs a positive learning rate, got %g", m->name, s->lr);
  else if (s->kind == SYNC_OUTER && !(s->momentum >= 0 && s->momentum < 1))
    verr(v, -1, "module @%s: outer sync needs a momentum in [0, 1), got %g", m->name, s->momentum);
  check_params(v, m);
  for (int i = 0; i < m->used_by.n; i++) {
    int gi = m->used_by.v[i];
    if (gi < 0 || gi >= p->graphs.n)
      verr(v, -1, "module @%s: used_by names graph #%d, but the program has %d graphs", m->name, gi,
           p->graphs.n);
    else if (i > 0 && gi <= m->used_by.v[i - 1])
      verr(v, -1, "module @%s: used_by must be ascending and without repeats", m->name);
  }
  for (int i = 0; i < m->ranks.n; i++) {
    if (m->ranks.v[i] < 0) verr(v, -1, "module @%s: negative rank %d", m->name, m->ranks.v[i]);
    for (int j = 0; j < i; j++)
      if (m->ranks.v[j] == m->ranks.v[i])
        verr(v, -1, "module @%s: rank %d is listed twice", m->name, m->ranks.v[i]);
  }
}

/* `@A.x.y` names parameter y of module A.x; it must not also name parameter x.y of module A
 * (the parser takes the longest module name, so the printer's text would change meaning). */
static void check_ambiguous(Vx *v) {
  const IrProgram *p = v->p;
  for (int i = 0; i < p->modules.n; i++) {
    const IrModule *a = &p->modules.v[i];
    size_t n = a->name ? strlen(a->name) : 0;
    for (int j = 0; n && j < p->modules.n; j++) {
      const IrModule *b = &p->modules.v[j];
      if (!b->name || strncmp(b->name, a->name, n) != 0 || b->name[n] != '.') continue;
      for (int k = 0; k < b->params.n; k++) {
        if (!b->params.v[k].name) continue;
        char full[512];
        size_t len = (size_t)snprintf(full, sizeof full, "%s.%s", b->name + n + 1, b->params.v[k].name);
        if (len < sizeof full && ir_param_find(p, i, full) >= 0)
          verr(v, -1, "module @%s: parameter '%s' would print as @%s.%s, which names module @%s's '%s'",
               a->name, full, a->name, full, b->name, b->params.v[k].name);
      }
    }
  }
}

/* ---- graph level ---------------------------------------------------------------------------- */

/* 1 if the attributes are valid (and the shape rule may read them). */
static int check_attrs(Vx *v, int id, const IrNode *n, const OpInfo *oi) {
  int ok = 1;
  for (int k = 0; k < oi->nattrs; k++) {
    const AttrSpec *s = &oi->attrs[k];
    const AttrVal *a = &n->attr[k];
    const char *why = NULL;
    if (!s->has_default && !a->set)
      why = "is required but not set";
    else if (s->kind == AK_FLAG && a->i != 0 && a->i != 1)
      why = "is a flag but not 0 or 1";
    else if (s->kind == AK_ENUM && (a->i < 0 || a->i >= s->nwords))
      why = "is not one of its words";
    else if (s->kind == AK_INTS && (a->n < 0 || (a->n > 0 && !a->ints)))
      why = "is a malformed list";
    else if (s->kind == AK_GROUP && a->set && !irt_name_ok(a->s))
      why = "names a group that cannot be written in the IR text";
    if (why) {
      verr(v, id, "%s: attribute '%s' %s", oi->name, s->name, why);
      ok = 0;
    }
  }
  return ok;
}

/* Structure of node id; 1 if its shape rule can be run. */
static int check_node(Vx *v, const IrGraph *g, int id, const char *bad) {
  const IrProgram *p = v->p;
  const IrNode *n = &g->nodes.v[id];
  const char *why;
  if ((unsigned)n->op >= OP_COUNT) {
    verr(v, id, "invalid op %d", (int)n->op);
    return 0;
  }
  const OpInfo *oi = op_info(n->op);
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in) || (n->nin > 0 && !n->in)) {
    if (oi->max_in < 0)
      verr(v, id, "%s takes at least %d operand%s, got %d", oi->name, oi->min_in, oi->min_in == 1 ? "" : "s",
           n->nin);
    else if (oi->min_in == oi->max_in)
      verr(v, id, "%s takes %d operand%s, got %d", oi->name, oi->min_in, oi->min_in == 1 ? "" : "s", n->nin);
    else
      verr(v, id, "%s takes %d to %d operands, got %d", oi->name, oi->min_in, oi->max_in, n->nin);
    return 0;
  }
  int ok = 1;
  for (int i = 0; i < n->nin; i++) {
    if (n->in[i] < 0 || n->in[i] >= id) {
      verr(v, id, "%s: operand %d is not defined before use (node index %d)", oi->name, i, n->in[i]);
      ok = 0;
    } else if (bad[n->in[i]]) {
      ok = 0; /* already reported */
    }
  }
  if (!check_attrs(v, id, n, oi)) ok = 0;
  if ((why = type_problem(p, &n->type))) {
    verr(v, id, "%s: its type %s", oi->name, why);
    ok = 0;
  }
  if (n->op == OP_INPUT && !irt_name_ok(n->name)) {
    verr(v, id, "input name '%s' cannot be written in the IR text", n->name ? n->name : "");
    ok = 0;
  }
  if (n->op == OP_PARAM) {
    if (n->module < 0 || n->module >= p->modules.n) {
      verr(v, id, "param refers to module #%d, but the program has %d module%s", n->module, p->modules.n,
           p->modules.n == 1 ? "" : "s");
      return 0;
    }
    const IrModule *m = &p->modules.v[n->module];
    if (n->param < 0 || n->param >= m->params.n) {
      verr(v, id, "param refers to parameter #%d of module @%s, which has %d", n->param, m->name,
           m->params.n);
      return 0;
    }
    const IrParam *q = &m->params.v[n->param];
    if (ok && !type_problem(p, &q->type) && !type_eq(&q->type, &n->type))
      verr(v, id, "param @%s.%s has type %s, but the module declares %s", m->name, q->name, tt(p, &n->type).s,
           tt(p, &q->type).s);
  }
  return ok;
}

static void check_outputs(Vx *v, const IrGraph *g) {
  for (int i = 0; i < g->outputs.n; i++) {
    const IrOutput *o = &g->outputs.v[i];
    if (!irt_name_ok(o->name)) {
      verr(v, -1, "output #%d: name '%s' cannot be written in the IR text", i, o->name ? o->name : "");
      continue;
    }
    int dup = 0;
    for (int j = 0; j < i && !dup; j++)
      dup = g->outputs.v[j].name && strcmp(g->outputs.v[j].name, o->name) == 0;
    if (dup) {
      verr(v, -1, "output '%s' is returned twice", o->name);
      continue;
    }
    if (o->node < 0 || o->node >= g->nodes.n) {
      verr(v, -1, "output '%s' refers to node index %d, but the graph has %d nodes", o->name, o->node,
           g->nodes.n);
      continue;
    }
    const IrType *t = &g->nodes.v[o->node].type;
    if (strcmp(o->name, "loss") == 0 && !type_problem(v->p, t) && (t->rank != 0 || !dtype_is_float(t->dt)))
      verr(v, o->node, "output 'loss' must be a float scalar, got %s", tt(v->p, t).s);
  }
}

/* Fusion groups (ir/group.h), once the graph itself is sound. */
static void check_groups(Vx *v, int gi) {
  Arena a;
  arena_init(&a);
  FusionGroups fg;
  char err[512];
  if (!ir_fusion_groups(v->p, gi, &a, &fg, err, sizeof err)) verr(v, -1, "%s", err);
  arena_free(&a);
}

static void check_graph(Vx *v, int gi) {
  const IrProgram *p = v->p;
  const IrGraph *g = &p->graphs.v[gi];
  char b1[256], b2[256];
  int errors_before = v->d->nerrors;
  v->graph = gi;
  int names_ok = irt_name_ok(g->task) && (g->nargs == 0 || g->args);
  for (int i = 0; names_ok && i < g->nargs; i++) names_ok = irt_name_ok(g->args[i]);
  if (!names_ok) verr(v, -1, "the task name or its arguments cannot be written in the IR text");
  for (int j = 0; j < gi; j++)
    if (strcmp(gname(p, j, b1, sizeof b1), gname(p, gi, b2, sizeof b2)) == 0)
      verr(v, -1, "task @%s is defined twice", b2);
  if (g->nodes.n == 0) {
    check_outputs(v, g);
    return;
  }
  IrNode *scratch = malloc(sizeof(IrNode) * (size_t)g->nodes.n);
  char *bad = calloc((size_t)g->nodes.n, 1);
  if (!scratch || !bad) {
    free(scratch);
    free(bad);
    verr(v, -1, "out of memory while verifying");
    return;
  }
  memcpy(scratch, g->nodes.v, sizeof(IrNode) * (size_t)g->nodes.n);
  IrGraph copy = *g;
  copy.nodes.v = scratch;
  int seen_other = 0;
  for (int id = 0; id < g->nodes.n; id++) {
    const IrNode *n = &g->nodes.v[id];
    if (n->op == OP_INPUT) {
      if (seen_other) verr(v, id, "input comes after other nodes; inputs come first, in signature order");
      for (int j = 0; j < id && n->name; j++)
        if (g->nodes.v[j].op == OP_INPUT && g->nodes.v[j].name && strcmp(g->nodes.v[j].name, n->name) == 0)
          verr(v, id, "input is declared twice");
    } else {
      seen_other = 1;
    }
    if (!check_node(v, g, id, bad)) {
      bad[id] = 1;
      continue;
    }
    char err[512];
    if (!ir_infer(p, &copy, id, err, sizeof err))
      verr(v, id, "%s", err);
    else if (!type_eq(&scratch[id].type, &n->type))
      verr(v, id, "type is %s, but the shape rule of %s gives %s", tt(p, &n->type).s, op_info(n->op)->name,
           tt(p, &scratch[id].type).s);
    scratch[id].type = n->type;
  }
  free(scratch);
  free(bad);
  check_outputs(v, g);
  if (v->d->nerrors == errors_before) check_groups(v, gi);
}

/* used_by both ways: a graph reads a module's parameter iff used_by lists the graph. */
static void check_used_by(Vx *v) {
  const IrProgram *p = v->p;
  if (p->modules.n == 0) return;
  int *first = malloc(sizeof(int) * (size_t)p->modules.n);
  if (!first) {
    verr(v, -1, "out of memory while verifying");
    return;
  }
  for (int gi = 0; gi < p->graphs.n; gi++) {
    const IrGraph *g = &p->graphs.v[gi];
    char buf[256];
    for (int m = 0; m < p->modules.n; m++) first[m] = -1;
    for (int id = g->nodes.n - 1; id >= 0; id--) {
      const IrNode *n = &g->nodes.v[id];
      if (n->op == OP_PARAM && n->module >= 0 && n->module < p->modules.n) first[n->module] = id;
    }
    for (int m = 0; m < p->modules.n; m++) {
      const IrModule *mod = &p->modules.v[m];
      int listed = 0;
      for (int i = 0; i < mod->used_by.n; i++) listed |= mod->used_by.v[i] == gi;
      v->graph = gi;
      if (first[m] >= 0 && !listed)
        verr(v, first[m], "reads @%s.%s, but module @%s's used_by does not list this task", mod->name,
             g->nodes.v[first[m]].name ? g->nodes.v[first[m]].name : "?", mod->name);
      v->graph = -1;
      if (first[m] < 0 && listed)
        verr(v, -1, "module @%s: used_by lists task @%s, which reads none of its parameters", mod->name,
             gname(p, gi, buf, sizeof buf));
    }
  }
  free(first);
}

int ir_verify(const IrProgram *p, Diag *d) {
  Vx v = {p, d, -1};
  int before = d->nerrors;
  for (int i = 0; i < p->syms.n; i++) {
    if (!ident_ok(p->syms.v[i]))
      verr(&v, -1, "dimension symbol #%d: name '%s' is not an identifier", i,
           p->syms.v[i] ? p->syms.v[i] : "");
    else
      for (int j = 0; j < i; j++)
        if (p->syms.v[j] && strcmp(p->syms.v[j], p->syms.v[i]) == 0)
          verr(&v, -1, "dimension symbol '%s' is declared twice", p->syms.v[i]);
  }
  for (int i = 0; i < p->modules.n; i++) check_module(&v, i);
  check_ambiguous(&v);
  for (int i = 0; i < p->graphs.n; i++) check_graph(&v, i);
  v.graph = -1;
  check_used_by(&v);
  return d->nerrors == before;
}
