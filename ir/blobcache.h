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
 *
 * A folder has a size limit (bc_limit: $MAMC_CACHE_MAX, default 1 GiB). Opening it removes
 * the least recently used entries past the limit; a read refreshes its entry's modification
 * time, which is what "recently used" means here. Removing any entry is always safe: it is
 * compiled again when next needed.
 */
#ifndef MAMC_BLOBCACHE_H
#define MAMC_BLOBCACHE_H

#include <stddef.h>
#include <stdint.h>

enum { BC_HEADER = 88, BC_MAX_EXTS = 8 };

typedef struct BlobCache {
  char dir[512]; /* "" when the disk cache is off */
} BlobCache;

/* What a folder holds: its entries (regular files named <64 hex digits>.<ext>), in all and per
 * extension (the first BC_MAX_EXTS seen, sorted by name; more are counted in the totals only),
 * and temporary files of writers. Other files and subfolders are not the cache's. */
typedef struct BcUsage {
  long files;
  uint64_t bytes;
  int n_exts;
  struct {
    char ext[16];
    long files;
    uint64_t bytes;
  } by_ext[BC_MAX_EXTS];
  long temporaries;
} BcUsage;

/* The folder bc_open would choose (rules below) into out, without creating it; "" for none. */
void bc_choose(const char *dir, const char *env, char *out, size_t len);

/* Chooses and creates the folder: `dir` when not NULL ("" for none); else the environment
 * variable `env` ("0" or "off": none; another value: that folder); else $XDG_CACHE_HOME/mamc,
 * else $HOME/.cache/mamc. A folder that cannot be created turns the cache off with a warning
 * on stderr naming it (compiling still works; it is only slower). Temporary files older than a
 * day (writers killed mid-write) are removed, and so are the least recently used entries past
 * bc_limit(). */
void bc_open(BlobCache *c, const char *dir, const char *env);

/* A folder's usage. 1, or 0 when it cannot be read (errno says why; ENOENT: not made yet). */
int bc_usage(const char *dir, BcUsage *u);

/* Removes the least recently used entries (oldest modification time first) until at most
 * max_bytes of entries remain; max_bytes 0 removes every entry, and then temporary files too.
 * Returns the number of files removed, or -1 when the folder cannot be read. */
long bc_trim(const char *dir, uint64_t max_bytes);

/* A size: a whole number of bytes with an optional K, M, G or T suffix (powers of 1024; "B"
 * and "iB" may follow). 1 ok; 0 when s is not one. */
int bc_parse_size(const char *s, uint64_t *out);

/* The size limit of a cache folder: $MAMC_CACHE_MAX when set ("0": none, returned as
 * UINT64_MAX), else 1 GiB. A value that is not a size is reported on stderr and the default
 * used. */
uint64_t bc_limit(void);

/* The file of entry `key` (ext without the dot) into path. */
void bc_path(const BlobCache *c, const uint8_t key[32], const char *ext, char *path, size_t len);

/* 1: a valid entry, its payload in *data (malloc'd) and *n; 0: none (absent, or the cache is
 * off); -1: present but corrupt (nothing allocated). */
int bc_read(const BlobCache *c, const uint8_t key[32], uint32_t kind, const char *ext, uint8_t **data, size_t *n);

/* Writes the entry atomically. 1 ok; 0 when it could not be written (nothing left behind). */
int bc_write(const BlobCache *c, const uint8_t key[32], uint32_t kind, const char *ext, const uint8_t *data, size_t n);

#endif
