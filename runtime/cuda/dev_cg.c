/* dev_cg.c — generated fusion kernels on the device (dev.h): groups lowered to the kernel IR
 * (codegen/), printed as CUDA C (codegen/cuda_c.c), compiled by NVRTC in parallel chunks of
 * kernels (one translation unit per chunk: the prelude is parsed once per chunk; chunks are
 * deterministic, so a warm kernel cache answers every one), loaded with cuModuleLoadData.
 * Kernels are named by the hash of their KIR text: identical groups anywhere share one
 * compiled function (Dev keeps them across executors). Emu mode compiles the same KIR with
 * the CPU JIT instead, or, where a test installed Dev.emu_cg_build, hands it the CUDA text. Buffers the caller stores as bf16 (in16 / out16 by node) are marked
 * in the KIR (KBuf.bf16) before it is named and printed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"

enum { CHUNK = 24 }; /* kernels per NVRTC program */

typedef struct CgEntry {
  char name[24];
  CUfunction fn;
} CgEntry;

struct DevCgCache {
  CgEntry *e;
  int n, cap;
  CUmodule *mods;
  int nmods;
};

static CUfunction cache_find(Dev *dev, const char *name) {
  struct DevCgCache *c = dev->cg_cache;
  for (int i = 0; c && i < c->n; i++)
    if (strcmp(c->e[i].name, name) == 0) return c->e[i].fn;
  return NULL;
}

static int cache_add(Dev *dev, const char *name, CUfunction fn, CUmodule mod) {
  struct DevCgCache *c = dev->cg_cache;
  if (!c && !(c = dev->cg_cache = calloc(1, sizeof *c))) return 0;
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 64;
    CgEntry *ne = realloc(c->e, sizeof *ne * (size_t)cap);
    if (!ne) return 0;
    c->e = ne;
    c->cap = cap;
  }
  snprintf(c->e[c->n].name, sizeof c->e[c->n].name, "%s", name);
  c->e[c->n++].fn = fn;
  if (mod) {
    CUmodule *nm = realloc(c->mods, sizeof *nm * (size_t)(c->nmods + 1));
    if (!nm) return 0;
    c->mods = nm;
    c->mods[c->nmods++] = mod;
  }
  return 1;
}

void dev_cg_cache_free(Dev *dev) {
  struct DevCgCache *c = dev->cg_cache;
  if (!c) return;
  for (int i = 0; i < c->nmods; i++)
    if (dev->have_ctx) dev->L.cuModuleUnload(c->mods[i]);
  free(c->mods);
  free(c->e);
  free(c);
  dev->cg_cache = NULL;
}

/* ---- compiling chunks in threads ---------------------------------------------------------------- */

typedef struct Chunk {
  Dev *dev;
  CuLib L;
  KCache kc;
  char *src;
  char name[32];
  int ok;
  KBlob blob;
} Chunk;

typedef struct Pool {
  Chunk *c;
  int n, next;
  pthread_mutex_t mu;
} Pool;

static void *worker(void *arg) {
  Pool *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    int i = p->next++;
    pthread_mutex_unlock(&p->mu);
    if (i >= p->n) return NULL;
    Chunk *c = &p->c[i];
    c->kc.L = &c->L;
    c->ok = kc_get(&c->kc, c->src, c->name, &c->dev->target, NULL, 0, &c->blob);
  }
}

static int compile_chunks(Dev *dev, Chunk *ch, int n) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int nt = (int)(cpus > 1 ? cpus : 1);
  if (nt > n) nt = n;
  if (nt > 32) nt = 32;
  Pool pool = {ch, n, 0, PTHREAD_MUTEX_INITIALIZER};
  pthread_t th[32];
  int started = 0;
  for (int t = 1; t < nt; t++)
    if (pthread_create(&th[started], NULL, worker, &pool) == 0) started++;
  worker(&pool);
  for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
  KCache base = dev->kc;
  int ok = 1;
  for (int i = 0; i < n; i++) {
    dev->kc.hits += ch[i].kc.hits - base.hits;
    dev->kc.misses += ch[i].kc.misses - base.misses;
    dev->kc.corrupt += ch[i].kc.corrupt - base.corrupt;
    dev->kc.compile_seconds += ch[i].kc.compile_seconds - base.compile_seconds;
    if (ok && !ch[i].ok) {
      memcpy(dev->L.err, ch[i].L.err, sizeof dev->L.err);
      ok = 0;
    }
  }
  return ok;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Emu mode with Dev.emu_cg_build: the CUDA text of every lowered kernel (each name once), built
 * in one go for the host; each gets its handle. */
