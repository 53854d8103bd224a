/* config_train.c — the run configuration's `train:` and `checkpoint:` sections (docs/config.md):
 * steps, batching, schedule, optimizer, precision, device, validation (loss, BLEU, early
 * stopping), numerical guards; the checkpoint folder and cadence. Errors at the YAML line:col.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"

/* ---- train, checkpoint ------------------------------------------------------------------------ */

static const char *const TRAIN_KEYS[] = {
    "steps",     "batch_tokens",    "max_len", "lr",        "schedule", "optimizer",
    "clip",      "label_smoothing", "dropout", "precision", "seed",     "device",
    "valid_every", "valid_batches", "log_every",     "accum",    "bucket_mb", "nonfinite",
    "nonfinite_debug", "valid_bleu", "early_stop"};
static const char *const SCHED_KEYS[] = {"kind", "warmup", "min_lr"};
static const char *const SCHEDS[] = {"inverse_sqrt", "cosine", "linear", "constant"};
static const char *const OPT_KEYS[] = {"kind", "beta1", "beta2", "eps", "weight_decay", "momentum"};
static const char *const OPTS[] = {"adamw", "adam", "sgd"};
static const char *const PRECISIONS[] = {"fp32", "bf16", "fp16"};
static const char *const NONFINITES[] = {"stop", "skip"};
static const char *const STOP_KEYS[] = {"metric", "patience"};
static const char *const STOP_METRICS[] = {"none", "loss", "bleu", "chrf"};

/* min(4000, steps/10); at least 1 for inverse_sqrt, which divides by it */
void cfg_default_warmup(CfgTrain *t) {
  long long wu = t->steps / 10;
  if (wu > 4000) wu = 4000;
  if (wu < 1 && t->schedule.kind == CFG_SCHED_INVERSE_SQRT) wu = 1;
  t->schedule.warmup = wu;
}

static void read_schedule(CfgReader *r, CfgTrain *t, const YNode *m, int *warmup_given) {
  const char *w = "train.schedule";
  int k = (int)t->schedule.kind;
  if (m->kind == YN_SCALAR) { /* shorthand: `schedule: cosine` */
    yn_read_enum(r, m, "train.schedule.kind", SCHEDS, COUNT_OF(SCHEDS), &k);
    t->schedule.kind = (CfgSchedKind)k;
    return;
  }
  if (!yn_expect(r, m, YN_MAP, w)) return;
  yn_check_keys(r, m, w, SCHED_KEYS, COUNT_OF(SCHED_KEYS));
  opt_enum(r, m, w, "kind", SCHEDS, COUNT_OF(SCHEDS), &k);
  t->schedule.kind = (CfgSchedKind)k;
  const YNode *wu = yn_get(m, "warmup");
  if (wu && yn_read_int(r, wu, "train.schedule.warmup", 0, YN_NOMAX, &t->schedule.warmup)) {
    *warmup_given = 1;
    if (t->schedule.warmup > t->steps)
      diag_error(r->d, wu->loc, "train.schedule.warmup (%lld) is longer than train.steps (%lld)",
                 t->schedule.warmup, t->steps);
    else if (t->schedule.warmup == 0 && k == CFG_SCHED_INVERSE_SQRT)
      diag_error(r->d, wu->loc, "the inverse_sqrt schedule needs warmup >= 1");
  }
  const YNode *ml = yn_get(m, "min_lr");
  if (ml && yn_read_float(r, ml, "train.schedule.min_lr", 0, 0, HUGE_VAL, 0, &t->schedule.min_lr) &&
      t->schedule.min_lr > t->lr)
    diag_error(r->d, ml->loc, "train.schedule.min_lr (%g) is above train.lr (%g)",
               t->schedule.min_lr, t->lr);
}

