/* comm_plan.c — the communication plan, the per-step schedule and the byte accounting of
 * comm.h: groups and buckets from the placed module table (identical on every rank by
 * construction: nothing here reads local data), trainers/receivers per bucket and step, and
 * the bytes each rank sends — at a step, in expectation, at the lower bound, and as MAMMOTH
 * would. The pass that uses the plan is comm.c.
 */
#include "comm.h"

#include <stddef.h>
#include <stdlib.h>

#include "placement.h"

/* ---- groups ----------------------------------------------------------------------------------- */

static int cmp_ranks(const int *a, int na, const int *b, int nb) {
  for (int i = 0; i < na && i < nb; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return na < nb ? -1 : na > nb;
}

static int same_ints(const int *a, int na, const int *b, int nb) {
  return na == nb && (na == 0 || memcmp(a, b, sizeof(int) * (size_t)na) == 0);
}

static const char *group_name(Arena *a, const int *r, int n) {
  StrBuf b;
  sb_init(&b);
  sb_puts(&b, "ranks[");
  for (int i = 0; i < n; i++) sb_printf(&b, "%s%d", i ? ", " : "", r[i]);
  sb_putc(&b, ']');
  const char *s = arena_strdup(a, b.s ? b.s : "ranks[]");
  sb_free(&b);
  return s;
}

/* ---- the plan --------------------------------------------------------------------------------- */

static int64_t param_numel(const IrParam *q) {
  int64_t e = 1;
  for (int r = 0; r < q->type.rank; r++) e *= q->type.d[r].add;
  return e;
}

static int trainable(const IrParam *q) { return !q->frozen && dtype_is_float(q->type.dt); }

/* Two EVERY modules share buckets when their holders, graphs and `every` are the same. */
static int same_class(const IrModule *a, const IrModule *b) {
  return a->sync.every == b->sync.every && same_ints(a->ranks.v, a->ranks.n, b->ranks.v, b->ranks.n) &&
         same_ints(a->used_by.v, a->used_by.n, b->used_by.v, b->used_by.n);
}

int comm_plan_build(const IrProgram *p, int nranks, int64_t bucket_bytes, Arena *a, CommPlan *out, Diag *d) {
  memset(out, 0, sizeof *out);
  int M = p->modules.n;
  out->nranks = nranks;
  out->ngraphs = p->graphs.n;
  out->bucket_bytes = bucket_bytes > 0 ? bucket_bytes : COMM_DEFAULT_BUCKET_BYTES;
  out->nmodules = M;
  out->modules = ARENA_ARRAY(a, CommModule, M + 1);
  out->groups = ARENA_ARRAY(a, CommGroup, M + 1);
  out->trains = ARENA_ARRAY(a, char *, M + 1);
  for (int m = 0; m < M; m++) {
    const IrModule *mod = &p->modules.v[m];
    out->trains[m] = ARENA_ARRAY(a, char, p->graphs.n + 1);
    for (int i = 0; i < mod->used_by.n; i++)
      if (mod->used_by.v[i] >= 0 && mod->used_by.v[i] < p->graphs.n) out->trains[m][mod->used_by.v[i]] = 1;
  }
  /* kinds, and the groups (distinct holder sets), sorted */
  for (int m = 0; m < M; m++) {
    const IrModule *mod = &p->modules.v[m];
    CommModule *cm = &out->modules[m];
    for (int i = 0; i < mod->ranks.n; i++)
      if (mod->ranks.v[i] < 0 || mod->ranks.v[i] >= nranks || (i && mod->ranks.v[i] <= mod->ranks.v[i - 1])) {
        diag_plain(d, "module @%s: holder ranks must be ascending and below %d", mod->name, nranks);
        return 0;
      }
    cm->bytes = place_module_bytes(p, m);
    cm->group = -1;
    cm->first_bucket = -1;
    cm->every = mod->sync.every;
    if (mod->sync.kind == SYNC_LOCAL)
      cm->kind = COMM_LOCAL;
    else if (mod->ranks.n < 2 || cm->bytes == 0)
      cm->kind = COMM_NONE;
    else /* every(n > 1) is parameter averaging in rounds of n steps, as outer (the runtime's view) */
      cm->kind = mod->sync.kind == SYNC_OUTER || mod->sync.every > 1 ? COMM_OUTER : COMM_EVERY;
    if (cm->kind != COMM_EVERY && cm->kind != COMM_OUTER) continue;
    int g = 0;
    while (g < out->ngroups && !same_ints(out->groups[g].ranks, out->groups[g].n, mod->ranks.v, mod->ranks.n)) g++;
    if (g == out->ngroups) {
      int at = 0; /* sorted insertion */
      while (at < out->ngroups && cmp_ranks(out->groups[at].ranks, out->groups[at].n, mod->ranks.v, mod->ranks.n) < 0)
        at++;
      for (int k = 0; k < m; k++)
        if (out->modules[k].group >= at) out->modules[k].group++;
      memmove(&out->groups[at + 1], &out->groups[at], sizeof(CommGroup) * (size_t)(out->ngroups - at));
      CommGroup *ng = &out->groups[at];
      ng->n = mod->ranks.n;
      ng->ranks = ARENA_ARRAY(a, int, ng->n);
      memcpy(ng->ranks, mod->ranks.v, sizeof(int) * (size_t)ng->n);
      ng->name = group_name(a, ng->ranks, ng->n);
      out->ngroups++;
      g = at;
    }
    cm->group = g;
  }
  /* buckets: walk the gradients in the global order (modules and parameters from last to
   * first); a tensor joins its class's open bucket when that is the last bucket opened and
   * has room, else opens a new one — so every bucket is a contiguous stretch of the walk */
  int maxb = 1;
  for (int m = 0; m < M; m++) maxb += p->modules.v[m].params.n;
  out->buckets = ARENA_ARRAY(a, CommBucket, maxb);
  int *open = ARENA_ARRAY(a, int, M + 1); /* per module: the open bucket of its class, or -1 */
  int *cls = ARENA_ARRAY(a, int, M + 1);  /* per module: the first module of its class */
  for (int m = 0; m < M; m++) {
    open[m] = -1;
    cls[m] = m;
    for (int k = 0; k < m && cls[m] == m; k++)
      if (out->modules[k].kind == COMM_EVERY && out->modules[m].kind == COMM_EVERY &&
          same_class(&p->modules.v[k], &p->modules.v[m]))
        cls[m] = cls[k];
  }
  for (int m = M - 1; m >= 0; m--) {
    const IrModule *mod = &p->modules.v[m];
    if (out->modules[m].kind != COMM_EVERY) continue;
    for (int q = mod->params.n - 1; q >= 0; q--) {
      const IrParam *pq = &mod->params.v[q];
      if (!trainable(pq)) continue;
      int64_t bytes = param_numel(pq) * dtype_size(pq->type.dt);
      int b = open[cls[m]];
      if (b < 0 || b != out->nbuckets - 1 || out->buckets[b].bytes + bytes > out->bucket_bytes) {
        b = out->nbuckets++;
        CommBucket *nb = &out->buckets[b];
        nb->group = out->modules[m].group;
        nb->every = mod->sync.every;
        nb->nused = mod->used_by.n;
        nb->used_by = ARENA_ARRAY(a, int, nb->nused + 1);
        memcpy(nb->used_by, mod->used_by.v, sizeof(int) * (size_t)nb->nused);
        nb->trained_by = out->trains[m];
        nb->members = ARENA_ARRAY(a, CommMember, maxb);
        open[cls[m]] = b;
      }
      CommBucket *bk = &out->buckets[b];
      bk->members[bk->n++] = (CommMember){m, q, bk->numel, param_numel(pq), pq->type.dt};
      bk->numel += param_numel(pq);
      bk->bytes += bytes;
      CommModule *cm = &out->modules[m];
      if (cm->first_bucket < 0 || b < cm->first_bucket) cm->first_bucket = b;
      cm->nbuckets = b - cm->first_bucket + 1;
    }
  }
  return 1;
}

int comm_bucket_has_rank(const CommPlan *pl, int b, int rank) {
  const CommGroup *g = &pl->groups[pl->buckets[b].group];
  for (int i = 0; i < g->n; i++)
    if (g->ranks[i] == rank) return 1;
  return 0;
}

/* ---- the schedule ------------------------------------------------------------------------------- */

int comm_step_alloc(const CommPlan *pl, CommStep *st) {
  memset(st, 0, sizeof *st);
  int64_t total = 0;
  for (int b = 0; b < pl->nbuckets; b++) total += 2 * pl->groups[pl->buckets[b].group].n;
  st->slots = calloc((size_t)pl->nbuckets + 1, sizeof(CommSlot));
  st->storage = malloc(sizeof(int) * (size_t)(total + 1));
  st->graph_of_rank = calloc((size_t)pl->nranks + 1, sizeof(int));
  if (!st->slots || !st->storage || !st->graph_of_rank) {
    comm_step_free(st);
    return 0;
  }
  st->nslots = pl->nbuckets;
  int *at = st->storage;
  for (int b = 0; b < pl->nbuckets; b++) {
    int n = pl->groups[pl->buckets[b].group].n;
    st->slots[b].trainers = at;
    st->slots[b].receivers = at + n;
    at += 2 * n;
  }
  return 1;
}

void comm_step_free(CommStep *st) {
  free(st->slots);
  free(st->storage);
  free(st->graph_of_rank);
  memset(st, 0, sizeof *st);
}

static int sync_step(int every, int64_t step) { return every <= 1 || (step + 1) % every == 0; }

void comm_schedule(const CommPlan *pl, int64_t step, const int *graph_of_rank, CommStep *st) {
  st->step = step;
  memcpy(st->graph_of_rank, graph_of_rank, sizeof(int) * (size_t)pl->nranks);
  for (int b = 0; b < pl->nbuckets && b < st->nslots; b++) {
    const CommBucket *bk = &pl->buckets[b];
    const CommGroup *g = &pl->groups[bk->group];
    CommSlot *s = &st->slots[b];
    s->ntrainers = s->nreceivers = 0;
    for (int i = 0; i < g->n; i++) {
      int gr = graph_of_rank[g->ranks[i]];
      if (gr >= 0 && gr < pl->ngraphs && bk->trained_by[gr])
        s->trainers[s->ntrainers++] = g->ranks[i];
      else
        s->receivers[s->nreceivers++] = g->ranks[i];
    }
    s->active = s->ntrainers > 0 && sync_step(bk->every, step);
    if (!s->active) s->ntrainers = s->nreceivers = 0;
    s->root = s->active ? s->trainers[0] : -1;
  }
}

int comm_outer_due(const CommPlan *pl, int m, int64_t step) {
  const CommModule *cm = &pl->modules[m];
  return cm->kind == COMM_OUTER && (step + 1) % (cm->every > 0 ? cm->every : 1) == 0;
}

/* ---- bytes ------------------------------------------------------------------------------------------ */

enum { TOKEN_BYTES = 4, NORM_BYTES = 4 };
#define FIELD(x, off) (*(double *)((char *)(x) + (off)))

static void add_norm(const CommPlan *pl, int clip, CommBytes *pr) {
  int R = pl->nranks;
  for (int r = 0; clip && R > 1 && r < R; r++) pr[r].control += 2.0 * (R - 1) / R * NORM_BYTES;
}

/* Wire bytes of one reduction + broadcast among holders h[0..n) of which trains[i] trained
 * (at least one), B bytes, added to the field at `off` of each rank's CommBytes. */
static void wire_at(const int *h, int n, const char *trains, double B, CommBytes *pr, size_t off) {
  int k = 0, root = -1;
  for (int i = 0; i < n; i++)
    if (trains[i]) k++, root = root < 0 ? h[i] : root;
  for (int i = 0; i < n && k > 1; i++)
    if (trains[i]) FIELD(&pr[h[i]], off) += 2.0 * (k - 1) / k * B;
  FIELD(&pr[root], off) += (n - k) * B;
}

void comm_step_bytes(const CommPlan *pl, const CommStep *st, int clip, CommBytes *pr) {
  memset(pr, 0, sizeof(CommBytes) * (size_t)pl->nranks);
  char *tr = malloc((size_t)pl->nranks + 1);
  if (!tr) return;
  for (int b = 0; b < pl->nbuckets; b++) {
    const CommSlot *s = &st->slots[b];
    const CommBucket *bk = &pl->buckets[b];
    const CommGroup *g = &pl->groups[bk->group];
    if (!s->active) continue;
    int k = s->ntrainers, n = g->n;
    double B = (double)bk->bytes;
    for (int i = 0; i < n; i++) {
      tr[i] = 0;
      for (int j = 0; j < k; j++) tr[i] |= s->trainers[j] == g->ranks[i];
    }
    wire_at(g->ranks, n, tr, B, pr, offsetof(CommBytes, wire));
    for (int i = 0; i < k && k > 1; i++) {
      pr[s->trainers[i]].payload += B;
      pr[s->trainers[i]].control += 2.0 * (k - 1) / k * TOKEN_BYTES;
    }
    if (s->nreceivers) pr[s->root].payload += B;
    for (int i = 0; i < n; i++) pr[g->ranks[i]].mammoth += 2.0 * (n - 1) / n * B;
  }
  /* the lower bound, module by module from the tasks (not from the buckets) */
  for (int m = 0; m < pl->nmodules; m++) {
    const CommModule *cm = &pl->modules[m];
    if (cm->kind != COMM_EVERY || !sync_step(cm->every, st->step)) continue;
    const CommGroup *g = &pl->groups[cm->group];
    int k = 0;
    for (int i = 0; i < g->n; i++) {
      int gr = st->graph_of_rank[g->ranks[i]];
      tr[i] = gr >= 0 && gr < pl->ngraphs && pl->trains[m][gr];
      k += tr[i];
    }
    if (k) wire_at(g->ranks, g->n, tr, (double)cm->bytes, pr, offsetof(CommBytes, minimum));
  }
  free(tr);
  add_norm(pl, clip, pr);
}

/* P(exactly j of the holders other than `skip` train), j = 0 .. n-1, into dist. */
static void poisson_binomial(const double *q, int n, int skip, double *dist) {
  for (int j = 0; j <= n; j++) dist[j] = 0;
  dist[0] = 1;
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (i == skip) continue;
    m++;
    for (int j = m; j >= 0; j--) dist[j] = dist[j] * (1 - q[i]) + (j ? dist[j - 1] * q[i] : 0);
  }
}

