/* support.c — arena, string builder, caret diagnostics and the clock (see support.h). */
#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- arena ------------------------------------------------------------------------------ */

struct ArenaChunk {
  ArenaChunk *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

enum { ARENA_CHUNK = 64 * 1024 };

void arena_init(Arena *a) { memset(a, 0, sizeof *a); }

void arena_free(Arena *a) {
  ArenaChunk *c = a->head;
  while (c) {
    ArenaChunk *n = c->next;
    free(c);
    c = n;
  }
  a->head = NULL;
  a->used_total = 0;
}

static void *arena_fail(Arena *a) {
  if (a->oom) longjmp(*a->oom, 1);
  return NULL;
}

void *arena_alloc(Arena *a, size_t size) {
  if (a->fail_after > 0 && --a->fail_after == 0) return arena_fail(a);
  size = (size + 15) & ~(size_t)15;
  if (size == 0) size = 16;
  ArenaChunk *c = a->head;
  if (!c || c->size - c->used < size) {
    size_t cs = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
    ArenaChunk *n = malloc(sizeof(ArenaChunk) + cs);
    if (!n) return arena_fail(a);
    n->size = cs;
    n->used = 0;
    if (cs == size && c) { /* big block: keep the current chunk at the head */
      n->next = c->next;
      c->next = n;
      n->used = size;
      a->used_total += size;
      memset(n->data, 0, size);
      return n->data;
    }
    n->next = c;
    a->head = c = n;
  }
  void *p = c->data + c->used;
  c->used += size;
  a->used_total += size;
  memset(p, 0, size);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = arena_alloc(a, (size_t)n + 1);
  if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return p;
}

char *arena_take_sb(Arena *a, StrBuf *b) {
  jmp_buf *oom = a->oom;
  a->oom = NULL; /* b is freed before the failure unwinds */
  char *p = b->failed ? NULL : arena_strndup(a, b->s ? b->s : "", b->len);
  a->oom = oom;
  sb_free(b);
  return p ? p : arena_fail(a);
}

void arena_rethrow(Arena *a, jmp_buf *saved) {
  a->oom = saved;
  if (saved) longjmp(*saved, 1);
}

/* ---- string builder --------------------------------------------------------------------- */

void sb_init(StrBuf *b) { memset(b, 0, sizeof *b); }
void sb_free(StrBuf *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

static int sb_reserve(StrBuf *b, size_t extra) {
  if (b->failed) return 0;
  if (b->len + extra + 1 <= b->cap) return 1;
  size_t nc = b->cap ? b->cap : 256;
  while (nc < b->len + extra + 1) nc *= 2;
  char *ns = realloc(b->s, nc);
  if (!ns) {
    b->failed = 1;
    return 0;
  }
  b->s = ns;
  b->cap = nc;
  return 1;
}

void sb_putn(StrBuf *b, const char *s, size_t n) {
  if (!sb_reserve(b, n)) return;
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}
void sb_puts(StrBuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
void sb_putc(StrBuf *b, char c) { sb_putn(b, &c, 1); }

void sb_vprintf(StrBuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0 || !sb_reserve(b, (size_t)n)) return;
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void sb_printf(StrBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void sb_pad_to(StrBuf *b, size_t col) {
  size_t start = b->len;
  while (start > 0 && b->s[start - 1] != '\n') start--;
  size_t cur = b->len - start;
  if (cur >= col) {
    sb_putc(b, ' ');
    return;
  }
  while (cur++ < col) sb_putc(b, ' ');
}

/* ---- diagnostics ------------------------------------------------------------------------ */

void diag_init(Diag *d) {
  memset(d, 0, sizeof *d);
  d->max_errors = 20;
}
void diag_free(Diag *d) { sb_free(&d->out); }

/* The text of line `line` (1-based) of f, without its newline. */
static void line_span(const SrcFile *f, int line, const char **start, size_t *len) {
  const char *p = f->text, *end = f->text + f->len;
  for (int l = 1; l < line && p < end; p++)
    if (*p == '\n') l++;
  const char *q = p;
  while (q < end && *q != '\n' && *q != '\r') q++;
  *start = p;
  *len = (size_t)(q - p);
}

void diag_verror(Diag *d, SrcLoc loc, const char *kind, const char *fmt, va_list ap) {
  int is_error = strcmp(kind, "error") == 0;
  if (is_error) {
    d->nerrors++;
    if (d->max_errors && d->nerrors > d->max_errors) return;
  } else if (strcmp(kind, "warning") == 0) {
    d->nwarnings++;
  }
  StrBuf *b = &d->out;
  if (loc.file && loc.line > 0)
    sb_printf(b, "%s:%d:%d: %s: ", loc.file->name, loc.line, loc.col, kind);
  else if (loc.file)
    sb_printf(b, "%s: %s: ", loc.file->name, kind);
  else
    sb_printf(b, "%s: ", kind);
  sb_vprintf(b, fmt, ap);
  sb_putc(b, '\n');
  if (loc.file && loc.line > 0) {
    const char *s;
    size_t n;
    line_span(loc.file, loc.line, &s, &n);
    sb_puts(b, "  ");
    /* tabs are shown as spaces so the caret lines up */
    for (size_t i = 0; i < n; i++) sb_putc(b, s[i] == '\t' ? ' ' : s[i]);
    sb_puts(b, "\n  ");
    for (int i = 1; i < loc.col; i++) sb_putc(b, ' ');
    sb_puts(b, "^\n");
  }
}

#define DIAG_KIND(fn, kind)                                                                \
  void fn(Diag *d, SrcLoc loc, const char *fmt, ...) {                                     \
    va_list ap;                                                                            \
    va_start(ap, fmt);                                                                     \
    diag_verror(d, loc, kind, fmt, ap);                                                    \
    va_end(ap);                                                                            \
  }
DIAG_KIND(diag_error, "error")
DIAG_KIND(diag_warning, "warning")
DIAG_KIND(diag_note, "note")

void diag_plain(Diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  SrcLoc none = {0};
  diag_verror(d, none, "error", fmt, ap);
  va_end(ap);
}

SrcFile *srcfile_from_string(Arena *a, const char *name, const char *text) {
  SrcFile *f = ARENA_NEW(a, SrcFile);
  if (!f || !(f->name = arena_strdup(a, name))) return NULL; /* out of memory, no a->oom */
  f->len = strlen(text);
  f->text = arena_strndup(a, text, f->len);
  return f->text ? f : NULL;
}

SrcFile *srcfile_read(Arena *a, Diag *d, const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    diag_plain(d, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  StrBuf b;
  sb_init(&b);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, fp)) > 0) sb_putn(&b, buf, n);
  int bad = ferror(fp) || b.failed;
  fclose(fp);
  if (bad) {
    diag_plain(d, b.failed ? "out of memory reading '%s'" : "cannot read '%s'", path);
    sb_free(&b);
    return NULL;
  }
  /* the arena copies are made with the failure deferred, so b is freed first */
  size_t len = b.len;
  jmp_buf *oom = a->oom;
  a->oom = NULL;
  SrcFile *f = ARENA_NEW(a, SrcFile);
  if (f) f->name = arena_strdup(a, path);
  if (f && f->name) f->text = arena_strndup(a, b.s ? b.s : "", b.len);
  a->oom = oom;
  sb_free(&b);
  if (!f || !f->name || !f->text) {
    if (oom) longjmp(*oom, 1);
    diag_plain(d, "out of memory reading '%s'", path);
    return NULL;
  }
  f->len = len;
  if (memchr(f->text, 0, f->len)) {
    SrcLoc loc = {f, 0, 0};
    diag_error(d, loc, "file contains a NUL byte (is it a text file?)");
    return NULL;
  }
  return f;
}

void mamc_die_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: internal error: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

double mono_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
