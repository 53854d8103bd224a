/* test_tokenizer.c — unit tests of the tokenizers: byte-level ids, pre-splitting, BPE
 * training on a multilingual fixture (against a naive full-recount trainer, round trips,
 * compression), and the file format (save/load gives identical encodings; malformed files
 * report file:line:col). argv[1]: a scratch directory for the saved file. */
#include "rng.h"
#include "test.h"
#include "test_util.h"
#include "tokenizer_internal.h"

static const char *scratch_dir = ".";

static int round_trips(Tokenizer *t, const char *s, size_t len, int64_t *ntok) {
  int32_t *ids = malloc((len + 1) * sizeof *ids);
  int64_t n = tokenizer_encode(t, s, len, ids);
  StrBuf b;
  sb_init(&b);
  size_t bad = tokenizer_decode(t, ids, (size_t)n, &b);
  int ok = n >= 0 && bad == 0 && b.len == len && (len == 0 || memcmp(b.s, s, len) == 0);
  if (ntok) *ntok = n;
  sb_free(&b);
  free(ids);
  return ok;
}

static void test_byte(void) {
  Tokenizer *t = tokenizer_byte();
  CHECK(tokenizer_vocab_size(t) == 260 && tokenizer_kind(t) == TOKENIZER_BYTE);
  int32_t ids[4];
  CHECK(tokenizer_encode(t, "A\xff\x00", 3, ids) == 3);
  CHECK(ids[0] == 4 + 'A' && ids[1] == 4 + 255 && ids[2] == 4);
  size_t len;
  CHECK(tokenizer_piece(t, TOK_PAD, &len) == NULL && tokenizer_piece(t, 260, &len) == NULL);
  CHECK(tokenizer_piece(t, 4 + 'z', &len)[0] == 'z' && len == 1);
  int32_t mixed[] = {TOK_BOS, 4 + 'h', 4 + 'i', TOK_EOS, TOK_PAD, TOK_UNK, 9999};
  StrBuf b;
  sb_init(&b);
  CHECK(tokenizer_decode(t, mixed, 7, &b) == 2);
  CHECK_STR(b.s, "hi\xEF\xBF\xBD\xEF\xBF\xBD");
  sb_free(&b);
  const char *raw = "\xC3(\x80 invalid UTF-8 too";
  CHECK(round_trips(t, raw, strlen(raw), NULL));
  StrBuf w;
  sb_init(&w);
  tokenizer_write(t, &w);
  CHECK_STR(w.s, "mamc-byte v1\n");
  sb_free(&w);
  tokenizer_free(t);
}

static void test_presplit(void) {
  const char *s = "a  b\tc\n d";
  size_t len = strlen(s), pos = 0;
  const char *want[] = {"a", " ", " b", "\tc", "\n", " d"};
  int k = 0;
  while (pos < len && k < 6) {
    size_t end = tokenizer_next_word(s, len, pos);
    CHECK_MSG(end - pos == strlen(want[k]) && memcmp(s + pos, want[k], end - pos) == 0, "word %d",
              k);
    pos = end;
    k++;
  }
  CHECK(k == 6 && pos == len);
}

/* ---- a naive reference trainer: full recount per merge ---------------------------------- */

typedef struct NaiveWord {
  int32_t *s;
  int len;
  long count;
} NaiveWord;

typedef struct Occ {
  int32_t a, b;
  long count;
} Occ;

static int cmp_occ(const void *x, const void *y) {
  const Occ *p = x, *q = y;
  return p->a != q->a ? (p->a < q->a ? -1 : 1) : p->b != q->b ? (p->b < q->b ? -1 : 1) : 0;
}

