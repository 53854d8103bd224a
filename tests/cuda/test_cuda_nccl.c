/* test_cuda_nccl.c — NCCL through cu_lib (runtime/cuda/cu_lib.c, dnccl.c):
 *   default (label nvrtc, no GPU needed): libnccl.so.2 loads by dlopen with every symbol mamc
 *     uses, ncclGetVersion answers a 2.x version, its text form (dnccl_version_text) reads back,
 *     ncclGetErrorString names success; dnccl in one process on the emulated device: the choice
 *     and its reasons (a rank that cannot, MAMC_NCCL=0, NCCL emulated), a one-rank set's
 *     registration, creation and collectives. Skipped (77, "SKIP: ...") where the library is absent.
 *   --gpu (label gpu; bench/gpu.sh on the lent GPU): a one-rank communicator (ncclGetUniqueId,
 *     ncclCommInitRank, ncclCommCount) and an in-place all-reduce and broadcast of 1000 floats on
 *     the device's stream, which must leave them unchanged. Skipped (77) without a GPU or NCCL.
 * Several ranks cannot share one GPU in NCCL: the multi-rank exchange is checked in emulation
 * (mpi_cuda_dtrain, tests/cuda/dtrain_test.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "dist.h"
#include "dnccl.h"
#include "test.h"

static int gpu_part(void) {
  Dev dev;
  memset(&dev, 0, sizeof dev);
  if (!dev_open(&dev, -1)) {
    printf("SKIP: no GPU for the one-rank NCCL check: %s\n", dev.L.err);
    dev_close(&dev);
    return 77;
  }
  CuLib *L = &dev.L;
  if (!cu_lib_open(L, CU_PART_NCCL)) {
    printf("SKIP: NCCL cannot be loaded here: %s\n", L->err);
    dev_close(&dev);
    return 77;
  }
  int ok = 1;
  ncclUniqueId id;
  ncclComm_t c = NULL;
  int count = 0;
  enum { N = 1000 };
  float h[N], back[N];
  for (int i = 0; i < N; i++) h[i] = (float)i * 0.5f - 3.0f;
  DPtr buf = 0;
  ok = ok && NCCL_OK(L, ncclGetUniqueId(&id)) && NCCL_OK(L, ncclCommInitRank(&c, 1, id, 0)) &&
       NCCL_OK(L, ncclCommCount(c, &count));
  CHECK_MSG(ok, "%s", L->err);
  CHECK(!ok || count == 1);
  ok = ok && dev_alloc(&dev, sizeof h, &buf) && dev_h2d(&dev, buf, h, sizeof h);
  ok = ok && NCCL_OK(L, ncclAllReduce((void *)(uintptr_t)buf, (void *)(uintptr_t)buf, N, MAMC_NCCL_FLOAT32,
                                      MAMC_NCCL_SUM, c, dev.stream));
  ok = ok && NCCL_OK(L, ncclBroadcast((void *)(uintptr_t)buf, (void *)(uintptr_t)buf, N, MAMC_NCCL_FLOAT32, 0, c,
                                      dev.stream));
  ok = ok && dev_d2h(&dev, back, buf, sizeof back);
  CHECK_MSG(ok, "%s", L->err);
  CHECK(!ok || memcmp(h, back, sizeof h) == 0);
  if (c) CHECK_MSG(NCCL_OK(L, ncclCommDestroy(c)), "%s", L->err);
  printf("%s: one-rank NCCL communicator on %s: all-reduce and broadcast of %d floats\n", ok ? "OK" : "NOT OK", dev.name,
         N);
  dev_close(&dev);
  return test_done();
}

/* dnccl in one process on the emulated device: the choice and its reasons, a set of one rank. */
static void one_process(int have_lib) {
  Dev dev;
  memset(&dev, 0, sizeof dev);
  char err[512];
  Dist *ds = dist_new(err, sizeof err);
  CHECK_MSG(ds, "%s", err);
  if (!ds || !dev_open_emu(&dev)) return;
  DNccl c;
  CHECK(dnccl_open(&c, &dev, ds, 0, "the step is staged", err, sizeof err));
  CHECK(!c.on);
  CHECK_STR(c.kind, "mpi-staged");
  CHECK_STR(c.why, "the step is staged");
  dnccl_close(&c);
  setenv("MAMC_NCCL", "0", 1);
  CHECK(dnccl_open(&c, &dev, ds, 1, NULL, err, sizeof err));
  CHECK(!c.on);
  CHECK_STR(c.why, "MAMC_NCCL=0");
  dnccl_close(&c);
  unsetenv("MAMC_NCCL");
  CHECK(dnccl_open(&c, &dev, ds, 1, NULL, err, sizeof err));
  CHECK(c.on == have_lib);
  if (have_lib) {
    CHECK_STR(c.kind, "nccl-emulated");
    CHECK_MSG(strstr(c.why, "NCCL 2.") == c.why, "%s", c.why);
    int me = 0;
    int s = dnccl_need(&c, &me, 1);
    CHECK(s == 0 && dnccl_need(&c, &me, 1) == 0 && dnccl_find(&c, &me, 1) == 0);
    CHECK(dnccl_create(&c, err, sizeof err) && c.on && c.batches == 1 && c.sets[0].created);
    CHECK(dnccl_create(&c, err, sizeof err) && c.batches == 1); /* nothing new: no batch */
    float h[3] = {1, 2, 3}, back[3];
    DPtr b = 0;
    CHECK(dev_alloc(&dev, sizeof h, &b) && dev_h2d(&dev, b, h, sizeof h));
    CHECK_MSG(dnccl_allreduce(&c, s, b, 3, err, sizeof err), "%s", err);
    CHECK_MSG(dnccl_bcast(&c, s, b, 3, 0, err, sizeof err), "%s", err);
    CHECK(dev_d2h(&dev, back, b, sizeof back) && memcmp(h, back, sizeof h) == 0);
    CHECK(!dnccl_allreduce(&c, 7, b, 3, err, sizeof err) && strstr(err, "internal error"));
  }
  dnccl_close(&c);
  dev_close(&dev);
  dist_free(ds);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--gpu") == 0) return gpu_part();
  char t[32];
  dnccl_version_text(22809, t, sizeof t);
  CHECK_STR(t, "2.28.9");
  dnccl_version_text(2708, t, sizeof t); /* before 2.9: major * 1000 + minor * 100 + patch */
  CHECK_STR(t, "2.7.8");
  dnccl_version_text(0, t, sizeof t);
  CHECK_STR(t, "?");
  CuLib L;
  memset(&L, 0, sizeof L);
  if (!cu_lib_open(&L, CU_PART_NCCL)) {
    one_process(0);
    printf("SKIP: NCCL cannot be loaded here: %s\n", L.err);
    return test_failures ? 1 : 77;
  }
  one_process(1);
  int v = 0;
  CHECK_MSG(NCCL_OK(&L, ncclGetVersion(&v)), "%s", L.err);
  CHECK_MSG(v >= 20000 || (v >= 2000 && v < 10000), "version %d", v);
  const char *s = L.ncclGetErrorString(0);
  CHECK(s && *s);
  CHECK(L.ncclBroadcast && L.ncclCommAbort && L.ncclCommCount && L.ncclAllReduce);
  dnccl_version_text(v, t, sizeof t);
  CHECK(t[0] == '2' && t[1] == '.');
  printf("NCCL %s from %s (ncclGetErrorString(0): %s)\n", t, L.path[3], s ? s : "?");
  cu_lib_close(&L);
  return test_done();
}
