/* test_alloc_faults.c — allocation-failure injection in the compiler (issue #9): compiles a
 * small model (run configuration -> .mam frontend with the stdlib -> verifier -> the whole
 * pass pipeline) once for every allocation that compile makes, failing that one
 * allocation: N = 1, 2, ... until a compile completes without reaching allocation N.
 * Each time the compiler must either return an error (with a diagnostic) or, when the failure
 * was absorbed, produce exactly the program of the fault-free compile; it must never crash or
 * abort, and it must free everything it allocated (the live-block count returns to where it
 * was; LSan checks the same in the sanitizer build).
 *
 * The hook is link-time and test-only: this executable is linked with
 * -Wl,--wrap=malloc,calloc,realloc,free,strdup and --wrap of the arena's entry points
 * (tests/faults/CMakeLists.txt), so every call the statically linked libraries (mamc_ir,
 * mamc_frontend, mamc_passes and, when its static archive is found, libyaml) make to them
 * lands in the __wrap_ functions below, which count calls in thread-local state and fail the
 * chosen one. The libraries are the ordinary ones: no allocator indirection, no global state
 * in them. Calls inside ir/support.c itself (arena_strdup -> arena_alloc) are not separate
 * sites; the chunk mallocs under them are.
 *
 *   test_alloc_faults MODEL.mam RUN.yaml        every allocation site
 *   MAMC_FAULT_AT=N test_alloc_faults ...       only allocation N (debugging), printing the
 *                                               diagnostics
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include "bind.h"
#include "config.h"
#include "elab.h"
#include "ir.h"
#include "pipeline.h"
#include "test.h"

/* ---- the hook --------------------------------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
void *__real_arena_alloc(Arena *a, size_t size);
char *__real_arena_strdup(Arena *a, const char *s);
char *__real_arena_strndup(Arena *a, const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
void *__wrap_arena_alloc(Arena *a, size_t size);
char *__wrap_arena_strdup(Arena *a, const char *s);
char *__wrap_arena_strndup(Arena *a, const char *s, size_t n);
char *__wrap_arena_printf(Arena *a, const char *fmt, ...);

typedef struct Faults {
  int enabled;  /* count (and maybe fail) allocations */
  long calls;   /* allocations counted since the last reset */
  long fail_at; /* fail allocation number fail_at (0: none) */
  long hits;    /* injected failures */
  long live;    /* heap blocks allocated through the hook and not freed */
} Faults;
static _Thread_local Faults F;

static int inject(void) {
  if (!F.enabled) return 0;
  if (++F.calls != F.fail_at) return 0;
  F.hits++;
  return 1;
}

void *__wrap_malloc(size_t n) {
  if (inject()) return NULL;
  void *p = __real_malloc(n);
  if (p) F.live++;
  return p;
}
void *__wrap_calloc(size_t n, size_t size) {
  if (inject()) return NULL;
  void *p = __real_calloc(n, size);
  if (p) F.live++;
  return p;
}
void *__wrap_realloc(void *p, size_t n) {
  if (inject()) return NULL;
  void *q = __real_realloc(p, n);
  if (!p && q) F.live++;
  if (p && n == 0) F.live--; /* glibc: frees p */
  return q;
}
void __wrap_free(void *p) {
  if (p) F.live--;
  __real_free(p);
}
char *__wrap_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = __wrap_malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* An arena allocation failure does what the arena does: unwind to a->oom, else NULL. */
static void *arena_fails(Arena *a) {
  if (a->oom) longjmp(*a->oom, 1);
  return NULL;
}
void *__wrap_arena_alloc(Arena *a, size_t size) { return inject() ? arena_fails(a) : __real_arena_alloc(a, size); }
char *__wrap_arena_strdup(Arena *a, const char *s) { return inject() ? arena_fails(a) : __real_arena_strdup(a, s); }
char *__wrap_arena_strndup(Arena *a, const char *s, size_t n) {
  return inject() ? arena_fails(a) : __real_arena_strndup(a, s, n);
}
char *__wrap_arena_printf(Arena *a, const char *fmt, ...) {
  if (inject()) return arena_fails(a);
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = __real_arena_alloc(a, (size_t)n + 1);
  if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return p;
}

