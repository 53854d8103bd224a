/* memplan.c — plans the buffers of one task graph: liveness over the step order (a fusion
 * group is one step), then greedy slot assignment with reuse by symbolic size class and
 * in-place hand-over where legal (rules in memplan.h). The IR is not changed: the plan is a
 * MemPlan the runtime builds for itself (memplan_build); the pipeline's `memplan` step
 * builds and checks it. memplan_check re-derives liveness on its own to validate a plan.
 */
#include "memplan.h"

#include <stdlib.h>

#include "group.h"

/* ---- symbolic element counts ----------------------------------------------------------------- */

static int64_t gcd64(int64_t a, int64_t b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static int dim_cmp(Dim a, Dim b) {
  if (a.sym != b.sym) return a.sym < b.sym ? -1 : 1;
  if (a.mul != b.mul) return a.mul < b.mul ? -1 : 1;
  return (a.add > b.add) - (a.add < b.add);
}

SizeExpr size_numel(const IrType *t) {
  SizeExpr e = {1, 0, {{0}}};
  for (int i = 0; i < t->rank; i++) {
    Dim d = t->d[i];
    if (dim_is_const(d)) {
      e.c *= d.add;
      continue;
    }
    if (d.mul < 0) {
      d.mul = -d.mul;
      d.add = -d.add;
      e.c = -e.c;
    }
    int64_t g = gcd64(d.mul, d.add);
    d.mul /= g;
    d.add /= g;
    e.c *= g;
    int k = e.nf++;
    for (; k > 0 && dim_cmp(e.f[k - 1], d) > 0; k--) e.f[k] = e.f[k - 1];
    e.f[k] = d;
  }
  if (e.c == 0) e.nf = 0;
  return e;
}

int size_same_class(const SizeExpr *a, const SizeExpr *b) {
  if (a->nf != b->nf) return 0;
  for (int i = 0; i < a->nf; i++)
    if (dim_cmp(a->f[i], b->f[i]) != 0) return 0;
  return 1;
}

int size_eq(const SizeExpr *a, const SizeExpr *b) { return a->c == b->c && size_same_class(a, b); }

int64_t size_eval(const SizeExpr *e, const int64_t *symvals) {
  int64_t v = e->c;
  for (int i = 0; i < e->nf; i++) v *= dim_eval(e->f[i], symvals);
  return v;
}

void size_print(StrBuf *b, const IrProgram *p, const SizeExpr *e) {
  if (e->nf == 0 || e->c != 1) sb_printf(b, "%lld%s", (long long)e->c, e->nf ? "*" : "");
  for (int i = 0; i < e->nf; i++) {
    if (i) sb_putc(b, '*');
    if (e->f[i].add) sb_putc(b, '(');
    ir_print_dim(b, p, e->f[i]);
    if (e->f[i].add) sb_putc(b, ')');
  }
}

static SizeExpr bytes_of(const SizeExpr *numel, DType dt) {
  SizeExpr e = *numel;
  e.c *= dtype_size(dt);
  return e;
}

/* ---- building ---------------------------------------------------------------------------------- */

typedef struct Mx {
  const IrProgram *p;
  const IrGraph *g;
  MemPlan *mp;
  Arena *a;
  FusionGroups fg;
  int *gof;            /* node -> index into fg.v, -1 */
  int *ustart, *users; /* consumers */
  int *occupant;       /* slot -> the value in it, -1 free */
  SizeExpr *klass;     /* slot -> bytes of its largest value (class = its factors) */
  int cap;
  char *taken;         /* value handed over in place at this step */
  int *view_use;       /* per buffer owner: the last step a view of it is read, -1 */
  int *dstart, *dies;  /* plan(): buffers by the step they die at */
} Mx;

static void add_size(Mx *m, int s, const IrType *t) {
  MemSlot *sl = &m->mp->slots[s];
  SlotSize z = {size_numel(t), t->dt};
  for (int i = 0; i < sl->nsizes; i++)
    if (sl->sizes[i].dt == z.dt && size_eq(&sl->sizes[i].numel, &z.numel)) return;
  SlotSize *nv = ARENA_ARRAY(m->a, SlotSize, sl->nsizes + 1);
  if (sl->nsizes) memcpy(nv, sl->sizes, sizeof *nv * (size_t)sl->nsizes);
  nv[sl->nsizes++] = z;
  sl->sizes = nv;
  SizeExpr by = bytes_of(&z.numel, z.dt);
  if (by.c > m->klass[s].c) m->klass[s] = by;
}

static int new_slot(Mx *m, const IrType *t) {
  MemPlan *mp = m->mp;
  if (mp->nslots == m->cap) {
    int ncap = m->cap ? 2 * m->cap : 16;
    MemSlot *ns = ARENA_ARRAY(m->a, MemSlot, ncap);
    if (mp->nslots) memcpy(ns, mp->slots, sizeof *ns * (size_t)mp->nslots);
    mp->slots = ns;
    int *no = realloc(m->occupant, sizeof(int) * (size_t)ncap);
    SizeExpr *nk = no ? realloc(m->klass, sizeof(SizeExpr) * (size_t)ncap) : NULL;
    if (no) m->occupant = no;
    if (!nk) return -1;
    m->klass = nk;
    m->cap = ncap;
  }
  int s = mp->nslots++;
  SizeExpr z = size_numel(t);
  m->klass[s] = bytes_of(&z, t->dt);
  return s;
}

/* The buffer's owner: a reshape is a view of its operand's. */
static int base_of(const Mx *m, int x) {
  while (m->mp->view[x] >= 0) x = m->mp->view[x];
  return x;
}

/* May value v (written at step st) take over the slot of its step's operand x? */
static int inplace_ok(Mx *m, int v, int x, int st) {
  const MemPlan *mp = m->mp;
  const IrNode *nv = &m->g->nodes.v[v], *nx = &m->g->nodes.v[x];
  if (mp->view[x] >= 0 || mp->slot[x] < 0 || mp->last_use[x] != st || m->view_use[x] >= st || m->taken[x] ||
      !type_eq(&nx->type, &nv->type) || !(op_info(nv->op)->flags & F_EW))
    return 0;
  if (m->gof[v] < 0) return 1;
  const FusionGroup *G = &m->fg.v[m->gof[v]];
  if (G->kind != FK_ELEMENTWISE || nv->type.rank != G->anchor.rank) return 0;
  for (int id = G->first; id < G->first + G->count; id++) /* windows read other indices than they store */
    if (ir_fusion_role(m->g, id) == FR_MOVE) return 0;
  for (int i = 0; i < nv->type.rank; i++)
    if (!dim_eq(nv->type.d[i], G->anchor.d[i])) return 0;
  for (int u = m->ustart[x]; u < m->ustart[x + 1]; u++) /* read here only at the same index */
    if (mp->step[m->users[u]] == st && !(op_info(m->g->nodes.v[m->users[u]].op)->flags & F_EW)) return 0;
  return 1;
}

/* The operands read at v's step: v's own, or its group's external inputs. */
static int step_operands(Mx *m, int v, const int **ops) {
  if (m->gof[v] >= 0) {
    *ops = m->fg.v[m->gof[v]].inputs;
    return m->fg.v[m->gof[v]].ninputs;
  }
  *ops = m->g->nodes.v[v].in;
  return m->g->nodes.v[v].nin;
}

static int assign(Mx *m, int v, int st) {
  MemPlan *mp = m->mp;
  const IrType *t = &m->g->nodes.v[v].type;
  if (mp->view[v] >= 0) { /* the operand's buffer */
    mp->slot[v] = mp->slot[base_of(m, v)];
    if (mp->slot[v] >= 0) add_size(m, mp->slot[v], t);
    return 1;
  }
  const int *ops;
  int nops = step_operands(m, v, &ops);
  for (int k = 0; k < nops; k++)
    if (inplace_ok(m, v, ops[k], st)) {
      int x = ops[k];
      m->taken[x] = 1;
      mp->slot[v] = mp->slot[x];
      mp->inplace[v] = x;
      m->occupant[mp->slot[x]] = v;
      add_size(m, mp->slot[x], t);
      return 1;
    }
  SizeExpr z = size_numel(t), by = bytes_of(&z, t->dt);
  int best = -1;
  for (int s = 0; s < mp->nslots; s++) {
    if (m->occupant[s] >= 0 || !size_same_class(&m->klass[s], &by)) continue;
    if (best < 0 || (m->klass[s].c == by.c && m->klass[best].c != by.c) ||
        (m->klass[best].c != by.c && m->klass[s].c > m->klass[best].c))
      best = s;
  }
  if (best < 0 && (best = new_slot(m, t)) < 0) return 0;
  mp->slot[v] = best;
  m->occupant[best] = v;
  add_size(m, best, t);
  return 1;
}

/* Steps, views, liveness (a buffer lives until its last reader or its views' last), and
 * consumer lists. */
static void liveness(Mx *m) {
  const IrGraph *g = m->g;
  MemPlan *mp = m->mp;
  int n = g->nodes.n;
  for (int k = 0; k < m->fg.n; k++)
    for (int i = 0; i < m->fg.v[k].count; i++) m->gof[m->fg.v[k].first + i] = k;
  for (int i = 0, s = 0; i < n; i++) {
    int gk = m->gof[i];
    mp->step[i] = (gk >= 0 && i != m->fg.v[gk].first) ? mp->step[i - 1] : s++;
    mp->nsteps = s;
    mp->inplace[i] = -1;
    mp->view[i] = g->nodes.v[i].op == OP_RESHAPE && gk < 0 ? g->nodes.v[i].in[0] : -1;
    mp->last_use[i] = mp->step[i];
    m->view_use[i] = -1;
  }
  for (int i = 0; i < n; i++) {
    const IrNode *x = &g->nodes.v[i];
    for (int k = 0; k < x->nin; k++) {
      int o = x->in[k];
      m->ustart[o + 1]++;
      if (mp->step[i] > mp->last_use[o]) mp->last_use[o] = mp->step[i];
    }
  }
  for (int o = 0; o < g->outputs.n; o++) mp->last_use[g->outputs.v[o].node] = mp->nsteps;
  for (int i = n - 1; i >= 0; i--) /* views hand their last use to their base */
    if (mp->view[i] >= 0) {
      int b = base_of(m, i);
      if (mp->last_use[i] > mp->last_use[b]) mp->last_use[b] = mp->last_use[i];
      if (mp->last_use[i] > m->view_use[b]) m->view_use[b] = mp->last_use[i];
    }
  for (int i = 0; i < n; i++) m->ustart[i + 1] += m->ustart[i];
  int *fill = m->occupant; /* borrowed as a counter (cap >= n here) */
  for (int i = 0; i < n; i++) fill[i] = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++) {
      int o = g->nodes.v[i].in[k];
      m->users[m->ustart[o] + fill[o]++] = i;
    }
}

