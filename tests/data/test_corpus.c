/* test_corpus.c — unit tests of the corpus reader: TSV and aligned files, stride/offset,
 * BOM/CRLF handling, and every error case with its exact `file:line:col` message (and
 * nothing loaded on failure). Runs from the repository root (fixture paths are relative). */
#include "corpus.h"
#include "test.h"

#define FX "tests/data/fixtures/"

static void test_tsv(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Corpus c;
  CorpusSpec spec = {.tsv = FX "en-de.tsv"};
  CHECK(corpus_load(&c, &a, &d, &spec) == 0 && d.nerrors == 0);
  CHECK(c.n == 32 && c.ncols == 2 && c.nlines == 32);
  size_t len;
  CHECK_STR(corpus_field(&c, 0, 0, &len), "The sun rises over the quiet harbour every morning.");
  CHECK(len == strlen("The sun rises over the quiet harbour every morning."));
  CHECK_STR(corpus_field(&c, 0, 1, NULL),
            "Die Sonne geht jeden Morgen über dem stillen Hafen auf.");
  CHECK_STR(corpus_field(&c, 31, 1, &len),
            "Ihre Katze schläft auf den warmen Steinen neben dem Feuer.");
  CHECK(len == strlen("Ihre Katze schläft auf den warmen Steinen neben dem Feuer."));
  CHECK(corpus_line_of(&c, 31) == 32);
  /* one text block: fields are consecutive, each NUL-terminated */
  CHECK(c.off[0] == 0 && c.off[1] == c.off[0] + strlen(corpus_field(&c, 0, 0, NULL)) + 1);
  const char *lines[32];
  size_t lens[32];
  corpus_column(&c, 1, lines, lens);
  CHECK(lines[5] == corpus_field(&c, 5, 1, NULL) && lens[5] == strlen(lines[5]));

  /* stride/offset: keep lines 1, 4, 7, ... (0-based) */
  spec.stride = 3;
  spec.offset = 1;
  CHECK(corpus_load(&c, &a, &d, &spec) == 0);
  CHECK(c.n == 11 && c.nlines == 32);
  CHECK_STR(corpus_field(&c, 0, 0, NULL), "My grandmother keeps a small garden behind her house.");
  CHECK(corpus_line_of(&c, 0) == 2 && corpus_line_of(&c, 10) == 32);
  CHECK_STR(corpus_field(&c, 10, 0, NULL), "Her cat sleeps on the warm stones beside the fire.");

  /* a byte order mark, CRLF line ends, no final newline */
  CorpusSpec crlf = {.tsv = FX "crlf_bom.tsv", .ncols = 2};
  CHECK(corpus_load(&c, &a, &d, &crlf) == 0);
  CHECK(c.n == 3);
  CHECK_STR(corpus_field(&c, 0, 0, NULL), "one");
  CHECK_STR(corpus_field(&c, 1, 1, NULL), "zwei");
  CHECK_STR(corpus_field(&c, 2, 1, NULL), "drei");
  CHECK(d.nerrors == 0);
  diag_free(&d);
  arena_free(&a);
}

static void test_aligned(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Corpus c;
  const char *files[] = {FX "en-fr.en", FX "en-fr.fr"};
  CorpusSpec spec = {.files = files, .nfiles = 2};
  CHECK(corpus_load(&c, &a, &d, &spec) == 0 && d.nerrors == 0);
  CHECK(c.n == 32 && c.ncols == 2);
  CHECK_STR(corpus_field(&c, 2, 0, NULL),
            "We walked along the river until the lights of the town appeared.");
  CHECK_STR(corpus_field(&c, 2, 1, NULL),
            "Nous avons marché le long de la rivière jusqu'aux lumières de la ville.");
  spec.stride = 2;
  spec.offset = 0;
  CHECK(corpus_load(&c, &a, &d, &spec) == 0);
  CHECK(c.n == 16);
  CHECK_STR(corpus_field(&c, 1, 1, NULL),
            "Nous avons marché le long de la rivière jusqu'aux lumières de la ville.");
  diag_free(&d);
  arena_free(&a);
}

