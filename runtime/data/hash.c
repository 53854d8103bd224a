/* hash.c — open-addressing hash maps for the data pipeline (see hash.h). Linear probing,
 * load factor at most 1/2, growth by doubling. */
#include "hash.h"

#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t data_hash_bytes(const char *s, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull ^ len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return mix64(h);
}

/* ---- U64Map ----------------------------------------------------------------------------- */

void u64map_init(U64Map *m) { memset(m, 0, sizeof *m); }

void u64map_free(U64Map *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

int64_t *u64map_get(const U64Map *m, uint64_t key) {
  if (!m->cap) return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
    if (m->keys[i] == key) return &m->vals[i];
    if (m->keys[i] == U64MAP_EMPTY) return NULL;
  }
}

static int u64map_grow(U64Map *m) {
  size_t ncap = m->cap ? 2 * m->cap : 64;
  uint64_t *nk = malloc(ncap * sizeof *nk);
  int64_t *nv = malloc(ncap * sizeof *nv);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return 0;
  }
  memset(nk, 0xff, ncap * sizeof *nk);
  size_t mask = ncap - 1;
  for (size_t j = 0; j < m->cap; j++) {
    if (m->keys[j] == U64MAP_EMPTY) continue;
    size_t i = mix64(m->keys[j]) & mask;
    while (nk[i] != U64MAP_EMPTY) i = (i + 1) & mask;
    nk[i] = m->keys[j];
    nv[i] = m->vals[j];
  }
  free(m->keys);
  free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->cap = ncap;
  return 1;
}

int64_t *u64map_put(U64Map *m, uint64_t key, int64_t init, int *created) {
  if (created) *created = 0;
  if (2 * (m->n + 1) > m->cap && !u64map_grow(m)) return NULL;
  size_t mask = m->cap - 1;
  size_t i = mix64(key) & mask;
  for (; m->keys[i] != U64MAP_EMPTY; i = (i + 1) & mask)
    if (m->keys[i] == key) return &m->vals[i];
  m->keys[i] = key;
  m->vals[i] = init;
  m->n++;
  if (created) *created = 1;
  return &m->vals[i];
}

/* ---- StrMap ----------------------------------------------------------------------------- */

void strmap_init(StrMap *m) { memset(m, 0, sizeof *m); }

void strmap_free(StrMap *m) {
  free(m->slots);
  free(m->e);
  free(m->pool);
  memset(m, 0, sizeof *m);
}

void strmap_clear(StrMap *m) {
  if (m->slots) memset(m->slots, 0, m->cap * sizeof *m->slots);
  m->n = 0;
  m->pool_len = 0;
}

static int64_t strmap_probe(const StrMap *m, const char *s, size_t len, uint64_t h, size_t *slot) {
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t k = m->slots[i];
    if (!k) {
      *slot = i;
      return -1;
    }
    const StrMapEntry *e = &m->e[k - 1];
    if (e->hash == h && e->len == len && memcmp(m->pool + e->off, s, len) == 0) return k - 1;
  }
}

int64_t strmap_find(const StrMap *m, const char *s, size_t len) {
  if (!m->cap) return -1;
  size_t slot;
  return strmap_probe(m, s, len, data_hash_bytes(s, len), &slot);
}

static int strmap_rehash(StrMap *m, size_t ncap) {
  uint32_t *ns = calloc(ncap, sizeof *ns);
  if (!ns) return 0;
  size_t mask = ncap - 1;
  for (size_t k = 0; k < m->n; k++) {
    size_t i = m->e[k].hash & mask;
    while (ns[i]) i = (i + 1) & mask;
    ns[i] = (uint32_t)(k + 1);
  }
  free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 1;
}

int64_t strmap_put(StrMap *m, const char *s, size_t len, int64_t init, int *created) {
  if (created) *created = 0;
  if (m->n >= UINT32_MAX - 1) return -1;
  if (2 * (m->n + 1) > m->cap && !strmap_rehash(m, m->cap ? 2 * m->cap : 64)) return -1;
  uint64_t h = data_hash_bytes(s, len);
  size_t slot;
  int64_t k = strmap_probe(m, s, len, h, &slot);
  if (k >= 0) return k;
  if (m->n == m->ecap) {
    size_t nc = m->ecap ? 2 * m->ecap : 64;
    StrMapEntry *ne = realloc(m->e, nc * sizeof *ne);
    if (!ne) return -1;
    m->e = ne;
    m->ecap = nc;
  }
  if (m->pool_len + len + 1 > m->pool_cap) {
    size_t nc = m->pool_cap ? m->pool_cap : 4096;
    while (nc < m->pool_len + len + 1) nc *= 2;
    char *np = realloc(m->pool, nc);
    if (!np) return -1;
    m->pool = np;
    m->pool_cap = nc;
  }
  memcpy(m->pool + m->pool_len, s, len);
  m->pool[m->pool_len + len] = 0;
  m->e[m->n] = (StrMapEntry){h, m->pool_len, len, init};
  m->pool_len += len + 1;
  m->slots[slot] = (uint32_t)(m->n + 1);
  if (created) *created = 1;
  return (int64_t)m->n++;
}
