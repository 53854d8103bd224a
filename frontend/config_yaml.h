/* config_yaml.h — internal to the run configuration (config*.c): a YAML node tree with a
 * source location on every node, built with libyaml's event parser, and typed readers
 * that report wrong types and out-of-range values at the node's YAML line:col.
 *
 * The tree is generic (no schema): scalars keep their text and whether they were quoted
 * (a quoted scalar is always a string, so `"100"` is not a number and `no` stays the
 * string "no" unless a boolean is expected). Duplicate mapping keys, non-scalar keys and
 * YAML syntax errors are reported while building it.
 */
#ifndef MAMC_CONFIG_YAML_H
#define MAMC_CONFIG_YAML_H

#include "support.h"

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } YNodeKind;

typedef struct YNode YNode;
typedef struct YPair {
  YNode *key, *val;
} YPair;

struct YNode {
  YNodeKind kind;
  SrcLoc loc;          /* the first character of the node (the quote of a quoted scalar) */
  const char *s;       /* scalar text (NUL-terminated; len bytes) */
  size_t len;
  int quoted;          /* scalar written quoted, as a block or tagged !!str: always a string */
  char style;          /* scalar: 0 plain, '\'' or '"' quoted, '|' block (| or >) */
  Vec(YNode *) items;  /* YN_SEQ */
  Vec(YPair) pairs;    /* YN_MAP, in file order */
};

/* Parse f into a tree. NULL after reporting a syntax error; an empty stream gives an empty
 * plain scalar located at 1:1. A duplicate key is reported and dropped (the first stays) and
 * the tree is still returned, so the caller compares d->nerrors to know. Allocation failure longjmps like the arena (libyaml's
 * memory is released first) or, with no handler set, reports and returns NULL. */
YNode *yaml_tree_parse(Arena *a, Diag *d, const SrcFile *f);

int yn_is_null(const YNode *n);                  /* ~, null, or nothing, unquoted */
const YPair *yn_pair(const YNode *map, const char *key);
const YNode *yn_get(const YNode *map, const char *key); /* NULL when absent or null */
SrcLoc yn_loc_in(const YNode *scalar, size_t byte_offset); /* a column inside a scalar */

/* ---- typed readers -------------------------------------------------------------------------
 * `what` names the value in messages ("train.steps"). Each returns 1 when *out was set,
 * 0 after reporting an error (then *out is left alone, so the default stays). */
typedef struct CfgReader {
  Arena *a;
  Diag *d;
  const SrcFile *file;
} CfgReader;

#define YN_NOMAX 0x7fffffffffffffffLL
int yn_read_int(CfgReader *r, const YNode *v, const char *what, long long lo, long long hi,
                long long *out);
/* lo/hi inclusive unless lo_open/hi_open; pass HUGE_VAL for an unbounded side */
int yn_read_float(CfgReader *r, const YNode *v, const char *what, double lo, int lo_open,
                  double hi, int hi_open, double *out);
int yn_read_bool(CfgReader *r, const YNode *v, const char *what, int *out);
int yn_read_str(CfgReader *r, const YNode *v, const char *what, const char **out);
/* one of names[0..n): *out = the index */
int yn_read_enum(CfgReader *r, const YNode *v, const char *what, const char *const *names,
                 int n, int *out);
/* mapping/list expected: reports "X must be a mapping, got a list" */
int yn_expect(CfgReader *r, const YNode *v, YNodeKind kind, const char *what);
const char *yn_describe(Arena *a, const YNode *v); /* "a list", "'abc'", "1.5", ... */

/* Report every key of `map` not in allowed[0..n) ("unknown key 'stpes' in train; did you
 * mean 'steps'?" plus a note listing the allowed keys). Returns the number reported. */
int yn_check_keys(CfgReader *r, const YNode *map, const char *where,
                  const char *const *allowed, int n);

/* The candidate nearest to `word` when it is an obvious typo (small edit distance), or NULL. */
const char *cfg_suggest(const char *word, const char *const *cands, int n);
/* "a, b, c", in the arena */
const char *cfg_join(Arena *a, const char *const *names, int n);
/* Identifier: [A-Za-z_][A-Za-z0-9_]* */
int cfg_is_ident(const char *s);

/* Move from's diagnostics into to, sorted by line:col (stable; a note stays after its error;
 * unlocated ones first), applying to's max_errors; counts are added. `name` is the file name
 * that starts located messages. */
void cfg_diag_flush_sorted(Diag *to, Diag *from, const char *name);

/* ---- the schema's parts (config.c, config_tasks.c) ------------------------------------------- */
struct RunConfig;
/* `tasks:` (a list, or MAMMOTH's mapping of task id → entry); needs processes, train, index
 * and vocab already read. Then the checks across tasks. */
void cfg_read_tasks(CfgReader *r, struct RunConfig *cfg, const YNode *root);
/* "a.b" for messages, in the arena */
const char *cfg_path(CfgReader *r, const char *where, const char *key);
/* `train:` and `checkpoint:` (config_train.c); the warmup default when `train:` is absent */
struct CfgTrain;
struct CfgCheckpoint;
void cfg_read_train(CfgReader *r, struct CfgTrain *t, const YNode *m);
void cfg_read_checkpoint(CfgReader *r, struct CfgCheckpoint *c, const YNode *m);
void cfg_default_warmup(struct CfgTrain *t);

/* Optional typed keys: absent (or null) leaves *out at its default. */
static inline void opt_int(CfgReader *r, const YNode *m, const char *where, const char *key,
                    long long lo, long long hi, long long *out) {
  const YNode *v = yn_get(m, key);
  if (v) yn_read_int(r, v, cfg_path(r, where, key), lo, hi, out);
}
static inline void opt_int32(CfgReader *r, const YNode *m, const char *where, const char *key, int lo,
                      int *out) {
  long long x = *out;
  opt_int(r, m, where, key, lo, 0x7fffffff, &x);
  *out = (int)x;
}
static inline void opt_float(CfgReader *r, const YNode *m, const char *where, const char *key,
                      double lo, int lo_open, double hi, int hi_open, double *out) {
  const YNode *v = yn_get(m, key);
  if (v) yn_read_float(r, v, cfg_path(r, where, key), lo, lo_open, hi, hi_open, out);
}
static inline void opt_enum(CfgReader *r, const YNode *m, const char *where, const char *key,
                     const char *const *names, int n, int *out) {
  const YNode *v = yn_get(m, key);
  if (v) yn_read_enum(r, v, cfg_path(r, where, key), names, n, out);
}

static inline SrcLoc val_loc(const YNode *m, const char *key) {
  const YPair *p = yn_pair(m, key);
  return p ? p->val->loc : m->loc;
}


#endif
