/* config_dump.c — using a loaded RunConfig: lookups (index sets, vocabularies, tasks, sync
 * policy by module pattern), locations of keys for later diagnostics, data-file checks, and
 * the normalised dump (valid YAML with every default written out; tests diff it).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "config_yaml.h"

/* ---- names of enumerations ------------------------------------------------------------------- */

const char *cfg_vocab_kind_name(CfgVocabKind k) { return k == CFG_VOCAB_BPE ? "bpe" : "byte"; }
const char *cfg_stop_metric_name(CfgStopMetric k) {
  return k == CFG_STOP_LOSS ? "loss" : k == CFG_STOP_BLEU ? "bleu" : k == CFG_STOP_CHRF ? "chrf" : "none";
}
const char *cfg_sched_name(CfgSchedKind k) {
  static const char *const n[] = {"inverse_sqrt", "cosine", "linear", "constant"};
  return (unsigned)k < 4 ? n[k] : "?";
}
const char *cfg_opt_name(CfgOptKind k) {
  static const char *const n[] = {"adamw", "adam", "sgd"};
  return (unsigned)k < 3 ? n[k] : "?";
}
const char *cfg_dept_name(CfgDeptVariant v) {
  static const char *const n[] = {"none", "glob", "trim", "spec"};
  return (unsigned)v < 4 ? n[v] : "?";
}
const char *cfg_strategy_name(CfgSampleStrategy s) {
  return s == CFG_SAMPLE_ROUNDROBIN ? "roundrobin" : "weighted";
}

/* ---- lookups ---------------------------------------------------------------------------------- */

const CfgIndex *cfg_index_find(const RunConfig *cfg, const char *name) {
  for (int i = 0; i < cfg->indexes.n; i++)
    if (strcmp(cfg->indexes.v[i].name.s, name) == 0) return &cfg->indexes.v[i];
  return NULL;
}

int cfg_index_value(const CfgIndex *ix, const char *value) {
  for (int i = 0; i < ix->values.n; i++)
    if (strcmp(ix->values.v[i].s, value) == 0) return i;
  return -1;
}

const char *cfg_index_group_of(const CfgIndex *ix, const char *member) {
  for (int g = 0; g < ix->groups.n; g++)
    for (int i = 0; i < ix->groups.v[g].members.n; i++)
      if (strcmp(ix->groups.v[g].members.v[i].s, member) == 0) return ix->groups.v[g].name.s;
  return NULL;
}

const CfgVocab *cfg_vocab_find(const RunConfig *cfg, const char *name) {
  for (int i = 0; i < cfg->vocabs.n; i++)
    if (strcmp(cfg->vocabs.v[i].name.s, name) == 0) return &cfg->vocabs.v[i];
  return NULL;
}

const CfgTask *cfg_task_find(const RunConfig *cfg, const char *name) {
  for (int i = 0; i < cfg->tasks.n; i++)
    if (strcmp(cfg->tasks.v[i].name.s, name) == 0) return &cfg->tasks.v[i];
  return NULL;
}

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

/* Glob with `*`, ignoring whitespace on both sides; backtracks to the last star only, which
 * is enough for `*` (any run) and keeps it linear-ish. */
int cfg_pattern_match(const char *p, const char *s) {
  const char *star = NULL, *resume = NULL;
  for (;;) {
    p = skip_ws(p);
    s = skip_ws(s);
    if (*p == '*') {
      star = ++p;
      resume = s;
      continue;
    }
    if (!*s) return !*skip_ws(p);
    if (*p && *p == *s) {
      p++;
      s++;
      continue;
    }
    if (!star) return 0;
    p = star;
    s = ++resume;
  }
}

const CfgSyncRule *cfg_sync_for(const RunConfig *cfg, const char *module, SyncPolicy *out) {
  const CfgSyncRule *def = NULL;
  for (int i = 0; i < cfg->sync.n; i++) {
    const CfgSyncRule *r = &cfg->sync.v[i];
    if (r->is_default) {
      def = r;
      continue;
    }
    if (cfg_pattern_match(r->norm, module)) {
      if (out) *out = r->policy;
      return r;
    }
  }
  if (out) *out = def ? def->policy : (SyncPolicy){SYNC_EVERY, 1, 1.0, 0.0, 0};
  return def;
}

/* ---- locations of keys ------------------------------------------------------------------------ */

