/* trainer_sync.c — what makes a step the same on one process and on many: the placement of
 * tasks on ranks, the module groups (instances held by the same ranks), the per-rank task
 * schedule every rank can compute for every other, and the gradient exchange.
 *
 * A step: each rank r trains task k_r = its sampler's draw at step s; its gradients, scaled by
 * the batch's target tokens w_r, are summed into gsum, with w_r into wsum per module. Then,
 * group by group in the global order, among the ranks T that trained a module of the group:
 *   T empty            nothing (those modules do not step);
 *   T = the holders     all-reduce (gsum, wsum) over the holders;
 *   otherwise           all-reduce over T, then broadcast from the lowest of T to the
 *                       holders, so holders that did not train get the same update and no
 *                       rank sends zeros.
 * The combined gradient of a module is gsum / wsum: the gradient of the mean loss over every
 * target token of the step. Emulating N ranks in one process runs every rank's task and sums
 * in rank order — the reference a distributed run is tested against.
 *
 * The outer rounds (DEPT, DiLoCo) follow the same rule at the end of each round: only the
 * holders that trained a module in the round combine it, and the holders that sat the round
 * out (dept.sources_per_round) receive the result in one broadcast (see "outer rounds" below).
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "rounds.h"
#include "dist.h"
#include "trainer_internal.h"

/* ---- placement and groups ---------------------------------------------------------------- */

static int uses_module(const IrProgram *p, int graph, int m) {
  const IrModule *mod = &p->modules.v[m];
  for (int i = 0; i < mod->used_by.n; i++)
    if (mod->used_by.v[i] == graph) return 1;
  return 0;
}

static int same_policy(SyncPolicy a, SyncPolicy b) {
  return a.kind == b.kind && a.every == b.every && a.lr == b.lr && a.momentum == b.momentum && a.nesterov == b.nesterov;
}

/* every(n > 1) is parameter averaging every n steps: outer(every = n, lr = 1, momentum = 0) */
static SyncPolicy effective_policy(SyncPolicy s) {
  if (s.kind == SYNC_EVERY && s.every > 1) return (SyncPolicy){SYNC_OUTER, s.every, 1.0, 0.0, 0};
  return s;
}

static int same_users(const IrProgram *p, int a, int b) {
  const IrModule *x = &p->modules.v[a], *y = &p->modules.v[b];
  return x->used_by.n == y->used_by.n && memcmp(x->used_by.v, y->used_by.v, sizeof(int) * (size_t)x->used_by.n) == 0;
}

