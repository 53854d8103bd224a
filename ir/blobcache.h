/* blobcache.h — a folder of content-addressed blobs on disk: the storage under both kernel
 * caches (CPU objects: codegen/jit.c; CUDA device code: runtime/cuda/kcache.c).
 *
 * The caller names an entry by a 32-byte key (a SHA-256 of everything that decides the
 * blob's bytes) and a kind (what the blob is: its own tag per cache). One file per entry,
 * <dir>/<hex of key>.<ext>:
 *     "MAMCKC1\n" | key[32] | kind u32 | 0 u32 | length u64 | sha256(payload)[32] | payload
 * (88 bytes of header, little-endian). An entry is written to a temporary file in the same
 * folder and renamed into place: a reader sees a whole entry or none, and concurrent writers
 * of one key write the same bytes. An entry whose magic, key, kind, length or payload digest
 * does not match is reported corrupt; the caller rebuilds it and writes it again.
 */
#ifndef MAMC_BLOBCACHE_H
#define MAMC_BLOBCACHE_H

#include <stddef.h>
#include <stdint.h>

enum { BC_HEADER = 88 };

typedef struct BlobCache {
  char dir[512]; /* "" when the disk cache is off */
} BlobCache;

/* Chooses and creates the folder: `dir` when not NULL ("" for none); else the environment
 * variable `env` ("0" or "off": none; another value: that folder); else $XDG_CACHE_HOME/mamc,
 * else $HOME/.cache/mamc. A folder that cannot be created turns the cache off with a warning
 * on stderr naming it (compiling still works; it is only slower). Temporary files older than a
 * day (writers killed mid-write) are removed. */
void bc_open(BlobCache *c, const char *dir, const char *env);

/* The file of entry `key` (ext without the dot) into path. */
void bc_path(const BlobCache *c, const uint8_t key[32], const char *ext, char *path, size_t len);

/* 1: a valid entry, its payload in *data (malloc'd) and *n; 0: none (absent, or the cache is
 * off); -1: present but corrupt (nothing allocated). */
int bc_read(const BlobCache *c, const uint8_t key[32], uint32_t kind, const char *ext, uint8_t **data, size_t *n);

/* Writes the entry atomically. 1 ok; 0 when it could not be written (nothing left behind). */
int bc_write(const BlobCache *c, const uint8_t key[32], uint32_t kind, const char *ext, const uint8_t *data, size_t n);

#endif
