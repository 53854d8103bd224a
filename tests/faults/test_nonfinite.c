/* test_nonfinite.c — the numerical guard (issue #9; runtime/trainer_guard.c, nonfinite.c).
 * nan.mam reads exp(embedding * 0.25); the test sets the embedding row of one byte ('Q') to
 * 100, so exactly the batches holding a 'Q' overflow exp to Inf, and the loss turns NaN.
 * Batches are fresh random lowercase text (seed printed; MAMC_TEST_SEED=N repeats one).
 *
 *   stop (nan_stop.yaml): clean steps train; the poisoned batch fails, the message names the
 *        loss and the first op that produced a non-finite value: `op %N exp (from
 *        tests/faults/nan.mam:17:...) produced Inf`; no step is counted. A NaN already in a
 *        parameter is named as that parameter.
 *   skip (nan_skip.yaml): the poisoned step returns ok with skipped = 1; every parameter, both
 *        AdamW moments and every module's step count are bit for bit what they were; the
 *        metrics JSONL has its `skip` line; the next clean step trains; with the debug mode on
 *        a skipped step's report names the op too.
 *
 *   test_nonfinite MODEL.mam STOP.yaml SKIP.yaml
 */
#include <stdlib.h>
#include <unistd.h>

#include "nonfinite_util.h"
#include "test.h"

enum { POISON = 4 + 'Q' };

static Tensor *param(mamc_trainer *t, const char *module, int p) {
  Tensor *w = nf_param(t, module, p);
  CHECK(w != NULL);
  return w;
}

static void poison_row(mamc_trainer *t) {
  Tensor *w = param(t, "embed[en]", 0);
  if (!w) return;
  CHECK(w->rank == 2 && w->shape[0] > POISON);
  for (int64_t j = 0; j < w->shape[1]; j++) rt_tensor_set(w, POISON * w->shape[1] + j, 100.0);
}

static int step(mamc_trainer *t, int poison, mamc_step *out, char **err) {
  return nf_step(t, poison ? POISON : -1, out, err);
}

static void test_stop(const char *mam, const char *yaml) {
  char *err = NULL;
  mamc_model *m;
  mamc_trainer *t = nf_open(mam, yaml, NULL, &m);
  CHECK(t != NULL);
  if (!t) {
    mamc_model_free(m);
    return;
  }
  mamc_step s;
  for (int i = 0; i < 2; i++) {
    CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped && s.loss == s.loss);
    mamc_free_text(err);
  }
  poison_row(t);
  CHECK(step(t, 1, &s, &err) != MAMC_OK);
  fprintf(stderr, "stop mode says: %s", err ? err : "(nothing)\n");
  CHECK(err && strstr(err, "step 3: task lm-en: the loss is NaN; op %"));
  CHECK(err && strstr(err, " exp (from tests/faults/nan.mam:17:10) produced Inf at ["));
  CHECK(err && strstr(err, "produced Inf at ["));
  CHECK(err && strstr(err, "forward pass"));
  CHECK(err && strstr(err, "stopping"));
  CHECK(mamc_trainer_step_count(t) == 2);
  mamc_free_text(err);
  /* a clean batch still trains (the failed step left no gradients behind) */
  CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped && s.step == 3);
  mamc_free_text(err);
  /* a parameter that already holds a NaN is named as such */
  Tensor *w = param(t, "out[en]", 0);
  if (w) rt_tensor_set(w, (int64_t)(nf_next_u32() % (uint32_t)w->n), NAN);
  CHECK(step(t, 0, &s, &err) != MAMC_OK);
  fprintf(stderr, "stop mode says: %s", err ? err : "(nothing)\n");
  CHECK(err && strstr(err, "parameter out[en].weight holds NaN at ["));
  mamc_free_text(err);
  mamc_trainer_free(t);
  mamc_model_free(m);
}

static void test_skip(const char *mam, const char *yaml) {
  char *err = NULL, metrics[] = "/tmp/mamc-nonfinite-XXXXXX";
  mamc_model *m;
  mamc_trainer *t = nf_open(mam, yaml, metrics, &m);
  CHECK(t != NULL);
  if (!t) {
    mamc_model_free(m);
    return;
  }
  mamc_step s;
  NfSnap a = nf_snap(t), b, c;
  CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped);
  mamc_free_text(err);
  b = nf_snap(t);
  CHECK(!nf_snap_eq(&a, &b)); /* a clean step trains */
  poison_row(t);
  free(b.bytes);
  b = nf_snap(t);
  CHECK(step(t, 1, &s, &err) == MAMC_OK);
  mamc_free_text(err);
  CHECK(s.skipped == 1 && s.step == 2 && s.loss != s.loss);
  c = nf_snap(t);
  CHECK(nf_snap_eq(&b, &c)); /* parameters, moments, step counts: untouched */
  CHECK(mamc_trainer_skipped_steps(t) == 1);
  CHECK(strstr(mamc_trainer_nonfinite_report(t), "step 2: task lm-en: the loss is NaN") != NULL);
  free(c.bytes);
  CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped && s.step == 3 && s.loss == s.loss);
  mamc_free_text(err);
  c = nf_snap(t);
  CHECK(!nf_snap_eq(&b, &c)); /* and training goes on */
  /* the debug mode names the op of a skipped step too */
  mamc_trainer_runtime(t)->opts.nonfinite_debug = 1;
  CHECK(step(t, 1, &s, &err) == MAMC_OK && s.skipped);
  mamc_free_text(err);
  const char *rep = mamc_trainer_nonfinite_report(t);
  fprintf(stderr, "skip mode (debug) says: %s\n", rep);
  CHECK(strstr(rep, "step 4: task lm-en: the loss is NaN; op %") != NULL);
  CHECK(strstr(rep, " exp (from tests/faults/nan.mam:17:") != NULL);
  CHECK(mamc_trainer_skipped_steps(t) == 2 && mamc_trainer_step_count(t) == 4);
  mamc_trainer_free(t);
  char *log = nf_slurp(metrics);
  CHECK(log && strstr(log, "{\"type\": \"skip\", \"step\": 2,") && strstr(log, "{\"type\": \"skip\", \"step\": 4,"));
  free(log);
  free(a.bytes);
  free(b.bytes);
  free(c.bytes);
  unlink(metrics);
  mamc_model_free(m);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_nonfinite MODEL.mam STOP.yaml SKIP.yaml\n");
    return 2;
  }
  nf_seed("test_nonfinite");
  unsetenv("MAMC_NONFINITE_DEBUG");
  test_stop(argv[1], argv[2]);
  test_skip(argv[1], argv[3]);
  return test_done();
}
