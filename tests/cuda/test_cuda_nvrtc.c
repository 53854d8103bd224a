/* test_cuda_nvrtc.c — CI without a GPU (label nvrtc): every CUDA kernel mamc can launch
 * compiles with NVRTC for sm_90 (Hopper):
 *   1. every hand-written module (runtime/cuda/kernels/NAME.cu, as embedded: kargs.h + common.cuh +
 *      the file) as a cubin for sm_90 and as PTX for compute_90, and every `__global__` kernel
 *      of its source is an entry of the PTX (a kernel the executor launches by name exists);
 *   2. every example program's training and evaluation graphs planned by the device executor
 *      (dexec_init on a compile-only device, f32, and bf16: products and activations, whose
 *      generated kernels load and store bf16 buffers): every fused kernel it generates
 *      compiles, in the executor's own chunks, through the kernel cache; every bf16 training
 *      plan stores some activations as bf16.
 * It prints each graph's plan (kinds, and the ops left on the host) — docs/gpu.md's table.
 * Skipped (77) when NVRTC cannot be loaded. MAMC_CUDA_CACHE names a cache folder to warm
 * (default: a temporary one, removed). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dexec.h"
#include "examples.h"
#include "test.h"


/* the kernel names of a source: the k_ identifier after each __global__ */
static int kernel_names(const char *src, char names[][64], int max) {
  int n = 0;
  for (const char *p = src; n < max && (p = strstr(p, "__global__")); p += 10) {
    const char *eol = strchr(p, '\n'), *k = p;
    while ((k = strstr(k, "k_")) && (!eol || k < eol) && k[-1] != ' ') k++;
    if (!k || (eol && k > eol)) continue;
    int len = 0;
    while (len < 63 && (k[len] == '_' || (k[len] >= 'a' && k[len] <= 'z') || (k[len] >= '0' && k[len] <= '9'))) len++;
    memcpy(names[n], k, (size_t)len);
    names[n++][len] = 0;
  }
  return n;
}

/* What ptxas says of every kernel of module src for sm_90 (NVRTC with --ptxas-options=-v): no
 * stack frame and no spills — a kernel whose per-thread arrays fall out of registers (a loop
 * over them that does not unroll) runs from local memory, several times slower. */
static void no_local_memory(Dev *dev, const char *file, const char *src) {
  CuLib *L = &dev->L;
  const char *opts[] = {"--gpu-architecture=sm_90", "--std=c++17", "--ptxas-options=-v"};
  nvrtcProgram prog;
  char *log = NULL;
  size_t logn = 0;
  int ok = L->nvrtcCreateProgram(&prog, src, file, 0, NULL, NULL) == NVRTC_SUCCESS;
  if (ok) {
    ok = L->nvrtcCompileProgram(prog, 3, opts) == NVRTC_SUCCESS && L->nvrtcGetProgramLogSize(prog, &logn) == NVRTC_SUCCESS &&
         (log = malloc(logn + 1)) && L->nvrtcGetProgramLog(prog, log) == NVRTC_SUCCESS;
    L->nvrtcDestroyProgram(&prog);
  }
  CHECK_MSG(ok, "%s: compiling with ptxas -v", file);
  if (!ok) {
    free(log);
    return;
  }
  log[logn] = 0;
  int kernels = 0, bad = 0;
  for (const char *p = strstr(log, "Function properties for "); p; p = strstr(p + 1, "Function properties for ")) {
    char fn[96] = "";
    long st = -1, sp = -1, ld = -1;
    sscanf(p, "Function properties for %95s", fn);
    const char *q = strchr(p, '\n');
    /* the next line: "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads" */
    if (q && sscanf(q + 1, "%*[^0-9]%ld bytes stack frame, %ld bytes spill stores, %ld bytes spill loads", &st, &sp, &ld) == 3)
      kernels++;
    if (st != 0 || sp != 0 || ld != 0) {
      bad++;
      CHECK_MSG(0, "%s: %s: %ld bytes stack frame, %ld bytes spill stores, %ld loads (ptxas -v)", file, fn, st, sp, ld);
    }
  }
  CHECK_MSG(kernels > 0, "%s: ptxas -v printed no function properties:\n%.400s", file, log);
  printf("ok %-14s %2d kernels without local memory (ptxas -v, sm_90)%s\n", file, kernels, bad ? ": NOT" : "");
  free(log);
}

static void hand_written(Dev *dev) {
  int total = 0;
  for (int m = 0; m < KMOD_COUNT; m++) {
    char file[64];
    snprintf(file, sizeof file, "%s", ksrc_module_name(m));
    char *src = ksrc_module(m);
    CHECK_MSG(src != NULL, "module %s: a kernel file is not embedded", file);
    if (!src) continue;
    char names[64][64];
    int nk = kernel_names(src, names, 64);
    CHECK_MSG(nk > 0, "%s: no kernels found", file);
    KTarget cubin = {90, 0}, ptx = {90, 1};
    KBlob b;
    char name[64];
    snprintf(name, sizeof name, "mamc_%s", ksrc_module_name(m));
    int ok = kc_get(&dev->kc, src, name, &cubin, NULL, 0, &b);
    CHECK_MSG(ok, "%s for sm_90: %s", file, dev->L.err);
    if (ok) free(b.data);
    ok = kc_get(&dev->kc, src, name, &ptx, NULL, 0, &b);
    CHECK_MSG(ok, "%s for compute_90: %s", file, dev->L.err);
    for (int k = 0; ok && k < nk; k++) {
      char entry[80];
      snprintf(entry, sizeof entry, ".entry %s(", names[k]);
      CHECK_MSG(strstr((const char *)b.data, entry) != NULL, "%s: kernel %s is not in the PTX", file, names[k]);
    }
    if (ok) free(b.data);
    printf("ok %-14s %2d kernels (sm_90 cubin, compute_90 PTX)\n", file, nk);
    const char *v = getenv("MAMC_TEST_PTXAS_V"); /* 0: skip (the sanitizer build: see CMakeLists.txt) */
    if (!v || strcmp(v, "0") != 0) no_local_memory(dev, file, src);
    total += nk;
    free(src);
  }
  for (const KSource *s = ksrc_files; s->name; s++) /* every embedded .cu is in a module */
    if (strstr(s->name, ".cu") && !strstr(s->name, ".cuh")) {
      int found = 0;
      for (int m = 0; m < KMOD_COUNT && !found; m++)
        for (int f = 0; ksrc_module_file(m, f) && !found; f++) found = strcmp(ksrc_module_file(m, f), s->name) == 0;
      CHECK_MSG(found, "kernel file %s is embedded but no module compiles it (ksrc.c's list)", s->name);
    }
  printf("%d hand-written kernels in %d modules\n", total, KMOD_COUNT);
}

