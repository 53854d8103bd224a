/* config.c — the run configuration's schema (docs/config.md): validates the YAML node tree
 * (config_yaml.c) into a RunConfig — index sets, vocabularies, sampling, processes, sync
 * policies, DEPT — with defaults everywhere and an error at the YAML line:col for each
 * problem. Tasks are read by config_tasks.c; `train:` and `checkpoint:` by config_train.c.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"

const char *cfg_path(CfgReader *r, const char *where, const char *key) {
  return arena_printf(r->a, "%s.%s", where, key);
}

/* ---- index ----------------------------------------------------------------------------------- */

static int read_value(CfgReader *r, const YNode *v, const char *what, CfgName *out) {
  if (v->kind != YN_SCALAR || yn_is_null(v)) {
    diag_error(r->d, v->loc, "%s must be a name, got %s", what, yn_describe(r->a, v));
    return 0;
  }
  if (!cfg_is_ident(v->s)) {
    diag_error(r->d, v->loc,
               "%s '%s' is not a name (letters, digits and '_', not starting with a digit)",
               what, v->s);
    return 0;
  }
  *out = (CfgName){v->s, v->loc};
  return 1;
}

static const CfgName *find_name(const CfgName *v, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (strcmp(v[i].s, s) == 0) return &v[i];
  return NULL;
}

static CfgGroup *group_of(CfgIndex *ix, const char *member) {
  for (int g = 0; g < ix->groups.n; g++)
    if (find_name(ix->groups.v[g].members.v, ix->groups.v[g].members.n, member))
      return &ix->groups.v[g];
  return NULL;
}

static void add_member(CfgReader *r, CfgIndex *ix, CfgGroup *g, CfgName m) {
  CfgGroup *other = group_of(ix, m.s);
  if (other) {
    const CfgName *first = find_name(other->members.v, other->members.n, m.s);
    if (other == g)
      diag_error(r->d, m.loc, "index %s lists '%s' twice in group '%s' (first at %d:%d)",
                 ix->name.s, m.s, g->name.s, first->loc.line, first->loc.col);
    else
      diag_error(r->d, m.loc,
                 "'%s' is in two groups of index %s: '%s' (at %d:%d) and '%s'; a member "
                 "belongs to one group",
                 m.s, ix->name.s, other->name.s, first->loc.line, first->loc.col, g->name.s);
    return;
  }
  vec_push(r->a, g->members, m);
}

static CfgGroup *add_group(CfgReader *r, CfgIndex *ix, CfgName name) {
  for (int g = 0; g < ix->groups.n; g++)
    if (strcmp(ix->groups.v[g].name.s, name.s) == 0) return &ix->groups.v[g];
  CfgGroup g0 = {.name = name};
  vec_push(r->a, ix->groups, g0);
  vec_push(r->a, ix->values, name);
  return &ix->groups.v[ix->groups.n - 1];
}

