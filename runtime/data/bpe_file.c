/* bpe_file.c — the tokenizer text format (described in tokenizer.h): writing, and parsing
 * with `file:line:col: error:` diagnostics; tokenizer_load dispatches on the header line. */
#include "tokenizer_internal.h"
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---------------------------------------------------------------------------- */

static void write_part(StrBuf *b, const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  sb_putc(b, '"');
  for (size_t i = 0; i < len;) {
    unsigned c = u[i];
    if (c == '"' || c == '\\') {
      sb_putc(b, '\\');
      sb_putc(b, (char)c);
      i++;
    } else if (c >= 0x20 && c < 0x7f) {
      sb_putc(b, (char)c);
      i++;
    } else {
      int n = c >= 0x80 ? utf8_seq_len(u + i, len - i) : 0;
      if (n > 0) { /* a whole UTF-8 character: keep it readable */
        sb_putn(b, s + i, (size_t)n);
        i += (size_t)n;
      } else {
        sb_printf(b, "\\x%02X", c);
        i++;
      }
    }
  }
  sb_putc(b, '"');
}

void tokenizer_write(const Tokenizer *t, StrBuf *out) {
  if (t->kind == TOKENIZER_BYTE) {
    sb_puts(out, "mamc-byte v1\n");
    return;
  }
  sb_printf(out, "mamc-bpe v1 size %d\n", t->vocab);
  for (int k = 0; k < t->nmerges; k++) {
    size_t ll, rl;
    const char *l = tokenizer_piece(t, t->merges[k].left, &ll);
    const char *r = tokenizer_piece(t, t->merges[k].right, &rl);
    write_part(out, l, ll);
    sb_putc(out, ' ');
    write_part(out, r, rl);
    sb_putc(out, '\n');
  }
}

