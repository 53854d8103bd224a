/* kcache.h — CUDA C -> device code through NVRTC, with an on-disk cache.
 *
 * Target: a cubin for the device's compute capability (sm_90 on Hopper) when this NVRTC
 * supports it, else PTX for the highest virtual architecture it supports at or below the
 * device's (the driver JIT-compiles PTX when loading it). MAMC_CUDA_PTX=1 forces PTX.
 *
 * Cache: $MAMC_CUDA_CACHE, else $XDG_CACHE_HOME/mamc, else ~/.cache/mamc (MAMC_CUDA_CACHE=0
 * turns it off). One file per compiled program, named by the SHA-256 of everything that
 * decides its bytes: the source, the kernel name, the options, the target and the NVRTC
 * version; stored as ir/blobcache.h describes (kind 0: cubin, 1: PTX), written atomically. An
 * entry whose header, length or payload digest does not match is counted as corrupt, compiled
 * again and replaced. NVRTC itself needs no GPU: everything here runs without a device.
 */
#ifndef MAMC_KCACHE_H
#define MAMC_KCACHE_H

#include <stdint.h>

#include "blobcache.h"
#include "cu_lib.h"

typedef struct KTarget {
  int arch;       /* e.g. 90 */
  int ptx;        /* 1: PTX for compute_<arch>; 0: cubin for sm_<arch> */
} KTarget;

typedef struct KBlob {
  uint8_t *data;  /* malloc'd; PTX is NUL-terminated (n counts the NUL) */
  size_t n;
  int ptx;
} KBlob;

typedef struct KCache {
  CuLib *L;               /* with CU_PART_NVRTC loaded */
  BlobCache disk;         /* disk.dir: "" when the disk cache is off */
  int nvrtc_major, nvrtc_minor;
  int hits, misses, corrupt, write_failures;
  double compile_seconds; /* in NVRTC */
} KCache;

/* Sets up the cache over an opened CuLib (NVRTC loaded). dir: the cache folder, NULL for
 * the default above, "" for none. Creates the folder. 1 ok; 0 with L->err. */
int kc_init(KCache *c, CuLib *L, const char *dir);

/* The target for a device of compute capability cc (major * 10 + minor). 1 ok; 0 with
 * L->err when this NVRTC supports no architecture at or below cc. */
int kc_target(KCache *c, int cc, KTarget *t);

/* Device code for `src` (one translation unit; `name` names it in NVRTC's messages) with the
 * given extra NVRTC options (the target's and the project's defaults are added). From the
 * cache when it holds a valid entry; else compiled and stored. 1 ok (free out->data); 0 with
 * L->err (NVRTC's log included; the source is written to a file the message names). */
int kc_get(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts, int nopts,
           KBlob *out);

/* The cache file kc_get uses for these inputs (for tests), into path. */
void kc_entry_path(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts,
                   int nopts, char *path, size_t len);

#endif
