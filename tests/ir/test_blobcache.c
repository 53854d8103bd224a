/* test_blobcache.c — SHA-256 against FIPS 180-4's test vectors (and streaming in random
 * pieces against the one-shot digest), and the on-disk blob store under the kernel caches
 * (ir/blobcache.c): folder choice (argument, environment, XDG, HOME, off, an uncreatable
 * folder), round trips of fresh random payloads, every kind of corrupt entry reported as
 * such (a flipped payload or digest byte, a truncation, an appended byte, a foreign magic, an
 * empty file, another key's or another kind's entry under this name), no temporary file
 * left behind, a killed writer's day-old temporary file swept (a fresh one kept), and a write
 * into a vanished folder failing cleanly; usage per extension, trimming to a size limit in
 * least-recently-used order (a read counts as a use) without touching files that are not
 * entries, bc_open trimming to $MAMC_CACHE_MAX, and size parsing. MAMC_TEST_SEED=<n> replays. */
#include <fcntl.h>
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

static void set_mtime(const char *path, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static void touch_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) fputs(text, f), fclose(f);
}

/* K entries of random sizes and extensions with distinct random ages among files that are not
 * entries; usage counts; trims to random limits remove exactly the oldest; a read makes an
 * entry the newest; trimming to 0 leaves only what is not the cache's. */
static void test_trim(const char *root, uint64_t seed) {
  enum { K = 24 };
  static const char *const exts[] = {"o", "cubin", "ptx"};
  char dir[600], path[800], sub[700];
  snprintf(dir, sizeof dir, "%s/trim", root);
  BlobCache c;
  bc_open(&c, dir, NULL);
  uint8_t keys[K][32];
  size_t size[K];
  int ext[K], alive[K];
  time_t age[K], now = time(NULL);
  for (int i = 0; i < K; i++) {
    random_key(seed, 1000 + (uint64_t)i, keys[i]);
    size[i] = 1 + (size_t)(rng_u64(seed, 2000 + (uint64_t)i) % 3000);
    ext[i] = (int)(rng_u64(seed, 3000 + (uint64_t)i) % 3);
    age[i] = 0;
    alive[i] = 1;
  }
  for (int i = 0; i < K; i++) { /* a random permutation of 1..K hours */
    int j = (int)(rng_u64(seed, 4000 + (uint64_t)i) % (uint64_t)(i + 1));
    age[i] = age[j];
    age[j] = (time_t)(i + 1);
  }
  uint8_t *payload = malloc(3000);
  for (int i = 0; i < 3000; i++) payload[i] = (uint8_t)rng_u64(seed, 5000 + (uint64_t)i);
  uint64_t total = 0, per_ext[3] = {0, 0, 0};
  long files_ext[3] = {0, 0, 0};
  for (int i = 0; i < K; i++) {
    CHECK(bc_write(&c, keys[i], 1, exts[ext[i]], payload, size[i]) == 1);
    bc_path(&c, keys[i], exts[ext[i]], path, sizeof path);
    set_mtime(path, now - age[i] * 3600);
    total += size[i] + BC_HEADER;
    per_ext[ext[i]] += size[i] + BC_HEADER;
    files_ext[ext[i]]++;
  }
  /* not the cache's: kept whatever the limit */
  snprintf(path, sizeof path, "%s/notes.txt", dir);
  touch_file(path, "keep me");
  snprintf(sub, sizeof sub, "%s/corpus", dir);
  CHECK(mkdir(sub, 0755) == 0);
  snprintf(path, sizeof path, "%s/corpus/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.o", dir);
  touch_file(path, "in a subfolder");
  snprintf(path, sizeof path, "%s/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.o", dir);
  touch_file(path, "upper-case hex");
  snprintf(path, sizeof path, "%s/.tmp-fresh", dir);
  touch_file(path, "a live writer's");

  BcUsage u;
  CHECK(bc_usage(dir, &u) == 1);
  CHECK_MSG(u.files == K && u.bytes == total && u.temporaries == 1, "usage %ld files %llu bytes %ld tmp", u.files,
            (unsigned long long)u.bytes, u.temporaries);
  /* per extension, sorted by name: cubin, o, ptx (those present) */
  int at = 0;
  static const int order[] = {1, 0, 2};
  for (int k = 0; k < 3; k++) {
    int e = order[k];
    if (!files_ext[e]) continue;
    CHECK(at < u.n_exts && strcmp(u.by_ext[at].ext, exts[e]) == 0 && u.by_ext[at].files == files_ext[e] &&
          u.by_ext[at].bytes == per_ext[e]);
    at++;
  }
  CHECK(u.n_exts == at);

  /* trims to decreasing random limits: what is left is exactly the newest entries that fit */
  uint64_t limit = total, floor2 = 0; /* never below the two newest entries: the read check needs 2 */
  for (int i = 0; i < K; i++)
    if (age[i] <= 2) floor2 += size[i] + BC_HEADER;
  for (int round = 0; round < 4; round++) {
    limit = limit / 2 + rng_u64(seed, 6000 + (uint64_t)round) % (limit / 4 + 1);
    if (limit < floor2) limit = floor2;
    uint64_t left = 0;
    for (int i = 0; i < K; i++)
      if (alive[i]) left += size[i] + BC_HEADER;
    long want_removed = 0;
    for (time_t a = K; a >= 1 && left > limit; a--) /* the oldest first */
      for (int i = 0; i < K; i++)
        if (alive[i] && age[i] == a) alive[i] = 0, left -= size[i] + BC_HEADER, want_removed++;
    long removed = bc_trim(dir, limit);
    CHECK_MSG(removed == want_removed, "limit %llu: removed %ld, want %ld", (unsigned long long)limit, removed,
              want_removed);
    for (int i = 0; i < K; i++) {
      bc_path(&c, keys[i], exts[ext[i]], path, sizeof path);
      CHECK_MSG((file_size(path) >= 0) == alive[i], "entry %d (%ld h old): present %d, want %d", i, (long)age[i],
                file_size(path) >= 0, alive[i]);
    }
    CHECK(bc_usage(dir, &u) == 1 && u.bytes == left && u.temporaries == 1);
  }
  /* reading the oldest survivor makes it the newest: the next trim removes another */
  int oldest = -1;
  for (int i = 0; i < K; i++)
    if (alive[i] && (oldest < 0 || age[i] > age[oldest])) oldest = i;
  int nalive = 0;
  for (int i = 0; i < K; i++) nalive += alive[i];
  CHECK(nalive >= 2);
  if (oldest >= 0) {
    uint8_t *got;
    size_t gn;
    CHECK(bc_read(&c, keys[oldest], 1, exts[ext[oldest]], &got, &gn) == 1 && gn == size[oldest]);
    free(got);
    CHECK(bc_usage(dir, &u) == 1);
    CHECK(bc_trim(dir, u.bytes - 1) >= 1);
    bc_path(&c, keys[oldest], exts[ext[oldest]], path, sizeof path);
    CHECK_MSG(file_size(path) >= 0, "an entry just read was trimmed before older ones");
  }
  /* bc_open trims to $MAMC_CACHE_MAX */
  setenv("MAMC_CACHE_MAX", "1", 1);
  BlobCache again;
  bc_open(&again, dir, NULL);
  CHECK(bc_usage(dir, &u) == 1 && u.files == 0 && u.temporaries == 1); /* a fresh temporary stays */
  unsetenv("MAMC_CACHE_MAX");
  /* clearing: every entry and temporary; nothing else */
  CHECK(bc_write(&c, keys[0], 1, "o", payload, 10) == 1);
  CHECK(bc_trim(dir, 0) == 2);
  CHECK(bc_usage(dir, &u) == 1 && u.files == 0 && u.bytes == 0 && u.temporaries == 0 && u.n_exts == 0);
  snprintf(path, sizeof path, "%s/notes.txt", dir);
  CHECK(file_size(path) == 7);
  snprintf(path, sizeof path, "%s/corpus/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.o", dir);
  CHECK(file_size(path) > 0);
  snprintf(path, sizeof path, "%s/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.o", dir);
  CHECK(file_size(path) > 0);
  /* a folder that does not exist */
  snprintf(path, sizeof path, "%s/absent", root);
  CHECK(bc_usage(path, &u) == 0 && bc_trim(path, 0) == -1);
  free(payload);
}