int tsync_setup(Trainer *t, Diag *d) {
  const IrProgram *p = t->train;
  int R = t->nranks, M = p->modules.n;
  t->rank_tasks = calloc((size_t)R, sizeof(int *));
  t->rank_ntasks = calloc((size_t)R, sizeof(int));
  t->samplers = calloc((size_t)R, sizeof(Sampler));
  t->held = calloc((size_t)M + 1, 1);
  t->group_of = calloc((size_t)M + 1, sizeof(int));
  t->groups = calloc((size_t)M + 1, sizeof(TGroup));
  t->wsum = calloc((size_t)M + 1, sizeof(double));
  t->round_tokens = calloc((size_t)M + 1, sizeof(double));
  if (!t->rank_tasks || !t->rank_ntasks || !t->samplers || !t->held || !t->group_of || !t->groups || !t->wsum ||
      !t->round_tokens) {
    diag_plain(d, "out of memory");
    return 0;
  }
  for (int k = 0; k < t->ntasks; k++) {
    int r = t->tasks[k].spec.rank;
    if (r < 0 || r >= R) {
      diag_plain(d, "task %s is placed on rank %d, but the run has %d", t->tasks[k].spec.name, r, R);
      return 0;
    }
    t->rank_ntasks[r]++;
  }
  for (int r = 0; r < R; r++) {
    if (!t->rank_ntasks[r]) {
      diag_plain(d, "rank %d has no task to train (give every process at least one task)", r);
      return 0;
    }
    t->rank_tasks[r] = calloc((size_t)t->rank_ntasks[r], sizeof(int));
    if (!t->rank_tasks[r]) return diag_plain(d, "out of memory"), 0;
    int n = 0;
    SamplerTask *st = ARENA_ARRAY(&t->arena, SamplerTask, t->rank_ntasks[r]);
    for (int k = 0; k < t->ntasks; k++)
      if (t->tasks[k].spec.rank == r) {
        t->rank_tasks[r][n] = k;
        st[n++] = (SamplerTask){t->tasks[k].spec.name, t->tasks[k].spec.weight, t->tasks[k].spec.introduce_at_step};
      }
    double temp = t->opts.temperature > 0 ? t->opts.temperature : 1.0;
    if (sampler_init(&t->samplers[r], &t->arena, d, st, n, temp, t->opts.sampling_seed, (uint64_t)r) != 0) return 0;
  }
  /* holders of each module, then groups by identical holder sets in module order */
  int *hold = calloc((size_t)R, sizeof(int));
  if (!hold) return diag_plain(d, "out of memory"), 0;
  for (int m = 0; m < M; m++) {
    int nh = 0;
    for (int r = 0; r < R; r++) {
      int h = 0;
      for (int i = 0; i < t->rank_ntasks[r] && !h; i++) h = uses_module(p, t->tasks[t->rank_tasks[r][i]].spec.graph, m);
      if (h) hold[nh++] = r;
    }
    t->held[m] = 0;
    for (int i = 0; i < nh; i++) t->held[m] |= t->emulate || hold[i] == t->rank;
    SyncPolicy pol = effective_policy(p->modules.v[m].sync);
    if (t->emulate && nh > 1 && !(pol.kind == SYNC_EVERY && pol.every == 1)) {
      diag_plain(d, "module %s is synchronised %s: --emulate-ranks keeps one replica per module, so it needs "
                    "sync every(1) for modules several ranks hold", p->modules.v[m].name,
                 pol.kind == SYNC_LOCAL ? "locally" : "in outer rounds");
      free(hold);
      return 0;
    }
    t->has_outer |= pol.kind == SYNC_OUTER;
    /* a group: the same holders, policy and training graphs, so at every step each holder
     * either trained all of its modules or none (its trainers are well defined) */
    int g = 0;
    while (g < t->ngroups && !(t->groups[g].nholders == nh && same_policy(t->groups[g].sync, pol) &&
                               memcmp(t->groups[g].holders, hold, sizeof(int) * (size_t)nh) == 0 &&
                               same_users(p, t->groups[g].mods[0], m)))
      g++;
    if (g == t->ngroups) {
      t->groups[g].sync = pol;
      t->groups[g].exchanged = pol.kind == SYNC_EVERY;
      t->groups[g].nholders = nh;
      t->groups[g].holders = ARENA_ARRAY(&t->arena, int, nh ? nh : 1);
      memcpy(t->groups[g].holders, hold, sizeof(int) * (size_t)nh);
      t->groups[g].mods = ARENA_ARRAY(&t->arena, int, M);
      t->ngroups++;
    }
    t->groups[g].mods[t->groups[g].nmods++] = m;
    t->group_of[m] = g;
  }
  free(hold);
  return 1;
}

void tsync_free(Trainer *t) {
  for (int r = 0; r < t->nranks && t->rank_tasks; r++) free(t->rank_tasks[r]);
  free(t->rank_tasks);
  free(t->rank_ntasks);
  free(t->samplers);
  free(t->held);
  free(t->group_of);
  free(t->groups);
  free(t->wsum);
  free(t->round_tokens);
}

/* The task rank r trains at step s (0-based step index); -1 if none can be drawn. */
int tsync_task_of(const Trainer *t, int r, int64_t s) {
  int i = sampler_task_at(&t->samplers[r], s);
  return i < 0 ? -1 : t->rank_tasks[r][i];
}

/* ---- the exchange ------------------------------------------------------------------------------ */

static void sort_ints(int *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
      int x = v[j];
      v[j] = v[j - 1];
      v[j - 1] = x;
    }
}

static int64_t module_floats(const Trainer *t, int m) {
  int64_t n = 0;
  for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) n += t->gsum.t[q].n;
  return n;
}

/* Communicators are created collectively: every rank creates every set it may need, in the
 * global order, once at start-up (holders of each group), and trainer subsets on first use
 * — which every rank reaches at the same step because the schedule is shared. Ranks outside a
 * set still take part in its creation. */
