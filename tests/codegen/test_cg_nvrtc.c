/* test_cg_nvrtc.c — every CUDA C kernel the printer produces for the test cases (cases.c)
 * compiles with NVRTC for sm_90 (NVRTC needs no GPU). Built only when the CUDA toolkit is
 * found; label nvrtc. As the device executor does (runtime/cuda/dev_cg.c), the kernels go to
 * NVRTC in programs of CHUNK, each distinct name once after one prelude: NVRTC's cost per
 * program is most of its time (one program per kernel took ~50 s, this ~10 s). A program
 * that fails is compiled again kernel by kernel, and each failing kernel's text and NVRTC's
 * log are printed.
 */
#include <nvrtc.h>
#include <stdlib.h>

#include "cases.h"
#include "test.h"

enum { CHUNK = 24 };

typedef struct Kern {
  char name[24];
  char *text; /* cg_cuda_print_kernel's, without the prelude */
  char case_name[160];
} Kern;

typedef struct Ctx {
  Kern *k;
  int n, cap, ncases;
} Ctx;

static void collect(CgCase *c, void *vctx) {
  Ctx *T = vctx;
  Kir k;
  char err[256], name[24];
  T->ncases++;
  if (!cg_lower(&c->p, c->g, c->nodes, c->nn, &k, err, sizeof err)) {
    CHECK_MSG(0, "%s: %s", c->name, err);
    return;
  }
  kir_name(&k, name, sizeof name);
  StrBuf b;
  sb_init(&b);
  cg_cuda_print_kernel(&b, &k, name);
  kir_free(&k);
  CHECK_MSG(!b.failed && b.s, "%s: out of memory", c->name);
  for (int i = 0; i < T->n; i++)
    if (strcmp(T->k[i].name, name) == 0) { /* the same name: the same kernel text, printed once */
      CHECK_MSG(b.s && strcmp(T->k[i].text, b.s) == 0, "%s and %s: two kernels named %s", T->k[i].case_name, c->name,
                name);
      sb_free(&b);
      return;
    }
  if (T->n == T->cap) {
    Kern *grown = realloc(T->k, sizeof *T->k * (size_t)(T->cap ? 2 * T->cap : 64));
    CHECK_MSG(grown != NULL, "%s: out of memory", c->name);
    if (!grown) {
      sb_free(&b);
      return;
    }
    T->k = grown;
    T->cap = T->cap ? 2 * T->cap : 64;
  }
  Kern *e = &T->k[T->n++];
  snprintf(e->name, sizeof e->name, "%s", name);
  snprintf(e->case_name, sizeof e->case_name, "%s", c->name);
  e->text = b.s;
}

/* Compiles the prelude and kernels [from, to) as one program; on failure with report set,
 * prints the source and NVRTC's log. Returns NVRTC's result. */
static nvrtcResult compile(const Ctx *T, int from, int to, int report) {
  StrBuf b;
  sb_init(&b);
  cg_cuda_prelude(&b);
  for (int i = from; i < to; i++) sb_puts(&b, T->k[i].text);
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram(&prog, b.s, T->k[from].name, 0, NULL, NULL);
  const char *opts[] = {"--gpu-architecture=sm_90", "--std=c++17"};
  if (r == NVRTC_SUCCESS) {
    r = nvrtcCompileProgram(prog, 2, opts);
    if (r != NVRTC_SUCCESS && report) {
      size_t n = 0;
      nvrtcGetProgramLogSize(prog, &n);
      char *log = malloc(n + 1);
      if (log && nvrtcGetProgramLog(prog, log) == NVRTC_SUCCESS) log[n] = 0;
      fprintf(stderr, "NOT OK %s (%s): %s\n%s\n---- source\n%s\n", T->k[from].case_name, T->k[from].name,
              nvrtcGetErrorString(r), log ? log : "", b.s);
      free(log);
    }
    nvrtcDestroyProgram(&prog);
  }
  sb_free(&b);
  return r;
}

int main(void) {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  Ctx T = {0};
  cg_cases_each(cg_cases_seed(), collect, &T);
  int ok = 0, programs = 0;
  for (int from = 0; from < T.n; from += CHUNK) {
    int to = from + CHUNK < T.n ? from + CHUNK : T.n;
    programs++;
    if (compile(&T, from, to, 0) == NVRTC_SUCCESS) {
      ok += to - from;
      continue;
    }
    for (int i = from; i < to; i++) { /* which of them: one at a time */
      nvrtcResult r = compile(&T, i, i + 1, 1);
      CHECK_MSG(r == NVRTC_SUCCESS, "%s: NVRTC: %s", T.k[i].case_name, nvrtcGetErrorString(r));
      ok += r == NVRTC_SUCCESS;
    }
    CHECK_MSG(0, "kernels %d to %d fail together (each alone: see above)", from, to - 1);
  }
  printf("%s NVRTC %d.%d compiled %d of %d distinct kernels (of %d cases) for sm_90 in %d programs\n",
         ok == T.n ? "OK" : "NOT OK", major, minor, ok, T.n, T.ncases, programs);
  CHECK(T.n > 0);
  for (int i = 0; i < T.n; i++) free(T.k[i].text);
  free(T.k);
  return test_done();
}