/* the child of n named by seg (a key, or key[N]); *keyloc: the key's location */
static const YNode *child(const YNode *n, const char *seg, size_t len, SrcLoc *keyloc) {
  if (n->kind == YN_MAP)
    for (int i = 0; i < n->pairs.n; i++) {
      const YNode *k = n->pairs.v[i].key;
      if (k->len == len && memcmp(k->s, seg, len) == 0) {
        *keyloc = k->loc;
        return n->pairs.v[i].val;
      }
    }
  /* key[N] */
  if (len < 3 || seg[len - 1] != ']') return NULL;
  size_t open = len - 1;
  while (open > 0 && seg[open - 1] >= '0' && seg[open - 1] <= '9') open--;
  if (open == 0 || open == len - 1 || seg[open - 1] != '[') return NULL;
  int idx = atoi(seg + open);
  const YNode *list = open - 1 ? child(n, seg, open - 1, keyloc) : n;
  if (!list) return NULL;
  if (list->kind == YN_SEQ && idx < list->items.n) {
    *keyloc = list->items.v[idx]->loc;
    return list->items.v[idx];
  }
  if (list->kind == YN_MAP && idx < list->pairs.n) {
    *keyloc = list->pairs.v[idx].key->loc;
    return list->pairs.v[idx].val;
  }
  return NULL;
}

SrcLoc cfg_loc(const RunConfig *cfg, const char *path) {
  SrcLoc best = {cfg->file, 0, 0};
  const YNode *n = cfg->root;
  const char *p = path;
  while (n && *p) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    SrcLoc keyloc = best;
    const YNode *c = child(n, p, len, &keyloc);
    if (!c) return best;
    best = dot ? keyloc : c->loc;
    n = c;
    p = dot ? dot + 1 : p + len;
  }
  return best;
}

/* ---- files ------------------------------------------------------------------------------------ */

char *config_resolve_path(Arena *a, const RunConfig *cfg, const char *path) {
  if (path[0] == '/' || !cfg->base_dir || strcmp(cfg->base_dir, ".") == 0)
    return arena_strdup(a, path);
  return arena_printf(a, "%s/%s", cfg->base_dir, path);
}

static int check_file(const RunConfig *cfg, Diag *d, const CfgName *f, const char *what) {
  if (!f->s) return 0;
  char buf[4096];
  const char *full = f->s;
  if (f->s[0] != '/' && cfg->base_dir && strcmp(cfg->base_dir, ".") != 0) {
    snprintf(buf, sizeof buf, "%s/%s", cfg->base_dir, f->s);
    full = buf;
  }
  struct stat st;
  const char *why = NULL;
  if (stat(full, &st) != 0)
    why = strerror(errno);
  else if (S_ISDIR(st.st_mode))
    why = "it is a directory";
  else {
    FILE *fp = fopen(full, "rb");
    if (!fp)
      why = strerror(errno);
    else
      fclose(fp);
  }
  if (!why) return 0;
  if (full == f->s)
    diag_error(d, f->loc, "cannot open %s '%s': %s", what, f->s, why);
  else
    diag_error(d, f->loc, "cannot open %s '%s' (looked for %s): %s", what, f->s, full, why);
  return 1;
}

int config_check_files(const RunConfig *cfg, Diag *d) {
  int bad = 0;
  for (int i = 0; i < cfg->vocabs.n; i++)
    bad += check_file(cfg, d, &cfg->vocabs.v[i].path, "vocabulary file");
  for (int i = 0; i < cfg->tasks.n; i++) {
    const CfgTask *t = &cfg->tasks.v[i];
    bad += check_file(cfg, d, &t->path, "training data");
    bad += check_file(cfg, d, &t->path_src, "training data");
    bad += check_file(cfg, d, &t->path_tgt, "training data");
    bad += check_file(cfg, d, &t->valid, "validation data");
    bad += check_file(cfg, d, &t->valid_src, "validation data");
    bad += check_file(cfg, d, &t->valid_tgt, "validation data");
  }
  return bad;
}

/* ---- dump ------------------------------------------------------------------------------------- */

static int plain_safe(const char *s, int key) {
  if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
      strcmp(s, "NULL") == 0 || s[0] == '-' || s[0] == '.')
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || (!key && (*p == '/' || *p == '.' || *p == '-' || *p == '+'))))
      return 0;
  return 1;
}

static void put_str(StrBuf *b, const char *s, int key) {
  if (plain_safe(s, key)) {
    sb_puts(b, s);
    return;
  }
  sb_putc(b, '"');
  for (const char *p = s; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '"' || ch == '\\')
      sb_printf(b, "\\%c", ch);
    else if (ch == '\n')
      sb_puts(b, "\\n");
    else if (ch == '\t')
      sb_puts(b, "\\t");
    else if (ch < 0x20)
      sb_printf(b, "\\x%02x", ch);
    else
      sb_putc(b, (char)ch);
  }
  sb_putc(b, '"');
}