/* Expected bytes of one reduction + broadcast (see wire_at) when holder i trains with
 * probability q[i]: into the field at `off` (wire terms), and payload/control when asked. */
static void expect_at(const int *h, int n, const double *q, double B, double rate, double *dist, CommBytes *pr,
                      size_t off, int all) {
  double below = 1, none = 1; /* P(no holder below i trains), P(no holder trains) */
  for (int i = 0; i < n; i++) none *= 1 - q[i];
  for (int i = 0; i < n; i++) {
    CommBytes *x = &pr[h[i]];
    poisson_binomial(q, n, i, dist);
    double ar = 0; /* E[2(k-1)/k | i trains], k = 1 + the others that train */
    for (int j = 1; j < n; j++) ar += dist[j] * 2.0 * j / (j + 1);
    double idle_above = 0, all_above = 1;
    for (int j = i + 1; j < n; j++) idle_above += 1 - q[j], all_above *= q[j];
    double root = q[i] * below; /* i is the lowest trainer */
    FIELD(x, off) += rate * (q[i] * ar * B + root * (i + idle_above) * B);
    if (all) {
      x->payload += rate * (q[i] * (1 - dist[0]) * B + root * (i > 0 ? 1 : 1 - all_above) * B);
      x->control += rate * q[i] * ar * TOKEN_BYTES;
      x->mammoth += rate * (1 - none) * 2.0 * (n - 1) / n * B;
    }
    below *= 1 - q[i];
  }
}

