/* test_blobcache.c — SHA-256 against FIPS 180-4's test vectors (and streaming in random
 * pieces against the one-shot digest), and the on-disk blob store under the kernel caches
 * (ir/blobcache.c): folder choice (argument, environment, XDG, HOME, off, an uncreatable
 * folder), round trips of fresh random payloads, every kind of corrupt entry reported as
 * such (a flipped payload or digest byte, a truncation, an appended byte, a foreign magic, an
 * empty file, another key's or another kind's entry under this name), no temporary file
 * left behind, a killed writer's day-old temporary file swept (a fresh one kept), and a write
 * into a vanished folder failing cleanly. MAMC_TEST_SEED=<n> replays. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "blobcache.h"
#include "rng.h"
#include "sha256.h"
#include "test.h"

static void check_digest(const void *data, size_t n, const char *want, const char *what) {
  uint8_t d[32];
  char hex[65];
  sha256(data, n, d);
  sha256_hex(d, hex);
  CHECK_MSG(strcmp(hex, want) == 0, "%s: %s, want %s", what, hex, want);
}

static void test_sha256(uint64_t seed) {
  check_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
  check_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_digest(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448 bits");
  const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  check_digest(four, strlen(four), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", "896 bits");
  /* a million 'a's, fed in pieces of random length */
  Sha256 s;
  sha256_init(&s);
  char as[1000];
  memset(as, 'a', sizeof as);
  for (size_t left = 1000000, i = 0; left > 0; i++) {
    size_t k = 1 + (size_t)(rng_u64(seed, i) % 1000);
    if (k > left) k = left;
    sha256_update(&s, as, k);
    left -= k;
  }
  uint8_t d[32];
  char hex[65];
  sha256_final(&s, d);
  sha256_hex(d, hex);
  CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* random data: streamed in random pieces == one shot, for lengths around the block edges */
  for (int t = 0; t < 200; t++) {
    size_t n = t < 130 ? (size_t)t : (size_t)(rng_u64(seed, 5000 + t) % 3000);
    uint8_t buf[3000], one[32], many[32];
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rng_u64(seed + 1, (uint64_t)t * 4096 + i);
    sha256(buf, n, one);
    sha256_init(&s);
    for (size_t at = 0, j = 0; at < n; j++) {
      size_t k = (size_t)(rng_u64(seed + 2, (uint64_t)t * 64 + j) % 130);
      if (k > n - at) k = n - at;
      sha256_update(&s, buf + at, k);
      at += k;
    }
    sha256_final(&s, many);
    CHECK_MSG(memcmp(one, many, 32) == 0, "length %zu: streamed and one-shot digests differ", n);
  }
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_tmp(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strncmp(e->d_name, ".tmp-", 5) == 0) n++;
  if (d) closedir(d);
  return n;
}

static void test_folder(const char *root) {
  BlobCache c;
  char want[600];
  snprintf(want, sizeof want, "%s/a/b/c", root);
  bc_open(&c, want, "MAMC_TEST_CACHE_ENV");
  struct stat st;
  CHECK(strcmp(c.dir, want) == 0 && stat(want, &st) == 0 && S_ISDIR(st.st_mode));
  bc_open(&c, "", "MAMC_TEST_CACHE_ENV");
  CHECK(c.dir[0] == 0);
  setenv("MAMC_TEST_CACHE_ENV", "0", 1);
  bc_open(&c, NULL, "MAMC_TEST_CACHE_ENV");
  CHECK(c.dir[0] == 0);
  setenv("MAMC_TEST_CACHE_ENV", "off", 1);
  bc_open(&c, NULL, "MAMC_TEST_CACHE_ENV");
  CHECK(c.dir[0] == 0);
  snprintf(want, sizeof want, "%s/env", root);
  setenv("MAMC_TEST_CACHE_ENV", want, 1);
  bc_open(&c, NULL, "MAMC_TEST_CACHE_ENV");
  CHECK(strcmp(c.dir, want) == 0);
  unsetenv("MAMC_TEST_CACHE_ENV");
  char *xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
  char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
  setenv("XDG_CACHE_HOME", root, 1);
  bc_open(&c, NULL, "MAMC_TEST_CACHE_ENV");
  snprintf(want, sizeof want, "%s/mamc", root);
  CHECK(strcmp(c.dir, want) == 0);
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", root, 1);
  bc_open(&c, NULL, "MAMC_TEST_CACHE_ENV");
  snprintf(want, sizeof want, "%s/.cache/mamc", root);
  CHECK(strcmp(c.dir, want) == 0);
  /* a folder that cannot be made (under a regular file): off, with a warning */
  char file[600];
  snprintf(file, sizeof file, "%s/plain", root);
  FILE *f = fopen(file, "w");
  if (f) fclose(f);
  snprintf(want, sizeof want, "%s/plain/sub", root);
  bc_open(&c, want, NULL);
  CHECK(c.dir[0] == 0);
  if (xdg) setenv("XDG_CACHE_HOME", xdg, 1);
  if (home) setenv("HOME", home, 1);
  else unsetenv("HOME");
  free(xdg);
  free(home);
}

static void random_key(uint64_t seed, uint64_t i, uint8_t key[32]) {
  for (int j = 0; j < 32; j++) key[j] = (uint8_t)rng_u64(seed, i * 32 + (uint64_t)j);
}

