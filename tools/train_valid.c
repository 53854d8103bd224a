/* train_valid.c — `mamc train`'s validations (train_valid.h): loss, BLEU and chrF per task
 * with their means over tasks, on stderr and as one JSONL record
 *   {"type": "valid", "step": S, "loss": {task: x}, "mean": x,
 *    "bleu": {task: x}, "bleu_mean": x, "chrf": {task: x}, "chrf_mean": x, "best": true}
 * (what `mamc plot` draws); the best checkpoint by the early-stopping metric, and the stop.
 */
#include "train_valid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int metric_is(const TrainValid *v, const char *name) {
  return v->st->early_stop && strcmp(v->st->early_stop, name) == 0;
}

void train_valid_init(TrainValid *v, const mamc_settings *st, const char *resume) {
  memset(v, 0, sizeof *v);
  v->st = st;
  v->first_loss = v->last_loss = v->best = NAN;
  v->best_step = -1;
  if (!resume || !st->early_stop) return;
  /* the best so far of the run resumed: DIR/best/best.json beside DIR/latest (or beside the step
   * folder given) */
  char path[4200], line[512];
  const char *slash = strrchr(resume, '/');
  FILE *f = NULL;
  snprintf(path, sizeof path, "%s/best/best.json", resume);
  if (!(f = fopen(path, "r")) && slash) {
    snprintf(path, sizeof path, "%.*s/best/best.json", (int)(slash - resume), resume);
    f = fopen(path, "r");
  }
  if (!f) return;
  char metric[32] = "";
  double value = NAN;
  long long step = -1;
  if (fgets(line, sizeof line, f) &&
      sscanf(line, "{\"metric\": \"%31[a-z]\", \"value\": %lf, \"step\": %lld", metric, &value, &step) == 3 &&
      strcmp(metric, st->early_stop) == 0) {
    v->best = value;
    v->best_step = step;
  }
  fclose(f);
}

static double mean_of(const double *x, int n) {
  double s = 0;
  int c = 0;
  for (int k = 0; k < n; k++)
    if (!isnan(x[k])) s += x[k], c++;
  return c ? s / c : NAN;
}

/* "loss": {...}, then ", \"mean\": x" style members for one per-task array */
static void put_tasks(StrBuf *j, StrBuf *h, mamc_model *m, const char *key, const double *x, const char *fmt) {
  int n = mamc_model_ntasks(m), cnt = 0;
  sb_printf(j, ", \"%s\": {", key);
  for (int k = 0; k < n; k++) {
    if (isnan(x[k])) continue;
    sb_printf(j, "%s\"%s\": %.6f", cnt ? ", " : "", mamc_model_task_name(m, k), x[k]);
    sb_printf(h, "%s %s ", cnt ? " |" : "", mamc_model_task_name(m, k));
    sb_printf(h, fmt, x[k]);
    cnt++;
  }
  sb_putc(j, '}');
}

/* Keeps the best; returns 0 when DIR/best could not be written. */
static int track_best(TrainValid *v, mamc_trainer *t, int64_t step, double value, int *improved) {
  int lower = metric_is(v, "loss");
  *improved = !isnan(value) && (isnan(v->best) || (lower ? value < v->best : value > v->best));
  if (isnan(value)) return 1;
  if (!*improved) {
    v->stale++;
    if (v->st->patience > 0 && v->stale >= v->st->patience) v->stopped = 1;
    return 1;
  }
  v->best = value;
  v->best_step = step;
  v->stale = 0;
  char note[256], *err = NULL;
  snprintf(note, sizeof note, "{\"metric\": \"%s\", \"value\": %.6f, \"step\": %lld}\n", v->st->early_stop, value,
           (long long)step);
  if (mamc_trainer_save_best(t, v->st->checkpoint_dir, note, &err) != MAMC_OK) {
    fprintf(stderr, "%s", err ? err : "error: cannot write the best checkpoint\n");
    mamc_free_text(err);
    return 0;
  }
  return 1;
}

