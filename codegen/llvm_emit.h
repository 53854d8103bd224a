/* llvm_emit.h — internal to codegen/ (LLVM builds only): the KIR -> LLVM IR printer
 * (llvm.c) as the JIT session (jit.c) calls it.
 */
#ifndef MAMC_CG_LLVM_EMIT_H
#define MAMC_CG_LLVM_EMIT_H

#include <llvm-c/Core.h>

#include "codegen.h"

typedef struct CgLlvmTarget {
  const char *triple, *datalayout;
  /* x86 vector ISAs whose glibc libmvec variants the vectoriser may call, as VFABI letters
   * ("b" SSE4, "d" AVX2, "e" AVX-512), "" for none (libm is then called per element) */
  char isas[4];
} CgLlvmTarget;

/* Build the module of kernel k in ctx: one function `name` with the CgFn signature.
 * NULL with a message on failure. */
LLVMModuleRef cg_llvm_module(LLVMContextRef ctx, const Kir *k, const char *name, const CgLlvmTarget *tg,
                             char *err, size_t errlen);

#endif