static void read_optimizer(CfgReader *r, CfgTrain *t, const YNode *m) {
  const char *w = "train.optimizer";
  int k = (int)t->optimizer.kind;
  const YNode *kind = m->kind == YN_SCALAR ? m : NULL;
  if (m->kind != YN_SCALAR) {
    if (!yn_expect(r, m, YN_MAP, w)) return;
    yn_check_keys(r, m, w, OPT_KEYS, COUNT_OF(OPT_KEYS));
    kind = yn_get(m, "kind");
  }
  if (kind) yn_read_enum(r, kind, "train.optimizer.kind", OPTS, COUNT_OF(OPTS), &k);
  t->optimizer.kind = (CfgOptKind)k;
  if (k != CFG_OPT_ADAMW) t->optimizer.weight_decay = 0;
  if (m->kind != YN_MAP) return;
  int adam = k != CFG_OPT_SGD;
  static const char *const ADAM_ONLY[] = {"beta1", "beta2", "eps"};
  for (int i = 0; i < 3; i++) {
    const YPair *p = yn_pair(m, ADAM_ONLY[i]);
    if (p && !adam)
      diag_error(r->d, p->key->loc, "the sgd optimizer has no %s (adam and adamw do)",
                 ADAM_ONLY[i]);
  }
  const YPair *mom = yn_pair(m, "momentum");
  if (mom && adam)
    diag_error(r->d, mom->key->loc, "the %s optimizer has no momentum (sgd does; adam has beta1)",
               OPTS[k]);
  if (adam) {
    opt_float(r, m, w, "beta1", 0, 0, 1, 1, &t->optimizer.beta1);
    opt_float(r, m, w, "beta2", 0, 0, 1, 1, &t->optimizer.beta2);
    opt_float(r, m, w, "eps", 0, 1, HUGE_VAL, 0, &t->optimizer.eps);
  } else {
    opt_float(r, m, w, "momentum", 0, 0, 1, 1, &t->optimizer.momentum);
  }
  opt_float(r, m, w, "weight_decay", 0, 0, HUGE_VAL, 0, &t->optimizer.weight_decay);
}

static void read_device(CfgReader *r, CfgTrain *t, const YNode *v) {
  if (v->kind == YN_SCALAR && strcmp(v->s, "cpu") == 0) {
    t->device = CFG_DEV_CPU;
    t->device_index = -1;
    return;
  }
  if (v->kind == YN_SCALAR && strncmp(v->s, "cuda", 4) == 0) {
    const char *s = v->s + 4;
    if (!*s) {
      t->device = CFG_DEV_CUDA;
      t->device_index = -1;
      return;
    }
    if (*s == ':' && s[1] >= '0' && s[1] <= '9' && strlen(s + 1) <= 4) {
      char *end;
      long n = strtol(s + 1, &end, 10);
      if (!*end) {
        t->device = CFG_DEV_CUDA;
        t->device_index = (int)n;
        return;
      }
    }
  }
  diag_error(r->d, v->loc, "train.device must be cpu, cuda or cuda:N, got %s",
             yn_describe(r->a, v));
}

/* early_stop: {metric: loss|bleu|chrf, patience: K} — needs validation (valid_every), and
 * bleu/chrf need valid_bleu sentences to score */
static void read_early_stop(CfgReader *r, CfgTrain *t, const YNode *m) {
  const char *w = "train.early_stop";
  t->early_stop.loc = m->loc;
  if (!yn_expect(r, m, YN_MAP, w)) return;
  yn_check_keys(r, m, w, STOP_KEYS, COUNT_OF(STOP_KEYS));
  const YNode *mv = yn_get(m, "metric");
  if (!mv) {
    diag_error(r->d, m->loc, "train.early_stop needs a metric (loss, bleu or chrf)");
    return;
  }
  int k = 0;
  if (!yn_read_enum(r, mv, "train.early_stop.metric", STOP_METRICS, COUNT_OF(STOP_METRICS), &k)) return;
  t->early_stop.metric = (CfgStopMetric)k;
  t->early_stop.patience = 3;
  opt_int(r, m, w, "patience", 0, YN_NOMAX, &t->early_stop.patience);
  if (k == CFG_STOP_NONE) return;
  if (t->valid_every == 0)
    diag_error(r->d, mv->loc, "train.early_stop needs validation, but train.valid_every is 0");
  else if ((k == CFG_STOP_BLEU || k == CFG_STOP_CHRF) && t->valid_bleu == 0)
    diag_error(r->d, mv->loc, "train.early_stop.metric %s needs train.valid_bleu > 0 (sentences per task to translate)",
               STOP_METRICS[k]);
}

