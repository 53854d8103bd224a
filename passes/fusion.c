/* fusion.c — assigns fusion groups (IrNode.group) in one task graph and makes each group a
 * contiguous run of nodes. The rules of a valid group are ir/group.h's; this file decides
 * which groups to form:
 *
 *   1. grow   in node order, each node that can be a member (ir_fusion_role) tries to join
 *             the groups of its operands, one at a time in operand order (a reduction or a
 *             norm: only its first operand's; a norm also a norm gradient's over the same
 *             first operand, its sibling), keeping a join when the union passes
 *             ir_group_check(GROUP_TENTATIVE) and keeps the group graph acyclic; otherwise
 *             it starts a group of its own. A matmul always starts one (a possible
 *             epilogue root) and never joins: a matmul as a consumer is not fused. An
 *             elementwise node read only by a reduction or norm (as its row input) does
 *             not join a group that has a root: it waits to be that root's prologue
 *             instead of being written out. Nor does an elementwise node join a group
 *             whose matmul settle would take out (doomed_epilogue).
 *   2. settle a matmul read outside its group after all is no epilogue root: it leaves;
 *             groups split into their connected parts; groups that compute nothing (a
 *             lone const, iota or matmul) are dissolved. A const or iota joins a group only
 *             when nothing outside reads it (else it would be an output of another shape).
 *   3. order  the groups and the other nodes are scheduled (Kahn, smallest original index
 *             first) so that each group's members are consecutive; the graph is rebuilt in
 *             that order and groups are numbered 0, 1, ... by position; every group is then
 *             checked with GROUP_FINAL.
 *
 * Before growing, a move read by several would-be members gets a clone per reader
 * (clone_views), so that each reader's group can take it in.
 *
 * Acyclic: merging sets S is refused when some node outside S is reachable from S and
 * reaches S back, where reaching any member of a group means reaching the whole group (it
 * runs as one step). Without this two convex groups could each need to run before the other.
 */
#include "fusion.h"

#include <stdlib.h>

#include "pipeline.h"

typedef struct Fx {
  IrProgram *p;
  IrGraph *g;
  int n;
  IrGroupCx *cx;
  int *grp;          /* node -> tentative group (index into mem), -1 */
  int **mem, *nmem;  /* group -> members, ascending (malloc'd; NULL once merged away) */
  int ngroups;
  int *cand, *tmp;   /* scratch member lists */
  int *seen, stamp;  /* BFS marks */
  char *inset;       /* candidate membership */
  int *queue;
} Fx;

static int *dup_list(const int *v, int n) {
  int *r = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  if (r && n) memcpy(r, v, sizeof(int) * (size_t)n);
  return r;
}

static int new_group(Fx *f, const int *m, int n) {
  int id = f->ngroups++;
  f->mem[id] = dup_list(m, n);
  f->nmem[id] = n;
  if (!f->mem[id]) return -1;
  for (int k = 0; k < n; k++) f->grp[m[k]] = id;
  return id;
}

static void drop_group(Fx *f, int id) {
  for (int k = 0; k < f->nmem[id]; k++)
    if (f->grp[f->mem[id][k]] == id) f->grp[f->mem[id][k]] = -1;
  free(f->mem[id]);
  f->mem[id] = NULL;
  f->nmem[id] = 0;
}

/* out = a ∪ b (both ascending, disjoint); returns the length. */
static int merge(const int *a, int na, const int *b, int nb, int *out) {
  int i = 0, j = 0, k = 0;
  while (i < na || j < nb) out[k++] = (j >= nb || (i < na && a[i] < b[j])) ? a[i++] : b[j++];
  return k;
}

/* ---- 1. grow ------------------------------------------------------------------------------- */

