/* kemu_api.h — C interface of the CUDA block emulator (kemu.cc): runs a hand-written kernel's
 * own CUDA source (runtime/cuda/kernels/NAME.cu, compiled as host C++) on the host with the
 * launch geometry given, every thread of a block a fiber. Tests install it as the device
 * emulation's kernel runner (Dev.emu_run) so that the executor's launches run the real kernels
 * instead of their CPU references (kref.c). Not thread-safe: one launch at a time. */
#ifndef MAMC_KEMU_API_H
#define MAMC_KEMU_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether kernel `name` is compiled in. */
int kemu_has(const char *name);
/* Runs kernel `name` over grid gx x gy x gz of `block` threads with `smem` bytes of dynamic
 * shared memory (filled with NaN bit patterns: a read before a write shows). 0 with a message
 * in err: unknown kernel, a barrier some threads never reach (deadlock), a warp-synchronous
 * call with a partial mask or with lanes that have exited. */
int kemu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem, const void *args,
                char *err, size_t errlen);
/* Names of every kernel compiled in, NULL-terminated. */
const char *const *kemu_names(void);
/* Generated kernels (kemu_cg.cc; Dev.emu_cg_build / emu_cg_run): builds the CUDA text `src`
 * holding kernels names[0..n) with the C++ compiler and returns a handle per name; runs one
 * over `grid` blocks of `block` threads with its CgArgs block and range. 0 with a message. */
int kemu_cg_build(const char *src, int n, const char *const *names, void **fns, char *err, size_t errlen);
int kemu_cg_run(void *fn, unsigned grid, unsigned gy, unsigned block, const void *arg, long long begin, long long end, char *err,
                size_t errlen);
/* How many generated kernels were built, and launched, so far. */
void kemu_cg_stats(int *kernels, long long *launches);

#ifdef __cplusplus
}
#endif

#endif