int tsync_prepare_comms(Trainer *t, const int *task_of_rank, Diag *d) {
  Dist *ds = t->opts.dist;
  if (!ds || dist_size(ds) == 1) return 1;
  char err[512];
  for (int gi = 0; gi < t->ngroups; gi++) {
    TGroup *g = &t->groups[gi];
    if (dist_comm(ds, g->holders, g->nholders, err, sizeof err) < 0) goto fail;
    if (!task_of_rank || !g->exchanged) continue;
    int trainers[1024], nt = 0;
    for (int h = 0; h < g->nholders; h++) {
      int r = g->holders[h], k = task_of_rank[r], tr = 0;
      for (int i = 0; k >= 0 && i < g->nmods && !tr; i++) tr = uses_module(t->train, t->tasks[k].spec.graph, g->mods[i]);
      if (tr && nt < 1024) trainers[nt++] = r;
    }
    if (nt > 1 && nt < g->nholders && dist_comm(ds, trainers, nt, err, sizeof err) < 0) goto fail;
    if (nt > 0 && nt < g->nholders) { /* the broadcast set: the lowest trainer and the idle holders */
      int bset[1025], nb = 0;
      bset[nb++] = trainers[0];
      for (int h = 0; h < g->nholders; h++) {
        int r = g->holders[h], trained = 0;
        for (int i = 0; i < nt; i++) trained |= trainers[i] == r;
        if (!trained) bset[nb++] = r;
      }
      sort_ints(bset, nb);
      if (dist_comm(ds, bset, nb, err, sizeof err) < 0) goto fail;
    }
  }
  return 1;
fail:
  diag_plain(d, "creating communicators: %s", err);
  return 0;
}

/* The gradient norm: each every(1) module's combined gradient counted once (by the lowest of
 * its holders), summed over the world, plus this rank's own replicas of the modules that are
 * not exchanged every step (outer rounds, local: a DEPT worker clips its inner steps by its
 * own norm, whatever the other workers do) — with, in the same reduction, the gradient
 * payload bytes every rank sent this step (*world_payload). Each gradient's sum of squares is
 * t->gsq[q], which finish_step computed as it normalised the gradient (optim_scale_sq_norms). */
int tsync_norm(Trainer *t, double *norm, int64_t *world_payload, Diag *d) {
  double sq = 0, own = 0;
  for (int m = 0; m < t->train->modules.n; m++) {
    if (!t->held[m] || t->wsum[m] <= 0) continue;
    const TGroup *g = &t->groups[t->group_of[m]];
    if (!g->exchanged && !t->emulate) { /* outer, local: this rank's own replica (DEPT's inner steps) */
      for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) own += t->gsq[q];
      continue;
    }
    if (!t->emulate && t->opts.dist && g->holders[0] != t->rank) continue;
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) sq += t->gsq[q];
  }
  char err[512];
  /* v[2]: processes that saw a non-finite loss or local gradient (the numerical guard decides
   * every step the same way on every process); v[3]: processes asked to stop */
  double v[4] = {sq, (double)(t->payload_bytes - t->payload_reported), t->nonfinite_local || !isfinite(own),
                 tsync_stop_local(t)};
  t->payload_reported = t->payload_bytes;
  if (t->opts.dist && !dist_world_sum(t->opts.dist, v, 4, err, sizeof err)) {
    diag_plain(d, "gradient norm: %s", err);
    return 0;
  }
  *norm = sqrt(v[0] + own);
  *world_payload = (int64_t)v[1];
  t->nonfinite_world = (int)v[2];
  t->stop_world = v[3] > 0;
  return 1;
}

double tsync_stop_local(const Trainer *t) { return t->stop_flag && *t->stop_flag ? 1.0 : 0.0; }

void trainer_watch_stop(Trainer *t, const volatile sig_atomic_t *flag) { t->stop_flag = flag; }