static void read_index(CfgReader *r, RunConfig *cfg, const YNode *m) {
  if (!yn_expect(r, m, YN_MAP, "index")) return;
  for (int i = 0; i < m->pairs.n; i++) {
    const YNode *k = m->pairs.v[i].key, *v = m->pairs.v[i].val;
    CfgIndex ix = {.name = {k->s, k->loc}};
    const char *what = cfg_path(r, "index", k->s);
    if (!cfg_is_ident(k->s)) {
      diag_error(r->d, k->loc, "index name '%s' is not a name (letters, digits and '_')", k->s);
      continue;
    }
    if (v->kind == YN_SEQ) {
      for (int j = 0; j < v->items.n; j++) {
        CfgName n;
        if (!read_value(r, v->items.v[j], "index value", &n)) continue;
        const CfgName *first = find_name(ix.values.v, ix.values.n, n.s);
        if (first)
          diag_error(r->d, n.loc, "index %s lists '%s' twice (first at %d:%d)", k->s, n.s,
                     first->loc.line, first->loc.col);
        else
          vec_push(r->a, ix.values, n);
      }
    } else if (v->kind == YN_MAP && v->pairs.n > 0) {
      ix.grouped = 1;
      /* {group: [members]} or MAMMOTH's {member: group}: decided by the first entry */
      int by_member = v->pairs.v[0].val->kind == YN_SCALAR;
      for (int j = 0; j < v->pairs.n; j++) {
        const YNode *gk = v->pairs.v[j].key, *gv = v->pairs.v[j].val;
        CfgName a, b;
        if (by_member) {
          if (gv->kind != YN_SCALAR) {
            diag_error(r->d, gv->loc,
                       "%s maps members to groups ('%s: %s'), so '%s' must map to a group "
                       "name, got %s",
                       what, v->pairs.v[0].key->s, v->pairs.v[0].val->s, gk->s,
                       yn_describe(r->a, gv));
            continue;
          }
          if (read_value(r, gk, "index member", &a) && read_value(r, gv, "group", &b))
            add_member(r, &ix, add_group(r, &ix, b), a);
        } else {
          if (!read_value(r, gk, "group", &a)) continue;
          if (gv->kind != YN_SEQ) {
            diag_error(r->d, gv->loc, "group %s of index %s must be a list of members, got %s",
                       gk->s, k->s, yn_describe(r->a, gv));
            continue;
          }
          CfgGroup *g = add_group(r, &ix, a);
          if (gv->items.n == 0)
            diag_error(r->d, gv->loc, "group %s of index %s has no members", gk->s, k->s);
          for (int t = 0; t < gv->items.n; t++)
            if (read_value(r, gv->items.v[t], "index member", &b)) add_member(r, &ix, g, b);
        }
      }
    } else {
      diag_error(r->d, v->loc,
                 "%s must be a list of values ([en, fr]) or a mapping of groups "
                 "({romance: [fr, es]}), got %s",
                 what, yn_describe(r->a, v));
      continue;
    }
    if (ix.values.n == 0 && (v->kind == YN_SEQ || v->kind == YN_MAP))
      diag_error(r->d, v->loc, "index %s has no values", k->s);
    vec_push(r->a, cfg->indexes, ix);
  }
}

/* ---- vocab ----------------------------------------------------------------------------------- */

static const char *const VOCAB_TYPES[] = {"byte", "bpe"};
static const char *const VOCAB_KEYS[] = {"type", "size", "path"};