/* Would running the set m (all indices <= last) as one step create a cycle among steps? */
static int makes_cycle(Fx *f, const int *m, int n, int last) {
  int head = 0, tail = 0, cyc = 0;
  f->stamp++;
  for (int k = 0; k < n; k++) f->inset[m[k]] = 1;
  for (int k = 0; k < n; k++) {
    const int *u = ir_group_cx_users(f->cx, m[k]);
    for (int j = 0; j < ir_group_cx_nusers(f->cx, m[k]); j++)
      if (u[j] <= last && !f->inset[u[j]] && f->seen[u[j]] != f->stamp) {
        f->seen[u[j]] = f->stamp;
        f->queue[tail++] = u[j];
      }
  }
  while (head < tail && !cyc) {
    int x = f->queue[head++];
    int gx = f->grp[x];
    int nmore = gx >= 0 ? f->nmem[gx] : 0;
    for (int k = -1; k < nmore && !cyc; k++) {
      int y = k < 0 ? x : f->mem[gx][k];
      if (k >= 0) {
        if (f->seen[y] == f->stamp) continue;
        f->seen[y] = f->stamp;
        f->queue[tail++] = y;
        continue; /* its users are visited when it is popped */
      }
      const int *u = ir_group_cx_users(f->cx, y);
      for (int j = 0; j < ir_group_cx_nusers(f->cx, y); j++) {
        if (u[j] > last) continue;
        if (f->inset[u[j]]) {
          cyc = 1;
          break;
        }
        if (f->seen[u[j]] != f->stamp) {
          f->seen[u[j]] = f->stamp;
          f->queue[tail++] = u[j];
        }
      }
    }
  }
  for (int k = 0; k < n; k++) f->inset[m[k]] = 0;
  return cyc;
}

/* Node id is elementwise and its one reader is a reduction or norm reading it as the row
 * input: better kept free to become that root's prologue than written out by a group that
 * already has a root. */
static int prologue_only(Fx *f, int id) {
  if (ir_group_cx_nusers(f->cx, id) != 1 || ir_group_cx_returned(f->cx, id)) return 0;
  int u = ir_group_cx_users(f->cx, id)[0];
  FusionRole r = ir_fusion_role(f->g, u);
  const IrNode *un = &f->g->nodes.v[u];
  for (int k = 1; k < un->nin; k++)
    if (un->in[k] == id) return 0;
  return (r == FR_REDUCE || r == FR_NORM) && un->in[0] == id;
}

/* Group h has a matmul root that some reader can never join (a matmul, a non-member, a norm or
 * reduction reading it as other than its row input) or the graph returns: settle will take the
 * matmul out, so joining h for its sake is futile, and it may cost a better join (a norm's
 * gradient mul(dy, xh) joining dy's product instead of xh's norm). */
static int doomed_epilogue(Fx *f, int h) {
  int r = -1;
  for (int k = 0; k < f->nmem[h] && r < 0; k++)
    if (ir_fusion_role(f->g, f->mem[h][k]) == FR_MATMUL) r = f->mem[h][k];
  if (r < 0) return 0;
  if (ir_group_cx_returned(f->cx, r)) return 1;
  const int *u = ir_group_cx_users(f->cx, r);
  for (int j = 0; j < ir_group_cx_nusers(f->cx, r); j++) {
    FusionRole ru = ir_fusion_role(f->g, u[j]);
    if (ru == FR_NONE || ru == FR_MATMUL) return 1;
    if ((ru == FR_REDUCE || ru == FR_NORM) && f->g->nodes.v[u[j]].in[0] != r) return 1;
  }
  return 0;
}

/* Node id (in the candidate S) tries to join group h: kept when the union passes the check
 * and keeps the group graph acyclic. */
static void try_join(Fx *f, int id, int h, int wait, int *S, int *nS, int *gid) {
  int nT = merge(S, *nS, f->mem[h], f->nmem[h], f->tmp);
  FusionGroup info;
  if (!ir_group_check(f->cx, f->tmp, nT, GROUP_TENTATIVE, &info, NULL, 0) || (wait && info.root >= 0) ||
      makes_cycle(f, f->tmp, nT, id))
    return;
  memcpy(S, f->tmp, sizeof(int) * (size_t)nT);
  *nS = nT;
  if (*gid >= 0) drop_group(f, h); /* its members now belong to gid */
  else *gid = h;
}

