// kemu_adamw.cc — runtime/cuda/kernels/adamw.cu compiled for the host block emulator (kemu.h),
// in its own namespace (as NVRTC compiles each module alone), and its table of kernels.
#include "kemu.h"

namespace kemu_adamw {
#include "kargs.h"
#include "common.cuh"
#include "adamw.cu"
} // namespace kemu_adamw

extern "C" const KemuKernel kemu_tab_adamw[] = {
    KEMU_K(kemu_adamw, k_sqnorm, KaAdam),
    KEMU_K(kemu_adamw, k_sqnorm_final, KaAdam),
    KEMU_K(kemu_adamw, k_adamw, KaAdam),
    {nullptr, nullptr}};
