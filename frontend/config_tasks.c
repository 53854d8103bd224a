/* config_tasks.c — the `tasks:` section of the run configuration (docs/config.md): one entry
 * per task instance with its template call `translate(en, fr)`, data files, vocabularies,
 * weight, curriculum, ranks and stride/offset; then the checks across tasks (names, index
 * values, vocabularies, ranks, step 0). Entries are a list, or MAMMOTH's mapping
 * `{task_id: {...}}` whose keys are the names.
 */
#include <math.h>
#include <string.h>

#include "config.h"
#include "config_yaml.h"

static const char *const TASK_KEYS[] = {
    "task",    "name",      "path",      "path_src", "path_tgt",
    "valid",   "valid_src", "valid_tgt", "vocabs",   "weight",
    "introduce_at_step", "ranks", "stride", "offset", "columns",
    /* MAMMOTH spellings */
    "introduce_at_training_step", "path_valid_src", "path_valid_tgt"};
enum { NTASK_KEYS = COUNT_OF(TASK_KEYS) };

/* ---- the template call: NAME [ '(' [ARG (',' ARG)*] ')' ] ------------------------------------- */

static int is_id0(char ch) {
  return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}
static int is_id(char ch) { return is_id0(ch) || (ch >= '0' && ch <= '9'); }

static const char *shown(CfgReader *r, const char *s) {
  if (!*s) return "the end";
  size_t n = 0;
  if (is_id(*s))
    while (is_id(s[n])) n++;
  else
    n = ((unsigned char)*s & 0x80) ? 1 + ((unsigned char)*s >= 0xE0) + ((unsigned char)*s >= 0xF0) : 1;
  return arena_printf(r->a, "'%.*s'", (int)n, s);
}

static int read_template(CfgReader *r, const YNode *v, const char *what, CfgTask *t) {
  if (v->kind != YN_SCALAR) {
    diag_error(r->d, v->loc, "%s must be a template call like translate(en, fr), got %s", what,
               yn_describe(r->a, v));
    return 0;
  }
  const char *s = v->s;
  size_t i = 0, start;
#define SKIP_WS() while (s[i] == ' ' || s[i] == '\t') i++
#define FAIL(...) do { diag_error(r->d, yn_loc_in(v, i), __VA_ARGS__); return 0; } while (0)
  SKIP_WS();
  if (!is_id0(s[i]))
    FAIL("%s must be a template call like translate(en, fr): expected the task name, got %s",
         what, shown(r, s + i));
  for (start = i; is_id(s[i]); i++) {}
  t->tmpl = (CfgName){arena_strndup(r->a, s + start, i - start), yn_loc_in(v, start)};
  SKIP_WS();
  if (!s[i]) return 1; /* a task without arguments: `lm` */
  if (s[i] != '(')
    FAIL("in task template '%s': expected '(' after '%s', got %s", s, t->tmpl.s, shown(r, s + i));
  i++;
  SKIP_WS();
  if (s[i] != ')') {
    for (;;) {
      SKIP_WS();
      if (!is_id0(s[i]))
        FAIL("in task template '%s': expected an index value, got %s", s, shown(r, s + i));
      for (start = i; is_id(s[i]); i++) {}
      CfgName a = {arena_strndup(r->a, s + start, i - start), yn_loc_in(v, start)};
      vec_push(r->a, t->args, a);
      SKIP_WS();
      if (s[i] == ')') break;
      if (s[i] != ',')
        FAIL("in task template '%s': expected ',' or ')' after '%s', got %s", s, a.s,
             shown(r, s + i));
      i++;
    }
  }
  i++;
  SKIP_WS();
  if (s[i]) FAIL("in task template '%s': unexpected %s after ')'", s, shown(r, s + i));
  return 1;
#undef SKIP_WS
#undef FAIL
}

static const char *default_name(CfgReader *r, const CfgTask *t) {
  size_t len = strlen(t->tmpl.s) + 1;
  for (int i = 0; i < t->args.n; i++) len += strlen(t->args.v[i].s) + 1;
  char *s = arena_alloc(r->a, len);
  strcpy(s, t->tmpl.s);
  for (int i = 0; i < t->args.n; i++) strcat(strcat(s, "-"), t->args.v[i].s);
  return s;
}

