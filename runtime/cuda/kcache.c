/* kcache.c — NVRTC compilation with the on-disk, content-addressed cache of kcache.h. */
#include "kcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "support.h"

static const char MAGIC[8] = {'M', 'A', 'M', 'C', 'K', 'C', '1', '\n'};
enum { HEADER = 8 + 32 + 4 + 4 + 8 + 32 };

/* mkdir -p */
static int make_dirs(const char *dir) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return 0;
    *p = '/';
  }
  return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

int kc_init(KCache *c, CuLib *L, const char *dir) {
  memset(c, 0, sizeof *c);
  c->L = L;
  if (!(L->parts & CU_PART_NVRTC) && !cu_lib_open(L, CU_PART_NVRTC)) return 0;
  if (!NVRTC_OK(L, nvrtcVersion(&c->nvrtc_major, &c->nvrtc_minor))) return 0;
  const char *env = getenv("MAMC_CUDA_CACHE");
  if (!dir && env && (strcmp(env, "0") == 0 || strcmp(env, "off") == 0)) dir = "";
  if (!dir && env && *env) dir = env;
  if (dir) {
    snprintf(c->dir, sizeof c->dir, "%s", dir);
  } else {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(c->dir, sizeof c->dir, "%s/mamc", xdg);
    else if (home && *home) snprintf(c->dir, sizeof c->dir, "%s/.cache/mamc", home);
  }
  if (c->dir[0] && !make_dirs(c->dir)) {
    fprintf(stderr, "mamc: warning: cannot create the kernel cache folder %s (%s); compiling without a cache\n",
            c->dir, strerror(errno));
    c->dir[0] = 0;
  }
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

static void path_of(KCache *c, const uint8_t key[32], int ptx, char *path, size_t len) {
  char hex[65];
  sha256_hex(key, hex);
  snprintf(path, len, "%s/%s.%s", c->dir, hex, ptx ? "ptx" : "cubin");
}

void kc_entry_path(KCache *c, const char *src, const char *name, const KTarget *t, const char *const *opts, int nopts,
                   char *path, size_t len) {
  uint8_t key[32];
  key_of(c, src, name, t, opts, nopts, key);
  path_of(c, key, t->ptx, path, len);
}

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* 1: a valid entry read into out; 0: none (absent); -1: present but corrupt */
static int read_entry(const char *path, const uint8_t key[32], int ptx, KBlob *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint8_t h[HEADER];
  int ok = fread(h, 1, HEADER, f) == HEADER && memcmp(h, MAGIC, 8) == 0 && memcmp(h + 8, key, 32) == 0 &&
           h[40] == (uint8_t)ptx && h[41] == 0 && h[42] == 0 && h[43] == 0;
  uint64_t n = ok ? get_u64(h + 48) : 0;
  uint8_t *data = ok && n > 0 && n < ((uint64_t)1 << 31) ? malloc((size_t)n) : NULL;
  ok = data && fread(data, 1, (size_t)n, f) == n && fgetc(f) == EOF;
  fclose(f);
  uint8_t digest[32];
  if (ok) sha256(data, (size_t)n, digest);
  if (!ok || memcmp(digest, h + 56, 32) != 0 || (ptx && data[n - 1] != 0)) {
    free(data);
    return -1;
  }
  out->data = data;
  out->n = (size_t)n;
  out->ptx = ptx;
  return 1;
}

static int write_entry(KCache *c, const char *path, const uint8_t key[32], const KBlob *b) {
  static const char hexd[] = "0123456789abcdef";
  char tmp[600], tag[17];
  for (int i = 0; i < 8; i++) tag[2 * i] = hexd[key[i] >> 4], tag[2 * i + 1] = hexd[key[i] & 15];
  tag[16] = 0;
  snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld-%d", c->dir, tag, (long)getpid(), c->misses);
  uint8_t h[HEADER];
  memset(h, 0, sizeof h);
  memcpy(h, MAGIC, 8);
  memcpy(h + 8, key, 32);
  put_u32(h + 40, (uint32_t)b->ptx);
  put_u64(h + 48, (uint64_t)b->n);
  sha256(b->data, b->n, h + 56);
  FILE *f = fopen(tmp, "wb");
  if (!f) return 0;
  int ok = fwrite(h, 1, HEADER, f) == HEADER && fwrite(b->data, 1, b->n, f) == b->n;
  ok = fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return 1;
  remove(tmp);
  return 0;
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
  char path[600];
  memset(out, 0, sizeof *out);
  key_of(c, src, name, t, opts, nopts, key);
  if (c->dir[0]) {
    path_of(c, key, t->ptx, path, sizeof path);
    int r = read_entry(path, key, t->ptx, out);
    if (r == 1) {
      c->hits++;
      return 1;
    }
    if (r < 0) {
      c->corrupt++;
      if (getenv("MAMC_DEBUG_CUDA")) fprintf(stderr, "mamc: kernel cache: %s is corrupt; compiling again\n", path);
    }
  }
  c->misses++;
  if (!compile(c, src, name, t, opts, nopts, out)) return 0;
  if (c->dir[0] && !write_entry(c, path, key, out)) c->write_failures++;
  return 1;
}
