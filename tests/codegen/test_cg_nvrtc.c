/* test_cg_nvrtc.c — every CUDA C kernel the printer produces for the test cases (cases.c)
 * compiles with NVRTC for sm_90 (NVRTC needs no GPU). Built only when the CUDA toolkit is
 * found; label nvrtc. On failure the kernel's text and NVRTC's log are printed.
 */
#include <nvrtc.h>
#include <stdlib.h>

#include "cases.h"
#include "test.h"

typedef struct Ctx {
  int ok, n;
} Ctx;

static void compile_case(CgCase *c, void *vctx) {
  Ctx *T = vctx;
  Kir k;
  char err[256], name[24];
  T->n++;
  if (!cg_lower(&c->p, c->g, c->nodes, c->nn, &k, err, sizeof err)) {
    CHECK_MSG(0, "%s: %s", c->name, err);
    return;
  }
  kir_name(&k, name, sizeof name);
  StrBuf b;
  sb_init(&b);
  cg_cuda_print(&b, &k, name);
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram(&prog, b.s, name, 0, NULL, NULL);
  const char *opts[] = {"--gpu-architecture=sm_90", "--std=c++17"};
  if (r == NVRTC_SUCCESS) r = nvrtcCompileProgram(prog, 2, opts);
  if (r != NVRTC_SUCCESS) {
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    char *log = malloc(n + 1);
    if (log && nvrtcGetProgramLog(prog, log) == NVRTC_SUCCESS) log[n] = 0;
    fprintf(stderr, "NOT OK %s (%s): %s\n%s\n---- source\n%s\n", c->name, name, nvrtcGetErrorString(r), log ? log : "",
            b.s);
    free(log);
  } else {
    T->ok++;
  }
  CHECK_MSG(r == NVRTC_SUCCESS, "%s: NVRTC: %s", c->name, nvrtcGetErrorString(r));
  nvrtcDestroyProgram(&prog);
  sb_free(&b);
  kir_free(&k);
}

int main(void) {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  Ctx T = {0, 0};
  cg_cases_each(cg_cases_seed(), compile_case, &T);
  printf("%s NVRTC %d.%d compiled %d of %d kernels for sm_90\n", T.ok == T.n ? "OK" : "NOT OK", major, minor, T.ok, T.n);
  return test_done();
}
