// kemu_move.cc — runtime/cuda/kernels/move.cu compiled for the host block emulator (kemu.h),
// in its own namespace (as NVRTC compiles each module alone), and its table of kernels.
#include "kemu.h"

namespace kemu_move {
#include "kargs.h"
#include "common.cuh"
#include "move.cu"
} // namespace kemu_move

extern "C" const KemuKernel kemu_tab_move[] = {
    KEMU_K(kemu_move, k_copy_nd, KaCopy),
    KEMU_K(kemu_move, k_copy_nd16, KaCopy),
    KEMU_K(kemu_move, k_copy_nd_v16, KaCopy),
    KEMU_K(kemu_move, k_copy_cvt, KaCopy),
    KEMU_K(kemu_move, k_gather, KaGather),
    KEMU_K(kemu_move, k_scatter_max, KaGather),
    KEMU_K(kemu_move, k_scatter_add, KaGather),
    KEMU_K(kemu_move, k_scatter_fin, KaGather),
    KEMU_K(kemu_move, k_axpy, KaVec),
    KEMU_K(kemu_move, k_axpy_n, KaAxpyN),
    KEMU_K(kemu_move, k_fill, KaVec),
    KEMU_K(kemu_move, k_to_bf16, KaVec),
    {nullptr, nullptr}};
