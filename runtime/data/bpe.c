/* bpe.c — byte-level BPE training.
 *
 * The corpus is reduced to word types with counts (pre-split as in tokenizer.h). Pair counts
 * are kept over the word types in a table, with, per pair, the list of words that contain it
 * (may hold stale or repeated entries; a word is rescanned when its pair is merged). The best
 * pair comes from a max-heap with lazy deletion: an entry whose count no longer matches the
 * table is dropped or re-pushed with the current count. After a merge only the words that
 * contained the pair are rewritten, and only the pairs next to each merge site change — no
 * full recount per merge (this is the algorithm of HF tokenizers' BPE trainer).
 *
 * Ties between equally frequent pairs go to the smaller (left, right) id pair, so the result
 * depends on the input only.
 */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct TWord {
  size_t off; /* symbols at syms + off */
  int32_t len;
  int64_t count;
} TWord;

typedef struct TPair {
  int32_t a, b;
  int64_t count;
  int32_t *where; /* word indices */
  int32_t nwhere, capwhere;
  int32_t stamp; /* last merge that raised its count */
} TPair;

typedef struct HeapEnt {
  int64_t count;
  int32_t pair;
} HeapEnt;

typedef struct Trainer {
  TWord *words;
  size_t nwords;
  int32_t *syms;
  TPair *pairs;
  size_t npairs, cappairs;
  U64Map index; /* pair key -> index in pairs */
  HeapEnt *heap;
  size_t nheap, capheap;
  int32_t *touched;
  size_t ntouched, captouched;
  int32_t stamp;
  int oom;
} Trainer;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *np = realloc(*p, nc * elem);
  if (!np) return 0;
  *p = np;
  *cap = nc;
  return 1;
}

/* ---- the heap (max by count, then min by (a, b)) ---------------------------------------- */

static int ent_before(const Trainer *tr, HeapEnt x, HeapEnt y) {
  if (x.count != y.count) return x.count > y.count;
  const TPair *p = &tr->pairs[x.pair], *q = &tr->pairs[y.pair];
  return p->a != q->a ? p->a < q->a : p->b < q->b;
}

static void heap_push(Trainer *tr, int64_t count, int32_t pair) {
  if (!grow((void **)&tr->heap, &tr->capheap, tr->nheap + 1, sizeof(HeapEnt))) {
    tr->oom = 1;
    return;
  }
  HeapEnt x = {count, pair};
  size_t i = tr->nheap++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!ent_before(tr, x, tr->heap[p])) break;
    tr->heap[i] = tr->heap[p];
    i = p;
  }
  tr->heap[i] = x;
}

static HeapEnt heap_pop(Trainer *tr) {
  HeapEnt *h = tr->heap, top = h[0], x = h[--tr->nheap];
  size_t i = 0, m = tr->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && ent_before(tr, h[c + 1], h[c])) c++;
    if (!ent_before(tr, h[c], x)) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = x;
  return top;
}

/* ---- pair table ------------------------------------------------------------------------- */

static int32_t pair_get(Trainer *tr, int32_t a, int32_t b) {
  int created;
  int64_t *slot = u64map_put(&tr->index, tok_pair_key(a, b), (int64_t)tr->npairs, &created);
  if (!slot) {
    tr->oom = 1;
    return -1;
  }
  if (created) {
    if (!grow((void **)&tr->pairs, &tr->cappairs, tr->npairs + 1, sizeof(TPair))) {
      tr->oom = 1;
      return -1;
    }
    tr->pairs[tr->npairs] = (TPair){.a = a, .b = b, .stamp = -1};
    tr->npairs++;
  }
  return (int32_t)*slot;
}

/* Add delta occurrences of (a, b) found in word w. */
static void pair_change(Trainer *tr, int32_t a, int32_t b, int64_t delta, int32_t w) {
  int32_t i = pair_get(tr, a, b);
  if (i < 0) return;
  TPair *p = &tr->pairs[i];
  p->count += delta;
  if (delta <= 0) return;
  if (!p->nwhere || p->where[p->nwhere - 1] != w) {
    size_t cap = (size_t)p->capwhere;
    if (!grow((void **)&p->where, &cap, (size_t)p->nwhere + 1, sizeof(int32_t))) {
      tr->oom = 1;
      return;
    }
    p->capwhere = (int32_t)cap;
    p->where[p->nwhere++] = w;
  }
  if (p->stamp != tr->stamp) {
    p->stamp = tr->stamp;
    if (!grow((void **)&tr->touched, &tr->captouched, tr->ntouched + 1, sizeof(int32_t))) {
      tr->oom = 1;
      return;
    }
    tr->touched[tr->ntouched++] = i;
  }
}

