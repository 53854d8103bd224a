/* comm.c — the communication-placement pass (comm.h): rewrites a task graph into the graph
 * one rank runs, with a collective slot for every gradient bucket the rank holds.
 *
 * Before (rank 0 of two, both holding @core; the graph trains it):
 *   %5 = ... gradient of core.w ...
 *   return grad.core.w = %5
 * after:
 *   task @t() (..., %tokens: f32[]) -> (..., grad.core.w: f32[4, 4], grad_norm_sq: f32[])
 *   %5 = ... gradient of core.w ...
 *   %6 = allreduce_start %5, %tokens {group = @ranks[0, 1], op = mean, weight = tokens, bucket = 0}
 *   ...the rest of the backward pass, overlapping the reduction...
 *   %9 = allreduce_done %6
 *   %10 = square %9 ... %12 = allreduce %11 {group = @world}
 *   return grad.core.w = %9
 *
 * Modules synchronised in outer rounds (DEPT) get no per-step collective but, at the end, an
 * outer_sync per parameter (returned as outer.<module>.<param>): what the round makes of it.
 *
 * New nodes are appended, each with the original node it must follow (its anchor), and one
 * pass_rebuild_graph puts them in place. The plan (buckets, groups, order) comes from
 * comm_plan_build, which reads only what every rank has (comm_plan.c).
 */
#include "comm.h"

#include <stdlib.h>

#include "pipeline.h"

typedef struct Cx {
  IrProgram *p;
  int graph, n0;
  int *anchor; /* per new node (index - n0): the original node it follows; n0 = the end */
  int nnew, cap;
  int oom;
} Cx;

static IrGraph *G(Cx *c) { return &c->p->graphs.v[c->graph]; }

static int add(Cx *c, Op op, int nin, const int *in, int anchor) {
  if (c->nnew == c->cap) {
    int ncap = c->cap ? 2 * c->cap : 64;
    int *na = realloc(c->anchor, sizeof(int) * (size_t)ncap);
    if (!na) {
      c->oom = 1;
      return -1;
    }
    c->anchor = na;
    c->cap = ncap;
  }
  int id = ir_node_add(c->p, G(c), op, nin, in);
  c->anchor[c->nnew++] = anchor;
  return id;
}

static int infer(Cx *c, int id, Diag *d) {
  char err[256];
  if (ir_infer(c->p, G(c), id, err, sizeof err)) return 1;
  diag_plain(d, "internal error: comm pass on task @%s: %s", ir_graph_name(c->p, G(c)), err);
  return 0;
}

static int zeros(Cx *c, IrType t, int anchor) {
  int id = add(c, OP_CONST, 0, NULL, anchor);
  if (id < 0) return -1;
  G(c)->nodes.v[id].type = t;
  ir_set_f(&G(c)->nodes.v[id], "value", 0);
  return id;
}

static int find_grad(const IrGraph *g, int m, int q) {
  for (int o = 0; o < g->outputs.n; o++)
    if (g->outputs.v[o].module == m && g->outputs.v[o].param == q) return o;
  return -1;
}

static int holds(const IrModule *m, int rank) {
  for (int i = 0; i < m->ranks.n; i++)
    if (m->ranks.v[i] == rank) return 1;
  return 0;
}

/* Non-gradient outputs first (in their order), then gradients by (module, param), then the
 * norm, then the rounds (outer.<module>.<param>, in the order they were added). */
static int out_key(const IrOutput *o) {
  if (strncmp(o->name, OUTER_PREFIX, strlen(OUTER_PREFIX)) == 0 && o->module < 0) return 3;
  return strcmp(o->name, "grad_norm_sq") == 0 ? 2 : o->module >= 0;
}
static void sort_outputs(IrGraph *g) {
  for (int i = 1; i < g->outputs.n; i++)
    for (int j = i; j > 0; j--) {
      IrOutput *a = &g->outputs.v[j - 1], *b = &g->outputs.v[j];
      int ka = out_key(a), kb = out_key(b);
      int swap = ka > kb || (ka == 1 && kb == 1 && (a->module > b->module || (a->module == b->module && a->param > b->param)));
      if (!swap) break;
      IrOutput t = *a;
      *a = *b;
      *b = t;
    }
}