int tokenizer_save(const Tokenizer *t, const char *path, Diag *d) {
  StrBuf b;
  sb_init(&b);
  tokenizer_write(t, &b);
  if (b.failed) {
    sb_free(&b);
    diag_plain(d, "out of memory writing '%s'", path);
    return -1;
  }
  FILE *fp = fopen(path, "wb");
  if (!fp) {
    diag_plain(d, "cannot open '%s' for writing: %s", path, strerror(errno));
    sb_free(&b);
    return -1;
  }
  size_t w = fwrite(b.s, 1, b.len, fp);
  int bad = w != b.len;
  if (fclose(fp) != 0) bad = 1;
  sb_free(&b);
  if (bad) {
    diag_plain(d, "cannot write '%s'", path);
    return -1;
  }
  return 0;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct Parser {
  const SrcFile *f;
  Diag *d;
  const char *line; /* start of the current line */
  int lineno;
} Parser;

static void perr(Parser *p, const char *at, const char *fmt, ...) MAMC_PRINTF(3, 4);
static void perr(Parser *p, const char *at, const char *fmt, ...) {
  SrcLoc loc = {p->f, p->lineno, (int)(at - p->line) + 1};
  va_list ap;
  va_start(ap, fmt);
  diag_verror(p->d, loc, "error", fmt, ap);
  va_end(ap);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Parse a quoted part at *s (line ends at eol) into buf (room for eol - *s bytes); returns
 * its length, or -1 after reporting an error. */
static long parse_part(Parser *p, const char **s, const char *eol, char *buf, const char *what) {
  const char *q = *s;
  if (q >= eol || *q != '"') {
    perr(p, q, "expected '\"' to start the %s part of a merge", what);
    return -1;
  }
  long n = 0;
  const char *c = q + 1;
  for (;;) {
    if (c >= eol) {
      perr(p, q, "unterminated string: missing closing '\"'");
      return -1;
    }
    if (*c == '"') break;
    if (*c != '\\') {
      buf[n++] = *c++;
      continue;
    }
    if (c + 1 < eol && (c[1] == '"' || c[1] == '\\')) {
      buf[n++] = c[1];
      c += 2;
    } else if (c + 3 < eol && c[1] == 'x' && hexval(c[2]) >= 0 && hexval(c[3]) >= 0) {
      buf[n++] = (char)(hexval(c[2]) * 16 + hexval(c[3]));
      c += 4;
    } else {
      perr(p, c, "invalid escape: use \\\", \\\\ or \\xNN with two hex digits");
      return -1;
    }
  }
  if (n == 0) {
    perr(p, q, "empty %s part: every part is a piece of at least one byte", what);
    return -1;
  }
  *s = c + 1;
  return n;
}

static Tokenizer *parse_bpe(Parser *p, const char *size_at, long size, const char *text_end) {
  Tokenizer *t = tok_new(TOKENIZER_BPE);
  char *buf = malloc(p->f->len + 1);
  if (!t || !buf) {
    diag_plain(p->d, "out of memory reading '%s'", p->f->name);
    goto fail;
  }
  int header_line = p->lineno;
  const char *header = p->line;
  const char *s = p->line;
  while (s < text_end && *s != '\n') s++;
  for (; s < text_end;) {
    p->line = ++s; /* past the '\n' */
    p->lineno++;
    const char *eol = s;
    while (eol < text_end && *eol != '\n') eol++;
    const char *end = eol > s && eol[-1] == '\r' ? eol - 1 : eol;
    if (end == s) { /* blank lines are allowed */
      s = eol;
      continue;
    }
    long ln = parse_part(p, &s, end, buf, "left");
    if (ln < 0) goto fail;
    int32_t l = tok_find_piece(t, buf, (size_t)ln);
    if (l < 0) {
      perr(p, p->line, "the left part is not a piece defined by an earlier line");
      goto fail;
    }
    if (s >= end || (*s != ' ' && *s != '\t')) {
      perr(p, s, "expected a space between the two parts of a merge");
      goto fail;
    }
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    const char *rstart = s;
    long rn = parse_part(p, &s, end, buf, "right");
    if (rn < 0) goto fail;
    int32_t r = tok_find_piece(t, buf, (size_t)rn);
    if (r < 0) {
      perr(p, rstart, "the right part is not a piece defined by an earlier line");
      goto fail;
    }
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    if (s < end) {
      perr(p, s, "unexpected text after the merge");
      goto fail;
    }
    if (t->vocab >= TOK_MAX_VOCAB || tok_add_merge(t, l, r) < 0) {
      diag_plain(p->d, "out of memory reading '%s'", p->f->name);
      goto fail;
    }
    s = eol;
  }
  if (t->vocab != size) {
    p->line = header;
    p->lineno = header_line;
    perr(p, size_at, "the header says size %ld but the merges define %d ids", size, t->vocab);
    goto fail;
  }
  free(buf);
  return t;
fail:
  free(buf);
  tokenizer_free(t);
  return NULL;
}

/* Match the literal `lit` at *s; on a mismatch report it at the first differing byte. */
static int expect(Parser *p, const char **s, const char *end, const char *lit, const char *what) {
  const char *q = *s;
  for (const char *l = lit; *l; l++, q++) {
    if (q >= end || *q != *l) {
      perr(p, q, "%s", what);
      return 0;
    }
  }
  *s = q;
  return 1;
}

Tokenizer *tokenizer_parse(const SrcFile *f, Diag *d) {
  Parser p = {f, d, f->text, 1};
  const char *text_end = f->text + f->len;
  const char *eol = f->text;
  while (eol < text_end && *eol != '\n') eol++;
  const char *end = eol > f->text && eol[-1] == '\r' ? eol - 1 : eol;
  const char *s = f->text;
  static const char *const bad_header =
      "not a mamc tokenizer file: expected 'mamc-bpe v1 size N' or 'mamc-byte v1'";
  if (!expect(&p, &s, end, "mamc-b", bad_header)) return NULL;
  if (s < end && *s == 'y') {
    if (!expect(&p, &s, end, "yte", bad_header) || !expect(&p, &s, end, " v1", "expected ' v1'"))
      return NULL;
    for (const char *q = s; q < text_end; q++) {
      if (*q == '\n') {
        p.line = q + 1;
        p.lineno++;
      } else if (*q != '\r' && *q != ' ') {
        perr(&p, q, "unexpected text after 'mamc-byte v1'");
        return NULL;
      }
    }
    Tokenizer *t = tokenizer_byte();
    if (!t) diag_plain(d, "out of memory reading '%s'", f->name);
    return t;
  }
  if (!expect(&p, &s, end, "pe", bad_header) || !expect(&p, &s, end, " v1", "expected ' v1'") ||
      !expect(&p, &s, end, " size ", "expected ' size N' after 'mamc-bpe v1'"))
    return NULL;
  const char *size_at = s;
  long size = 0;
  while (s < end && *s >= '0' && *s <= '9' && size <= TOK_MAX_VOCAB)
    size = size * 10 + (*s++ - '0');
  if (s == size_at || s < end || size < TOK_BYTE_VOCAB || size > TOK_MAX_VOCAB) {
    perr(&p, size_at, "expected the vocabulary size, a number from %d to %d", TOK_BYTE_VOCAB,
         TOK_MAX_VOCAB);
    return NULL;
  }
  return parse_bpe(&p, size_at, size, text_end);
}

Tokenizer *tokenizer_load(const char *path, Diag *d) {
  Arena a;
  arena_init(&a);
  SrcFile *f = srcfile_read(&a, d, path);
  Tokenizer *t = f ? tokenizer_parse(f, d) : NULL;
  arena_free(&a);
  return t;
}
