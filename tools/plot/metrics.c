/* metrics.c — reads the trainer's JSONL metrics file into the series `mamc plot` draws: a
 * small JSON parser (objects, arrays, strings with escapes, numbers, and the bare nan/inf
 * that printf writes for a diverged loss), then one series per task and panel.
 *
 * A file may hold several runs appended (a resumed or restarted training): a record whose
 * step is not after the previous record of its type starts over from that step, and the
 * points of that type at or after it are dropped.
 */
#include <math.h>
#include <stdlib.h>

#include "plot.h"

/* ---- JSON ------------------------------------------------------------------------------- */
typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } JKind;

typedef struct JVal JVal;
struct JVal {
  JKind kind;
  double num;
  const char *str;
  int n;             /* items (arrays, objects) */
  const char **keys; /* objects */
  JVal *items;
};

typedef struct JParse {
  Arena *a;
  const char *s;
  const char *err;
  int depth;
} JParse;

static void skip_ws(JParse *p) {
  while (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n') p->s++;
}

static void put_utf8(StrBuf *b, uint32_t c) {
  if (c < 0x80) sb_putc(b, (char)c);
  else if (c < 0x800) sb_putc(b, (char)(0xC0 | c >> 6)), sb_putc(b, (char)(0x80 | (c & 0x3F)));
  else if (c < 0x10000)
    sb_putc(b, (char)(0xE0 | c >> 12)), sb_putc(b, (char)(0x80 | (c >> 6 & 0x3F))), sb_putc(b, (char)(0x80 | (c & 0x3F)));
  else
    sb_putc(b, (char)(0xF0 | c >> 18)), sb_putc(b, (char)(0x80 | (c >> 12 & 0x3F))),
        sb_putc(b, (char)(0x80 | (c >> 6 & 0x3F))), sb_putc(b, (char)(0x80 | (c & 0x3F)));
}

static int hex4(const char *s, uint32_t *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    *v = *v << 4 | (uint32_t)d;
  }
  return 1;
}

