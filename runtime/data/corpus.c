/* corpus.c — reading and validating parallel corpora (see corpus.h). Files are read whole
 * into malloc'd buffers, validated line by line, then the kept fields are copied into one
 * arena block; the buffers are freed before returning. */
#include "corpus.h"
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct InFile {
  SrcFile sf; /* name and text, for diagnostics */
  char *buf;
  int64_t nlines;
  size_t kept_bytes; /* bytes the kept lines need: their content plus one NUL per field */
} InFile;

/* The line at *pos: [*ls, *le) without its '\r\n'; the start of the line (for columns) in
 * *start. Advances *pos past the '\n'. 0 at the end of the text. */
static int next_line(const SrcFile *f, size_t *pos, const char **start, const char **ls,
                     const char **le) {
  if (*pos >= f->len) return 0;
  const char *s = f->text + *pos, *end = f->text + f->len;
  const char *nl = memchr(s, '\n', (size_t)(end - s));
  const char *e = nl ? nl : end;
  *start = s;
  *ls = s;
  if (*pos == 0 && e - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) *ls = s + 3; /* BOM */
  *le = e > *ls && e[-1] == '\r' ? e - 1 : e;
  *pos = nl ? (size_t)(nl - f->text) + 1 : f->len;
  return 1;
}

static int read_file(InFile *in, const char *path, Diag *d) {
  memset(in, 0, sizeof *in);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    diag_plain(d, "cannot open '%s': %s", path, strerror(errno));
    return 0;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, fp);
    len += n;
    if (n == 0) break;
  }
  int bad = ferror(fp);
  fclose(fp);
  if (!buf) {
    diag_plain(d, "out of memory reading '%s'", path);
    return 0;
  }
  if (bad) {
    free(buf);
    diag_plain(d, "cannot read '%s'", path);
    return 0;
  }
  buf[len] = 0;
  in->buf = buf;
  in->sf = (SrcFile){path, buf, len};
  return 1;
}

static void line_error(Diag *d, const InFile *in, int64_t line, const char *start, const char *at,
                       const char *fmt, ...) MAMC_PRINTF(6, 7);
static void line_error(Diag *d, const InFile *in, int64_t line, const char *start, const char *at,
                       const char *fmt, ...) {
  SrcLoc loc = {&in->sf, (int)line, (int)(at - start) + 1};
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, loc, "error", fmt, ap);
  va_end(ap);
}

/* Validate every line of one file. tsv: split on tabs into *ncols fields (0: take the first
 * line's count). Counts lines and the bytes of kept lines. Returns the number of errors. */
static int scan_file(InFile *in, int tsv, int *ncols, int64_t stride, int64_t offset, Diag *d) {
  int errors = 0;
  size_t pos = 0;
  const char *start, *ls, *le;
  while (next_line(&in->sf, &pos, &start, &ls, &le)) {
    int64_t line = ++in->nlines;
    if (tsv && *ncols == 0) {
      int n = 1;
      for (const char *p = ls; p < le; p++) n += *p == '\t';
      *ncols = n;
    }
    if (ls == le) {
      line_error(d, in, line, start, ls, "empty line: every example needs %s",
                 tsv ? "a non-empty text in every field" : "a non-empty text");
      errors++;
      continue;
    }
    int field = 0, bad = 0;
    const char *fstart = ls;
    for (const char *p = ls; p < le && !bad; p++) {
      unsigned char c = (unsigned char)*p;
      if (c == 0) {
        line_error(d, in, line, start, p, "NUL byte in the text");
        bad = 1;
      } else if (c >= 0x80) {
        int n = utf8_seq_len((const unsigned char *)p, (size_t)(le - p));
        if (!n) {
          line_error(d, in, line, start, p, "invalid UTF-8 (byte 0x%02X)", c);
          bad = 1;
        } else {
          p += n - 1;
        }
      } else if (c == '\t' && tsv) {
        if (p == fstart) {
          line_error(d, in, line, start, p, "empty field %d", field + 1);
          bad = 1;
        } else if (++field >= *ncols) {
          line_error(d, in, line, start, p, "too many fields: expected %d tab-separated fields",
                     *ncols);
          bad = 1;
        }
        fstart = p + 1;
      }
    }
    if (!bad && fstart == le) {
      line_error(d, in, line, start, le, "empty field %d", field + 1);
      bad = 1;
    }
    if (!bad && tsv && field + 1 < *ncols) {
      line_error(d, in, line, start, le, "expected %d tab-separated fields, found %d", *ncols,
                 field + 1);
      bad = 1;
    }
    errors += bad;
    if ((line - 1) % stride == offset) in->kept_bytes += (size_t)(le - ls) + 1;
  }
  if (in->nlines == 0) {
    SrcLoc loc = {&in->sf, 0, 0};
    diag_error(d, loc, "the corpus file is empty");
    errors++;
  }
  return errors;
}

