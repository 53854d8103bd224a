// kemu_cg.cc — the generated kernels' CUDA text (codegen/cuda_c.c, what NVRTC compiles) built
// for the host block emulator: kemu_api.h's kemu_cg_build / kemu_cg_run. A source of kernels is
// written to a private temporary folder with a host wrapper per kernel, compiled by the C++
// compiler (KEMU_CXX, default g++) into a shared object with kemu.h in front, and loaded; the
// objects resolve threadIdx and the barriers from this executable (built with exports). Built
// kernels are kept by name (the hash of their kernel IR): each is compiled once per process.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "kemu.h"
#include "kemu_api.h"

#ifndef KEMU_DIR
#error "KEMU_DIR: the folder of kemu.h (tests/cuda/CMakeLists.txt sets it)"
#endif

namespace {
typedef void (*Wrap)(const void *arg, long long begin, long long end);
std::map<std::string, Wrap> built;
int serial;
long long launches;
char dir[64];

void remove_dir() {
  if (dir[0]) rmdir(dir);
}

struct Call {
  Wrap w;
  const void *arg;
  long long begin, end;
};
void run_call(const void *p) {
  const Call *c = (const Call *)p;
  c->w(c->arg, c->begin, c->end);
}
} // namespace

extern "C" int kemu_cg_build(const char *src, int n, const char *const *names, void **fns, char *err, size_t errlen) {
  int missing = 0;
  for (int i = 0; i < n; i++) missing += !built.count(names[i]);
  if (missing) {
    if (!dir[0]) {
      snprintf(dir, sizeof dir, "/tmp/kemu-cg-XXXXXX");
      if (!mkdtemp(dir)) return snprintf(err, errlen, "kemu: mkdtemp: %s", strerror(errno)), 0;
      atexit(remove_dir);
    }
    std::string text = src;
    for (int i = 0; i < n; i++)
      text += std::string("extern \"C\" void kemu_w_") + names[i] + "(const void *a, long long b, long long e) { " +
              names[i] + "(*(const CgArgs_" + names[i] + " *)a, b, e); }\n";
    char cc[128], so[128], cmd[1024];
    snprintf(cc, sizeof cc, "%s/k%d.cc", dir, serial);
    snprintf(so, sizeof so, "%s/k%d.so", dir, serial++);
    FILE *f = fopen(cc, "w");
    if (!f || fputs(text.c_str(), f) < 0 || fclose(f) != 0) return snprintf(err, errlen, "kemu: writing %s", cc), 0;
    const char *cxx = getenv("KEMU_CXX") ? getenv("KEMU_CXX") : "g++";
    snprintf(cmd, sizeof cmd, "%s -std=c++17 -O1 -w -shared -fPIC -include kemu.h -I%s -o %s %s 2>%s.log", cxx, KEMU_DIR, so,
             cc, cc);
    if (system(cmd) != 0) return snprintf(err, errlen, "kemu: %s failed (see %s.log)", cxx, cc), 0;
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) return snprintf(err, errlen, "kemu: dlopen %s: %s", so, dlerror()), 0;
    for (int i = 0; i < n; i++) {
      std::string sym = std::string("kemu_w_") + names[i];
      void *fn = dlsym(h, sym.c_str());
      if (!fn) return snprintf(err, errlen, "kemu: %s not in %s", sym.c_str(), so), 0;
      if (!built.count(names[i])) built[names[i]] = (Wrap)fn;
    }
    std::string log = std::string(cc) + ".log";
    unlink(cc);
    unlink(log.c_str());
    unlink(so); // stays mapped
  }
  for (int i = 0; i < n; i++) fns[i] = (void *)built[names[i]];
  return 1;
}

extern "C" int kemu_cg_run(void *fn, unsigned grid, unsigned gy, unsigned block, const void *arg, long long begin, long long end,
                           char *err, size_t errlen) {
  Call c = {(Wrap)fn, arg, begin, end};
  launches++;
  KemuKernel k = {"generated kernel", run_call};
  return kemu_run(&k, grid, gy, 1, block, 0, &c, err, errlen);
}

extern "C" void kemu_cg_stats(int *kernels, long long *nlaunch) {
  *kernels = (int)built.size();
  *nlaunch = launches;
}