static int grow(Fx *f, int id) {
  const IrNode *x = &f->g->nodes.v[id];
  FusionRole role = ir_fusion_role(f->g, id);
  if (role == FR_NONE) return 1;
  int *S = f->cand, nS = 1, gid = -1, wait = role == FR_EW && prologue_only(f, id);
  S[0] = id;
  int nops = role == FR_EW || role == FR_MOVE ? x->nin : role == FR_MATMUL ? 0 : 1;
  for (int k = 0; k < nops; k++) {
    int h = f->grp[x->in[k]];
    if (h < 0 || h == gid || ((role == FR_EW || role == FR_MOVE) && doomed_epilogue(f, h))) continue;
    try_join(f, id, h, wait, S, &nS, &gid);
  }
  if (role == FR_NORM && x->nin > 0) { /* a sibling norm over the same rows (layernorm_grad(x, ..) and
                                       * layernorm(x) for the gain's gradient): one pass over x */
    const int *u = ir_group_cx_users(f->cx, x->in[0]);
    for (int j = 0; j < ir_group_cx_nusers(f->cx, x->in[0]); j++) {
      int h = u[j] < id ? f->grp[u[j]] : -1;
      Op o = f->g->nodes.v[u[j]].op; /* a gradient's (the forward's norm would keep xh alive till the backward) */
      if (h >= 0 && h != gid && (o == OP_LAYERNORM_GRAD || o == OP_RMSNORM_GRAD) && ir_sibling_norms(f->g, id, u[j]))
        try_join(f, id, h, wait, S, &nS, &gid);
    }
  }
  if (gid < 0) return new_group(f, S, nS) >= 0;
  int *m = dup_list(S, nS);
  if (!m) return 0;
  free(f->mem[gid]);
  f->mem[gid] = m;
  f->nmem[gid] = nS;
  for (int k = 0; k < nS; k++) f->grp[S[k]] = gid;
  return 1;
}

/* ---- 2. settle ------------------------------------------------------------------------------- */

static int read_outside(Fx *f, int id, int gid) {
  if (ir_group_cx_returned(f->cx, id)) return 1;
  const int *u = ir_group_cx_users(f->cx, id);
  for (int j = 0; j < ir_group_cx_nusers(f->cx, id); j++)
    if (f->grp[u[j]] != gid) return 1;
  return 0;
}

