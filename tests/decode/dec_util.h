/* dec_util.h — what the decoding tests share: compiling one task of a model for decoding (the
 * decode pass, then lower_attn, simplify, fusion, as the translator does), and the full task
 * graph's teacher-forced log-probabilities (the reference the cached programs must match). */
#ifndef MAMC_TEST_DEC_UTIL_H
#define MAMC_TEST_DEC_UTIL_H

#include "../../runtime/decode.h"

/* Elaborates model against config with only the task named `task` (e.g. "translate-en-de"),
 * then runs the passes "D" and "LSF". NULL with the diagnostics printed. Graph 0 is the task. */
IrProgram *du_compile(Arena *a, const char *model, const char *config, const char *task);

/* log_softmax of the task graph's logits: logp[B, T-1, V] (f64), executed with exec.h (no JIT). */
int du_full_logp(const IrProgram *p, const ParamStore *ps, DType fdt, const int32_t *src, int B, int S,
                 const int32_t *tgt, int T, double *logp, char *err, size_t errlen);

/* Random token ids in [4, 4 + range) with the last real position </s> and rows padded with 0
 * after len[b] tokens (len[b] <= n). */
void du_tokens(int32_t *ids, int B, int n, const int *len, int range, uint64_t seed, int bos);

#endif