static int plan(Mx *m) {
  const IrGraph *g = m->g;
  MemPlan *mp = m->mp;
  int n = g->nodes.n;
  liveness(m);
  for (int i = 0; i < n; i++) {
    const IrNode *x = &g->nodes.v[i];
    mp->slot[i] = x->op == OP_INPUT || x->op == OP_PARAM ? MP_EXTERNAL : -3; /* -3: at its step */
    if (mp->slot[i] == -3 && m->gof[i] >= 0) {
      const FusionGroup *G = &m->fg.v[m->gof[i]];
      int out = 0;
      for (int k = 0; k < G->noutputs; k++) out |= G->outputs[k] == i;
      if (!out && !(G->kind == FK_EPILOGUE && G->root == i)) mp->slot[i] = MP_FUSED;
    }
  }
  /* buffers by the step they die at: dies[dstart[s] .. dstart[s+1]) */
  int *dstart = m->dstart = calloc((size_t)mp->nsteps + 2, sizeof(int));
  int *dies = m->dies = malloc(sizeof(int) * ((size_t)n + 1));
  if (!dstart || !dies) return 0; /* the caller frees them */
#define DIES(i) (mp->slot[i] == -3 && mp->view[i] < 0 && mp->last_use[i] < mp->nsteps)
  for (int i = 0; i < n; i++)
    if (DIES(i)) dstart[mp->last_use[i] + 1]++;
  for (int s = 0; s <= mp->nsteps; s++) dstart[s + 1] += dstart[s];
  for (int i = 0; i < n; i++)
    if (DIES(i)) dies[dstart[mp->last_use[i]]++] = i;
#undef DIES
  for (int s = mp->nsteps; s > 0; s--) dstart[s] = dstart[s - 1]; /* undo the fill's shift */
  dstart[0] = 0;
  mp->nslots = 0;
  int ok = 1;
  for (int i = 0; i < n && ok;) {
    int st = mp->step[i], j = i;
    while (j < n && mp->step[j] == st) j++;
    for (int v = i; v < j && ok; v++)
      if (mp->slot[v] == -3) ok = assign(m, v, st);
    for (int k = dstart[st]; k < dstart[st + 1] && ok; k++) { /* free what died here */
      int v = dies[k];
      if (!m->taken[v] && m->occupant[mp->slot[v]] == v) m->occupant[mp->slot[v]] = -1;
    }
    i = j;
  }
  return ok;
}