static void test_entries(const char *root, uint64_t seed) {
  BlobCache c;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/entries", root);
  bc_open(&c, dir, NULL);
  CHECK(strcmp(c.dir, dir) == 0);
  uint8_t key[32], other[32];
  random_key(seed, 1, key);
  random_key(seed, 2, other);
  size_t n = 1 + (size_t)(rng_u64(seed, 3) % 5000);
  uint8_t *payload = malloc(n), *got;
  for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)rng_u64(seed, 100 + i);
  size_t gn;
  CHECK(bc_read(&c, key, 7, "bin", &got, &gn) == 0 && got == NULL); /* absent */
  CHECK(bc_write(&c, key, 7, "bin", payload, n) == 1);
  char path[600], opath[600];
  bc_path(&c, key, "bin", path, sizeof path);
  bc_path(&c, other, "bin", opath, sizeof opath);
  CHECK(file_size(path) == (long)n + BC_HEADER);
  CHECK(count_tmp(dir) == 0);
  CHECK(bc_read(&c, key, 7, "bin", &got, &gn) == 1 && gn == n && memcmp(got, payload, n) == 0);
  free(got);
  CHECK(bc_read(&c, key, 7, "obj", &got, &gn) == 0); /* the extension is part of the name */
  CHECK(bc_read(&c, key, 8, "bin", &got, &gn) == -1 && got == NULL); /* another kind */
  /* another key's entry under this key's name */
  CHECK(bc_write(&c, other, 7, "bin", payload, n) == 1);
  test_copy_file(opath, path);
  CHECK(bc_read(&c, key, 7, "bin", &got, &gn) == -1);
  const char *what[] = {"a flipped payload byte", "a flipped digest byte", "a truncation", "one byte appended",
                        "a foreign magic", "an empty file", "a flipped length byte"};
  for (int k = 0; k < (int)(sizeof what / sizeof *what); k++) {
    CHECK(bc_write(&c, key, 7, "bin", payload, n) == 1);
    switch (k) {
    case 0: test_flip_byte(path, BC_HEADER + (long)(rng_u64(seed, 9) % n)); break;
    case 1: test_flip_byte(path, 56 + (long)(rng_u64(seed, 10) % 32)); break;
    case 2: CHECK(truncate(path, BC_HEADER + (long)(rng_u64(seed, 11) % n)) == 0); break;
    case 3: {
      FILE *f = fopen(path, "ab");
      if (f) fputc(0, f), fclose(f);
      break;
    }
    case 4: test_flip_byte(path, 3); break;
    case 5: CHECK(truncate(path, 0) == 0); break;
    case 6: test_flip_byte(path, 48); break;
    }
    CHECK_MSG(bc_read(&c, key, 7, "bin", &got, &gn) == -1 && got == NULL, "%s: not reported corrupt", what[k]);
  }
  CHECK(bc_write(&c, key, 7, "bin", payload, n) == 1); /* rewritten over a corrupt one: valid */
  CHECK(bc_read(&c, key, 7, "bin", &got, &gn) == 1 && gn == n && memcmp(got, payload, n) == 0);
  free(got);
  CHECK(count_tmp(dir) == 0);
  /* a writer killed mid-write leaves its temporary file: swept when a day old, not before */
  {
    char old_tmp[700], new_tmp[700];
    snprintf(old_tmp, sizeof old_tmp, "%s/.tmp-0123456789abcdef-1-0", dir);
    snprintf(new_tmp, sizeof new_tmp, "%s/.tmp-0123456789abcdef-2-0", dir);
    FILE *f = fopen(old_tmp, "wb"), *g = fopen(new_tmp, "wb");
    if (f) fputs("MAMCKC1\n partial", f), fclose(f);
    if (g) fputs("MAMCKC1\n partial", g), fclose(g);
    struct utimbuf two_days = {time(NULL) - 2 * 24 * 3600, time(NULL) - 2 * 24 * 3600};
    CHECK(utime(old_tmp, &two_days) == 0);
    CHECK(count_tmp(dir) == 2);
    BlobCache again;
    bc_open(&again, dir, NULL);
    CHECK(file_size(old_tmp) < 0 && file_size(new_tmp) > 0 && count_tmp(dir) == 1);
    CHECK(bc_read(&again, key, 7, "bin", &got, &gn) == 1 && gn == n); /* entries stay */
    free(got);
    remove(new_tmp);
  }
  /* the folder vanishes under an open cache: the write fails, nothing is left */
  test_rm_dir(dir);
  CHECK(bc_write(&c, key, 7, "bin", payload, n) == 0);
  CHECK(bc_read(&c, key, 7, "bin", &got, &gn) == 0);
  /* off: reads find nothing, writes store nothing */
  BlobCache off;
  bc_open(&off, "", NULL);
  CHECK(bc_write(&off, key, 7, "bin", payload, n) == 0 && bc_read(&off, key, 7, "bin", &got, &gn) == 0);
  free(payload);
}

int main(void) {
  const char *env = getenv("MAMC_TEST_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  printf("seed %llu (MAMC_TEST_SEED=<n> replays)\n", (unsigned long long)seed);
  char root[] = "/tmp/mamc-blobcache-XXXXXX";
  if (!mkdtemp(root)) return perror("mkdtemp"), 1;
  test_sha256(seed);
  test_folder(root);
  test_entries(root, seed);
  test_rm_tree(root);
  return test_done();
}
