/* dev.c — opening a GPU (or its host emulation), copies, launches of the hand-written
 * modules and events (dev.h). Memory is dev_alloc.c's, generated kernels dev_cg.c's, matrix
 * products dev_gemm.c's, CUDA graphs (and their emulation) dev_graph.c's. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev.h"
#include "kref.h"

static int fail(Dev *dev, const char *fmt, const char *a) {
  snprintf(dev->L.err, sizeof dev->L.err, fmt, a);
  return 0;
}

/* the ordinal a process opens among count GPUs (dev_open_for_rank) */
static int pick_ordinal(Dev *dev, int requested, int local_rank, int count) {
  const char *env = getenv("MAMC_CUDA_DEVICE");
  const char *how = requested >= 0 ? "cuda:N" : env && *env ? "MAMC_CUDA_DEVICE" : "local rank mod GPUs";
  int o = requested >= 0 ? requested : env && *env ? atoi(env) : count > 0 ? local_rank % count : 0;
  if (count == 0) return fail(dev, "no CUDA device: the driver reports %s GPUs", "0");
  if (o < 0 || o >= count) {
    snprintf(dev->L.err, sizeof dev->L.err, "CUDA device %d asked for (%s), but there are %d (cuda:0 .. cuda:%d)", o,
             how, count, count - 1);
    return 0;
  }
  dev->ordinal = o;
  return 1;
}

static int open_gpu(Dev *dev, int requested, int local_rank) {
  CuLib *L = &dev->L;
  if (!cu_lib_open(L, CU_PART_DRIVER)) return 0;
  CUresult r = L->cuInit(0);
  if (r == CUDA_ERROR_NO_DEVICE)
    return fail(dev, "no CUDA device: the driver (%s) found no GPU (cuInit: CUDA_ERROR_NO_DEVICE)\nHINT: check "
                     "nvidia-smi and CUDA_VISIBLE_DEVICES, or train on the CPU (train.device: cpu)",
                L->path[0]);
  if (!cu_drv_check(L, r, "cuInit(0)", __FILE__, __LINE__)) return 0;
  int count = 0;
  if (!CU_OK(L, cuDeviceGetCount(&count))) return 0;
  if (!pick_ordinal(dev, requested, local_rank, count)) return 0;
  int ordinal = dev->ordinal;
  int major = 0, minor = 0;
  if (!CU_OK(L, cuDeviceGet(&dev->cudev, ordinal)) || !CU_OK(L, cuDeviceGetName(dev->name, sizeof dev->name, dev->cudev)) ||
      !CU_OK(L, cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev->cudev)) ||
      !CU_OK(L, cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev->cudev)) ||
      !CU_OK(L, cuDeviceGetAttribute(&dev->sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev->cudev)) ||
      !CU_OK(L, cuDeviceTotalMem(&dev->total_mem, dev->cudev)))
    return 0;
  dev->cc = major * 10 + minor;
  if (!CU_OK(L, cuDevicePrimaryCtxRetain(&dev->ctx, dev->cudev))) return 0;
  dev->have_ctx = 1;
  if (!CU_OK(L, cuCtxSetCurrent(dev->ctx)) || !CU_OK(L, cuStreamCreate(&dev->stream, CU_STREAM_NON_BLOCKING))) return 0;
  if (!kc_init(&dev->kc, L, NULL) || !kc_target(&dev->kc, dev->cc, &dev->target)) return 0;
  if (!cu_lib_open(L, CU_PART_LT) || !LT_OK(L, cublasLtCreate(&dev->lt))) return 0;
  dev->lt_ws_size = (size_t)32 << 20;
  if (!dev_alloc(dev, dev->lt_ws_size, &dev->lt_ws)) return 0;
  const char *s = getenv("MAMC_CUDA_SYNC");
  dev->sync_each = s && strcmp(s, "1") == 0;
  return 1;
}

int dev_open(Dev *dev, int ordinal) { return open_gpu(dev, ordinal, 0); }

int dev_open_compile_only(Dev *dev, int cc, const char *cache_dir) {
  dev->compile_only = 1;
  dev->cc = cc;
  dev->sms = 1;
  snprintf(dev->name, sizeof dev->name, "compile-only (NVRTC for compute capability %d.%d)", cc / 10, cc % 10);
  return kc_init(&dev->kc, &dev->L, cache_dir) && kc_target(&dev->kc, cc, &dev->target);
}