/* shortest text that reads back as the same double; always with '.' or 'e' */
static void put_num(StrBuf *b, double x) {
  char s[64];
  snprintf(s, sizeof s, "%.15g", x);
  if (strtod(s, NULL) != x) snprintf(s, sizeof s, "%.17g", x);
  sb_puts(b, s);
  if (!strpbrk(s, ".eEn")) sb_puts(b, ".0");
}

static void put_names(StrBuf *b, const CfgName *v, int n) {
  sb_putc(b, '[');
  for (int i = 0; i < n; i++) {
    if (i) sb_puts(b, ", ");
    put_str(b, v[i].s, 0);
  }
  sb_putc(b, ']');
}

static void put_path(StrBuf *b, const char *key, const CfgName *p) {
  if (!p->s) return;
  sb_printf(b, "    %s: ", key);
  put_str(b, p->s, 0);
  sb_putc(b, '\n');
}

static void put_policy(StrBuf *b, const SyncPolicy *p) {
  if (p->kind == SYNC_LOCAL) {
    sb_puts(b, "local");
  } else if (p->kind == SYNC_EVERY) {
    sb_printf(b, "{every: %d}", p->every);
  } else {
    sb_printf(b, "{outer: {every: %d, lr: ", p->every);
    put_num(b, p->lr);
    sb_puts(b, ", momentum: ");
    put_num(b, p->momentum);
    sb_printf(b, ", nesterov: %s}}", p->nesterov ? "true" : "false");
  }
}

static void dump_task(StrBuf *b, const CfgTask *t) {
  sb_puts(b, "  - name: ");
  put_str(b, t->name.s, 0);
  sb_printf(b, "\n    task: %s", t->tmpl.s);
  if (t->args.n) {
    sb_putc(b, '(');
    for (int i = 0; i < t->args.n; i++) sb_printf(b, "%s%s", i ? ", " : "", t->args.v[i].s);
    sb_putc(b, ')');
  }
  sb_putc(b, '\n');
  put_path(b, "path", &t->path);
  put_path(b, "path_src", &t->path_src);
  put_path(b, "path_tgt", &t->path_tgt);
  put_path(b, "valid", &t->valid);
  put_path(b, "valid_src", &t->valid_src);
  put_path(b, "valid_tgt", &t->valid_tgt);
  sb_puts(b, "    vocabs: ");
  put_names(b, t->vocabs.v, t->vocabs.n);
  if (t->columns.n) {
    sb_puts(b, "\n    columns: ");
    for (int i = 0; i < t->columns.n; i++) sb_printf(b, "%s%d", i ? ", " : "[", t->columns.v[i]);
    sb_putc(b, ']');
  }
  sb_puts(b, "\n    weight: ");
  put_num(b, t->weight);
  sb_printf(b, "\n    introduce_at_step: %lld\n    ranks: ", t->introduce_at_step);
  if (!t->ranks.n) sb_puts(b, "auto");
  for (int i = 0; i < t->ranks.n; i++) sb_printf(b, "%s%d", i ? ", " : "[", t->ranks.v[i]);
  if (t->ranks.n) sb_putc(b, ']');
  sb_printf(b, "\n    stride: %d\n    offset: %d\n", t->stride, t->offset);
}