static void read_vocab(CfgReader *r, RunConfig *cfg, const YNode *m) {
  if (!yn_expect(r, m, YN_MAP, "vocab")) return;
  for (int i = 0; i < m->pairs.n; i++) {
    const YNode *k = m->pairs.v[i].key, *v = m->pairs.v[i].val;
    const char *what = cfg_path(r, "vocab", k->s);
    CfgVocab vb = {.name = {k->s, k->loc}, .loc = v->loc, .size = CFG_BYTE_VOCAB_SIZE};
    if (!cfg_is_ident(k->s)) {
      diag_error(r->d, k->loc, "vocabulary name '%s' is not a name (letters, digits and '_')",
                 k->s);
      continue;
    }
    int kind = -1;
    const YNode *type = NULL;
    if (v->kind == YN_SCALAR && !yn_is_null(v)) { /* shorthand: `en: byte` */
      type = v;
      yn_read_enum(r, v, cfg_path(r, what, "type"), VOCAB_TYPES, 2, &kind);
    } else if (v->kind == YN_MAP) {
      yn_check_keys(r, v, what, VOCAB_KEYS, COUNT_OF(VOCAB_KEYS));
      type = yn_get(v, "type");
      if (type)
        yn_read_enum(r, type, cfg_path(r, what, "type"), VOCAB_TYPES, 2, &kind);
      else
        diag_error(r->d, v->loc, "%s needs a type: byte or bpe", what);
    } else {
      diag_error(r->d, v->loc, "%s must be a mapping like {type: bpe, size: 8000, path: ...} or "
                 "byte, got %s", what, yn_describe(r->a, v));
      continue;
    }
    const YNode *size = v->kind == YN_MAP ? yn_get(v, "size") : NULL;
    const YNode *path = v->kind == YN_MAP ? yn_get(v, "path") : NULL;
    if (kind == CFG_VOCAB_BYTE) {
      long long n = CFG_BYTE_VOCAB_SIZE;
      if (size && yn_read_int(r, size, cfg_path(r, what, "size"), 0, YN_NOMAX, &n) &&
          n != CFG_BYTE_VOCAB_SIZE)
        diag_error(r->d, size->loc, "%s.size: a byte vocabulary has %d entries (4 specials + "
                   "256 bytes), not %lld; leave size out", what, CFG_BYTE_VOCAB_SIZE, n);
      if (path)
        diag_error(r->d, path->loc, "%s.path: a byte vocabulary has no file; leave path out", what);
    } else if (kind == CFG_VOCAB_BPE) {
      long long n = 0;
      if (!size)
        diag_error(r->d, type->loc, "%s: a bpe vocabulary needs a size (e.g. size: 8000)", what);
      else if (yn_read_int(r, size, cfg_path(r, what, "size"), 5, 1 << 24, &n))
        vb.size = (int)n;
      if (!path)
        diag_error(r->d, type->loc, "%s: a bpe vocabulary needs a path (its merges file)", what);
      else if (yn_read_str(r, path, cfg_path(r, what, "path"), &vb.path.s))
        vb.path.loc = path->loc;
    }
    if (kind < 0) continue;
    vb.kind = (CfgVocabKind)kind;
    vec_push(r->a, cfg->vocabs, vb);
  }
}

/* ---- sampling, processes, dept ---------------------------------------------------------------- */

static const char *const SAMPLING_KEYS[] = {"temperature", "seed", "strategy"};
static const char *const STRATEGIES[] = {"weighted", "roundrobin"};

static void read_sampling(CfgReader *r, RunConfig *cfg, const YNode *m) {
  CfgSampling *s = &cfg->sampling;
  s->loc = m->loc;
  if (!yn_expect(r, m, YN_MAP, "sampling")) return;
  yn_check_keys(r, m, "sampling", SAMPLING_KEYS, COUNT_OF(SAMPLING_KEYS));
  opt_float(r, m, "sampling", "temperature", 0, 1, HUGE_VAL, 0, &s->temperature);
  opt_int(r, m, "sampling", "seed", 0, YN_NOMAX, &s->seed);
  int k = (int)s->strategy;
  opt_enum(r, m, "sampling", "strategy", STRATEGIES, 2, &k);
  s->strategy = (CfgSampleStrategy)k;
}

static const char *const DEPT_VARIANTS[] = {"none", "glob", "trim", "spec"};
static const char *const DEPT_KEYS[] = {"variant", "moments", "sources_per_round"};
static const char *const DEPT_MOMENTS[] = {"keep", "reset"};

static void read_dept(CfgReader *r, RunConfig *cfg, const YNode *m) {
  int k = CFG_DEPT_NONE;
  cfg->dept.loc = m->loc;
  if (m->kind == YN_SCALAR) { /* shorthand: `dept: spec` */
    yn_read_enum(r, m, "dept.variant", DEPT_VARIANTS, 4, &k);
  } else if (yn_expect(r, m, YN_MAP, "dept")) {
    yn_check_keys(r, m, "dept", DEPT_KEYS, COUNT_OF(DEPT_KEYS));
    const YNode *v = yn_get(m, "variant");
    if (v)
      yn_read_enum(r, v, "dept.variant", DEPT_VARIANTS, 4, &k);
    else
      diag_error(r->d, m->loc, "dept needs a variant: glob, trim or spec");
    int reset = 0;
    opt_enum(r, m, "dept", "moments", DEPT_MOMENTS, 2, &reset);
    cfg->dept.reset_moments = reset;
    long long K = 0; /* K >= 1; K <= the sources: check_dept_sources */
    opt_int(r, m, "dept", "sources_per_round", 1, YN_NOMAX, &K);
    cfg->dept.sources_per_round = K > 0x7fffffff ? 0x7fffffff : (int)K;
    cfg->dept.sources_loc = val_loc(m, "sources_per_round");
  }
  cfg->dept.variant = (CfgDeptVariant)k;
}

