/* safetensors.h — reading and writing safetensors files (the Hugging Face format): an 8-byte
 * little-endian header length, a JSON header {"name": {"dtype", "shape", "data_offsets"},
 * "__metadata__": {string: string}}, then the raw little-endian data.
 *
 * Writes are atomic: a temporary file in the same folder, fsync, rename. Reads check every
 * offset and size against the file, so a truncated or corrupt file is an error, never a crash.
 */
#ifndef MAMC_SAFETENSORS_H
#define MAMC_SAFETENSORS_H

#include "tensor.h"

typedef struct StEntry {
  const char *name;
  const Tensor *t;   /* written in its own dtype (F32, F64, BF16, F16, I32) */
} StEntry;

typedef struct StMeta {
  const char *key, *value;
} StMeta;

int st_write(const char *path, const StEntry *entries, int n, const StMeta *meta, int nmeta, char *err, size_t errlen);

typedef struct StFile {
  int n;
  char **names;
  Tensor *tensors;   /* owned */
  int nmeta;
  char **meta_keys, **meta_values;
} StFile;

/* Reads the whole file. 1 ok; 0 with a message naming the file and the problem. */
int st_read(const char *path, StFile *out, char *err, size_t errlen);
/* The same, from the file's bytes already in memory (path is used in messages only). */
int st_parse(const void *bytes, size_t len, const char *path, StFile *out, char *err, size_t errlen);
void st_free(StFile *f);
/* The tensor named name, or NULL. */
const Tensor *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);

#endif
