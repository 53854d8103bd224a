/* placement.c — assigns tasks to ranks (see placement.h): decides which tasks to split, then
 * searches placements of the copies — a greedy start, then moves and swaps while the
 * objective falls — over an incremental cost: per unit (a module instance, or one of
 * MAMMOTH's approximate components) and rank, how many copies there use it.
 *
 *   objective = cost + lambda · violation,   violation = Σ_r max(0, |load_r − mean| − tol·mean) / mean
 *
 * lambda exceeds any possible cost, so balance comes first and, within the tolerance, only
 * communication counts. Deterministic for a given seed (its own generator, no global state).
 */
#include "placement.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

/* ---- parameters and costs ------------------------------------------------------------------ */

int64_t place_module_bytes(const IrProgram *p, int module) {
  const IrModule *m = &p->modules.v[module];
  int64_t total = 0;
  for (int k = 0; k < m->params.n; k++) {
    const IrParam *q = &m->params.v[k];
    if (q->frozen || !dtype_is_float(q->type.dt)) continue;
    int64_t e = dtype_size(q->type.dt);
    for (int r = 0; r < q->type.rank; r++) e *= q->type.d[r].add;
    total += e;
  }
  return total;
}

double place_sync_rate(const SyncPolicy *s) {
  if (s->kind == SYNC_LOCAL) return 0;
  return 1.0 / (s->every >= 1 ? s->every : 1);
}

const char *place_method_name(PlaceMethod m) {
  return m == PLACE_EXACT ? "mamc" : m == PLACE_MAMMOTH ? "mammoth-approx" : "round-robin";
}

static uint64_t rnd_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the copies ------------------------------------------------------------------------------ */

typedef struct Copies {
  int T, C, R;
  int *k;               /* per task: its copies */
  int *first;           /* per task: its first copy */
  int *task;            /* per copy */
  double *load;         /* per copy */
  char *zero;           /* per copy: introduced at step 0 */
  int *fixed_rank;      /* per copy: the explicit rank, or -1 */
  double mean;
} Copies;

static double task_load(const PlaceInput *in, int t) {
  double tau = in->temperature > 0 ? in->temperature : 1.0;
  const PlaceTask *pt = &in->tasks[t];
  double active = 1;
  if (in->steps > 0)
    active = pt->introduce_at_step >= in->steps ? 0 : (double)(in->steps - pt->introduce_at_step) / (double)in->steps;
  return pow(pt->weight, 1.0 / tau) * active;
}