/* GLOB and TRIM share one global vocabulary: every task reads all its columns with the same
 * one (after the tasks are read: their vocabularies are known). */
static void check_dept_vocab(CfgReader *r, const RunConfig *cfg) {
  if (cfg->dept.variant != CFG_DEPT_GLOB && cfg->dept.variant != CFG_DEPT_TRIM) return;
  const CfgName *first = NULL;
  for (int i = 0; i < cfg->tasks.n; i++)
    for (int j = 0; j < cfg->tasks.v[i].vocabs.n; j++) {
      const CfgName *v = &cfg->tasks.v[i].vocabs.v[j];
      if (!first) first = v;
      if (strcmp(v->s, first->s) == 0) continue;
      diag_error(r->d, v->loc,
                 "dept: %s needs one global vocabulary, but task %s reads '%s' where others read '%s' (give "
                 "every task vocabs: [%s], or use dept: spec for per-source vocabularies)",
                 cfg_dept_name(cfg->dept.variant), cfg->tasks.v[i].name.s, v->s, first->s, first->s);
      return;
    }
}

/* A sync rule that makes outer rounds (outer, or every: n > 1): its period; else 0. */
static int rule_rounds(const CfgSyncRule *rl) {
  const SyncPolicy *p = &rl->policy;
  return p->kind == SYNC_OUTER || (p->kind == SYNC_EVERY && p->every > 1) ? p->every : 0;
}

int cfg_round_every(const RunConfig *cfg) {
  for (int i = 0; i < cfg->sync.n; i++)
    if (rule_rounds(&cfg->sync.v[i]) > 0) return rule_rounds(&cfg->sync.v[i]);
  return 0;
}

/* dept.sources_per_round K (after the tasks and sync are read): 1 <= K <= the sources (the
 * tasks), and rounds of one length to draw the subset for (the draw is per round). */
static void check_dept_sources(CfgReader *r, const RunConfig *cfg) {
  int K = cfg->dept.sources_per_round, N = cfg->tasks.n, H = cfg_round_every(cfg);
  if (K <= 0) return;
  if (N > 0 && K > N) {
    diag_error(r->d, cfg->dept.sources_loc,
               "dept.sources_per_round is %d, but the run has %d source%s (tasks); give 1 to %d, or leave it "
               "out for all",
               K, N, N == 1 ? "" : "s", N);
    return;
  }
  if (H == 0) {
    diag_error(r->d, cfg->dept.sources_loc,
               "dept.sources_per_round needs rounds: a sync: rule with outer: {every: H} (or every: n > 1)");
    return;
  }
  for (int i = 0; i < cfg->sync.n; i++) {
    const CfgSyncRule *rl = &cfg->sync.v[i];
    if (rule_rounds(rl) > 0 && rule_rounds(rl) != H) {
      diag_error(r->d, rl->loc,
                 "dept.sources_per_round draws its sources per round, so the rounds need one length, but this "
                 "rule rounds every %d steps and an earlier one every %d",
                 rule_rounds(rl), H);
      return;
    }
  }
}

/* ---- sync ------------------------------------------------------------------------------------ */

static const char *const SYNC_KEYS[] = {"every", "outer"};
static const char *const OUTER_KEYS[] = {"every", "lr", "momentum", "nesterov"};

static int pat_char(char ch) {
  return ch == '_' || ch == '*' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9');
}

/* NAME ['[' ARG (',' ARG)* ']'] with NAME, ARG made of letters, digits, '_' and '*'. Returns
 * the byte offset of the first error (and what was expected), or -1. */