static int valid_task_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!(is_id(*s) || *s == '-' || *s == '.' || *s == '+')) return 0;
  return 1;
}

/* ---- paths ------------------------------------------------------------------------------------ */

/* the pair of key, or NULL when absent or null (`key:` alone means the default) */
static const YPair *given(const YNode *m, const char *key) {
  const YPair *p = key ? yn_pair(m, key) : NULL;
  return p && !yn_is_null(p->val) ? p : NULL;
}

/* key, or its MAMMOTH alias; both given is an error */
static const YPair *pair_or_alias(CfgReader *r, const YNode *m, const char *key, const char *alias) {
  const YPair *p = given(m, key), *q = given(m, alias);
  if (p && q) {
    diag_error(r->d, q->key->loc, "%s and %s are the same key; give one", alias, key);
    return p;
  }
  return p ? p : q;
}

static void read_path(CfgReader *r, const YPair *p, const char *where, CfgName *out) {
  if (!p) return;
  if (yn_read_str(r, p->val, cfg_path(r, where, p->key->s), &out->s)) out->loc = p->val->loc;
}

/* `one` (a TSV) or `src` + `tgt`; `required`: one form must be given */
static void read_data(CfgReader *r, const YNode *m, const char *where, const char *one,
                      const char *src, const char *tgt, const char *src_alias,
                      const char *tgt_alias, CfgName out[3], int required, SrcLoc entry) {
  const YPair *p1 = given(m, one), *ps = pair_or_alias(r, m, src, src_alias),
              *pt = pair_or_alias(r, m, tgt, tgt_alias);
  read_path(r, p1, where, &out[0]);
  read_path(r, ps, where, &out[1]);
  read_path(r, pt, where, &out[2]);
  if (p1 && (ps || pt)) {
    const YPair *second = ps ? ps : pt;
    diag_error(r->d, second->key->loc,
               "%s: give either %s (one TSV file) or %s + %s (two aligned files), not both", where,
               one, src, tgt);
  } else if (ps && !pt) {
    diag_error(r->d, ps->key->loc, "%s: %s without %s", where, ps->key->s, tgt);
  } else if (pt && !ps) {
    diag_error(r->d, pt->key->loc, "%s: %s without %s", where, pt->key->s, src);
  } else if (required && !p1 && !ps) {
    diag_error(r->d, entry, "%s has no training data: give %s (one TSV file) or %s + %s", where,
               one, src, tgt);
  }
}

/* ---- one task --------------------------------------------------------------------------------- */

static void read_ranks(CfgReader *r, RunConfig *cfg, const YNode *v, const char *what,
                       CfgTask *t) {
  t->ranks_loc = v->loc;
  if (v->kind == YN_SCALAR && strcmp(v->s, "auto") == 0) return;
  const YNode *one[1] = {v};
  const YNode *const *items = one;
  int n = 1;
  if (v->kind == YN_SEQ) {
    items = (const YNode *const *)v->items.v;
    n = v->items.n;
    if (n == 0)
      diag_error(r->d, v->loc,
                 "%s is empty: leave it out (or write auto) to place the task automatically", what);
  } else if (v->kind != YN_SCALAR) {
    diag_error(r->d, v->loc, "%s must be a list of process ranks, a rank or auto, got %s", what,
               yn_describe(r->a, v));
    return;
  }
  for (int i = 0; i < n; i++) {
    long long k;
    if (!yn_read_int(r, items[i], "a rank", 0, YN_NOMAX, &k)) continue;
    if (k >= cfg->processes) {
      diag_error(r->d, items[i]->loc, "rank %lld is out of range: processes is %d%s, so ranks are "
                 "0..%d", k, cfg->processes, cfg->processes_loc.file ? "" : " (the default)",
                 cfg->processes - 1);
      continue;
    }
    int dup = 0;
    for (int j = 0; j < t->ranks.n; j++) dup |= t->ranks.v[j] == (int)k;
    if (dup)
      diag_error(r->d, items[i]->loc, "%s lists rank %lld twice", what, k);
    else
      vec_push(r->a, t->ranks, (int)k);
  }
}