static void mx_free(Mx *m) {
  free(m->gof);
  free(m->ustart);
  free(m->users);
  free(m->taken);
  free(m->view_use);
  free(m->occupant);
  free(m->klass);
  free(m->dstart);
  free(m->dies);
  free(m);
}

int memplan_build(const IrProgram *p, int graph, Arena *a, MemPlan *out, Diag *d) {
  const IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n, edges = 0;
  for (int i = 0; i < n; i++) edges += g->nodes.v[i].nin;
  memset(out, 0, sizeof *out);
  out->graph = graph;
  out->nnodes = n;
  /* the scratch is on the heap (m and what it points to, which plan() reallocates) so that
   * the allocation-failure handler below can free it */
  Mx *m = calloc(1, sizeof *m);
  if (!m) {
    diag_plain(d, "out of memory");
    return 0;
  }
  *m = (Mx){.p = p, .g = g, .mp = out, .a = a};
  size_t n1 = (size_t)n + 1;
  m->gof = malloc(sizeof(int) * n1);
  m->ustart = calloc(n1 + 1, sizeof(int));
  m->users = malloc(sizeof(int) * ((size_t)edges + 1));
  m->taken = calloc(n1, 1);
  m->view_use = malloc(sizeof(int) * n1);
  m->cap = n > 16 ? n : 16;
  m->occupant = malloc(sizeof(int) * (size_t)m->cap);
  m->klass = malloc(sizeof(SizeExpr) * (size_t)m->cap);
  if (!m->gof || !m->ustart || !m->users || !m->taken || !m->view_use || !m->occupant || !m->klass) {
    mx_free(m);
    diag_plain(d, "out of memory");
    return 0;
  }
  jmp_buf oom, *saved = a->oom;
  if (setjmp(oom)) {
    mx_free(m);
    memset(out, 0, sizeof *out);
    arena_rethrow(a, saved);
    diag_plain(d, "out of memory");
    return 0;
  }
  a->oom = &oom;
  char err[512];
  int ok = ir_fusion_groups(p, graph, a, &m->fg, err, sizeof err);
  if (!ok) diag_plain(d, "memplan: task @%s: %s", g->task, err);
  if (ok) {
    out->slot = ARENA_ARRAY(a, int, n1);
    out->inplace = ARENA_ARRAY(a, int, n1);
    out->step = ARENA_ARRAY(a, int, n1);
    out->last_use = ARENA_ARRAY(a, int, n1);
    out->view = ARENA_ARRAY(a, int, n1);
    out->slots = ARENA_ARRAY(a, MemSlot, m->cap);
    for (int i = 0; i < n; i++) m->gof[i] = -1;
    ok = plan(m);
    if (!ok) diag_plain(d, "out of memory");
  }
  a->oom = saved;
  mx_free(m);
  return ok;
}

