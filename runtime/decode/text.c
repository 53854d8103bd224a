/* text.c — translating lines of text (runtime/decode.h: dec_translate_text): tokenise with
 * the source vocabulary (tokens + </s>, as the training data), decode in batches of sentences
 * of similar length (sorted by source length, so little padding), and write each hypothesis
 * back as text with the target vocabulary.
 *
 * Output text is one line of valid UTF-8: byte-level models can produce any byte sequence,
 * so invalid sequences become U+FFFD and line breaks (\n, \r) become spaces; a line of output
 * per line of input always holds.
 */
#include <stdlib.h>

#include "../data/tokenizer.h"
#include "../data/utf8.h"
#include "decode_internal.h"

/* UTF-8 text of ids, as one line. malloc'd; NULL when out of memory. */
static char *detok(const Tokenizer *tok, const int32_t *ids, int n) {
  StrBuf raw, out;
  sb_init(&raw);
  sb_init(&out);
  tokenizer_decode(tok, ids, (size_t)n, &raw);
  const unsigned char *s = (const unsigned char *)(raw.s ? raw.s : "");
  for (size_t i = 0; i < raw.len;) {
    int k = utf8_seq_len(s + i, raw.len - i);
    if (k == 0) {
      sb_puts(&out, "\xEF\xBF\xBD");
      i++;
    } else if (k == 1 && (s[i] == '\n' || s[i] == '\r')) {
      sb_putc(&out, ' ');
      i++;
    } else {
      sb_putn(&out, (const char *)s + i, (size_t)k);
      i += (size_t)k;
    }
  }
  int failed = raw.failed || out.failed;
  sb_free(&raw);
  if (failed) {
    sb_free(&out);
    return NULL;
  }
  return out.s ? out.s : strdup("");
}

typedef struct Line {
  int32_t *ids;
  int len, index;
} Line;

static int by_length(const void *a, const void *b) {
  const Line *x = a, *y = b;
  return x->len != y->len ? x->len - y->len : x->index - y->index;
}

/* Decodes lines ln[0..n) (sorted) as one batch into out (n * nbest, by line index). */
static int run_batch(Decoder *d, const Tokenizer *tgt, const Line *ln, int n, int nbest, const DecodeOpts *o,
                     DecTextHyp *out, char *err, size_t errlen) {
  int S = 1;
  for (int i = 0; i < n; i++) S = ln[i].len > S ? ln[i].len : S;
  int32_t *src = calloc((size_t)n * (size_t)S, sizeof(int32_t));
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
  DecSentence *res = calloc((size_t)n, sizeof(DecSentence));
  int ok = src && ids && res;
  if (!ok) snprintf(err, errlen, "out of memory");
  for (int i = 0; ok && i < n; i++) {
    memcpy(src + (size_t)i * S, ln[i].ids, sizeof(int32_t) * (size_t)ln[i].len);
    ids[i] = ln[i].index;
  }
  ok = ok && decoder_translate(d, src, n, S, ids, o, res, err, errlen);
  for (int i = 0; ok && i < n; i++)
    for (int k = 0; ok && k < res[i].n && k < nbest; k++) {
      const DecHyp *h = &res[i].hyps[k];
      DecTextHyp *t = &out[(size_t)ln[i].index * nbest + k];
      t->text = detok(tgt, h->tokens, h->len);
      t->logprob = h->logprob;
      t->score = h->score;
      t->tokens = h->len;
      if (!t->text) ok = (snprintf(err, errlen, "out of memory"), 0);
    }
  if (res) dec_sentences_free(res, n);
  free(res);
  free(src);
  free(ids);
  return ok;
}

int dec_translate_text(Decoder *d, Tokenizer *src_tok, const Tokenizer *tgt_tok, const char *const *lines, int n,
                       const DecodeOpts *o, int batch, DecTextHyp *out, char *err, size_t errlen) {
  int nbest = o->nbest > 0 ? o->nbest : 1;
  memset(out, 0, sizeof(DecTextHyp) * (size_t)n * (size_t)nbest);
  Line *ln = calloc((size_t)n + 1, sizeof(Line));
  int ok = ln != NULL;
  if (!ok) snprintf(err, errlen, "out of memory");
  for (int i = 0; ok && i < n; i++) {
    size_t len = strlen(lines[i]);
    ln[i].index = i;
    ln[i].ids = malloc(sizeof(int32_t) * (len + 1));
    int64_t k = ln[i].ids ? tokenizer_encode(src_tok, lines[i], len, ln[i].ids) : -1;
    if (k < 0) ok = (snprintf(err, errlen, "out of memory"), 0);
    else ln[i].ids[k] = DEC_EOS, ln[i].len = (int)k + 1;
  }
  if (ok) qsort(ln, (size_t)n, sizeof *ln, by_length);
  if (batch < 1) batch = 32;
  for (int i = 0; ok && i < n; i += batch)
    ok = run_batch(d, tgt_tok, ln + i, n - i < batch ? n - i : batch, nbest, o, out, err, errlen);
  for (int i = 0; ln && i < n; i++) free(ln[i].ids);
  free(ln);
  if (!ok) dec_text_free(out, n * nbest);
  return ok;
}

void dec_text_free(DecTextHyp *h, int n) {
  for (int i = 0; h && i < n; i++) {
    free(h[i].text);
    h[i].text = NULL;
  }
}
