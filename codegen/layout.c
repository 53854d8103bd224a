/* layout.c — the calling side of a kernel, shared by the CPU JIT and the GPU backend: the
 * CgKernel description of a lowered KIR (buffers, dims layout, outer iteration count),
 * filling the dims array from actual shapes, and the outer count. See codegen.h.
 */
#include <stdlib.h>

#include "codegen.h"

int cg_describe(const Kir *k, CgKernel *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (k->bufs.n > CG_MAX_BUFS || k->dims.n > CG_MAX_DIMS) {
    snprintf(err, errlen, "kernel needs %d buffers and %d dims (at most %d and %d)", k->bufs.n, k->dims.n,
             CG_MAX_BUFS, CG_MAX_DIMS);
    return 0;
  }
  kir_name(k, out->name, sizeof out->name);
  out->row = k->row;
  out->cols = kir_columns(k);
  out->naccs = k->accs.n;
  out->nbufs = k->bufs.n;
  for (int i = 0; i < k->bufs.n; i++) {
    const KBuf *b = &k->bufs.v[i];
    out->bufs[i] = (CgBufInfo){b->node, b->bf16 ? DT_BF16 : b->type.dt, b->out, b->type};
    if (!b->out) out->nin = i + 1;
  }
  out->ndims = k->dims.n;
  for (int i = 0; i < k->dims.n; i++) {
    const KDim *d = &k->dims.v[i];
    out->dims[i] = (CgDimSlot){d->buf, d->a0, d->a1, d->sym, d->seed};
  }
  int nouter = k->row ? k->naxes - k->nred : k->naxes;
  out->nouter = nouter;
  for (int i = 0; i < nouter; i++) out->outer[i] = k->ext[i];
  out->nred = k->row ? k->nred : 0;
  for (int i = 0; i < out->nred; i++) out->red[i] = k->ext[nouter + i];
  return 1;
}

/* runtime/rng.h's rng_key (codegen does not depend on runtime/; test_codegen_jit checks that
 * compiled dropout draws the interpreter's stream) */
static uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint64_t rng_key_of(uint64_t a, uint64_t b) { return mix(a ^ mix(b + 0x632be59bd9b4e019ull)); }

int cg_fill_dims(const CgKernel *k, const int64_t *const *shapes, const int64_t *symvals, const CgRun *run,
                 int64_t *dims, char *err, size_t errlen) {
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = 0;
  for (int i = 0; i < k->nbufs; i++) {
    const CgBufInfo *b = &k->bufs[i];
    if (!shapes || !shapes[i]) {
      if (b->type.rank == 0) continue;
      snprintf(err, errlen, "%s: no shape for buffer %d (%%%d)", k->name, i, b->node);
      return 0;
    }
    for (int j = 0; j < b->type.rank; j++) {
      int64_t want = symvals || dim_is_const(b->type.d[j]) ? dim_eval(b->type.d[j], symvals) : shapes[i][j];
      if (shapes[i][j] != want || shapes[i][j] < 0) {
        snprintf(err, errlen, "%s: buffer %d (%%%d) has extent %lld on axis %d, its type says %lld", k->name, i,
                 b->node, (long long)shapes[i][j], j, (long long)want);
        return 0;
      }
    }
  }
  for (int s = 0; s < k->ndims; s++) {
    const CgDimSlot *d = &k->dims[s];
    if (d->buf == CG_SLOT_RNG_KEY) {
      uint64_t key = rng_key_of((run ? run->seed : 0) ^ (uint64_t)d->seed, (uint64_t)(run ? run->step : 0));
      memcpy(&dims[s], &key, sizeof key);
      continue;
    }
    if (d->buf == CG_SLOT_TRAINING) {
      dims[s] = run && run->training;
      continue;
    }
    if (d->buf < 0) {
      if (!dim_is_const(d->sym) && !symvals) {
        snprintf(err, errlen, "%s: dims slot %d needs the symbol values", k->name, s);
        return 0;
      }
      dims[s] = dim_eval(d->sym, symvals);
      continue;
    }
    int64_t v = 1;
    for (int a = d->a0; a < d->a1; a++) v *= shapes[d->buf][a];
    dims[s] = v;
  }
  return 1;
}

uint64_t cg_div_magic(int64_t d) {
  if (d < 1 || d > 2147483647) return 0;
  unsigned s = 0;
  while (((int64_t)1 << s) < d) s++;
  uint64_t m = (((uint64_t)1 << 32) * (((uint64_t)1 << s) - (uint64_t)d)) / (uint64_t)d + 1;
  return (m & 0xffffffffu) | ((uint64_t)s << 32);
}

int64_t cg_outer(const CgKernel *k, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < k->nouter; i++) n *= dims[k->outer[i]];
  return n;
}

int64_t cg_split_row(const CgKernel *k, const int64_t *dims) {
  return k->row || k->nouter == 0 ? 0 : dims[k->outer[k->nouter - 1]];
}
