// kemu_attention_tc.cc — runtime/cuda/kernels/attention_tc.cu compiled for the host block emulator
// (kemu.h; its mma.sync is kemu_mma_bf16_16816), in its own namespace, and its table of kernels.
#include "kemu.h"

namespace kemu_attention_tc {
#include "kargs.h"
#include "common.cuh"
#include "attention_tc.cu"
} // namespace kemu_attention_tc

extern "C" const KemuKernel kemu_tab_attention_tc[] = {
    KEMU_K(kemu_attention_tc, k_fa_fwd_d32, KaAttn),       KEMU_K(kemu_attention_tc, k_fa_fwd_d64, KaAttn),
    KEMU_K(kemu_attention_tc, k_fa_bwd_dq_d32, KaAttn),    KEMU_K(kemu_attention_tc, k_fa_bwd_dq_d64, KaAttn),
    KEMU_K(kemu_attention_tc, k_fa_bwd_dkdv_d32, KaAttn),  KEMU_K(kemu_attention_tc, k_fa_bwd_dkdv_d64, KaAttn),
    {nullptr, nullptr}};
