// kemu_norm.cc — runtime/cuda/kernels/norm.cu compiled for the host block emulator (kemu.h),
// in its own namespace (as NVRTC compiles each module alone), and its table of kernels.
#include "kemu.h"

namespace kemu_norm {
#include "kargs.h"
#include "common.cuh"
#include "norm.cu"
} // namespace kemu_norm

extern "C" const KemuKernel kemu_tab_norm[] = {
    KEMU_K(kemu_norm, k_norm_fwd, KaNorm),
    KEMU_K(kemu_norm, k_norm_fwd_small, KaNorm),
    {nullptr, nullptr}};