static void holder_probs(const CommPlan *pl, const CommGroup *g, const char *trains, const double *const *prob,
                         double *q) {
  for (int i = 0; i < g->n; i++) {
    q[i] = 0;
    for (int gr = 0; gr < pl->ngraphs; gr++)
      if (trains[gr]) q[i] += prob[g->ranks[i]][gr];
    if (q[i] > 1) q[i] = 1;
  }
}

void comm_expected_bytes(const CommPlan *pl, const double *const *prob, int clip, CommBytes *pr) {
  memset(pr, 0, sizeof(CommBytes) * (size_t)pl->nranks);
  int maxn = 1;
  for (int g = 0; g < pl->ngroups; g++)
    if (pl->groups[g].n > maxn) maxn = pl->groups[g].n;
  double *q = malloc(sizeof(double) * (size_t)(maxn + 1)), *dist = malloc(sizeof(double) * (size_t)(maxn + 2));
  if (q && dist) {
    for (int b = 0; b < pl->nbuckets; b++) {
      const CommBucket *bk = &pl->buckets[b];
      const CommGroup *g = &pl->groups[bk->group];
      holder_probs(pl, g, bk->trained_by, prob, q);
      expect_at(g->ranks, g->n, q, (double)bk->bytes, 1.0 / (bk->every > 1 ? bk->every : 1), dist, pr,
                offsetof(CommBytes, wire), 1);
    }
    for (int m = 0; m < pl->nmodules; m++) {
      const CommModule *cm = &pl->modules[m];
      if (cm->kind != COMM_EVERY) continue;
      const CommGroup *g = &pl->groups[cm->group];
      holder_probs(pl, g, pl->trains[m], prob, q);
      expect_at(g->ranks, g->n, q, (double)cm->bytes, 1.0 / (cm->every > 1 ? cm->every : 1), dist, pr,
                offsetof(CommBytes, minimum), 0);
    }
  }
  free(q);
  free(dist);
  add_norm(pl, clip, pr);
}
