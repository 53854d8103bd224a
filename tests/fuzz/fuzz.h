/* fuzz.h — shared by the fuzz harnesses (tests/fuzz/fuzz_*.c). Each harness defines one entry
 * point `int fuzz_NAME(const uint8_t *data, size_t size)` that feeds the bytes to one parser
 * the way a file on disk would reach it, and checks the properties every accepted input must
 * have (it verifies, it round-trips); a broken property aborts, which libFuzzer reports as a
 * crash. FUZZ_TARGET(fn) makes the entry point libFuzzer's LLVMFuzzerTestOneInput when the
 * file is built for libFuzzer (MAMC_LIBFUZZER, MAMC_FUZZ=ON); in the normal build the same
 * entry points are called by replay.c on every file of the corpora and of crashes/.
 *
 * Harnesses keep no state between inputs except read-only setup made on the first call.
 */
#ifndef MAMC_FUZZ_H
#define MAMC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

typedef int (*FuzzFn)(const uint8_t *data, size_t size);

int fuzz_mam(const uint8_t *data, size_t size);
int fuzz_ir(const uint8_t *data, size_t size);
int fuzz_yaml(const uint8_t *data, size_t size);
int fuzz_safetensors(const uint8_t *data, size_t size);
int fuzz_vocab(const uint8_t *data, size_t size);

#ifdef MAMC_LIBFUZZER
#define FUZZ_TARGET(fn)                                                                    \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                            \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define FUZZ_TARGET(fn)
#endif

/* A property every accepted input must have does not hold: print and abort (a finding). */
#define FUZZ_ASSERT(cond, ...)                                                             \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond);     \
      fprintf(stderr, __VA_ARGS__);                                                        \
      fputc('\n', stderr);                                                                 \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

/* The text of a StrBuf ("" when nothing was written). */
static inline const char *fuzz_text(const StrBuf *b) { return b->s ? b->s : ""; }

/* The input as a source file, as srcfile_read would make it: NULL for inputs a file read
 * rejects (a NUL byte), so the harness returns without parsing. */
static inline SrcFile *fuzz_srcfile(Arena *a, const char *name, const uint8_t *data, size_t size) {
  if (memchr(data, 0, size)) return NULL;
  SrcFile *f = ARENA_NEW(a, SrcFile);
  f->name = name;
  f->len = size;
  f->text = arena_strndup(a, (const char *)data, size);
  return f;
}

#endif