static int find(int *parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

static int settle(Fx *f, int gid) {
  const IrGraph *g = f->g;
  int *m = f->mem[gid], n = 0;
  for (int k = 0; k < f->nmem[gid]; k++) { /* a matmul read outside is no epilogue root */
    if (g->nodes.v[m[k]].op == OP_MATMUL && read_outside(f, m[k], gid))
      f->grp[m[k]] = -1;
    else
      m[n++] = m[k];
  }
  f->nmem[gid] = n;
  /* connected parts: union-find over positions (queue as parent array) */
  int *parent = f->queue;
  for (int k = 0; k < n; k++) {
    parent[k] = k;
    f->seen[m[k]] = k; /* position, valid while grp[] == gid */
  }
  for (int k = 0; k < n; k++) {
    const IrNode *x = &g->nodes.v[m[k]];
    for (int i = 0; i < x->nin; i++)
      if (f->grp[x->in[i]] == gid) parent[find(parent, k)] = find(parent, f->seen[x->in[i]]);
    for (int q = 0; q < k; q++) /* sibling norms: connected through their rows */
      if (ir_sibling_norms(g, m[k], m[q])) parent[find(parent, k)] = find(parent, q);
  }
  int parts = 0;
  for (int k = 0; k < n; k++) parts += find(parent, k) == k;
  for (int root = 0; root < n && parts > 1; root++) { /* every part but the first's moves out */
    if (find(parent, root) != root || find(parent, 0) == root) continue;
    int np = 0;
    for (int k = 0; k < n; k++)
      if (find(parent, k) == root) f->tmp[np++] = m[k];
    if (new_group(f, f->tmp, np) < 0) return 0;
  }
  int keep = 0, useful = 0;
  for (int k = 0; k < n; k++)
    if (f->grp[m[k]] == gid) m[keep++] = m[k];
  f->nmem[gid] = keep;
  for (int k = 0; k < keep; k++) {
    FusionRole r = ir_fusion_role(g, m[k]);
    useful |= (r == FR_EW && g->nodes.v[m[k]].nin > 0) || r == FR_REDUCE || r == FR_NORM;
  }
  if (!useful) drop_group(f, gid);
  return 1;
}

/* ---- 3. order --------------------------------------------------------------------------------- */

static void heap_push(int *h, int *n, int v) {
  int i = (*n)++;
  for (h[i] = v; i > 0 && h[(i - 1) / 2] > h[i]; i = (i - 1) / 2) {
    int t = h[i];
    h[i] = h[(i - 1) / 2];
    h[(i - 1) / 2] = t;
  }
}

static int heap_pop(int *h, int *n) {
  int top = h[0], i = 0;
  h[0] = h[--*n];
  for (;;) {
    int l = 2 * i + 1, r = l + 1, s = i;
    if (l < *n && h[l] < h[s]) s = l;
    if (r < *n && h[r] < h[s]) s = r;
    if (s == i) break;
    int t = h[i];
    h[i] = h[s];
    h[s] = t;
    i = s;
  }
  return top;
}

/* Schedules steps (a group, or one node), the smallest leader (first node) first. */
static int order_nodes(Fx *f, int *order) {
  int n = f->n, nheap = 0, k = 0;
  int *lead = malloc(sizeof(int) * (size_t)n * 3 + sizeof(int));
  if (!lead) return 0;
  int *indeg = lead + n, *heap = indeg + n;
  for (int i = 0; i < n; i++) {
    lead[i] = f->grp[i] >= 0 ? f->mem[f->grp[i]][0] : i;
    indeg[i] = 0;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < f->g->nodes.v[i].nin; j++)
      if (lead[f->g->nodes.v[i].in[j]] != lead[i]) indeg[lead[i]]++;
  for (int i = 0; i < n; i++)
    if (lead[i] == i && indeg[i] == 0) heap_push(heap, &nheap, i);
  while (nheap > 0) {
    int l = heap_pop(heap, &nheap);
    int gid = f->grp[l], cnt = gid >= 0 ? f->nmem[gid] : 1;
    for (int c = 0; c < cnt; c++) order[k++] = gid >= 0 ? f->mem[gid][c] : l;
    for (int c = 0; c < cnt; c++) {
      int id = gid >= 0 ? f->mem[gid][c] : l;
      const int *u = ir_group_cx_users(f->cx, id);
      for (int j = 0; j < ir_group_cx_nusers(f->cx, id); j++)
        if (lead[u[j]] != l && --indeg[lead[u[j]]] == 0) heap_push(heap, &nheap, lead[u[j]]);
    }
  }
  free(lead);
  return k == n;
}

/* ---- 0. a view for each reader ------------------------------------------------------------------ */

static int fusible_reader(const IrGraph *g, int u) {
  FusionRole r = ir_fusion_role(g, u);
  return r == FR_EW || r == FR_MOVE;
}

/* A move (transpose, slice, pad, concat) read by several nodes that could be group members
 * (elementwise ops, moves) is cloned, so that each such reader has its own: a group can then
 * take the move in (its kernel reads the operands through it) without waiting for the other
 * readers, which it could not (a member read outside the group must have the anchor's shape).
 * Readers that can never be members keep the original; so does the first reader when all can.
 * The clones follow their original in node order. Returns the number of clones, -1 on failure. */
static int clone_views(IrProgram *p, int graph, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  int n0 = g->nodes.n, nclones = 0, edges = 0;
  for (int i = 0; i < n0; i++) edges += g->nodes.v[i].nin;
  IrGroupCx *cx = ir_group_cx_new(p, graph);
  int *origin = malloc(sizeof(int) * ((size_t)edges + 1)); /* clone k -> its original */
  int ok = cx && origin, oom = !ok;
  for (int t = 0; ok && t < n0; t++) {
    Op op = g->nodes.v[t].op;
    if (ir_fusion_role(g, t) != FR_MOVE || ir_group_cx_returned(cx, t))
      continue;
    const int *u = ir_group_cx_users(cx, t);
    int nu = ir_group_cx_nusers(cx, t), distinct = 0, others = 0;
    for (int j = 0; j < nu; j++)
      if (j == 0 || u[j] != u[j - 1]) {
        distinct++;
        others += !fusible_reader(g, u[j]);
      }
    if (distinct < 2 || distinct == others) continue;
    for (int j = 0, kept = others > 0; j < nu; j++) {
      if ((j > 0 && u[j] == u[j - 1]) || !fusible_reader(g, u[j])) continue;
      if (!kept) { /* the first fusible reader keeps the original */
        kept = 1;
        continue;
      }
      int c = ir_node_add(p, g, op, g->nodes.v[t].nin, g->nodes.v[t].in);
      IrNode *cn = &g->nodes.v[c], *tn = &g->nodes.v[t];
      for (int a = 0; a < op_info(op)->nattrs; a++) cn->attr[a] = tn->attr[a];
      cn->type = tn->type;
      cn->loc = tn->loc;
      cn->owner = tn->owner;
      cn->owner_path = tn->owner_path;
      IrNode *un = &g->nodes.v[u[j]];
      for (int k = 0; k < un->nin; k++)
        if (un->in[k] == t) un->in[k] = c;
      origin[nclones++] = t;
    }
  }
  ir_group_cx_free(cx);
  if (ok && nclones) {
    int n = g->nodes.n, *order = malloc(sizeof(int) * (size_t)n);
    char *keep = malloc((size_t)n);
    if (order && keep) {
      memset(keep, 1, (size_t)n);
      for (int i = 0, k = 0, c = 0; i < n0; i++) { /* clones were made in their originals' order */
        order[k++] = i;
        while (c < nclones && origin[c] == i) order[k++] = n0 + c++;
      }
      ok = pass_rebuild_graph(p, graph, keep, NULL, order, d);
    } else {
      ok = 0;
      oom = 1;
    }
    free(order);
    free(keep);
  }
  free(origin);
  if (oom) diag_plain(d, "out of memory");
  return ok ? nclones : -1;
}

/* ---- the pass ---------------------------------------------------------------------------------- */

static void fx_free(Fx *f) {
  for (int i = 0; f->mem && i < f->ngroups; i++) free(f->mem[i]);
  free(f->mem);
  free(f->nmem);
  free(f->grp);
  free(f->cand);
  free(f->tmp);
  free(f->seen);
  free(f->inset);
  free(f->queue);
  ir_group_cx_free(f->cx);
}

int pass_fusion(IrProgram *p, int graph, Diag *d) {
  for (int round = 0, made = 1; made > 0 && round < 4; round++) /* a chain of views: one more a round */
    if ((made = clone_views(p, graph, d)) < 0) return 0;
  IrGraph *g = &p->graphs.v[graph];
  Fx f = {p, g, g->nodes.n, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL};
  size_t n1 = (size_t)f.n + 1;
  for (int i = 0; i < f.n; i++) g->nodes.v[i].group = -1;
  f.cx = ir_group_cx_new(p, graph);
  f.grp = malloc(sizeof(int) * n1);
  f.mem = calloc(2 * n1, sizeof(int *)); /* grow makes <= n groups, settle splits <= n more */
  f.nmem = calloc(2 * n1, sizeof(int));
  f.cand = malloc(sizeof(int) * n1);
  f.tmp = malloc(sizeof(int) * n1);
  f.seen = calloc(n1, sizeof(int));
  f.inset = calloc(n1, 1);
  f.queue = malloc(sizeof(int) * n1 * 2);
  int *order = malloc(sizeof(int) * n1);
  char *all = malloc(n1);
  int ok = f.cx && f.grp && f.mem && f.nmem && f.cand && f.tmp && f.seen && f.inset && f.queue && order && all;
  for (int i = 0; ok && i < f.n; i++) f.grp[i] = -1;
  for (int i = 0; ok && i < f.n; i++) ok = grow(&f, i);
  for (int gid = 0; ok && gid < f.ngroups; gid++) /* parts split off are settled in turn */
    if (f.mem[gid]) ok = settle(&f, gid);
  if (ok && !order_nodes(&f, order)) {
    diag_plain(d, "internal error: fusion: the groups of task @%s form a cycle", ir_graph_name(p, g));
    ok = 0;
  } else if (ok) {
    int next = 0, *renum = f.queue; /* tentative group -> final number */
    for (int gid = 0; gid < f.ngroups; gid++) renum[gid] = -1;
    for (int k = 0; k < f.n; k++) {
      int gid = f.grp[order[k]];
      if (gid >= 0 && renum[gid] < 0) renum[gid] = next++;
      g->nodes.v[order[k]].group = gid >= 0 ? renum[gid] : -1;
      all[k] = 1;
    }
    ok = pass_rebuild_graph(p, graph, all, NULL, order, d);
  } else if (f.cx) {
    diag_plain(d, "out of memory");
  }
  fx_free(&f);
  free(order);
  free(all);
  if (!ok) return 0;
  Arena a;
  arena_init(&a);
  FusionGroups fg;
  char err[512];
  if (!ir_fusion_groups(p, graph, &a, &fg, err, sizeof err)) {
    diag_plain(d, "internal error: fusion made an invalid group in task @%s: %s", ir_graph_name(p, g), err);
    ok = 0;
  }
  arena_free(&a);
  return ok;
}

int fusion_group_info(const IrProgram *p, int graph, Arena *a, FusionGroups *out, char *err, size_t errlen) {
  return ir_fusion_groups(p, graph, a, out, err, errlen);
}