/* ---- outer rounds (DEPT, DiLoCo) -------------------------------------------------------------------
 * A module synchronised in outer rounds trains locally on every holder; every H steps its
 * holders combine their replicas (runtime/rounds.h has the arithmetic):
 *   xbar = sum_k w_k theta_k / sum_k w_k,  w_k the tokens holder k trained it on in the round
 * (uniform when they are equal, as in DEPT), and the outer optimizer moves the anchor (the
 * parameters after the previous round): lr 1, momentum 0 is plain averaging (theta = xbar);
 * otherwise delta = anchor - xbar, m = mu m + delta, theta = anchor - lr (nesterov ? delta +
 * mu m : m). One local step with plain averaging equals data-parallel SGD.
 *
 * Who takes part. The round's participants P are the holders whose task trained the group at
 * some step of the round — a pure function of the shared schedule (each rank's sampler, and
 * dept.sources_per_round's draw), so every rank computes the same P without a message, and
 * `mamc plan` computes it too (tools/plan_dept.c). A holder outside P (a source that sat the
 * round out, or a rank that drew only other tasks) did not train: its replica is the anchor
 * and its weight is 0, so it has nothing to contribute — it only needs the result. Per group:
 *
 *   P = every holder (the usual case; dept.sources_per_round = all):
 *     1. the weights (control bytes): an f64 all-reduce over the holders of each module's
 *        round tokens, and for each trimmed table (DEPT TRIM) the rows each holder trained;
 *     2. the dense parameters: an f32 all-reduce of (w_k / W) theta_k (payload: every holder
 *        hands over the group's dense bytes D), skipped when nobody trained the group;
 *   some holders sit out (0 < |P| < H):
 *     1. the weights: an f64 all-reduce among P, then a broadcast from the lowest of P (the
 *        root) to the holders (control bytes);
 *     2. the dense parameters: an f32 reduction of (w_k / W) theta_k among P onto the root
 *        (each participant but the root hands over D), then the root broadcasts the sum to
 *        the holders (D, counted at the root). Per round the group costs K·D instead of H·D
 *        (payload; K = |P|), and on the wire (K − 1)·D + (H − 1)·D instead of the
 *        all-reduce's 2(H − 1)·D: the H − K sitters-out must each receive the D bytes of the
 *        result, which no scheme avoids, so the wire saving is (H − K)·D, not a factor K/H;
 *   nobody trained (P empty): no message; everyone goes back to the anchor;
 *   then, in every case:
 *     3. each trimmed table: the rows each holder trained, broadcast holder by holder to all
 *        holders (sitters-out send none and receive the others'), and the masked mean — a row
 *        averaged over the holders that trained it (trainer_dept.c).
 * Every holder applies the same outer step to the same xbar from the same anchor, so all end
 * with the same bits. The sums are those of the all-over-the-holders exchange minus its exact
 * zero terms (a sitter-out handed over 0 · theta): with at most two participants the result is
 * bit for bit the same; with three or more the reduction may associate the same terms in
 * another order (|difference| <= (K − 1) ulp-level rounding of the sum). MAMC_DEPT_EXCHANGE_ALL=1
 * makes every holder join every round's exchange as before (the oracle of
 * tests/dept/sources_test.sh). Communicators for P are created at the round's end by every
 * rank in group order (a world collective; cached by rank set, dist.h).
 *
 * Whatever nobody trained in the round goes back to the anchor, bit for bit. With
 * dept.moments = reset the group's AdamW moments and step counts then restart. The rounds'
 * payload joins the step's comm_bytes (a world sum at every step that ends a round). */

/* A parameter of the dense part of a round: not a trimmed table (its rows go apart), not
 * frozen (it never changes). */
static int dense_param(const Trainer *t, int m, int q) {
  return !t->row_tokens[q] && !t->train->modules.v[m].params.v[q - t->params.first[m]].frozen;
}

/* MAMC_DEPT_EXCHANGE_ALL=1: every holder joins every round (zeros from those that sat out). */
static int exchange_all(void) {
  const char *e = getenv("MAMC_DEPT_EXCHANGE_ALL");
  return e && *e && strcmp(e, "0") != 0;
}

/* The round's participants: the indices h (into g->holders, ascending) of the holders whose
 * task trained g at some step of the round that ends after `step` steps; the count, or -1
 * when out of memory. The same on every rank (the schedule is shared). */
