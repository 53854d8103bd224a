/* ksrc.h — the hand-written kernel sources (runtime/cuda/kernels/), embedded in the binary at
 * build time by embed.cmake, and the text of one compilable module: kargs.h, common.cuh and
 * the module's kernel files, in that order (NVRTC gets no include path). */
#ifndef MAMC_KSRC_H
#define MAMC_KSRC_H

typedef struct KSource {
  const char *name; /* file name, e.g. "attention.cu" */
  const char *text;
} KSource;

extern const KSource ksrc_files[]; /* ends with {0, 0} */

/* The text of file `name`, or NULL. */
const char *ksrc_get(const char *name);

/* The modules, in a fixed order: a name and up to KSRC_MAX_FILES kernel files (a file may use
 * the helpers of the files before it, e.g. linattn_tc.cu linattn.cu's). */
#define KSRC_MAX_FILES 2
enum { KMOD_MOVE, KMOD_NORM, KMOD_XENT, KMOD_ADAMW, KMOD_ATTENTION, KMOD_LINATTN, KMOD_ATTENTION_TC, KMOD_COUNT };
const char *ksrc_module_name(int mod);
/* File i of module mod ("linattn.cu"), or NULL past its last. */
const char *ksrc_module_file(int mod, int i);

/* malloc'd text of module `mod` (kargs.h + common.cuh + its files); NULL when a file is missing
 * or out of memory. */
char *ksrc_module(int mod);

#endif
