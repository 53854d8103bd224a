/* test_elab.c — elaboration end to end: every example in examples/ (with its .yaml)
 * elaborates, verifies, and its IR text parses back to identical text; golden/NAME.mam with
 * NAME.yaml elaborates to exactly golden/NAME.mir (MAMC_UPDATE_GOLDEN=1 rewrites it). */
#include <dirent.h>
#include <stdlib.h>

#include "bind.h"
#include "test.h"

static IrProgram *elab(Arena *a, Diag *d, const char *mam, const char *yaml) {
  RunConfig *cfg = config_load(a, d, yaml);
  if (!cfg) return NULL;
  return fe_elaborate_config(a, d, mam, cfg);
}

static char *print(IrProgram *p) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, p);
  return b.s;
}

static void roundtrip(const char *mam, const char *yaml) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram *p = elab(&a, &d, mam, yaml);
  CHECK_MSG(p != NULL, "%s does not elaborate:\n%s", mam, d.out.s ? d.out.s : "");
  if (p) {
    CHECK_MSG(ir_verify(p, &d), "%s does not verify:\n%s", mam, d.out.s ? d.out.s : "");
    CHECK(p->graphs.n > 0 && p->modules.n > 0);
    char *t1 = print(p);
    IrProgram q;
    ir_program_init(&q, &a);
    CHECK_MSG(ir_parse(&q, srcfile_from_string(&a, "printed.mir", t1), &d), "%s: printed IR does not parse:\n%s", mam,
              d.out.s ? d.out.s : "");
    char *t2 = print(&q);
    CHECK_MSG(strcmp(t1, t2) == 0, "%s: IR text does not round-trip", mam);
    printf("%s: %d tasks, %d modules, %zu bytes of IR: round trip %s\n", mam, p->graphs.n, p->modules.n,
           strlen(t1), strcmp(t1, t2) == 0 ? "identical" : "DIFFERS");
    free(t1);
    free(t2);
  }
  diag_free(&d);
  arena_free(&a);
}

static void golden(const char *dir, const char *name) {
  char mam[1024], yaml[1024], mir[1024];
  snprintf(mam, sizeof mam, "%s/%s.mam", dir, name);
  snprintf(yaml, sizeof yaml, "%s/%s.yaml", dir, name);
  snprintf(mir, sizeof mir, "%s/%s.mir", dir, name);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram *p = elab(&a, &d, mam, yaml);
  CHECK_MSG(p != NULL, "%s:\n%s", mam, d.out.s ? d.out.s : "");
  if (p) {
    char *got = print(p);
    if (getenv("MAMC_UPDATE_GOLDEN")) {
      FILE *f = fopen(mir, "w");
      fputs(got, f);
      fclose(f);
    }
    SrcFile *want = srcfile_read(&a, &d, mir);
    CHECK_MSG(want && strcmp(want->text, got) == 0, "%s differs from %s:\n%s", mam, mir, got);
    free(got);
  }
  diag_free(&d);
  arena_free(&a);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/frontend_sema";
  const char *examples[] = {"multi", "shared", "lm"};
  for (int i = 0; i < COUNT_OF(examples); i++) {
    char mam[256], yaml[256];
    snprintf(mam, sizeof mam, "examples/%s.mam", examples[i]);
    snprintf(yaml, sizeof yaml, "examples/%s.yaml", examples[i]);
    roundtrip(mam, yaml);
  }
  char gdir[1024];
  snprintf(gdir, sizeof gdir, "%s/golden", dir);
  DIR *dp = opendir(gdir);
  CHECK(dp != NULL);
  struct dirent *e;
  int n = 0;
  while (dp && (e = readdir(dp))) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".mam") == 0) {
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(l - 4), e->d_name);
      golden(gdir, name);
      n++;
    }
  }
  if (dp) closedir(dp);
  CHECK(n > 0);
  return test_done();
}
