/* config_yaml.c — the YAML node tree of the run configuration (see config_yaml.h): libyaml's
 * event parser → YNode tree with line:col on every node; typed readers with diagnostics;
 * unknown-key reports with "did you mean" suggestions.
 */
#include "config_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { YAML_MAX_DEPTH = 64 };

/* ---- building the tree ------------------------------------------------------------------- */

typedef struct YAnchor {
  const char *name;
  YNode *node;
} YAnchor;

typedef struct YBuild {
  yaml_parser_t parser;
  yaml_event_t ev;
  int have_ev;
  Arena *a;
  Diag *d;
  const SrcFile *f;
  Vec(YAnchor) anchors;
} YBuild;

static SrcLoc mark_loc(const YBuild *b, yaml_mark_t m) {
  SrcLoc l = {b->f, (int)m.line + 1, (int)m.column + 1};
  return l;
}

/* line:col of a byte offset (reader errors only give an offset) */
static SrcLoc offset_loc(const SrcFile *f, size_t off) {
  SrcLoc l = {f, 1, 1};
  for (size_t i = 0; i < off && i < f->len; i++) {
    if (f->text[i] == '\n') {
      l.line++;
      l.col = 1;
    } else if (((unsigned char)f->text[i] & 0xC0) != 0x80) {
      l.col++;
    }
  }
  return l;
}

static void syntax_error(YBuild *b) {
  yaml_parser_t *p = &b->parser;
  if (p->error == YAML_MEMORY_ERROR) {
    diag_error(b->d, (SrcLoc){b->f, 0, 0}, "out of memory while parsing YAML");
    return;
  }
  SrcLoc at = p->error == YAML_READER_ERROR ? offset_loc(b->f, p->problem_offset)
                                            : mark_loc(b, p->problem_mark);
  const char *problem = p->problem ? p->problem : "invalid YAML";
  const char *hint = "";
  if (p->error == YAML_SCANNER_ERROR && p->problem_mark.index < b->f->len &&
      b->f->text[p->problem_mark.index] == '\t')
    hint = "; YAML cannot indent with tabs: use spaces";
  if (p->context) {
    SrcLoc c = mark_loc(b, p->context_mark);
    diag_error(b->d, at, "YAML syntax error: %s (%s at %d:%d)%s", problem, p->context, c.line,
               c.col, hint);
  } else {
    diag_error(b->d, at, "YAML syntax error: %s%s", problem, hint);
  }
}

static int next_event(YBuild *b) {
  if (b->have_ev) yaml_event_delete(&b->ev);
  b->have_ev = 0;
  if (!yaml_parser_parse(&b->parser, &b->ev)) {
    syntax_error(b);
    return 0;
  }
  b->have_ev = 1;
  return 1;
}

static YNode *new_node(YBuild *b, YNodeKind kind, yaml_mark_t m) {
  YNode *n = ARENA_NEW(b->a, YNode);
  n->kind = kind;
  n->loc = mark_loc(b, m);
  return n;
}

static const char *copy_anchor(YBuild *b, const yaml_char_t *anchor) {
  return anchor ? arena_strdup(b->a, (const char *)anchor) : NULL;
}

static void add_anchor(YBuild *b, const char *name, YNode *n) {
  if (!name) return;
  for (int i = 0; i < b->anchors.n; i++)
    if (strcmp(b->anchors.v[i].name, name) == 0) {
      b->anchors.v[i].node = n; /* YAML: a later anchor of the same name overrides */
      return;
    }
  vec_push(b->a, b->anchors, ((YAnchor){name, n}));
}

