/* test_cg_cuda.c — the CUDA C printer produces a kernel for every lowered test case
 * (cases.c): one __global__ entry point with the kernel's name, a use of every buffer and
 * every dims slot it declares, balanced braces, and every primitive op of the KIR printed
 * through the shared op table. (test_cg_nvrtc.c compiles the same texts with NVRTC.)
 * MAMC_CG_DUMP=<substring of a case name> prints the text.
 */
#include <stdlib.h>

#include "cases.h"
#include "test.h"

static int count_of(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

static void check_case(CgCase *c, void *ctx) {
  int *nk = ctx;
  Kir k;
  char err[256], name[24], want[128];
  if (!cg_lower(&c->p, c->g, c->nodes, c->nn, &k, err, sizeof err)) {
    CHECK_MSG(0, "%s: %s", c->name, err);
    return;
  }
  kir_name(&k, name, sizeof name);
  StrBuf b;
  sb_init(&b);
  cg_cuda_print(&b, &k, name);
  int ok = !b.failed && b.s;
  snprintf(want, sizeof want, " %s(CgArgs_%s a, long long begin, long long end)", name, name);
  ok = ok && count_of(b.s, want) == 1 && count_of(b.s, "extern \"C\" __global__ void ") == 1 &&
       count_of(b.s, "{") == count_of(b.s, "}");
  /* column reductions: a block per 32 rows, launched with a fixed block size (their bounds) */
  ok = ok && (count_of(b.s, "__launch_bounds__") == 1) == kir_columns(&k) && (strstr(b.s, "s0_[") != NULL) == kir_columns(&k);
  for (int i = 0; ok && i < k.bufs.n; i++) {
    snprintf(want, sizeof want, "b%d[", i);
    ok = strstr(b.s, want) != NULL || k.bufs.v[i].type.rank < 0;
  }
  for (int i = 0; ok && i < k.dims.n; i++) {
    snprintf(want, sizeof want, "d%d", i);
    ok = count_of(b.s, want) >= 1; /* declared (the outer extents are the caller's) */
  }
  for (int i = 0; ok && i < k.e.n; i++) {
    const KExpr *e = &k.e.v[i];
    if (e->kind != KE_OP) continue;
    const char *t = kop_info(e->op)->c; /* the template's head, e.g. "cg_exp(" or "(%t)(" */
    if (strncmp(t, "cg_", 3) == 0) {
      snprintf(want, sizeof want, "%.*s", (int)(strchr(t, '(') - t), t);
      ok = strstr(b.s, want) != NULL;
    }
  }
  CHECK_MSG(ok, "%s: CUDA text incomplete", c->name);
  const char *dump = getenv("MAMC_CG_DUMP");
  if (dump && strstr(c->name, dump)) printf("---- %s\n%s", c->name, b.s);
  (*nk)++;
  sb_free(&b);
  kir_free(&k);
}

int main(void) {
  int nk = 0;
  int n = cg_cases_each(cg_cases_seed(), check_case, &nk);
  printf("%s CUDA C for %d of %d cases\n", nk == n ? "OK" : "NOT OK", nk, n);
  CHECK(nk == n && n > 200);
  return test_done();
}
