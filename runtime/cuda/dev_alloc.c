/* dev_alloc.c — the device's caching allocator (dev.h): segments obtained from the driver
 * (or malloc in emu mode) once and kept; blocks carved from them, best fit within a size
 * class, split on allocation and coalesced with free neighbours on release. Deterministic:
 * the same sequence of calls yields the same addresses (CUDA graph replay relies on it). */
#include <stdlib.h>
#include <string.h>

#include "dev.h"

enum { ALIGN = 256, NCLASS = 48 };

static int size_class(uint64_t n) {
  int c = 0;
  while (c < NCLASS - 1 && ((uint64_t)1 << (c + 8)) < n) c++;
  return c; /* class c holds sizes in (2^(c+7), 2^(c+8)] (class 0: up to 256) */
}

static int new_record(DevAlloc *a) {
  if (a->unused >= 0) {
    int i = a->unused;
    a->unused = a->b[i].next;
    return i;
  }
  if (a->nb == a->cap) {
    int cap = a->cap ? 2 * a->cap : 256;
    DevBlock *nb = realloc(a->b, sizeof *nb * (size_t)cap);
    if (!nb) return -1;
    a->b = nb;
    a->cap = cap;
  }
  return a->nb++;
}

static void drop_record(DevAlloc *a, int i) {
  a->b[i].next = a->unused;
  a->b[i].seg = -1;
  a->unused = i;
}

static void free_link(DevAlloc *a, int i) {
  int c = size_class(a->b[i].size);
  a->b[i].free = 1;
  a->b[i].fprev = -1;
  a->b[i].fnext = a->freel[c];
  if (a->freel[c] >= 0) a->b[a->freel[c]].fprev = i;
  a->freel[c] = i;
}

static void free_unlink(DevAlloc *a, int i) {
  DevBlock *b = &a->b[i];
  if (b->fprev >= 0) a->b[b->fprev].fnext = b->fnext;
  else a->freel[size_class(b->size)] = b->fnext;
  if (b->fnext >= 0) a->b[b->fnext].fprev = b->fprev;
  b->free = 0;
}

/* ---- live blocks by address: open addressing, linear probing, tombstones (-2) ---------------- */
static unsigned hslot(DPtr p, int cap) { return (unsigned)((p >> 8) * 0x9e3779b97f4a7c15ULL >> 20) & (unsigned)(cap - 1); }

