/* trainer_guard.c — the numerical guard (train.nonfinite, docs/config.md). A step whose loss
 * (on any process) or gradient norm (over every process) is NaN or ±Inf either stops with a
 * message, or is skipped: no parameter update, AdamW moments and step counts untouched, the
 * gradient sums dropped, the step counted (trainer_skipped_steps, a `skip` line in the metrics
 * JSONL). Every process reaches the same verdict: the flag travels in tsync_norm's world sum.
 *
 * Naming the culprit: a step that stops, and with nonfinite_debug every non-finite step,
 * re-runs each task run of the step on this process op by op with the reference interpreter
 * (nonfinite.h) on the step's batch and the parameters before the update, and reports the
 * first op whose value is not finite (or the parameter that already held one). */
#include <math.h>
#include <stdlib.h>

#include "nonfinite.h"
#include "trainer_internal.h"

int tguard_setup(Trainer *t) {
  if (getenv("MAMC_NONFINITE_DEBUG") && strcmp(getenv("MAMC_NONFINITE_DEBUG"), "0") != 0) t->opts.nonfinite_debug = 1;
  t->step_task = calloc((size_t)t->nranks, sizeof(int));
  t->step_batch = calloc((size_t)t->nranks, sizeof(TBatch));
  return t->step_task && t->step_batch;
}

void tguard_free(Trainer *t) {
  for (int i = 0; t->step_batch && i < t->nranks; i++) tbatch_free(&t->step_batch[i]);
  free(t->step_batch);
  free(t->step_task);
}

void tguard_begin(Trainer *t) {
  t->nstep_runs = 0;
  t->nonfinite_local = 0;
  t->nonfinite_world = 0;
}

void tguard_record(Trainer *t, int k, const Batch *b) {
  if (t->nstep_runs >= t->nranks) return;
  TBatch *tb = &t->step_batch[t->nstep_runs];
  tbatch_free(tb);
  if (!tbatch_copy(tb, b)) return; /* out of memory: the re-run will not see this one */
  t->step_task[t->nstep_runs++] = k;
}

/* Re-runs task run i of this step op by op. 1 found (msg), 0 all finite, -1 failed. */
static int rerun(Trainer *t, int i, char *msg, size_t len) {
  int k = t->step_task[i];
  TTask *tk = &t->tasks[k];
  const IrGraph *g = &t->train->graphs.v[tk->spec.graph];
  Batch b = tbatch_view(&t->step_batch[i]);
  Tensor in[3] = {{0}};
  char err[256];
  int nin = tbatch_inputs(g, &b, in, err, sizeof err), ncorpus = nin;
  if (nin && tk->rows && !(nin = tdept_inputs(t, k, in, nin, err, sizeof err)))
    for (int j = 0; j < ncorpus; j++) rt_tensor_free(&in[j]);
  if (!nin) {
    snprintf(msg, len, "the op-by-op re-run of task %s cannot read its batch: %s", tk->spec.name, err);
    return -1;
  }
  int64_t *sym = calloc((size_t)t->train->syms.n + 1, sizeof(int64_t));
  InterpCx cx = {t->opts.fdt, t->opts.seed, t->step + 1, 1, {0}};
  int rc = -1;
  if (!sym)
    snprintf(msg, len, "the op-by-op re-run is out of memory");
  else if (!tbind_symbols(t->train, g, in, sym, err, sizeof err))
    snprintf(msg, len, "the op-by-op re-run of task %s: %s", tk->spec.name, err);
  else {
    char found[768];
    rc = nonfinite_first_op(t->train, tk->spec.graph, sym, in, &t->params, tk->has_exec ? tk->exec.forward : NULL,
                            &cx, found, sizeof found);
    int named = rc == 1 && t->nstep_runs > 1; /* several task runs this step: which one */
    snprintf(msg, len, "%s%s%s", named ? "in task " : "", named ? tk->spec.name : "", named ? ": " : "");
    size_t at = strlen(msg);
    snprintf(msg + at, len - at, "%s", found);
  }
  free(sym);
  for (int j = 0; j < nin; j++) rt_tensor_free(&in[j]);
  return rc;
}

/* The first culprit over this step's task runs here, into msg. */
static void locate(Trainer *t, char *msg, size_t len) {
  msg[0] = 0;
  if (t->nstep_runs == 0) {
    snprintf(msg, len, "this process ran no task this step (another process's loss or gradients)");
    return;
  }
  char one[900];
  for (int i = 0; i < t->nstep_runs; i++) {
    int rc = rerun(t, i, one, sizeof one);
    if (rc == 1 || (rc < 0 && !msg[0]) || (rc == 0 && i == t->nstep_runs - 1 && !msg[0]))
      snprintf(msg, len, "%s", one);
    if (rc == 1) return;
  }
  if (t->nranks > 1 && !t->emulate)
    snprintf(msg + strlen(msg), len - strlen(msg), "; another process's values may be the cause");
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

int tguard_step(Trainer *t, double norm, double lr, Diag *d) {
  int64_t step = t->step + 1;
  int stop = !t->opts.nonfinite_skip;
  char what[1024];
  if (t->nonfinite_local)
    snprintf(what, sizeof what, "%s", t->nonfinite_msg); /* "task X: the loss is nan" */
  else if (!isfinite(norm))
    snprintf(what, sizeof what, "the gradient norm is %s", isnan(norm) ? "NaN" : "Inf");
  else
    snprintf(what, sizeof what, "a loss or gradient on another process is not finite");
  if (stop || t->opts.nonfinite_debug) {
    char where[900];
    locate(t, where, sizeof where);
    snprintf(t->nonfinite_msg, sizeof t->nonfinite_msg, "step %lld: %s; %s", (long long)step, what, where);
  } else {
    snprintf(t->nonfinite_msg, sizeof t->nonfinite_msg, "step %lld: %s", (long long)step, what);
  }
  if (stop) {
    diag_plain(d, "%s; stopping (train.nonfinite: skip skips such steps; a lower learning rate or clipping may help)",
               t->nonfinite_msg);
    return 0;
  }
  t->skipped++;
  if (t->metrics) {
    fprintf(t->metrics, "{\"type\": \"skip\", \"step\": %lld, \"lr\": %.6g, \"skipped\": %lld, \"reason\": ",
            (long long)step, lr, (long long)t->skipped);
    json_str(t->metrics, t->nonfinite_msg);
    fputs("}\n", t->metrics);
    fflush(t->metrics);
  }
  return 1;
}
