/* trainer_buckets.c — the per-step gradient exchange, overlapped with the backward pass.
 *
 * The gradients of modules synchronised every step are cut into buckets: within each group
 * (modules with the same holders, policy and training tasks), later modules and later
 * parameters first — the order the backward pass produces them — at most bucket_bytes each.
 * The issue order is that order over the groups from the last to the first, the same on
 * every rank, so the collectives on any communicator are started in one order everywhere.
 *
 * During a step, the executor hands every gradient to tbuckets_on_output as soon as it is
 * computed: it is added, times this rank's target tokens, into gsum; a bucket whose
 * gradients are all in starts its non-blocking all-reduce among the ranks that trained it
 * (in issue order: a ready bucket waits for the earlier ones), while the backward pass goes
 * on. tbuckets_finish waits for them, then the lowest trainer of each bucket broadcasts the
 * result to the holders that did not train (no rank sends zeros). docs/distributed.md.
 */
#include <stdlib.h>

#include "dist.h"
#include "trainer_internal.h"

static int uses_module(const IrProgram *p, int graph, int m) {
  const IrModule *mod = &p->modules.v[m];
  for (int i = 0; i < mod->used_by.n; i++)
    if (mod->used_by.v[i] == graph) return 1;
  return 0;
}

int tbuckets_setup(Trainer *t, Diag *d) {
  t->no_overlap = getenv("MAMC_NO_OVERLAP") != NULL;
  int64_t cap = t->opts.bucket_bytes > 0 ? t->opts.bucket_bytes : 10 << 20;
  t->bucket_of_param = malloc(sizeof(int) * (size_t)(t->params.n + 1));
  t->buckets = calloc((size_t)(t->params.n + 1), sizeof(TBucket));
  if (!t->bucket_of_param || !t->buckets) return diag_plain(d, "out of memory"), 0;
  for (int q = 0; q < t->params.n; q++) t->bucket_of_param[q] = -1;
  for (int gi = t->ngroups - 1; gi >= 0; gi--) {
    const TGroup *g = &t->groups[gi];
    if (!g->exchanged || g->nholders < 2) continue;
    int mine = 0;
    for (int h = 0; h < g->nholders; h++) mine |= g->holders[h] == t->rank;
    TBucket *b = NULL;
    for (int i = g->nmods - 1; i >= 0; i--) {
      int m = g->mods[i];
      for (int q = t->params.first[m + 1] - 1; q >= t->params.first[m]; q--) {
        int64_t bytes = 4 * t->params.t[q].n;
        if (!b || (b->bytes > 0 && b->bytes + bytes > cap)) {
          b = &t->buckets[t->nbuckets++];
          b->group = gi;
          b->mine = mine;
          b->params = ARENA_ARRAY(&t->arena, int, t->params.first[m + 1] - t->params.first[g->mods[0]] + 1);
        }
        b->params[b->nparams++] = q;
        b->bytes += bytes;
        t->bucket_of_param[q] = (int)(b - t->buckets);
      }
    }
  }
  for (int k = 0; k < t->nbuckets; k++) {
    TBucket *b = &t->buckets[k];
    if (!b->mine) continue;
    b->buf = malloc((size_t)b->bytes + sizeof(float));
    if (!b->buf) return diag_plain(d, "out of memory"), 0;
  }
  return 1;
}

void tbuckets_free(Trainer *t) {
  for (int k = 0; k < t->nbuckets; k++) free(t->buckets[k].buf);
  free(t->buckets);
  free(t->bucket_of_param);
}

/* The trainers of group g this step: the holders whose task reads its modules. */
static int group_trainers(const Trainer *t, int gi, const int *task_of_rank, int *out) {
  const TGroup *g = &t->groups[gi];
  int n = 0;
  for (int h = 0; h < g->nholders; h++) {
    int r = g->holders[h], k = task_of_rank[r];
    if (k >= 0 && uses_module(t->train, t->tasks[k].spec.graph, g->mods[0])) out[n++] = r;
  }
  return n;
}

static void pack(Trainer *t, TBucket *b, int unpack) {
  int64_t o = 0;
  for (int i = 0; i < b->nparams; i++) {
    Tensor *x = &t->gsum.t[b->params[i]];
    size_t bytes = sizeof(float) * (size_t)x->n;
    if (unpack)
      memcpy(x->data, b->buf + o, bytes);
    else
      memcpy(b->buf + o, x->data, bytes);
    o += x->n;
  }
  if (!unpack) {
    b->buf[o] = (float)t->wsum[t->groups[b->group].mods[0]];
    return;
  }
  const TGroup *g = &t->groups[b->group]; /* every module of the group: the reduced weight */
  for (int i = 0; i < g->nmods; i++) t->wsum[g->mods[i]] = b->buf[o];
}

/* Starts, in issue order, every bucket whose gradients are all in (or all of them: force). */
static int try_start(Trainer *t, int force, char *err, size_t n) {
  for (; t->next_bucket < t->nbuckets; t->next_bucket++) {
    TBucket *b = &t->buckets[t->next_bucket];
    if (!b->mine || !b->trained || b->ntrainers < 2) continue; /* nothing to reduce here */
    if (b->npending > 0 && !force) return 1;
    pack(t, b, 0);
    int c = dist_comm(t->opts.dist, b->trainers, b->ntrainers, err, n);
    if (c < 0 || !dist_iallreduce(t->opts.dist, c, b->buf, b->bytes / 4 + 1, &b->req, err, n)) return 0;
    t->payload_bytes += b->bytes;
  }
  return 1;
}

