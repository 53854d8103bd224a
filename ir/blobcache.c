/* blobcache.c — the on-disk entries of blobcache.h: folder choice, atomic writes, checked reads,
 * usage and trimming to the size limit. */
#include "blobcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

typedef struct Entry {
  char name[96];
  uint64_t bytes;
  struct timespec mtime;
} Entry;

/* The extension of an entry's file name (<64 lowercase hex digits>.<1..15 letters/digits>), or
 * NULL when name is not one. */
static const char *entry_ext(const char *name) {
  for (int i = 0; i < 64; i++)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return NULL;
  if (name[64] != '.') return NULL;
  size_t n = strlen(name + 65);
  if (n < 1 || n > 15) return NULL;
  for (size_t i = 0; i < n; i++) {
    char ch = name[65 + i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) return NULL;
  }
  return name + 65;
}

static void count_ext(BcUsage *u, const char *ext, uint64_t bytes) {
  int i = 0;
  while (i < u->n_exts && strcmp(u->by_ext[i].ext, ext) != 0) i++;
  if (i == u->n_exts) {
    if (i == BC_MAX_EXTS) return;
    int at = 0; /* kept sorted by name */
    while (at < u->n_exts && strcmp(u->by_ext[at].ext, ext) < 0) at++;
    memmove(&u->by_ext[at + 1], &u->by_ext[at], (size_t)(u->n_exts - at) * sizeof u->by_ext[0]);
    memset(&u->by_ext[at], 0, sizeof u->by_ext[0]);
    snprintf(u->by_ext[at].ext, sizeof u->by_ext[at].ext, "%s", ext);
    u->n_exts++;
    i = at;
  }
  u->by_ext[i].files++;
  u->by_ext[i].bytes += bytes;
}

/* One pass over dir: its usage into *u; its entries into *list (malloc'd, *n of them) when list
 * is not NULL; temporary files at least sweep_age seconds old removed (none when sweep_age < 0;
 * all when 0), counted in *removed. 0 when dir cannot be read or memory runs out. */
static int scan(const char *dir, BcUsage *u, Entry **list, long *n, long sweep_age, long *removed) {
  memset(u, 0, sizeof *u);
  if (list) *list = NULL, *n = 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  long cap = 0;
  time_t now = time(NULL);
  char path[800];
  struct stat st;
  struct dirent *e;
  int ok = 1;
  while (ok && (e = readdir(d))) {
    int tmp = strncmp(e->d_name, ".tmp-", 5) == 0;
    const char *ext = tmp ? NULL : entry_ext(e->d_name);
    if (!tmp && !ext) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (tmp) {
      /* (0: every one, even one stamped a second ahead of time(), which lags the file clock) */
      if (sweep_age >= 0 && (sweep_age == 0 || now - st.st_mtime >= sweep_age) && remove(path) == 0) (*removed)++;
      else u->temporaries++;
      continue;
    }
    u->files++;
    u->bytes += (uint64_t)st.st_size;
    count_ext(u, ext, (uint64_t)st.st_size);
    if (!list) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      Entry *g = realloc(*list, (size_t)cap * sizeof **list);
      if (!g) {
        ok = 0;
        break;
      }
      *list = g;
    }
    Entry *x = &(*list)[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", e->d_name);
    x->bytes = (uint64_t)st.st_size;
    x->mtime = st.st_mtim;
  }
  closedir(d);
  if (!ok && list) free(*list), *list = NULL, *n = 0;
  return ok;
}

/* Least recently used first; ties by name, so every process removes in the same order. */
static int older_first(const void *a, const void *b) {
  const Entry *x = a, *y = b;
  if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* bc_trim, sweeping temporaries at least sweep_age seconds old as well (bc_trim's comment). */
static long trim(const char *dir, uint64_t max_bytes, long sweep_age) {
  BcUsage u;
  Entry *list = NULL;
  long n = 0, removed = 0;
  if (!scan(dir, &u, &list, &n, sweep_age, &removed)) return -1;
  if (u.bytes > max_bytes) {
    qsort(list, (size_t)n, sizeof *list, older_first);
    char path[800];
    for (long i = 0; i < n && u.bytes > max_bytes; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, list[i].name);
      if (remove(path) == 0) removed++;
      u.bytes -= list[i].bytes; /* gone either way: removed now, or by another process */
    }
  }
  free(list);
  return removed;
}

long bc_trim(const char *dir, uint64_t max_bytes) { return trim(dir, max_bytes, max_bytes == 0 ? 0 : -1); }

int bc_usage(const char *dir, BcUsage *u) { return scan(dir, u, NULL, NULL, -1, NULL); }

int bc_parse_size(const char *s, uint64_t *out) {
  if (!s || !(*s >= '0' && *s <= '9')) return 0;
  char *end;
  double v = strtod(s, &end);
  double scale = 1;
  switch (*end) {
  case 'k': case 'K': scale = 1024.0, end++; break;
  case 'm': case 'M': scale = 1024.0 * 1024, end++; break;
  case 'g': case 'G': scale = 1024.0 * 1024 * 1024, end++; break;
  case 't': case 'T': scale = 1024.0 * 1024 * 1024 * 1024, end++; break;
  default: break;
  }
  if (scale > 1 && *end == 'i') end++;
  if (*end == 'B' || *end == 'b') end++;
  if (*end || !(v * scale < 9.2e18)) return 0;
  *out = (uint64_t)(v * scale);
  return 1;
}

uint64_t bc_limit(void) {
  const uint64_t dflt = (uint64_t)1 << 30;
  const char *e = getenv("MAMC_CACHE_MAX");
  uint64_t v;
  if (!e || !*e) return dflt;
  if (!bc_parse_size(e, &v)) {
    fprintf(stderr, "mamc: warning: MAMC_CACHE_MAX='%s' is not a size (like 500M or 2G); the kernel cache keeps "
                    "its default limit of 1G\n", e);
    return dflt;
  }
  return v == 0 ? UINT64_MAX : v;
}

void bc_choose(const char *dir, const char *env, char *out, size_t len) {
  const char *e = env ? getenv(env) : NULL;
  out[0] = 0;
  if (!dir && e && (strcmp(e, "0") == 0 || strcmp(e, "off") == 0)) dir = "";
  if (!dir && e && *e) dir = e;
  if (dir) {
    snprintf(out, len, "%s", dir);
  } else {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(out, len, "%s/mamc", xdg);
    else if (home && *home) snprintf(out, len, "%s/.cache/mamc", home);
  }
}

void bc_open(BlobCache *c, const char *dir, const char *env) {
  bc_choose(dir, env, c->dir, sizeof c->dir);
  if (c->dir[0] && !make_dirs(c->dir)) {
    fprintf(stderr, "mamc: warning: cannot create the kernel cache folder %s (%s); compiling without a cache\n",
            c->dir, strerror(errno));
    c->dir[0] = 0;
  }
  if (c->dir[0]) trim(c->dir, bc_limit(), 24 * 3600);
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
  utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to go when the folder is trimmed */
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