static void read_task(CfgReader *r, RunConfig *cfg, const YNode *m, const YNode *id,
                      const char *where) {
  CfgTask t = {.weight = 1.0, .stride = 1, .loc = id ? id->loc : m->loc};
  t.introduce_loc = t.weight_loc = t.stride_loc = t.ranks_loc = t.loc;
  if (!yn_expect(r, m, YN_MAP, where)) return;
  int before = r->d->nerrors;
  yn_check_keys(r, m, where, TASK_KEYS, NTASK_KEYS);
  const YPair *namep = given(m, "name");
  if (id && namep) /* in the mapping form the key is the name */
    diag_error(r->d, namep->key->loc, "%s: the name is the key ('%s'); leave name out", where,
               id->s);
  const YNode *v;
  if ((v = yn_get(m, "task")))
    read_template(r, v, cfg_path(r, where, "task"), &t);
  else
    diag_error(r->d, t.loc, "%s needs task: the template call it instantiates, e.g. "
               "task: translate(en, fr)", where);
  if (id) {
    t.name = (CfgName){id->s, id->loc};
  } else if (namep) {
    if (yn_read_str(r, namep->val, cfg_path(r, where, "name"), &t.name.s))
      t.name.loc = namep->val->loc;
  }
  if (t.name.s && !valid_task_name(t.name.s))
    diag_error(r->d, t.name.loc, "task name '%s' may use only letters, digits, '_', '-', '.', '+'",
               t.name.s);
  if (!t.name.s && t.tmpl.s) t.name = (CfgName){default_name(r, &t), t.loc};

  CfgName data[3] = {{0}}, valid[3] = {{0}};
  read_data(r, m, where, "path", "path_src", "path_tgt", NULL, NULL, data, 1, t.loc);
  read_data(r, m, where, "valid", "valid_src", "valid_tgt", "path_valid_src", "path_valid_tgt",
            valid, 0, t.loc);
  t.path = data[0], t.path_src = data[1], t.path_tgt = data[2];
  t.valid = valid[0], t.valid_src = valid[1], t.valid_tgt = valid[2];

  if ((v = yn_get(m, "vocabs"))) {
    if (yn_expect(r, v, YN_SEQ, cfg_path(r, where, "vocabs"))) {
      if (v->items.n == 0)
        diag_error(r->d, v->loc, "%s.vocabs is empty: leave it out to use the task arguments",
                   where);
      for (int i = 0; i < v->items.n; i++) {
        const char *s;
        if (yn_read_str(r, v->items.v[i], "a vocabulary name", &s))
          vec_push(r->a, t.vocabs, ((CfgName){s, v->items.v[i]->loc}));
      }
    }
  } else {
    t.vocabs_defaulted = 1;
    for (int i = 0; i < t.args.n; i++) vec_push(r->a, t.vocabs, t.args.v[i]);
  }

  if ((v = yn_get(m, "columns"))) {
    t.columns_loc = v->loc;
    if (yn_expect(r, v, YN_SEQ, cfg_path(r, where, "columns"))) {
      if (v->items.n == 0) diag_error(r->d, v->loc, "%s.columns is empty: leave it out to read columns 0, 1, ...", where);
      for (int i = 0; i < v->items.n; i++) {
        long long c;
        if (yn_read_int(r, v->items.v[i], cfg_path(r, where, "columns"), 0, 15, &c)) vec_push(r->a, t.columns, (int)c);
      }
    }
  }
  if ((v = yn_get(m, "weight"))) {
    t.weight_loc = v->loc;
    yn_read_float(r, v, cfg_path(r, where, "weight"), 0, 1, HUGE_VAL, 0, &t.weight);
  }
  const YPair *ip = pair_or_alias(r, m, "introduce_at_step", "introduce_at_training_step");
  if (ip) {
    t.introduce_loc = ip->val->loc;
    if (yn_read_int(r, ip->val, cfg_path(r, where, ip->key->s), 0, YN_NOMAX,
                    &t.introduce_at_step) &&
        t.introduce_at_step >= cfg->train.steps)
      diag_error(r->d, ip->val->loc, "%s.%s (%lld) is not before train.steps (%lld): the task "
                 "would never be trained", where, ip->key->s, t.introduce_at_step,
                 cfg->train.steps);
  }
  if ((v = yn_get(m, "ranks"))) read_ranks(r, cfg, v, cfg_path(r, where, "ranks"), &t);

  const YPair *sp = given(m, "stride"), *op = given(m, "offset");
  long long stride = 1, offset = 0;
  if (sp && !op)
    diag_error(r->d, sp->key->loc, "%s: stride without offset: give both (read every stride-th "
               "line starting at offset)", where);
  else if (op && !sp)
    diag_error(r->d, op->key->loc, "%s: offset without stride: give both (read every stride-th "
               "line starting at offset)", where);
  else if (sp && op) {
    t.stride_loc = sp->key->loc;
    int ok = yn_read_int(r, sp->val, cfg_path(r, where, "stride"), 1, 0x7fffffff, &stride);
    if (yn_read_int(r, op->val, cfg_path(r, where, "offset"), 0, 0x7fffffff, &offset) && ok &&
        offset >= stride)
      diag_error(r->d, op->val->loc, "%s.offset (%lld) must be less than stride (%lld)", where,
                 offset, stride);
  }
  t.stride = (int)stride;
  t.offset = (int)offset;
  if (r->d->nerrors == before && t.tmpl.s) vec_push(r->a, cfg->tasks, t);
}

