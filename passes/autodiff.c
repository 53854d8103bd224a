/* autodiff.c — reverse-mode autodiff: appends the backward pass to a task graph.
 *
 * Transforms a graph returning `loss` into the same graph plus the nodes computing d loss /
 * d param, returned as outputs `grad.<module>.<param>` (see autodiff.h):
 *   1. mark the active nodes: float values that depend on a differentiated node (a trainable
 *      parameter) through differentiable ops (F_DIFF) or collectives;
 *   2. seed d loss / d loss = const 1 and sweep the original nodes in reverse topological
 *      order; for each active node holding a gradient its op's rule (passes/grad_*.c, the
 *      table below is generated from ops.def) emits nodes and accumulates (adds) the
 *      gradients of its operands. Comparisons, sources and i32 values absorb gradients;
 *      collectives pass them through unchanged (the comm pass inserts the real ones later);
 *   3. sum the gradients of every `param` node reading the same parameter and add the outputs.
 * A parameter the loss does not depend on gets no output (the optimizer sees it as zero).
 * An op flagged F_DIFF without a grad_<ID> rule does not link (by construction of the table).
 */
#include "grad.h"

#include <setjmp.h>
#include <stdlib.h>

typedef int (*GradRule)(GradCx *c, int node, int gy);

static const GradRule rules[OP_COUNT] = {
#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) [OP_##ID] = ((FLAGS) & F_DIFF) ? grad_##ID : NULL,
#include "ops.def"
};

/* ---- per-node state ------------------------------------------------------------------------ */

static void grow(GradCx *c) {
  int n = gx_graph(c)->nodes.n;
  while (c->grad.n < n) vec_push(c->p->arena, c->grad, -1);
  while (c->active.n < n) {
    int id = c->active.n;
    const IrNode *nd = &gx_graph(c)->nodes.v[id];
    int act = 0;
    if (dtype_is_float(nd->type.dt) && (op_info(nd->op)->flags & (F_DIFF | F_COLL)))
      for (int j = 0; j < nd->nin && !act; j++) act = nd->in[j] < id && c->active.v[nd->in[j]];
    vec_push(c->p->arena, c->active, (unsigned char)act);
  }
}

int gx_active(GradCx *c, int node) {
  grow(c);
  return node >= 0 && node < c->active.n && c->active.v[node];
}

void gx_acc(GradCx *c, int node, int g) {
  if (!gx_active(c, node)) return;
  IrType want = gx_ty(c, node), got = gx_ty(c, g);
  if (!type_eq(&want, &got)) {
    StrBuf b;
    sb_init(&b);
    ir_print_type(&b, c->p, &got);
    sb_puts(&b, " for ");
    ir_print_type(&b, c->p, &want);
    die("autodiff: the rule of %s (node %d) gave operand node %d a gradient of type %s",
        op_info(gx_graph(c)->nodes.v[c->cur].op)->name, c->cur, node, b.s ? b.s : "?");
  }
  int old = c->grad.v[node];
  c->grad.v[node] = old < 0 ? g : gx_add(c, old, g);
}

/* The label the printer gives node id: %name for inputs, else %N counting non-inputs. */
static void node_label(const IrGraph *g, int id, char *buf, size_t len) {
  const IrNode *n = &g->nodes.v[id];
  if (n->op == OP_INPUT) {
    snprintf(buf, len, "%%%s", n->name ? n->name : "?");
    return;
  }
  int k = 0;
  for (int i = 0; i < id; i++) k += g->nodes.v[i].op != OP_INPUT;
  snprintf(buf, len, "%%%d", k);
}

int gx_error(GradCx *c, const char *fmt, ...) {
  IrGraph *g = gx_graph(c);
  const IrNode *n = &g->nodes.v[c->cur];
  char label[64], msg[512];
  node_label(g, c->cur, label, sizeof label);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  diag_error(c->d, n->loc, "task @%s: %s: %s: %s", ir_graph_name(c->p, g), label, op_info(n->op)->name, msg);
  return 0;
}

/* ---- the sweep ------------------------------------------------------------------------------- */

/* Nodes from down to to (inclusive), latest first. */
static int sweep(GradCx *c, int from, int to) {
  for (int i = from; i >= to; i--) {
    grow(c);
    int gy = c->grad.v[i];
    if (gy < 0 || !c->active.v[i]) continue;
    const IrNode *n = &gx_graph(c)->nodes.v[i];
    int saved = c->cur;
    c->cur = i;
    int ok = 1;
    if (op_info(n->op)->flags & F_COLL)
      gx_acc(c, n->in[0], gy); /* identity here; the comm pass places the real collectives */
    else if (rules[n->op])
      ok = rules[n->op](c, i, gy);
    c->cur = saved;
    if (!ok) return 0;
  }
  return 1;
}

int gx_backprop(GradCx *c, int first, int out, int g) {
  grow(c);
  if (out < first || c->grad.v[out] >= 0) die("autodiff: bad recomputed subgraph %d..%d", first, out);
  if (!c->active.v[out]) return 1; /* nothing differentiable feeds it */
  c->grad.v[out] = g;
  return sweep(c, out, first);
}