/* The norm: Σ‖g‖² over the gradients this rank counts, summed over the world. */
static int add_norm(Cx *c, const CommPlan *pl, int rank, Diag *d) {
  int acc = -1, end = c->n0;
  for (int o = 0; o < G(c)->outputs.n; o++) {
    IrOutput out = G(c)->outputs.v[o];
    if (out.module < 0) continue;
    const CommModule *cm = &pl->modules[out.module];
    if (cm->kind == COMM_EVERY && pl->groups[cm->group].ranks[0] != rank) continue;
    int sq = add(c, OP_SQUARE, 1, &out.node, end);
    if (sq < 0 || !infer(c, sq, d)) return 0;
    int rank_ = G(c)->nodes.v[sq].type.rank;
    if (rank_ > 0) {
      int64_t axes[IR_MAX_RANK];
      for (int k = 0; k < rank_; k++) axes[k] = k;
      int r = add(c, OP_REDUCE_SUM, 1, &sq, end);
      if (r < 0) return 0;
      ir_set_ints(c->p, &G(c)->nodes.v[r], "axes", axes, rank_);
      if (!infer(c, r, d)) return 0;
      sq = r;
    }
    if (acc >= 0) {
      int in[2] = {acc, sq};
      sq = add(c, OP_ADD, 2, in, end);
      if (sq < 0 || !infer(c, sq, d)) return 0;
    }
    acc = sq;
  }
  if (acc < 0) {
    IrType scalar = {.dt = DT_F32, .rank = 0};
    acc = zeros(c, scalar, end);
    if (acc < 0) return 0;
  }
  int ar = add(c, OP_ALLREDUCE, 1, &acc, end);
  if (ar < 0) return 0;
  ir_set_group(c->p, &G(c)->nodes.v[ar], "group", "world");
  if (!infer(c, ar, d)) return 0;
  ir_output_add(c->p, G(c), "grad_norm_sq", ar);
  return 1;
}

/* The trim_gather of parameter (m, q) in graph g (DEPT TRIM), or -1; *any: some graph of the
 * program trims it. */
static int trim_of(const IrProgram *p, int graph, int m, int q, int *any) {
  int found = -1;
  *any = 0;
  for (int gi = 0; gi < p->graphs.n; gi++) {
    const IrGraph *g = &p->graphs.v[gi];
    for (int i = 0; i < g->nodes.n; i++) {
      const IrNode *n = &g->nodes.v[i];
      if (n->op != OP_TRIM_GATHER || n->nin < 2) continue;
      const IrNode *t = &g->nodes.v[n->in[0]];
      if (t->op != OP_PARAM || t->module != m || t->param != q) continue;
      *any = 1;
      if (gi == graph && found < 0) found = i;
    }
  }
  return found;
}

/* The rounds: for every module this graph trains that is synchronised in outer rounds (outer,
 * or every(n > 1); also with one holder, where the outer optimizer still steps), in module
 * order, one outer_sync per trainable parameter on its value (a param read, added where the
 * graph reads other parameters of the module only), returned as
 * outer.<module>.<param>. A table the TRIM rewrite trims gets {rows}, and in a graph that
 * trains it its vocab_rows as the second operand (the rows this rank contributes). */
