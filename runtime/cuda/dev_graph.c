/* dev_graph.c — CUDA graphs (dev.h): stream capture and replay on a GPU, and the same in the
 * host emulation, where capture records each operation (copies, launches of hand-written and
 * generated kernels, products) with its arguments by value, and a launch runs the record in
 * order. Either way nothing runs while capturing, so a run whose host code read a device
 * result before the graph's launch, or a scalar baked into a launch's arguments that should
 * change between replays, gives different numbers than the eager run — what the trainer's
 * tests (tests/cuda/dtrain_test.sh) compare bit for bit. The emulation also refuses, while
 * capturing, a copy from host memory that dev_host_alloc did not give: a graph reads its
 * source when it is replayed, so only page-locked staging buffers are legal sources. */
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "kernels/kargs.h"

typedef struct DevPinned {
  uintptr_t p;
  size_t n;
} DevPinned;

enum { OP_COPY, OP_LAUNCH, OP_CG, OP_GEMM };

typedef struct EmuOp {
  int kind, sub;            /* OP_COPY: sub 0 h2d, 1 d2d, 2 zero; OP_LAUNCH: sub = module */
  DPtr dst, src;             /* OP_GEMM: dst is the GELU_AUX epilogue's aux output (or 0) */
  const void *hsrc;
  uint64_t n;
  char name[64];            /* (a copy: callers may format it into a local buffer) */
  unsigned g[3], block, smem;
  const DevCg *k;           /* generated kernel (owned by its executor, which outlives the graph) */
  void *blob;               /* launch: the argument block; cg: bufs then dims */
  DevGemm gm;
} EmuOp;

typedef struct DevEmuRec {
  EmuOp *ops;
  int n, cap;
} DevEmuRec;

static int fail(Dev *dev, const char *msg) {
  snprintf(dev->L.err, sizeof dev->L.err, "%s", msg);
  return 0;
}

static void rec_free(DevEmuRec *r) {
  if (!r) return;
  for (int i = 0; i < r->n; i++) free(r->ops[i].blob);
  free(r->ops);
  free(r);
}

static EmuOp *rec_push(Dev *dev) {
  DevEmuRec *r = dev->rec;
  if (!r) return fail(dev, "emulated capture: no record (internal error)"), NULL;
  if (dev->emu_fail_op > 0 && r->n + 1 == dev->emu_fail_op) /* a test's injected failure */
    return fail(dev, "emulated capture failure (MAMC_CUDA_EMU_CAPTURE_FAIL)"), NULL;
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 256;
    EmuOp *o = realloc(r->ops, sizeof *o * (size_t)cap);
    if (!o) return fail(dev, "out of memory"), NULL;
    r->ops = o;
    r->cap = cap;
  }
  EmuOp *o = &r->ops[r->n++];
  memset(o, 0, sizeof *o);
  return o;
}

/* ---- page-locked host memory (emu: a registry of dev_host_alloc's blocks) ---------------------- */

void dev_emu_pin(Dev *dev, void *p, size_t n) {
  if (!p) return;
  if (dev->npinned == dev->cap_pinned) {
    int cap = dev->cap_pinned ? 2 * dev->cap_pinned : 16;
    DevPinned *v = realloc(dev->pinned, sizeof *v * (size_t)cap);
    if (!v) return; /* unregistered: a capture copying from it fails (and falls back) */
    dev->pinned = v;
    dev->cap_pinned = cap;
  }
  dev->pinned[dev->npinned++] = (DevPinned){(uintptr_t)p, n};
}

void dev_emu_unpin(Dev *dev, void *p) {
  for (int i = 0; i < dev->npinned; i++)
    if (dev->pinned[i].p == (uintptr_t)p) {
      dev->pinned[i] = dev->pinned[--dev->npinned];
      return;
    }
}

static int is_pinned(const Dev *dev, const void *p, uint64_t n) {
  uintptr_t a = (uintptr_t)p;
  for (int i = 0; i < dev->npinned; i++)
    if (a >= dev->pinned[i].p && a + n <= dev->pinned[i].p + dev->pinned[i].n) return 1;
  return 0;
}