static uint64_t block_hash(DPtr p, uint64_t size) { /* splitmix64 of (address, size) */
  uint64_t z = p ^ (size * 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t dev_alloc_live_sig(const Dev *dev) { return dev->alloc.live_sig ^ (uint64_t)dev->alloc.hlive; }

static int live_put(DevAlloc *a, DPtr p, int i) {
  if (2 * (a->hused + 1) > a->hcap) { /* rebuild at twice the live count (drops tombstones) */
    int cap = a->hcap ? a->hcap : 1024;
    while (cap < 4 * (a->hlive + 1)) cap *= 2;
    int *h = malloc(sizeof(int) * (size_t)cap);
    if (!h) return 0;
    for (int k = 0; k < cap; k++) h[k] = -1;
    for (int k = 0; k < a->hcap; k++) {
      int j = a->hidx[k];
      if (j < 0) continue;
      unsigned s = hslot(a->b[j].addr, cap);
      while (h[s] >= 0) s = (s + 1) & (unsigned)(cap - 1);
      h[s] = j;
    }
    free(a->hidx);
    a->hidx = h;
    a->hcap = cap;
    a->hused = a->hlive;
  }
  unsigned s = hslot(p, a->hcap);
  while (a->hidx[s] >= 0) s = (s + 1) & (unsigned)(a->hcap - 1);
  if (a->hidx[s] == -1) a->hused++;
  a->hidx[s] = i;
  a->hlive++;
  a->live_sig += block_hash(p, a->b[i].size);
  return 1;
}

static int live_take(DevAlloc *a, DPtr p) {
  if (!a->hcap) return -1;
  for (unsigned s = hslot(p, a->hcap);; s = (s + 1) & (unsigned)(a->hcap - 1)) {
    int j = a->hidx[s];
    if (j == -1) return -1;
    if (j >= 0 && a->b[j].addr == p) {
      a->hidx[s] = -2;
      a->hlive--;
      a->live_sig -= block_hash(p, a->b[j].size);
      return j;
    }
  }
}

static int raw_alloc(Dev *dev, uint64_t bytes, DPtr *p) {
  if (dev->emu) {
    void *m = aligned_alloc(ALIGN, (size_t)bytes);
    if (!m) {
      snprintf(dev->L.err, sizeof dev->L.err, "out of host memory (%llu bytes) for the emulated device",
               (unsigned long long)bytes);
      return 0;
    }
    *p = (DPtr)(uintptr_t)m;
    return 1;
  }
  CUdeviceptr d;
  if (!CU_OK(&dev->L, cuMemAlloc(&d, (size_t)bytes))) return 0;
  *p = (DPtr)d;
  return 1;
}

static int grow(Dev *dev, uint64_t need) {
  DevAlloc *a = &dev->alloc;
  uint64_t min = dev->emu ? (1u << 20) : ((uint64_t)256 << 20), size = need > min ? need : min;
  size = (size + (2u << 20) - 1) / (2u << 20) * (2u << 20);
  DPtr *ns = realloc(a->seg, sizeof *ns * (size_t)(a->nseg + 1));
  if (!ns) return 0;
  a->seg = ns;
  uint64_t *nz = realloc(a->segsize, sizeof *nz * (size_t)(a->nseg + 1));
  if (!nz) return 0;
  a->segsize = nz;
  DPtr base;
  if (!raw_alloc(dev, size, &base)) return 0;
  int i = new_record(a);
  if (i < 0) return 0;
  a->seg[a->nseg] = base;
  a->segsize[a->nseg] = size;
  a->b[i] = (DevBlock){base, size, -1, -1, -1, -1, 0, a->nseg};
  a->nseg++;
  a->reserved += size;
  free_link(a, i);
  return 1;
}

int dev_alloc(Dev *dev, uint64_t bytes, DPtr *out) {
  DevAlloc *a = &dev->alloc;
  if (!a->cap && !a->nb) {
    a->unused = -1;
    for (int c = 0; c < NCLASS; c++) a->freel[c] = -1;
  }
  uint64_t n = bytes ? (bytes + ALIGN - 1) / ALIGN * ALIGN : ALIGN;
  for (int attempt = 0; attempt < 2; attempt++) {
    int best = -1;
    for (int c = size_class(n); c < NCLASS && best < 0; c++) /* best fit in the first class that fits */
      for (int i = a->freel[c]; i >= 0; i = a->b[i].fnext)
        if (a->b[i].size >= n && (best < 0 || a->b[i].size < a->b[best].size ||
                                  (a->b[i].size == a->b[best].size && a->b[i].addr < a->b[best].addr)))
          best = i;
    if (best >= 0) {
      free_unlink(a, best);
      if (a->b[best].size - n >= ALIGN) { /* split: the tail stays free */
        int t = new_record(a);
        if (t < 0) return snprintf(dev->L.err, sizeof dev->L.err, "out of memory"), 0;
        DevBlock *b = &a->b[best];
        a->b[t] = (DevBlock){b->addr + n, b->size - n, best, b->next, -1, -1, 0, b->seg};
        if (b->next >= 0) a->b[b->next].prev = t;
        b->next = t;
        b->size = n;
        free_link(a, t);
      }
      if (!live_put(a, a->b[best].addr, best)) return snprintf(dev->L.err, sizeof dev->L.err, "out of memory"), 0;
      a->in_use += a->b[best].size;
      if (a->in_use > a->peak) a->peak = a->in_use;
      *out = a->b[best].addr;
      return 1;
    }
    if (attempt == 0 && !grow(dev, n)) return 0;
  }
  snprintf(dev->L.err, sizeof dev->L.err, "allocator: no block after growing (internal error)");
  return 0;
}

static void merge_next(DevAlloc *a, int i) { /* i and its free successor become one block */
  int j = a->b[i].next;
  free_unlink(a, j);
  a->b[i].size += a->b[j].size;
  a->b[i].next = a->b[j].next;
  if (a->b[j].next >= 0) a->b[a->b[j].next].prev = i;
  drop_record(a, j);
}

void dev_free(Dev *dev, DPtr p) {
  DevAlloc *a = &dev->alloc;
  if (!p) return;
  int i = live_take(a, p);
  if (i < 0) return;
  a->in_use -= a->b[i].size;
  free_link(a, i);
  if (a->b[i].next >= 0 && a->b[a->b[i].next].free) {
    free_unlink(a, i);
    merge_next(a, i);
    free_link(a, i);
  }
  int pv = a->b[i].prev;
  if (pv >= 0 && a->b[pv].free) {
    free_unlink(a, pv);
    merge_next(a, pv); /* takes i off its free list */
    free_link(a, pv);
  }
}

void dev_alloc_release(Dev *dev) {
  DevAlloc *a = &dev->alloc;
  for (int s = 0; s < a->nseg; s++) {
    if (dev->emu) free((void *)(uintptr_t)a->seg[s]);
    else if (dev->have_ctx) dev->L.cuMemFree((CUdeviceptr)a->seg[s]);
  }
  free(a->b);
  free(a->hidx);
  free(a->seg);
  free(a->segsize);
  memset(a, 0, sizeof *a);
}