/* Returns the merges (left, right, out) of naive training; *nm their number, *vocab. */
static BpeMerge *naive_train(const char **lines, const size_t *lens, int nlines, int size, int *nm,
                             int *vocab) {
  NaiveWord *w = calloc(20000, sizeof *w);
  char **wtext = calloc(20000, sizeof *wtext);
  int nw = 0;
  for (int l = 0; l < nlines; l++) {
    for (size_t pos = 0, end; pos < lens[l]; pos = end) {
      end = tokenizer_next_word(lines[l], lens[l], pos);
      int n = (int)(end - pos), k;
      if (n < 2) continue;
      for (k = 0; k < nw; k++)
        if (w[k].len == n && memcmp(wtext[k], lines[l] + pos, (size_t)n) == 0) break;
      if (k == nw) {
        wtext[nw] = malloc((size_t)n);
        memcpy(wtext[nw], lines[l] + pos, (size_t)n);
        w[nw].s = malloc(sizeof(int32_t) * (size_t)n);
        for (int i = 0; i < n; i++) w[nw].s[i] = 4 + (unsigned char)lines[l][pos + (size_t)i];
        w[nw++].len = n;
      }
      w[k].count++;
    }
  }
  char **piece = calloc((size_t)size, sizeof *piece);
  int *plen = calloc((size_t)size, sizeof *plen);
  for (int b = 0; b < 256; b++) {
    piece[4 + b] = malloc(1);
    piece[4 + b][0] = (char)b;
    plen[4 + b] = 1;
  }
  int v = 260;
  BpeMerge *merges = malloc(sizeof *merges * (size_t)size * 2);
  int m = 0;
  Occ *occ = malloc(sizeof *occ * 200000);
  while (v < size) {
    int no = 0;
    for (int k = 0; k < nw; k++)
      for (int i = 0; i + 1 < w[k].len; i++)
        occ[no++] = (Occ){w[k].s[i], w[k].s[i + 1], w[k].count};
    qsort(occ, (size_t)no, sizeof *occ, cmp_occ);
    Occ best = {0, 0, 0};
    for (int i = 0; i < no;) {
      Occ acc = occ[i++];
      while (i < no && occ[i].a == acc.a && occ[i].b == acc.b) acc.count += occ[i++].count;
      if (acc.count > best.count) best = acc; /* ascending (a, b): ties keep the smallest */
    }
    if (best.count < 2) break;
    int la = plen[best.a], lb = plen[best.b], out = -1;
    char *cat = malloc((size_t)(la + lb));
    memcpy(cat, piece[best.a], (size_t)la);
    memcpy(cat + la, piece[best.b], (size_t)lb);
    for (int id = 4; id < v; id++)
      if (plen[id] == la + lb && memcmp(piece[id], cat, (size_t)(la + lb)) == 0) out = id;
    if (out < 0) {
      out = v++;
      piece[out] = cat;
      plen[out] = la + lb;
    } else {
      free(cat);
    }
    merges[m++] = (BpeMerge){best.a, best.b, out};
    for (int k = 0; k < nw; k++) {
      int j = 0;
      for (int i = 0; i < w[k].len; i++) {
        if (i + 1 < w[k].len && w[k].s[i] == best.a && w[k].s[i + 1] == best.b) {
          w[k].s[j++] = out;
          i++;
        } else {
          w[k].s[j++] = w[k].s[i];
        }
      }
      w[k].len = j;
    }
  }
  for (int k = 0; k < nw; k++) free(w[k].s), free(wtext[k]);
  for (int id = 0; id < v; id++) free(piece[id]);
  free(w), free(wtext), free(piece), free(plen), free(occ);
  *nm = m;
  *vocab = v;
  return merges;
}

/* ---- BPE training ------------------------------------------------------------------------ */

