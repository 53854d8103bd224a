/* corpus.h — a parallel corpus for one task: N aligned columns of sentences, read from one
 * TSV file (`src<TAB>tgt[<TAB>...]`) or from N line-aligned files (one column each).
 *
 * stride/offset keep line i (0-based) iff i % stride == offset: MAMMOTH's way of splitting a
 * large pair into several copies placed on different processes.
 *
 * Every line is validated (also lines that stride skips, so every copy fails alike), each
 * problem reported as `file:line:col: error: ...` with the source line and a caret:
 * invalid UTF-8 (column of the first byte of the bad sequence), a NUL byte, a wrong number
 * of fields (TSV), an empty field, aligned files of different lengths; a missing file as
 * `error: cannot open 'path': ...`. On any error nothing is loaded: the Corpus stays empty
 * and the arena is not touched. A UTF-8 byte order mark at the start of a file and a '\r'
 * before each '\n' are ignored.
 *
 * Storage: one arena block holds every kept field, NUL-terminated, example after example
 * (field f of example i starts at off[i * ncols + f]; off has n * ncols + 1 entries).
 */
#ifndef MAMC_DATA_CORPUS_H
#define MAMC_DATA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "support.h"

enum { CORPUS_MAX_COLS = 16 };

typedef struct CorpusSpec {
  const char *tsv;          /* a TSV file ... */
  const char *const *files; /* ... or nfiles line-aligned files, one column each */
  int nfiles;
  int ncols;              /* TSV: the number of fields; 0 = as many as the first line has */
  int64_t stride, offset; /* keep line i iff i % stride == offset; stride 0 means 1 */
} CorpusSpec;

typedef struct Corpus {
  int ncols;
  int64_t n;      /* examples kept */
  int64_t nlines; /* lines read, before stride/offset */
  int64_t stride, offset;
  const char *text;    /* every kept field, NUL-terminated */
  const uint64_t *off; /* [n * ncols + 1] */
} Corpus;

/* Load a corpus into `a`. Returns 0, or -1 with the errors in d (and *c zeroed). */
int corpus_load(Corpus *c, Arena *a, Diag *d, const CorpusSpec *spec);

/* Field `col` of example i, NUL-terminated; its byte length in *len when len is not NULL. */
static inline const char *corpus_field(const Corpus *c, int64_t i, int col, size_t *len) {
  int64_t k = i * c->ncols + col;
  if (len) *len = (size_t)(c->off[k + 1] - c->off[k] - 1);
  return c->text + c->off[k];
}

/* The 1-based line of example i in its file(s). */
static inline int64_t corpus_line_of(const Corpus *c, int64_t i) {
  return c->offset + i * c->stride + 1;
}

/* Every sentence of column `col`, for bpe_train: lines[i] and lens[i] for i < c->n. */
void corpus_column(const Corpus *c, int col, const char **lines, size_t *lens);

#endif