/* ---- the compile ------------------------------------------------------------------------ */

/* Config -> elaborate -> verify -> pipeline, allocations counted; the printed program (when
 * it succeeded) and the diagnostics are written to ir and msgs (empty on entry) with the
 * hook off. *leaked: heap blocks still live after the compiler freed everything. */
static int compile(const char *mam, const char *yaml, StrBuf *ir, StrBuf *msgs, int *nerrors, long *leaked) {
  long live0 = F.live;
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  F.enabled = 1;
  RunConfig *cfg = config_load(&a, &d, yaml);
  IrProgram *p = cfg ? fe_elaborate_config(&a, &d, mam, cfg) : NULL;
  int ok = p && ir_verify(p, &d) && pass_run_pipeline(p, NULL, &d);
  F.enabled = 0;
  if (ok) ir_print_program(ir, p);
  if (d.out.s) sb_puts(msgs, d.out.s);
  *nerrors = d.nerrors;
  diag_free(&d);
  arena_free(&a);
  *leaked = F.live - live0 - (ir->s != NULL) - (msgs->s != NULL);
  return ok;
}

int main(int argc, char **argv) {
  const char *mam = argc > 1 ? argv[1] : "examples/lm.mam";
  const char *yaml = argc > 2 ? argv[2] : "tests/faults/lm_small.yaml";
  const char *only = getenv("MAMC_FAULT_AT");

  /* the hook sees the libraries' calls */
  F.enabled = 1;
  Arena probe;
  arena_init(&probe);
  long before = F.calls;
  (void)arena_alloc(&probe, 8);
  char *s = strdup("x");
  CHECK_MSG(F.calls == before + 3, "the allocation hook is not linked in (%ld calls counted)", F.calls - before);
  free(s);
  arena_free(&probe);
  F = (Faults){0};

  StrBuf ref, msgs;
  sb_init(&ref);
  sb_init(&msgs);
  int nerr = 0;
  long leaked = 0;
  int ok = compile(mam, yaml, &ref, &msgs, &nerr, &leaked);
  long total = F.calls;
  CHECK_MSG(ok && leaked == 0, "the fault-free compile: ok %d, %ld blocks leaked:\n%s", ok, leaked, msgs.s ? msgs.s : "");
  if (!ok) return test_done();
  printf("fault-free compile of %s with %s: %ld allocations\n", mam, yaml, total);

  long from = only ? atol(only) : 1, errors = 0, absorbed = 0, k;
  for (k = from;; k++) {
    StrBuf ir, m;
    sb_init(&ir);
    sb_init(&m);
    F = (Faults){.fail_at = k};
    int n = 0;
    int r = compile(mam, yaml, &ir, &m, &n, &leaked);
    int hit = F.hits > 0;
    if (only) printf("allocation %ld: hit %d, ok %d, %d errors, %ld leaked\n%s", k, hit, r, n, leaked, m.s ? m.s : "");
    if (!hit) {
      CHECK_MSG(r, "allocation %ld was not reached, yet the compile failed:\n%s", k, m.s ? m.s : "");
    } else if (r) {
      absorbed++;
      CHECK_MSG(strcmp(ir.s ? ir.s : "", ref.s ? ref.s : "") == 0,
                "allocation %ld failed, the compile succeeded, but the program differs", k);
    } else {
      errors++;
      CHECK_MSG(n > 0, "allocation %ld failed: the compile failed without a diagnostic", k);
    }
    CHECK_MSG(leaked == 0, "allocation %ld failed: %ld heap blocks leaked", k, leaked);
    sb_free(&ir);
    sb_free(&m);
    if (!hit || only) break;
  }
  printf("%ld allocation sites failed one at a time: %ld compiles reported an error, %ld absorbed the failure\n",
         k - from, errors, absorbed);
  sb_free(&ref);
  sb_free(&msgs);
  return test_done();
}
