/* test_nonfinite_grad.c — the numerical guard (issue #9; runtime/trainer_guard.c, nonfinite.c)
 * when the loss is finite but a gradient is not. nan_grad.mam reads sqrt(e * e) of its
 * embeddings: |e| forward, 1 / (2 sqrt(e * e)) backward. The test sets the embedding row of one
 * byte ('Q') to exactly 0 (the singular point): a batch holding a 'Q' has a finite loss, and
 * sqrt's gradient (a div by the forward sqrt) is infinite there, so the gradient norm is not
 * finite. Batches are fresh random lowercase text (seed printed; MAMC_TEST_SEED=N repeats one).
 *
 *   stop (nan_stop.yaml): the poisoned step fails; the message says the gradient norm (not the
 *        loss) is not finite and names the first op that produced it: the `div` of sqrt's
 *        gradient rule, in the backward pass, at nan_grad.mam's sqrt, at the position of the
 *        'Q' (produced ±Inf: the upstream gradient is not 0); no step is counted, and a
 *        clean batch trains afterwards (the zero row is read only with a 'Q').
 *   skip (nan_skip.yaml): the poisoned step returns ok, skipped, with its finite loss; every
 *        parameter, both AdamW moments and every module's step count are bit for bit what they
 *        were; the metrics JSONL has its `skip` line; the next clean step trains; the debug mode
 *        names the op of a skipped step too.
 *
 *   test_nonfinite_grad MODEL.mam STOP.yaml SKIP.yaml
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "nonfinite_util.h"
#include "test.h"

enum { POISON = 4 + 'Q' };
#define SQRT_AT "tests/faults/nan_grad.mam:20:"

static void zero_row(mamc_trainer *t) {
  Tensor *w = nf_param(t, "embed[en]", 0);
  CHECK(w && w->rank == 2 && w->shape[0] > POISON);
  if (!w || w->rank != 2 || w->shape[0] <= POISON) return;
  for (int64_t j = 0; j < w->shape[1]; j++) rt_tensor_set(w, POISON * w->shape[1] + j, 0.0);
}

static int step(mamc_trainer *t, int poison, mamc_step *out, char **err) {
  return nf_step(t, poison ? POISON : -1, out, err);
}

/* the guard's verdict names the gradient, and the re-run the div of sqrt' in the backward pass */
static void check_names_div(const char *msg, const char *step_no) {
  CHECK(msg && strstr(msg, step_no));
  CHECK(msg && (strstr(msg, ": the gradient norm is NaN; op %") || strstr(msg, ": the gradient norm is Inf; op %")));
  CHECK(msg && !strstr(msg, "the loss is"));
  CHECK(msg && strstr(msg, " div (from " SQRT_AT));
  /* the first element: the poisoned token's position (in text[:, :-1]), its first feature */
  char at[96];
  snprintf(at, sizeof at, "Inf at [%d, %d, 0] of f32[%d, %d, 16] (backward pass); its operands were finite",
           nf_poison_at() / NF_T, nf_poison_at() % NF_T, NF_B, NF_T - 1);
  CHECK_MSG(msg && strstr(msg, at), "expected '%s'", at);
  CHECK(msg && strstr(msg, " produced "));
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
    CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped && isfinite(s.loss) && isfinite(s.grad_norm));
    mamc_free_text(err);
  }
  zero_row(t);
  CHECK(step(t, 1, &s, &err) != MAMC_OK);
  fprintf(stderr, "stop mode says: %s", err ? err : "(nothing)\n");
  check_names_div(err, "step 3: ");
  CHECK(err && strstr(err, "stopping"));
  CHECK(mamc_trainer_step_count(t) == 2);
  mamc_free_text(err);
  /* a clean batch still trains: the zero row is read only by batches with a 'Q' */
  CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped && s.step == 3 && isfinite(s.grad_norm));
  mamc_free_text(err);
  mamc_trainer_free(t);
  mamc_model_free(m);
}

static void test_skip(const char *mam, const char *yaml) {
  char *err = NULL, metrics[] = "/tmp/mamc-nonfinite-grad-XXXXXX";
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
  zero_row(t);
  free(b.bytes);
  b = nf_snap(t);
  CHECK(step(t, 1, &s, &err) == MAMC_OK);
  mamc_free_text(err);
  CHECK(s.skipped == 1 && s.step == 2);
  CHECK_MSG(isfinite(s.loss), "the poisoned step's loss is %g: the test means a finite loss", s.loss);
  CHECK(!isfinite(s.grad_norm));
  c = nf_snap(t);
  CHECK(nf_snap_eq(&b, &c)); /* parameters, moments, step counts: untouched */
  CHECK(mamc_trainer_skipped_steps(t) == 1);
  const char *rep = mamc_trainer_nonfinite_report(t);
  fprintf(stderr, "skip mode says: %s\n", rep);
  CHECK(strstr(rep, "step 2: the gradient norm is ") != NULL && !strstr(rep, "the loss is"));
  free(c.bytes);
  CHECK(step(t, 0, &s, &err) == MAMC_OK && !s.skipped && s.step == 3 && isfinite(s.loss));
  mamc_free_text(err);
  c = nf_snap(t);
  CHECK(!nf_snap_eq(&b, &c)); /* and training goes on */
  /* the debug mode names the op of a skipped step too, and still changes nothing */
  mamc_trainer_runtime(t)->opts.nonfinite_debug = 1;
  free(b.bytes);
  b = nf_snap(t);
  CHECK(step(t, 1, &s, &err) == MAMC_OK && s.skipped && isfinite(s.loss));
  mamc_free_text(err);
  free(c.bytes);
  c = nf_snap(t);
  CHECK(nf_snap_eq(&b, &c));
  rep = mamc_trainer_nonfinite_report(t);
  fprintf(stderr, "skip mode (debug) says: %s\n", rep);
  check_names_div(rep, "step 4: ");
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
    fprintf(stderr, "usage: test_nonfinite_grad MODEL.mam STOP.yaml SKIP.yaml\n");
    return 2;
  }
  nf_seed("test_nonfinite_grad");
  unsetenv("MAMC_NONFINITE_DEBUG");
  test_stop(argv[1], argv[2]);
  test_skip(argv[1], argv[3]);
  return test_done();
}
