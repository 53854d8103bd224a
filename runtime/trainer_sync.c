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
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

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

/* Packs (or unpacks) a group's gradient sums and token weights into one buffer. */
static void pack(Trainer *t, const TGroup *g, float *buf, int unpack) {
  int64_t o = 0;
  for (int i = 0; i < g->nmods; i++) {
    int m = g->mods[i];
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
      float *x = t->gsum.t[q].data;
      size_t bytes = sizeof(float) * (size_t)t->gsum.t[q].n;
      if (unpack)
        memcpy(x, buf + o, bytes);
      else
        memcpy(buf + o, x, bytes);
      o += t->gsum.t[q].n;
    }
  }
  for (int i = 0; i < g->nmods; i++) {
    if (unpack)
      t->wsum[g->mods[i]] = buf[o + i];
    else
      buf[o + i] = (float)t->wsum[g->mods[i]];
  }
}

int tsync_exchange(Trainer *t, const int *task_of_rank, Diag *d) {
  Dist *ds = t->opts.dist;
  if (!ds || dist_size(ds) == 1) return 1; /* one process: gsum already holds every rank's share */
  char err[512];
  for (int gi = 0; gi < t->ngroups; gi++) {
    TGroup *g = &t->groups[gi];
    if (!g->exchanged) continue; /* local, or outer rounds (tsync_outer) */
    int trainers[1024], nt = 0, me_holder = 0, me_trainer = 0;
    for (int h = 0; h < g->nholders; h++) {
      int r = g->holders[h], k = task_of_rank[r], tr = 0;
      for (int i = 0; k >= 0 && i < g->nmods && !tr; i++) tr = uses_module(t->train, t->tasks[k].spec.graph, g->mods[i]);
      if (tr && nt < 1024) trainers[nt++] = r;
      if (r == t->rank) me_holder = 1, me_trainer = tr;
    }
    if (nt == 0 || !me_holder) continue; /* nobody trained it / not ours: no traffic */
    int64_t n = 0;
    for (int i = 0; i < g->nmods; i++) n += module_floats(t, g->mods[i]);
    int64_t grad_bytes = 4 * n; /* payload as docs/distributed.md counts it: gradients only */
    n += g->nmods;
    float *buf = malloc(sizeof(float) * (size_t)n);
    if (!buf) return diag_plain(d, "out of memory"), 0;
    pack(t, g, buf, 0);
    int ok = 1;
    if (me_trainer && nt > 1) {
      int c = dist_comm(ds, trainers, nt, err, sizeof err);
      ok = c >= 0 && dist_allreduce(ds, c, buf, n, err, sizeof err);
      t->payload_bytes += grad_bytes;
    }
    if (ok && nt < g->nholders) { /* the lowest trainer sends the result to the idle holders */
      int bset[1025], nb = 0, me_in = 0;
      bset[nb++] = trainers[0];
      for (int h = 0; h < g->nholders; h++) {
        int r = g->holders[h], trained = 0;
        for (int i = 0; i < nt; i++) trained |= trainers[i] == r;
        if (!trained) bset[nb++] = r;
      }
      for (int i = 0; i < nb; i++) me_in |= bset[i] == t->rank;
      if (me_in) {
        sort_ints(bset, nb);
        int c = dist_comm(ds, bset, nb, err, sizeof err), root = 0;
        while (bset[root] != trainers[0]) root++;
        ok = c >= 0 && dist_bcast(ds, c, buf, n, root, err, sizeof err);
        if (t->rank == trainers[0]) t->payload_bytes += grad_bytes;
      }
    }
    if (ok) pack(t, g, buf, 1);
    free(buf);
    if (!ok) {
      diag_plain(d, "step %lld: gradient exchange: %s", (long long)t->step + 1, err);
      return 0;
    }
  }
  return 1;
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

/* The global gradient norm: each module's combined gradient counted once (by the lowest of
 * its holders), summed over the world — with, in the same reduction, the gradient payload
 * bytes every rank sent this step (*world_payload). */
int tsync_norm(Trainer *t, double *norm, int64_t *world_payload, Diag *d) {
  double sq = 0;
  for (int m = 0; m < t->train->modules.n; m++) {
    if (!t->held[m] || t->wsum[m] <= 0) continue;
    const TGroup *g = &t->groups[t->group_of[m]];
    if (!t->emulate && t->opts.dist && g->holders[0] != t->rank) continue;
    for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) sq += optim_sq_norm(&t->gsum.t[q]);
  }
  char err[512];
  double v[2] = {sq, (double)(t->payload_bytes - t->payload_reported)};
  t->payload_reported = t->payload_bytes;
  if (t->opts.dist && !dist_world_sum(t->opts.dist, v, 2, err, sizeof err)) {
    diag_plain(d, "gradient norm: %s", err);
    return 0;
  }
  *norm = sqrt(v[0]);
  *world_payload = (int64_t)v[1];
  return 1;
}