static void dump_train(StrBuf *b, const CfgTrain *t) {
  sb_printf(b, "train:\n  steps: %lld\n  batch_tokens: %lld\n  max_len: %d\n  lr: ", t->steps,
            t->batch_tokens, t->max_len);
  put_num(b, t->lr);
  sb_printf(b, "\n  schedule: {kind: %s, warmup: %lld, min_lr: ", cfg_sched_name(t->schedule.kind),
            t->schedule.warmup);
  put_num(b, t->schedule.min_lr);
  sb_printf(b, "}\n  optimizer: {kind: %s, ", cfg_opt_name(t->optimizer.kind));
  if (t->optimizer.kind == CFG_OPT_SGD) {
    sb_puts(b, "momentum: ");
    put_num(b, t->optimizer.momentum);
  } else {
    sb_puts(b, "beta1: ");
    put_num(b, t->optimizer.beta1);
    sb_puts(b, ", beta2: ");
    put_num(b, t->optimizer.beta2);
    sb_puts(b, ", eps: ");
    put_num(b, t->optimizer.eps);
  }
  sb_puts(b, ", weight_decay: ");
  put_num(b, t->optimizer.weight_decay);
  sb_puts(b, "}\n  clip: ");
  put_num(b, t->clip);
  sb_puts(b, "\n  label_smoothing: ");
  put_num(b, t->label_smoothing);
  sb_puts(b, "\n  dropout: ");
  put_num(b, t->dropout);
  sb_printf(b, "\n  precision: %s\n  seed: %lld\n  device: ",
            t->precision == DT_BF16 ? "bf16" : t->precision == DT_F16 ? "fp16" : "fp32", t->seed);
  if (t->device == CFG_DEV_CPU)
    sb_puts(b, "cpu");
  else if (t->device_index < 0)
    sb_puts(b, "cuda");
  else
    sb_printf(b, "cuda:%d", t->device_index);
  sb_printf(b, "\n  valid_every: %lld\n  valid_batches: %lld\n  valid_bleu: %lld\n", t->valid_every, t->valid_batches,
            t->valid_bleu);
  if (t->early_stop.metric != CFG_STOP_NONE)
    sb_printf(b, "  early_stop: {metric: %s, patience: %lld}\n", cfg_stop_metric_name(t->early_stop.metric),
              t->early_stop.patience);
  sb_printf(b, "  log_every: %lld\n  accum: %d\n  bucket_mb: ", t->log_every, t->accum);
  put_num(b, t->bucket_mb);
  sb_printf(b, "\n  nonfinite: %s\n  nonfinite_debug: %s\n", t->nonfinite == CFG_NONFINITE_SKIP ? "skip" : "stop",
            t->nonfinite_debug ? "true" : "false");
}

void config_dump(StrBuf *b, const RunConfig *cfg) {
  sb_puts(b, cfg->indexes.n ? "index:\n" : "index: {}\n");
  for (int i = 0; i < cfg->indexes.n; i++) {
    const CfgIndex *ix = &cfg->indexes.v[i];
    sb_printf(b, "  %s: ", ix->name.s);
    if (!ix->grouped) {
      put_names(b, ix->values.v, ix->values.n);
    } else {
      sb_putc(b, '{');
      for (int g = 0; g < ix->groups.n; g++) {
        sb_printf(b, "%s%s: ", g ? ", " : "", ix->groups.v[g].name.s);
        put_names(b, ix->groups.v[g].members.v, ix->groups.v[g].members.n);
      }
      sb_putc(b, '}');
    }
    sb_putc(b, '\n');
  }
  sb_puts(b, cfg->vocabs.n ? "vocab:\n" : "vocab: {}\n");
  for (int i = 0; i < cfg->vocabs.n; i++) {
    const CfgVocab *v = &cfg->vocabs.v[i];
    sb_printf(b, "  %s: {type: %s, size: %d", v->name.s, cfg_vocab_kind_name(v->kind), v->size);
    if (v->path.s) {
      sb_puts(b, ", path: ");
      put_str(b, v->path.s, 0);
    }
    sb_puts(b, "}\n");
  }
  sb_puts(b, "tasks:\n");
  for (int i = 0; i < cfg->tasks.n; i++) dump_task(b, &cfg->tasks.v[i]);
  sb_puts(b, "sampling: {temperature: ");
  put_num(b, cfg->sampling.temperature);
  sb_printf(b, ", seed: %lld, strategy: %s}\n", cfg->sampling.seed,
            cfg_strategy_name(cfg->sampling.strategy));
  sb_printf(b, "processes: %d\n", cfg->processes);
  sb_puts(b, cfg->sync.n ? "sync:\n" : "sync: {}\n");
  for (int i = 0; i < cfg->sync.n; i++) {
    sb_puts(b, "  ");
    put_str(b, cfg->sync.v[i].is_default ? "default" : cfg->sync.v[i].norm, 1);
    sb_puts(b, ": ");
    put_policy(b, &cfg->sync.v[i].policy);
    sb_putc(b, '\n');
  }
  sb_printf(b, "dept: {variant: %s%s", cfg_dept_name(cfg->dept.variant), cfg->dept.reset_moments ? ", moments: reset" : "");
  if (cfg->dept.sources_per_round > 0) sb_printf(b, ", sources_per_round: %d", cfg->dept.sources_per_round);
  sb_puts(b, "}\n");
  dump_train(b, &cfg->train);
  sb_puts(b, "checkpoint: {dir: ");
  put_str(b, cfg->checkpoint.dir, 0);
  sb_printf(b, ", every: %lld, keep: %d}\n", cfg->checkpoint.every, cfg->checkpoint.keep);
  if (cfg->freeze.n) {
    sb_puts(b, "freeze: [");
    for (int i = 0; i < cfg->freeze.n; i++) {
      if (i) sb_puts(b, ", ");
      put_str(b, cfg->freeze.v[i].s, 1);
    }
    sb_puts(b, "]\n");
  }
}
