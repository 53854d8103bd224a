/* tokenizer.c — the Tokenizer object: pieces, the merge table, encoding (BPE merges applied
 * by rank with a per-word cache) and decoding. Training is in bpe.c, the file format in
 * bpe_file.c. See tokenizer.h for the ids and the pre-splitting rule. */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

enum {
  CACHE_MAX_WORD = 1024,     /* longer words are encoded every time */
  CACHE_MAX_IDS = 8 << 20,   /* the cache is cleared when it holds more ids ... */
  CACHE_MAX_WORDS = 1 << 20, /* ... or more words than this */
};

/* ---- construction ----------------------------------------------------------------------- */

Tokenizer *tok_new(TokenizerKind kind) {
  Tokenizer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->kind = kind;
  strmap_init(&t->pieces);
  strmap_init(&t->cache);
  u64map_init(&t->rank);
  for (int b = 0; b < 256; b++) {
    char c = (char)b;
    if (strmap_put(&t->pieces, &c, 1, TOK_BYTE_BASE + b, NULL) < 0) {
      tokenizer_free(t);
      return NULL;
    }
  }
  t->vocab = TOK_BYTE_VOCAB;
  return t;
}

Tokenizer *tokenizer_byte(void) { return tok_new(TOKENIZER_BYTE); }

void tokenizer_free(Tokenizer *t) {
  if (!t) return;
  strmap_free(&t->pieces);
  strmap_free(&t->cache);
  u64map_free(&t->rank);
  free(t->merges);
  free(t->cache_ids);
  free(t->sym);
  free(t->prev);
  free(t->next);
  free(t->heap);
  free(t);
}

TokenizerKind tokenizer_kind(const Tokenizer *t) { return t->kind; }
int tokenizer_vocab_size(const Tokenizer *t) { return t->vocab; }
int tokenizer_num_merges(const Tokenizer *t) { return t->nmerges; }

const char *tokenizer_piece(const Tokenizer *t, int32_t id, size_t *len) {
  if (id < TOK_BYTE_BASE || id >= t->vocab) {
    if (len) *len = 0;
    return NULL;
  }
  const StrMapEntry *e = &t->pieces.e[id - TOK_BYTE_BASE];
  if (len) *len = e->len;
  return t->pieces.pool + e->off;
}

int32_t tok_find_piece(const Tokenizer *t, const char *s, size_t len) {
  int64_t k = strmap_find(&t->pieces, s, len);
  return k < 0 ? -1 : (int32_t)t->pieces.e[k].val;
}

int32_t tok_add_merge(Tokenizer *t, int32_t left, int32_t right) {
  size_t ll, rl;
  const char *l = tokenizer_piece(t, left, &ll), *r = tokenizer_piece(t, right, &rl);
  if (!l || !r) return -1;
  char small[256], *buf = ll + rl <= sizeof small ? small : malloc(ll + rl);
  if (!buf) return -1;
  memcpy(buf, l, ll); /* copy first: inserting may move the pool */
  memcpy(buf + ll, r, rl);
  int created;
  int64_t k = strmap_put(&t->pieces, buf, ll + rl, t->vocab, &created);
  if (buf != small) free(buf);
  if (k < 0) return -1;
  if (created) t->vocab++;
  int32_t out = (int32_t)t->pieces.e[k].val;
  if (t->nmerges == t->merges_cap) {
    int nc = t->merges_cap ? 2 * t->merges_cap : 256;
    BpeMerge *nm = realloc(t->merges, (size_t)nc * sizeof *nm);
    if (!nm) return -1;
    t->merges = nm;
    t->merges_cap = nc;
  }
  /* a pair learned twice (it can reappear after a merge that re-created an existing piece)
   * keeps its first rank: encoding applies that one first anyway */
  if (!u64map_put(&t->rank, tok_pair_key(left, right), t->nmerges, NULL)) return -1;
  t->merges[t->nmerges++] = (BpeMerge){left, right, out};
  t->kind = TOKENIZER_BPE;
  return out;
}

/* ---- encoding --------------------------------------------------------------------------- */

size_t tokenizer_next_word(const char *s, size_t len, size_t pos) {
  size_t i = pos;
  if (i < len && tok_is_space((unsigned char)s[i])) i++;
  while (i < len && !tok_is_space((unsigned char)s[i])) i++;
  return i;
}

static int ensure_scratch(Tokenizer *t, size_t n) {
  if (n > t->scratch_cap) {
    size_t nc = t->scratch_cap ? t->scratch_cap : 64;
    while (nc < n) nc *= 2;
    int32_t *a = realloc(t->sym, nc * sizeof *a);
    if (a) t->sym = a;
    int32_t *b = realloc(t->prev, nc * sizeof *b);
    if (b) t->prev = b;
    int32_t *c = realloc(t->next, nc * sizeof *c);
    if (c) t->next = c;
    if (!a || !b || !c) return 0;
    t->scratch_cap = nc;
  }
  if (3 * n > t->heap_cap) { /* n-1 initial pairs + at most 2 per merge */
    EncPair *h = realloc(t->heap, 3 * n * sizeof *h);
    if (!h) return 0;
    t->heap = h;
    t->heap_cap = 3 * n;
  }
  return 1;
}

