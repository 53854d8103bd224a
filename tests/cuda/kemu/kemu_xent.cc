// kemu_xent.cc — runtime/cuda/kernels/xent.cu compiled for the host block emulator (kemu.h),
// in its own namespace (as NVRTC compiles each module alone), and its table of kernels.
#include "kemu.h"

namespace kemu_xent {
#include "kargs.h"
#include "common.cuh"
#include "xent.cu"
} // namespace kemu_xent

extern "C" const KemuKernel kemu_tab_xent[] = {
    KEMU_K(kemu_xent, k_xent_rows, KaXent),
    KEMU_K(kemu_xent, k_xent_rows16, KaXent),
    KEMU_K(kemu_xent, k_xent_sum, KaXent),
    KEMU_K(kemu_xent, k_xent_count, KaXent),
    KEMU_K(kemu_xent, k_xent_grad, KaXent),
    KEMU_K(kemu_xent, k_xent_grad16, KaXent),
    {nullptr, nullptr}};