/* ---- checking ---------------------------------------------------------------------------------- */

int memplan_check(const IrProgram *p, const MemPlan *mp, char *err, size_t errlen) {
  const IrGraph *g = &p->graphs.v[mp->graph];
  int n = g->nodes.n, ok = 1;
  if (mp->nnodes != n) {
    snprintf(err, errlen, "the plan is for %d nodes, the graph has %d", mp->nnodes, n);
    return 0;
  }
  int *last = malloc(sizeof(int) * ((size_t)n + 1)), *cur = malloc(sizeof(int) * ((size_t)mp->nslots + 1));
  int *base = malloc(sizeof(int) * ((size_t)n + 1));
  char *ret = calloc((size_t)n + 1, 1);
  char *outside = calloc((size_t)n + 1, 1); /* read by a node of another group */
  if (!last || !cur || !ret || !base || !outside) {
    snprintf(err, errlen, "out of memory");
    ok = 0;
  }
  for (int k = 0; ok && k < n; k++) /* one pass over the edges (a scan per node was quadratic) */
    for (int j = 0; j < g->nodes.v[k].nin; j++)
      if (g->nodes.v[k].group != g->nodes.v[g->nodes.v[k].in[j]].group) outside[g->nodes.v[k].in[j]] = 1;
  for (int i = 0; ok && i < n; i++) {
    const IrNode *x = &g->nodes.v[i];
    last[i] = mp->step[i];
    base[i] = i;
    if (mp->view[i] >= 0) {
      if (x->op != OP_RESHAPE || mp->view[i] != x->in[0])
        ok = 0, snprintf(err, errlen, "%%%d: only a reshape is a view, of its operand", i);
      else
        base[i] = base[x->in[0]];
    }
  }
  for (int i = 0; ok && i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++)
      if (mp->step[i] > last[g->nodes.v[i].in[k]]) last[g->nodes.v[i].in[k]] = mp->step[i];
  for (int o = 0; ok && o < g->outputs.n; o++) ret[g->outputs.v[o].node] = 1;
  for (int i = n - 1; ok && i >= 0; i--) /* a buffer lives as long as its views */
    if (base[i] != i) {
      if (last[i] > last[base[i]]) last[base[i]] = last[i];
      ret[base[i]] |= ret[i];
    }
  for (int s = 0; ok && s < mp->nslots; s++) cur[s] = -1;
  for (int i = 0; ok && i < n; i++) {
    const IrNode *x = &g->nodes.v[i];
    int s = mp->slot[i], external = x->op == OP_INPUT || x->op == OP_PARAM || mp->slot[base[i]] == MP_EXTERNAL;
    if (i > 0 && mp->step[i] != mp->step[i - 1] + (x->group < 0 || x->group != g->nodes.v[i - 1].group))
      ok = 0, snprintf(err, errlen, "%%%d: step %d does not follow the node order", i, mp->step[i]);
    else if (external != (s == MP_EXTERNAL))
      ok = 0, snprintf(err, errlen, "%%%d: inputs, parameters and views of them, and only they, are external", i);
    else if (base[i] != i && s != mp->slot[base[i]])
      ok = 0, snprintf(err, errlen, "%%%d is a view of %%%d but not in its slot", i, base[i]);
    else if (s == MP_FUSED) {
      int inside = x->group >= 0 && !ret[i] && !outside[i];
      if (!inside) ok = 0, snprintf(err, errlen, "%%%d has no buffer but is read outside its group", i);
    } else if (s >= mp->nslots || (s < 0 && !external)) {
      ok = 0, snprintf(err, errlen, "%%%d: invalid slot %d", i, s);
    } else if (s >= 0 && base[i] == i) {
      int prev = cur[s];
      if (prev >= 0 && ret[prev])
        ok = 0, snprintf(err, errlen, "%%%d overwrites %%%d in s%d, which the graph returns", i, prev, s);
      else if (prev >= 0 && !(mp->step[i] > last[prev] || (mp->step[i] == last[prev] && mp->inplace[i] == prev)))
        ok = 0, snprintf(err, errlen, "%%%d overwrites %%%d in s%d while it is live (step %d <= %d)", i, prev, s,
                         mp->step[i], last[prev]);
      cur[s] = i;
    }
    int x2 = mp->inplace[i];
    if (ok && x2 >= 0) {
      SizeExpr a = size_numel(&g->nodes.v[x2].type), b = size_numel(&x->type);
      if (x2 >= i || base[x2] != x2 || mp->slot[x2] != s || g->nodes.v[x2].type.dt != x->type.dt || !size_eq(&a, &b))
        ok = 0, snprintf(err, errlen, "%%%d cannot take over the slot of %%%d", i, x2);
    }
  }
  free(last);
  free(cur);
  free(base);
  free(ret);
  free(outside);
  return ok;
}