static void test_bpe(const char **lines, const size_t *lens, int n) {
  Diag d;
  diag_init(&d);
  CHECK(bpe_train(lines, lens, (size_t)n, 100, NULL, &d) == NULL);
  CHECK_STR(
      d.out.s,
      "error: BPE vocabulary size 100 is out of range: it must be between 260 and 16777216\n");
  diag_free(&d);
  diag_init(&d);

  /* the incremental trainer learns exactly the merges of a full recount */
  Tokenizer *t = bpe_train(lines, lens, (size_t)n, 700, NULL, &d);
  CHECK(t && d.nerrors == 0);
  if (!t) return;
  int nm, vocab;
  BpeMerge *ref = naive_train(lines, lens, n, 700, &nm, &vocab);
  CHECK_MSG(t->nmerges == nm && t->vocab == vocab, "merges %d vs %d, vocab %d vs %d", t->nmerges,
            nm, t->vocab, vocab);
  int same = 0;
  while (same < nm && same < t->nmerges && t->merges[same].left == ref[same].left &&
         t->merges[same].right == ref[same].right && t->merges[same].out == ref[same].out)
    same++;
  CHECK_MSG(same == nm, "first difference at merge %d of %d", same, nm);
  free(ref);
  CHECK(tokenizer_vocab_size(t) == 700); /* the fixture has enough pairs seen twice */
  tokenizer_free(t);

  t = bpe_train(lines, lens, (size_t)n, 1200, NULL, &d);
  CHECK(t && tokenizer_kind(t) == TOKENIZER_BPE);
  if (!t) return;
  int64_t bytes = 0, toks = 0;
  for (int i = 0; i < n; i++) {
    int64_t k;
    CHECK_MSG(round_trips(t, lines[i], lens[i], &k), "line %d: %s", i + 1, lines[i]);
    CHECK(k <= (int64_t)lens[i]);
    bytes += (int64_t)lens[i];
    toks += k;
  }
  printf("BPE 1200 on the fixture: %lld bytes -> %lld tokens (%.2f bytes/token)\n",
         (long long)bytes, (long long)toks, (double)bytes / (double)toks);
  CHECK(toks * 5 < bytes * 2); /* a vocabulary fitted to the text: over 2.5 bytes per token */
  /* text it never saw, and bytes that are not UTF-8, still round-trip */
  const char *unseen[] = {"Zebras quietly judge poorly wrapped fax machines.",
                          "Ça va ? Très bien, merci !",
                          "Съешь же ещё этих мягких французских булок.",
                          "色は匂へど散りぬるを",
                          "\xff\xfe\x80 broken \xC3",
                          "   leading and trailing   ",
                          ""};
  for (int i = 0; i < COUNT_OF(unseen); i++)
    CHECK(round_trips(t, unseen[i], strlen(unseen[i]), NULL));
  /* random bytes, biased toward spaces and the fixture's lead bytes */
  int random_ok = 1;
  for (uint64_t k = 0; k < 300; k++) {
    char buf[400];
    size_t len = (size_t)(rng_u64(k, 0) % sizeof buf);
    for (size_t i = 0; i < len; i++) {
      uint64_t r = rng_u64(k, i + 1);
      buf[i] = (char)(r % 4 == 0 ? ' ' : r % 4 == 1 ? lines[r % (uint64_t)n][0] : (char)(r >> 8));
    }
    random_ok &= round_trips(t, buf, len, NULL);
  }
  CHECK(random_ok);
  /* the cache gives the same ids as a fresh encoding */
  int32_t a[256], b[256];
  int64_t na = tokenizer_encode(t, lines[3], lens[3], a),
          nb = tokenizer_encode(t, lines[3], lens[3], b);
  CHECK(na == nb && memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);

  /* save, load: the same file text and the same encodings */
  char path[1024];
  snprintf(path, sizeof path, "%s/test_data_bpe.txt", scratch_dir);
  CHECK(tokenizer_save(t, path, &d) == 0);
  Tokenizer *u = tokenizer_load(path, &d);
  CHECK(u && d.nerrors == 0);
  if (u) {
    CHECK(tokenizer_vocab_size(u) == tokenizer_vocab_size(t));
    StrBuf w1, w2;
    sb_init(&w1);
    sb_init(&w2);
    tokenizer_write(t, &w1);
    tokenizer_write(u, &w2);
    CHECK(w1.len == w2.len && memcmp(w1.s, w2.s, w1.len) == 0);
    CHECK(strncmp(w1.s, "mamc-bpe v1 size 1200\n", 22) == 0);
    sb_free(&w1);
    sb_free(&w2);
    int32_t *x = malloc(4096 * sizeof *x), *y = malloc(4096 * sizeof *y);
    int diff = 0;
    for (int i = 0; i < n; i++) {
      int64_t nx = tokenizer_encode(t, lines[i], lens[i], x),
              ny = tokenizer_encode(u, lines[i], lens[i], y);
      diff += nx != ny || memcmp(x, y, sizeof *x * (size_t)nx) != 0;
    }
    CHECK(diff == 0);
    free(x);
    free(y);
    tokenizer_free(u);
  }
  tokenizer_free(t);
  diag_free(&d);
}

/* ---- the file format --------------------------------------------------------------------- */

static Tokenizer *parse(const char *text, Diag *d) {
  Arena a;
  arena_init(&a);
  SrcFile *f = srcfile_from_string(&a, "bad.bpe", text);
  Tokenizer *t = tokenizer_parse(f, d);
  arena_free(&a);
  return t;
}

