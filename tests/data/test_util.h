/* test_util.h — helpers shared by the data pipeline tests: reading a fixture's lines. */
#ifndef MAMC_TEST_DATA_UTIL_H
#define MAMC_TEST_DATA_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES "tests/data/fixtures/"

/* The lines of a text file (without '\n'), all in one malloc'd block returned in *store. */
static int read_lines(const char *path, char **store, const char ***lines, size_t **lens) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "cannot open %s (run from the repository root)\n", path);
    return -1;
  }
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, fp) != (size_t)n) n = 0;
  fclose(fp);
  buf[n] = 0;
  int count = 0;
  for (long i = 0; i < n; i++) count += buf[i] == '\n';
  if (n && buf[n - 1] != '\n') count++;
  *lines = malloc(sizeof **lines * (size_t)(count + 1));
  *lens = malloc(sizeof **lens * (size_t)(count + 1));
  int k = 0;
  for (char *p = buf; p < buf + n;) {
    char *e = memchr(p, '\n', (size_t)(buf + n - p));
    if (!e) e = buf + n;
    *e = 0;
    (*lines)[k] = p;
    (*lens)[k++] = (size_t)(e - p);
    p = e + 1;
  }
  *store = buf;
  return k;
}

#endif