/* Replace every (a, b) in word w by z, left to right, updating the neighbouring pairs. */
static void merge_word(Trainer *tr, int32_t w, int32_t a, int32_t b, int32_t z) {
  TWord *wd = &tr->words[w];
  int32_t *s = tr->syms + wd->off;
  int32_t len = wd->len;
  int64_t c = wd->count;
  for (int32_t i = 0; i + 1 < len; i++) {
    if (s[i] != a || s[i + 1] != b) continue;
    if (i > 0) {
      pair_change(tr, s[i - 1], a, -c, w);
      pair_change(tr, s[i - 1], z, c, w);
    }
    s[i] = z;
    memmove(s + i + 1, s + i + 2, (size_t)(len - i - 2) * sizeof *s);
    len--;
    if (i + 1 < len) {
      pair_change(tr, b, s[i + 1], -c, w);
      pair_change(tr, z, s[i + 1], c, w);
    }
  }
  wd->len = len;
}

/* ---- driver ----------------------------------------------------------------------------- */

static int count_words(Trainer *tr, const char *const *lines, const size_t *lens, size_t nlines) {
  StrMap types;
  strmap_init(&types);
  for (size_t l = 0; l < nlines; l++) {
    const char *s = lines[l];
    size_t len = lens ? lens[l] : strlen(s);
    for (size_t pos = 0, end; pos < len; pos = end) {
      end = tokenizer_next_word(s, len, pos);
      if (end - pos < 2) continue; /* a single byte has no pair */
      int64_t k = strmap_put(&types, s + pos, end - pos, 0, NULL);
      if (k < 0 || k >= INT32_MAX) goto oom;
      types.e[k].val++;
    }
  }
  tr->nwords = types.n;
  tr->words = malloc((types.n ? types.n : 1) * sizeof *tr->words);
  tr->syms = malloc((types.pool_len ? types.pool_len : 1) * sizeof *tr->syms);
  if (!tr->words || !tr->syms) goto oom;
  size_t off = 0;
  for (size_t k = 0; k < types.n; k++) {
    const unsigned char *key = (const unsigned char *)strmap_key(&types, k);
    tr->words[k] = (TWord){off, (int32_t)types.e[k].len, types.e[k].val};
    for (size_t i = 0; i < types.e[k].len; i++) tr->syms[off + i] = TOK_BYTE_BASE + key[i];
    off += types.e[k].len;
  }
  strmap_free(&types);
  return 1;
oom:
  strmap_free(&types);
  return 0;
}

static void trainer_free(Trainer *tr) {
  for (size_t i = 0; i < tr->npairs; i++) free(tr->pairs[i].where);
  free(tr->pairs);
  free(tr->words);
  free(tr->syms);
  free(tr->heap);
  free(tr->touched);
  u64map_free(&tr->index);
}

Tokenizer *bpe_train(const char *const *lines, const size_t *lens, size_t nlines, int size,
                     const BpeTrainOpts *opts, Diag *d) {
  if (size < TOK_BYTE_VOCAB || size > TOK_MAX_VOCAB) {
    diag_plain(d, "BPE vocabulary size %d is out of range: it must be between %d and %d", size,
               TOK_BYTE_VOCAB, TOK_MAX_VOCAB);
    return NULL;
  }
  int64_t min_count = opts && opts->min_count > 0 ? opts->min_count : 2;
  Tokenizer *t = tok_new(TOKENIZER_BPE);
  Trainer tr = {0};
  u64map_init(&tr.index);
  if (!t || !count_words(&tr, lines, lens, nlines)) goto oom;

  for (size_t w = 0; w < tr.nwords; w++) {
    const int32_t *s = tr.syms + tr.words[w].off;
    for (int32_t i = 0; i + 1 < tr.words[w].len; i++)
      pair_change(&tr, s[i], s[i + 1], tr.words[w].count, (int32_t)w);
  }
  for (size_t i = 0; i < tr.npairs; i++) heap_push(&tr, tr.pairs[i].count, (int32_t)i);
  if (tr.oom) goto oom;

  while (t->vocab < size && tr.nheap) {
    HeapEnt top = heap_pop(&tr);
    TPair *p = &tr.pairs[top.pair];
    if (top.count != p->count) { /* stale: its count fell since; the table is right */
      if (p->count > 0 && p->count < top.count) heap_push(&tr, p->count, top.pair);
      if (tr.oom) goto oom;
      continue;
    }
    if (top.count < min_count) break;
    int32_t a = p->a, b = p->b;
    int32_t z = tok_add_merge(t, a, b);
    if (z < 0) goto oom;
    int32_t *where = p->where, nwhere = p->nwhere;
    p->where = NULL;
    p->nwhere = p->capwhere = 0;
    tr.stamp++;
    tr.ntouched = 0;
    for (int32_t k = 0; k < nwhere && !tr.oom; k++) merge_word(&tr, where[k], a, b, z);
    free(where);
    tr.pairs[top.pair].count = 0;
    for (size_t k = 0; k < tr.ntouched; k++) {
      const TPair *q = &tr.pairs[tr.touched[k]];
      if (q->count > 0) heap_push(&tr, q->count, tr.touched[k]);
    }
    if (tr.oom) goto oom;
  }
  trainer_free(&tr);
  return t;
oom:
  diag_plain(d, "out of memory while training a BPE vocabulary of size %d", size);
  trainer_free(&tr);
  tokenizer_free(t);
  return NULL;
}
