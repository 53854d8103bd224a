/* test_batch.c — unit tests of batching by tokens: every example exactly once per epoch,
 * B·max(S,T) <= batch_tokens, right padding, token counts, dropping and truncating over
 * max_len, determinism per seed, and exact continuation after saving/restoring the state. */
#include "batch.h"
#include "test.h"

#include <stdlib.h>

#define FX "tests/data/fixtures/"

typedef struct Seen {
  int64_t ids[64];
  int B, S, T;
} Seen;

static Batcher *make(const Corpus *c, Tokenizer *tok, BatchOpts o, Diag *d) {
  return batcher_new(c, 0, tok, 0, tok, &o, d);
}

/* Check the layout of one batch against the corpus (byte tokenizer: id = 4 + byte). */
static void check_batch(const Batch *b, const Corpus *c, const BatchOpts *o) {
  int L = b->S > b->T ? b->S : b->T;
  CHECK_MSG((int64_t)b->B * L <= o->batch_tokens, "B %d S %d T %d", b->B, b->S, b->T);
  int maxs = 0, maxt = 0;
  int64_t ntgt = 0, nsrc = 0;
  for (int r = 0; r < b->B; r++) {
    size_t len;
    const unsigned char *s = (const unsigned char *)corpus_field(c, b->ids[r], 0, &len);
    const int32_t *src = b->src + (size_t)r * b->S, *tgt = b->tgt + (size_t)r * b->T;
    int sl = (int)len + 1, tl = (int)len + 2, ok = 1;
    if (sl > o->max_len)
      sl = o->max_len, tl = o->max_len; /* truncated */
    else if (tl > o->max_len)
      tl = o->max_len;
    for (int i = 0; i < sl - 1; i++) ok &= src[i] == 4 + s[i];
    ok &= src[sl - 1] == TOK_EOS;
    for (int i = sl; i < b->S; i++) ok &= src[i] == TOK_PAD;
    ok &= tgt[0] == TOK_BOS;
    for (int i = 1; i < tl - 1; i++) ok &= tgt[i] == 4 + s[i - 1];
    ok &= tgt[tl - 1] == TOK_EOS;
    for (int i = tl; i < b->T; i++) ok &= tgt[i] == TOK_PAD;
    CHECK_MSG(ok, "row %d (example %lld) of batch %lld", r, (long long)b->ids[r],
              (long long)b->index);
    if (sl > maxs) maxs = sl;
    if (tl > maxt) maxt = tl;
    nsrc += sl;
    ntgt += tl - 1;
  }
  CHECK(b->S == maxs && b->T == maxt);
  CHECK(b->src_tokens == nsrc && b->tgt_tokens == ntgt);
}

static void test_epochs(const Corpus *c, Tokenizer *tok) {
  Diag d;
  diag_init(&d);
  BatchOpts o = {.batch_tokens = 1000, .max_len = 100, .pool_batches = 3, .seed = 7};
  Batcher *b = make(c, tok, o, &d);
  CHECK(b != NULL);
  if (!b) return;
  int64_t over = 0;
  for (int64_t i = 0; i < c->n; i++) over += strlen(corpus_field(c, i, 0, NULL)) + 2 > 100;
  BatchStats st = batcher_stats(b);
  CHECK(over > 0 && st.dropped == over && st.truncated == 0 && st.examples == c->n - over);
  char warn[128];
  snprintf(warn, sizeof warn,
           "warning: batching: dropped %lld of 200 examples longer than max_len 100 tokens\n",
           (long long)over);
  CHECK(d.nerrors == 0 && d.nwarnings == 1);
  CHECK_STR(d.out.s, warn);
  int *count = calloc((size_t)c->n, sizeof *count);
  int64_t real = 0, padded = 0, nb0 = 0;
  Batch bt;
  for (int epoch = 0; epoch < 3; epoch++) {
    memset(count, 0, sizeof *count * (size_t)c->n);
    int64_t nb = -1;
    for (int64_t k = 0;; k++) {
      CHECK(batcher_next(b, &bt, &d) == 0);
      CHECK(bt.epoch == epoch && bt.index == k);
      nb = bt.nbatches;
      check_batch(&bt, c, &o);
      for (int r = 0; r < bt.B; r++) count[bt.ids[r]]++;
      real += bt.src_tokens + bt.tgt_tokens + bt.B;
      padded += (int64_t)bt.B * (bt.S + bt.T);
      if (bt.index == bt.nbatches - 1) break;
    }
    if (epoch == 0) nb0 = nb;
    int ok = 1;
    for (int64_t i = 0; i < c->n; i++) {
      int want = strlen(corpus_field(c, i, 0, NULL)) + 2 <= 100;
      ok &= count[i] == want;
    }
    CHECK_MSG(ok, "epoch %d: an example is missing or repeated", epoch);
  }
  CHECK(batcher_state(b).epoch == 3 && batcher_state(b).position == 0);
  printf("%lld batches per epoch, %.1f%% of the padded tensors are real tokens\n", (long long)nb0,
         100.0 * (double)real / (double)padded);
  CHECK(real * 10 > padded * 8); /* length bucketing keeps padding low */
  free(count);
  batcher_free(b);
  diag_free(&d);
}