static int check_spec(const CorpusSpec *spec, Diag *d) {
  if (!spec->tsv == !(spec->files && spec->nfiles > 0)) {
    diag_plain(d, "a corpus is either one TSV file or a list of aligned files");
    return 0;
  }
  if (spec->files && (spec->nfiles > CORPUS_MAX_COLS)) {
    diag_plain(d, "a corpus has at most %d aligned files, not %d", CORPUS_MAX_COLS, spec->nfiles);
    return 0;
  }
  if (spec->ncols < 0 || spec->ncols > CORPUS_MAX_COLS) {
    diag_plain(d, "a corpus has 1 to %d columns, not %d", CORPUS_MAX_COLS, spec->ncols);
    return 0;
  }
  int64_t stride = spec->stride ? spec->stride : 1;
  if (stride < 1 || spec->offset < 0 || spec->offset >= stride) {
    diag_plain(d, "corpus stride %lld and offset %lld: need stride >= 1 and 0 <= offset < stride",
               (long long)spec->stride, (long long)spec->offset);
    return 0;
  }
  return 1;
}

int corpus_load(Corpus *c, Arena *a, Diag *d, const CorpusSpec *spec) {
  memset(c, 0, sizeof *c);
  if (!check_spec(spec, d)) return -1;
  int64_t stride = spec->stride ? spec->stride : 1, offset = spec->offset;
  int tsv = spec->tsv != NULL;
  int nfiles = tsv ? 1 : spec->nfiles;
  int ncols = tsv ? spec->ncols : nfiles;
  InFile in[CORPUS_MAX_COLS];
  int nread = 0, errors = 0, rc = -1;
  for (int k = 0; k < nfiles; k++) {
    const char *path = tsv ? spec->tsv : spec->files[k];
    if (!read_file(&in[nread], path, d)) {
      errors++;
      continue;
    }
    errors += scan_file(&in[nread++], tsv, &ncols, stride, offset, d);
  }
  if (errors) goto done;
  if (tsv && ncols > CORPUS_MAX_COLS) {
    diag_plain(d, "'%s' has %d columns; a corpus has at most %d", spec->tsv, ncols,
               CORPUS_MAX_COLS);
    goto done;
  }
  for (int k = 1; k < nfiles; k++) {
    if (in[k].nlines == in[0].nlines) continue;
    const InFile *lo = in[k].nlines < in[0].nlines ? &in[k] : &in[0];
    const InFile *hi = lo == &in[k] ? &in[0] : &in[k];
    SrcLoc loc = {&hi->sf, (int)lo->nlines + 1, 1};
    diag_error(d, loc,
               "line %lld has no counterpart: '%s' has only %lld lines (aligned files "
               "must have the same number of lines)",
               (long long)lo->nlines + 1, lo->sf.name, (long long)lo->nlines);
    errors++;
  }
  if (errors) goto done;
  int64_t nlines = in[0].nlines, n = nlines > offset ? (nlines - offset + stride - 1) / stride : 0;
  if (n == 0) {
    diag_plain(d, "stride %lld and offset %lld keep no line of '%s' (%lld lines)",
               (long long)stride, (long long)offset, in[0].sf.name, (long long)nlines);
    goto done;
  }
  size_t bytes = 0;
  for (int k = 0; k < nfiles; k++) bytes += in[k].kept_bytes;
  char *text = arena_alloc(a, bytes);
  uint64_t *off = ARENA_ARRAY(a, uint64_t, (size_t)(n * ncols + 1));
  if (!text || !off) {
    diag_plain(d, "out of memory loading the corpus '%s'", in[0].sf.name);
    goto done;
  }
  size_t pos[CORPUS_MAX_COLS] = {0}, o = 0;
  int64_t k = 0;
  for (int64_t i = 0; i < nlines; i++) {
    int keep = i % stride == offset;
    for (int f = 0; f < nfiles; f++) {
      const char *start, *ls, *le;
      next_line(&in[f].sf, &pos[f], &start, &ls, &le);
      if (!keep) continue;
      off[k++] = o;
      for (const char *p = ls; p < le; p++) {
        if (*p == '\t' && tsv) {
          text[o++] = 0;
          off[k++] = o;
        } else {
          text[o++] = *p;
        }
      }
      text[o++] = 0;
    }
  }
  off[k] = o;
  if (o != bytes || k != n * ncols) die("corpus: copied %zu of %zu bytes", o, bytes);
  *c = (Corpus){ncols, n, nlines, stride, offset, text, off};
  rc = 0;
done:
  for (int f = 0; f < nread; f++) free(in[f].buf);
  return rc;
}

void corpus_column(const Corpus *c, int col, const char **lines, size_t *lens) {
  for (int64_t i = 0; i < c->n; i++) lines[i] = corpus_field(c, i, col, &lens[i]);
}