/* Load spec, expect failure with exactly `want` as the diagnostics and nothing loaded. */
static void expect_error(CorpusSpec spec, const char *want, int nerrors) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Corpus c;
  c.n = 99;
  CHECK(corpus_load(&c, &a, &d, &spec) == -1);
  CHECK(c.n == 0 && c.text == NULL && c.off == NULL && a.used_total == 0);
  CHECK_MSG(d.nerrors == nerrors, "%d errors, expected %d", d.nerrors, nerrors);
  CHECK_STR(d.out.s, want);
  diag_free(&d);
  arena_free(&a);
}

static void test_errors(void) {
  expect_error((CorpusSpec){.tsv = FX "missing.tsv"},
               "error: cannot open '" FX "missing.tsv': No such file or directory\n", 1);
  expect_error((CorpusSpec){.tsv = FX "bad_utf8.tsv"},
               FX "bad_utf8.tsv:2:4: error: invalid UTF-8 (byte 0xC3)\n"
                  "  Caf\xC3( Caf\xC3\xA9\n"
                  "     ^\n" FX "bad_utf8.tsv:3:8: error: invalid UTF-8 (byte 0x80)\n"
                  "  ok bad \x80 x\n"
                  "         ^\n",
               2);
  expect_error((CorpusSpec){.tsv = FX "empty_field.tsv"},
               FX "empty_field.tsv:2:1: error: empty field 1\n   b\n  ^\n" FX
                  "empty_field.tsv:3:3: error: empty field 2\n  a \n    ^\n" FX
                  "empty_field.tsv:4:1: error: empty line: every example needs a non-empty text in "
                  "every field\n  \n  ^\n",
               3);
  expect_error((CorpusSpec){.tsv = FX "columns.tsv"},
               FX "columns.tsv:2:4: error: too many fields: expected 2 tab-separated fields\n"
                  "  a b c\n     ^\n" FX
                  "columns.tsv:3:2: error: expected 2 tab-separated fields, found 1\n  a\n   ^\n",
               2);
  expect_error((CorpusSpec){.tsv = FX "en-de.tsv", .stride = 40, .offset = 35},
               "error: stride 40 and offset 35 keep no line of '" FX "en-de.tsv' (32 lines)\n", 1);
  expect_error((CorpusSpec){.tsv = FX "en-de.tsv", .stride = 2, .offset = 2},
               "error: corpus stride 2 and offset 2: need stride >= 1 and 0 <= offset < stride\n",
               1);
  const char *files[] = {FX "aligned.en", FX "aligned_short.de"};
  expect_error((CorpusSpec){.files = files, .nfiles = 2},
               FX "aligned.en:3:1: error: line 3 has no counterpart: '" FX "aligned_short.de' has "
                  "only 2 lines (aligned files must have the same number of lines)\n  three\n  ^\n",
               1);
  const char *swapped[] = {FX "aligned_short.de", FX "aligned.en"};
  expect_error((CorpusSpec){.files = swapped, .nfiles = 2},
               FX "aligned.en:3:1: error: line 3 has no counterpart: '" FX "aligned_short.de' has "
                  "only 2 lines (aligned files must have the same number of lines)\n  three\n  ^\n",
               1);
  const char *missing[] = {FX "aligned.en", FX "nope.de"};
  expect_error((CorpusSpec){.files = missing, .nfiles = 2},
               "error: cannot open '" FX "nope.de': No such file or directory\n", 1);
  const char *empty[] = {FX "empty.txt"};
  expect_error((CorpusSpec){.files = empty, .nfiles = 1},
               FX "empty.txt: error: the corpus file is empty\n", 1);
  expect_error((CorpusSpec){0},
               "error: a corpus is either one TSV file or a list of aligned files\n", 1);

  /* a NUL byte: the caret line holds the NUL itself, so compare up to it */
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Corpus c;
  const char *nul[] = {FX "nul.txt"};
  CHECK(corpus_load(&c, &a, &d, &(CorpusSpec){.files = nul, .nfiles = 1}) == -1);
  const char *want = FX "nul.txt:1:3: error: NUL byte in the text\n  ab";
  CHECK(d.nerrors == 1 && d.out.len > strlen(want) && memcmp(d.out.s, want, strlen(want)) == 0);
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  test_tsv();
  test_aligned();
  test_errors();
  return test_done();
}
