/* la_dev.h — DiJiang's device kernels (linattn.cu, linattn_tc.cu) launched in their order: the
 * feature maps and the chunked core, forward and backward. One sequence for the executor
 * (dexec_linattn.c), the benchmark and the kernel checks (tests/cuda). */
#ifndef MAMC_LA_DEV_H
#define MAMC_LA_DEV_H

#include "dev.h"
#include "kernels/kargs.h"

/* Whether DiJiang runs on tensor cores on dev (linattn_tc.cu: compute capability 8.0 and later,
 * or the host emulation, so that the tests run them; m features, dv value columns and input
 * width D all at most 64); MAMC_CUDA_LA_TC=0 keeps linattn.cu's CUDA-core kernels. */
int la_dev_tc(const Dev *dev, int m, int dv, int D);

/* Chunks (of 32 positions) a segment for the tensor-core kernels, for BH slices of NT chunks:
 * enough segments for about 1024 blocks; MAMC_CUDA_LA_SEG=N sets it. */
int la_dev_seg(int64_t BH, int NT);

/* The groups whose states go through memory (a->seg chunks each; 0 or 1: every chunk): size
 * a->states and a->rstates [BH, groups, m, dv_w] and a->decays [BH, groups] by it. */
int la_dev_groups(const KaLin *a);

/* phi(x) of the a->rows rows of x [rows, D] into out [rows, m] (a's P, fw, fd, feature, m, D). */
int la_dev_features(Dev *dev, KaLin *a, int tc, DPtr x, DPtr out);

/* The core given a's q, k, v (forward: o) or q, k, v, dO (grad: dq, dkb, dv), gates, states:
 * a pass over positions 0 .. T-1, and with both (not causal) a strict pass from T-1 down.
 * The results are written whole (zeroed first on CUDA cores, whose value slices add up: o's
 * BH T dv elements from its address, whatever its KaRows — they must cover exactly those).
 * 1 ok; 0 with dev->L.err. */
int la_dev_core(Dev *dev, KaLin *a, int tc, int grad, int both);

#endif