int dev_open_emu(Dev *dev) {
  dev->emu = 1;
  const char *f = getenv("MAMC_CUDA_EMU_CAPTURE_FAIL");
  dev->emu_fail_op = f ? atoi(f) : 0;
  snprintf(dev->name, sizeof dev->name, "host emulation");
  dev->sms = 1;
  if (cg_cpu_available() && !getenv("MAMC_NO_JIT")) {
    char err[256];
    dev->jit = cg_cpu_new(err, sizeof err);
  }
  return 1;
}

int dev_open_for_rank(Dev *dev, int emu, int requested, int local_rank) {
  if (!emu) return open_gpu(dev, requested, local_rank);
  const char *n = getenv("MAMC_CUDA_EMU_DEVICES");
  int count = n && atoi(n) > 0 ? atoi(n) : 1;
  return dev_open_emu(dev) && pick_ordinal(dev, requested, local_rank, count);
}

void dev_close(Dev *dev) {
  if (dev->have_ctx) dev->L.cuCtxSetCurrent(dev->ctx);
  dev_gemm_cache_free(dev);
  dev_cg_cache_free(dev);
  dev_alloc_release(dev);
  if (dev->have_ctx) {
    CuLib *L = &dev->L;
    for (int i = 0; i < KMOD_COUNT; i++)
      if (dev->mod[i]) L->cuModuleUnload(dev->mod[i]);
    if (dev->lt) L->cublasLtDestroy(dev->lt);
    if (dev->stream) L->cuStreamDestroy(dev->stream);
    L->cuDevicePrimaryCtxRelease(dev->cudev);
  }
  if (dev->jit) cg_cpu_free(dev->jit);
  dev_emu_free_all(dev);
  cu_lib_close(&dev->L);
  memset(dev, 0, sizeof *dev);
}

void dev_describe(Dev *dev, StrBuf *b) {
  CuLib *L = &dev->L;
  if (dev->emu) {
    sb_printf(b, "device: host emulation (no GPU; generated kernels %s)\n",
              dev->emu_cg_build ? "from their CUDA text, emulated" : dev->jit ? "through the CPU JIT" : "on the host");
    return;
  }
  int drv = 0;
  L->cuDriverGetVersion(&drv);
  size_t fr = 0, tot = 0;
  L->cuMemGetInfo(&fr, &tot);
  sb_printf(b, "device %d: %s, compute capability %d.%d, %d SMs, %.1f GiB (%.1f GiB free)\n", dev->ordinal, dev->name,
            dev->cc / 10, dev->cc % 10, dev->sms, (double)dev->total_mem / (1 << 30), (double)fr / (1 << 30));
  sb_printf(b, "driver: CUDA %d.%d (%s)\n", drv / 1000, drv % 1000 / 10, L->path[0]);
  sb_printf(b, "NVRTC: %d.%d (%s), kernels as %s for %s_%d\n", dev->kc.nvrtc_major, dev->kc.nvrtc_minor, L->path[1],
            dev->target.ptx ? "PTX" : "cubin", dev->target.ptx ? "compute" : "sm", dev->target.arch);
  size_t lv = L->cublasLtGetVersion();
  sb_printf(b, "cuBLASLt: %zu.%zu.%zu (%s)\n", lv / 10000, lv / 100 % 100, lv % 100, L->path[2]);
  if (cu_lib_open(L, CU_PART_NCCL)) {
    int nv = 0;
    L->ncclGetVersion(&nv);
    sb_printf(b, "NCCL: %d.%d.%d (%s)\n", nv / 10000, nv / 100 % 100, nv % 100, L->path[3]);
  } else {
    sb_printf(b, "NCCL: not found (collectives go through MPI on host buffers)\n");
  }
  sb_printf(b, "kernel cache: %s\n", dev->kc.disk.dir[0] ? dev->kc.disk.dir : "off");
}

/* ---- copies ------------------------------------------------------------------------------ */

static void *hp(DPtr p) { return (void *)(uintptr_t)p; }

static int busy(Dev *dev, const char *what) {
  snprintf(dev->L.err, sizeof dev->L.err, "%s waits for the stream: it cannot be captured into a CUDA graph", what);
  return 0;
}

