/* jit.c — the CPU JIT session (cpu.h): an ORC LLJIT for the host CPU, a host TargetMachine
 * for the -O2 pipeline (new pass manager, loop and SLP vectorisation) and code generation,
 * glibc's libmvec for vectorised libm calls, a session cache keyed by the KIR text and an
 * on-disk cache of object files (ir/blobcache.h).
 *
 * Per kernel: KIR -> module (llvm.c) in its own context -> its disk key (below) -> the
 * object file from the disk cache, or else LLVMRunPasses("default<O2>") and the machine's
 * code generation into an object file that is then stored -> LLJIT links the object ->
 * function address. Hits and misses load the same way: an object file into the JIT.
 * The disk key is the SHA-256 of the unoptimised LLVM IR text (what the emitter made of the
 * KIR: an emitter change is a new key) with everything else that decides the object: the
 * LLVM version (run time), the triple, CPU and feature string, the optimisation setting and
 * the pass pipeline. The kernel's symbol is named by its key, so an object read back
 * defines the symbol the session looks up.
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

#include "blobcache.h"
#include "llvm_emit.h"
#include "sha256.h"

typedef struct CacheEnt {
  char *kir; /* canonical KIR text */
  uint8_t key[32]; /* disk key */
  CgFn fn;
} CacheEnt;

enum { KIND_CPU_OBJECT = 16 }; /* blobcache kind of an object file (kcache.h's CUDA kinds: 0, 1) */
static const char PIPELINE[] = "default<O2> loop-vectorize slp-vectorize loop-unroll";