/* ---- outer rounds (DEPT, DiLoCo) -------------------------------------------------------------------
 * A module synchronised in outer rounds trains locally on every holder; every H steps its
 * holders combine their progress: the token-weighted mean of the deltas anchor - theta
 * (anchor: the parameters after the previous round) is the outer gradient, and the outer
 * optimizer (SGD with momentum mu, Nesterov optionally, learning rate lr) moves the anchor:
 *   m = mu m + delta;  theta = anchor - lr (nesterov ? delta + mu m : m);  anchor = theta.
 * lr 1, momentum 0 is plain (token-weighted) parameter averaging. Deltas are weighted by the
 * tokens each holder trained the module on during the round (uniform when they are equal,
 * as in DEPT), so one local step with plain averaging equals data-parallel SGD. */
int tsync_outer(Trainer *t, int64_t step, Diag *d) {
  char err[512];
  for (int gi = 0; gi < t->ngroups; gi++) {
    TGroup *g = &t->groups[gi];
    if (g->sync.kind != SYNC_OUTER || g->sync.every < 1 || step % g->sync.every != 0) continue;
    int me = 0;
    for (int h = 0; h < g->nholders; h++) me |= g->holders[h] == t->rank || t->emulate;
    if (!me) continue;
    int64_t n = 0;
    for (int i = 0; i < g->nmods; i++) n += module_floats(t, g->mods[i]);
    n += g->nmods;
    float *buf = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!buf) return diag_plain(d, "out of memory"), 0;
    int64_t o = 0;
    for (int i = 0; i < g->nmods; i++) { /* w * (anchor - theta) */
      int m = g->mods[i];
      float w = (float)t->round_tokens[m];
      for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
        const float *a = t->anchor.t[q].data, *x = t->params.t[q].data;
        for (int64_t e = 0; e < t->params.t[q].n; e++) buf[o++] = w * (a[e] - x[e]);
      }
    }
    for (int i = 0; i < g->nmods; i++) buf[o + i] = (float)t->round_tokens[g->mods[i]];
    int ok = 1;
    if (t->opts.dist && g->nholders > 1) {
      int c = dist_comm(t->opts.dist, g->holders, g->nholders, err, sizeof err);
      ok = c >= 0 && dist_allreduce(t->opts.dist, c, buf, n, err, sizeof err);
    }
    if (!ok) {
      free(buf);
      diag_plain(d, "step %lld: outer round: %s", (long long)step, err);
      return 0;
    }
    o = 0;
    double lr = g->sync.lr, mu = g->sync.momentum;
    for (int i = 0; i < g->nmods; i++) {
      int m = g->mods[i];
      double W = buf[n - g->nmods + i];
      for (int q = t->params.first[m]; q < t->params.first[m + 1]; q++) {
        float *a = t->anchor.t[q].data, *x = t->params.t[q].data, *mm = t->outer_m.t[q].data;
        int64_t len = t->params.t[q].n;
        if (W <= 0) { /* nobody trained it this round: keep everyone at the anchor */
          memcpy(x, a, sizeof(float) * (size_t)len);
          o += len;
          continue;
        }
        for (int64_t e = 0; e < len; e++) {
          float delta = (float)(buf[o + e] / W);
          mm[e] = (float)(mu * mm[e] + delta);
          float upd = g->sync.nesterov ? (float)(delta + mu * mm[e]) : mm[e];
          x[e] = a[e] = (float)(a[e] - lr * upd);
        }
        o += len;
      }
      t->round_tokens[m] = 0;
    }
    free(buf);
  }
  return 1;
}
