/* eval_internal.h — what bleu.c and chrf.c share: n-grams as fixed-size keys (token ids or
 * code points, padded), counted by sorting (no hashing, so counts are exact). */
#ifndef MAMC_EVAL_INTERNAL_H
#define MAMC_EVAL_INTERNAL_H

#include "eval.h"

#define GRAM_MAX 6

typedef struct Gram {
  uint32_t order;        /* n (1-based); grams sort by order first */
  uint32_t k[GRAM_MAX];  /* the n keys, then UINT32_MAX padding */
  int64_t count;         /* after gram_collapse: occurrences */
} Gram;

/* Order of grams: by order, then keys. */
int gram_cmp(const Gram *a, const Gram *b);
/* Sorts g[0..n) and merges equal grams, summing their counts (each gram starts with its
 * own count, 1 for a fresh one). Returns the number of distinct grams. */
int gram_collapse(Gram *g, int n);
/* Same, but equal grams keep the largest count (the reference side of BLEU). */
int gram_collapse_max(Gram *g, int n);
/* Appends the n-grams of keys[0..len) for n = 1..max_order to g (count 1 each); g must have
 * room for gram_room(len, max_order). Returns how many were added. */
int gram_extract(Gram *g, const uint32_t *keys, int len, int max_order);
int gram_room(int len, int max_order);

#endif
