/* dtrain_nccl.c — path (b)'s gradient exchange on device buffers (several processes): the
 * semantics, order and numbers of the host's exchange (trainer_buckets.c: tbuckets_finish)
 * without staging the sums through the host, through NCCL (dnccl.h) where every rank can use it.
 *
 * Each bucket this rank holds gets one contiguous device buffer (its parameters' sums, then one
 * float: the tokens they are weighted by — the host's bucket buffer, on the device). A step:
 *   1. the sets this step needs, computed on every rank for every group from the shared
 *      schedule as tsync_prepare_comms does (the group's trainers; the broadcast set: the lowest
 *      trainer and the holders that did not train), are created where new (dnccl_create,
 *      collective, agreed: a failure anywhere turns NCCL off everywhere, for the rest of the run,
 *      with one {"type": "device_warning"} line, and this step is exchanged through the host);
 *   2. in bucket issue order, every bucket this rank trained with other trainers: packed
 *      (device copies, the token float up), all-reduced among the trainers, unpacked;
 *   3. in bucket issue order, every bucket some but not all holders trained: the lowest
 *      trainer packs it (unless step 2 left the result in its buffer) and broadcasts it to the holders that did not train, which unpack it;
 *   4. the reduced token floats (4 bytes per bucket) come down into wsum, as the host's unpack.
 * Everything is issued on the device's stream; nothing of the gradients goes through the host.
 * The payload counted is the host exchange's (b->bytes per all-reduce and per broadcast root).
 * The holders' sets (every trainer trains: the common case) are created at start (tdev_open). */
#include <stdint.h>
#include <stdlib.h>

#include "dist.h"
#include "dtrain_internal.h"

int tsync_task_of(const Trainer *t, int r, int64_t s); /* trainer_sync.c */

static int uses_module(const IrProgram *p, int graph, int m) {
  const IrModule *mod = &p->modules.v[m];
  for (int i = 0; i < mod->used_by.n; i++)
    if (mod->used_by.v[i] == graph) return 1;
  return 0;
}

static void free_fused(TDev *x, int nb) {
  for (int k = 0; x->fused && k < nb; k++)
    if (x->fused[k]) dev_free(&x->dev, x->fused[k]);
  free(x->fused);
  x->fused = NULL;
}

int tdev_nccl_open(Trainer *t, Diag *d) {
  TDev *x = t->dev;
  char err[512], why[200] = "";
  x->nccl_open = 1;
  if (!t->opts.dist || dist_size(t->opts.dist) < 2) {
    snprintf(x->nc.kind, sizeof x->nc.kind, "none");
    snprintf(x->nc.why, sizeof x->nc.why, "one process");
    x->nccl_open = 0;
    return 1;
  }
  int able = x->multi;
  if (!able) snprintf(why, sizeof why, "the step is staged (path (a)): gradients exchanged as they are produced");
  if (able && !(x->fused = calloc((size_t)t->nbuckets + 1, sizeof(DPtr)))) return diag_plain(d, "out of memory"), 0;
  for (int k = 0; able && k < t->nbuckets; k++)
    if (t->buckets[k].mine && !dev_alloc(&x->dev, (uint64_t)t->buckets[k].bytes + 4, &x->fused[k])) {
      able = 0;
      snprintf(why, sizeof why, "allocating the buckets' device buffers: %.150s", x->dev.L.err);
    }
  int ok = dnccl_open(&x->nc, &x->dev, t->opts.dist, able, why, err, sizeof err);
  int R = dist_size(t->opts.dist);
  for (int a = 0; ok && !x->nc.emu && dist_local_size(t->opts.dist) == R && a < R; a++)
    for (int b = a + 1; b < R && !x->nc.hint[0]; b++) /* one node: ranks sharing a GPU */
      if (x->ordinals[a] == x->ordinals[b])
        snprintf(x->nc.hint, sizeof x->nc.hint, "ranks %d and %d share GPU %d: NCCL refuses two ranks on one GPU", a, b,
                 x->ordinals[a]);
  for (int gi = t->ngroups - 1; ok && x->nc.on && gi >= 0; gi--) { /* the holders, in issue order */
    const TGroup *g = &t->groups[gi];
    if (g->exchanged && g->nholders >= 2 && dnccl_need(&x->nc, g->holders, g->nholders) < 0)
      return diag_plain(d, "out of memory"), 0;
  }
  ok = ok && dnccl_create(&x->nc, err, sizeof err);
  if (!ok) return diag_plain(d, "train.device: cuda: NCCL communicators: %s", err), 0;
  if (!x->nc.on) free_fused(x, t->nbuckets);
  return 1;
}

void tdev_nccl_close(Trainer *t) {
  TDev *x = t->dev;
  dnccl_close(&x->nc);
  free_fused(x, t->nbuckets);
}

/* Step 1 (see above): every set this step uses, created where new. */
static int prepare(Trainer *t, char *err, size_t n) {
  TDev *x = t->dev;
  int R = dist_size(t->opts.dist), task_of[1024];
  for (int r = 0; r < R && r < 1024; r++) task_of[r] = tsync_task_of(t, r, t->step);
  for (int gi = t->ngroups - 1; gi >= 0; gi--) {
    const TGroup *g = &t->groups[gi];
    if (!g->exchanged || g->nholders < 2) continue;
    int tr[1024], nt = 0, bset[1025], nb = 0;
    for (int h = 0; h < g->nholders; h++) {
      int r = g->holders[h], k = r < 1024 ? task_of[r] : -1;
      if (k >= 0 && uses_module(t->train, t->tasks[k].spec.graph, g->mods[0])) tr[nt++] = r;
    }
    if (nt > 1 && dnccl_need(&x->nc, tr, nt) < 0) return snprintf(err, n, "out of memory"), 0;
    if (nt == 0 || nt == g->nholders) continue;
    for (int h = 0; h < g->nholders; h++) { /* ascending: the lowest trainer and the idle holders */
      int r = g->holders[h], trained = 0;
      for (int i = 0; i < nt; i++) trained |= tr[i] == r;
      if (!trained || r == tr[0]) bset[nb++] = r;
    }
    if (dnccl_need(&x->nc, bset, nb) < 0) return snprintf(err, n, "out of memory"), 0;
  }
  return dnccl_create(&x->nc, err, n);
}

