/* cu_lib.h — the CUDA libraries, loaded at run time (dlopen), so that one mamc binary runs
 * the CPU backend on machines without a GPU or a driver, and the CUDA backend where they are.
 *
 * Four parts, each a shared library of the toolkit or the driver:
 *   CU_PART_DRIVER  libcuda.so.1       the driver API (contexts, memory, modules, launches,
 *                                      streams, events, graphs) — comes with the GPU driver
 *   CU_PART_NVRTC   libnvrtc.so.13     the runtime compiler: CUDA C -> PTX / cubin (needs no GPU)
 *   CU_PART_LT      libcublasLt.so.13  matrix products (bf16/f32, epilogues)
 *   CU_PART_NCCL    libnccl.so.2       collectives on device buffers (optional)
 * Libraries are looked up by soname (the loader's path), then in $MAMC_CUDA_LIBDIR,
 * $CUDA_HOME/lib64 and /usr/local/cuda/lib64. Types come from the toolkit headers found at
 * build time (cuda.h, nvrtc.h, cublasLt.h); NCCL's few are declared here (the GPU machine
 * has its library but not its header).
 *
 * Every function is a member of CuLib named as the header names it after its version
 * macros (cuMemAlloc is cuMemAlloc_v2), so `L->cuMemAlloc(...)` calls the right entry.
 * Checked calls, llm.c style, write the library's message, file:line and a HINT where the
 * fix is known into L->err and evaluate to 0:
 *   if (!CU_OK(L, cuMemAlloc(&p, bytes))) return 0;
 *   NVRTC_OK(L, call)   LT_OK(L, call)   NCCL_OK(L, call)
 * No global state: a CuLib is the context object every CUDA piece receives.
 */
#ifndef MAMC_CU_LIB_H
#define MAMC_CU_LIB_H

#include <cublasLt.h>
#include <cuda.h>
#include <nvrtc.h>
#include <stddef.h>

/* ---- NCCL: the declarations mamc uses (nccl.h 2.x) ------------------------------------------ */
typedef int ncclResult_t; /* 0: ncclSuccess */
typedef struct ncclComm *ncclComm_t;
typedef struct {
  char internal[128];
} ncclUniqueId;
enum { MAMC_NCCL_FLOAT32 = 7, MAMC_NCCL_SUM = 0 };
ncclResult_t ncclGetVersion(int *version);
ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, int datatype, int op, ncclComm_t comm,
                           CUstream stream);
ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, int datatype, int root, ncclComm_t comm,
                           CUstream stream);
ncclResult_t ncclCommAbort(ncclComm_t comm);
ncclResult_t ncclCommCount(const ncclComm_t comm, int *count);
ncclResult_t ncclGroupStart(void);
ncclResult_t ncclGroupEnd(void);
const char *ncclGetErrorString(ncclResult_t r);

/* ---- the function tables ------------------------------------------------------------------------- */
#define CU_DRIVER_FNS(X)                                                                                   \
  X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString) X(cuDeviceGetCount) X(cuDeviceGet) \
  X(cuDeviceGetName) X(cuDeviceGetAttribute) X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain)               \
  X(cuDevicePrimaryCtxRelease) X(cuCtxSetCurrent) X(cuCtxSynchronize) X(cuMemGetInfo) X(cuMemAlloc)        \
  X(cuMemFree) X(cuMemAllocHost) X(cuMemFreeHost) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync)                \
  X(cuMemcpyDtoDAsync) X(cuMemsetD8Async) X(cuMemsetD32Async) X(cuModuleLoadData) X(cuModuleUnload)       \
  X(cuModuleGetFunction) X(cuFuncSetAttribute) X(cuLaunchKernel) X(cuStreamCreate) X(cuStreamDestroy)      \
  X(cuStreamSynchronize) X(cuEventCreate) X(cuEventRecord) X(cuEventSynchronize) X(cuEventElapsedTime)     \
  X(cuEventDestroy) X(cuStreamBeginCapture) X(cuStreamEndCapture) X(cuGraphInstantiate) X(cuGraphLaunch)   \
  X(cuGraphExecDestroy) X(cuGraphDestroy)
