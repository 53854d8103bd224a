// kemu_linattn.cc — runtime/cuda/kernels/linattn.cu and linattn_tc.cu (one module, as ksrc.c joins
// them) compiled for the host block emulator (kemu.h; linattn_tc.cu's mma.sync and cvt are
// kemu_mma_tf32_1688 and kemu_cvt_tf32), in its own namespace (as NVRTC compiles each module
// alone), and its table of kernels.
#include "kemu.h"

namespace kemu_linattn {
#include "kargs.h"
#include "common.cuh"
#include "linattn.cu"
#include "linattn_tc.cu"
} // namespace kemu_linattn

extern "C" const KemuKernel kemu_tab_linattn[] = {
    KEMU_K(kemu_linattn, k_la_features, KaLin),
    KEMU_K(kemu_linattn, k_la_local, KaLin),
    KEMU_K(kemu_linattn, k_la_carry, KaLin),
    KEMU_K(kemu_linattn, k_la_out, KaLin),
    KEMU_K(kemu_linattn, k_la_grad, KaLin),
    KEMU_K(kemu_linattn, k_la_pack, KaLinPack),
    KEMU_K(kemu_linattn, k_la_scan, KaLinPack),
    KEMU_K(kemu_linattn, k_la_features_tc, KaLin),
    KEMU_K(kemu_linattn, k_la_local_tc, KaLin),
    KEMU_K(kemu_linattn, k_la_out_tc, KaLin),
    KEMU_K(kemu_linattn, k_la_grad_tc, KaLin),
    {nullptr, nullptr}};