static void test_format(void) {
  Diag d;
  diag_init(&d);
  /* escapes, raw UTF-8, and a merge whose result already exists ("a"+"bc" = "ab"+"c") */
  const char *text = "mamc-bpe v1 size 266\n"
                     "\"\\xC3\" \"\\xA9\"\n"
                     "\"é\" \"\\x00\"\n"
                     "\"\\\"\" \"\\\\\"\n"
                     "\n"
                     "\"a\" \"b\"\r\n"
                     "\"ab\" \"c\"\n"
                     "\"b\"\t\"c\"\n"
                     "\"a\" \"bc\"\n";
  Tokenizer *t = parse(text, &d);
  CHECK(t && d.nerrors == 0);
  if (!t) return;
  CHECK(tokenizer_vocab_size(t) == 266 && tokenizer_num_merges(t) == 7);
  int32_t ids[16];
  CHECK(tokenizer_encode(t, "\xC3\xA9\x00", 3, ids) == 1 && ids[0] == 261);
  CHECK(tokenizer_encode(t, "abc", 3, ids) == 1 && ids[0] == 264);
  CHECK(tokenizer_encode(t, "\"\\", 2, ids) == 1 && ids[0] == 262);
  const char *mix = "abc abcabc \"\\ é\xC3";
  CHECK(round_trips(t, mix, strlen(mix), NULL));
  StrBuf w;
  sb_init(&w);
  tokenizer_write(t, &w);
  CHECK_STR(w.s, "mamc-bpe v1 size 266\n\"\\xC3\" \"\\xA9\"\n\"é\" \"\\x00\"\n\"\\\"\" \"\\\\\"\n"
                 "\"a\" \"b\"\n\"ab\" \"c\"\n\"b\" \"c\"\n\"a\" \"bc\"\n");
  sb_free(&w);
  tokenizer_free(t);
  t = parse("mamc-byte v1\n", &d);
  CHECK(t && tokenizer_kind(t) == TOKENIZER_BYTE);
  tokenizer_free(t);

  static const struct {
    const char *text, *err;
  } bad[] = {
      {"hello\n", "bad.bpe:1:1: error: not a mamc tokenizer file: expected 'mamc-bpe v1 size N' or "
                  "'mamc-byte v1'\n  hello\n  ^\n"},
      {"mamc-bpe v2 size 300\n",
       "bad.bpe:1:11: error: expected ' v1'\n  mamc-bpe v2 size 300\n            ^\n"},
      {"mamc-bpe v1 size 12\n",
       "bad.bpe:1:18: error: expected the vocabulary size, a number from 260 "
       "to 16777216\n  mamc-bpe v1 size 12\n                   ^\n"},
      {"mamc-bpe v1 size 261\n\"a\" \"b\"\n\"ab\" c\n",
       "bad.bpe:3:6: error: expected '\"' to start the right part of a merge\n"
       "  \"ab\" c\n       ^\n"},
      {"mamc-bpe v1 size 261\n\"a\" \"b\n",
       "bad.bpe:2:5: error: unterminated string: missing closing "
       "'\"'\n  \"a\" \"b\n      ^\n"},
      {"mamc-bpe v1 size 261\n\"\\q\" \"b\"\n",
       "bad.bpe:2:2: error: invalid escape: use \\\", \\\\ or "
       "\\xNN with two hex digits\n  \"\\q\" \"b\"\n   ^\n"},
      {"mamc-bpe v1 size 261\n\"ab\" \"c\"\n",
       "bad.bpe:2:1: error: the left part is not a piece defined "
       "by an earlier line\n  \"ab\" \"c\"\n  ^\n"},
      {"mamc-bpe v1 size 261\n\"a\" \"bc\"\n",
       "bad.bpe:2:5: error: the right part is not a piece defined "
       "by an earlier line\n  \"a\" \"bc\"\n      ^\n"},
      {"mamc-bpe v1 size 261\n\"a\" \"b\" x\n",
       "bad.bpe:2:9: error: unexpected text after the merge\n"
       "  \"a\" \"b\" x\n          ^\n"},
      {"mamc-bpe v1 size 261\n\"a\"\"b\"\n",
       "bad.bpe:2:4: error: expected a space between the two parts "
       "of a merge\n  \"a\"\"b\"\n     ^\n"},
      {"mamc-bpe v1 size 261\n\"\" \"b\"\n",
       "bad.bpe:2:1: error: empty left part: every part is a piece "
       "of at least one byte\n  \"\" \"b\"\n  ^\n"},
      {"mamc-bpe v1 size 262\n\"a\" \"b\"\n",
       "bad.bpe:1:18: error: the header says size 262 but the "
       "merges define 261 ids\n  mamc-bpe v1 size 262\n                   ^\n"},
      {"mamc-byte v1\n\n x\n",
       "bad.bpe:3:2: error: unexpected text after 'mamc-byte v1'\n   x\n   ^\n"},
  };
  for (int i = 0; i < COUNT_OF(bad); i++) {
    Diag e;
    diag_init(&e);
    Tokenizer *x = parse(bad[i].text, &e);
    CHECK_MSG(x == NULL && e.nerrors == 1, "case %d", i);
    CHECK_STR(e.out.s, bad[i].err);
    tokenizer_free(x);
    diag_free(&e);
  }
  Diag e;
  diag_init(&e);
  CHECK(tokenizer_load("tests/data/fixtures/no-such.bpe", &e) == NULL);
  CHECK_STR(e.out.s,
            "error: cannot open 'tests/data/fixtures/no-such.bpe': No such file or directory\n");
  diag_free(&e);
  diag_free(&d);
}

int main(int argc, char **argv) {
  if (argc > 1) scratch_dir = argv[1];
  test_byte();
  test_presplit();
  char *store = NULL;
  const char **lines = NULL;
  size_t *lens = NULL;
  int n = read_lines(FIXTURES "multilingual.txt", &store, &lines, &lens);
  CHECK(n == 200);
  if (n > 0) test_bpe(lines, lens, n);
  free(store);
  free(lines);
  free(lens);
  test_format();
  return test_done();
}