#define CU_NVRTC_FNS(X)                                                                                    \
  X(nvrtcVersion) X(nvrtcGetErrorString) X(nvrtcCreateProgram) X(nvrtcCompileProgram) X(nvrtcDestroyProgram) \
  X(nvrtcGetProgramLogSize) X(nvrtcGetProgramLog) X(nvrtcGetPTXSize) X(nvrtcGetPTX) X(nvrtcGetCUBINSize)    \
  X(nvrtcGetCUBIN) X(nvrtcGetNumSupportedArchs) X(nvrtcGetSupportedArchs)
#define CU_LT_FNS(X)                                                                                       \
  X(cublasLtCreate) X(cublasLtDestroy) X(cublasLtGetVersion) X(cublasLtGetStatusName)                      \
  X(cublasLtGetStatusString) X(cublasLtMatmulDescCreate) X(cublasLtMatmulDescDestroy)                      \
  X(cublasLtMatmulDescSetAttribute) X(cublasLtMatrixLayoutCreate) X(cublasLtMatrixLayoutDestroy)           \
  X(cublasLtMatrixLayoutSetAttribute) X(cublasLtMatmulPreferenceCreate) X(cublasLtMatmulPreferenceDestroy) \
  X(cublasLtMatmulPreferenceSetAttribute) X(cublasLtMatmulAlgoGetHeuristic) X(cublasLtMatmul)
#define CU_NCCL_FNS(X)                                                                                     \
  X(ncclGetVersion) X(ncclGetUniqueId) X(ncclCommInitRank) X(ncclCommDestroy) X(ncclAllReduce)             \
  X(ncclGroupStart) X(ncclGroupEnd) X(ncclGetErrorString) X(ncclBroadcast) X(ncclCommAbort) X(ncclCommCount)

enum { CU_PART_DRIVER = 1, CU_PART_NVRTC = 2, CU_PART_LT = 4, CU_PART_NCCL = 8 };

#define CU_LIB_MEMBER(fn) __typeof__(&fn) fn;
typedef struct CuLib {
  unsigned parts;              /* the parts loaded */
  void *handle[4];             /* driver, nvrtc, lt, nccl (dlopen handles) */
  char path[4][256];           /* the file each came from, for gpu-info */
  CU_DRIVER_FNS(CU_LIB_MEMBER)
  CU_NVRTC_FNS(CU_LIB_MEMBER)
  CU_LT_FNS(CU_LIB_MEMBER)
  CU_NCCL_FNS(CU_LIB_MEMBER)
  char err[1024];              /* the last failure: message, file:line, HINT */
} CuLib;
#undef CU_LIB_MEMBER

/* Loads the parts asked for (a mask of CU_PART_*) that are not loaded yet. 1 when all of them
 * loaded; 0 with a message in L->err naming the first missing one ("no CUDA device: the
 * driver library libcuda.so.1 was not found ..." for the driver). L must be zeroed before
 * the first call. A part that loads stays loaded on failure of another. */
int cu_lib_open(CuLib *L, unsigned parts);
void cu_lib_close(CuLib *L);

/* The checked-call reporters (the macros below call them): 1 when r is success; else 0 with
 * "file:line: expr failed: NAME (message)\nHINT: ..." in L->err. */
int cu_drv_check(CuLib *L, CUresult r, const char *expr, const char *file, int line);
int cu_nvrtc_check(CuLib *L, nvrtcResult r, const char *expr, const char *file, int line);
int cu_lt_check(CuLib *L, cublasStatus_t r, const char *expr, const char *file, int line);
int cu_nccl_check(CuLib *L, ncclResult_t r, const char *expr, const char *file, int line);

#define CU_OK(L, call) cu_drv_check((L), (L)->call, #call, __FILE__, __LINE__)
#define NVRTC_OK(L, call) cu_nvrtc_check((L), (L)->call, #call, __FILE__, __LINE__)
#define LT_OK(L, call) cu_lt_check((L), (L)->call, #call, __FILE__, __LINE__)
#define NCCL_OK(L, call) cu_nccl_check((L), (L)->call, #call, __FILE__, __LINE__)

/* The HINT for a driver error code, or NULL (exposed for tests). */
const char *cu_drv_hint(int code);

#endif
