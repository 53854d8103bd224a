/* driver.c — a training driver that embeds mamc through its public API (include/mamc/mamc.h):
 * compile a model, train it for a few steps on its configured data, then a few steps on
 * batches the driver builds itself, validate, checkpoint and reload.
 *
 *   driver MODEL.mam RUN.yaml STEPS CHECKPOINT_DIR
 *
 * Built and run by the test suite (tests/driver); it also shows what a driver must do.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mamc/mamc.h"

static int fail(const char *what, char *err) {
  fprintf(stderr, "driver: %s failed:\n%s", what, err ? err : "(no message)\n");
  mamc_free_text(err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: driver MODEL.mam RUN.yaml STEPS CHECKPOINT_DIR\n");
    return 2;
  }
  mamc_keep_freed_memory(); /* process-wide, once: no page faults per step (mamc.h) */
  char *err = NULL;
  mamc_model *m = mamc_model_compile(argv[1], argv[2], &err);
  if (!m) return fail("compile", err);
  int ntasks = mamc_model_ntasks(m);
  printf("model: %d tasks, %lld parameters\n", ntasks, (long long)mamc_model_parameter_count(m));

  mamc_train_options o = {.steps = atoll(argv[3]), .seed = 7};
  mamc_trainer *t = mamc_trainer_new(m, &o, &err);
  if (!t) return fail("trainer", err);

  double *before = calloc((size_t)ntasks, sizeof(double)), *after = calloc((size_t)ntasks, sizeof(double));
  if (mamc_trainer_validate(t, before, &err)) return fail("validate", err);
  for (int64_t i = 0; i < mamc_trainer_total_steps(t); i++) {
    mamc_step s;
    if (mamc_trainer_step(t, &s, &err)) return fail("step", err);
    printf("step %lld task %s loss %.4f\n", (long long)s.step, mamc_model_task_name(m, s.task), s.loss);
  }
  /* the driver's own batch for task 0: two sentences of byte tokens (id = 4 + byte) */
  const char *src_text[2] = {"Open file", "Save"}, *tgt_text[2] = {"Datei öffnen", "Speichern"};
  int B = 2, S = 16, T = 20;
  int32_t src[2 * 16] = {0}, tgt[2 * 20] = {0};
  for (int b = 0; b < B; b++) {
    int k = 0;
    for (const unsigned char *c = (const unsigned char *)src_text[b]; *c && k < S - 1; c++) src[b * S + k++] = 4 + *c;
    src[b * S + k] = 2;
    k = 0;
    tgt[b * T + k++] = 1;
    for (const unsigned char *c = (const unsigned char *)tgt_text[b]; *c && k < T - 1; c++) tgt[b * T + k++] = 4 + *c;
    tgt[b * T + k] = 2;
  }
  mamc_step s;
  if (mamc_trainer_step_batch(t, 0, src, B, S, tgt, T, &s, &err)) return fail("step_batch", err);
  printf("own batch: step %lld loss %.4f\n", (long long)s.step, s.loss);
  if (mamc_trainer_validate(t, after, &err)) return fail("validate", err);
  for (int k = 0; k < ntasks; k++)
    if (!isnan(before[k])) printf("valid %s: %.4f -> %.4f\n", mamc_model_task_name(m, k), before[k], after[k]);
  if (mamc_trainer_save(t, argv[4], 2, &err)) return fail("save", err);

  /* a fresh trainer loaded from the checkpoint validates to the same losses */
  mamc_trainer *t2 = mamc_trainer_new(m, &o, &err);
  if (!t2) return fail("trainer", err);
  if (mamc_trainer_load(t2, argv[4], &err)) return fail("load", err);
  double *again = calloc((size_t)ntasks, sizeof(double));
  if (mamc_trainer_validate(t2, again, &err)) return fail("validate", err);
  int same = 1;
  for (int k = 0; k < ntasks; k++)
    if (!isnan(after[k]) && again[k] != after[k]) same = 0;
  printf("reloaded: step %lld, validation %s\n", (long long)mamc_trainer_step_count(t2), same ? "identical" : "DIFFERS");
  mamc_trainer_free(t2);
  mamc_trainer_free(t);
  mamc_model_free(m);
  free(before);
  free(after);
  free(again);
  return same ? 0 : 1;
}
