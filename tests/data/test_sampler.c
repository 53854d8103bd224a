/* test_sampler.c — unit tests of task sampling: empirical frequencies over 100k steps match
 * p_i ∝ w_i^(1/τ) within 1%, introduce_at_step is respected, the schedule is a pure
 * function of (seed, stream, step), and bad inputs are reported. */
#include "sampler.h"
#include "test.h"

#include <math.h>

enum { STEPS = 100000 };

static void check_frequencies(const Sampler *s, int64_t from, const double *p) {
  int n = s->ntasks;
  double freq[8] = {0};
  for (int64_t step = from; step < from + STEPS; step++)
    freq[sampler_task_at(s, step)] += 1.0 / STEPS;
  for (int i = 0; i < n; i++)
    CHECK_MSG(fabs(freq[i] - p[i]) < 0.01, "task %d: %.4f vs p %.4f", i, freq[i], p[i]);
}

static void test_frequencies(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SamplerTask tasks[] = {{"en-de", 0.6, 0}, {"en-fr", 0.3, 0}, {"en-ja", 0.1, 0}};
  Sampler s;
  CHECK(sampler_init(&s, &a, &d, tasks, 3, 1.0, 42, 0) == 0);
  double p[3];
  sampler_probs_at(&s, 0, p);
  CHECK_NEAR(p[0], 0.6, 1e-12);
  CHECK_NEAR(p[2], 0.1, 1e-12);
  check_frequencies(&s, 0, p);

  /* temperature 2: p ∝ sqrt(w) */
  CHECK(sampler_init(&s, &a, &d, tasks, 3, 2.0, 42, 0) == 0);
  double z = sqrt(0.6) + sqrt(0.3) + sqrt(0.1),
         want[3] = {sqrt(0.6) / z, sqrt(0.3) / z, sqrt(0.1) / z};
  sampler_probs_at(&s, 123, p);
  for (int i = 0; i < 3; i++) CHECK_NEAR(p[i], want[i], 1e-12);
  check_frequencies(&s, 0, want);

  /* weights from corpus sizes; MAMMOTH's (n_i/N)^T is the same distribution with τ = 1/T */
  int64_t sizes[] = {1000000, 90000, 10000};
  double w[3];
  sampler_weights_from_sizes(sizes, 3, w);
  CHECK_NEAR(w[0], 1000000.0 / 1100000.0, 1e-15);
  CHECK_NEAR(w[0] + w[1] + w[2], 1.0, 1e-15);
  SamplerTask by_size[] = {{"a", w[0], 0}, {"b", w[1], 0}, {"c", w[2], 0}};
  CHECK(sampler_init(&s, &a, &d, by_size, 3, 1.0 / 0.5, 1, 0) == 0);
  sampler_probs_at(&s, 0, p);
  double t = pow(w[0], 0.5) + pow(w[1], 0.5) + pow(w[2], 0.5);
  for (int i = 0; i < 3; i++) CHECK_NEAR(p[i], pow(w[i], 0.5) / t, 1e-12);
  check_frequencies(&s, 0, p);
  CHECK(d.nerrors == 0);
  diag_free(&d);
  arena_free(&a);
}

static void test_introduce(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SamplerTask tasks[] = {
      {"hi", 0.5, 0}, {"lo", 0.25, 5000}, {"mid", 0.25, 0}, {"late", 1.0, 20000}};
  Sampler s;
  CHECK(sampler_init(&s, &a, &d, tasks, 4, 1.0, 9, 0) == 0);
  CHECK(s.nphases == 3);
  int early_bad = 0;
  for (int64_t step = 0; step < 5000; step++)
    early_bad += sampler_task_at(&s, step) == 1 || sampler_task_at(&s, step) == 3;
  CHECK(early_bad == 0);
  int mid_late = 0;
  for (int64_t step = 5000; step < 20000; step++) mid_late += sampler_task_at(&s, step) == 3;
  CHECK(mid_late == 0);
  double p[4];
  sampler_probs_at(&s, 4999, p);
  CHECK_NEAR(p[0], 2.0 / 3, 1e-12);
  CHECK(p[1] == 0 && p[3] == 0);
  sampler_probs_at(&s, 5000, p);
  CHECK_NEAR(p[0], 0.5, 1e-12);
  CHECK_NEAR(p[1], 0.25, 1e-12);
  sampler_probs_at(&s, 20000, p);
  CHECK_NEAR(p[3], 0.5, 1e-12);
  check_frequencies(&s, 20000, p);
  diag_free(&d);
  arena_free(&a);
}

static void test_determinism(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SamplerTask tasks[] = {{"x", 1, 0}, {"y", 1, 0}, {"z", 2, 100}};
  Sampler s1, s2, s3, s4;
  CHECK(sampler_init(&s1, &a, &d, tasks, 3, 1.5, 77, 0) == 0);
  CHECK(sampler_init(&s2, &a, &d, tasks, 3, 1.5, 77, 0) == 0);
  CHECK(sampler_init(&s3, &a, &d, tasks, 3, 1.5, 78, 0) == 0);
  CHECK(sampler_init(&s4, &a, &d, tasks, 3, 1.5, 77, 1) == 0);
  int same = 0, diff_seed = 0, diff_stream = 0;
  for (int64_t step = 0; step < 10000; step++) {
    int t = sampler_task_at(&s1, step);
    same += t == sampler_task_at(&s2, step);
    diff_seed += t != sampler_task_at(&s3, step);
    diff_stream += t != sampler_task_at(&s4, step);
  }
  CHECK(same == 10000);
  CHECK(diff_seed > 1000 && diff_stream > 1000);
  /* a pure function of the step: any order of queries (a resumed run) gives the same tasks */
  int fwd[50];
  for (int i = 0; i < 50; i++) fwd[i] = sampler_task_at(&s1, 123456 + i);
  int ok = 1;
  for (int i = 49; i >= 0; i--) ok &= fwd[i] == sampler_task_at(&s2, 123456 + i);
  CHECK(ok);
  diag_free(&d);
  arena_free(&a);
}

static void test_errors(void) {
  Arena a;
  arena_init(&a);
  Sampler s;
  struct {
    SamplerTask t[2];
    double temp;
    const char *err;
  } cases[] = {
      {{{"a", -1, 0}, {"b", 1, 0}},
       1,
       "error: task 'a': weight -1: it must be a finite number >= 0\n"},
      {{{"a", 1, 0}, {"b", NAN, 0}},
       1,
       "error: task 'b': weight nan: it must be a finite number >= 0\n"},
      {{{"a", 1, 0}, {"b", 1, -5}}, 1, "error: task 'b': introduce_at_step -5: it must be >= 0\n"},
      {{{"a", 1, 0}, {"b", 1, 0}},
       0,
       "error: sampling temperature 0: it must be a positive number\n"},
      {{{"a", 1, 10}, {"b", 1, 20}},
       1,
       "error: no task can be drawn from step 0: every task introduced by then has weight 0\n"},
      {{{"a", 0, 0}, {"b", 1, 20}},
       1,
       "error: no task can be drawn from step 0: every task introduced by then has weight 0\n"},
  };
  for (int i = 0; i < COUNT_OF(cases); i++) {
    Diag d;
    diag_init(&d);
    CHECK(sampler_init(&s, &a, &d, cases[i].t, 2, cases[i].temp, 1, 0) == -1);
    CHECK_STR(d.out.s, cases[i].err);
    diag_free(&d);
  }
  arena_free(&a);
}

int main(void) {
  test_frequencies();
  test_introduce();
  test_determinism();
  test_errors();
  return test_done();
}
