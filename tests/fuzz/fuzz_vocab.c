/* fuzz_vocab.c — fuzz harness for the tokenizer / vocabulary file loader
 * (runtime/data/bpe_file.c, tokenizer.c). Properties of a file that loads: writing it back
 * and loading that gives the same text; decode(encode(s)) == s for a fixed text and for the
 * file's own bytes; every id the encoder makes is inside the vocabulary.
 */
#include "fuzz.h"

#include "tokenizer.h"

static void check_codec(Tokenizer *t, const char *s, size_t len) {
  int32_t *ids = malloc(sizeof(int32_t) * (len ? len : 1));
  if (!ids) return;
  int64_t n = tokenizer_encode(t, s, len, ids);
  if (n >= 0) {
    for (int64_t i = 0; i < n; i++)
      FUZZ_ASSERT(ids[i] >= TOK_BYTE_BASE && ids[i] < tokenizer_vocab_size(t), "id %d out of range", (int)ids[i]);
    StrBuf out;
    sb_init(&out);
    size_t unk = tokenizer_decode(t, ids, (size_t)n, &out);
    FUZZ_ASSERT(unk == 0 && out.len == len && (len == 0 || memcmp(out.s, s, len) == 0),
                "decode(encode(s)) != s (%zu bytes)", len);
    sb_free(&out);
  }
  free(ids);
}

int fuzz_vocab(const uint8_t *data, size_t size) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = fuzz_srcfile(&a, "fuzz.bpe", data, size);
  Tokenizer *t = src ? tokenizer_parse(src, &d) : NULL;
  if (t) {
    static const char text[] = "The quick brown fox -- der schnelle braune Fuchs, le renard brun rapide.\n\t\xc3\xa9t\xc3\xa9";
    check_codec(t, text, sizeof text - 1);
    check_codec(t, (const char *)data, size);
    StrBuf b1, b2;
    sb_init(&b1);
    sb_init(&b2);
    tokenizer_write(t, &b1);
    SrcFile *f2 = srcfile_from_string(&a, "written.bpe", fuzz_text(&b1));
    Diag d2;
    diag_init(&d2);
    Tokenizer *t2 = tokenizer_parse(f2, &d2);
    FUZZ_ASSERT(t2, "the written tokenizer does not load:\n%s", fuzz_text(&d2.out));
    FUZZ_ASSERT(tokenizer_vocab_size(t2) == tokenizer_vocab_size(t), "vocabulary size changed");
    tokenizer_write(t2, &b2);
    FUZZ_ASSERT(strcmp(fuzz_text(&b1), fuzz_text(&b2)) == 0, "write(load(write(t))) != write(t)");
    tokenizer_free(t2);
    diag_free(&d2);
    sb_free(&b1);
    sb_free(&b2);
    tokenizer_free(t);
  }
  diag_free(&d);
  arena_free(&a);
  return 0;
}

FUZZ_TARGET(fuzz_vocab)