static int add_outer(Cx *c, const CommPlan *pl, int rank, Diag *d) {
  IrProgram *p = c->p;
  for (int m = 0; m < pl->nmodules; m++) {
    const CommModule *cm = &pl->modules[m];
    const IrModule *mod = &p->modules.v[m];
    SyncPolicy s = mod->sync;
    if (s.kind == SYNC_EVERY && s.every > 1) s = (SyncPolicy){SYNC_OUTER, s.every, 1.0, 0.0, 0}; /* averaging */
    if (s.kind != SYNC_OUTER || !holds(mod, rank) || cm->bytes == 0 || !pl->trains[m][c->graph]) continue;
    /* one holder: no traffic, but the outer optimizer still steps (DiLoCo on one worker) */
    const char *group = cm->group >= 0 ? pl->groups[cm->group].name : arena_printf(p->arena, "ranks[%d]", rank);
    for (int q = 0; q < mod->params.n; q++) {
      const IrParam *pq = &mod->params.v[q];
      if (pq->frozen || !dtype_is_float(pq->type.dt)) continue;
      int x = -1;
      for (int i = 0; i < c->n0 && x < 0; i++)
        if (G(c)->nodes.v[i].op == OP_PARAM && G(c)->nodes.v[i].module == m && G(c)->nodes.v[i].param == q) x = i;
      if (x < 0) {
        x = add(c, OP_PARAM, 0, NULL, c->n0);
        if (x < 0) return 0;
        G(c)->nodes.v[x].module = m; /* (not ir_param_ref: used_by lists the graph already) */
        G(c)->nodes.v[x].param = q;
        G(c)->nodes.v[x].type = pq->type;
      }
      int any, tg = trim_of(p, c->graph, m, q, &any);
      int in[2] = {x, tg >= 0 ? G(c)->nodes.v[tg].in[1] : -1};
      int o = add(c, OP_OUTER_SYNC, tg >= 0 ? 2 : 1, in, c->n0);
      if (o < 0) return 0;
      IrNode *n = &G(c)->nodes.v[o];
      ir_set_group(p, n, "group", group);
      ir_set_i(n, "every", s.every);
      ir_set_f(n, "lr", s.lr);
      ir_set_f(n, "momentum", s.momentum);
      ir_set_i(n, "nesterov", s.nesterov != 0);
      ir_set_i(n, "rows", any);
      if (!infer(c, o, d)) return 0;
      ir_output_add(p, G(c), arena_printf(p->arena, OUTER_PREFIX "%s.%s", mod->name, pq->name), o);
    }
  }
  return 1;
}

/* The slots of every bucket the rank holds, in the global order. */
static int add_slots(Cx *c, const CommPlan *pl, int rank, int loss, int tokens, Diag *d) {
  IrProgram *p = c->p;
  int total = 0, pos_prev = loss;
  for (int b = 0; b < pl->nbuckets; b++) total += pl->buckets[b].n;
  int *starts = malloc(sizeof(int) * (size_t)(total + 1)), ns = 0;
  if (!starts) return 0;
  int ok = 1;
  for (int b = 0; b < pl->nbuckets && ok; b++) {
    const CommBucket *bk = &pl->buckets[b];
    if (!comm_bucket_has_rank(pl, b, rank)) continue;
    int trains = bk->trained_by[c->graph], pos = pos_prev;
    for (int i = 0; i < bk->n && trains; i++) {
      int o = find_grad(G(c), bk->members[i].module, bk->members[i].param);
      if (o >= 0 && G(c)->outputs.v[o].node > pos) pos = G(c)->outputs.v[o].node;
    }
    pos_prev = pos;
    for (int i = 0; i < bk->n && ok; i++) {
      const CommMember *mb = &bk->members[i];
      int o = trains ? find_grad(G(c), mb->module, mb->param) : -1;
      int x = o >= 0 ? G(c)->outputs.v[o].node : zeros(c, p->modules.v[mb->module].params.v[mb->param].type, pos);
      int in[2] = {x, tokens};
      int s = x < 0 ? -1 : add(c, OP_ALLREDUCE_START, trains ? 2 : 1, in, pos);
      if (s < 0) {
        ok = 0;
        break;
      }
      IrNode *n = &G(c)->nodes.v[s];
      ir_set_group(p, n, "group", pl->groups[bk->group].name);
      if (trains) {
        ir_set_enum(n, "op", "mean");
        ir_set_enum(n, "weight", "tokens");
      }
      ir_set_i(n, "bucket", b);
      ir_set_i(n, "recv", !trains);
      ok = infer(c, s, d);
      starts[ns++] = s;
    }
  }
  for (int i = 0; i < ns && ok; i++) {
    int s = starts[i], done = add(c, OP_ALLREDUCE_DONE, 1, &s, c->n0);
    if (done < 0 || !infer(c, done, d)) {
      ok = 0;
      break;
    }
    const CommMember *mb = NULL;
    int b = (int)ir_get_i(&G(c)->nodes.v[s], "bucket"), k = 0;
    for (int j = i; j > 0 && (int)ir_get_i(&G(c)->nodes.v[starts[j - 1]], "bucket") == b; j--) k++;
    mb = &pl->buckets[b].members[k];
    int o = find_grad(G(c), mb->module, mb->param);
    if (o < 0) {
      const IrModule *mod = &p->modules.v[mb->module];
      ir_output_add(p, G(c), arena_printf(p->arena, "grad.%s.%s", mod->name, mod->params.v[mb->param].name), done);
      o = G(c)->outputs.n - 1;
      G(c)->outputs.v[o].module = mb->module;
      G(c)->outputs.v[o].param = mb->param;
    }
    G(c)->outputs.v[o].node = done;
  }
  free(starts);
  return ok;
}