/* ---- across tasks ------------------------------------------------------------------------------ */

static int index_knows(const RunConfig *cfg, const char *s) {
  for (int i = 0; i < cfg->indexes.n; i++) {
    const CfgIndex *ix = &cfg->indexes.v[i];
    if (cfg_index_value(ix, s) >= 0 || cfg_index_group_of(ix, s)) return 1;
  }
  return 0;
}

static void check_args_and_vocabs(CfgReader *r, const RunConfig *cfg, const CfgTask *t) {
  if (cfg->indexes.n > 0)
    for (int i = 0; i < t->args.n; i++) {
      const CfgName *a = &t->args.v[i];
      if (index_knows(cfg, a->s)) continue;
      Vec(const char *) known = {0};
      for (int j = 0; j < cfg->indexes.n; j++) {
        const CfgIndex *ix = &cfg->indexes.v[j];
        for (int k = 0; k < ix->values.n; k++) vec_push(r->a, known, ix->values.v[k].s);
        for (int g = 0; g < ix->groups.n; g++)
          for (int k = 0; k < ix->groups.v[g].members.n; k++)
            vec_push(r->a, known, ix->groups.v[g].members.v[k].s);
      }
      const char *near = cfg_suggest(a->s, known.v, known.n);
      diag_error(r->d, a->loc, "unknown index value '%s' in task '%s': no set in `index:` lists "
                 "it%s%s%s", a->s, t->name.s, near ? "; did you mean '" : "", near ? near : "",
                 near ? "'?" : "");
    }
  if (t->vocabs_defaulted && t->args.n == 0)
    diag_error(r->d, t->tmpl.loc, "task '%s' has no arguments to name its vocabularies: give "
               "vocabs: [...] (one per input column)", t->name.s);
  for (int i = 0; i < t->vocabs.n; i++) {
    const CfgName *v = &t->vocabs.v[i];
    if (cfg_vocab_find(cfg, v->s)) continue;
    Vec(const char *) known = {0};
    for (int j = 0; j < cfg->vocabs.n; j++) vec_push(r->a, known, cfg->vocabs.v[j].name.s);
    const char *near = cfg_suggest(v->s, known.v, known.n);
    if (t->vocabs_defaulted)
      diag_error(r->d, v->loc, "task '%s' reads its argument '%s' with vocabulary '%s', which "
                 "`vocab:` does not define (add it, or give the task vocabs: [...])",
                 t->name.s, v->s, v->s);
    else
      diag_error(r->d, v->loc, "unknown vocabulary '%s' in task '%s'%s%s%s", v->s, t->name.s,
                 near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
  }
  if (t->path_src.s && t->vocabs.n > 2)
    diag_error(r->d, t->vocabs_defaulted ? t->tmpl.loc : t->vocabs.v[2].loc,
               "task '%s' reads two columns (path_src, path_tgt) but has %d vocabularies%s",
               t->name.s, t->vocabs.n, t->vocabs_defaulted ? " (its arguments); give vocabs:" : "");
}

void cfg_read_tasks(CfgReader *r, RunConfig *cfg, const YNode *root) {
  const YNode *m = yn_get(root, "tasks");
  if (!m) {
    const YPair *p = yn_pair(root, "tasks");
    diag_error(r->d, p ? p->key->loc : root->loc,
               "no tasks: the configuration needs a `tasks:` list (e.g. - task: translate(en, fr)"
               " with path: ...)");
    return;
  }
  if (m->kind == YN_SEQ) {
    for (int i = 0; i < m->items.n; i++)
      read_task(r, cfg, m->items.v[i], NULL, arena_printf(r->a, "tasks[%d]", i));
  } else if (m->kind == YN_MAP) {
    for (int i = 0; i < m->pairs.n; i++)
      read_task(r, cfg, m->pairs.v[i].val, m->pairs.v[i].key,
                arena_printf(r->a, "tasks.%s", m->pairs.v[i].key->s));
  } else {
    diag_error(r->d, m->loc, "tasks must be a list of task entries, got %s", yn_describe(r->a, m));
    return;
  }
  if (m->kind == YN_SEQ ? m->items.n == 0 : m->pairs.n == 0)
    diag_error(r->d, m->loc, "tasks is empty: list at least one task");

  /* names are unique */
  for (int i = 0; i < cfg->tasks.n; i++)
    for (int j = 0; j < i; j++) {
      const CfgTask *a = &cfg->tasks.v[j], *b = &cfg->tasks.v[i];
      if (strcmp(a->name.s, b->name.s) != 0) continue;
      diag_error(r->d, b->name.loc, "duplicate task name '%s' (first at %d:%d)%s", b->name.s,
                 a->name.loc.line, a->name.loc.col,
                 b->name.loc.line == b->loc.line && b->name.loc.col == b->loc.col
                     ? "; it is the default name <template>-<args>, so give each task a name:"
                     : "");
      break;
    }
  for (int i = 0; i < cfg->tasks.n; i++) check_args_and_vocabs(r, cfg, &cfg->tasks.v[i]);

  /* someone starts at step 0; with every task placed by hand, every process has a task */
  const CfgTask *first = NULL;
  int all_placed = cfg->tasks.n > 0;
  for (int i = 0; i < cfg->tasks.n; i++) {
    const CfgTask *t = &cfg->tasks.v[i];
    if (!first || t->introduce_at_step < first->introduce_at_step) first = t;
    all_placed &= t->ranks.n > 0;
  }
  if (first && first->introduce_at_step > 0)
    diag_error(r->d, first->introduce_loc, "no task starts at step 0 (the earliest, '%s', starts "
               "at %lld): training needs a task from the first step", first->name.s,
               first->introduce_at_step);
  if (!all_placed) return;
  for (int rank = 0; rank < cfg->processes; rank++) {
    int has = 0, at0 = 0;
    for (int i = 0; i < cfg->tasks.n; i++)
      for (int j = 0; j < cfg->tasks.v[i].ranks.n; j++)
        if (cfg->tasks.v[i].ranks.v[j] == rank) {
          has = 1;
          at0 |= cfg->tasks.v[i].introduce_at_step == 0;
        }
    SrcLoc at = cfg->processes_loc.file ? cfg->processes_loc : root->loc;
    if (!has)
      diag_error(r->d, at, "process %d trains no task: every task lists its ranks, and none "
                 "lists %d (add it to a task's ranks, or lower processes)", rank, rank);
    else if (!at0 && first && first->introduce_at_step == 0)
      diag_error(r->d, at, "process %d has no task that starts at step 0", rank);
  }
}
