/* golden.h — the pieces the golden IR-text harnesses share (tests/passes, tests/comm,
 * tests/decode): a program as text, a `# marker` comment block's text, and rewriting a file's
 * `# expect:` block (MAMC_UPDATE_GOLDEN=1). Header-only, like test.h. */
#ifndef MAMC_TESTS_GOLDEN_H
#define MAMC_TESTS_GOLDEN_H

#include <stdio.h>
#include <string.h>

#include "ir.h"

/* The program printed (never NULL; free() it). */
static inline char *golden_print(const IrProgram *p) {
  StrBuf b;
  sb_init(&b);
  ir_print_program(&b, p);
  return b.s ? b.s : strdup("");
}

/* The comment lines right after `marker` (e.g. "# expect:\n") without their "# " / "#";
 * NULL when the file has no such marker. free() it. */
static inline char *golden_block(const char *text, const char *marker) {
  const char *ex = strstr(text, marker);
  if (!ex) return NULL;
  StrBuf want;
  sb_init(&want);
  for (const char *s = ex + strlen(marker); *s == '#';) {
    const char *e = strchr(s, '\n');
    if (!e) e = s + strlen(s);
    const char *t = s + 1;
    if (*t == ' ') t++;
    sb_putn(&want, t, (size_t)(e - t));
    sb_putc(&want, '\n');
    s = *e ? e + 1 : e;
  }
  return want.s ? want.s : strdup("");
}

/* Rewrites path: text up to its `# expect:` block (all of it if none), then `got` as that
 * block, one "# " comment line a line. */
static inline void golden_update(const char *path, const char *text, const char *got) {
  const char *ex = strstr(text, "# expect:\n");
  size_t head = ex ? (size_t)(ex - text) : strlen(text);
  FILE *f = fopen(path, "w");
  if (!f) return;
  fwrite(text, 1, head, f);
  if (!ex && head && text[head - 1] != '\n') fputc('\n', f);
  fputs("# expect:\n", f);
  for (const char *s = got; *s;) {
    const char *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    fputs(n ? "# " : "#", f);
    fwrite(s, 1, n, f);
    fputc('\n', f);
    s += n + (e ? 1 : 0);
  }
  fclose(f);
  printf("%s: expect block rewritten\n", path);
}

#endif
