/* dtrain_xchg.c — path (b) of train.device: cuda with several processes (dtrain.c says when):
 * where NCCL is off (dtrain_nccl.c exchanges on device buffers where it is on: the same steps
 * on the device), the device-resident token-weighted gradient sums exchanged through host buffers, with the
 * host path's exchange itself (trainer_buckets.c: the same buckets, issue order, groups,
 * trainers and token weights), so that both paths reduce the same numbers in the same order:
 *   1. after the step's task runs, each bucket this rank trained is copied down, parameter by
 *      parameter, into the host's sums (Trainer.gsum: path (b) uses them only as this staging);
 *   2. tbuckets_finish: the all-reduce among the bucket's trainers, then the lowest trainer's
 *      broadcast to the holders that did not train (it sets wsum as on the host);
 *   3. every bucket this rank holds and someone trained goes back up into the device sums.
 * The global norm is then tsync_norm's: each rank's norm (k_sqnorm) covers the modules whose
 * lowest holder it is (tdev_norm_counts; the optimizer's norm table is built from it), and the
 * squares are summed over the world in one reduction with the payload bytes and the guard's
 * non-finite flag (the same three values, the same collective, as tsync_norm). The global
 * norm goes back into the device's norm slot, which k_adamw's clipping reads.
 * Modules synchronised locally (their norm is the process's own, not the world's) keep the
 * step staged (choose_path), as do outer rounds. No overlap with the backward pass yet: the
 * exchange starts after the last task run (as MAMC_NO_OVERLAP on the host). */
#include <math.h>
#include <time.h>

#include "dist.h"
#include "dtrain_internal.h"

int tdev_norm_counts(const Trainer *t, int m) {
  const TDev *x = t->dev;
  if (!x->multi) return 1; /* one process (or --emulate-ranks): every held module */
  return t->groups[t->group_of[m]].holders[0] == t->rank;
}

/* Copies the sums of bucket b between the device and the host's gsum (up: to the device). */
static int move(Trainer *t, const TBucket *b, int up) {
  TDev *x = t->dev;
  for (int i = 0; i < b->nparams; i++) {
    int q = b->params[i];
    Tensor *h = &t->gsum.t[q];
    uint64_t bytes = (uint64_t)h->n * 4;
    if (!x->g[q] || !h->data) return 0;
    if (!(up ? dev_h2d(&x->dev, x->g[q], h->data, bytes) : dev_d2h(&x->dev, h->data, x->g[q], bytes))) return 0;
  }
  return 1;
}

int tdev_exchange(Trainer *t, Diag *d) {
  TDev *x = t->dev;
  double t0 = mono_seconds();
  int r = tdev_nccl_exchange(t, d); /* on device buffers (dtrain_nccl.c) where NCCL is on */
  if (r >= 0) {
    x->xchg_seconds += mono_seconds() - t0;
    t->comm_seconds += mono_seconds() - t0;
    return r;
  }
  for (int k = 0; k < t->nbuckets; k++) {
    const TBucket *b = &t->buckets[k];
    if (b->mine && b->trained && b->ntrainers > 0 && !move(t, b, 0)) {
      char err[1200];
      tdev_fail(t, err, sizeof err, "copying the gradient sums to the host for the exchange");
      return diag_plain(d, "step %lld: %s", (long long)t->step + 1, err), 0;
    }
  }
  if (!tbuckets_finish(t, d)) return 0;
  for (int k = 0; k < t->nbuckets; k++) {
    const TBucket *b = &t->buckets[k];
    if (b->mine && b->ntrainers > 0 && !move(t, b, 1)) {
      char err[1200];
      tdev_fail(t, err, sizeof err, "copying the exchanged gradient sums to the device");
      return diag_plain(d, "step %lld: %s", (long long)t->step + 1, err), 0;
    }
  }
  x->xchg_seconds += mono_seconds() - t0;
  t->comm_seconds += mono_seconds() - t0;
  return 1;
}

int tdev_world_norm(Trainer *t, double local, double *norm, Diag *d) {
  TDev *x = t->dev;
  /* tsync_norm's reduction: squares, payload bytes, non-finite flag, stop requests */
  double v[4] = {local * local, (double)(t->payload_bytes - t->payload_reported), t->nonfinite_local ? 1.0 : 0.0,
                 tsync_stop_local(t)};
  t->payload_reported = t->payload_bytes;
  char err[512];
  if (!dist_world_sum(t->opts.dist, v, 4, err, sizeof err))
    return diag_plain(d, "step %lld: gradient norm: %s", (long long)t->step + 1, err), 0;
  *norm = sqrt(v[0]);
  t->world_payload = (int64_t)v[1];
  t->nonfinite_world = (int)v[2];
  t->stop_world = v[3] > 0;
  if (!dev_h2d(&x->dev, x->norm_d, norm, 8)) { /* k_adamw clips by the world's norm */
    char e2[1200];
    tdev_fail(t, e2, sizeof e2, "the gradient norm");
    return diag_plain(d, "step %lld: %s", (long long)t->step + 1, e2), 0;
  }
  return 1;
}