/* How many copies each task gets, then the copies themselves. */
static int make_copies(const PlaceInput *in, Arena *a, Copies *cp, Diag *d) {
  int T = in->ntasks, R = in->nranks;
  double tol = in->tolerance > 0 ? in->tolerance : 0.1;
  cp->T = T;
  cp->R = R;
  cp->k = ARENA_ARRAY(a, int, T + 1);
  cp->first = ARENA_ARRAY(a, int, T + 1);
  double *p = ARENA_ARRAY(a, double, T + 1), total = 0;
  char *busy = ARENA_ARRAY(a, char, R);
  int ok = 1;
  for (int t = 0; t < T; t++) {
    const PlaceTask *pt = &in->tasks[t];
    if (!(pt->weight > 0) || !isfinite(pt->weight)) {
      diag_plain(d, "task %s: weight %g: it must be > 0", pt->name, pt->weight);
      ok = 0;
    }
    for (int i = 0; i < pt->nranks; i++) {
      if (pt->ranks[i] < 0 || pt->ranks[i] >= R) {
        diag_plain(d, "task %s is given rank %d, but the run has %d process%s", pt->name, pt->ranks[i], R,
                   R == 1 ? "" : "es");
        ok = 0;
      } else if (pt->introduce_at_step == 0) {
        busy[pt->ranks[i]] = 1;
      }
    }
    cp->k[t] = pt->nranks > 0 ? pt->nranks : 1;
    p[t] = ok ? task_load(in, t) : 0;
    total += p[t];
  }
  if (!ok) return 0;
  cp->mean = total / R;
  /* split tasks heavier than a rank's share (plus the tolerance) */
  for (;;) {
    int best = -1;
    for (int t = 0; t < T; t++)
      if (!in->tasks[t].nranks && cp->k[t] < R && (best < 0 || p[t] / cp->k[t] > p[best] / cp->k[best])) best = t;
    if (best < 0 || p[best] / cp->k[best] <= cp->mean * (1 + tol)) break;
    cp->k[best]++;
  }
  /* enough copies starting at step 0 for every rank that explicit ranks leave idle */
  int need = 0, avail = 0;
  for (int r = 0; r < R; r++) need += !busy[r];
  for (int t = 0; t < T; t++)
    if (!in->tasks[t].nranks && in->tasks[t].introduce_at_step == 0) avail += cp->k[t];
  while (avail < need) {
    int best = -1;
    for (int t = 0; t < T; t++)
      if (!in->tasks[t].nranks && in->tasks[t].introduce_at_step == 0 && cp->k[t] < R &&
          (best < 0 || p[t] / cp->k[t] > p[best] / cp->k[best]))
        best = t;
    if (best < 0) {
      int r = 0;
      while (busy[r]) r++;
      diag_plain(d,
                 "rank %d has no task that starts at step 0: the explicit ranks leave it idle and no "
                 "automatically placed task starts at step 0 (every process must train from the first step)",
                 r);
      return 0;
    }
    cp->k[best]++;
    avail++;
  }
  cp->C = 0;
  for (int t = 0; t < T; t++) cp->first[t] = cp->C, cp->C += cp->k[t];
  cp->first[T] = cp->C;
  cp->task = ARENA_ARRAY(a, int, cp->C + 1);
  cp->load = ARENA_ARRAY(a, double, cp->C + 1);
  cp->zero = ARENA_ARRAY(a, char, cp->C + 1);
  cp->fixed_rank = ARENA_ARRAY(a, int, cp->C + 1);
  for (int t = 0; t < T; t++)
    for (int i = 0; i < cp->k[t]; i++) {
      int c = cp->first[t] + i;
      cp->task[c] = t;
      cp->load[c] = p[t] / cp->k[t];
      cp->zero[c] = in->tasks[t].introduce_at_step == 0;
      cp->fixed_rank[c] = in->tasks[t].nranks ? in->tasks[t].ranks[i] : -1;
    }
  return 1;
}

/* ---- units: what the cost counts ---------------------------------------------------------------- */

typedef struct Units {
  int U;
  double *w;      /* per unit: cost per holder beyond the first */
  int *n;         /* per task: its units */
  int **of;       /* per task */
} Units;

/* The graphs' module lists, for exact units and for holders. */
static int graph_reads(const IrModule *m, int graph) {
  for (int i = 0; i < m->used_by.n; i++)
    if (m->used_by.v[i] == graph) return 1;
  return 0;
}

static void exact_units(const PlaceInput *in, Arena *a, Units *u) {
  const IrProgram *p = in->prog;
  u->U = p->modules.n;
  u->w = ARENA_ARRAY(a, double, u->U + 1);
  for (int m = 0; m < u->U; m++)
    u->w[m] = 2.0 * place_sync_rate(&p->modules.v[m].sync) * (double)place_module_bytes(p, m);
  u->n = ARENA_ARRAY(a, int, in->ntasks + 1);
  u->of = ARENA_ARRAY(a, int *, in->ntasks + 1);
  for (int t = 0; t < in->ntasks; t++) {
    u->of[t] = ARENA_ARRAY(a, int, u->U + 1);
    for (int m = 0; m < u->U; m++)
      if (u->w[m] > 0 && graph_reads(&p->modules.v[m], in->tasks[t].graph)) u->of[t][u->n[t]++] = m;
  }
}