void dev_emu_free_all(Dev *dev) {
  rec_free(dev->rec);
  dev->rec = NULL;
  free(dev->pinned);
  dev->pinned = NULL;
  dev->npinned = dev->cap_pinned = 0;
}

/* ---- recording (emu, while capturing) --------------------------------------------------------------- */

int dev_emu_rec_copy(Dev *dev, int kind, DPtr dst, DPtr src, const void *hsrc, uint64_t n) {
  if (kind == 0 && !is_pinned(dev, hsrc, n))
    return fail(dev, "a copy to the device from pageable host memory cannot be captured (a graph reads its source "
                     "when replayed: copy from a dev_host_alloc buffer)");
  EmuOp *o = rec_push(dev);
  if (!o) return 0;
  *o = (EmuOp){.kind = OP_COPY, .sub = kind, .dst = dst, .src = src, .hsrc = hsrc, .n = n};
  return 1;
}

/* the size of kernel `name`'s argument block (kargs.h), 0 when unknown */
static size_t args_size(const char *name) {
  static const struct {
    const char *prefix;
    size_t size;
  } t[] = {{"k_copy_", sizeof(KaCopy)},   {"k_gather", sizeof(KaGather)}, {"k_scatter_", sizeof(KaGather)},
           {"k_axpy_n", sizeof(KaAxpyN)}, {"k_axpy", sizeof(KaVec)},     {"k_fill", sizeof(KaVec)},     {"k_to_bf16", sizeof(KaVec)},
           {"k_norm_", sizeof(KaNorm)},   {"k_xent_", sizeof(KaXent)},   {"k_attn_", sizeof(KaAttn)},
           {"k_fa_", sizeof(KaAttn)}, /* attention_tc.cu's tensor-core kernels */
           {"k_sqnorm", sizeof(KaAdam)},  {"k_adamw", sizeof(KaAdam)},   {"k_la_pack", sizeof(KaLinPack)},
           {"k_la_", sizeof(KaLin)}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (strncmp(name, t[i].prefix, strlen(t[i].prefix)) == 0) return t[i].size;
  return 0;
}

int dev_emu_rec_launch(Dev *dev, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block,
                       unsigned smem, const void *args) {
  size_t sz = args_size(name);
  if (!sz || strlen(name) >= sizeof ((EmuOp *)0)->name) {
    snprintf(dev->L.err, sizeof dev->L.err, "emulated capture: kernel %s: argument block of unknown size", name);
    return 0;
  }
  void *blob = malloc(sz);
  if (!blob) return fail(dev, "out of memory");
  EmuOp *o = rec_push(dev);
  if (!o) return free(blob), 0;
  memcpy(blob, args, sz);
  *o = (EmuOp){.kind = OP_LAUNCH, .sub = mod, .g = {gx, gy, gz}, .block = block, .smem = smem, .blob = blob};
  snprintf(o->name, sizeof o->name, "%s", name);
  return 1;
}

int dev_emu_rec_cg(Dev *dev, const DevCg *k, const DPtr *bufs, const int64_t *dims) {
  size_t nb = sizeof(DPtr) * CG_MAX_BUFS, nd = sizeof(int64_t) * CG_MAX_DIMS;
  char *blob = calloc(1, nb + nd);
  if (!blob) return fail(dev, "out of memory");
  EmuOp *o = rec_push(dev);
  if (!o) return free(blob), 0;
  memcpy(blob, bufs, sizeof(DPtr) * (size_t)k->k.nbufs);
  memcpy(blob + nb, dims, sizeof(int64_t) * (size_t)k->k.ndims);
  *o = (EmuOp){.kind = OP_CG, .k = k, .blob = blob};
  return 1;
}

int dev_emu_rec_gemm(Dev *dev, const DevGemm *g, DPtr aux) {
  EmuOp *o = rec_push(dev);
  if (!o) return 0;
  *o = (EmuOp){.kind = OP_GEMM, .gm = *g, .dst = aux};
  return 1;
}

static int emu_replay(Dev *dev, const DevEmuRec *r) {
  for (int i = 0; i < r->n; i++) {
    const EmuOp *o = &r->ops[i];
    int ok = 1;
    switch (o->kind) {
    case OP_COPY:
      ok = o->sub == 0 ? dev_h2d(dev, o->dst, o->hsrc, o->n) : o->sub == 1 ? dev_d2d(dev, o->dst, o->src, o->n)
                                                                          : dev_zero(dev, o->dst, o->n);
      break;
    case OP_LAUNCH: ok = dev_launch(dev, o->sub, o->name, o->g[0], o->g[1], o->g[2], o->block, o->smem, o->blob); break;
    case OP_CG:
      ok = dev_cg_launch(dev, o->k, (const DPtr *)o->blob, (const int64_t *)((char *)o->blob + sizeof(DPtr) * CG_MAX_BUFS));
      break;
    case OP_GEMM: ok = dev_gemm_aux(dev, &o->gm, o->dst); break;
    default: ok = fail(dev, "emulated graph: bad record (internal error)");
    }
    if (!ok) return 0;
  }
  return 1;
}

/* ---- capture and replay ------------------------------------------------------------------------------ */

int dev_capture_begin(Dev *dev) {
  if (dev->capturing) return fail(dev, "a capture is already in progress (internal error)");
  if (dev->compile_only) return fail(dev, "a compile-only device captures nothing");
  if (dev->emu) {
    if (!(dev->rec = calloc(1, sizeof *dev->rec))) return fail(dev, "out of memory");
  } else if (!CU_OK(&dev->L, cuStreamBeginCapture(dev->stream, CU_STREAM_CAPTURE_MODE_RELAXED))) {
    return 0;
  }
  dev->capturing = 1;
  return 1;
}

int dev_capture_end(Dev *dev, DevGraph *out) {
  memset(out, 0, sizeof *out);
  if (!dev->capturing) return fail(dev, "no capture in progress (internal error)");
  dev->capturing = 0;
  if (dev->emu) {
    if (getenv("MAMC_DEBUG_CUDA")) fprintf(stderr, "mamc: cuda: emulated capture: %d operations\n", dev->rec->n);
    if (dev->emu_fail_op > 0) { /* a test's injected failure, at the end of a capture shorter than that */
      rec_free(dev->rec);
      dev->rec = NULL;
      return fail(dev, "emulated capture failure at its end (MAMC_CUDA_EMU_CAPTURE_FAIL)");
    }
    out->emu = dev->rec;
    dev->rec = NULL;
    out->ok = 1;
    return 1;
  }
  if (!CU_OK(&dev->L, cuStreamEndCapture(dev->stream, &out->g))) {
    if (out->g) dev->L.cuGraphDestroy(out->g);
    out->g = NULL;
    return 0;
  }
  if (!CU_OK(&dev->L, cuGraphInstantiate(&out->x, out->g, 0))) {
    dev->L.cuGraphDestroy(out->g);
    out->g = NULL;
    return 0;
  }
  out->ok = 1;
  return 1;
}

void dev_capture_abort(Dev *dev) {
  if (!dev->capturing) return;
  dev->capturing = 0;
  if (dev->emu) {
    rec_free(dev->rec);
    dev->rec = NULL;
    return;
  }
  char keep[sizeof dev->L.err]; /* the error that made the caller abort stays the message */
  memcpy(keep, dev->L.err, sizeof keep);
  CUgraph g = NULL;
  dev->L.cuStreamEndCapture(dev->stream, &g); /* (an invalidated capture ends with an error and no graph) */
  if (g) dev->L.cuGraphDestroy(g);
  memcpy(dev->L.err, keep, sizeof keep);
}

int dev_graph_launch(Dev *dev, DevGraph *g) {
  if (!g->ok) return fail(dev, "launching a graph that was not captured (internal error)");
  if (dev->capturing) return fail(dev, "launching a graph while capturing (internal error)");
  if (dev->emu) return emu_replay(dev, g->emu);
  return CU_OK(&dev->L, cuGraphLaunch(g->x, dev->stream));
}

void dev_graph_free(Dev *dev, DevGraph *g) {
  if (dev->emu) rec_free(g->emu);
  else {
    if (g->x) dev->L.cuGraphExecDestroy(g->x);
    if (g->g) dev->L.cuGraphDestroy(g->g);
  }
  memset(g, 0, sizeof *g);
}