void tbuckets_begin(Trainer *t, const int *task_of_rank, int my_task) {
  t->next_bucket = 0;
  if (!t->opts.dist || dist_size(t->opts.dist) == 1) return;
  const IrGraph *g = my_task >= 0 ? &t->train->graphs.v[t->tasks[my_task].spec.graph] : NULL;
  for (int k = 0; k < t->nbuckets; k++) {
    TBucket *b = &t->buckets[k];
    b->req = -1;
    b->npending = 0;
    if (!b->mine) continue;
    b->ntrainers = group_trainers(t, b->group, task_of_rank, b->trainers);
    b->trained = 0;
    for (int i = 0; i < b->ntrainers; i++) b->trained |= b->trainers[i] == t->rank;
  }
  for (int o = 0; g && o < g->outputs.n; o++) { /* the gradients this rank will hand in */
    const IrOutput *out = &g->outputs.v[o];
    if (out->module < 0) continue;
    int k = t->bucket_of_param[t->params.first[out->module] + out->param];
    if (k >= 0) t->buckets[k].npending++;
  }
}

/* The executor's callback: one gradient output is computed. */
void tbuckets_on_output(void *user, int output, const Tensor *gr) {
  Trainer *t = user;
  const IrOutput *out = &t->train->graphs.v[t->cur_graph].outputs.v[output];
  if (out->module < 0) return;
  int q = t->params.first[out->module] + out->param;
  Tensor *acc = &t->gsum.t[q];
  float *a = acc->data, w = t->cur_tokens;
  if (gr->dt == DT_F32) {
    const float *x = gr->data;
    for (int64_t i = 0; i < acc->n; i++) a[i] += w * x[i];
  } else {
    for (int64_t i = 0; i < acc->n; i++) a[i] += w * (float)rt_tensor_get(gr, i);
  }
  if (t->seen_run[out->module] != t->run_id) { /* once per module and task run */
    t->seen_run[out->module] = t->run_id;
    t->wsum[out->module] += w;
    t->round_tokens[out->module] += w;
  }
  int k = t->bucket_of_param[q];
  if (k < 0 || !t->opts.dist || dist_size(t->opts.dist) == 1) return;
  if (t->no_overlap) return; /* MAMC_NO_OVERLAP: everything after the backward pass (benchmarks) */
  t->buckets[k].npending--;
  if (!t->exchange_failed && !try_start(t, 0, t->exchange_err, sizeof t->exchange_err)) t->exchange_failed = 1;
  dist_progress(t->opts.dist);
}

int tbuckets_finish(Trainer *t, Diag *d) {
  if (!t->opts.dist || dist_size(t->opts.dist) == 1) return 1;
  char err[512];
  if (t->exchange_failed || !try_start(t, 1, err, sizeof err)) {
    diag_plain(d, "step %lld: gradient exchange: %s", (long long)t->step + 1, t->exchange_failed ? t->exchange_err : err);
    return 0;
  }
  for (int k = 0; k < t->nbuckets; k++) { /* the reductions, in issue order */
    TBucket *b = &t->buckets[k];
    if (!b->mine || !b->trained) continue;
    if (b->req >= 0 && !dist_wait(t->opts.dist, b->req, err, sizeof err)) goto fail;
    if (b->ntrainers >= 2) pack(t, b, 1);
  }
  for (int k = 0; k < t->nbuckets; k++) { /* then the results to the holders that did not train */
    TBucket *b = &t->buckets[k];
    const TGroup *g = &t->groups[b->group];
    if (!b->mine || b->ntrainers == 0 || b->ntrainers == g->nholders) continue;
    int set[1025], n = 0, me_in = 0, root = 0;
    set[n++] = b->trainers[0];
    for (int h = 0; h < g->nholders; h++) {
      int r = g->holders[h], trained = 0;
      for (int i = 0; i < b->ntrainers; i++) trained |= b->trainers[i] == r;
      if (!trained) set[n++] = r;
    }
    for (int i = 1; i < n; i++) /* ascending */
      for (int j = i; j > 0 && set[j - 1] > set[j]; j--) {
        int x = set[j];
        set[j] = set[j - 1];
        set[j - 1] = x;
      }
    for (int i = 0; i < n; i++) me_in |= set[i] == t->rank;
    if (!me_in) continue;
    while (set[root] != b->trainers[0]) root++;
    int c = dist_comm(t->opts.dist, set, n, err, sizeof err);
    if (t->rank == b->trainers[0]) {
      pack(t, b, 0);
      t->payload_bytes += b->bytes;
    }
    if (c < 0 || !dist_bcast(t->opts.dist, c, b->buf, b->bytes / 4 + 1, root, err, sizeof err)) goto fail;
    pack(t, b, 1);
  }
  return 1;
fail:
  diag_plain(d, "step %lld: gradient exchange: %s", (long long)t->step + 1, err);
  return 0;
}