static void mammoth_units(const PlaceInput *in, Arena *a, Units *u) {
  int total = 0;
  for (int t = 0; t < in->ntasks; t++) total += in->tasks[t].ncomps;
  const char **names = ARENA_ARRAY(a, const char *, total + 1);
  u->U = 0;
  u->n = ARENA_ARRAY(a, int, in->ntasks + 1);
  u->of = ARENA_ARRAY(a, int *, in->ntasks + 1);
  for (int t = 0; t < in->ntasks; t++) {
    const PlaceTask *pt = &in->tasks[t];
    u->of[t] = ARENA_ARRAY(a, int, pt->ncomps + 1);
    for (int i = 0; i < pt->ncomps; i++) {
      int id = 0;
      while (id < u->U && strcmp(names[id], pt->comps[i]) != 0) id++;
      if (id == u->U) names[u->U++] = pt->comps[i];
      int dup = 0;
      for (int j = 0; j < u->n[t]; j++) dup |= u->of[t][j] == id;
      if (!dup) u->of[t][u->n[t]++] = id;
    }
  }
  u->w = ARENA_ARRAY(a, double, u->U + 1);
  for (int i = 0; i < u->U; i++) u->w[i] = 1; /* 1 · (#GPUs − 1) per component, one node */
}

/* ---- the search state ------------------------------------------------------------------------------ */

typedef struct Search {
  const Copies *cp;
  const Units *un;
  int R;
  int *rank_of;   /* per copy, -1 while unplaced */
  int *cnt;       /* [unit * R + rank] */
  int *h;         /* per unit: ranks using it */
  double *load;   /* per rank */
  int *zeros;     /* per rank: copies starting at step 0 */
  double tol, lambda, cost, viol;
} Search;

static double viol_of(const Search *s, double load) {
  double m = s->cp->mean;
  if (!(m > 0)) return 0;
  double v = fabs(load - m) - s->tol * m;
  return v > 0 ? v / m : 0;
}

static double objective(const Search *s) { return s->cost + s->lambda * s->viol; }

static void put(Search *s, int c, int r, int sign) {
  const Units *u = s->un;
  int t = s->cp->task[c];
  for (int i = 0; i < u->n[t]; i++) {
    int x = u->of[t][i];
    int *n = &s->cnt[(size_t)x * (size_t)s->R + (size_t)r];
    if (sign > 0 && (*n)++ == 0 && ++s->h[x] >= 2) s->cost += u->w[x];
    if (sign < 0 && --(*n) == 0 && s->h[x]-- >= 2) s->cost -= u->w[x];
  }
  s->viol -= viol_of(s, s->load[r]);
  s->load[r] += sign * s->cp->load[c];
  s->viol += viol_of(s, s->load[r]);
  s->zeros[r] += sign * s->cp->zero[c];
  s->rank_of[c] = sign > 0 ? r : -1;
}

/* No other copy of the same task on r. */
static int can_host(const Search *s, int c, int r) {
  int t = s->cp->task[c];
  for (int o = s->cp->first[t]; o < s->cp->first[t + 1]; o++)
    if (o != c && s->rank_of[o] == r) return 0;
  return 1;
}

static void search_init(Search *s, const Copies *cp, const Units *un, double tol, Arena *a) {
  memset(s, 0, sizeof *s);
  s->cp = cp;
  s->un = un;
  s->R = cp->R;
  s->tol = tol;
  s->rank_of = ARENA_ARRAY(a, int, cp->C + 1);
  s->cnt = ARENA_ARRAY(a, int, (size_t)un->U * (size_t)cp->R + 1);
  s->h = ARENA_ARRAY(a, int, un->U + 1);
  s->load = ARENA_ARRAY(a, double, cp->R);
  s->zeros = ARENA_ARRAY(a, int, cp->R);
  double wsum = 0;
  for (int x = 0; x < un->U; x++) wsum += un->w[x];
  s->lambda = 1e3 * (wsum * cp->R + 1);
}