struct CgCpu {
  pthread_mutex_t lock;
  LLVMOrcLLJITRef jit;
  LLVMTargetMachineRef tm; /* for the pass pipeline */
  char *triple, *cpu, *features, *dl;
  CgLlvmTarget tg;
  CacheEnt *cache;
  int ncache, capcache, compiled, hits;
  int opt; /* 1: -O2 and the default code generation level; 0 (MAMC_JIT_OPT=0): neither */
  BlobCache disk;
  CgCpuDiskStats dstats;
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
  bc_open(&s->disk, NULL, "MAMC_JIT_CACHE");
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

void cg_cpu_disk_stats(const CgCpu *s, CgCpuDiskStats *st) {
  if (s) *st = s->dstats;
  else memset(st, 0, sizeof *st);
}

void cg_cpu_set_cache_dir(CgCpu *s, const char *dir) {
  if (s) bc_open(&s->disk, dir ? dir : "", NULL);
}

const char *cg_cpu_cache_dir(const CgCpu *s) { return s ? s->disk.dir : ""; }

/* Runs the -O2 pipeline (PIPELINE says what it is) over m for the host. 1 ok; 0 with err. */
static int optimise(CgCpu *s, LLVMModuleRef m, char *err, size_t errlen) {
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
  LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
  LLVMErrorRef e = LLVMRunPasses(m, "default<O2>", s->tm, po);
  LLVMDisposePassBuilderOptions(po);
  return e ? llvm_fail(e, "optimising", err, errlen) : 1;
}

/* Module for k in ctx, optimised at -O2 for the host unless optimised == 0. */
static LLVMModuleRef build(CgCpu *s, LLVMContextRef ctx, const Kir *k, const char *name, int optimised,
                           char *err, size_t errlen) {
  LLVMModuleRef m = cg_llvm_module(ctx, k, name, &s->tg, err, errlen);
  if (m && optimised && !optimise(s, m, err, errlen)) {
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

/* The disk key of unoptimised module text `ir` (see the top of this file). */
static void object_key(const CgCpu *s, const char *ir, uint8_t key[32]) {
  unsigned major, minor, patch;
  LLVMGetVersion(&major, &minor, &patch);
  char head[96];
  snprintf(head, sizeof head, "mamc-cpu-object 1 llvm %u.%u.%u opt %d", major, minor, patch, s->opt);
  const char *parts[] = {head, s->triple, s->cpu, s->features, s->opt ? PIPELINE : "none", ir};
  Sha256 h;
  sha256_init(&h);
  for (int i = 0; i < COUNT_OF(parts); i++) sha256_update(&h, parts[i], strlen(parts[i]) + 1);
  sha256_final(&h, key);
}

/* The object file of m (k's unoptimised module, whose disk key is `key`), its function renamed
 * to `sym`: read from the disk cache, or optimised, generated and stored there. NULL with err. */
static LLVMMemoryBufferRef object_of(CgCpu *s, LLVMModuleRef m, const uint8_t key[32], const char *sym, char *err,
                                     size_t errlen) {
  uint8_t *data;
  size_t n;
  int r = bc_read(&s->disk, key, KIND_CPU_OBJECT, "o", &data, &n);
  if (r == 1) {
    LLVMMemoryBufferRef obj = LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)data, n, sym);
    free(data);
    s->dstats.hits++;
    return obj;
  }
  if (r < 0) s->dstats.corrupt++;
  LLVMSetValueName2(LLVMGetNamedFunction(m, "mamc_kernel"), sym, strlen(sym));
  if (s->opt && !optimise(s, m, err, errlen)) return NULL;
  char *msg = NULL;
  LLVMMemoryBufferRef obj = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(s->tm, m, LLVMObjectFile, &msg, &obj)) {
    snprintf(err, errlen, "LLVM: generating code: %s", msg ? msg : "?");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  s->dstats.compiled++;
  if (s->disk.dir[0] && !bc_write(&s->disk, key, KIND_CPU_OBJECT, "o", (const uint8_t *)LLVMGetBufferStart(obj),
                                  LLVMGetBufferSize(obj)))
    s->dstats.write_failures++;
  return obj;
}

/* Links object file obj (taken) into the JIT; the address of sym, or NULL with err. */
static CgFn load(CgCpu *s, LLVMMemoryBufferRef obj, const char *sym, char *err, size_t errlen) {
  LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(s->jit, LLVMOrcLLJITGetMainJITDylib(s->jit), obj);
  LLVMOrcExecutorAddress addr = 0;
  if (e) llvm_fail(e, "adding the object file", err, errlen);
  else if ((e = LLVMOrcLLJITLookup(s->jit, &addr, sym))) llvm_fail(e, "linking", err, errlen), addr = 0;
  CgFn fn = NULL;
  if (addr) memcpy(&fn, &addr, sizeof fn < sizeof addr ? sizeof fn : sizeof addr); /* executor address -> function */
  return fn;
}

static int grow_cache(CgCpu *s) {
  if (s->ncache < s->capcache) return 1;
  int cap = s->capcache ? 2 * s->capcache : 16;
  CacheEnt *c = realloc(s->cache, sizeof *c * (size_t)cap);
  if (!c) return 0;
  s->cache = c;
  s->capcache = cap;
  return 1;
}

/* k's function: from the session (the same KIR text, or another text that makes the same
 * module), else from its object file (disk cache or LLVM). */
static CgFn compile_locked(CgCpu *s, const Kir *k, char *err, size_t errlen) {
  StrBuf text;
  sb_init(&text);
  kir_print(&text, k, 0);
  if (text.failed || !text.s || !grow_cache(s)) {
    sb_free(&text);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (int i = 0; i < s->ncache; i++)
    if (strcmp(s->cache[i].kir, text.s) == 0) {
      s->hits++;
      sb_free(&text);
      return s->cache[i].fn;
    }
  CacheEnt *ce = &s->cache[s->ncache];
  CgFn fn = NULL;
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef m = cg_llvm_module(ctx, k, "mamc_kernel", &s->tg, err, errlen);
  if (m) {
    char *ir = LLVMPrintModuleToString(m);
    object_key(s, ir, ce->key);
    LLVMDisposeMessage(ir);
    for (int i = 0; i < s->ncache && !fn; i++)
      if (memcmp(s->cache[i].key, ce->key, 32) == 0) fn = s->cache[i].fn;
    if (fn) {
      s->hits++;
    } else {
      char hex[65], sym[48];
      sha256_hex(ce->key, hex);
      snprintf(sym, sizeof sym, "mamc_%.32s", hex);
      LLVMMemoryBufferRef obj = object_of(s, m, ce->key, sym, err, errlen);
      if (obj && (fn = load(s, obj, sym, err, errlen))) s->compiled++;
    }
    LLVMDisposeModule(m);
  }
  LLVMContextDispose(ctx);
  if (!fn) {
    sb_free(&text);
    return NULL;
  }
  ce->kir = text.s; /* owned by the cache now */
  ce->fn = fn;
  s->ncache++;
  return fn;
}

int cg_cpu_compile_kir(CgCpu *s, const Kir *k, CgKernel *out, char *err, size_t errlen) {
  if (!s) {
    snprintf(err, errlen, "no JIT session");
    return 0;
  }
  if (!cg_describe(k, out, err, errlen)) return 0;
  pthread_mutex_lock(&s->lock);
  out->fn = compile_locked(s, k, err, errlen);
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
void cg_cpu_disk_stats(const CgCpu *s, CgCpuDiskStats *st) {
  (void)s;
  memset(st, 0, sizeof *st);
}
void cg_cpu_set_cache_dir(CgCpu *s, const char *dir) { (void)s, (void)dir; }
const char *cg_cpu_cache_dir(const CgCpu *s) {
  (void)s;
  return "";
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
