/* test_sema_diag.c — semantic diagnostics of the elaborator and of the run configuration
 * as the model sees it. Each cases/NAME.mam starts with `# expect: FILE:LINE:COL: error: ...`
 * (FILE without its folder); it is elaborated against cases/NAME.yaml if present, else
 * cases/default.yaml. The test asserts the first diagnostic line exactly and that the caret
 * under the quoted source line stands at COL. */
#include <dirent.h>
#include <stdlib.h>

#include "bind.h"
#include "test.h"

static const char *basename_of(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static void run_case(const char *dir, const char *name) {
  char path[1024], ypath[1024];
  snprintf(path, sizeof path, "%s/%s.mam", dir, name);
  snprintf(ypath, sizeof ypath, "%s/%s.yaml", dir, name);
  FILE *f = fopen(ypath, "r");
  if (f) fclose(f);
  else snprintf(ypath, sizeof ypath, "%s/default.yaml", dir);

  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = srcfile_read(&a, &d, path);
  CHECK(src != NULL);
  if (!src) return;
  const char *exp = strstr(src->text, "# expect: ");
  CHECK_MSG(exp != NULL, "%s has no '# expect:' line", path);
  if (!exp) return;
  exp += 10;
  char want[512];
  size_t n = strcspn(exp, "\n");
  snprintf(want, sizeof want, "%.*s", (int)n, exp);

  RunConfig *cfg = config_load(&a, &d, ypath);
  IrProgram *p = NULL;
  if (cfg) p = fe_elaborate_config(&a, &d, path, cfg);
  CHECK_MSG(p == NULL && d.nerrors > 0, "%s: expected an error, got none", name);
  const char *out = d.out.s ? d.out.s : "";
  /* the first error line, with the folder removed from its file name */
  const char *line = strstr(out, ": error: ");
  while (line && line > out && line[-1] != '\n') line--;
  char got[512] = "";
  if (line) {
    size_t ln = strcspn(line, "\n"), fl = strcspn(line, ":");
    char file[512];
    snprintf(file, sizeof file, "%.*s", (int)fl, line);
    snprintf(got, sizeof got, "%s%.*s", basename_of(file), (int)(ln - fl), line + fl);
  }
  /* an expectation ending in "..." is a prefix (for machine-dependent tails) */
  size_t wl = strlen(want);
  int prefix = wl > 3 && strcmp(want + wl - 3, "...") == 0;
  if (prefix) want[wl - 3] = 0;
  int same = prefix ? strncmp(got, want, strlen(want)) == 0 : strcmp(got, want) == 0;
  CHECK_MSG(same, "%s:\n  got:      %s\n  expected: %s\n  all output:\n%s", name, got, want, out);
  /* caret: third line of the diagnostic, column from the expectation */
  int col = 0;
  const char *c1 = strchr(want, ':');
  if (c1) c1 = strchr(c1 + 1, ':');
  if (c1) col = atoi(c1 + 1);
  if (line && col > 0) {
    const char *l2 = strchr(line, '\n');
    const char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    CHECK_MSG(l3 && (int)strcspn(l3 + 1, "^") == col + 1, "%s: caret not under column %d:\n%s", name, col, out);
  }
  diag_free(&d);
  arena_free(&a);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/frontend_sema/cases";
  DIR *dp = opendir(dir);
  CHECK(dp != NULL);
  if (!dp) return test_done();
  char names[128][128];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp)) && n < 128) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".mam") == 0 && strncmp(e->d_name, "_", 1) != 0) {
      snprintf(names[n], sizeof names[n], "%.*s", (int)(l - 4), e->d_name);
      n++;
    }
  }
  closedir(dp);
  for (int i = 0; i < n; i++) run_case(dir, names[i]);
  printf("%d semantic diagnostic cases\n", n);
  CHECK(n >= 30);
  return test_done();
}
