/* sampler.c — weighted, temperature-scaled task sampling with introduction steps (see
 * sampler.h). The schedule is precomputed as one cumulative distribution per phase (a
 * phase starts wherever some task is introduced); a draw is a binary search. */
#include "sampler.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return a < b ? -1 : a > b;
}

int sampler_init(Sampler *s, Arena *a, Diag *d, const SamplerTask *tasks, int ntasks,
                 double temperature, uint64_t seed, uint64_t stream) {
  *s = (Sampler){0};
  if (ntasks < 1) {
    diag_plain(d, "task sampling needs at least one task");
    return -1;
  }
  if (!(temperature > 0) || !isfinite(temperature)) {
    diag_plain(d, "sampling temperature %g: it must be a positive number", temperature);
    return -1;
  }
  int bad = 0;
  for (int i = 0; i < ntasks; i++) {
    const char *name = tasks[i].name ? tasks[i].name : "?";
    if (!(tasks[i].weight >= 0) || !isfinite(tasks[i].weight)) {
      diag_plain(d, "task '%s': weight %g: it must be a finite number >= 0", name, tasks[i].weight);
      bad = 1;
    }
    if (tasks[i].introduce_at_step < 0) {
      diag_plain(d, "task '%s': introduce_at_step %lld: it must be >= 0", name,
                 (long long)tasks[i].introduce_at_step);
      bad = 1;
    }
  }
  if (bad) return -1;
  /* phases: the distinct introduction steps, plus step 0 */
  int64_t *starts = ARENA_ARRAY(a, int64_t, ntasks + 1);
  double *scaled = ARENA_ARRAY(a, double, ntasks);
  if (!starts || !scaled) goto oom;
  int np = 0;
  starts[np++] = 0;
  for (int i = 0; i < ntasks; i++) starts[np++] = tasks[i].introduce_at_step;
  qsort(starts, (size_t)np, sizeof *starts, cmp_i64);
  int u = 0;
  for (int i = 0; i < np; i++)
    if (i == 0 || starts[i] != starts[u - 1]) starts[u++] = starts[i];
  np = u;
  for (int i = 0; i < ntasks; i++)
    scaled[i] = tasks[i].weight > 0 ? pow(tasks[i].weight, 1.0 / temperature) : 0;
  double **cdf = ARENA_ARRAY(a, double *, np);
  if (!cdf) goto oom;
  for (int k = 0; k < np; k++) {
    double total = 0;
    for (int i = 0; i < ntasks; i++)
      if (tasks[i].introduce_at_step <= starts[k]) total += scaled[i];
    if (!(total > 0) || !isfinite(total)) {
      diag_plain(d,
                 "no task can be drawn from step %lld: every task introduced by then has "
                 "weight 0%s",
                 (long long)starts[k], total > 0 ? " or the weights overflow" : "");
      return -1;
    }
    cdf[k] = ARENA_ARRAY(a, double, ntasks);
    if (!cdf[k]) goto oom;
    double acc = 0;
    int last = 0;
    for (int i = 0; i < ntasks; i++) {
      if (tasks[i].introduce_at_step <= starts[k] && scaled[i] > 0) {
        acc += scaled[i] / total;
        last = i;
      }
      cdf[k][i] = acc;
    }
    /* rounding: the last drawable task ends at exactly 1, so a draw < 1 always lands */
    for (int i = last; i < ntasks; i++) cdf[k][i] = 1.0;
  }
  *s = (Sampler){
      ntasks, temperature, rng_key(rng_key(seed, rng_hash_str("mamc.data.sampler")), stream),
      np,     starts,      cdf};
  return 0;
oom:
  diag_plain(d, "out of memory building the task sampler");
  return -1;
}

static int phase_at(const Sampler *s, int64_t step) {
  int lo = 0, hi = s->nphases - 1; /* the last phase whose start <= step */
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (s->phase_start[mid] <= step)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

int sampler_task_at(const Sampler *s, int64_t step) {
  const double *c = s->cdf[phase_at(s, step)];
  double u = rng_uniform(s->key, (uint64_t)step);
  int lo = 0, hi = s->ntasks - 1; /* the first i with u < c[i] */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (u < c[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

void sampler_probs_at(const Sampler *s, int64_t step, double *p) {
  const double *c = s->cdf[phase_at(s, step)];
  for (int i = 0; i < s->ntasks; i++) p[i] = c[i] - (i ? c[i - 1] : 0);
}

void sampler_weights_from_sizes(const int64_t *sizes, int n, double *w) {
  double total = 0;
  for (int i = 0; i < n; i++) total += sizes[i] > 0 ? (double)sizes[i] : 0;
  for (int i = 0; i < n; i++) w[i] = total > 0 && sizes[i] > 0 ? (double)sizes[i] / total : 0;
}