int64_t memplan_slot_bytes(const MemPlan *mp, int s, const int64_t *symvals, const int *elsize) {
  int64_t best = 0;
  for (int i = 0; i < mp->slots[s].nsizes; i++) {
    const SlotSize *z = &mp->slots[s].sizes[i];
    int64_t b = size_eval(&z->numel, symvals) * (elsize ? elsize[z->dt] : dtype_size(z->dt));
    if (b > best) best = b;
  }
  return best;
}

/* ---- dump ------------------------------------------------------------------------------------------ */

typedef Vec(SizeExpr) Poly;

static void poly_add(Arena *a, Poly *p, SizeExpr t) {
  for (int i = 0; i < p->n; i++)
    if (size_same_class(&p->v[i], &t)) {
      p->v[i].c += t.c;
      return;
    }
  vec_push(a, *p, t);
}

static void poly_print(StrBuf *b, const IrProgram *p, Poly *q) {
  for (int i = 1; i < q->n; i++) /* more factors first, then by the factors */
    for (int j = i; j > 0; j--) {
      SizeExpr *x = &q->v[j - 1], *y = &q->v[j];
      int swap = x->nf < y->nf;
      for (int k = 0; !swap && x->nf == y->nf && k < x->nf; k++) {
        int c = dim_cmp(x->f[k], y->f[k]);
        if (c) {
          swap = c > 0;
          break;
        }
      }
      if (!swap) break;
      SizeExpr t = *x;
      *x = *y;
      *y = t;
    }
  if (q->n == 0) sb_puts(b, "0");
  for (int i = 0; i < q->n; i++) {
    if (i) sb_puts(b, " + ");
    size_print(b, p, &q->v[i]);
  }
}