static int pattern_error(const char *s, const char **expected) {
  int i = 0;
  while (s[i] == ' ') i++;
  if (!pat_char(s[i])) return *expected = "a module name or '*'", i;
  while (pat_char(s[i])) i++;
  while (s[i] == ' ') i++;
  if (s[i] == '[') {
    for (;;) {
      i++;
      while (s[i] == ' ') i++;
      if (!pat_char(s[i])) return *expected = "an index value or '*'", i;
      while (pat_char(s[i])) i++;
      while (s[i] == ' ') i++;
      if (s[i] == ']') break;
      if (s[i] != ',') return *expected = "',' or ']'", i;
    }
    i++;
    while (s[i] == ' ') i++;
  }
  if (s[i]) return *expected = "the end of the pattern", i;
  return -1;
}

static const char *strip_spaces(Arena *a, const char *s) {
  char *o = arena_alloc(a, strlen(s) + 1), *p = o;
  for (; *s; s++)
    if (*s != ' ' && *s != '\t') *p++ = *s;
  *p = 0;
  return o;
}

static int read_policy(CfgReader *r, const YNode *v, const char *what, SyncPolicy *p) {
  *p = (SyncPolicy){SYNC_EVERY, 1, 1.0, 0.0, 0};
  if (v->kind == YN_SCALAR && strcmp(v->s, "local") == 0) {
    p->kind = SYNC_LOCAL;
    p->every = 0;
    return 1;
  }
  if (v->kind != YN_MAP) {
    diag_error(r->d, v->loc,
               "%s must be local, {every: N} or {outer: {every: H, lr: ..., momentum: ...}}, "
               "got %s",
               what, yn_describe(r->a, v));
    return 0;
  }
  int before = r->d->nerrors;
  yn_check_keys(r, v, what, SYNC_KEYS, COUNT_OF(SYNC_KEYS));
  const YNode *every = yn_get(v, "every"), *outer = yn_get(v, "outer");
  long long n = 1;
  if (every && outer) {
    diag_error(r->d, yn_pair(v, "outer")->key->loc,
               "%s: give every (all-reduce every N steps) or outer (DEPT/DiLoCo rounds), not both",
               what);
  } else if (every) {
    if (yn_read_int(r, every, cfg_path(r, what, "every"), 1, 0x7fffffff, &n)) p->every = (int)n;
  } else if (outer) {
    const char *ow = cfg_path(r, what, "outer");
    p->kind = SYNC_OUTER;
    if (!yn_expect(r, outer, YN_MAP, ow)) return 0;
    yn_check_keys(r, outer, ow, OUTER_KEYS, COUNT_OF(OUTER_KEYS));
    const YNode *h = yn_get(outer, "every");
    if (!h)
      diag_error(r->d, outer->loc, "%s needs every: the number of local steps per round", ow);
    else if (yn_read_int(r, h, cfg_path(r, ow, "every"), 1, 0x7fffffff, &n))
      p->every = (int)n;
    opt_float(r, outer, ow, "lr", 0, 1, HUGE_VAL, 0, &p->lr);
    opt_float(r, outer, ow, "momentum", 0, 0, 1, 1, &p->momentum);
    const YNode *nv = yn_get(outer, "nesterov");
    if (nv && yn_read_bool(r, nv, cfg_path(r, ow, "nesterov"), &p->nesterov) && p->nesterov &&
        p->momentum == 0)
      diag_error(r->d, nv->loc, "%s: nesterov needs a momentum > 0", ow);
  } else if (r->d->nerrors == before) {
    diag_error(r->d, v->loc, "%s needs every: N or outer: {...}", what);
  }
  return r->d->nerrors == before;
}