/* The bucket's sums and token weight into its device buffer (up = 0), or back out (up = 1). */
static int pack(Trainer *t, const TBucket *b, int k, int unpack) {
  TDev *x = t->dev;
  uint64_t o = 0;
  for (int i = 0; i < b->nparams; i++) {
    int q = b->params[i];
    uint64_t bytes = (uint64_t)t->params.t[q].n * 4;
    if (!(unpack ? dev_d2d(&x->dev, x->g[q], x->fused[k] + o, bytes) : dev_d2d(&x->dev, x->fused[k] + o, x->g[q], bytes)))
      return 0;
    o += bytes;
  }
  if (unpack) return 1;
  float w = (float)t->wsum[t->groups[b->group].mods[0]];
  return dev_h2d(&x->dev, x->fused[k] + o, &w, 4);
}

static int fail(Trainer *t, Diag *d, const char *what, const char *err) {
  char e2[1200];
  if (!err) {
    tdev_fail(t, e2, sizeof e2, what);
    err = e2;
  }
  return diag_plain(d, "step %lld: gradient exchange (NCCL): %s: %s", (long long)t->step + 1, what, err), 0;
}

int tdev_nccl_exchange(Trainer *t, Diag *d) {
  TDev *x = t->dev;
  if (!x->nc.on) return -1;
  char err[1024];
  if (!prepare(t, err, sizeof err)) return fail(t, d, "creating communicators", err);
  if (!x->nc.on) { /* agreed on every rank: the host's exchange from now on */
    char line[800];
    snprintf(line, sizeof line,
             "{\"type\": \"device_warning\", \"step\": %lld, \"warning\": \"NCCL communicators failed (%s); "
             "the gradient exchange goes through host buffers and MPI from now on\"}",
             (long long)t->step + 1, x->nc.why);
    trainer_log(t, line);
    free_fused(x, t->nbuckets);
    return -1;
  }
  unsigned char *got = calloc((size_t)t->nbuckets + 1, 1);
  if (!got) return diag_plain(d, "out of memory"), 0;
  int ok = 1;
  for (int k = 0; ok && k < t->nbuckets; k++) { /* 2. the reductions among the trainers */
    TBucket *b = &t->buckets[k];
    if (!b->mine || !b->trained || b->ntrainers < 2) continue;
    int s = dnccl_find(&x->nc, b->trainers, b->ntrainers);
    if (!(ok = pack(t, b, k, 0))) fail(t, d, "packing a bucket", NULL);
    else if (!(ok = dnccl_allreduce(&x->nc, s, x->fused[k], b->bytes / 4 + 1, err, sizeof err))) fail(t, d, "all-reduce", err);
    else if (!(ok = pack(t, b, k, 1))) fail(t, d, "unpacking a bucket", NULL);
    t->payload_bytes += b->bytes;
    got[k] = 1;
  }
  for (int k = 0; ok && k < t->nbuckets; k++) { /* 3. to the holders that did not train */
    TBucket *b = &t->buckets[k];
    const TGroup *g = &t->groups[b->group];
    if (!b->mine || b->ntrainers == 0 || b->ntrainers == g->nholders) continue;
    int set[1025], n = 0, root = -1, me_root = t->rank == b->trainers[0], me_in = me_root;
    for (int h = 0; h < g->nholders; h++) {
      int r = g->holders[h], trained = 0;
      for (int i = 0; i < b->ntrainers; i++) trained |= b->trainers[i] == r;
      if (r == b->trainers[0]) root = n;
      if (!trained || r == b->trainers[0]) set[n++] = r;
      me_in |= !trained && r == t->rank;
    }
    if (!me_in) continue;
    int s = dnccl_find(&x->nc, set, n);
    if (me_root) { /* after a reduction its buffer holds the result and the reduced weight already */
      if (!got[k] && !(ok = pack(t, b, k, 0))) fail(t, d, "packing a bucket", NULL);
      t->payload_bytes += b->bytes;
    }
    if (ok && !(ok = dnccl_bcast(&x->nc, s, x->fused[k], b->bytes / 4 + 1, root, err, sizeof err))) fail(t, d, "broadcast", err);
    if (ok && !me_root) {
      if (!(ok = pack(t, b, k, 1))) fail(t, d, "unpacking a bucket", NULL);
      got[k] = 1;
    }
  }
  for (int k = 0; ok && k < t->nbuckets; k++) { /* 4. the reduced token weights, as the host's unpack */
    if (!got[k]) continue;
    const TBucket *b = &t->buckets[k];
    const TGroup *g = &t->groups[b->group];
    float w = 0;
    if (!(ok = dev_d2h(&x->dev, &w, x->fused[k] + (uint64_t)b->bytes, 4))) fail(t, d, "the token weights", NULL);
    for (int i = 0; ok && i < g->nmods; i++) t->wsum[g->mods[i]] = w;
  }
  free(got);
  return ok;
}