static const char *parse_string(JParse *p) {
  StrBuf b;
  sb_init(&b);
  p->s++; /* the opening quote */
  while (*p->s && *p->s != '"') {
    char c = *p->s++;
    if (c != '\\') {
      sb_putc(&b, c);
      continue;
    }
    char e = *p->s++;
    uint32_t u;
    switch (e) {
    case '"': case '\\': case '/': sb_putc(&b, e); break;
    case 'b': sb_putc(&b, '\b'); break;
    case 'f': sb_putc(&b, '\f'); break;
    case 'n': sb_putc(&b, '\n'); break;
    case 'r': sb_putc(&b, '\r'); break;
    case 't': sb_putc(&b, '\t'); break;
    case 'u':
      if (!hex4(p->s, &u)) goto bad;
      p->s += 4;
      if (u >= 0xD800 && u < 0xDC00 && p->s[0] == '\\' && p->s[1] == 'u') { /* a surrogate pair */
        uint32_t lo;
        if (hex4(p->s + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          p->s += 6;
        }
      }
      put_utf8(&b, u);
      break;
    default: goto bad;
    }
  }
  if (*p->s != '"') goto bad;
  p->s++;
  const char *r = arena_strndup(p->a, b.s ? b.s : "", b.len);
  sb_free(&b);
  return r;
bad:
  sb_free(&b);
  p->err = "bad string";
  return NULL;
}

static int parse_value(JParse *p, JVal *v);

static int parse_items(JParse *p, JVal *v, int object) {
  Vec(JVal) items = {0};
  Vec(const char *) keys = {0};
  char close = object ? '}' : ']';
  p->s++;
  skip_ws(p);
  if (*p->s == close) {
    p->s++;
    return 1;
  }
  for (;;) {
    skip_ws(p);
    if (object) {
      if (*p->s != '"') return p->err = "expected a key", 0;
      const char *k = parse_string(p);
      if (!k) return 0;
      vec_push(p->a, keys, k);
      skip_ws(p);
      if (*p->s++ != ':') return p->err = "expected ':'", 0;
    }
    JVal item;
    if (!parse_value(p, &item)) return 0;
    vec_push(p->a, items, item);
    skip_ws(p);
    if (*p->s == ',') {
      p->s++;
      continue;
    }
    if (*p->s++ != close) return p->err = object ? "expected ',' or '}'" : "expected ',' or ']'", 0;
    break;
  }
  v->n = items.n;
  v->items = items.v;
  v->keys = keys.v;
  return 1;
}

static int parse_value(JParse *p, JVal *v) {
  memset(v, 0, sizeof *v);
  skip_ws(p);
  if (++p->depth > 64) return p->err = "nested too deeply", 0;
  const char *s = p->s;
  int ok = 1;
  if (*s == '{' || *s == '[') {
    v->kind = *s == '{' ? J_OBJ : J_ARR;
    ok = parse_items(p, v, *s == '{');
  } else if (*s == '"') {
    v->kind = J_STR;
    ok = (v->str = parse_string(p)) != NULL;
  } else if (!strncmp(s, "true", 4) || !strncmp(s, "false", 5)) {
    v->kind = J_BOOL;
    v->num = *s == 't';
    p->s += *s == 't' ? 4 : 5;
  } else if (!strncmp(s, "null", 4)) {
    p->s += 4;
  } else {
    /* a number, or printf's nan / -nan / inf / -inf (NaN and Infinity as Python writes them) */
    char *end;
    v->kind = J_NUM;
    v->num = strtod(s, &end);
    if (end == s) return p->err = "expected a value", 0;
    p->s = end;
  }
  p->depth--;
  return ok;
}

static const JVal *jget(const JVal *o, const char *key) {
  if (!o || o->kind != J_OBJ) return NULL;
  for (int i = 0; i < o->n; i++)
    if (!strcmp(o->keys[i], key)) return &o->items[i];
  return NULL;
}

/* ---- series ------------------------------------------------------------------------------ */
static int task_index(Arena *a, Metrics *m, const char *name) {
  for (int i = 0; i < m->tasks.n; i++)
    if (!strcmp(m->tasks.v[i], name)) return i;
  vec_push(a, m->tasks, arena_strdup(a, name));
  return m->tasks.n - 1;
}

static void add_point(Arena *a, Metrics *m, PanelKind k, const char *name, int task, double step, double y) {
  Series *s = NULL;
  for (int i = 0; i < m->panel[k].n && !s; i++)
    if (!strcmp(m->panel[k].v[i]->name, name)) s = m->panel[k].v[i];
  if (!s) {
    s = ARENA_NEW(a, Series);
    s->name = arena_strdup(a, name);
    s->task = task;
    vec_push(a, m->panel[k], s);
  }
  vec_push(a, s->x, step);
  vec_push(a, s->y, y);
}

/* Drops the points of panel k at or after step (a run started over). */
static void truncate_panel(Metrics *m, PanelKind k, double step) {
  for (int i = 0; i < m->panel[k].n; i++) {
    Series *s = m->panel[k].v[i];
    while (s->x.n && s->x.v[s->x.n - 1] >= step) s->x.n--, s->y.n--;
  }
}

/* {task: x} or a bare number (the mean) into panel k */
static int add_values(Arena *a, Metrics *m, PanelKind k, const JVal *v, double step, const char *mean_name) {
  int n = 0;
  if (v && v->kind == J_NUM) {
    add_point(a, m, k, mean_name, -1, step, v->num);
    return 1;
  }
  for (int i = 0; v && v->kind == J_OBJ && i < v->n; i++)
    if (v->items[i].kind == J_NUM) {
      add_point(a, m, k, v->keys[i], task_index(a, m, v->keys[i]), step, v->items[i].num);
      n++;
    }
  return n;
}

static int load(Arena *a, Diag *d, const SrcFile *f, Metrics *m) {
  memset(m, 0, sizeof *m);
  const char *text = f->text;
  double last_train = -INFINITY, last_valid = -INFINITY;
  int lineno = 0;
  for (const char *line = text; *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    char *buf = arena_strndup(a, line, len);
    line += len + (eol != NULL);
    lineno++;
    JParse p = {a, buf, NULL, 0};
    skip_ws(&p);
    if (!*p.s) continue; /* a blank line */
    m->records++;
    JVal v;
    int ok = *p.s == '{' && parse_value(&p, &v);
    if (ok) skip_ws(&p);
    if (!ok || *p.s) {
      diag_warning(d, (SrcLoc){f, lineno, (int)(p.s - buf) + 1}, "not a JSON object (%s); line skipped",
                   p.err ? p.err : "trailing text");
      m->skipped++;
      continue;
    }
    const JVal *type = jget(&v, "type"), *step = jget(&v, "step");
    if (!type || type->kind != J_STR || !step || step->kind != J_NUM) {
      m->skipped++;
      continue;
    }
    double s = step->num;
    int used = 0;
    if (!strcmp(type->str, "train")) {
      if (s <= last_train) truncate_panel(m, PANEL_TRAIN_LOSS, s);
      last_train = s;
      const JVal *task = jget(&v, "task"), *loss = jget(&v, "loss"), *avg = jget(&v, "loss_avg");
      if (task && task->kind == J_STR && loss && loss->kind == J_NUM) {
        add_point(a, m, PANEL_TRAIN_LOSS, task->str, task_index(a, m, task->str), s, loss->num);
        used = 1;
      }
      if (avg && avg->kind == J_NUM) add_point(a, m, PANEL_TRAIN_LOSS, "all tasks (loss_avg)", -1, s, avg->num), used = 1;
    } else if (!strcmp(type->str, "valid")) {
      if (s <= last_valid)
        for (int k = PANEL_VALID_LOSS; k < PANEL_COUNT; k++) truncate_panel(m, (PanelKind)k, s);
      last_valid = s;
      used += add_values(a, m, PANEL_VALID_LOSS, jget(&v, "loss"), s, "mean");
      const JVal *mean = jget(&v, "mean");
      if (mean && mean->kind == J_NUM) used += add_values(a, m, PANEL_VALID_LOSS, mean, s, "mean");
      used += add_values(a, m, PANEL_BLEU, jget(&v, "bleu") ? jget(&v, "bleu") : jget(&v, "BLEU"), s, "mean");
      used += add_values(a, m, PANEL_CHRF, jget(&v, "chrf") ? jget(&v, "chrf") : jget(&v, "chrF"), s, "mean");
      const JVal *bm = jget(&v, "bleu_mean"), *cm = jget(&v, "chrf_mean");
      if (bm && bm->kind == J_NUM) used += add_values(a, m, PANEL_BLEU, bm, s, "mean");
      if (cm && cm->kind == J_NUM) used += add_values(a, m, PANEL_CHRF, cm, s, "mean");
    }
    if (!used) m->skipped++;
  }
  return 0;
}

int metrics_load_text(Arena *a, Diag *d, const char *name, const char *text, Metrics *m) {
  return load(a, d, srcfile_from_string(a, name, text), m);
}

int metrics_load(Arena *a, Diag *d, const char *path, Metrics *m) {
  memset(m, 0, sizeof *m);
  SrcFile *f = srcfile_read(a, d, path);
  if (!f) return -1;
  return load(a, d, f, m);
}