int train_valid_run(TrainValid *v, mamc_model *m, mamc_trainer *t, int64_t step, int initial, int tty, int print,
                    FILE *out) {
  int n = mamc_model_ntasks(m), ok = 1;
  double *l = calloc((size_t)(3 * n + 1), sizeof(double)), *bleu = l ? l + n : NULL, *chrf = l ? l + 2 * n : NULL;
  char *err = NULL;
  if (!l || mamc_trainer_validate(t, l, &err) != MAMC_OK) {
    fputs(err ? err : "error: out of memory\n", stderr);
    mamc_free_text(err);
    free(l);
    return 1;
  }
  int scored = v->st->valid_bleu > 0 && !initial;
  if (scored && mamc_trainer_validate_bleu(t, bleu, chrf, &err) != MAMC_OK) {
    fputs(err ? err : "error: validation BLEU failed\n", stderr);
    mamc_free_text(err);
    err = NULL;
    scored = 0;
  }
  double mean = mean_of(l, n), bmean = scored ? mean_of(bleu, n) : NAN, cmean = scored ? mean_of(chrf, n) : NAN;
  if (isnan(mean)) { /* no task has validation data */
    free(l);
    return 1;
  }
  if (isnan(v->first_loss)) v->first_loss = mean;
  v->last_loss = mean;
  int improved = 0;
  if (v->st->early_stop && !initial) { /* the best among validations after training steps */
    double value = metric_is(v, "loss") ? mean : metric_is(v, "bleu") ? bmean : cmean;
    ok = track_best(v, t, step, value, &improved);
  }
  StrBuf j, h, hb;
  sb_init(&j);
  sb_init(&h);
  sb_init(&hb);
  sb_printf(&j, "{\"type\": \"valid\", \"step\": %lld", (long long)step);
  put_tasks(&j, &h, m, "loss", l, "%.3f");
  sb_printf(&j, ", \"mean\": %.6f", mean);
  if (scored && !isnan(bmean)) {
    put_tasks(&j, &hb, m, "bleu", bleu, "%.2f");
    sb_printf(&j, ", \"bleu_mean\": %.6f", bmean);
    StrBuf hc;
    sb_init(&hc);
    put_tasks(&j, &hc, m, "chrf", chrf, "%.2f");
    sb_printf(&j, ", \"chrf_mean\": %.6f", cmean);
    sb_free(&hc);
  }
  if (improved) sb_puts(&j, ", \"best\": true");
  sb_putc(&j, '}');
  mamc_trainer_log(t, j.s); /* rank 0 only has the metrics file */
  if (print) {
    const char *cr = tty ? "\r\033[K" : "";
    fprintf(out, "%svalid @ %lld: mean %.3f (%.0f%% of the first) —%s\n", cr, (long long)step, mean,
            100.0 * mean / v->first_loss, h.s ? h.s : "");
    if (scored && !isnan(bmean))
      fprintf(out, "%svalid @ %lld: BLEU mean %.2f, chrF mean %.2f (%lld sentences per task) — BLEU%s\n", cr,
              (long long)step, bmean, cmean, (long long)v->st->valid_bleu, hb.s ? hb.s : "");
    if (improved)
      fprintf(out, "%sbest %s so far: %.3f at step %lld -> %s/best\n", cr, v->st->early_stop, v->best, (long long)step,
              v->st->checkpoint_dir);
    else if (v->st->early_stop && v->best_step >= 0 && !initial)
      fprintf(out, "%sno better %s than %.3f (step %lld) for %lld validation%s%s\n", cr, v->st->early_stop, v->best,
              (long long)v->best_step, (long long)v->stale, v->stale == 1 ? "" : "s",
              v->stopped ? ": stopping early" : "");
  }
  if (v->stopped) {
    char line[256];
    snprintf(line, sizeof line,
             "{\"type\": \"early_stop\", \"step\": %lld, \"metric\": \"%s\", \"best\": %.6f, \"best_step\": %lld, "
             "\"patience\": %lld}",
             (long long)step, v->st->early_stop, v->best, (long long)v->best_step, (long long)v->st->patience);
    mamc_trainer_log(t, line);
  }
  sb_free(&j);
  sb_free(&h);
  sb_free(&hb);
  free(l);
  return ok;
}
