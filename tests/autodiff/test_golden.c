/* test_golden.c — golden IR text of differentiated graphs (label golden). Each file
 * golden/NAME.mir is a program (read whole; comments are ignored) followed by a `# expect:`
 * block: the program as printed after pass_autodiff ran on every graph with a `loss`, each
 * line prefixed with "# ". MAMC_UPDATE_GOLDEN=1 rewrites the block from the current output
 * (then read the diff by eye).
 *
 *   test_autodiff_golden DIR
 */
#include <dirent.h>
#include <stdlib.h>

#include "autodiff.h"
#include "test.h"

static void run_file(const char *path) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_read(&a, &d, path);
  CHECK_MSG(f != NULL, "%s", d.out.s ? d.out.s : path);
  const char *ex = f ? strstr(f->text, "# expect:\n") : NULL;
  CHECK_MSG(!f || ex, "%s: no '# expect:' block", path);
  if (!ex) goto done;
  StrBuf want;
  sb_init(&want);
  for (const char *s = ex + strlen("# expect:\n"); *s == '#';) {
    const char *e = strchr(s, '\n');
    if (!e) e = s + strlen(s);
    const char *t = s + 1;
    if (*t == ' ') t++;
    sb_putn(&want, t, (size_t)(e - t));
    sb_putc(&want, '\n');
    s = *e ? e + 1 : e;
  }
  IrProgram p;
  ir_program_init(&p, &a);
  int ok = ir_parse(&p, f, &d);
  CHECK_MSG(ok, "%s:\n%s", path, d.out.s ? d.out.s : "");
  for (int gi = 0; ok && gi < p.graphs.n; gi++) {
    int has_loss = 0;
    for (int o = 0; o < p.graphs.v[gi].outputs.n; o++) has_loss |= strcmp(p.graphs.v[gi].outputs.v[o].name, "loss") == 0;
    if (has_loss) CHECK_MSG(ok = pass_autodiff(&p, gi, &d), "%s: autodiff:\n%s", path, d.out.s ? d.out.s : "");
  }
  if (ok) {
    CHECK_MSG(ir_verify(&p, &d), "%s: the result does not verify:\n%s", path, d.out.s ? d.out.s : "");
    StrBuf got;
    sb_init(&got);
    ir_print_program(&got, &p);
    if (getenv("MAMC_UPDATE_GOLDEN")) {
      FILE *o = fopen(path, "w");
      CHECK_MSG(o != NULL, "cannot write %s", path);
      if (o) {
        fwrite(f->text, 1, (size_t)(ex - f->text), o);
        fputs("# expect:\n", o);
        for (const char *s = got.s ? got.s : ""; *s;) {
          const char *e = strchr(s, '\n');
          if (!e) e = s + strlen(s);
          fprintf(o, "#%s%.*s\n", e > s ? " " : "", (int)(e - s), s);
          s = *e ? e + 1 : e;
        }
        fclose(o);
      }
    } else {
      CHECK_MSG(strcmp(got.s ? got.s : "", want.s ? want.s : "") == 0, "%s: printed text differs:\n--- got:\n%s--- expected:\n%s",
                path, got.s ? got.s : "", want.s ? want.s : "");
    }
    /* the differentiated program's text parses back to the same text */
    IrProgram q;
    ir_program_init(&q, &a);
    ok = ir_parse(&q, srcfile_from_string(&a, "printed.mir", got.s ? got.s : ""), &d);
    CHECK_MSG(ok, "%s: the printed result does not parse:\n%s", path, d.out.s ? d.out.s : "");
    if (ok) {
      StrBuf again;
      sb_init(&again);
      ir_print_program(&again, &q);
      CHECK_MSG(strcmp(again.s ? again.s : "", got.s ? got.s : "") == 0, "%s: the result does not round-trip", path);
      sb_free(&again);
    }
    printf("%s: %s\n", path, test_failures ? "checked (failures above)" : "OK");
    sb_free(&got);
  }
  sb_free(&want);
done:
  diag_free(&d);
  arena_free(&a);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/autodiff/golden";
  DIR *dp = opendir(dir);
  CHECK_MSG(dp != NULL, "cannot open %s", dir);
  struct dirent *e;
  int n = 0;
  while (dp && (e = readdir(dp))) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".mir") == 0) {
      char path[2048];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      run_file(path);
      n++;
    }
  }
  if (dp) closedir(dp);
  CHECK_MSG(n > 0, "no golden files in %s", dir);
  return test_done();
}
