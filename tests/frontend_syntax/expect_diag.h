/* expect_diag.h — checks a compiler diagnostic against the expectation written inside the
 * source file itself, on a line `# expect: LINE:COL: error: MESSAGE` (the first such line).
 * Used by the syntax-error tests; other diagnostic tests can link expect_diag.c (or copy it).
 */
#ifndef MAMC_EXPECT_DIAG_H
#define MAMC_EXPECT_DIAG_H
#include <stddef.h>

/* Finds the `# expect: ` line in `text` and copies what follows it (up to the end of the
 * line) into `exp`. Returns 0 when there is none (or it does not fit). */
int expect_diag_find(const char *text, char *exp, size_t expsz);

/* Checks `out`, the diagnostics printed for the file `name` with contents `text`:
 *   - its first line is exactly `name:` + the expectation of `text`,
 *   - the next line is the source line LINE (indented by two, tabs shown as spaces),
 *   - the line after it is a caret under column COL.
 * Returns 1 when all hold; otherwise 0 with the reason in `why`. */
int expect_diag_check(const char *name, const char *text, const char *out, char *why,
                      size_t whysz);

/* The names of the regular files in `dir` that end in `ext`, sorted (malloc'd: release them
 * with expect_diag_free_list). Returns NULL when the directory cannot be read. */
char **expect_diag_list(const char *dir, const char *ext, int *n);
void expect_diag_free_list(char **names, int n);

/* Reads a whole file (malloc'd, NUL-terminated) or returns NULL. */
char *expect_diag_read_file(const char *path);

#endif