static int emu_build(Dev *dev, int n, const Kir *kirs, DevCg *out, const char *ok) {
  const char **names = calloc((size_t)(n ? n : 1), sizeof *names);
  void **fns = calloc((size_t)(n ? n : 1), sizeof *fns);
  int m = 0, res = names && fns;
  StrBuf b;
  sb_init(&b);
  cg_cuda_prelude(&b);
  for (int i = 0; res && i < n; i++) {
    int dup = !ok[i];
    for (int j = 0; j < m && !dup; j++) dup = strcmp(names[j], out[i].k.name) == 0;
    if (dup) continue;
    names[m++] = out[i].k.name;
    cg_cuda_print_kernel(&b, &kirs[i], out[i].k.name);
  }
  if (res && (b.failed || !b.s)) res = 0, snprintf(dev->L.err, sizeof dev->L.err, "out of memory");
  if (res && m) res = dev->emu_cg_build(b.s, m, names, fns, dev->L.err, sizeof dev->L.err);
  for (int i = 0; res && i < n; i++)
    for (int j = 0; ok[i] && j < m; j++)
      if (strcmp(names[j], out[i].k.name) == 0) out[i].emu_fn = fns[j];
  sb_free(&b);
  free(names);
  free(fns);
  return res;
}

int dev_cg_compile(Dev *dev, const IrProgram *p, const IrGraph *g, int n, const int *const *members,
                   const int *nmembers, const unsigned char *in16, const unsigned char *out16, DevCg *out, char *ok,
                   char (*why)[256]) {
  Kir *kirs = calloc((size_t)(n ? n : 1), sizeof *kirs);
  const char **missing = calloc((size_t)(n ? n : 1), sizeof *missing);
  int nmissing = 0, res = 1;
  if (!kirs || !missing) {
    free(kirs);
    free(missing);
    return snprintf(dev->L.err, sizeof dev->L.err, "out of memory"), 0;
  }
  for (int i = 0; i < n; i++) {
    char err[256];
    memset(&out[i], 0, sizeof out[i]);
    ok[i] = cg_lower(p, g, members[i], nmembers[i], &kirs[i], err, sizeof err);
    for (int b = 0; ok[i] && b < kirs[i].bufs.n; b++) { /* bf16 storage, before the name is made */
      KBuf *kb = &kirs[i].bufs.v[b];
      const unsigned char *st = kb->out ? out16 : in16;
      kb->bf16 = st && kb->t == KT_F32 && st[kb->node];
    }
    ok[i] = ok[i] && cg_describe(&kirs[i], &out[i].k, err, sizeof err);
    if (ok[i] && dev->emu && !dev->emu_cg_build) {
      ok[i] = dev->jit && cg_cpu_compile_kir(dev->jit, &kirs[i], &out[i].k, err, sizeof err);
      if (!dev->jit) snprintf(err, sizeof err, "no CPU JIT in this build (emulation runs the nodes one by one)");
    }
    if (!ok[i] && why) snprintf(why[i], sizeof why[i], "%s", err);
    if (!ok[i] || dev->emu || cache_find(dev, out[i].k.name)) continue;
    int dup = 0;
    for (int j = 0; j < nmissing && !dup; j++) dup = strcmp(missing[j], out[i].k.name) == 0;
    if (!dup) missing[nmissing++] = out[i].k.name;
  }
  if (dev->emu && dev->emu_cg_build && !emu_build(dev, n, kirs, out, ok)) res = 0;
  if (nmissing) {
    qsort(missing, (size_t)nmissing, sizeof *missing, cmp_name);
    int nch = (nmissing + CHUNK - 1) / CHUNK;
    Chunk *ch = calloc((size_t)nch, sizeof *ch);
    if (!ch) res = 0;
    for (int c = 0; res && c < nch; c++) {
      StrBuf b;
      sb_init(&b);
      cg_cuda_prelude(&b);
      for (int t = c * CHUNK; t < nmissing && t < (c + 1) * CHUNK; t++)
        for (int i = 0; i < n; i++)
          if (ok[i] && strcmp(out[i].k.name, missing[t]) == 0) {
            cg_cuda_print_kernel(&b, &kirs[i], out[i].k.name);
            break;
          }
      ch[c] = (Chunk){dev, dev->L, dev->kc, b.s, "", 0, {0}};
      snprintf(ch[c].name, sizeof ch[c].name, "mamc_fused_%s", missing[c * CHUNK]);
      if (b.failed || !b.s) res = 0;
    }
    if (res) res = compile_chunks(dev, ch, nch);
    for (int c = 0; ch && c < nch; c++) {
      CUmodule mod = NULL;
      if (dev->compile_only) { /* compiled (and cached); nothing to load */
        free(ch[c].src);
        free(ch[c].blob.data);
        continue;
      }
      if (res && !CU_OK(&dev->L, cuModuleLoadData(&mod, ch[c].blob.data))) res = 0;
      for (int t = c * CHUNK; res && t < nmissing && t < (c + 1) * CHUNK; t++) {
        CUfunction fn;
        if (!CU_OK(&dev->L, cuModuleGetFunction(&fn, mod, missing[t])) || !cache_add(dev, missing[t], fn, t == c * CHUNK ? mod : NULL))
          res = 0;
      }
      free(ch[c].src);
      free(ch[c].blob.data);
    }
    free(ch);
  }
  for (int i = 0; i < n; i++) {
    if (res && ok[i] && !dev->emu && !dev->compile_only) out[i].fn = cache_find(dev, out[i].k.name);
    kir_free(&kirs[i]);
  }
  free(kirs);
  free(missing);
  return res;
}