static int same_scalar(const YNode *x, const YNode *y) {
  return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

/* Builds the node whose first event is b->ev. NULL after an error (reported). */
static YNode *build(YBuild *b, int depth) {
  yaml_event_t *e = &b->ev;
  if (depth > YAML_MAX_DEPTH) {
    diag_error(b->d, mark_loc(b, e->start_mark), "YAML nesting is deeper than %d levels",
               YAML_MAX_DEPTH);
    return NULL;
  }
  switch (e->type) {
  case YAML_SCALAR_EVENT: {
    YNode *n = new_node(b, YN_SCALAR, e->start_mark);
    n->len = e->data.scalar.length;
    n->s = arena_strndup(b->a, (const char *)e->data.scalar.value, n->len);
    const char *tag = (const char *)e->data.scalar.tag;
    yaml_scalar_style_t st = e->data.scalar.style;
    n->style = st == YAML_SINGLE_QUOTED_SCALAR_STYLE   ? '\''
               : st == YAML_DOUBLE_QUOTED_SCALAR_STYLE ? '"'
               : st == YAML_PLAIN_SCALAR_STYLE         ? 0
                                                       : '|';
    n->quoted = n->style != 0 || (tag && strcmp(tag, YAML_STR_TAG) == 0);
    add_anchor(b, copy_anchor(b, e->data.scalar.anchor), n);
    return n;
  }
  case YAML_ALIAS_EVENT: {
    const char *name = (const char *)e->data.alias.anchor;
    for (int i = b->anchors.n - 1; i >= 0; i--)
      if (strcmp(b->anchors.v[i].name, name) == 0) return b->anchors.v[i].node;
    diag_error(b->d, mark_loc(b, e->start_mark), "unknown YAML alias '*%s'%s", name,
               " (an anchor '&name' must come before, and outside, its aliases)");
    YNode *n = new_node(b, YN_SCALAR, e->start_mark);
    n->s = ""; /* a null stands in; the error already fails the load */
    return n;
  }
  case YAML_SEQUENCE_START_EVENT: {
    YNode *n = new_node(b, YN_SEQ, e->start_mark);
    const char *anchor = copy_anchor(b, e->data.sequence_start.anchor);
    for (;;) {
      if (!next_event(b)) return NULL;
      if (b->ev.type == YAML_SEQUENCE_END_EVENT) break;
      YNode *item = build(b, depth + 1);
      if (!item) return NULL;
      vec_push(b->a, n->items, item);
    }
    add_anchor(b, anchor, n); /* after the items: an alias inside itself is unknown */
    return n;
  }
  case YAML_MAPPING_START_EVENT: {
    YNode *n = new_node(b, YN_MAP, e->start_mark);
    const char *anchor = copy_anchor(b, e->data.mapping_start.anchor);
    for (;;) {
      if (!next_event(b)) return NULL;
      if (b->ev.type == YAML_MAPPING_END_EVENT) break;
      YNode *key = build(b, depth + 1);
      if (!key || !next_event(b)) return NULL;
      YNode *val = build(b, depth + 1);
      if (!val) return NULL;
      if (key->kind != YN_SCALAR) {
        diag_error(b->d, key->loc, "a mapping key must be a plain name, not %s",
                   key->kind == YN_SEQ ? "a list" : "a mapping");
        continue;
      }
      int dup = 0;
      for (int i = 0; i < n->pairs.n && !dup; i++)
        if (same_scalar(n->pairs.v[i].key, key)) {
          diag_error(b->d, key->loc, "duplicate key '%s' (first given at %d:%d)", key->s,
                     n->pairs.v[i].key->loc.line, n->pairs.v[i].key->loc.col);
          dup = 1;
        }
      if (!dup) vec_push(b->a, n->pairs, ((YPair){key, val}));
    }
    add_anchor(b, anchor, n);
    return n;
  }
  default:
    diag_error(b->d, mark_loc(b, e->start_mark), "unexpected YAML event");
    return NULL;
  }
}

/* The document: STREAM_START [DOCUMENT_START node DOCUMENT_END] STREAM_END. NULL only
 * after a syntax error; duplicate keys and the like are reported and the tree returned. */
static YNode *build_stream(YBuild *b) {
  if (!next_event(b) || !next_event(b)) return NULL; /* STREAM_START, then the next */
  if (b->ev.type == YAML_STREAM_END_EVENT) {
    YNode *n = new_node(b, YN_SCALAR, b->ev.start_mark);
    n->loc = (SrcLoc){b->f, 1, 1};
    n->s = "";
    return n;
  }
  if (!next_event(b)) return NULL; /* DOCUMENT_START → the root's first event */
  YNode *root = build(b, 0);
  if (!root || !next_event(b) || !next_event(b)) return NULL; /* DOCUMENT_END, the next */
  if (b->ev.type == YAML_DOCUMENT_START_EVENT) {
    diag_error(b->d, mark_loc(b, b->ev.start_mark),
               "a second YAML document: a run configuration is one document");
    return NULL;
  }
  return root;
}

static YNode *run_parser(YBuild *b) {
  if (!yaml_parser_initialize(&b->parser)) {
    diag_error(b->d, (SrcLoc){b->f, 0, 0}, "cannot initialise the YAML parser");
    return NULL;
  }
  yaml_parser_set_input_string(&b->parser, (const unsigned char *)b->f->text, b->f->len);
  YNode *root = build_stream(b);
  if (b->have_ev) yaml_event_delete(&b->ev);
  b->have_ev = 0;
  yaml_parser_delete(&b->parser);
  return root;
}

static void report_oom(Diag *d, const SrcFile *f) {
  diag_error(d, (SrcLoc){f, 0, 0}, "out of memory while reading the configuration");
}

YNode *yaml_tree_parse(Arena *a, Diag *d, const SrcFile *f) {
  /* The builder is on the heap so that an arena longjmp can still release libyaml's memory. */
  YBuild *volatile b = calloc(1, sizeof(YBuild));
  if (!b) {
    report_oom(d, f);
    return NULL;
  }
  jmp_buf jb, *saved = a->oom;
  if (setjmp(jb)) {
    a->oom = saved;
    if (b->have_ev) yaml_event_delete(&b->ev);
    yaml_parser_delete(&b->parser);
    free(b);
    if (saved) longjmp(*saved, 1);
    report_oom(d, f);
    return NULL;
  }
  a->oom = &jb;
  b->a = a;
  b->d = d;
  b->f = f;
  YNode *root = run_parser(b);
  a->oom = saved;
  free(b);
  return root;
}

/* ---- access -------------------------------------------------------------------------------- */

int yn_is_null(const YNode *n) {
  if (!n || n->kind != YN_SCALAR || n->quoted) return 0;
  return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
         strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

const YPair *yn_pair(const YNode *map, const char *key) {
  if (!map || map->kind != YN_MAP) return NULL;
  for (int i = 0; i < map->pairs.n; i++)
    if (strcmp(map->pairs.v[i].key->s, key) == 0) return &map->pairs.v[i];
  return NULL;
}

const YNode *yn_get(const YNode *map, const char *key) {
  const YPair *p = yn_pair(map, key);
  return p && !yn_is_null(p->val) ? p->val : NULL;
}

SrcLoc yn_loc_in(const YNode *n, size_t off) {
  SrcLoc l = n->loc;
  if (n->kind != YN_SCALAR || memchr(n->s, '\n', n->len)) return l;
  if (n->style == '|') return l;
  if (n->style) l.col++; /* past the quote; escapes aside, columns map one to one */
  for (size_t i = 0; i < off && i < n->len; i++)
    if (((unsigned char)n->s[i] & 0xC0) != 0x80) l.col++;
  return l;
}

/* ---- typed readers -------------------------------------------------------------------------- */

const char *yn_describe(Arena *a, const YNode *v) {
  if (v->kind == YN_SEQ) return "a list";
  if (v->kind == YN_MAP) return "a mapping";
  if (yn_is_null(v)) return "nothing";
  int shown = v->len > 40 ? 37 : (int)v->len;
  const char *more = v->len > 40 ? "..." : "";
  if (v->quoted) return arena_printf(a, "the quoted string \"%.*s%s\"", shown, v->s, more);
  return arena_printf(a, "'%.*s%s'", shown, v->s, more);
}

int yn_expect(CfgReader *r, const YNode *v, YNodeKind kind, const char *what) {
  if (v->kind == kind) return 1;
  diag_error(r->d, v->loc, "%s must be %s, got %s", what,
             kind == YN_MAP ? "a mapping" : kind == YN_SEQ ? "a list" : "a single value",
             yn_describe(r->a, v));
  return 0;
}

/* strtod over the whole plain scalar; rejects inf/nan and YAML's .inf spellings */
static int parse_number(const YNode *v, double *out) {
  if (v->kind != YN_SCALAR || v->quoted || v->len == 0) return 0;
  const char *s = v->s;
  if (!(s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return 0;
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (end != s + v->len || !isfinite(x)) return 0;
  for (const char *p = s; *p; p++)
    if (*p == 'x' || *p == 'X') return 0; /* no hex floats */
  *out = x;
  return 1;
}

int yn_read_int(CfgReader *r, const YNode *v, const char *what, long long lo, long long hi,
                long long *out) {
  double x;
  if (!parse_number(v, &x)) {
    diag_error(r->d, v->loc, "%s must be an integer, got %s", what, yn_describe(r->a, v));
    return 0;
  }
  if (x != floor(x) || fabs(x) > 9007199254740992.0) {
    diag_error(r->d, v->loc, "%s must be an integer, got %s", what, v->s);
    return 0;
  }
  long long n = (long long)x;
  if (n < lo || n > hi) {
    if (hi == YN_NOMAX)
      diag_error(r->d, v->loc, "%s must be >= %lld, got %s", what, lo, v->s);
    else
      diag_error(r->d, v->loc, "%s must be in %lld..%lld, got %s", what, lo, hi, v->s);
    return 0;
  }
  *out = n;
  return 1;
}

int yn_read_float(CfgReader *r, const YNode *v, const char *what, double lo, int lo_open,
                  double hi, int hi_open, double *out) {
  double x;
  if (!parse_number(v, &x)) {
    diag_error(r->d, v->loc, "%s must be a number, got %s", what, yn_describe(r->a, v));
    return 0;
  }
  int bad = lo_open ? !(x > lo) : !(x >= lo);
  bad |= hi_open ? !(x < hi) : !(x <= hi);
  if (bad) {
    if (isinf(hi))
      diag_error(r->d, v->loc, "%s must be %s %g, got %s", what, lo_open ? ">" : ">=", lo, v->s);
    else
      diag_error(r->d, v->loc, "%s must be in %c%g, %g%c, got %s", what, lo_open ? '(' : '[',
                 lo, hi, hi_open ? ')' : ']', v->s);
    return 0;
  }
  *out = x;
  return 1;
}

int yn_read_bool(CfgReader *r, const YNode *v, const char *what, int *out) {
  if (v->kind == YN_SCALAR && !v->quoted) {
    static const char *const T[] = {"true", "True", "TRUE"}, *const F[] = {"false", "False", "FALSE"};
    for (int i = 0; i < 3; i++) {
      if (strcmp(v->s, T[i]) == 0) return *out = 1, 1;
      if (strcmp(v->s, F[i]) == 0) return *out = 0, 1;
    }
  }
  diag_error(r->d, v->loc, "%s must be true or false, got %s", what, yn_describe(r->a, v));
  return 0;
}

int yn_read_str(CfgReader *r, const YNode *v, const char *what, const char **out) {
  if (v->kind != YN_SCALAR) {
    diag_error(r->d, v->loc, "%s must be a string, got %s", what, yn_describe(r->a, v));
    return 0;
  }
  if (v->len == 0 || strlen(v->s) != v->len) {
    diag_error(r->d, v->loc, "%s must be a non-empty string%s", what,
               v->len ? " without NUL characters" : "");
    return 0;
  }
  *out = v->s;
  return 1;
}

int yn_read_enum(CfgReader *r, const YNode *v, const char *what, const char *const *names, int n,
                 int *out) {
  if (v->kind == YN_SCALAR)
    for (int i = 0; i < n; i++)
      if (strcmp(v->s, names[i]) == 0) return *out = i, 1;
  const char *list = cfg_join(r->a, names, n);
  const char *near = v->kind == YN_SCALAR ? cfg_suggest(v->s, names, n) : NULL;
  if (near)
    diag_error(r->d, v->loc, "unknown %s %s; did you mean '%s'? (expected one of: %s)", what,
               yn_describe(r->a, v), near, list);
  else
    diag_error(r->d, v->loc, "unknown %s %s (expected one of: %s)", what, yn_describe(r->a, v),
               list);
  return 0;
}

int yn_check_keys(CfgReader *r, const YNode *map, const char *where, const char *const *allowed,
                  int n) {
  int bad = 0;
  for (int i = 0; i < map->pairs.n; i++) {
    const YNode *k = map->pairs.v[i].key;
    int found = 0;
    for (int j = 0; j < n && !found; j++) found = strcmp(k->s, allowed[j]) == 0;
    if (found) continue;
    bad++;
    const char *near = cfg_suggest(k->s, allowed, n);
    if (near)
      diag_error(r->d, k->loc, "unknown key '%s' in %s; did you mean '%s'?", k->s, where, near);
    else
      diag_error(r->d, k->loc, "unknown key '%s' in %s", k->s, where);
    if (r->d->max_errors && r->d->nerrors > r->d->max_errors) continue;
    diag_note(r->d, (SrcLoc){0}, "the keys of %s are: %s", where, cfg_join(r->a, allowed, n));
  }
  return bad;
}

/* ---- sorted diagnostics ------------------------------------------------------------------------ */

typedef struct DiagBlock {
  int line, col, order, is_error;
  size_t start, len;
} DiagBlock;

static int block_cmp(const void *x, const void *y) {
  const DiagBlock *a = x, *b = y;
  if (a->line != b->line) return a->line < b->line ? -1 : 1;
  if (a->col != b->col) return a->col < b->col ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

/* "name:L:C: kind: ..." → L, C; 0, 0 when the header has no location */
static void header_loc(const char *h, const char *name, int *line, int *col) {
  size_t n = strlen(name);
  *line = *col = 0;
  if (strncmp(h, name, n) != 0 || h[n] != ':') return;
  char *end;
  long l = strtol(h + n + 1, &end, 10);
  if (end == h + n + 1 || *end != ':') return;
  long c = strtol(end + 1, &end, 10);
  if (*end != ':') return;
  *line = (int)l;
  *col = (int)c;
}

void cfg_diag_flush_sorted(Diag *to, Diag *from, const char *name) {
  const char *s = from->out.s ? from->out.s : "";
  size_t len = from->out.len;
  DiagBlock *v = NULL;
  int n = 0, cap = 0;
  for (size_t i = 0; i < len;) {
    size_t e = i;
    do { /* a header line, then its indented source and caret lines */
      const char *nl = memchr(s + e, '\n', len - e);
      e = nl ? (size_t)(nl - s) + 1 : len;
    } while (e < len && s[e] == ' ' && s[e + 1] == ' ');
    if (strncmp(s + i, "note: ", 6) == 0 && n > 0) {
      v[n - 1].len = e - v[n - 1].start; /* blocks are contiguous: extend the previous one */
    } else {
      if (n == cap) {
        cap = cap ? 2 * cap : 16;
        DiagBlock *nv = realloc(v, sizeof *v * (size_t)cap);
        if (!nv) break;
        v = nv;
      }
      DiagBlock b = {0, 0, n, 0, i, e - i};
      header_loc(s + i, name, &b.line, &b.col);
      const char *hl = memchr(s + i, '\n', e - i), *colon = strstr(s + i, ": error: ");
      b.is_error = strncmp(s + i, "error: ", 7) == 0 || (colon && (!hl || colon < hl));
      v[n++] = b;
    }
    i = e;
  }
  if (v) qsort(v, (size_t)n, sizeof *v, block_cmp);
  int shown = to->nerrors;
  for (int i = 0; i < n; i++) {
    if (v[i].is_error && to->max_errors && ++shown > to->max_errors) continue;
    sb_putn(&to->out, s + v[i].start, v[i].len);
  }
  to->nerrors += from->nerrors;
  to->nwarnings += from->nwarnings;
  free(v);
}

/* ---- names ----------------------------------------------------------------------------------- */

/* "a, b, c" in the arena (no heap memory in flight if the arena longjmps) */
const char *cfg_join(Arena *a, const char *const *names, int n) {
  size_t len = 1;
  for (int i = 0; i < n; i++) len += strlen(names[i]) + 2;
  char *out = arena_alloc(a, len), *p = out;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(names[i]);
    if (i) *p++ = ',', *p++ = ' ';
    memcpy(p, names[i], l);
    p += l;
  }
  *p = 0;
  return out;
}

/* ---- suggestions ---------------------------------------------------------------------------- */

/* Optimal string alignment distance (a swap of two neighbours counts 1), capped at 9. */
static int edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 60 || m > 60) return 9;
  int d[61][61];
  for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1];
      int best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[n][m];
}

const char *cfg_suggest(const char *word, const char *const *cands, int n) {
  size_t len = strlen(word);
  int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
  const char *best = NULL;
  int bestd = limit + 1;
  for (int i = 0; i < n; i++) {
    int dist = edit_distance(word, cands[i]);
    if (dist < bestd && dist < (int)strlen(cands[i])) {
      bestd = dist;
      best = cands[i];
    }
  }
  return best;
}

int cfg_is_ident(const char *s) {
  if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))) return 0;
  for (s++; *s; s++)
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9')))
      return 0;
  return 1;
}
