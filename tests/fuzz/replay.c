/* replay.c — runs the fuzz harnesses' entry points without libFuzzer, so every build (and
 * CI, in the normal and the sanitizer build) replays what fuzzing found:
 *
 *   fuzz_replay [ROOT]                 every file of ROOT/corpus/<harness>/ and
 *                                      ROOT/crashes/<harness>/ through that harness
 *                                      (ROOT: tests/fuzz)
 *   fuzz_replay HARNESS FILE...        the given files through one harness (to reproduce)
 *
 * A finding aborts (the harness checks its properties with FUZZ_ASSERT); ASan/UBSan report
 * memory errors in the sanitizer build. Prints one line per harness with the files it ran.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

static const struct {
  const char *name;
  FuzzFn fn;
} harnesses[] = {
    {"mam", fuzz_mam}, {"ir", fuzz_ir}, {"yaml", fuzz_yaml}, {"safetensors", fuzz_safetensors}, {"vocab", fuzz_vocab},
};

static int run_file(FuzzFn fn, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
    return 0;
  }
  StrBuf b;
  sb_init(&b);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_putn(&b, buf, n);
  fclose(f);
  /* an exact-size copy, so ASan sees reads past the end of the input */
  uint8_t *data = malloc(b.len ? b.len : 1);
  if (!data) abort();
  if (b.len) memcpy(data, b.s, b.len);
  fn(data, b.len);
  free(data);
  sb_free(&b);
  return 1;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file of dir (sorted, so runs are repeatable); -1 when dir is missing. */
static int run_dir(FuzzFn fn, const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) return -1;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, sizeof(char *) * (size_t)cap);
      if (!nn) abort();
      names = nn;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(dp);
  qsort(names, (size_t)n, sizeof(char *), name_cmp);
  int ran = 0;
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) ran += run_file(fn, path);
    free(names[i]);
  }
  free(names);
  return ran;
}

int main(int argc, char **argv) {
  for (int h = 0; argc >= 3 && h < COUNT_OF(harnesses); h++) {
    if (strcmp(argv[1], harnesses[h].name) != 0) continue;
    for (int i = 2; i < argc; i++) {
      printf("%s: %s\n", harnesses[h].name, argv[i]);
      fflush(stdout);
      if (!run_file(harnesses[h].fn, argv[i])) return 1;
    }
    printf("OK\n");
    return 0;
  }
  if (argc >= 3) {
    fprintf(stderr, "fuzz_replay: unknown harness '%s'\n", argv[1]);
    return 2;
  }
  const char *root = argc > 1 ? argv[1] : "tests/fuzz";
  int total = 0;
  for (int h = 0; h < COUNT_OF(harnesses); h++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus/%s", root, harnesses[h].name);
    int c = run_dir(harnesses[h].fn, dir);
    if (c <= 0) {
      fprintf(stderr, "fuzz_replay: no corpus in %s\n", dir);
      return 1;
    }
    snprintf(dir, sizeof dir, "%s/crashes/%s", root, harnesses[h].name);
    int k = run_dir(harnesses[h].fn, dir);
    printf("%-12s %5d corpus files, %3d crash files: OK\n", harnesses[h].name, c, k < 0 ? 0 : k);
    fflush(stdout);
    total += c + (k < 0 ? 0 : k);
  }
  printf("OK: %d files replayed\n", total);
  return 0;
}