static int round_participants(const Trainer *t, const TGroup *g, int64_t step, int *out) {
  int64_t s0 = step - g->sync.every < 0 ? 0 : step - g->sync.every, drawn = -1;
  char *in = t->round_in ? malloc((size_t)t->opts.nsources + 1) : NULL;
  if (t->round_in && !in) return -1;
  int n = 0;
  for (int h = 0; h < g->nholders; h++) {
    int r = g->holders[h], trained = 0;
    for (int64_t s = s0; s < step && !trained; s++) {
      int k = tsync_task_of(t, r, s);
      if (k < 0) continue;
      if (in) { /* dept.sources_per_round: the source must be in step s's draw */
        int64_t round = s / t->opts.round_every;
        if (round != drawn)
          dept_round_sources(t->opts.sampling_seed, round, t->opts.nsources, t->opts.sources_per_round, in);
        drawn = round;
        if (!in[t->tasks[k].spec.graph]) continue;
      }
      trained = uses_module(t->train, t->tasks[k].spec.graph, g->mods[0]); /* a group: same graphs */
    }
    if (trained) out[n++] = h;
  }
  free(in);
  return n;
}

/* One group's round (see above): this process is holder `me`; P[0 .. nP) the participants
 * (holder indices; nP == nholders: everyone), pcomm their communicator (-1 unless 1 < nP <
 * nholders and this holder is one of them). */
static int outer_group(Trainer *t, TGroup *g, int me, const int *P, int nP, int pcomm, char *err, size_t errlen) {
  Dist *ds = t->opts.dist;
  int H = g->nholders, nm = g->nmods, ntr = 0, comm = -1;
  int sub = nP < H, root = nP > 0 ? P[0] : 0, part = 0;
  for (int i = 0; i < nP; i++) part |= P[i] == me;
  if (ds && H > 1 && (comm = dist_comm(ds, g->holders, H, err, errlen)) < 0) return 0;
  int64_t ndense = 0;
  for (int i = 0; i < nm; i++) {
    int m = g->mods[i];
    ndense += module_floats(t, m);
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
      ntr += t->row_tokens[q] != NULL;
      if (!dense_param(t, m, q)) ndense -= t->params.t[q].n;
    }
  }
  int nw = nm + ntr * H;
  double *wb = calloc((size_t)nw + 1, sizeof(double));
  float *buf = malloc(sizeof(float) * (size_t)(ndense + 1));
  int ok = wb && buf, j = 0;
  if (!ok) snprintf(err, errlen, "out of memory");
  for (int i = 0; ok && i < nm && (!sub || part); i++) { /* a sitter-out's weights are 0 */
    int m = g->mods[i];
    wb[i] = t->round_tokens[m];
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++)
      if (t->row_tokens[q]) wb[nm + H * j++ + me] = (double)tdept_rows_held(t, q);
  }
  /* 1. the weights */
  if (ok && !sub && comm >= 0) ok = dist_allreduce_f64(ds, comm, wb, nw, err, errlen);
  if (ok && sub && part && pcomm >= 0) ok = dist_allreduce_f64(ds, pcomm, wb, nw, err, errlen);
  if (ok && sub && nP > 0 && comm >= 0) ok = dist_bcast_f64(ds, comm, wb, nw, root, err, errlen);
  double any = 0;
  for (int i = 0; i < nm; i++) any += wb[i];
  if (ok && ndense > 0 && any > 0) { /* 2. the dense parameters */
    int64_t at = 0;
    for (int i = 0; i < nm && (!sub || part); i++) {
      int m = g->mods[i];
      float p = wb[i] > 0 ? (float)(t->round_tokens[m] / wb[i]) : 0.0f;
      for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
        if (!dense_param(t, m, q)) continue;
        const float *x = t->params.t[q].data;
        for (int64_t e = 0; e < t->params.t[q].n; e++) buf[at++] = p * x[e];
      }
    }
    if (!sub && comm >= 0) {
      ok = dist_allreduce(ds, comm, buf, ndense, err, errlen);
      t->payload_bytes += 4 * ndense;
    }
    if (ok && sub && part && pcomm >= 0) { /* among the participants, onto the root */
      ok = dist_reduce(ds, pcomm, buf, ndense, 0, err, errlen);
      if (me != root) t->payload_bytes += 4 * ndense;
    }
    if (ok && sub && comm >= 0) { /* the root's sum to every holder */
      ok = dist_bcast(ds, comm, buf, ndense, root, err, errlen);
      if (me == root) t->payload_bytes += 4 * ndense;
    }
  }
  int64_t o = 0;
  for (int i = 0; ok && i < nm; i++) {
    int m = g->mods[i];
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
      if (!dense_param(t, m, q)) continue;
      Tensor *x = &t->params.t[q];
      if (wb[i] <= 0) /* nobody trained it this round: everyone back at the anchor */
        memcpy(x->data, t->anchor.t[q].data, sizeof(float) * (size_t)x->n);
      else
        dept_outer_apply(x->data, t->anchor.t[q].data, t->outer_m.t[q].data, buf + o, x->n, g->sync.lr,
                         g->sync.momentum, g->sync.nesterov);
      o += x->n;
    }
  }
  j = 0; /* 3. the trimmed tables */
  for (int i = 0; ok && i < nm; i++)
    for (int q = t->params.first[g->mods[i]]; ok && q < t->params.first[g->mods[i] + 1]; q++)
      if (t->row_tokens[q]) ok = tdept_round_rows(t, g, q, wb + nm + H * j++, me, comm, err, errlen);
  for (int i = 0; ok && i < nm; i++) {
    int m = g->mods[i];
    t->round_tokens[m] = 0;
    if (!t->opts.reset_moments) continue;
    t->module_steps[m] = 0; /* a fresh inner optimizer each round */
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
      memset(t->m.t[q].data, 0, sizeof(float) * (size_t)t->m.t[q].n);
      memset(t->v.t[q].data, 0, sizeof(float) * (size_t)t->v.t[q].n);
    }
  }
  free(wb);
  free(buf);
  return ok;
}