/* Empties the state, then places the fixed copies (and, with `from`, every other copy). */
static void search_reset(Search *s, const int *from) {
  const Copies *cp = s->cp;
  memset(s->cnt, 0, sizeof(int) * ((size_t)s->un->U * (size_t)s->R));
  memset(s->h, 0, sizeof(int) * (size_t)s->un->U);
  memset(s->zeros, 0, sizeof(int) * (size_t)s->R);
  s->cost = 0;
  s->viol = 0;
  for (int r = 0; r < s->R; r++) s->load[r] = 0, s->viol += viol_of(s, 0);
  for (int c = 0; c < cp->C; c++) s->rank_of[c] = -1;
  for (int c = 0; c < cp->C; c++)
    if (cp->fixed_rank[c] >= 0 || from) put(s, c, cp->fixed_rank[c] >= 0 ? cp->fixed_rank[c] : from[c], +1);
}

/* Greedy: the copies in `order` (the movable ones), each to the rank that adds least cost
 * within the balance cap; a copy starting at step 0 goes to an idle rank when it is needed
 * there. */
static void greedy(Search *s, const int *order, int n) {
  const Copies *cp = s->cp;
  int lacking = 0, remaining = 0;
  for (int r = 0; r < s->R; r++) lacking += s->zeros[r] == 0;
  for (int i = 0; i < n; i++) remaining += cp->zero[order[i]];
  double cap = cp->mean * (1 + s->tol);
  for (int i = 0; i < n; i++) {
    int c = order[i], best = -1;
    int force = cp->zero[c] && remaining <= lacking;
    double best_score = 0;
    for (int r = 0; r < s->R; r++) {
      if (!can_host(s, c, r) || (force && s->zeros[r] > 0)) continue;
      double before = s->cost;
      put(s, c, r, +1);
      double over = s->load[r] - cap;
      double score = s->cost - before + (over > 0 && cp->mean > 0 ? s->lambda * over / cp->mean : 0);
      put(s, c, r, -1);
      s->cost = before; /* exact: undo the float round trip */
      if (best < 0 || score < best_score || (score == best_score && s->load[r] < s->load[best])) {
        best = r;
        best_score = score;
      }
    }
    if (best < 0) best = 0; /* cannot happen: k <= R copies of a task, and lacking ranks exist */
    if (cp->zero[c]) {
      remaining--;
      lacking -= s->zeros[best] == 0;
    }
    put(s, c, best, +1);
  }
}

static void shuffle(int *v, int n, uint64_t *rng) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(rnd_next(rng) % (uint64_t)(i + 1)), x = v[i];
    v[i] = v[j];
    v[j] = x;
  }
}

/* Moves, then swaps, while the objective falls (first improvement; moves take the best rank). */
static void local_search(Search *s, int *movable, int n, uint64_t *rng) {
  const Copies *cp = s->cp;
  for (int sweep = 0; sweep < 200; sweep++) {
    int improved = 0;
    shuffle(movable, n, rng);
    for (int i = 0; i < n; i++) {
      int c = movable[i], a = s->rank_of[c];
      if (cp->zero[c] && s->zeros[a] == 1) continue;
      double f0 = objective(s), best = f0 - 1e-9 * (fabs(f0) + 1);
      int to = -1;
      put(s, c, a, -1);
      for (int r = 0; r < s->R; r++) {
        if (r == a || !can_host(s, c, r)) continue;
        put(s, c, r, +1);
        double f = objective(s);
        put(s, c, r, -1);
        if (f < best) best = f, to = r;
      }
      put(s, c, to >= 0 ? to : a, +1);
      improved |= to >= 0;
    }
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) {
        int c1 = movable[i], c2 = movable[j], a = s->rank_of[c1], b = s->rank_of[c2];
        if (a == b || cp->task[c1] == cp->task[c2]) continue;
        if (s->zeros[a] - cp->zero[c1] + cp->zero[c2] < 1 || s->zeros[b] - cp->zero[c2] + cp->zero[c1] < 1) continue;
        double f0 = objective(s);
        put(s, c1, a, -1);
        put(s, c2, b, -1);
        if (can_host(s, c1, b) && can_host(s, c2, a)) {
          put(s, c1, b, +1);
          put(s, c2, a, +1);
          if (objective(s) < f0 - 1e-9 * (fabs(f0) + 1)) {
            improved = 1;
            continue;
          }
          put(s, c1, b, -1);
          put(s, c2, a, -1);
        }
        put(s, c1, a, +1);
        put(s, c2, b, +1);
      }
    if (!improved) break;
  }
}

