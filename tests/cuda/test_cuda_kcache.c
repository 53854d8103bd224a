/* test_cuda_kcache.c — the on-disk kernel cache of runtime/cuda/kcache.c, with NVRTC (no GPU):
 * a miss compiles and writes an entry, a second cache over the same folder hits it; the key
 * changes with the source, the kernel name, an option, the target and the NVRTC version; a
 * corrupt entry (a flipped payload byte, a flipped digest, a truncation, a foreign magic, an
 * empty file, another key's entry under this name) is detected, compiled again and replaced;
 * writes leave no temporary file; PTX entries end in a NUL; a compile error reports NVRTC's
 * log; MAMC_CUDA_CACHE=0 turns the disk cache off. Skipped (77) when NVRTC cannot be loaded. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kcache.h"
#include "test.h"

static const char *SRC = "extern \"C\" __global__ void k_twice(float *x, int n) {\n"
                         "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                         "  if (i < n) x[i] *= 2.0f;\n"
                         "}\n";

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_files(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  if (d) closedir(d);
  return n;
}


static void truncate_to(const char *path, long n) {
  if (truncate(path, n) != 0) perror("truncate");
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f) fputs(text, f), fclose(f);
}

/* a fresh cache over dir; one kc_get of SRC for t; returns the blob size (0 on failure) */
static size_t get_once(CuLib *L, const char *dir, const KTarget *t, int *hits, int *misses, int *corrupt) {
  KCache c;
  if (!kc_init(&c, L, dir)) return 0;
  KBlob b;
  int ok = kc_get(&c, SRC, "twice", t, NULL, 0, &b);
  size_t n = ok ? b.n : 0;
  if (ok && b.ptx) CHECK_MSG(b.data[b.n - 1] == 0 && strstr((char *)b.data, ".entry k_twice"), "PTX lacks the entry");
  if (ok) free(b.data);
  *hits = c.hits, *misses = c.misses, *corrupt = c.corrupt;
  CHECK(c.write_failures == 0);
  return n;
}

