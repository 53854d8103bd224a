/* ksrc.h — the hand-written kernel sources (runtime/cuda/kernels/), embedded in the binary at
 * build time by embed.cmake, and the text of one compilable module: kargs.h, common.cuh and
 * the kernel file, in that order (NVRTC gets no include path). */
#ifndef MAMC_KSRC_H
#define MAMC_KSRC_H

typedef struct KSource {
  const char *name; /* file name, e.g. "attention.cu" */
  const char *text;
} KSource;

extern const KSource ksrc_files[]; /* ends with {0, 0} */

/* The text of file `name`, or NULL. */
const char *ksrc_get(const char *name);

/* The module names (kernel files without ".cu"), in a fixed order. */
enum { KMOD_MOVE, KMOD_NORM, KMOD_XENT, KMOD_ADAMW, KMOD_ATTENTION, KMOD_LINATTN, KMOD_ATTENTION_TC, KMOD_COUNT };
const char *ksrc_module_name(int mod);

/* malloc'd text of module `mod` (kargs.h + common.cuh + <name>.cu); NULL when out of memory. */
char *ksrc_module(int mod);

#endif
