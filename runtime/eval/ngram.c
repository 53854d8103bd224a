/* ngram.c — n-gram extraction and counting for BLEU and chrF (eval_internal.h). */
#include <stdlib.h>

#include "eval_internal.h"

int gram_cmp(const Gram *a, const Gram *b) {
  if (a->order != b->order) return a->order < b->order ? -1 : 1;
  for (int i = 0; i < GRAM_MAX; i++)
    if (a->k[i] != b->k[i]) return a->k[i] < b->k[i] ? -1 : 1;
  return 0;
}

static int gram_qcmp(const void *a, const void *b) { return gram_cmp(a, b); }

static int collapse(Gram *g, int n, int use_max) {
  if (n <= 0) return 0;
  qsort(g, (size_t)n, sizeof *g, gram_qcmp);
  int m = 0;
  for (int i = 1; i < n; i++) {
    if (gram_cmp(&g[m], &g[i]) == 0) {
      if (use_max) g[m].count = g[i].count > g[m].count ? g[i].count : g[m].count;
      else g[m].count += g[i].count;
    } else {
      g[++m] = g[i];
    }
  }
  return m + 1;
}

int gram_collapse(Gram *g, int n) { return collapse(g, n, 0); }
int gram_collapse_max(Gram *g, int n) { return collapse(g, n, 1); }

int gram_room(int len, int max_order) { return len > 0 ? len * max_order : 0; }

int gram_extract(Gram *g, const uint32_t *keys, int len, int max_order) {
  int m = 0;
  for (int n = 1; n <= max_order; n++)
    for (int i = 0; i + n <= len; i++) {
      Gram *x = &g[m++];
      x->order = (uint32_t)n;
      for (int j = 0; j < GRAM_MAX; j++) x->k[j] = j < n ? keys[i + j] : UINT32_MAX;
      x->count = 1;
    }
  return m;
}
