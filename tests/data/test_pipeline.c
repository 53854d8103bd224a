/* test_pipeline.c — end to end: two tasks' corpora (a TSV and aligned files) → a BPE
 * tokenizer per language, trained, saved and reloaded → token batches → a sampled schedule
 * of tasks; every row decodes back to its corpus sentence. argv[1]: a scratch directory. */
#include "batch.h"
#include "sampler.h"
#include "test.h"

#include <stdlib.h>

#define FX "tests/data/fixtures/"

static const char *scratch_dir = ".";

/* Train a BPE vocabulary on one column, save it, and load it back. */
static Tokenizer *train(const Corpus *c, int col, int size, const char *name, Diag *d) {
  const char **lines = malloc(sizeof *lines * (size_t)c->n);
  size_t *lens = malloc(sizeof *lens * (size_t)c->n);
  corpus_column(c, col, lines, lens);
  Tokenizer *t = bpe_train(lines, lens, (size_t)c->n, size, NULL, d);
  free(lines);
  free(lens);
  if (!t) return NULL;
  char path[1024];
  snprintf(path, sizeof path, "%s/test_data_pipeline_%s.bpe", scratch_dir, name);
  int rc = tokenizer_save(t, path, d);
  tokenizer_free(t);
  return rc == 0 ? tokenizer_load(path, d) : NULL;
}

/* Decode row r of a [B, L] tensor and compare with the corpus text. */
static int row_matches(const Tokenizer *t, const int32_t *row, int L, const char *want) {
  StrBuf b;
  sb_init(&b);
  tokenizer_decode(t, row, (size_t)L, &b);
  int ok = b.s && strcmp(b.s, want) == 0;
  if (!ok) fprintf(stderr, "decoded '%s'\n   want '%s'\n", b.s ? b.s : "", want);
  sb_free(&b);
  return ok;
}

int main(int argc, char **argv) {
  if (argc > 1) scratch_dir = argv[1];
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Corpus ende, enfr;
  const char *files[] = {FX "en-fr.en", FX "en-fr.fr"};
  CHECK(corpus_load(&ende, &a, &d, &(CorpusSpec){.tsv = FX "en-de.tsv"}) == 0);
  CHECK(corpus_load(&enfr, &a, &d, &(CorpusSpec){.files = files, .nfiles = 2}) == 0);
  if (d.nerrors) {
    fputs(d.out.s, stderr);
    return test_done();
  }
  Tokenizer *en = train(&ende, 0, 320, "en", &d), *de = train(&ende, 1, 320, "de", &d);
  Tokenizer *fr = train(&enfr, 1, 320, "fr", &d);
  CHECK(en && de && fr && d.nerrors == 0);
  if (!en || !de || !fr) return test_done();

  BatchOpts o = {.batch_tokens = 256, .max_len = 96, .pool_batches = 4, .seed = 5};
  Batcher *b[2] = {batcher_new(&ende, 0, en, 1, de, &o, &d),
                   batcher_new(&enfr, 0, en, 1, fr, &o, &d)};
  CHECK(b[0] && b[1]);
  if (!b[0] || !b[1]) return test_done();
  const Corpus *corp[2] = {&ende, &enfr};
  Tokenizer *tgt_tok[2] = {de, fr};
  CHECK(batcher_stats(b[0]).examples == 32 && batcher_stats(b[0]).dropped == 0);

  SamplerTask tasks[] = {{"en-de", (double)ende.n, 0}, {"en-fr", (double)enfr.n, 10}};
  Sampler s;
  CHECK(sampler_init(&s, &a, &d, tasks, 2, 1.0, 5, 0) == 0);
  int per_task[2] = {0, 0}, rows_ok = 1;
  int64_t tokens = 0;
  for (int64_t step = 0; step < 200; step++) {
    int task = sampler_task_at(&s, step);
    if (step < 10) CHECK(task == 0);
    per_task[task]++;
    Batch bt;
    CHECK(batcher_next(b[task], &bt, &d) == 0);
    CHECK((int64_t)bt.B * (bt.S > bt.T ? bt.S : bt.T) <= o.batch_tokens);
    for (int r = 0; r < bt.B; r++) {
      rows_ok &= row_matches(en, bt.src + (size_t)r * bt.S, bt.S,
                             corpus_field(corp[task], bt.ids[r], 0, NULL));
      rows_ok &= row_matches(tgt_tok[task], bt.tgt + (size_t)r * bt.T, bt.T,
                             corpus_field(corp[task], bt.ids[r], 1, NULL));
      rows_ok &= bt.tgt[(size_t)r * bt.T] == TOK_BOS;
    }
    tokens += bt.tgt_tokens;
  }
  CHECK(rows_ok);
  CHECK(per_task[0] > 60 && per_task[1] > 60);
  printf("200 steps: en-de %d, en-fr %d batches, %lld target tokens\n", per_task[0], per_task[1],
         (long long)tokens);
  batcher_free(b[0]);
  batcher_free(b[1]);
  tokenizer_free(en);
  tokenizer_free(de);
  tokenizer_free(fr);
  if (d.nerrors) fputs(d.out.s, stderr);
  CHECK(d.nerrors == 0);
  diag_free(&d);
  arena_free(&a);
  return test_done();
}