int dev_h2d(Dev *dev, DPtr dst, const void *src, uint64_t n) {
  if (!n) return 1;
  dev->queued.memops++;
  if (dev->emu && dev->capturing) return dev_emu_rec_copy(dev, 0, dst, 0, src, n);
  if (dev->emu) return memcpy(hp(dst), src, (size_t)n), 1;
  return CU_OK(&dev->L, cuMemcpyHtoDAsync((CUdeviceptr)dst, src, (size_t)n, dev->stream));
}

int dev_d2h(Dev *dev, void *dst, DPtr src, uint64_t n) {
  if (!n) return 1;
  if (dev->capturing) return busy(dev, "a copy to the host");
  dev->queued.memops++;
  if (dev->emu) return memcpy(dst, hp(src), (size_t)n), 1;
  return CU_OK(&dev->L, cuMemcpyDtoHAsync(dst, (CUdeviceptr)src, (size_t)n, dev->stream)) && dev_sync(dev);
}

int dev_d2d(Dev *dev, DPtr dst, DPtr src, uint64_t n) {
  if (!n || dst == src) return 1;
  dev->queued.memops++;
  if (dev->emu && dev->capturing) return dev_emu_rec_copy(dev, 1, dst, src, NULL, n);
  if (dev->emu) return memmove(hp(dst), hp(src), (size_t)n), 1;
  return CU_OK(&dev->L, cuMemcpyDtoDAsync((CUdeviceptr)dst, (CUdeviceptr)src, (size_t)n, dev->stream));
}

int dev_zero(Dev *dev, DPtr dst, uint64_t n) {
  if (!n) return 1;
  dev->queued.memops++;
  if (dev->emu && dev->capturing) return dev_emu_rec_copy(dev, 2, dst, 0, NULL, n);
  if (dev->emu) return memset(hp(dst), 0, (size_t)n), 1;
  return CU_OK(&dev->L, cuMemsetD8Async((CUdeviceptr)dst, 0, (size_t)n, dev->stream));
}

int dev_sync(Dev *dev) {
  if (dev->capturing) return busy(dev, "synchronising");
  return dev->emu || CU_OK(&dev->L, cuStreamSynchronize(dev->stream));
}

void *dev_host_alloc(Dev *dev, size_t n) {
  if (dev->emu) {
    void *p = calloc(1, n ? n : 1);
    dev_emu_pin(dev, p, n);
    return p;
  }
  void *p = NULL;
  return CU_OK(&dev->L, cuMemAllocHost(&p, n ? n : 1)) ? p : NULL;
}

void dev_host_free(Dev *dev, void *p) {
  if (!p) return;
  if (dev->emu) dev_emu_unpin(dev, p), free(p);
  else dev->L.cuMemFreeHost(p);
}

/* ---- hand-written modules ------------------------------------------------------------------- */

typedef struct ModJob {
  Dev *dev;
  CuLib L;      /* a private copy: its err buffer is this thread's */
  KCache kc;
  int mod, ok;
  KBlob blob;
} ModJob;

static void *mod_compile(void *arg) {
  ModJob *j = arg;
  j->kc.L = &j->L;
  char *src = ksrc_module(j->mod);
  char name[32];
  snprintf(name, sizeof name, "mamc_%s", ksrc_module_name(j->mod));
  j->ok = src && kc_get(&j->kc, src, name, &j->dev->target, NULL, 0, &j->blob);
  if (!src) snprintf(j->L.err, sizeof j->L.err, "kernel sources of module %s missing, or out of memory", ksrc_module_name(j->mod));
  free(src);
  return NULL;
}