void cfg_read_train(CfgReader *r, CfgTrain *t, const YNode *m) {
  const char *w = "train";
  t->loc = m->loc;
  if (!yn_expect(r, m, YN_MAP, w)) return;
  yn_check_keys(r, m, w, TRAIN_KEYS, COUNT_OF(TRAIN_KEYS));
  opt_int(r, m, w, "steps", 1, YN_NOMAX, &t->steps);
  opt_int(r, m, w, "batch_tokens", 1, YN_NOMAX, &t->batch_tokens);
  opt_int32(r, m, w, "max_len", 1, &t->max_len);
  opt_float(r, m, w, "lr", 0, 1, HUGE_VAL, 0, &t->lr);
  int warmup_given = 0;
  const YNode *v;
  if ((v = yn_get(m, "schedule"))) read_schedule(r, t, v, &warmup_given);
  if (!warmup_given) cfg_default_warmup(t);
  if ((v = yn_get(m, "optimizer"))) read_optimizer(r, t, v);
  opt_float(r, m, w, "clip", 0, 0, HUGE_VAL, 0, &t->clip);
  opt_float(r, m, w, "label_smoothing", 0, 0, 1, 1, &t->label_smoothing);
  if (yn_get(m, "label_smoothing")) {
    t->label_smoothing_given = 1;
    t->label_smoothing_loc = val_loc(m, "label_smoothing");
  }
  opt_float(r, m, w, "dropout", 0, 0, 1, 1, &t->dropout);
  if (t->dropout != 0)
    diag_error(r->d, val_loc(m, "dropout"),
               "train.dropout is %g: mamc takes dropout from the model, not the run configuration "
               "(the p: argument of nn's Encoder, Decoder and FFN blocks, or dropout(x, p:)); "
               "set it there and remove this key",
               t->dropout);
  int prec = 0;
  opt_enum(r, m, w, "precision", PRECISIONS, 3, &prec);
  t->precision = prec == 1 ? DT_BF16 : prec == 2 ? DT_F16 : DT_F32;
  opt_int(r, m, w, "seed", 0, YN_NOMAX, &t->seed);
  if ((v = yn_get(m, "device"))) read_device(r, t, v);
  opt_int(r, m, w, "valid_every", 0, YN_NOMAX, &t->valid_every);
  opt_int(r, m, w, "valid_batches", 1, YN_NOMAX, &t->valid_batches);
  opt_int(r, m, w, "valid_bleu", 0, 1000000, &t->valid_bleu);
  if ((v = yn_get(m, "early_stop"))) read_early_stop(r, t, v);
  opt_int(r, m, w, "log_every", 0, YN_NOMAX, &t->log_every);
  opt_int32(r, m, w, "accum", 1, &t->accum);
  opt_float(r, m, w, "bucket_mb", 0, 1, 1 << 20, 0, &t->bucket_mb);
  int nf = 0;
  opt_enum(r, m, w, "nonfinite", NONFINITES, 2, &nf);
  t->nonfinite = nf == 1 ? CFG_NONFINITE_SKIP : CFG_NONFINITE_STOP;
  if ((v = yn_get(m, "nonfinite_debug"))) yn_read_bool(r, v, cfg_path(r, w, "nonfinite_debug"), &t->nonfinite_debug);
  if (t->batch_tokens < t->max_len && (yn_get(m, "batch_tokens") || yn_get(m, "max_len")))
    diag_error(r->d, val_loc(m, yn_get(m, "batch_tokens") ? "batch_tokens" : "max_len"),
               "train.batch_tokens (%lld) is less than train.max_len (%d): a sentence of "
               "max_len tokens would not fit in a batch",
               t->batch_tokens, t->max_len);
}

static const char *const CKPT_KEYS[] = {"dir", "every", "keep"};

void cfg_read_checkpoint(CfgReader *r, CfgCheckpoint *c, const YNode *m) {
  c->loc = m->loc;
  if (!yn_expect(r, m, YN_MAP, "checkpoint")) return;
  yn_check_keys(r, m, "checkpoint", CKPT_KEYS, COUNT_OF(CKPT_KEYS));
  const YNode *v = yn_get(m, "dir");
  if (v) yn_read_str(r, v, "checkpoint.dir", &c->dir);
  opt_int(r, m, "checkpoint", "every", 0, YN_NOMAX, &c->every);
  opt_int32(r, m, "checkpoint", "keep", 0, &c->keep);
}