/* The first n batches of a batcher, as (ids, B, S, T). */
static void record(Batcher *b, Seen *out, int n) {
  Diag d;
  diag_init(&d);
  for (int k = 0; k < n; k++) {
    Batch bt;
    batcher_next(b, &bt, &d);
    memset(&out[k], 0, sizeof out[k]);
    out[k].B = bt.B, out[k].S = bt.S, out[k].T = bt.T;
    for (int r = 0; r < bt.B && r < 64; r++) out[k].ids[r] = bt.ids[r];
  }
  diag_free(&d);
}

static void test_determinism(const Corpus *c, Tokenizer *tok) {
  Diag d;
  diag_init(&d);
  BatchOpts o = {.batch_tokens = 600, .max_len = 160, .pool_batches = 2, .seed = 11};
  enum { N = 120 };
  static Seen a[N], b[N], x[N], r[N];
  Batcher *ba = make(c, tok, o, &d), *bb = make(c, tok, o, &d);
  record(ba, a, N);
  record(bb, b, N);
  CHECK(memcmp(a, b, sizeof a) == 0); /* same seed, same batches (several epochs) */
  o.seed = 12;
  Batcher *bx = make(c, tok, o, &d);
  record(bx, x, N);
  CHECK(memcmp(a, x, sizeof a) != 0); /* another seed, other batches */

  /* save after k batches; a fresh batcher restored there yields the same following batches */
  const int ks[] = {0, 5, 37, 61};
  for (int i = 0; i < COUNT_OF(ks); i++) {
    Batcher *p =
        make(c, tok,
             (BatchOpts){.batch_tokens = 600, .max_len = 160, .pool_batches = 2, .seed = 11}, &d);
    record(p, r, ks[i]);
    BatchState s = batcher_state(p);
    Batcher *q =
        make(c, tok,
             (BatchOpts){.batch_tokens = 600, .max_len = 160, .pool_batches = 2, .seed = 11}, &d);
    CHECK(batcher_restore(q, s, &d) == 0);
    record(q, r, N - ks[i]);
    CHECK_MSG(memcmp(r, a + ks[i], sizeof(Seen) * (size_t)(N - ks[i])) == 0, "restored at %d",
              ks[i]);
    batcher_free(p);
    batcher_free(q);
  }
  CHECK(d.nerrors == 0);

  /* restoring a state from other data/options, or past the epoch, fails */
  Diag e;
  diag_init(&e);
  BatchState s = batcher_state(bx);
  CHECK(batcher_restore(ba, s, &e) == -1);
  CHECK(e.nerrors == 1 &&
        strstr(e.out.s, "error: cannot restore the data position: it was saved for "
                        "another corpus, tokenizer or batching options") == e.out.s);
  diag_free(&e);
  diag_init(&e);
  s = batcher_state(ba);
  s.epoch = 2;
  s.position = 100000;
  CHECK(batcher_restore(ba, s, &e) == -1);
  CHECK(e.nerrors == 1 &&
        strstr(e.out.s, "error: cannot restore the data position: epoch 2 has ") == e.out.s);
  diag_free(&e);
  batcher_free(ba);
  batcher_free(bb);
  batcher_free(bx);
  diag_free(&d);
}

static void test_truncate_and_options(const Corpus *c, Tokenizer *tok) {
  Diag d;
  diag_init(&d);
  BatchOpts o = {.batch_tokens = 256, .max_len = 40, .truncate = 1, .seed = 3};
  Batcher *b = make(c, tok, o, &d);
  CHECK(b != NULL);
  if (!b) return;
  int64_t over = 0;
  for (int64_t i = 0; i < c->n; i++) over += strlen(corpus_field(c, i, 0, NULL)) + 2 > 40;
  BatchStats st = batcher_stats(b);
  CHECK(st.examples == c->n && st.truncated == over && st.dropped == 0);
  Batch bt;
  int64_t rows = 0;
  do {
    CHECK(batcher_next(b, &bt, &d) == 0);
    CHECK(bt.S <= 40 && bt.T <= 40);
    check_batch(&bt, c, &o);
    rows += bt.B;
  } while (bt.index + 1 < bt.nbatches);
  CHECK(rows == c->n);
  batcher_free(b);

  Diag e;
  diag_init(&e);
  CHECK(make(c, tok, (BatchOpts){.batch_tokens = 100, .max_len = 200}, &e) == NULL);
  CHECK_STR(e.out.s, "error: batching: need 3 <= max_len (200) <= batch_tokens (100) and "
                     "pool_batches (100) >= 1\n");
  diag_free(&e);
  diag_init(&e);
  CHECK(make(c, tok, (BatchOpts){.batch_tokens = 100, .max_len = 5}, &e) == NULL);
  CHECK_STR(e.out.s, "error: batching: no example is left: all 200 are longer than max_len 5\n");
  diag_free(&e);
  diag_init(&e);
  BatchOpts bad = {.batch_tokens = 100};
  CHECK(batcher_new(c, 0, tok, 1, tok, &bad, &e) == NULL);
  CHECK_STR(e.out.s, "error: batching columns 0 and 1: the corpus has 1 columns\n");
  diag_free(&e);
  diag_free(&d);
}

int main(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Corpus c;
  const char *files[] = {FX "multilingual.txt"};
  CHECK(corpus_load(&c, &a, &d, &(CorpusSpec){.files = files, .nfiles = 1}) == 0);
  CHECK(c.n == 200);
  Tokenizer *tok = tokenizer_byte();
  if (c.n == 200) {
    test_epochs(&c, tok);
    test_determinism(&c, tok);
    test_truncate_and_options(&c, tok);
  }
  tokenizer_free(tok);
  diag_free(&d);
  arena_free(&a);
  return test_done();
}
