/* jit.c — the CPU JIT session (cpu.h): an ORC LLJIT for the host CPU, a host TargetMachine
 * for the -O2 pipeline (new pass manager, loop and SLP vectorisation), glibc's libmvec for
 * vectorised libm calls, and a compile cache keyed by the KIR text.
 *
 * Per kernel: KIR -> module (llvm.c) in its own context -> LLVMRunPasses("default<O2>")
 * with the host machine -> LLJIT (codegen at the machine's level) -> function address.
 * MAMC_JIT_OPT=0 skips the pipeline and generates code at LLVM's lowest level: kernels compile
 * several times faster and run slower (the valgrind copies of the tests use it; debugging).
 * LLVM's one-time target initialisation runs under pthread_once; everything else lives in
 * the session. Built without LLVM, only the stubs at the end of this file exist.
 */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#if MAMC_HAVE_LLVM
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>

#include "llvm_emit.h"

typedef struct CacheEnt {
  char *kir; /* canonical KIR text */
  CgFn fn;
} CacheEnt;

struct CgCpu {
  pthread_mutex_t lock;
  LLVMOrcLLJITRef jit;
  LLVMTargetMachineRef tm; /* for the pass pipeline */
  char *triple, *cpu, *features, *dl;
  CgLlvmTarget tg;
  CacheEnt *cache;
  int ncache, capcache, compiled, hits;
  int opt; /* 1: -O2 and the default code generation level; 0 (MAMC_JIT_OPT=0): neither */
};

static pthread_once_t llvm_once = PTHREAD_ONCE_INIT;
static int llvm_init_ok;
static void llvm_init(void) {
  llvm_init_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter();
}

int cg_cpu_available(void) { return 1; }

/* Take an LLVMErrorRef's message into err; returns 0 (for `return llvm_fail(...)`). */
static int llvm_fail(LLVMErrorRef e, const char *what, char *err, size_t errlen) {
  char *m = LLVMGetErrorMessage(e);
  snprintf(err, errlen, "LLVM: %s: %s", what, m ? m : "?");
  LLVMDisposeErrorMessage(m);
  return 0;
}

static LLVMTargetMachineRef host_tm(CgCpu *s, char *err, size_t errlen) {
  LLVMTargetRef t;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(s->triple, &t, &msg)) {
    snprintf(err, errlen, "LLVM: no target for %s: %s", s->triple, msg ? msg : "?");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  return LLVMCreateTargetMachine(t, s->triple, s->cpu, s->features, s->opt ? LLVMCodeGenLevelDefault : LLVMCodeGenLevelNone,
                                 LLVMRelocDefault, LLVMCodeModelJITDefault);
}

CgCpu *cg_cpu_new(char *err, size_t errlen) {
  pthread_once(&llvm_once, llvm_init);
  if (!llvm_init_ok) {
    snprintf(err, errlen, "LLVM: the native target could not be initialised");
    return NULL;
  }
  CgCpu *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  const char *opt = getenv("MAMC_JIT_OPT");
  s->opt = !opt || strcmp(opt, "0") != 0;
  s->triple = LLVMGetDefaultTargetTriple();
  s->cpu = LLVMGetHostCPUName();
  s->features = LLVMGetHostCPUFeatures();
  s->tm = host_tm(s, err, errlen);
  LLVMTargetMachineRef jtm = s->tm ? host_tm(s, err, errlen) : NULL;
  if (!s->tm || !jtm) {
    if (jtm) LLVMDisposeTargetMachine(jtm);
    cg_cpu_free(s);
    return NULL;
  }
  LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jtm));
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&s->jit, jb); /* consumes jb */
  if (e) {
    llvm_fail(e, "creating the JIT", err, errlen);
    s->jit = NULL;
    cg_cpu_free(s);
    return NULL;
  }
  s->dl = strdup(LLVMOrcLLJITGetDataLayoutStr(s->jit));
  LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(s->jit);
  LLVMOrcDefinitionGeneratorRef gen;
  char prefix = LLVMOrcLLJITGetGlobalPrefix(s->jit);
  if ((e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, prefix, NULL, NULL))) {
    llvm_fail(e, "process symbols", err, errlen);
    cg_cpu_free(s);
    return NULL;
  }
  LLVMOrcJITDylibAddGenerator(jd, gen);
  /* glibc's vector math library: the vectoriser may call its variants (x86-64 only) */
  int x86 = strncmp(s->triple, "x86_64", 6) == 0;
  if (x86 && !(e = LLVMOrcCreateDynamicLibrarySearchGeneratorForPath(&gen, "libmvec.so.1", prefix, NULL, NULL))) {
    LLVMOrcJITDylibAddGenerator(jd, gen);
    int n = 0;
    s->tg.isas[n++] = 'b';
    if (strstr(s->features, "+avx2")) s->tg.isas[n++] = 'd';
    if (strstr(s->features, "+avx512f")) s->tg.isas[n++] = 'e';
  } else if (e) {
    LLVMConsumeError(e); /* no libmvec: libm per element */
  }
  s->tg.triple = s->triple;
  s->tg.datalayout = s->dl;
  return s;
}