int tsync_outer(Trainer *t, int64_t step, Diag *d) {
  char err[512];
  int ended = 0, all = exchange_all();
  Dist *ds = t->opts.dist;
  int64_t sent = t->payload_bytes;
  for (int gi = 0; gi < t->ngroups; gi++) {
    TGroup *g = &t->groups[gi];
    if (g->sync.kind != SYNC_OUTER || g->sync.every < 1 || step % g->sync.every != 0) continue;
    ended = 1;
    int H = g->nholders, me = -1, nP = H, pcomm = -1;
    int *P = malloc(sizeof(int) * (size_t)(H + 1)), *pr = malloc(sizeof(int) * (size_t)(H + 1));
    if (!P || !pr) {
      free(P), free(pr);
      diag_plain(d, "out of memory");
      return 0;
    }
    for (int h = 0; h < H; h++) {
      P[h] = h;
      if (g->holders[h] == t->rank || t->emulate) me = me < 0 ? h : me;
    }
    if (!all && H > 1) nP = round_participants(t, g, step, P);
    int ok = nP >= 0;
    if (!ok) snprintf(err, sizeof err, "out of memory");
    /* the participants' communicator: a world collective, so every rank asks, in group order */
    for (int i = 0; ok && i < nP; i++) pr[i] = g->holders[P[i]];
    if (ok && ds && dist_size(ds) > 1 && nP > 1 && nP < H) ok = (pcomm = dist_comm(ds, pr, nP, err, sizeof err)) >= 0;
    int part = 0;
    for (int i = 0; ok && i < nP; i++) part |= P[i] == me;
    if (ok && me >= 0) ok = outer_group(t, g, me, P, nP, part ? pcomm : -1, err, sizeof err);
    free(P), free(pr);
    if (!ok) {
      diag_plain(d, "step %lld: outer round: %s", (long long)step, err);
      return 0;
    }
  }
  if (t->round_runs && !t->emulate) t->round_runs[t->nranks + t->rank] += (double)(t->payload_bytes - sent);
  if (ended && t->round_runs && !tdept_sources_end(t, step, err, sizeof err)) { /* dept.sources_per_round */
    diag_plain(d, "step %lld: outer round: %s", (long long)step, err);
    return 0;
  }
  if (ended && t->opts.dist) { /* every rank knows which steps end a round: a safe collective */
    double v = (double)(t->payload_bytes - t->payload_reported);
    t->payload_reported = t->payload_bytes;
    if (!dist_world_sum(t->opts.dist, &v, 1, err, sizeof err)) {
      diag_plain(d, "step %lld: outer round: %s", (long long)step, err);
      return 0;
    }
    t->world_payload += (int64_t)v;
  }
  return 1;
}