/* ---- launching ------------------------------------------------------------------------------------ */

int dev_cg_launch(Dev *dev, const DevCg *k, const DPtr *bufs, const int64_t *dims) {
  int64_t outer = cg_outer(&k->k, dims);
  if (dev->compile_only) return snprintf(dev->L.err, sizeof dev->L.err, "a compile-only device runs nothing"), 0;
  if (outer <= 0) return 1;
  dev->queued.generated++;
  if (dev->emu && dev->capturing) return dev_emu_rec_cg(dev, k, bufs, dims);
  if (dev->emu && !k->emu_fn) {
    void *b[CG_MAX_BUFS];
    for (int i = 0; i < k->k.nbufs; i++) b[i] = (void *)(uintptr_t)bufs[i];
    k->k.fn(b, dims, 0, outer);
    return 1;
  }
  /* CgArgs_<name> { void *bufs[nbufs]; long long dims[ndims]; unsigned long long mg[ndims]; } by
   * value (at least one of each; mg: each dims value's division magic, cg_div_magic); a column
   * kernel's ends with { part_, cnt_ } (codegen.h) */
  uint64_t arg[CG_MAX_BUFS + 2 * CG_MAX_DIMS + 2];
  int nb = k->k.nbufs ? k->k.nbufs : 1, nd = k->k.ndims ? k->k.ndims : 1;
  memset(arg, 0, sizeof arg);
  for (int i = 0; i < k->k.nbufs; i++) arg[i] = bufs[i];
  for (int i = 0; i < k->k.ndims; i++) arg[nb + i] = (uint64_t)dims[i], arg[nb + nd + i] = cg_div_magic(dims[i]);
  long long begin = 0, end = outer;
  void *params[3] = {arg, &begin, &end};
  /* a thread per element, a warp per row, or (columns) a block of CG_COL_WARPS warps per 32 rows */
  unsigned block = k->k.cols ? 32 * CG_COL_WARPS : 256, gy = 1;
  int64_t threads = k->k.cols ? (outer + 31) / 32 * block : k->k.row ? outer * 32 : outer;
  unsigned grid = dev_grid(dev, threads, (int)block);
  DPtr part = 0;
  if (k->k.cols) { /* fewer than 128 groups of 32 outputs: the reduced range in gy slices, ~256 blocks in all, */
    int64_t ng = (outer + 31) / 32, rows = 1; /* slices of 1024 rows at least (fewer gain nothing: the tiny
                                                 * step's sums over 512 rows took 15 us split in 64 or not, on
                                                 * the H200, and a split adds the counters' memset), at most 64 */
    for (int i = 0; i < k->k.nred; i++) rows *= dims[k->k.red[i]];
    int64_t want = ng >= 128 ? 1 : (256 + ng - 1) / ng, most = rows / 1024;
    const char *force = getenv("MAMC_CUDA_COL_SLICES"); /* tests: every column kernel in that many slices */
    if (force && atoi(force) > 0) want = most = atoi(force);
    if (want > most) want = most;
    gy = want > 1 ? (unsigned)want : 1;
    if (gy > 64) gy = 64;
    uint64_t pbytes = (uint64_t)(k->k.naccs > 0 ? k->k.naccs : 1) * gy * (uint64_t)ng * 256;
    if (gy > 1 && !(dev_alloc(dev, pbytes + (uint64_t)ng * 4, &part) && dev_zero(dev, part + pbytes, (uint64_t)ng * 4))) {
      dev_free(dev, part);
      return 0;
    }
    arg[nb + 2 * nd] = part, arg[nb + 2 * nd + 1] = part ? part + pbytes : 0;
  }
  int ok;
  if (dev->emu) ok = dev->emu_cg_run(k->emu_fn, grid, gy, block, arg, begin, end, dev->L.err, sizeof dev->L.err);
  else ok = CU_OK(&dev->L, cuLaunchKernel(k->fn, grid, gy, 1, block, 1, 1, 0, dev->stream, params, NULL));
  dev_free(dev, part); /* stream-ordered: reused only by work queued after this launch */
  if (dev->emu) return ok;
  if (!ok) {
    size_t m = strlen(dev->L.err);
    snprintf(dev->L.err + m, sizeof dev->L.err - m, "\n(generated kernel %s, %lld %s)", k->k.name, (long long)outer,
             k->k.row ? "rows" : "elements");
    return 0;
  }
  if (dev->sync_each && !dev->capturing && !dev_sync(dev)) {
    size_t m = strlen(dev->L.err);
    snprintf(dev->L.err + m, sizeof dev->L.err - m, "\n(after generated kernel %s)", k->k.name);
    return 0;
  }
  return 1;
}