static inline int pair_less(const EncPair *a, const EncPair *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(EncPair *h, size_t *n, EncPair x) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!pair_less(&x, &h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = x;
}

static EncPair heap_pop(EncPair *h, size_t *n) {
  EncPair top = h[0], x = h[--*n];
  size_t i = 0, m = *n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && pair_less(&h[c + 1], &h[c])) c++;
    if (!pair_less(&h[c], &x)) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = x;
  return top;
}

static void push_pair(Tokenizer *t, size_t *hn, int32_t pos, int32_t right_pos) {
  const int64_t *r = u64map_get(&t->rank, tok_pair_key(t->sym[pos], t->sym[right_pos]));
  if (r) heap_push(t->heap, hn, (EncPair){(int32_t)*r, pos, t->sym[pos], t->sym[right_pos]});
}

/* Apply the merges to one word by rank (lowest first; leftmost first among equal ranks),
 * as HF tokenizers do. Writes the ids to out; returns their number, -1 when out of memory. */
static int64_t encode_word(Tokenizer *t, const unsigned char *w, size_t n, int32_t *out) {
  if (!ensure_scratch(t, n)) return -1;
  int32_t *sym = t->sym, *prev = t->prev, *next = t->next;
  for (size_t i = 0; i < n; i++) {
    sym[i] = TOK_BYTE_BASE + w[i];
    prev[i] = (int32_t)i - 1;
    next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
  }
  size_t hn = 0;
  for (size_t i = 0; i + 1 < n; i++) push_pair(t, &hn, (int32_t)i, (int32_t)i + 1);
  while (hn) {
    EncPair p = heap_pop(t->heap, &hn);
    int32_t j = next[p.pos];
    if (sym[p.pos] != p.left || j < 0 || sym[j] != p.right) continue; /* stale */
    sym[p.pos] = t->merges[p.rank].out;
    sym[j] = -1;
    next[p.pos] = next[j];
    if (next[j] >= 0) prev[next[j]] = p.pos;
    if (prev[p.pos] >= 0) push_pair(t, &hn, prev[p.pos], p.pos);
    if (next[p.pos] >= 0) push_pair(t, &hn, p.pos, next[p.pos]);
  }
  int64_t k = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) out[k++] = sym[i];
  return k;
}

static void cache_insert(Tokenizer *t, const char *w, size_t n, const int32_t *ids, int64_t k) {
  if (t->cache.n >= CACHE_MAX_WORDS || t->cache_len + (size_t)k > CACHE_MAX_IDS) {
    strmap_clear(&t->cache);
    t->cache_len = 0;
  }
  if (t->cache_len + (size_t)k > t->cache_cap) {
    size_t nc = t->cache_cap ? t->cache_cap : 4096;
    while (nc < t->cache_len + (size_t)k) nc *= 2;
    int32_t *a = realloc(t->cache_ids, nc * sizeof *a);
    if (!a) return; /* the cache is an optimization: skip it */
    t->cache_ids = a;
    t->cache_cap = nc;
  }
  int64_t val = (int64_t)t->cache_len << 11 | k;
  if (strmap_put(&t->cache, w, n, val, NULL) < 0) return;
  memcpy(t->cache_ids + t->cache_len, ids, (size_t)k * sizeof *ids);
  t->cache_len += (size_t)k;
}

int64_t tokenizer_encode(Tokenizer *t, const char *s, size_t len, int32_t *out) {
  const unsigned char *u = (const unsigned char *)s;
  if (t->kind == TOKENIZER_BYTE || t->nmerges == 0) {
    for (size_t i = 0; i < len; i++) out[i] = TOK_BYTE_BASE + u[i];
    return (int64_t)len;
  }
  int64_t k = 0;
  for (size_t pos = 0, end; pos < len; pos = end) {
    end = tokenizer_next_word(s, len, pos);
    size_t n = end - pos;
    if (n == 1) {
      out[k++] = TOK_BYTE_BASE + u[pos];
      continue;
    }
    if (n <= CACHE_MAX_WORD) {
      int64_t e = strmap_find(&t->cache, s + pos, n);
      if (e >= 0) {
        int64_t v = t->cache.e[e].val, c = v & 2047;
        memcpy(out + k, t->cache_ids + (v >> 11), (size_t)c * sizeof *out);
        k += c;
        continue;
      }
    }
    int64_t c = encode_word(t, u + pos, n, out + k);
    if (c < 0) return -1;
    if (n <= CACHE_MAX_WORD) cache_insert(t, s + pos, n, out + k, c);
    k += c;
  }
  return k;
}

/* ---- decoding --------------------------------------------------------------------------- */

size_t tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, StrBuf *out) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (id == TOK_PAD || id == TOK_BOS || id == TOK_EOS) continue;
    size_t len;
    const char *p = tokenizer_piece(t, id, &len);
    if (p) {
      sb_putn(out, p, len);
    } else {
      sb_puts(out, "\xEF\xBF\xBD");
      bad++;
    }
  }
  return bad;
}
