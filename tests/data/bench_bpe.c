/* bench_bpe.c — times BPE training on 200k synthetic multilingual sentences to a vocabulary
 * of 8000, and encoding them. Not a ctest: run from the repository root,
 *   build-data/tests/data/bench_data_bpe [sentences] [size]
 * Sentences mix words of tests/data/fixtures/multilingual.txt with invented words glued from
 * pieces of them (2-4 characters each), so the word types number in the hundreds of
 * thousands as in real text, not just the fixture's few thousand. */
#include "rng.h"
#include "test_util.h"
#include "tokenizer.h"
#include "utf8.h"

#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int nsent = argc > 1 ? atoi(argv[1]) : 200000, size = argc > 2 ? atoi(argv[2]) : 8000;
  char *store;
  const char **lines;
  size_t *lens;
  int n = read_lines(FIXTURES "multilingual.txt", &store, &lines, &lens);
  if (n <= 0) return 1;
  /* the fixture's words (split on spaces) */
  int nw = 0;
  const char **words = malloc(sizeof *words * 8000);
  size_t *wl = malloc(sizeof *wl * 8000);
  for (int i = 0; i < n; i++)
    for (size_t p = 0, e; p < lens[i]; p = e + 1) {
      for (e = p; e < lens[i] && lines[i][e] != ' '; e++) {}
      if (e > p && nw < 8000) words[nw] = lines[i] + p, wl[nw++] = e - p;
    }
  StrBuf text;
  sb_init(&text);
  size_t *starts = malloc(sizeof *starts * ((size_t)nsent + 1));
  uint64_t key = rng_key(2024, 1);
  uint64_t ctr = 0;
  for (int s = 0; s < nsent; s++) {
    starts[s] = text.len;
    int k = 6 + (int)(rng_u64(key, ctr++) % 14);
    for (int j = 0; j < k; j++) {
      if (j) sb_putc(&text, ' ');
      if (rng_uniform(key, ctr++) < 0.6) {
        int w = (int)(rng_u64(key, ctr++) % (uint64_t)nw);
        sb_putn(&text, words[w], wl[w]);
        continue;
      }
      int parts = 2 + (int)(rng_u64(key, ctr++) % 2);
      for (int q = 0; q < parts; q++) { /* 2-4 whole UTF-8 characters of some word */
        int w = (int)(rng_u64(key, ctr++) % (uint64_t)nw);
        const unsigned char *u = (const unsigned char *)words[w];
        size_t at = (size_t)(rng_u64(key, ctr++) % wl[w]);
        while (at > 0 && (u[at] & 0xC0) == 0x80) at--;
        int chars = 2 + (int)(rng_u64(key, ctr++) % 3);
        size_t e = at;
        for (int c = 0; c < chars && e < wl[w]; c++) {
          int len = utf8_seq_len(u + e, wl[w] - e);
          e += len ? (size_t)len : 1;
        }
        sb_putn(&text, words[w] + at, e - at);
      }
    }
  }
  starts[nsent] = text.len;
  const char **sl = malloc(sizeof *sl * (size_t)nsent);
  size_t *sn = malloc(sizeof *sn * (size_t)nsent);
  for (int s = 0; s < nsent; s++) sl[s] = text.s + starts[s], sn[s] = starts[s + 1] - starts[s];
  printf("%d sentences, %.1f MB\n", nsent, (double)text.len / 1e6);

  Diag d;
  diag_init(&d);
  double t0 = now();
  Tokenizer *t = bpe_train(sl, sn, (size_t)nsent, size, NULL, &d);
  double t1 = now();
  if (!t) {
    fputs(d.out.s, stderr);
    return 1;
  }
  printf("bpe_train to size %d: %.2f s (%d merges, vocabulary %d)\n", size, t1 - t0,
         tokenizer_num_merges(t), tokenizer_vocab_size(t));
  int32_t *ids = malloc(sizeof *ids * 65536);
  int64_t ntok = 0;
  double t2 = now();
  for (int s = 0; s < nsent; s++) ntok += tokenizer_encode(t, sl[s], sn[s], ids);
  double t3 = now();
  printf("encode: %.2f s, %.2f bytes/token\n", t3 - t2, (double)text.len / (double)ntok);
  tokenizer_free(t);
  diag_free(&d);
  sb_free(&text);
  free(ids), free(sl), free(sn), free(starts), free(words), free(wl), free(store), free(lines),
      free(lens);
  return 0;
}
