/* test_cuda_views.c — dx_reshape_strides (runtime/cuda/dexec_copy.c), which lets the device
 * executor read a reshape of a strided view without a copy (a packed projection's slice split
 * into heads) and place a concat's operand in the concat's buffer: NumPy's no-copy reshape.
 * Splits and merges of contiguous groups give strides; merges across a gap or a transposition
 * are refused; extent-1 axes take no part. */
#include <stdint.h>

#include "dexec_internal.h"
#include "test.h"

/* reshape (ro, so, sto) to (rn, sn); expect ok, and where ok the strides want[] (extent-1
 * axes of the result excepted: any stride reads them) */
static void reshape(int ro, const int64_t *so, const int64_t *sto, int rn, const int64_t *sn, int ok, const int64_t *want) {
  int64_t st[IR_MAX_RANK];
  int got = dx_reshape_strides(ro, so, sto, rn, sn, st);
  CHECK_MSG(got == ok, "reshape of rank %d to rank %d: %s, expected %s", ro, rn, got ? "strides" : "refused",
            ok ? "strides" : "refused");
  for (int d = 0; got && ok && d < rn; d++)
    CHECK_MSG(sn[d] == 1 || st[d] == want[d], "axis %d: stride %lld, expected %lld", d, (long long)st[d], (long long)want[d]);
}

int main(void) {
  /* contiguous [6, 4] -> [24] and back */
  reshape(2, (int64_t[]){6, 4}, (int64_t[]){4, 1}, 1, (int64_t[]){24}, 1, (int64_t[]){1});
  reshape(1, (int64_t[]){24}, (int64_t[]){1}, 2, (int64_t[]){6, 4}, 1, (int64_t[]){4, 1});
  /* kv[..., :128] of kv [B 3, S 5, 256], split into 4 heads of 32: rows 256 apart */
  reshape(3, (int64_t[]){3, 5, 128}, (int64_t[]){1280, 256, 1}, 4, (int64_t[]){3, 5, 4, 32}, 1, (int64_t[]){1280, 256, 32, 1});
  /* and the other way, heads merged into a slice of a wider buffer (a concat operand's place) */
  reshape(4, (int64_t[]){3, 5, 4, 32}, (int64_t[]){1280, 256, 32, 1}, 3, (int64_t[]){3, 5, 128}, 1, (int64_t[]){1280, 256, 1});
  /* merging B and S of that slice: S's rows are 256 apart, B's 1280 = 5 * 256: contiguous */
  reshape(3, (int64_t[]){3, 5, 128}, (int64_t[]){1280, 256, 1}, 2, (int64_t[]){15, 128}, 1, (int64_t[]){256, 1});
  /* merging S with the sliced axis is not: a gap of 128 after each row */
  reshape(3, (int64_t[]){3, 5, 128}, (int64_t[]){1280, 256, 1}, 2, (int64_t[]){3, 640}, 0, NULL);
  /* a transposed view cannot be flattened, nor its axes regrouped */
  reshape(2, (int64_t[]){4, 6}, (int64_t[]){1, 4}, 1, (int64_t[]){24}, 0, NULL);
  reshape(2, (int64_t[]){2, 3}, (int64_t[]){1, 2}, 2, (int64_t[]){3, 2}, 0, NULL);
  /* split of a transposed axis keeps its stride: [4, 6] strides (1, 4) -> [2, 2, 6] */
  reshape(2, (int64_t[]){4, 6}, (int64_t[]){1, 4}, 3, (int64_t[]){2, 2, 6}, 1, (int64_t[]){2, 1, 4});
  /* extent-1 axes: ignored on both sides whatever their strides */
  reshape(3, (int64_t[]){3, 1, 4}, (int64_t[]){4, 999, 1}, 1, (int64_t[]){12}, 1, (int64_t[]){1});
  reshape(2, (int64_t[]){3, 4}, (int64_t[]){8, 2}, 4, (int64_t[]){1, 3, 1, 4}, 1, (int64_t[]){0, 8, 0, 2});
  /* different element counts never pass */
  reshape(2, (int64_t[]){3, 4}, (int64_t[]){4, 1}, 1, (int64_t[]){13}, 0, NULL);
  return test_done();
}