/* Copies dealt in task order over the ranks (fixed copies stay). */
static void round_robin(const Copies *cp, int *rank_of) {
  int j = 0;
  for (int c = 0; c < cp->C; c++) rank_of[c] = cp->fixed_rank[c] >= 0 ? cp->fixed_rank[c] : j++ % cp->R;
}

static int busy_everywhere(const Copies *cp, const int *rank_of, Arena *a) {
  char *z = ARENA_ARRAY(a, char, cp->R);
  for (int c = 0; c < cp->C; c++)
    if (cp->zero[c]) z[rank_of[c]] = 1;
  for (int r = 0; r < cp->R; r++)
    if (!z[r]) return 0;
  return 1;
}

/* The best placement found from `restarts` greedy starts and the extra starts given. */
static void search_best(const PlaceInput *in, const Copies *cp, const Units *un, Arena *a, const int *const *starts,
                        int nstarts, int *best) {
  Search s;
  double tol = in->tolerance > 0 ? in->tolerance : 0.1;
  search_init(&s, cp, un, tol, a);
  int *movable = ARENA_ARRAY(a, int, cp->C + 1), n = 0;
  for (int c = 0; c < cp->C; c++)
    if (cp->fixed_rank[c] < 0) movable[n++] = c;
  int *order = ARENA_ARRAY(a, int, cp->C + 1);
  double *key = ARENA_ARRAY(a, double, cp->C + 1);
  uint64_t rng = in->seed ^ 0x706c6163656d656eull;
  int restarts = in->restarts > 0 ? in->restarts : 8;
  double best_f = INFINITY;
  for (int run = 0; run < restarts + nstarts; run++) {
    if (run < restarts) {
      memcpy(order, movable, sizeof(int) * (size_t)n);
      for (int i = 0; i < n; i++) key[order[i]] = cp->load[order[i]] * (run ? 0.5 + (double)(rnd_next(&rng) >> 11) * 0x1p-53 : 1);
      for (int i = 1; i < n; i++) /* heaviest first (insertion sort: stable, n is small) */
        for (int j = i; j > 0 && key[order[j]] > key[order[j - 1]]; j--) {
          int x = order[j];
          order[j] = order[j - 1];
          order[j - 1] = x;
        }
      search_reset(&s, NULL);
      greedy(&s, order, n);
    } else {
      search_reset(&s, starts[run - restarts]);
    }
    local_search(&s, movable, n, &rng);
    search_reset(&s, memcpy(order, s.rank_of, sizeof(int) * (size_t)cp->C)); /* exact objective */
    double f = objective(&s);
    if (f < best_f) {
      best_f = f;
      memcpy(best, s.rank_of, sizeof(int) * (size_t)cp->C);
    }
  }
}

/* ---- the result ------------------------------------------------------------------------------------ */

