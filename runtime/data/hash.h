/* hash.h — two small open-addressing hash maps used by the data pipeline (BPE training, the
 * merge table, the encode cache, piece lookup). Heap-allocated (malloc), owned by whoever
 * holds the map; no global state. Allocation failures return an error, never abort.
 *
 *   U64Map  uint64 key -> int64 value   (key UINT64_MAX is reserved as "empty")
 *   StrMap  byte string -> int64 value  (keys copied into the map; entries keep insertion
 *           order, so iterating e[0..n) is deterministic)
 */
#ifndef MAMC_DATA_HASH_H
#define MAMC_DATA_HASH_H

#include <stddef.h>
#include <stdint.h>

#define U64MAP_EMPTY UINT64_MAX

typedef struct U64Map {
  uint64_t *keys;
  int64_t *vals;
  size_t cap, n; /* cap is a power of two (or 0) */
} U64Map;

void u64map_init(U64Map *m);
void u64map_free(U64Map *m);
/* The value slot of `key`, or NULL when absent. Valid until the next insertion. */
int64_t *u64map_get(const U64Map *m, uint64_t key);
/* The value slot of `key`, inserting it with value `init` when absent (*created = 1).
 * NULL when out of memory. Valid until the next insertion. */
int64_t *u64map_put(U64Map *m, uint64_t key, int64_t init, int *created);

typedef struct StrMapEntry {
  uint64_t hash;
  size_t off; /* key bytes at pool + off */
  size_t len;
  int64_t val;
} StrMapEntry;

typedef struct StrMap {
  uint32_t *slots; /* entry index + 1; 0 = empty */
  size_t cap;      /* number of slots, a power of two (or 0) */
  StrMapEntry *e;  /* entries in insertion order */
  size_t n, ecap;
  char *pool;
  size_t pool_len, pool_cap;
} StrMap;

void strmap_init(StrMap *m);
void strmap_free(StrMap *m);
void strmap_clear(StrMap *m); /* drop every entry, keep the storage */
/* Entry index of the key, or -1. */
int64_t strmap_find(const StrMap *m, const char *s, size_t len);
/* Entry index of the key, inserting it with value `init` when absent (*created = 1);
 * -1 when out of memory (or past 2^32-1 entries). */
int64_t strmap_put(StrMap *m, const char *s, size_t len, int64_t init, int *created);
static inline const char *strmap_key(const StrMap *m, size_t i) { return m->pool + m->e[i].off; }

uint64_t data_hash_bytes(const char *s, size_t len);

#endif
