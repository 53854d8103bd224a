// kemu_linattn.cc — runtime/cuda/kernels/linattn.cu compiled for the host block emulator (kemu.h),
// in its own namespace (as NVRTC compiles each module alone), and its table of kernels.
#include "kemu.h"

namespace kemu_linattn {
#include "kargs.h"
#include "common.cuh"
#include "linattn.cu"
} // namespace kemu_linattn

extern "C" const KemuKernel kemu_tab_linattn[] = {
    KEMU_K(kemu_linattn, k_la_features, KaLin),
    KEMU_K(kemu_linattn, k_la_local, KaLin),
    KEMU_K(kemu_linattn, k_la_carry, KaLin),
    KEMU_K(kemu_linattn, k_la_out, KaLin),
    KEMU_K(kemu_linattn, k_la_grad, KaLin),
    KEMU_K(kemu_linattn, k_la_pack, KaLinPack),
    KEMU_K(kemu_linattn, k_la_scan, KaLinPack),
    {nullptr, nullptr}};