static void finish(const PlaceInput *in, const Copies *cp, const int *rank_of, Arena *a, Placement *out) {
  const IrProgram *p = in->prog;
  int R = cp->R, M = p->modules.n;
  double tau = in->temperature > 0 ? in->temperature : 1.0;
  out->nranks = R;
  out->ncopies = cp->C;
  out->copies = ARENA_ARRAY(a, PlaceCopy, cp->C + 1);
  out->load = ARENA_ARRAY(a, double, R);
  out->mean_load = cp->mean;
  int n = 0;
  for (int t = 0; t < cp->T; t++) {
    const PlaceTask *pt = &in->tasks[t];
    int k = cp->k[t], base = n;
    for (int i = 0; i < k; i++) {
      int c = cp->first[t] + i;
      int stride = pt->stride > 0 ? pt->stride : 1;
      PlaceCopy x = {t, rank_of[c], stride * k, pt->offset + i * stride, pt->weight * pow(k, -tau), cp->load[c],
                     cp->fixed_rank[c] >= 0};
      int j = n++; /* insertion by rank among this task's copies */
      while (j > base && out->copies[j - 1].rank > x.rank) out->copies[j] = out->copies[j - 1], j--;
      out->copies[j] = x;
    }
    if (cp->fixed_rank[cp->first[t]] < 0) /* automatic splits: offsets follow the ranks */
      for (int i = 0; i < k; i++) out->copies[base + i].offset = pt->offset + i * (pt->stride > 0 ? pt->stride : 1);
  }
  for (int c = 0; c < cp->C; c++) out->load[out->copies[c].rank] += out->copies[c].load;
  out->imbalance = 0;
  for (int r = 0; r < R && cp->mean > 0; r++) {
    double dev = fabs(out->load[r] / cp->mean - 1);
    if (dev > out->imbalance) out->imbalance = dev;
  }
  out->nmodules = M;
  out->nholders = ARENA_ARRAY(a, int, M + 1);
  out->holders = ARENA_ARRAY(a, int *, M + 1);
  char *held = ARENA_ARRAY(a, char, R);
  out->cost = 0;
  for (int m = 0; m < M; m++) {
    memset(held, 0, (size_t)R);
    for (int c = 0; c < cp->C; c++)
      if (graph_reads(&p->modules.v[m], in->tasks[out->copies[c].task].graph)) held[out->copies[c].rank] = 1;
    out->holders[m] = ARENA_ARRAY(a, int, R);
    for (int r = 0; r < R; r++)
      if (held[r]) out->holders[m][out->nholders[m]++] = r;
    if (out->nholders[m] > 1)
      out->cost += 2.0 * place_sync_rate(&p->modules.v[m].sync) * (double)place_module_bytes(p, m) *
                   (out->nholders[m] - 1);
  }
}

int place_run(const PlaceInput *in, PlaceMethod method, Arena *a, Placement *out, Diag *d) {
  memset(out, 0, sizeof *out);
  double t0 = now_s();
  if (in->nranks < 1 || in->ntasks < 1) {
    diag_plain(d, "placement needs at least one process and one task (got %d and %d)", in->nranks, in->ntasks);
    return 0;
  }
  Copies cp;
  if (!make_copies(in, a, &cp, d)) return 0;
  int *rank_of = ARENA_ARRAY(a, int, cp.C + 1);
  if (method == PLACE_ROUNDROBIN) {
    round_robin(&cp, rank_of);
  } else {
    Units un;
    if (method == PLACE_MAMMOTH) {
      mammoth_units(in, a, &un);
      search_best(in, &cp, &un, a, NULL, 0, rank_of);
    } else {
      /* the baselines' placements are starts too: the result is never worse than theirs */
      Units mu;
      mammoth_units(in, a, &mu);
      int *mam = ARENA_ARRAY(a, int, cp.C + 1), *rr = ARENA_ARRAY(a, int, cp.C + 1);
      search_best(in, &cp, &mu, a, NULL, 0, mam);
      round_robin(&cp, rr);
      const int *starts[2] = {mam, rr};
      exact_units(in, a, &un);
      search_best(in, &cp, &un, a, starts, busy_everywhere(&cp, rr, a) ? 2 : 1, rank_of);
    }
  }
  finish(in, &cp, rank_of, a, out);
  out->seconds = now_s() - t0;
  return 1;
}

int place_rank_copies(const Placement *pl, int rank, int *out) {
  int n = 0;
  for (int c = 0; c < pl->ncopies; c++)
    if (pl->copies[c].rank == rank) out[n++] = c;
  return n;
}

void place_apply(IrProgram *p, const Placement *pl) {
  for (int m = 0; m < p->modules.n && m < pl->nmodules; m++) {
    IrModule *mod = &p->modules.v[m];
    mod->ranks.n = 0;
    for (int i = 0; i < pl->nholders[m]; i++) vec_push(p->arena, mod->ranks, pl->holders[m][i]);
  }
}
