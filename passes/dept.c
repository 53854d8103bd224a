/* dept.c — DEPT at the program level (dept.h): which parameters are embedding tables, the
 * variant checked against the model, the TRIM rewrite of the training graphs, and the
 * memory / payload arithmetic of the paper's §B.4.
 *
 * The TRIM rewrite, on a graph reading the global table @embed[all].weight : f32[1000, 32]:
 *   before   %1 = param @embed[all].weight : f32[1000, 32]
 *            %2 = gather %1, %ids                      : f32[B, T, 32]
 *            %9 = matmul %8, %1 {tb}                   : f32[B, T, 1000]
 *   after    (..., %vocab_rows: i32[V_rows])
 *            %1 = param @embed[all].weight : f32[1000, 32]
 *            %2 = trim_gather %1, %vocab_rows          : f32[V_rows, 32]
 *            %3 = gather %2, %ids                      : f32[B, T, 32]
 *            %10 = matmul %9, %2 {tb}                  : f32[B, T, V_rows]
 */
#include "dept.h"

#include <stdlib.h>

#include "pipeline.h"

const char *dept_variant_name(DeptVariant v) {
  static const char *const names[] = {"none", "glob", "trim", "spec"};
  return v >= DEPT_NONE && v <= DEPT_SPEC ? names[v] : "?";
}

/* ---- tables ------------------------------------------------------------------------------------ */

static int table_read(const IrGraph *g, const IrNode *n, int m, int q) {
  if ((n->op != OP_GATHER && n->op != OP_TRIM_GATHER) || n->nin < 1) return 0;
  const IrNode *t = &g->nodes.v[n->in[0]];
  return t->op == OP_PARAM && t->module == m && t->param == q;
}

int dept_is_table(const IrProgram *p, int m, int q) {
  const IrModule *mod = &p->modules.v[m];
  for (int i = 0; i < mod->used_by.n; i++) {
    int gi = mod->used_by.v[i];
    if (gi < 0 || gi >= p->graphs.n) continue;
    const IrGraph *g = &p->graphs.v[gi];
    for (int k = 0; k < g->nodes.n; k++)
      if (table_read(g, &g->nodes.v[k], m, q)) return 1;
  }
  return 0;
}

int dept_is_trimmed(const IrProgram *p, int m, int q) {
  return p->modules.v[m].sync.kind != SYNC_LOCAL && dept_is_table(p, m, q);
}

/* ---- the variant against the model --------------------------------------------------------------- */

/* 1 if graph gi reads some embedding table (module tab marks the table modules). */
static int reads_table(const IrProgram *p, int gi, const char *tab) {
  for (int m = 0; m < p->modules.n; m++)
    if (tab[m])
      for (int i = 0; i < p->modules.v[m].used_by.n; i++)
        if (p->modules.v[m].used_by.v[i] == gi) return 1;
  return 0;
}

int dept_check(const IrProgram *p, DeptVariant v, SrcLoc where, Diag *d) {
  if (v == DEPT_NONE) return 1;
  const char *vn = dept_variant_name(v);
  char *tab = calloc((size_t)p->modules.n + 1, 1);
  if (!tab) return diag_plain(d, "out of memory"), 0;
  int ntab = 0, before = d->nerrors;
  for (int m = 0; m < p->modules.n; m++)
    for (int q = 0; q < p->modules.v[m].params.n && !tab[m]; q++) tab[m] = (char)dept_is_table(p, m, q);
  for (int m = 0; m < p->modules.n; m++) {
    if (!tab[m]) continue;
    ntab++;
    const IrModule *mod = &p->modules.v[m];
    int local = mod->sync.kind == SYNC_LOCAL;
    if (v == DEPT_SPEC && !local)
      diag_error(d, where,
                 "dept: spec keeps each source's embedding on its own ranks, but %s (an embedding table) is not "
                 "sync local (sync: {\"%s\": local})",
                 mod->name, mod->name);
    if (v != DEPT_SPEC && local)
      diag_error(d, where,
                 "dept: %s averages one global embedding, but %s (an embedding table) is sync local (that is "
                 "SPEC: dept: spec)",
                 vn, mod->name);
    if (v == DEPT_SPEC) continue;
    for (int gi = 0; gi < p->graphs.n; gi++) { /* one global table: every task reading a table reads it */
      int uses = 0;
      for (int i = 0; i < mod->used_by.n; i++) uses |= mod->used_by.v[i] == gi;
      if (!uses && reads_table(p, gi, tab)) {
        diag_error(d, where,
                   "dept: %s shares one global embedding among all sources, but task %s does not read %s (give "
                   "every source the same embedding instance, e.g. a grouped index {all: [...]}; docs/dept.md)",
                   vn, ir_graph_name((IrProgram *)p, &p->graphs.v[gi]), mod->name);
        break;
      }
    }
  }
  if (!ntab)
    diag_error(d, where, "dept: %s: the model has no embedding table (a parameter that a task reads with gather)", vn);
  free(tab);
  return d->nerrors == before;
}

/* ---- the TRIM rewrite ------------------------------------------------------------------------------- */

