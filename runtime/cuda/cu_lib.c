/* cu_lib.c — loading the CUDA libraries with dlopen and reporting their failures (cu_lib.h).
 * Nothing here links against CUDA: the symbols come from dlsym by the names the toolkit
 * headers give them (cuMemAlloc -> "cuMemAlloc_v2"). */
#include "cu_lib.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CU_STR_(x) #x
#define CU_STR(x) CU_STR_(x)

typedef struct Sym {
  const char *name;
  size_t off;
} Sym;

#define CU_SYM(fn) {CU_STR(fn), offsetof(CuLib, fn)},
static const Sym driver_syms[] = {CU_DRIVER_FNS(CU_SYM)};
static const Sym nvrtc_syms[] = {CU_NVRTC_FNS(CU_SYM)};
static const Sym lt_syms[] = {CU_LT_FNS(CU_SYM)};
static const Sym nccl_syms[] = {CU_NCCL_FNS(CU_SYM)};
#undef CU_SYM

typedef struct Part {
  unsigned bit;
  const char *what;
  const char *names[4];
  const Sym *syms;
  int nsyms;
  const char *hint;
} Part;

static const Part parts[4] = {
    {CU_PART_DRIVER, "the driver library", {"libcuda.so.1", "libcuda.so", NULL, NULL}, driver_syms,
     (int)(sizeof driver_syms / sizeof *driver_syms),
     "this machine has no NVIDIA driver (nvidia-smi would fail): train on the CPU (train.device: cpu), "
     "or run on a machine with a GPU"},
    {CU_PART_NVRTC, "NVRTC", {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so", NULL}, nvrtc_syms,
     (int)(sizeof nvrtc_syms / sizeof *nvrtc_syms),
     "install the CUDA toolkit's NVRTC (libnvrtc), or point MAMC_CUDA_LIBDIR at the folder holding it"},
    {CU_PART_LT, "cuBLASLt", {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so", NULL}, lt_syms,
     (int)(sizeof lt_syms / sizeof *lt_syms),
     "install the CUDA toolkit's cuBLAS (libcublasLt), or point MAMC_CUDA_LIBDIR at the folder holding it"},
    {CU_PART_NCCL, "NCCL", {"libnccl.so.2", "libnccl.so", NULL, NULL}, nccl_syms,
     (int)(sizeof nccl_syms / sizeof *nccl_syms),
     "collectives then go through MPI on host buffers; install NCCL for device-to-device exchanges"},
};

static void seterr(CuLib *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(L->err, sizeof L->err, fmt, ap);
  va_end(ap);
}

/* dlopen by soname, then in the usual toolkit folders. RTLD_NODELETE: the libraries stay mapped
 * after cu_lib_close, as NVRTC's C++ runtime keeps a pool (72 KiB) that LeakSanitizer reports
 * as a leak of an unknown module once its library is unmapped (and a reopen is then cheap). */
#define CU_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
static void *open_one(const Part *p, char *path, size_t pathlen, char *why, size_t whylen) {
  const char *dirs[3] = {getenv("MAMC_CUDA_LIBDIR"), getenv("CUDA_HOME"), "/usr/local/cuda"};
  why[0] = 0;
  for (int i = 0; i < 4 && p->names[i]; i++) {
    void *h = dlopen(p->names[i], CU_DLOPEN_FLAGS);
    if (h) {
      snprintf(path, pathlen, "%s", p->names[i]);
      return h;
    }
    if (!why[0]) snprintf(why, whylen, "%s", dlerror());
    for (int d = 0; d < 3; d++) {
      if (!dirs[d] || !*dirs[d]) continue;
      char full[512];
      snprintf(full, sizeof full, "%s%s/%s", dirs[d], d == 0 ? "" : "/lib64", p->names[i]);
      h = dlopen(full, CU_DLOPEN_FLAGS);
      if (h) {
        snprintf(path, pathlen, "%s", full);
        return h;
      }
    }
  }
  return NULL;
}

int cu_lib_open(CuLib *L, unsigned want) {
  for (int i = 0; i < 4; i++) {
    const Part *p = &parts[i];
    if (!(want & p->bit) || (L->parts & p->bit)) continue;
    char why[512];
    void *h = open_one(p, L->path[i], sizeof L->path[i], why, sizeof why);
    if (!h) {
      if (p->bit == CU_PART_DRIVER)
        seterr(L, "no CUDA device: %s %s was not found (dlopen: %s)\nHINT: %s", p->what, p->names[0], why, p->hint);
      else
        seterr(L, "%s (%s) was not found (dlopen: %s)\nHINT: %s", p->what, p->names[0], why, p->hint);
      return 0;
    }
    for (int s = 0; s < p->nsyms; s++) {
      void *f = dlsym(h, p->syms[s].name);
      if (!f) {
        seterr(L, "%s (%s) lacks %s: it is older than the toolkit mamc was built with (CUDA %d.%d)\nHINT: %s", p->what,
               L->path[i], p->syms[s].name, CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10,
               p->bit == CU_PART_DRIVER ? "update the NVIDIA driver" : "use the matching toolkit version");
        dlclose(h);
        return 0;
      }
      memcpy((char *)L + p->syms[s].off, &f, sizeof f);
    }
    L->handle[i] = h;
    L->parts |= p->bit;
  }
  return 1;
}

void cu_lib_close(CuLib *L) {
  for (int i = 0; i < 4; i++)
    if (L->handle[i]) dlclose(L->handle[i]);
  memset(L, 0, sizeof *L);
}

/* ---- checked calls ------------------------------------------------------------------------------- */

const char *cu_drv_hint(int code) {
  switch (code) {
  case CUDA_ERROR_NO_DEVICE:
    return "the driver sees no GPU: check nvidia-smi and CUDA_VISIBLE_DEVICES";
  case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
  case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
    return "the driver is older than CUDA 13 needs: update the driver, or run with train.device: cpu";
  case CUDA_ERROR_OUT_OF_MEMORY:
    return "the GPU is out of memory: lower train.batch_tokens, or check nvidia-smi for other processes";
  case CUDA_ERROR_INVALID_PTX:
  case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    return "the driver cannot JIT this PTX (NVRTC is newer than the driver): update the driver, or unset "
           "MAMC_CUDA_PTX so that a cubin for the device is built";
  case CUDA_ERROR_NO_BINARY_FOR_GPU:
    return "the cubin was built for another GPU: remove ~/.cache/mamc (or $XDG_CACHE_HOME/mamc) and retry";
  case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    return "too many threads or registers per block for this kernel (a launch configuration bug in mamc)";
  case CUDA_ERROR_ILLEGAL_ADDRESS:
  case CUDA_ERROR_MISALIGNED_ADDRESS:
  case CUDA_ERROR_LAUNCH_FAILED:
    return "a kernel faulted; the failing call may be a later one (launches are asynchronous): rerun with "
           "MAMC_CUDA_SYNC=1 to check after every launch, or under compute-sanitizer";
  case CUDA_ERROR_NOT_INITIALIZED:
  case CUDA_ERROR_INVALID_CONTEXT:
    return "no current context (a mamc bug: the device was not opened on this thread)";
  case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
  case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED:
  case CUDA_ERROR_STREAM_CAPTURE_UNJOINED:
    return "an operation that a CUDA graph cannot capture ran during capture: MAMC_CUDA_GRAPHS=0 turns capture off";
  default:
    return NULL;
  }
}

int cu_drv_check(CuLib *L, CUresult r, const char *expr, const char *file, int line) {
  if (r == CUDA_SUCCESS) return 1;
  const char *name = NULL, *msg = NULL;
  if (L->cuGetErrorName) L->cuGetErrorName(r, &name);
  if (L->cuGetErrorString) L->cuGetErrorString(r, &msg);
  const char *hint = cu_drv_hint((int)r);
  seterr(L, "%s:%d: %s failed: %s (%s)%s%s", file, line, expr, name ? name : "CUDA error", msg ? msg : "?",
         hint ? "\nHINT: " : "", hint ? hint : "");
  return 0;
}

int cu_nvrtc_check(CuLib *L, nvrtcResult r, const char *expr, const char *file, int line) {
  if (r == NVRTC_SUCCESS) return 1;
  const char *msg = L->nvrtcGetErrorString ? L->nvrtcGetErrorString(r) : "NVRTC error";
  const char *hint = r == NVRTC_ERROR_INVALID_OPTION ? "an option this NVRTC does not know (an older toolkit?)"
                     : r == NVRTC_ERROR_COMPILATION  ? "the program log above says where the source is wrong"
                                                     : NULL;
  seterr(L, "%s:%d: %s failed: %s (%d)%s%s", file, line, expr, msg, (int)r, hint ? "\nHINT: " : "", hint ? hint : "");
  return 0;
}

int cu_lt_check(CuLib *L, cublasStatus_t r, const char *expr, const char *file, int line) {
  if (r == CUBLAS_STATUS_SUCCESS) return 1;
  const char *name = L->cublasLtGetStatusName ? L->cublasLtGetStatusName(r) : "cuBLAS error";
  const char *msg = L->cublasLtGetStatusString ? L->cublasLtGetStatusString(r) : "";
  const char *hint = r == CUBLAS_STATUS_NOT_SUPPORTED ? "no cuBLASLt algorithm for this shape, layout or dtype: "
                                                        "MAMC_CUDA_GEMM=f32 runs the products in f32"
                     : r == CUBLAS_STATUS_ALLOC_FAILED ? "out of memory for cuBLASLt's workspace"
                     : r == CUBLAS_STATUS_NOT_INITIALIZED ? "the driver or the device is not usable"
                                                          : NULL;
  seterr(L, "%s:%d: %s failed: %s (%s)%s%s", file, line, expr, name, msg, hint ? "\nHINT: " : "", hint ? hint : "");
  return 0;
}

int cu_nccl_check(CuLib *L, ncclResult_t r, const char *expr, const char *file, int line) {
  if (r == 0) return 1;
  const char *msg = L->ncclGetErrorString ? L->ncclGetErrorString(r) : "NCCL error";
  seterr(L, "%s:%d: %s failed: %s (%d)\nHINT: NCCL_DEBUG=WARN prints NCCL's own account; two ranks on one GPU are "
            "refused by NCCL (MAMC_NCCL=0 exchanges through MPI instead)",
         file, line, expr, msg, (int)r);
  return 0;
}