int main(void) {
  CuLib L;
  memset(&L, 0, sizeof L);
  if (!cu_lib_open(&L, CU_PART_NVRTC)) {
    printf("skipped: %s\n", L.err);
    return 77;
  }
  char dir[] = "/tmp/mamc-kcache-XXXXXX";
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  unsetenv("MAMC_CUDA_PTX");
  KCache c;
  CHECK(kc_init(&c, &L, dir));
  printf("NVRTC %d.%d, cache %s\n", c.nvrtc_major, c.nvrtc_minor, c.disk.dir);
  KTarget t;
  CHECK(kc_target(&c, 90, &t) && t.arch == 90 && !t.ptx); /* a cubin for Hopper */
  KTarget tp = {90, 1};                                    /* PTX for compute_90 */
  char path[600], ppath[600];
  kc_entry_path(&c, SRC, "twice", &t, NULL, 0, path, sizeof path);
  kc_entry_path(&c, SRC, "twice", &tp, NULL, 0, ppath, sizeof ppath);
  CHECK(strcmp(path, ppath) != 0 && strstr(path, ".cubin") && strstr(ppath, ".ptx"));

  /* miss, then hit from a second cache over the same folder */
  int h, m, k;
  size_t n1 = get_once(&L, dir, &t, &h, &m, &k);
  CHECK(n1 > 0 && h == 0 && m == 1 && k == 0);
  CHECK(file_size(path) == (long)n1 + 88);
  size_t n2 = get_once(&L, dir, &t, &h, &m, &k);
  CHECK(n2 == n1 && h == 1 && m == 0 && k == 0);
  CHECK(count_files(dir, ".tmp-") == 0);
  size_t np = get_once(&L, dir, &tp, &h, &m, &k);
  CHECK(np > 0 && m == 1);
  CHECK(get_once(&L, dir, &tp, &h, &m, &k) == np && h == 1);

  /* the key: source, name, options, target, NVRTC version */
  {
    char p2[600];
    const char *o1[] = {"-DX=1"}, *o2[] = {"-DX=2"};
    kc_entry_path(&c, "// other\n", "twice", &t, NULL, 0, p2, sizeof p2);
    CHECK(strcmp(p2, path) != 0);
    kc_entry_path(&c, SRC, "thrice", &t, NULL, 0, p2, sizeof p2);
    CHECK(strcmp(p2, path) != 0);
    char p3[600];
    kc_entry_path(&c, SRC, "twice", &t, o1, 1, p2, sizeof p2);
    kc_entry_path(&c, SRC, "twice", &t, o2, 1, p3, sizeof p3);
    CHECK(strcmp(p2, path) != 0 && strcmp(p2, p3) != 0);
    KTarget t80 = {80, 0};
    kc_entry_path(&c, SRC, "twice", &t80, NULL, 0, p2, sizeof p2);
    CHECK(strcmp(p2, path) != 0);
    KCache c2 = c;
    c2.nvrtc_minor++;
    kc_entry_path(&c2, SRC, "twice", &t, NULL, 0, p2, sizeof p2);
    CHECK(strcmp(p2, path) != 0);
    /* "ab" + "c" vs "a" + "bc" across option boundaries */
    const char *s1[] = {"-Dab", "-Dc"}, *s2[] = {"-Da", "-Dbc"};
    kc_entry_path(&c, SRC, "twice", &t, s1, 2, p2, sizeof p2);
    kc_entry_path(&c, SRC, "twice", &t, s2, 2, p3, sizeof p3);
    CHECK(strcmp(p2, p3) != 0);
  }

  /* corrupt entries: detected, compiled again, replaced by a valid one */
  struct {
    const char *what;
    int kind;
  } bad[] = {{"a flipped payload byte", 0}, {"a flipped digest byte", 1}, {"a truncated payload", 2},
             {"a foreign magic", 3},        {"an empty file", 4},         {"one byte appended", 5},
             {"another key's entry", 6}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    long size = file_size(path);
    switch (bad[i].kind) {
    case 0: test_flip_byte(path, -7); break;
    case 1: test_flip_byte(path, 60); break;
    case 2: truncate_to(path, size - 10); break;
    case 3: test_flip_byte(path, 2); break;
    case 4: truncate_to(path, 0); break;
    case 5: {
      FILE *f = fopen(path, "ab");
      if (f) fputc(0, f), fclose(f);
      break;
    }
    case 6: write_text(path, "MAMCKC1\n not this key"); break;
    }
    size_t n = get_once(&L, dir, &t, &h, &m, &k);
    CHECK_MSG(n == n1 && k == 1 && m == 1 && h == 0, "%s: hits %d misses %d corrupt %d", bad[i].what, h, m, k);
    CHECK_MSG(file_size(path) == (long)n1 + 88, "%s: not replaced", bad[i].what);
    n = get_once(&L, dir, &t, &h, &m, &k);
    CHECK_MSG(h == 1 && k == 0, "%s: the replacement does not hit", bad[i].what);
  }
  /* a PTX entry whose payload loses its NUL (with a matching digest it would still be caught by
   * the digest; here the length shrinks): rebuilt */
  truncate_to(ppath, file_size(ppath) - 1);
  CHECK(get_once(&L, dir, &tp, &h, &m, &k) == np && k == 1);
  CHECK(count_files(dir, ".tmp-") == 0);

  /* an unwritable cache folder: compiles, counts a write failure, no crash */
  {
    KCache cw;
    CHECK(kc_init(&cw, &L, dir));
    snprintf(cw.disk.dir, sizeof cw.disk.dir, "%s/missing-subdir", dir);
    KBlob b;
    CHECK(kc_get(&cw, SRC, "twice", &t, NULL, 0, &b) && cw.write_failures == 1);
    free(b.data);
  }

  /* a compile error: 0, NVRTC's log in the message */
  {
    KCache ce;
    CHECK(kc_init(&ce, &L, dir));
    KBlob b;
    int ok = kc_get(&ce, "extern \"C\" __global__ void k_bad() { undeclared_thing(); }\n", "bad", &t, NULL, 0, &b);
    CHECK(!ok && strstr(L.err, "NVRTC log") && strstr(L.err, "undeclared_thing"));
    if (ok) free(b.data);
  }

  /* MAMC_CUDA_CACHE=0: no disk cache */
  {
    setenv("MAMC_CUDA_CACHE", "0", 1);
    KCache c0;
    CHECK(kc_init(&c0, &L, NULL) && c0.disk.dir[0] == 0);
    KBlob b;
    CHECK(kc_get(&c0, SRC, "twice", &t, NULL, 0, &b) && c0.misses == 1);
    free(b.data);
    unsetenv("MAMC_CUDA_CACHE");
    setenv("MAMC_CUDA_CACHE", dir, 1);
    CHECK(kc_init(&c0, &L, NULL) && strcmp(c0.disk.dir, dir) == 0);
    unsetenv("MAMC_CUDA_CACHE");
  }

  /* the target: the highest supported architecture at or below the device's */
  {
    KTarget x;
    CHECK(kc_target(&c, 90, &x) && x.arch == 90 && !x.ptx);
    CHECK(kc_target(&c, 91, &x) && x.arch <= 91 && (x.arch == 91 ? !x.ptx : x.ptx));
    setenv("MAMC_CUDA_PTX", "1", 1);
    CHECK(kc_target(&c, 90, &x) && x.ptx);
    unsetenv("MAMC_CUDA_PTX");
    CHECK(!kc_target(&c, 10, &x) && strstr(L.err, "supports no architecture"));
  }

  test_rm_dir(dir);
  cu_lib_close(&L);
  return test_done();
}
