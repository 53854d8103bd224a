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

/* cg_div_magic against true division, as cuda_c.c's cg_udiv computes it: small divisors, powers
 * of two and their neighbours, the largest, random ones; dividends at the edges and drawn */
static void check_magic(void) {
  int64_t ds[4096];
  int nd = 0, bad = 0;
  for (int64_t d = 1; d <= 1000; d++) ds[nd++] = d;
  for (int k = 1; k < 31; k++) ds[nd++] = ((int64_t)1 << k) - 1, ds[nd++] = (int64_t)1 << k, ds[nd++] = ((int64_t)1 << k) + 1;
  ds[nd++] = 2147483647;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  while (nd < 4096) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    ds[nd++] = 1 + (int64_t)((x >> 33) % 2147483647ull);
  }
  for (int i = 0; i < nd; i++) {
    uint64_t mg = cg_div_magic(ds[i]), m = mg & 0xffffffffu, sh = mg >> 32;
    uint64_t ns[8] = {0, 1, (uint64_t)ds[i] - 1, (uint64_t)ds[i], 2147483646, 2147483647, 0, 0};
    for (int j = 0; j < 64; j++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      uint64_t n = j < 6 ? ns[j] : (x >> 33) % 2147483648ull;
      if (n > 2147483647ull) continue;
      uint64_t q = ((((n * m) >> 32) + n) >> sh);
      if (q != n / (uint64_t)ds[i] && bad++ < 5) printf("NOT OK magic: %llu / %lld gives %llu\n", (unsigned long long)n, (long long)ds[i], (unsigned long long)q);
    }
  }
  CHECK_MSG(bad == 0 && cg_div_magic(0) == 0 && cg_div_magic(2147483648LL) == 0, "%d wrong quotients", bad);
  printf("%s division magic for %d divisors\n", bad ? "NOT OK" : "OK", nd);
}

int main(void) {
  check_magic();
  int nk = 0;
  int n = cg_cases_each(cg_cases_seed(), check_case, &nk);
  printf("%s CUDA C for %d of %d cases\n", nk == n ? "OK" : "NOT OK", nk, n);
  CHECK(nk == n && n > 200);
  return test_done();
}
