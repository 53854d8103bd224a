/* support.h — the small utilities every layer uses: arena allocation, growable arrays,
 * a string builder, diagnostics with source carets, and a monotonic clock.
 *
 * Lives in ir/ because ir/ depends on nothing of ours and every other layer depends on ir/.
 * No global state: an Arena and a Diag are passed explicitly.
 */
#ifndef MAMC_SUPPORT_H
#define MAMC_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__)
#define MAMC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MAMC_NORETURN __attribute__((noreturn))
#else
#define MAMC_PRINTF(a, b)
#define MAMC_NORETURN
#endif

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A monotonic clock in seconds (CLOCK_MONOTONIC), for timings and progress. */
double mono_seconds(void);

/* ---------------------------------------------------------------------------------------
 * Arena: bump allocation in chunks, freed in bulk. IR, ASTs and configurations live in one.
 * On allocation failure: if `oom` is set, longjmp(*oom, 1) (the compile entry point set it
 * and frees the arena); otherwise return NULL. Memory is zeroed.
 */
typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
  ArenaChunk *head;
  size_t used_total;
  jmp_buf *oom;
  /* fault injection (tests, issue #9): fail the Nth allocation from now when > 0 */
  long fail_after;
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) MAMC_PRINTF(2, 3);
#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

/* Growable array in an arena: `Vec(T)` is {T *v; int n, cap;}. vec_push copies on growth
 * (old storage stays in the arena until it is freed; total waste is bounded by 2x). */
#define Vec(T) struct { T *v; int n, cap; }
#define vec_push(arena, vec, x)                                                            \
  do {                                                                                     \
    if ((vec).n == (vec).cap) {                                                            \
      int ncap_ = (vec).cap ? 2 * (vec).cap : 8;                                           \
      void *nv_ = arena_alloc((arena), sizeof(*(vec).v) * (size_t)ncap_);                  \
      if ((vec).n) memcpy(nv_, (vec).v, sizeof(*(vec).v) * (size_t)(vec).n);               \
      (vec).v = nv_;                                                                       \
      (vec).cap = ncap_;                                                                   \
    }                                                                                      \
    (vec).v[(vec).n++] = (x);                                                              \
  } while (0)

/* ---------------------------------------------------------------------------------------
 * StrBuf: a growable heap string (malloc), for printers. sb_free releases it.
 */
typedef struct StrBuf {
  char *s;
  size_t len, cap;
  int failed; /* an allocation failed; content is truncated */
} StrBuf;

void sb_init(StrBuf *b);
void sb_free(StrBuf *b);
void sb_putc(StrBuf *b, char c);
void sb_puts(StrBuf *b, const char *s);
void sb_putn(StrBuf *b, const char *s, size_t n);
void sb_printf(StrBuf *b, const char *fmt, ...) MAMC_PRINTF(2, 3);
void sb_vprintf(StrBuf *b, const char *fmt, va_list ap);
void sb_pad_to(StrBuf *b, size_t col); /* pad with spaces until the current line has col chars */

/* ---- the arena and StrBuf together, and allocation failure ------------------------------ */
/* Copies the text of b into a (an empty b gives "") and frees b. A StrBuf that ran out of
 * memory (b->failed: its text is truncated) counts as an allocation failure of a, like one
 * of the copy: it unwinds to a->oom, else returns NULL; b is freed first either way. */
char *arena_take_sb(Arena *a, StrBuf *b);
/* Allocation failure in a function that holds heap memory besides the arena. It frees that
 * memory in its own handler, then passes the failure on:
 *
 *     int *tmp = malloc(...);                  (set before setjmp, not changed after)
 *     jmp_buf jb, *saved = a->oom;
 *     if (setjmp(jb)) {
 *       free(tmp);
 *       arena_rethrow(a, saved);               (unwinds to the caller's handler, if any)
 *       diag_plain(d, "out of memory"); return 0;   (no caller's handler: report it)
 *     }
 *     a->oom = &jb;
 *     ... every way out restores a->oom = saved ...
 *
 * arena_rethrow sets a->oom = saved and longjmps to it; it returns only when saved is NULL. */
void arena_rethrow(Arena *a, jmp_buf *saved);

/* ---------------------------------------------------------------------------------------
 * Diagnostics. Every input error is `file:line:col: error: message`, then the source line
 * and a caret under the column. Messages accumulate in `out` (the caller decides where they
 * go: the CLI prints them to stderr, tests compare them).
 */
typedef struct SrcFile {
  const char *name; /* as given by the user, e.g. "examples/multi.mam" */
  const char *text; /* NUL-terminated contents */
  size_t len;
} SrcFile;

typedef struct SrcLoc {
  const SrcFile *file; /* NULL: no location known */
  int line, col;       /* 1-based */
} SrcLoc;

typedef struct Diag {
  StrBuf out;
  int nerrors, nwarnings;
  int max_errors; /* stop recording after this many (0 = 20) */
} Diag;

void diag_init(Diag *d);
void diag_free(Diag *d);
void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4);
void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4);
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4);
void diag_verror(Diag *d, SrcLoc loc, const char *kind, const char *fmt, va_list ap);
/* `error: message` with no location (missing files and the like) */
void diag_plain(Diag *d, const char *fmt, ...) MAMC_PRINTF(2, 3);

/* Read a whole file into an arena-owned SrcFile; on failure reports `name: error: ...`
 * and returns NULL. */
SrcFile *srcfile_read(Arena *a, Diag *d, const char *path);
SrcFile *srcfile_from_string(Arena *a, const char *name, const char *text);

/* Internal bugs (not bad input): print file:line and abort. Never used for user errors. */
MAMC_NORETURN void mamc_die_at(const char *file, int line, const char *fmt, ...) MAMC_PRINTF(3, 4);
#define die(...) mamc_die_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