void cg_cpu_free(CgCpu *s) {
  if (!s) return;
  if (s->jit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(s->jit);
    if (e) LLVMConsumeError(e);
  }
  if (s->tm) LLVMDisposeTargetMachine(s->tm);
  LLVMDisposeMessage(s->triple);
  LLVMDisposeMessage(s->cpu);
  LLVMDisposeMessage(s->features);
  free(s->dl);
  for (int i = 0; i < s->ncache; i++) free(s->cache[i].kir);
  free(s->cache);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

void cg_cpu_stats(const CgCpu *s, int *compiled, int *hits) {
  if (compiled) *compiled = s ? s->compiled : 0;
  if (hits) *hits = s ? s->hits : 0;
}

/* Module for k in ctx, optimised at -O2 for the host unless optimised == 0. */
static LLVMModuleRef build(CgCpu *s, LLVMContextRef ctx, const Kir *k, const char *name, int optimised,
                           char *err, size_t errlen) {
  LLVMModuleRef m = cg_llvm_module(ctx, k, name, &s->tg, err, errlen);
  if (!m || !optimised) return m;
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
  LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
  LLVMErrorRef e = LLVMRunPasses(m, "default<O2>", s->tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (e) {
    llvm_fail(e, "optimising", err, errlen);
    LLVMDisposeModule(m);
    return NULL;
  }
  return m;
}

char *cg_cpu_llvm_ir(CgCpu *s, const Kir *k, int optimised, char *err, size_t errlen) {
  if (!s) {
    snprintf(err, errlen, "no JIT session");
    return NULL;
  }
  pthread_mutex_lock(&s->lock);
  LLVMContextRef ctx = LLVMContextCreate();
  char name[24], *out = NULL;
  kir_name(k, name, sizeof name);
  LLVMModuleRef m = build(s, ctx, k, name, optimised, err, errlen);
  if (m) {
    char *ir = LLVMPrintModuleToString(m);
    out = strdup(ir);
    LLVMDisposeMessage(ir);
    LLVMDisposeModule(m);
  }
  LLVMContextDispose(ctx);
  pthread_mutex_unlock(&s->lock);
  return out;
}

static CgFn compile_locked(CgCpu *s, const Kir *k, const char *name, char *err, size_t errlen) {
  StrBuf key;
  sb_init(&key);
  kir_print(&key, k, 0);
  if (key.failed || !key.s) {
    sb_free(&key);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (int i = 0; i < s->ncache; i++)
    if (strcmp(s->cache[i].kir, key.s) == 0) {
      s->hits++;
      sb_free(&key);
      return s->cache[i].fn;
    }
  char sym[48]; /* unique within the JIT even if two texts hash alike */
  snprintf(sym, sizeof sym, "%s_%d", name, s->compiled);
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef m = build(s, LLVMOrcThreadSafeContextGetContext(tsc), k, sym, s->opt, err, errlen);
  if (!m) {
    LLVMOrcDisposeThreadSafeContext(tsc);
    sb_free(&key);
    return NULL;
  }
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps it alive */
  LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(s->jit, LLVMOrcLLJITGetMainJITDylib(s->jit), tsm);
  LLVMOrcExecutorAddress addr = 0;
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    llvm_fail(e, "adding the module", err, errlen);
  } else if ((e = LLVMOrcLLJITLookup(s->jit, &addr, sym))) {
    llvm_fail(e, "compiling", err, errlen);
    addr = 0;
  }
  if (!addr) {
    sb_free(&key);
    return NULL;
  }
  if (s->ncache == s->capcache) {
    int cap = s->capcache ? 2 * s->capcache : 16;
    CacheEnt *c = realloc(s->cache, sizeof *c * (size_t)cap);
    if (!c) {
      sb_free(&key);
      snprintf(err, errlen, "out of memory");
      return NULL;
    }
    s->cache = c;
    s->capcache = cap;
  }
  CgFn fn;
  memcpy(&fn, &addr, sizeof fn < sizeof addr ? sizeof fn : sizeof addr); /* executor address -> function */
  s->cache[s->ncache++] = (CacheEnt){key.s, fn};
  s->compiled++;
  return fn; /* key.s is owned by the cache now */
}

int cg_cpu_compile_kir(CgCpu *s, const Kir *k, CgKernel *out, char *err, size_t errlen) {
  if (!s) {
    snprintf(err, errlen, "no JIT session");
    return 0;
  }
  if (!cg_describe(k, out, err, errlen)) return 0;
  pthread_mutex_lock(&s->lock);
  out->fn = compile_locked(s, k, out->name, err, errlen);
  pthread_mutex_unlock(&s->lock);
  return out->fn != NULL;
}

#else /* ---- built without LLVM --------------------------------------------------------------- */

static const char no_llvm[] = "mamc was built without LLVM (MAMC_WITH_LLVM=OFF): CPU kernels run in the interpreter";

int cg_cpu_available(void) { return 0; }
CgCpu *cg_cpu_new(char *err, size_t errlen) {
  snprintf(err, errlen, "%s", no_llvm);
  return NULL;
}
void cg_cpu_free(CgCpu *s) { (void)s; }
void cg_cpu_stats(const CgCpu *s, int *compiled, int *hits) {
  (void)s;
  if (compiled) *compiled = 0;
  if (hits) *hits = 0;
}
char *cg_cpu_llvm_ir(CgCpu *s, const Kir *k, int optimised, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", no_llvm);
  return NULL;
}
int cg_cpu_compile_kir(CgCpu *s, const Kir *k, CgKernel *out, char *err, size_t errlen) {
  if (!cg_describe(k, out, err, errlen)) return 0;
  snprintf(err, errlen, "%s", no_llvm);
  return 0;
}
#endif

int cg_cpu_compile(CgCpu *s, const IrProgram *p, const IrGraph *g, const int *nodes, int nnodes, CgKernel *out,
                   char *err, size_t errlen) {
  Kir k;
  memset(out, 0, sizeof *out);
  if (!cg_lower(p, g, nodes, nnodes, &k, err, errlen)) return 0;
  int ok = cg_cpu_compile_kir(s, &k, out, err, errlen);
  kir_free(&k);
  return ok;
}
