// kemu_attention.cc — runtime/cuda/kernels/attention.cu compiled for the host block emulator (kemu.h),
// in its own namespace (as NVRTC compiles each module alone), and its table of kernels.
#include "kemu.h"

namespace kemu_attention {
#include "kargs.h"
#include "common.cuh"
#include "attention.cu"
} // namespace kemu_attention

extern "C" const KemuKernel kemu_tab_attention[] = {
    KEMU_K(kemu_attention, k_attn_fwd_d32, KaAttn),
    KEMU_K(kemu_attention, k_attn_fwd_d64, KaAttn),
    KEMU_K(kemu_attention, k_attn_fwd_d128, KaAttn),
    KEMU_K(kemu_attention, k_attn_fwd16_d32, KaAttn),
    KEMU_K(kemu_attention, k_attn_fwd16_d64, KaAttn),
    KEMU_K(kemu_attention, k_attn_fwd16_d128, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_pre, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_pre16, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dq_d32, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dq_d64, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dq16_d32, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dq16_d64, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dkdv_d32, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dkdv_d64, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dkdv16_d32, KaAttn),
    KEMU_K(kemu_attention, k_attn_bwd_dkdv16_d64, KaAttn),
    KEMU_K(kemu_attention, k_attn_softmax, KaAttn),
    KEMU_K(kemu_attention, k_attn_dsoftmax, KaAttn),
    {nullptr, nullptr}};
