/* expect_diag.c — the expectation checker of expect_diag.h: a test's expected diagnostic is
 * written in the input file (`# expect: 3:14: error: ...`), and this compares it with the
 * first diagnostic the compiler printed, including the echoed source line and the caret.
 */
#include "expect_diag.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int expect_diag_find(const char *text, char *exp, size_t expsz) {
  static const char tag[] = "# expect: ";
  const char *p = strstr(text, tag);
  if (!p) return 0;
  p += strlen(tag);
  size_t n = strcspn(p, "\r\n");
  if (n + 1 > expsz) return 0;
  memcpy(exp, p, n);
  exp[n] = 0;
  return 1;
}

/* Line `k` (0-based) of s, without its newline, into buf. Returns 0 if s has no such line. */
static int nth_line(const char *s, int k, char *buf, size_t bufsz) {
  for (; k > 0; k--) {
    s = strchr(s, '\n');
    if (!s) return 0;
    s++;
  }
  if (!*s) return 0;
  size_t n = strcspn(s, "\n");
  if (n + 1 > bufsz) n = bufsz - 1;
  memcpy(buf, s, n);
  buf[n] = 0;
  return 1;
}

int expect_diag_check(const char *name, const char *text, const char *out, char *why,
                      size_t whysz) {
  char exp[1024], want[1200], got[1200];
  int line, col;
  if (!expect_diag_find(text, exp, sizeof exp)) {
    snprintf(why, whysz, "%s has no '# expect: LINE:COL: ...' line", name);
    return 0;
  }
  if (sscanf(exp, "%d:%d:", &line, &col) != 2 || line < 1 || col < 1) {
    snprintf(why, whysz, "%s: the expectation '%s' does not start with LINE:COL:", name, exp);
    return 0;
  }
  snprintf(want, sizeof want, "%s:%s", name, exp);
  if (!out || !nth_line(out, 0, got, sizeof got)) {
    snprintf(why, whysz, "no diagnostic at all\n  expected: %s", want);
    return 0;
  }
  if (strcmp(got, want) != 0) {
    snprintf(why, whysz, "first diagnostic differs\n  got:      %s\n  expected: %s", got, want);
    return 0;
  }
  /* the echoed source line */
  char src[1200] = "  ", echo[1200] = "";
  if (!nth_line(text, line - 1, src + 2, sizeof src - 2)) src[2] = 0;
  for (char *c = src; *c; c++) {
    if (*c == '\t') *c = ' ';
    if (*c == '\r') *c = 0;
  }
  if (!nth_line(out, 1, echo, sizeof echo) || strcmp(echo, src) != 0) {
    snprintf(why, whysz, "the source line is not echoed\n  got:      '%s'\n  expected: '%s'",
             echo, src);
    return 0;
  }
  /* the caret */
  char caret[1200];
  if (!nth_line(out, 2, caret, sizeof caret) || strncmp(caret, "  ", 2) != 0 ||
      strspn(caret + 2, " ") != (size_t)(col - 1) || strcmp(caret + 2 + col - 1, "^") != 0) {
    snprintf(why, whysz, "the caret is not under column %d\n  %s\n%s", col, echo + 2,
             nth_line(out, 2, caret, sizeof caret) ? caret : "(no caret line)");
    return 0;
  }
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char **expect_diag_list(const char *dir, const char *ext, int *n) {
  DIR *d = opendir(dir);
  *n = 0;
  if (!d) return NULL;
  int cap = 16;
  char **v = malloc(sizeof(char *) * (size_t)cap);
  struct dirent *e;
  size_t el = strlen(ext);
  while (v && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l <= el || strcmp(e->d_name + l - el, ext) != 0) continue;
    if (*n == cap) {
      char **nv = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
      if (!nv) break;
      v = nv;
    }
    v[(*n)++] = strdup(e->d_name);
  }
  closedir(d);
  if (v) qsort(v, (size_t)*n, sizeof(char *), cmp_names);
  return v;
}

void expect_diag_free_list(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

char *expect_diag_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *s = malloc(cap);
  size_t got;
  while (s && (got = fread(s + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (cap - len - 1 == 0) {
      char *ns = realloc(s, cap *= 2);
      if (!ns) {
        free(s);
        fclose(f);
        return NULL;
      }
      s = ns;
    }
  }
  fclose(f);
  if (s) s[len] = 0;
  return s;
}