int pass_comm(IrProgram *p, int graph, Diag *d) {
  IrTarget t = p->target;
  if (t.rank < 0 || t.nranks <= 1) return 1;
  IrGraph *g = &p->graphs.v[graph];
  int loss = -1, ninputs = 0, grads = 0;
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op == OP_ALLREDUCE_START || n->op == OP_OUTER_SYNC) return 1; /* placed already */
    ninputs += n->op == OP_INPUT;
  }
  for (int o = 0; o < g->outputs.n; o++) {
    if (strcmp(g->outputs.v[o].name, "loss") == 0) loss = g->outputs.v[o].node;
    if (strcmp(g->outputs.v[o].name, "grad_norm_sq") == 0) return 1; /* placed already */
    grads += g->outputs.v[o].module >= 0;
  }
  if (loss < 0 || !grads) return 1; /* not a training graph (no backward pass): nothing to reduce */
  for (int m = 0; m < p->modules.n; m++) /* the rank trains this graph only if it holds all it reads */
    for (int i = 0; i < p->modules.v[m].used_by.n; i++)
      if (p->modules.v[m].used_by.v[i] == graph && !holds(&p->modules.v[m], t.rank)) return 1;
  CommPlan pl;
  if (!comm_plan_build(p, t.nranks, t.bucket_bytes, p->arena, &pl, d)) return 0;
  Cx c = {p, graph, g->nodes.n, NULL, 0, 0, 0};
  IrType scalar = {.dt = DT_F32, .rank = 0};
  int tokens = add(&c, OP_INPUT, 0, NULL, ninputs - 1);
  int ok = tokens >= 0;
  if (ok) {
    G(&c)->nodes.v[tokens].name = "tokens";
    G(&c)->nodes.v[tokens].type = scalar;
    ok = add_slots(&c, &pl, t.rank, loss, tokens, d) && (!t.clip || add_norm(&c, &pl, t.rank, d)) &&
         add_outer(&c, &pl, t.rank, d);
  }
  if (ok) {
    sort_outputs(G(&c));
    /* the order: each original node, then the new nodes anchored to it, in creation order */
    int n = G(&c)->nodes.n;
    int *order = malloc(sizeof(int) * (size_t)n);
    char *keep = malloc((size_t)n);
    ok = order && keep;
    for (int a = -1, k = 0; ok && a <= c.n0; a++) {
      if (a >= 0 && a < c.n0) order[k++] = a;
      for (int j = 0; j < c.nnew; j++)
        if (c.anchor[j] == a) order[k++] = c.n0 + j;
    }
    if (ok) {
      memset(keep, 1, (size_t)n);
      ok = pass_rebuild_graph(p, graph, keep, NULL, order, d);
    }
    free(order);
    free(keep);
  }
  if (c.oom || (!ok && d->nerrors == 0)) diag_plain(d, "out of memory in the comm pass");
  free(c.anchor);
  return ok;
}
