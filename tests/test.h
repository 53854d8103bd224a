/* test.h — a tiny test harness: CHECK macros that count failures and print where, and a
 * summary. Each test program returns test_done() from main: 0 when every check passed. */
#ifndef MAMC_TEST_H
#define MAMC_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

static int test_failures, test_checks;

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    test_checks++;                                                                         \
    if (!(cond)) {                                                                         \
      test_failures++;                                                                     \
      fprintf(stderr, "%s:%d: NOT OK: %s\n", __FILE__, __LINE__, #cond);                   \
    }                                                                                      \
  } while (0)

#define CHECK_MSG(cond, ...)                                                               \
  do {                                                                                     \
    test_checks++;                                                                         \
    if (!(cond)) {                                                                         \
      test_failures++;                                                                     \
      fprintf(stderr, "%s:%d: NOT OK: %s: ", __FILE__, __LINE__, #cond);                   \
      fprintf(stderr, __VA_ARGS__);                                                        \
      fputc('\n', stderr);                                                                 \
    }                                                                                      \
  } while (0)

#define CHECK_STR(a, b)                                                                    \
  do {                                                                                     \
    const char *a_ = (a), *b_ = (b);                                                       \
    CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "\n  got:      %s\n  expected: %s",         \
              a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                     \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
  do {                                                                                     \
    double a_ = (a), b_ = (b);                                                             \
    CHECK_MSG(fabs(a_ - b_) <= (tol), "%.17g vs %.17g (tol %g)", a_, b_, (double)(tol));   \
  } while (0)

/* Removes a flat folder (its files, then itself): scratch folders of tests. */
static inline void test_rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[1024];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    remove(p);
  }
  if (d) closedir(d);
  rmdir(dir);
}

/* Removes a folder and everything under it (rm -rf): scratch trees of tests. */
static inline void test_rm_tree(const char *dir) {
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* Copies file `from` over file `to`, byte for byte. */
static inline void test_copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  int c;
  while (a && b && (c = fgetc(a)) != EOF) fputc(c, b);
  if (a) fclose(a);
  if (b) fclose(b);
}

/* Flips (xor 0x5a) byte `at` of a file, counted from the end when negative: corrupt entries. */
static inline void test_flip_byte(const char *path, long at) {
  FILE *f = fopen(path, "r+b");
  if (!f) return;
  fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
  int c = fgetc(f);
  fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

static inline int test_done(void) {
  if (test_failures)
    fprintf(stderr, "NOT OK: %d of %d checks failed\n", test_failures, test_checks);
  else
    printf("OK: %d checks\n", test_checks);
  return test_failures ? 1 : 0;
}
#endif