static void test_sizes(void) {
  static const struct {
    const char *s;
    int ok;
    uint64_t v;
  } cases[] = {{"0", 1, 0},
               {"4096", 1, 4096},
               {"1K", 1, 1024},
               {"2k", 1, 2048},
               {"3M", 1, 3u << 20},
               {"3MB", 1, 3u << 20},
               {"3MiB", 1, 3u << 20},
               {"1.5G", 1, 3ull << 29},
               {"2T", 1, 2ull << 40},
               {"512B", 1, 512},
               {"", 0, 0},
               {"G", 0, 0},
               {"-1", 0, 0},
               {"1X", 0, 0},
               {"1KK", 0, 0},
               {"1 G", 0, 0},
               {"99999999T", 0, 0}};
  for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) {
    uint64_t v = 12345;
    int ok = bc_parse_size(cases[i].s, &v);
    CHECK_MSG(ok == cases[i].ok && (!ok || v == cases[i].v), "'%s': %d %llu", cases[i].s, ok, (unsigned long long)v);
  }
  unsetenv("MAMC_CACHE_MAX");
  CHECK(bc_limit() == (uint64_t)1 << 30);
  setenv("MAMC_CACHE_MAX", "0", 1);
  CHECK(bc_limit() == UINT64_MAX);
  setenv("MAMC_CACHE_MAX", "200M", 1);
  CHECK(bc_limit() == (uint64_t)200 << 20);
  setenv("MAMC_CACHE_MAX", "lots", 1); /* warned about; the default */
  CHECK(bc_limit() == (uint64_t)1 << 30);
  unsetenv("MAMC_CACHE_MAX");
}

int main(void) {
  const char *env = getenv("MAMC_TEST_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  printf("seed %llu (MAMC_TEST_SEED=<n> replays)\n", (unsigned long long)seed);
  char root[] = "/tmp/mamc-blobcache-XXXXXX";
  if (!mkdtemp(root)) return perror("mkdtemp"), 1;
  test_sha256(seed);
  test_folder(root);
  unsetenv("MAMC_CACHE_MAX");
  test_entries(root, seed);
  test_trim(root, seed);
  test_sizes();
  test_rm_tree(root);
  return test_done();
}
