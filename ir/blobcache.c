/* blobcache.c — the on-disk entries of blobcache.h: folder choice, atomic writes, checked reads. */
#include "blobcache.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

static const char MAGIC[8] = {'M', 'A', 'M', 'C', 'K', 'C', '1', '\n'};

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

/* Removes temporary files older than a day: the leftovers of writers killed mid-write (a
 * live writer renames its file within moments of creating it). */
static void sweep_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  time_t now = time(NULL);
  char path[800];
  struct stat st;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, ".tmp-", 5) != 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 24 * 3600) remove(path);
  }
  if (d) closedir(d);
}

void bc_open(BlobCache *c, const char *dir, const char *env) {
  const char *e = env ? getenv(env) : NULL;
  c->dir[0] = 0;
  if (!dir && e && (strcmp(e, "0") == 0 || strcmp(e, "off") == 0)) dir = "";
  if (!dir && e && *e) dir = e;
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
  if (c->dir[0]) sweep_temporaries(c->dir);
}

void bc_path(const BlobCache *c, const uint8_t key[32], const char *ext, char *path, size_t len) {
  char hex[65];
  sha256_hex(key, hex);
  snprintf(path, len, "%s/%s.%s", c->dir, hex, ext);
}

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

int bc_read(const BlobCache *c, const uint8_t key[32], uint32_t kind, const char *ext, uint8_t **data, size_t *n) {
  *data = NULL;
  *n = 0;
  if (!c->dir[0]) return 0;
  char path[600];
  bc_path(c, key, ext, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint8_t h[BC_HEADER];
  int ok = fread(h, 1, BC_HEADER, f) == BC_HEADER && memcmp(h, MAGIC, 8) == 0 && memcmp(h + 8, key, 32) == 0 &&
           get_u32(h + 40) == kind && get_u32(h + 44) == 0;
  uint64_t len = ok ? get_u64(h + 48) : 0;
  uint8_t *buf = ok && len > 0 && len < ((uint64_t)1 << 31) ? malloc((size_t)len) : NULL;
  ok = buf && fread(buf, 1, (size_t)len, f) == len && fgetc(f) == EOF;
  fclose(f);
  uint8_t digest[32];
  if (ok) sha256(buf, (size_t)len, digest);
  if (!ok || memcmp(digest, h + 56, 32) != 0) {
    free(buf);
    return -1;
  }
  *data = buf;
  *n = (size_t)len;
  return 1;
}

int bc_write(const BlobCache *c, const uint8_t key[32], uint32_t kind, const char *ext, const uint8_t *data, size_t n) {
  static _Atomic unsigned long seq; /* temporary names unique across this process's threads */
  if (!c->dir[0]) return 0;
  char path[600], tmp[700], hex[65];
  bc_path(c, key, ext, path, sizeof path);
  sha256_hex(key, hex);
  snprintf(tmp, sizeof tmp, "%s/.tmp-%.16s-%ld-%lu", c->dir, hex, (long)getpid(), seq++);
  uint8_t h[BC_HEADER];
  memset(h, 0, sizeof h);
  memcpy(h, MAGIC, 8);
  memcpy(h + 8, key, 32);
  put_u32(h + 40, kind);
  put_u64(h + 48, (uint64_t)n);
  sha256(data, n, h + 56);
  FILE *f = fopen(tmp, "wb");
  if (!f) return 0;
  int ok = fwrite(h, 1, BC_HEADER, f) == BC_HEADER && fwrite(data, 1, n, f) == n;
  ok = fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return 1;
  remove(tmp);
  return 0;
}
