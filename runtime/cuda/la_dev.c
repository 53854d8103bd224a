/* la_dev.c — DiJiang's kernel sequences on the device (la_dev.h). */
#include "la_dev.h"

#include <stdlib.h>
#include <string.h>

#define LA_C 32 /* linattn.cu's chunk */

/* shared memory of k_la_local / k_la_out (0) and k_la_grad (1) for m features (linattn.cu's layout) */
static unsigned smem_cores(int m, int bwd) {
  int C = LA_C, DVB = 32, mp = m + 1;
  int floats = bwd ? 2 * C * mp + 2 * C * DVB + 2 * m * DVB + 2 * C * (C + 1) + 3 * C + 2 * C
                   : 2 * C * mp + C * DVB + m * DVB + C * (C + 1) + 3 * C + 2 * C;
  return (unsigned)floats * 4;
}

/* shared memory of linattn_tc.cu's kernels (their layouts): kind 0 k_la_local_tc, 1 k_la_out_tc,
 * 2 k_la_grad_tc, 3 k_la_features_tc (D: its input width) */
static unsigned smem_tc(int m, int dv, int D, int kind) {
  const int C = LA_C, wm = (m + 15) & ~15, wv = (dv + 15) & ~15, wd = (D + 15) & ~15, lm = wm + 4, lv = wv + 4;
  const int scores = C * (C + 4), gates = 3 * C + 2 * C; /* eb, wl, beta; the f64 cumulative gates */
  int floats = kind == 0   ? C * lm + C * lv + wm * lv + gates
               : kind == 1 ? 3 * C * lm + C * lv + wm * lv + scores + gates
               : kind == 2 ? 3 * C * lm + 2 * C * lv + wm * lv + 2 * scores + gates
                           : wd * lm + 64 * (wd + 4);
  return (unsigned)floats * 4;
}

int la_dev_tc(const Dev *dev, int m, int dv, int D) {
  const char *env = getenv("MAMC_CUDA_LA_TC");
  if (env && !strcmp(env, "0")) return 0;
  return (dev->emu || dev->cc >= 80) && m <= 64 && dv <= 64 && D <= 64;
}

int la_dev_seg(int64_t BH, int NT) {
  const char *env = getenv("MAMC_CUDA_LA_SEG");
  if (env && atoi(env) > 0) return atoi(env);
  int64_t want = (1024 + BH - 1) / BH; /* segments a slice: 8 blocks an H200 multiprocessor */
  return want >= NT ? 1 : (int)((NT + want - 1) / want);
}

int la_dev_groups(const KaLin *a) {
  int NT = (a->T + LA_C - 1) / LA_C;
  return a->seg > 1 ? (NT + a->seg - 1) / a->seg : NT;
}

static int launch(Dev *dev, const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem, KaLin *a) {
  return dev_launch(dev, KMOD_LINATTN, name, gx, gy, gz, block, smem, a);
}

int la_dev_features(Dev *dev, KaLin *a, int tc, DPtr x, DPtr out) {
  a->x = x, a->out = out;
  if (tc) return launch(dev, "k_la_features_tc", (unsigned)((a->rows + 63) / 64), 1, 1, 128, smem_tc(a->m, a->dv_w, a->D, 3), a);
  return launch(dev, "k_la_features", dev_grid(dev, a->rows * 32, 256), 1, 1, 256, 0, a);
}

/* every group's start state of one direction: part 0 the forward state (states), 1 the reverse
 * state of the backward (rstates): each group's own sum, then carried across the groups. The
 * CUDA-core kernels' grid: (slices, value slices of 32, chunks); the tensor cores': (slices,
 * segments). */
static int states(Dev *dev, KaLin *a, int tc, int part) {
  const unsigned BH = (unsigned)a->BH, NT = (unsigned)((a->T + LA_C - 1) / LA_C), gy = (unsigned)((a->dv_w + 31) / 32);
  a->part = part;
  int ok = tc ? launch(dev, "k_la_local_tc", BH, (unsigned)la_dev_groups(a), 1, 128, smem_tc(a->m, a->dv_w, a->D, 0), a)
              : launch(dev, "k_la_local", BH, gy, NT, 128, smem_cores(a->m, 0), a);
  return ok && launch(dev, "k_la_carry", dev_grid(dev, a->BH * a->m * a->dv_w, 256), 1, 1, 256, 0, a);
}

int la_dev_core(Dev *dev, KaLin *a, int tc, int grad, int both) {
  const unsigned BH = (unsigned)a->BH, NT = (unsigned)((a->T + LA_C - 1) / LA_C), gy = (unsigned)((a->dv_w + 31) / 32);
  const uint64_t rows = (uint64_t)a->BH * (uint64_t)a->T;
  if (!tc && !grad && !dev_zero(dev, a->o, rows * (uint64_t)a->dv_w * 4)) return 0;
  if (!tc && grad &&
      !(dev_zero(dev, a->dq, rows * (uint64_t)a->m * 4) && dev_zero(dev, a->dkb, rows * (uint64_t)a->m * 4) &&
        dev_zero(dev, a->dv, rows * (uint64_t)a->dv_w * 4)))
    return 0;
  for (int pass = 0; pass < (both ? 2 : 1); pass++) {
    a->reverse = a->strict = a->acc = pass;
    if (!states(dev, a, tc, 0) || (grad && !states(dev, a, tc, 1))) return 0;
    const char *k = tc ? (grad ? "k_la_grad_tc" : "k_la_out_tc") : (grad ? "k_la_grad" : "k_la_out");
    int ok = tc ? launch(dev, k, BH, (unsigned)la_dev_groups(a), 1, 128, smem_tc(a->m, a->dv_w, a->D, grad ? 2 : 1), a)
                : launch(dev, k, BH, gy, NT, 128, smem_cores(a->m, grad), a);
    if (!ok) return 0;
  }
  return 1;
}