/* Shared by both entry points: mark, seed, sweep. grads[i] for wrt[i]. */
static int run(GradCx *c, int out, int nwrt, const int *wrt, int *grads) {
  IrGraph *g = gx_graph(c);
  int n0 = g->nodes.n;
  for (int i = 0; i < n0; i++) {
    vec_push(c->p->arena, c->grad, -1);
    vec_push(c->p->arena, c->active, 0);
  }
  for (int i = 0; i < nwrt; i++)
    if (wrt[i] >= 0 && wrt[i] < n0 && dtype_is_float(g->nodes.v[wrt[i]].type.dt)) c->active.v[wrt[i]] = 1;
  for (int i = 0; i < n0; i++) {
    const IrNode *nd = &g->nodes.v[i];
    if (c->active.v[i] || !dtype_is_float(nd->type.dt) || !(op_info(nd->op)->flags & (F_DIFF | F_COLL))) continue;
    for (int j = 0; j < nd->nin; j++)
      if (nd->in[j] >= 0 && nd->in[j] < i && c->active.v[nd->in[j]]) c->active.v[i] = 1;
  }
  for (int i = 0; i < nwrt; i++) grads[i] = -1;
  if (!c->active.v[out]) return 1;
  c->cur = out;
  c->grad.v[out] = gx_const(c, 1.0, gx_ty(c, out).dt); /* d out / d out */
  if (!sweep(c, out, 0)) return 0;
  for (int i = 0; i < nwrt; i++) grads[i] = wrt[i] >= 0 && wrt[i] < n0 ? c->grad.v[wrt[i]] : -1;
  return 1;
}

static int check_out(IrProgram *p, int graph, int out, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  if (out < 0 || out >= g->nodes.n) {
    diag_error(d, (SrcLoc){0}, "task @%s: autodiff: no such node %d", ir_graph_name(p, g), out);
    return 0;
  }
  const IrType *t = &g->nodes.v[out].type;
  if (t->rank != 0 || !dtype_is_float(t->dt)) {
    StrBuf b;
    sb_init(&b);
    ir_print_type(&b, p, t);
    diag_error(d, g->nodes.v[out].loc, "task @%s: autodiff: the value to differentiate must be a float scalar, got %s",
               ir_graph_name(p, g), b.s ? b.s : "?");
    sb_free(&b);
    return 0;
  }
  return 1;
}

int pass_autodiff_wrt(IrProgram *p, int graph, int out, int nwrt, const int *wrt, int *grads, Diag *d) {
  if (graph < 0 || graph >= p->graphs.n) die("pass_autodiff_wrt: bad graph %d", graph);
  if (!check_out(p, graph, out, d)) return 0;
  GradCx c = {.p = p, .graph = graph, .d = d};
  int n0 = p->graphs.v[graph].nodes.n;
  if (run(&c, out, nwrt, wrt, grads)) return 1;
  p->graphs.v[graph].nodes.n = n0; /* as it was */
  return 0;
}

int pass_autodiff(IrProgram *p, int graph, Diag *d) {
  if (graph < 0 || graph >= p->graphs.n) die("pass_autodiff: bad graph %d", graph);
  IrGraph *g = &p->graphs.v[graph];
  int loss = -1;
  for (int i = 0; i < g->outputs.n; i++) {
    if (strcmp(g->outputs.v[i].name, "loss") == 0) loss = g->outputs.v[i].node;
    if (g->outputs.v[i].module >= 0 || strncmp(g->outputs.v[i].name, "grad.", 5) == 0) {
      diag_error(d, (SrcLoc){0}, "task @%s: autodiff: the graph already has gradient outputs (%s)",
                 ir_graph_name(p, g), g->outputs.v[i].name);
      return 0;
    }
  }
  if (loss < 0) {
    diag_error(d, (SrcLoc){0}, "task @%s: autodiff: the graph has no output 'loss'", ir_graph_name(p, g));
    return 0;
  }
  if (!check_out(p, graph, loss, d)) return 0;

  /* differentiate with respect to every param node of a trainable float parameter */
  int n0 = g->nodes.n, nwrt = 0;
  int *wrt = malloc(sizeof(int) * (size_t)(n0 + 1)), *grads = malloc(sizeof(int) * (size_t)(n0 + 1));
  if (!wrt || !grads) {
    free(wrt);
    free(grads);
    diag_plain(d, "out of memory in autodiff");
    return 0;
  }
  jmp_buf oom, *saved = p->arena->oom;
  if (setjmp(oom)) {
    free(wrt);
    free(grads);
    arena_rethrow(p->arena, saved);
    diag_plain(d, "out of memory in autodiff");
    return 0;
  }
  p->arena->oom = &oom;
  for (int i = 0; i < n0; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op == OP_PARAM && !p->modules.v[n->module].params.v[n->param].frozen && dtype_is_float(n->type.dt))
      wrt[nwrt++] = i;
  }
  GradCx c = {.p = p, .graph = graph, .d = d};
  if (!run(&c, loss, nwrt, wrt, grads)) {
    p->arena->oom = saved;
    free(wrt);
    free(grads);
    g->nodes.n = n0;
    return 0;
  }
  /* one output per parameter, in module-table order; several param nodes add up */
  for (int m = 0; m < p->modules.n; m++)
    for (int k = 0; k < p->modules.v[m].params.n; k++) {
      int sum = -1;
      for (int i = 0; i < nwrt; i++) {
        const IrNode *n = &gx_graph(&c)->nodes.v[wrt[i]];
        if (n->module != m || n->param != k || grads[i] < 0) continue;
        c.cur = wrt[i];
        sum = sum < 0 ? grads[i] : gx_add(&c, sum, grads[i]);
      }
      if (sum < 0) continue; /* the loss does not depend on it: no output (a zero gradient) */
      g = gx_graph(&c);
      const IrModule *mod = &p->modules.v[m];
      ir_output_add(p, g, arena_printf(p->arena, "grad.%s.%s", mod->name, mod->params.v[k].name), sum);
      g->outputs.v[g->outputs.n - 1].module = m;
      g->outputs.v[g->outputs.n - 1].param = k;
    }
  p->arena->oom = saved;
  free(wrt);
  free(grads);
  return 1;
}
