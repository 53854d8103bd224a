/* ops.c — the op table as data: names, arity, flags and parsed attribute schemas, all
 * generated from ops.def. The schemas are parsed once (pthread_once) into an immutable table.
 */
#include "ir.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct OpRow {
  const char *name;
  int min_in, max_in;
  unsigned flags;
  const char *schema;
} OpRow;

static const OpRow rows[OP_COUNT] = {
#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) [OP_##ID] = {NAME, MIN, MAX, FLAGS, ATTRS},
#include "ops.def"
};

enum { MAX_ATTRS = 8, MAX_WORDS = 8 };
static OpInfo infos[OP_COUNT];
static AttrSpec specs[OP_COUNT][MAX_ATTRS];
static char words_store[OP_COUNT][MAX_ATTRS][MAX_WORDS][24];
static const char *words_ptr[OP_COUNT][MAX_ATTRS][MAX_WORDS];
static char names_store[OP_COUNT][MAX_ATTRS][24];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* "name:kind[=default]" items separated by ','. A malformed schema is a bug in ops.def. */
static void parse_schema(int op) {
  const char *s = rows[op].schema;
  int n = 0;
  while (*s) {
    if (n == MAX_ATTRS) die("ops.def: %s has too many attributes", rows[op].name);
    AttrSpec *a = &specs[op][n];
    const char *colon = strchr(s, ':');
    if (!colon || colon - s >= 24) die("ops.def: bad schema for %s", rows[op].name);
    memcpy(names_store[op][n], s, (size_t)(colon - s));
    a->name = names_store[op][n];
    s = colon + 1;
    switch (*s++) {
    case 'i': a->kind = AK_INT; break;
    case 'f': a->kind = AK_FLOAT; break;
    case 'b': a->kind = AK_FLAG; break;
    case 'I': a->kind = AK_INTS; break;
    case 'g': a->kind = AK_GROUP; break;
    case 'e': {
      a->kind = AK_ENUM;
      if (*s++ != '(') die("ops.def: bad enum in %s", rows[op].name);
      while (*s != ')') {
        const char *e = s;
        while (*e != '|' && *e != ')') e++;
        if (a->nwords == MAX_WORDS || e - s >= 24) die("ops.def: enum too big in %s", rows[op].name);
        memcpy(words_store[op][n][a->nwords], s, (size_t)(e - s));
        words_ptr[op][n][a->nwords] = words_store[op][n][a->nwords];
        a->nwords++;
        s = *e == '|' ? e + 1 : e;
      }
      s++;
      a->words = words_ptr[op][n];
      break;
    }
    default: die("ops.def: bad attribute kind in %s", rows[op].name);
    }
    if (*s == '=') {
      s++;
      const char *e = s;
      while (*e && *e != ',') e++;
      char buf[32] = {0};
      if (e - s >= (long)sizeof buf) die("ops.def: default too long in %s", rows[op].name);
      memcpy(buf, s, (size_t)(e - s));
      a->has_default = 1;
      if (strcmp(buf, "none") == 0 && a->kind == AK_INT) {
        a->default_unset = 1;
      } else if (a->kind == AK_FLOAT) {
        a->def_f = strtod(buf, NULL);
      } else if (a->kind == AK_ENUM) {
        int w = -1;
        for (int k = 0; k < a->nwords; k++)
          if (strcmp(a->words[k], buf) == 0) w = k;
        if (w < 0) die("ops.def: default '%s' not a word in %s", buf, rows[op].name);
        a->def_i = w;
      } else if (a->kind == AK_INT || a->kind == AK_FLAG) {
        a->def_i = strtoll(buf, NULL, 10);
      } else {
        die("ops.def: kind of %s.%s takes no default", rows[op].name, a->name);
      }
      s = e;
    }
    if (*s == ',') s++;
    n++;
  }
  infos[op] = (OpInfo){rows[op].name, rows[op].min_in, rows[op].max_in, rows[op].flags, n, specs[op]};
}

static void init_table(void) {
  for (int op = 0; op < OP_COUNT; op++) parse_schema(op);
}

const OpInfo *op_info(Op op) {
  pthread_once(&once, init_table);
  if ((unsigned)op >= OP_COUNT) die("op_info: bad op %d", (int)op);
  return &infos[op];
}

int op_lookup(const char *name, Op *out) {
  for (int op = 0; op < OP_COUNT; op++)
    if (strcmp(rows[op].name, name) == 0) {
      *out = (Op)op;
      return 1;
    }
  return 0;
}

int op_attr_index(Op op, const char *name) {
  const OpInfo *oi = op_info(op);
  for (int k = 0; k < oi->nattrs; k++)
    if (strcmp(oi->attrs[k].name, name) == 0) return k;
  return -1;
}