static void read_sync(CfgReader *r, RunConfig *cfg, const YNode *m) {
  if (!yn_expect(r, m, YN_MAP, "sync")) return;
  const CfgSyncRule *catch_all = NULL;
  for (int i = 0; i < m->pairs.n; i++) {
    const YNode *k = m->pairs.v[i].key, *v = m->pairs.v[i].val;
    CfgSyncRule rule = {.pattern = {k->s, k->loc}, .loc = v->loc};
    rule.is_default = strcmp(k->s, "default") == 0;
    const char *expected;
    int at = rule.is_default ? -1 : pattern_error(k->s, &expected);
    if (at >= 0) {
      const char *got = k->s[at] ? arena_printf(r->a, "'%c'", k->s[at]) : "the end";
      diag_error(r->d, yn_loc_in(k, (size_t)at),
                 "bad module pattern '%s': expected %s, got %s (patterns look like core, "
                 "embed[fr], embed[*], enc*)",
                 k->s, expected, got);
      continue;
    }
    rule.norm = rule.is_default ? "*" : strip_spaces(r->a, k->s);
    for (int j = 0; j < cfg->sync.n && !rule.is_default; j++)
      if (!cfg->sync.v[j].is_default && strcmp(cfg->sync.v[j].norm, rule.norm) == 0)
        diag_error(r->d, k->loc, "sync pattern '%s' is the same as '%s' at %d:%d", k->s,
                   cfg->sync.v[j].pattern.s, cfg->sync.v[j].pattern.loc.line,
                   cfg->sync.v[j].pattern.loc.col);
    if (catch_all && !rule.is_default)
      diag_warning(r->d, k->loc, "sync rule '%s' is never used: '%s' at %d:%d matches every module",
                   k->s, catch_all->pattern.s, catch_all->pattern.loc.line,
                   catch_all->pattern.loc.col);
    if (!read_policy(r, v, cfg_path(r, "sync", k->s), &rule.policy)) continue;
    vec_push(r->a, cfg->sync, rule);
    if (!rule.is_default && strcmp(rule.norm, "*") == 0 && !catch_all)
      catch_all = &cfg->sync.v[cfg->sync.n - 1];
  }
}

/* ---- the whole file --------------------------------------------------------------------------- */

static const char *const TOP_KEYS[] = {"index", "vocab",   "tasks", "sampling",  "processes",
                                       "sync",  "dept",    "train", "checkpoint", "freeze"};

/* freeze: [pattern, ...] — module instances kept as they are (no gradients, no updates) */
static void read_freeze(CfgReader *r, RunConfig *cfg, const YNode *v) {
  if (!yn_expect(r, v, YN_SEQ, "freeze")) return;
  for (int i = 0; i < v->items.n; i++) {
    const char *s;
    if (yn_read_str(r, v->items.v[i], "a module pattern", &s)) vec_push(r->a, cfg->freeze, ((CfgName){s, v->items.v[i]->loc}));
  }
}

static void set_defaults(RunConfig *cfg) {
  cfg->sampling = (CfgSampling){.temperature = 1.0, .seed = 1};
  cfg->processes = 1;
  CfgTrain *t = &cfg->train;
  t->steps = 1000;
  t->batch_tokens = 4096;
  t->max_len = 128;
  t->lr = 5e-4;
  t->schedule.kind = CFG_SCHED_INVERSE_SQRT;
  t->optimizer.kind = CFG_OPT_ADAMW;
  t->optimizer.beta1 = 0.9;
  t->optimizer.beta2 = 0.98;
  t->optimizer.eps = 1e-9;
  t->optimizer.weight_decay = 0.01;
  t->clip = 1.0;
  t->label_smoothing = 0;
  t->dropout = 0;
  t->precision = DT_F32;
  t->seed = 1;
  t->device = CFG_DEV_CPU;
  t->device_index = -1;
  t->valid_every = 100;
  t->valid_batches = 20;
  t->log_every = 10;
  t->accum = 1;
  t->bucket_mb = 10;
  cfg->checkpoint = (CfgCheckpoint){.dir = "ckpt", .every = 500, .keep = 3};
}

