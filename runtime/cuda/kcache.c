/* kcache.c — NVRTC compilation with the on-disk, content-addressed cache of kcache.h (its
 * storage: ir/blobcache.c). */
#include "kcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobcache.h"
#include "sha256.h"
#include "support.h"

int kc_init(KCache *c, CuLib *L, const char *dir) {
  memset(c, 0, sizeof *c);
  c->L = L;
  if (!(L->parts & CU_PART_NVRTC) && !cu_lib_open(L, CU_PART_NVRTC)) return 0;
  if (!NVRTC_OK(L, nvrtcVersion(&c->nvrtc_major, &c->nvrtc_minor))) return 0;
  bc_open(&c->disk, dir, "MAMC_CUDA_CACHE");
  return 1;
}

int kc_target(KCache *c, int cc, KTarget *t) {
  CuLib *L = c->L;
  int n = 0, archs[64], best = -1;
  if (!NVRTC_OK(L, nvrtcGetNumSupportedArchs(&n))) return 0;
  if (n > 64) n = 64;
  if (!NVRTC_OK(L, nvrtcGetSupportedArchs(archs))) return 0;
  for (int i = 0; i < n; i++)
    if (archs[i] <= cc && archs[i] > best) best = archs[i];
  if (best < 0) {
    snprintf(L->err, sizeof L->err,
             "NVRTC %d.%d supports no architecture at or below the device's compute capability %d.%d\nHINT: this "
             "GPU is too old for this CUDA toolkit",
             c->nvrtc_major, c->nvrtc_minor, cc / 10, cc % 10);
    return 0;
  }
  const char *force = getenv("MAMC_CUDA_PTX");
  t->arch = best;
  t->ptx = best != cc || (force && strcmp(force, "1") == 0);
  return 1;
}

/* ---- keys and entries ------------------------------------------------------------------------ */

static void target_opt(const KTarget *t, char *buf, size_t n) {
  snprintf(buf, n, "--gpu-architecture=%s_%d", t->ptx ? "compute" : "sm", t->arch);
}

static const char *const default_opts[] = {"--std=c++17", "-lineinfo"};
enum { NDEFAULT = 2 };

static void key_of(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts, int nopts,
                   uint8_t key[32]) {
  char buf[128];
  Sha256 s;
  sha256_init(&s);
  sha256_update(&s, "mamc-kcache 1", 14);
  snprintf(buf, sizeof buf, "nvrtc %d.%d", c->nvrtc_major, c->nvrtc_minor);
  sha256_update(&s, buf, strlen(buf) + 1);
  target_opt(t, buf, sizeof buf);
  sha256_update(&s, buf, strlen(buf) + 1);
  for (int i = 0; i < NDEFAULT; i++) sha256_update(&s, default_opts[i], strlen(default_opts[i]) + 1);
  for (int i = 0; i < nopts; i++) sha256_update(&s, opts[i], strlen(opts[i]) + 1);
  sha256_update(&s, name, strlen(name) + 1);
  sha256_update(&s, src, strlen(src));
  sha256_final(&s, key);
}

static const char *ext_of(int ptx) { return ptx ? "ptx" : "cubin"; }

void kc_entry_path(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts, int nopts,
                   char *path, size_t len) {
  uint8_t key[32];
  key_of(c, src, name, t, opts, nopts, key);
  bc_path(&c->disk, key, ext_of(t->ptx), path, len);
}

/* ---- NVRTC ---------------------------------------------------------------------------------------- */

static int compile(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts, int nopts,
                   KBlob *out) {
  CuLib *L = c->L;
  const char *all[40];
  char arch[64];
  int n = 0;
  target_opt(t, arch, sizeof arch);
  all[n++] = arch;
  for (int i = 0; i < NDEFAULT; i++) all[n++] = default_opts[i];
  for (int i = 0; i < nopts && n < 40; i++) all[n++] = opts[i];
  char file[96];
  snprintf(file, sizeof file, "%s.cu", name);
  nvrtcProgram prog;
  if (!NVRTC_OK(L, nvrtcCreateProgram(&prog, src, file, 0, NULL, NULL))) return 0;
  double t0 = mono_seconds();
  nvrtcResult r = L->nvrtcCompileProgram(prog, n, all);
  c->compile_seconds += mono_seconds() - t0;
  if (r != NVRTC_SUCCESS) {
    size_t logn = 0;
    char *log = NULL;
    if (L->nvrtcGetProgramLogSize(prog, &logn) == NVRTC_SUCCESS && (log = malloc(logn + 1)) &&
        L->nvrtcGetProgramLog(prog, log) == NVRTC_SUCCESS)
      log[logn] = 0;
    char dump[256];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(dump, sizeof dump, "%s/mamc-nvrtc-%s.cu", tmpdir && *tmpdir ? tmpdir : "/tmp", name);
    FILE *f = fopen(dump, "w");
    if (f) {
      fputs(src, f);
      fclose(f);
    }
    cu_nvrtc_check(L, r, "nvrtcCompileProgram", __FILE__, __LINE__);
    size_t used = strlen(L->err);
    snprintf(L->err + used, sizeof L->err - used, "\nNVRTC log for %s (source written to %s):\n%.600s", file,
             f ? dump : "(unwritable)", log ? log : "");
    free(log);
    L->nvrtcDestroyProgram(&prog);
    return 0;
  }
  size_t size = 0;
  int ok = t->ptx ? NVRTC_OK(L, nvrtcGetPTXSize(prog, &size)) : NVRTC_OK(L, nvrtcGetCUBINSize(prog, &size));
  out->data = ok && size ? malloc(size) : NULL;
  if (ok && !out->data) {
    snprintf(L->err, sizeof L->err, "out of memory");
    ok = 0;
  }
  if (ok) ok = t->ptx ? NVRTC_OK(L, nvrtcGetPTX(prog, (char *)out->data)) : NVRTC_OK(L, nvrtcGetCUBIN(prog, (char *)out->data));
  out->n = size;
  out->ptx = t->ptx;
  L->nvrtcDestroyProgram(&prog);
  if (!ok) {
    free(out->data);
    out->data = NULL;
  }
  return ok;
}

int kc_get(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts, int nopts,
           KBlob *out) {
  uint8_t key[32];
  memset(out, 0, sizeof *out);
  key_of(c, src, name, t, opts, nopts, key);
  uint8_t *data;
  size_t n;
  int r = bc_read(&c->disk, key, (uint32_t)t->ptx, ext_of(t->ptx), &data, &n);
  if (r == 1 && t->ptx && data[n - 1] != 0) { /* PTX is stored with its NUL */
    free(data);
    r = -1;
  }
  if (r == 1) {
    *out = (KBlob){data, n, t->ptx};
    c->hits++;
    return 1;
  }
  if (r < 0) {
    c->corrupt++;
    if (getenv("MAMC_DEBUG_CUDA")) fprintf(stderr, "mamc: kernel cache: an entry for %s is corrupt; compiling again\n", name);
  }
  c->misses++;
  if (!compile(c, src, name, t, opts, nopts, out)) return 0;
  if (c->disk.dir[0] && !bc_write(&c->disk, key, (uint32_t)out->ptx, ext_of(out->ptx), out->data, out->n))
    c->write_failures++;
  return 1;
}
