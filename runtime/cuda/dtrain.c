/* dtrain.c — train.device: cuda in the trainer (trainer_internal.h's tdev_check).
 *
 * State (issue #7, docs/gpu.md): the device executor (dexec.h) runs whole training graphs and
 * is checked against the interpreter by tests/cuda/cuda_check.c (bench/gpu.sh on a GPU), but
 * the trainer's step (gradient sums, exchange, clipping, AdamW) is not yet moved to the GPU.
 * Until it is, `device: cuda` opens the GPU to say precisely what is there, then stops with a
 * clear message instead of silently training on the CPU:
 *   - no driver or no GPU: "no CUDA device: ..." with a HINT (train.device: cpu);
 *   - a GPU: its name, and that GPU training is not wired yet.
 * The same binary runs CPU training on machines without a GPU: nothing CUDA is linked. */
#include "dev.h"
#include "trainer_internal.h"

int tdev_check(int index, Diag *d) {
  Dev dev;
  memset(&dev, 0, sizeof dev);
  if (!dev_open(&dev, index)) {
    diag_plain(d, "train.device: cuda: %s", dev.L.err);
    dev_close(&dev);
    return 0;
  }
  diag_plain(d,
             "train.device: cuda: GPU %d (%s, compute capability %d.%d) opened, but training steps on the GPU are not "
             "wired into the trainer yet (issue #7; docs/gpu.md)\nHINT: train.device: cpu (or --device cpu) trains "
             "on the CPU; bench/gpu.sh checks the device executor on a GPU",
             dev.ordinal, dev.name, dev.cc / 10, dev.cc % 10);
  dev_close(&dev);
  return 0;
}