void memplan_dump(StrBuf *b, const IrProgram *p, const MemPlan *mp) {
  const IrGraph *g = &p->graphs.v[mp->graph];
  Arena a;
  arena_init(&a);
  Poly arena_total = {0}, plain = {0};
  int k = 0, nin = 0;
  while (nin < g->nodes.n && g->nodes.v[nin].op == OP_INPUT) nin++;
  sb_printf(b, "memplan @%s(", g->task);
  for (int i = 0; i < g->nargs; i++) sb_printf(b, "%s%s", i ? ", " : "", g->args[i]);
  sb_printf(b, "): %d steps, %d slots\n", mp->nsteps, mp->nslots);
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *x = &g->nodes.v[i];
    if (x->op == OP_INPUT) continue;
    k = i - nin; /* inputs come first, so this is the printed number */
    if (mp->slot[i] == MP_FUSED) {
      sb_printf(b, "  slot %%%d fused (group %d)\n", k, x->group);
    } else if (mp->view[i] >= 0) {
      int v = mp->view[i];
      if (mp->slot[i] >= 0)
        sb_printf(b, "  slot %%%d -> s%d (view of ", k, mp->slot[i]);
      else
        sb_printf(b, "  slot %%%d external (view of ", k);
      if (g->nodes.v[v].op == OP_INPUT)
        sb_printf(b, "%%%s)\n", g->nodes.v[v].name);
      else
        sb_printf(b, "%%%d)\n", v - nin);
    } else if (mp->slot[i] >= 0) {
      sb_printf(b, "  slot %%%d -> s%d", k, mp->slot[i]);
      if (mp->inplace[i] >= 0) sb_printf(b, " (in place of %%%d)", mp->inplace[i] - nin);
      sb_putc(b, '\n');
      SizeExpr z = size_numel(&x->type);
      poly_add(&a, &plain, bytes_of(&z, x->type.dt));
    }
  }
  for (int s = 0; s < mp->nslots; s++) {
    const MemSlot *sl = &mp->slots[s];
    SizeExpr big = {0, 0, {{0}}};
    sb_printf(b, "  s%d:", s);
    for (int i = 0; i < sl->nsizes; i++) {
      sb_puts(b, i ? ", " : " ");
      size_print(b, p, &sl->sizes[i].numel);
      sb_printf(b, " %s", dtype_name(sl->sizes[i].dt));
      SizeExpr by = bytes_of(&sl->sizes[i].numel, sl->sizes[i].dt);
      if (i == 0 || by.c > big.c) big = by;
    }
    sb_putc(b, '\n');
    poly_add(&a, &arena_total, big);
  }
  sb_puts(b, "  arena: ");
  poly_print(b, p, &arena_total);
  sb_puts(b, " bytes; without reuse: ");
  poly_print(b, p, &plain);
  sb_puts(b, " bytes\n");
  arena_free(&a);
}

/* ---- the pipeline's step ------------------------------------------------------------------------- */

int pass_memplan(IrProgram *p, int graph, Diag *d) {
  Arena a;
  arena_init(&a);
  MemPlan mp;
  char err[512];
  int ok = memplan_build(p, graph, &a, &mp, d);
  if (ok && !memplan_check(p, &mp, err, sizeof err)) {
    diag_plain(d, "internal error: memplan: task @%s: %s", ir_graph_name(p, &p->graphs.v[graph]), err);
    ok = 0;
  }
  arena_free(&a);
  return ok;
}
