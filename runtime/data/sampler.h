/* sampler.h — which task trains at each step: a categorical draw over the tasks already
 * introduced, with p_i ∝ w_i^(1/τ) (τ = temperature: 1 keeps the weights, larger flattens
 * them toward uniform).
 *
 * sampler_task_at(s, step) is a pure function of (seed, stream, step): every process computes
 * the same schedule without communicating, the communication pass can see which modules a
 * step uses, and a resumed run continues the schedule from the step number alone.
 *
 * Normalization. MAMMOTH draws on each GPU among *that GPU's* tasks, so weights are only
 * relative within a GPU. Here the probabilities are normalized over the tasks given to one
 * Sampler: build one over every task for a global schedule (the default in mamc), or, to
 * reproduce MAMMOTH, one per process over its tasks with stream = the process rank (each
 * process can still compute every other process's schedule).
 *
 * MAMMOTH's config_config writes temperature-scaled weights as (n_i/N)^T; with p ∝ w^(1/τ)
 * and w_i = n_i/N (sampler_weights_from_sizes), τ = 1/T gives the same distribution.
 */
#ifndef MAMC_DATA_SAMPLER_H
#define MAMC_DATA_SAMPLER_H

#include <stdint.h>

#include "support.h"

typedef struct SamplerTask {
  const char *name;          /* for messages */
  double weight;             /* >= 0 */
  int64_t introduce_at_step; /* the first step the task may be drawn (>= 0) */
} SamplerTask;

typedef struct Sampler {
  int ntasks;
  double temperature;
  uint64_t key;
  /* phases: from step phase_start[k] on, task i has cumulative probability cdf[k][i] */
  int nphases;
  int64_t *phase_start; /* ascending, phase_start[0] == 0 */
  double **cdf;         /* [nphases][ntasks], cdf[k][ntasks - 1] == 1 */
} Sampler;

/* Build a sampler in arena a. Errors (a weight < 0 or not finite, a temperature <= 0, no
 * task with a positive weight at step 0 or in some later phase) go to d; returns 0 or -1. */
int sampler_init(Sampler *s, Arena *a, Diag *d, const SamplerTask *tasks, int ntasks,
                 double temperature, uint64_t seed, uint64_t stream);

/* The task index drawn at `step` (>= 0). */
int sampler_task_at(const Sampler *s, int64_t step);

/* The probabilities in force at `step`, into p[0..ntasks). */
void sampler_probs_at(const Sampler *s, int64_t step, double *p);

/* w_i = n_i / Σ n: weights proportional to corpus sizes (all 0 when Σ n == 0). */
void sampler_weights_from_sizes(const int64_t *sizes, int n, double *w);

#endif