int dev_load_modules(Dev *dev) {
  if (dev->emu || dev->mod[0] || dev->modules_compiled) return 1;
  double t0 = mono_seconds();
  ModJob jobs[KMOD_COUNT];
  pthread_t th[KMOD_COUNT];
  int started[KMOD_COUNT] = {0};
  for (int i = 0; i < KMOD_COUNT; i++) {
    jobs[i] = (ModJob){dev, dev->L, dev->kc, i, 0, {0}};
    started[i] = pthread_create(&th[i], NULL, mod_compile, &jobs[i]) == 0;
    if (!started[i]) mod_compile(&jobs[i]);
  }
  int ok = 1;
  KCache base = dev->kc;
  for (int i = 0; i < KMOD_COUNT; i++) {
    if (started[i]) pthread_join(th[i], NULL);
    dev->kc.hits += jobs[i].kc.hits - base.hits;
    dev->kc.misses += jobs[i].kc.misses - base.misses;
    dev->kc.corrupt += jobs[i].kc.corrupt - base.corrupt;
    dev->kc.compile_seconds += jobs[i].kc.compile_seconds - base.compile_seconds;
    if (ok && !jobs[i].ok) {
      memcpy(dev->L.err, jobs[i].L.err, sizeof dev->L.err);
      ok = 0;
    }
    if (ok && !dev->compile_only && !CU_OK(&dev->L, cuModuleLoadData(&dev->mod[i], jobs[i].blob.data))) ok = 0;
    free(jobs[i].blob.data);
  }
  dev->modules_compiled = ok;
  dev->module_seconds += mono_seconds() - t0;
  return ok;
}

int dev_launch(Dev *dev, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block,
               unsigned smem, const void *args) {
  CuLib *L = &dev->L;
  if (dev->compile_only) return fail(dev, "kernel %s: a compile-only device runs nothing", name);
  if (!gx || !gy || !gz) return 1;
  dev->queued.kernels++;
  if (dev->emu) {
    if (!dev_has_kernel(dev, name)) return fail(dev, "kernel %s has no host emulation", name);
    if (dev->capturing) return dev_emu_rec_launch(dev, mod, name, gx, gy, gz, block, smem, args);
    if (dev->emu_run) return dev->emu_run(name, gx, gy, gz, block, smem, args, dev->L.err, sizeof dev->L.err);
    return kref_launch(name, args) || fail(dev, "kernel %s has no host emulation", name);
  }
  if (!dev->mod[mod] && !dev_load_modules(dev)) return 0;
  CUfunction f;
  if (!CU_OK(L, cuModuleGetFunction(&f, dev->mod[mod], name))) return 0;
  if (smem > 48 * 1024 && !CU_OK(L, cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)smem)))
    return 0;
  void *params[1] = {(void *)args};
  if (!CU_OK(L, cuLaunchKernel(f, gx, gy, gz, block, 1, 1, smem, dev->stream, params, NULL))) {
    size_t n = strlen(L->err);
    snprintf(L->err + n, sizeof L->err - n, "\n(kernel %s, grid %u x %u x %u, block %u, %u B shared)", name, gx, gy, gz,
             block, smem);
    return 0;
  }
  if (dev->sync_each && !dev->capturing && !dev_sync(dev)) {
    size_t n = strlen(L->err);
    snprintf(L->err + n, sizeof L->err - n, "\n(after kernel %s)", name);
    return 0;
  }
  return 1;
}

int dev_has_kernel(const Dev *dev, const char *name) {
  return !dev->emu || (dev->emu_has ? dev->emu_has(name) : kref_has(name));
}

unsigned dev_grid(const Dev *dev, int64_t n, int per_block) {
  int64_t g = (n + per_block - 1) / per_block, cap = (int64_t)(dev->sms > 0 ? dev->sms : 1) * 32;
  if (g < 1) g = 1;
  return (unsigned)(g < cap ? g : cap);
}

/* ---- events and graphs ---------------------------------------------------------------------------- */

int dev_event_record(Dev *dev, DevEvent *ev) {
  if (dev->emu) {
    ev->host = mono_seconds();
    return 1;
  }
  if (!ev->e && !CU_OK(&dev->L, cuEventCreate(&ev->e, CU_EVENT_DEFAULT))) return 0;
  return CU_OK(&dev->L, cuEventRecord(ev->e, dev->stream));
}

int dev_event_ms(Dev *dev, DevEvent *a, DevEvent *b, double *ms) {
  if (dev->emu) {
    *ms = 1e3 * (b->host - a->host);
    return 1;
  }
  float f = 0;
  if (!CU_OK(&dev->L, cuEventSynchronize(b->e)) || !CU_OK(&dev->L, cuEventElapsedTime(&f, a->e, b->e))) return 0;
  *ms = f;
  return 1;
}

void dev_event_free(Dev *dev, DevEvent *ev) {
  if (ev->e && !dev->emu) dev->L.cuEventDestroy(ev->e);
  ev->e = NULL;
}