static void read_root(CfgReader *r, RunConfig *cfg, const YNode *root) {
  if (yn_is_null(root)) {
    diag_error(r->d, (SrcLoc){r->file, 1, 1},
               "the configuration is empty: it needs at least a `tasks:` list (see docs/config.md)");
    return;
  }
  if (root->kind != YN_MAP) {
    diag_error(r->d, root->loc, "a run configuration must be a mapping (index:, vocab:, tasks:, "
               "train:, ...), got %s", yn_describe(r->a, root));
    return;
  }
  yn_check_keys(r, root, "the configuration", TOP_KEYS, COUNT_OF(TOP_KEYS));
  const YNode *v;
  if ((v = yn_get(root, "processes"))) {
    long long n = 1;
    if (yn_read_int(r, v, "processes", 1, 1 << 20, &n)) cfg->processes = (int)n;
    cfg->processes_loc = v->loc;
  }
  if ((v = yn_get(root, "index"))) read_index(r, cfg, v);
  if ((v = yn_get(root, "vocab"))) read_vocab(r, cfg, v);
  if ((v = yn_get(root, "sampling"))) read_sampling(r, cfg, v);
  if ((v = yn_get(root, "sync"))) read_sync(r, cfg, v);
  if ((v = yn_get(root, "dept"))) read_dept(r, cfg, v);
  if ((v = yn_get(root, "train")))
    cfg_read_train(r, &cfg->train, v);
  else
    cfg_default_warmup(&cfg->train);
  if ((v = yn_get(root, "checkpoint"))) cfg_read_checkpoint(r, &cfg->checkpoint, v);
  if ((v = yn_get(root, "freeze"))) read_freeze(r, cfg, v);
  cfg_read_tasks(r, cfg, root);
  check_dept_vocab(r, cfg);
  check_dept_sources(r, cfg);
}

static const char *dir_of(Arena *a, const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return ".";
  if (slash == path) return "/";
  return arena_strndup(a, path, (size_t)(slash - path));
}

/* Diagnostics go to `pending` first and reach d sorted by line:col (the schema reads sections
 * in dependency order, the user reads the file top to bottom). pending is on the heap so an
 * allocation failure (longjmp) can still free it. */
static RunConfig *load(Arena *a, Diag *d, const char *name, const char *text) {
  Diag *volatile pending = malloc(sizeof(Diag));
  if (!pending) {
    diag_plain(d, "%s: out of memory while reading the configuration", name);
    return NULL;
  }
  diag_init(pending);
  pending->max_errors = 0; /* d's limit applies when flushing */
  jmp_buf jb, *saved = a->oom;
  if (setjmp(jb)) {
    a->oom = saved;
    diag_free(pending);
    free(pending);
    if (saved) longjmp(*saved, 1);
    diag_plain(d, "%s: out of memory while reading the configuration", name);
    return NULL;
  }
  a->oom = &jb;
  SrcFile *f = text ? srcfile_from_string(a, name, text) : srcfile_read(a, pending, name);
  RunConfig *cfg = NULL;
  YNode *root = f ? yaml_tree_parse(a, pending, f) : NULL;
  if (root) {
    cfg = ARENA_NEW(a, RunConfig);
    cfg->file = f;
    cfg->base_dir = dir_of(a, f->name);
    cfg->root = root;
    set_defaults(cfg);
    CfgReader r = {a, pending, f};
    read_root(&r, cfg, root);
  }
  a->oom = saved;
  int bad = pending->nerrors > 0;
  cfg_diag_flush_sorted(d, pending, f ? f->name : name);
  diag_free(pending);
  free(pending);
  return bad ? NULL : cfg;
}

RunConfig *config_load_string(Arena *a, Diag *d, const char *name, const char *text) {
  return load(a, d, name, text ? text : "");
}

RunConfig *config_load(Arena *a, Diag *d, const char *path) { return load(a, d, path, NULL); }
