/* sha256.h — SHA-256 (FIPS 180-4), small and dependency-free: the kernel caches' keys and the
 * integrity check of their entries (blobcache.c; codegen/jit.c, runtime/cuda/kcache.c).
 * Streaming: init, update any number of times, final. */
#ifndef MAMC_SHA256_H
#define MAMC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct Sha256 {
  uint32_t h[8];
  uint64_t bytes;     /* message length so far */
  uint8_t buf[64];
  size_t nbuf;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t out[32]);
/* One-shot digest; hex: 64 lowercase hex digits + NUL. */
void sha256(const void *data, size_t n, uint8_t out[32]);
void sha256_hex(const uint8_t d[32], char hex[65]);

#endif