static int graphs_done, host_ops;
static int64_t values16; /* values stored as bf16 in the bf16 plans (dexec_dtype.c) */

static void plan_program(Dev *dev, const IrProgram *p, const char *what, int bf16) {
  for (int gi = 0; gi < p->graphs.n; gi++) {
    DExec e;
    double t0 = mono_seconds();
    int ok = dexec_init(&e, dev, p, gi, bf16);
    double ms = 1e3 * (mono_seconds() - t0);
    CHECK_MSG(ok, "%s @%s: %s", what, p->graphs.v[gi].task, e.err);
    if (!ok) continue;
    graphs_done++;
    if (bf16) { /* bf16 activations: the generated kernels' bf16 variants were compiled above */
      values16 += e.stats.values16;
      CHECK_MSG(e.stats.values16 > 0, "%s @%s: no bf16 activations in the bf16 plan", what, p->graphs.v[gi].task);
    }
    StrBuf b; /* the plan: bf16 ones skip the transposes around tensor-core attention (sm_90) */
    sb_init(&b);
    dexec_summary(&e, &b);
    printf("  %s%s @%s (planned in %.0f ms): %s\n", what, bf16 ? " (bf16)" : "", p->graphs.v[gi].task, ms, b.s ? b.s : "");
    sb_free(&b);
    if (!bf16) {
      const IrGraph *g = &p->graphs.v[gi];
      for (int i = 0; i < e.n; i++)
        if (e.kind[i] == DN_HOST) {
          printf("    on the host: %%%d = %s\n", i, op_info(g->nodes.v[i].op)->name);
          host_ops++;
        }
    }
    dexec_free(&e);
  }
}

int main(int argc, char **argv) {
  Dev dev;
  memset(&dev, 0, sizeof dev);
  const char *env = getenv("MAMC_CUDA_CACHE");
  char tmp[] = "/tmp/mamc-nvrtc-XXXXXX";
  int own = !env || !*env || !strcmp(env, "0");
  if (own && !mkdtemp(tmp)) return perror("mkdtemp"), 1;
  if (!dev_open_compile_only(&dev, 90, own ? tmp : env)) {
    printf("skipped: %s\n", dev.L.err);
    if (own) test_rm_dir(tmp);
    return 77;
  }
  printf("NVRTC %d.%d, target %s_%d, cache %s\n", dev.kc.nvrtc_major, dev.kc.nvrtc_minor, dev.target.ptx ? "compute" : "sm",
         dev.target.arch, dev.kc.disk.dir);
  hand_written(&dev);
  /* the examples, and the benchmark workloads; argv: other NAME.mam NAME.yaml pairs */
  const char *progs[][2] = {{"examples/lm.mam", "examples/lm.yaml"},        {"examples/shared.mam", "examples/shared.yaml"},
                            {"examples/modular.mam", "examples/modular.yaml"},  {"bench/gpu_tiny.mam", "bench/gpu_tiny.yaml"},
                            {"bench/gpu_attn.mam", "bench/gpu_attn.yaml"},  {"bench/gpu_mt.mam", "bench/gpu_mt.yaml"}};
  int nprogs = (int)(sizeof progs / sizeof *progs), loaded = 0;
  for (int i = 0; i < nprogs + (argc - 1) / 2; i++) {
    const char *mam = i < nprogs ? progs[i][0] : argv[1 + 2 * (i - nprogs)];
    const char *yaml = i < nprogs ? progs[i][1] : argv[2 + 2 * (i - nprogs)];
    if (access(mam, R_OK) != 0) continue;
    Example ex;
    if (example_load(&ex, mam, yaml)) {
      loaded++;
      printf("%s:\n", mam);
      plan_program(&dev, ex.train, "train", 0);
      plan_program(&dev, ex.eval, "eval", 0);
      plan_program(&dev, ex.train, "train", 1);
    } else {
      CHECK_MSG(0, "%s does not compile", mam);
    }
    example_free(&ex);
  }
  printf("%d graphs planned and compiled (%d programs); %d nodes would run on the host; %lld values stored as bf16 "
         "in the bf16 plans; kernel cache: %d compiled, %d hits, %.1f s in NVRTC\n",
         graphs_done, loaded, host_ops, (long long)values16, dev.kc.misses, dev.kc.hits, dev.kc.compile_seconds);
  dev_close(&dev);
  if (own) test_rm_dir(tmp);
  return test_done();
}