int dept_rows_input(const IrGraph *g) {
  for (int i = 0; i < g->nodes.n; i++)
    if (g->nodes.v[i].op == OP_INPUT && g->nodes.v[i].name && strcmp(g->nodes.v[i].name, DEPT_ROWS_INPUT) == 0)
      return i;
  return -1;
}

int pass_dept_trim(IrProgram *p, int graph, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  if (dept_rows_input(g) >= 0) return 1;
  int n0 = g->nodes.n, ninputs = 0, ntrim = 0;
  Dim V = dim_const(-1);
  int *trim_of = calloc((size_t)n0 + 1, sizeof(int)); /* per old node: its trim_gather, or -1 */
  if (!trim_of) return diag_plain(d, "out of memory"), 0;
  for (int i = 0; i < n0; i++) {
    const IrNode *n = &g->nodes.v[i];
    trim_of[i] = -1;
    ninputs += n->op == OP_INPUT;
    if (n->op != OP_PARAM || !dept_is_trimmed(p, n->module, n->param)) continue;
    if (n->type.rank < 1 || !dim_is_const(n->type.d[0])) {
      free(trim_of);
      diag_plain(d, "dept: trim: the table @%s.%s has no constant row count", p->modules.v[n->module].name, n->name);
      return 0;
    }
    if (ntrim++ && !dim_eq(V, n->type.d[0])) {
      free(trim_of);
      diag_plain(d, "dept: trim: task @%s reads tables of %lld and %lld rows; TRIM needs one global vocabulary",
                 ir_graph_name(p, g), (long long)V.add, (long long)n->type.d[0].add);
      return 0;
    }
    V = n->type.d[0];
  }
  if (!ntrim) {
    free(trim_of);
    return 1;
  }
  IrType rt = {DT_I32, 1, {dim_sym(ir_sym(p, DEPT_ROWS_SYMBOL))}};
  int rows = ir_input_add(p, g, DEPT_ROWS_INPUT, rt);
  char err[256];
  for (int i = 0; i < n0; i++) {
    if (g->nodes.v[i].op != OP_PARAM || !dept_is_trimmed(p, g->nodes.v[i].module, g->nodes.v[i].param)) continue;
    int t = ir_node_add(p, g, OP_TRIM_GATHER, 2, (int[]){i, rows});
    g->nodes.v[t].loc = g->nodes.v[i].loc;
    g->nodes.v[t].owner = g->nodes.v[i].owner;
    g->nodes.v[t].owner_path = g->nodes.v[i].owner_path;
    if (!ir_infer(p, g, t, err, sizeof err)) {
      free(trim_of);
      diag_plain(d, "internal error: dept trim on task @%s: %s", ir_graph_name(p, g), err);
      return 0;
    }
    trim_of[i] = t;
  }
  for (int k = 0; k < n0; k++) { /* every read of a trimmed table reads its trim_gather */
    IrNode *n = &g->nodes.v[k];
    for (int j = 0; j < n->nin; j++)
      if (trim_of[n->in[j]] >= 0) n->in[j] = trim_of[n->in[j]];
  }
  /* order: the old inputs, vocab_rows, then the old nodes with each trim right after its param */
  int n = g->nodes.n, k = 0;
  int *order = malloc(sizeof(int) * (size_t)n);
  char *keep = malloc((size_t)n);
  if (!order || !keep) {
    free(order), free(keep), free(trim_of);
    return diag_plain(d, "out of memory"), 0;
  }
  memset(keep, 1, (size_t)n);
  for (int i = 0; i < ninputs; i++) order[k++] = i;
  order[k++] = rows;
  for (int i = ninputs; i < n0; i++) {
    order[k++] = i;
    if (trim_of[i] >= 0) order[k++] = trim_of[i];
  }
  int ok = pass_rebuild_graph(p, graph, keep, NULL, order, d);
  free(order), free(keep), free(trim_of);
  /* the types after a table read change with it ([.., V] becomes [.., V_rows]) */
  g = &p->graphs.v[graph];
  for (int i = 0; ok && i < g->nodes.n; i++) {
    if (op_info(g->nodes.v[i].op)->flags & F_SOURCE) continue;
    if (!ir_infer(p, g, i, err, sizeof err)) {
      diag_plain(d, "dept: trim: task @%s: the model uses the table's row count where the local vocabulary "
                    "cannot replace it: %s", ir_graph_name(p, g), err);
      ok = 0;
    }
  }
  return ok;
}

/* ---- the arithmetic of §B.4 ------------------------------------------------------------------------- */

DeptCost dept_cost(DeptVariant v, const DeptCostIn *in) {
  DeptCost c;
  double pos = in->L * in->d, n = in->n_local > 0 ? in->n_local : 1;
  switch (v) {
  case DEPT_TRIM: /* the rows of V_k, sent both ways; positions like GLOB */
  case DEPT_SPEC: /* its own V_k table, never sent; its own positions too */
    c.emb = in->Vk * in->d;
    c.model = in->body + c.emb + pos;
    c.round = v == DEPT_TRIM ? c.model : in->body;
    break;
  default: /* STD, GLOB: the whole model */
    c.emb = in->V * in->d;
    c.model = in->body + c.emb + pos;
    c.round = c.model;
    break;
  }
  c.per_step = v == DEPT_NONE ? c.round : c.round / n;
  return c;
}
