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

#ifdef __cplusplus
}
#endif

#endif
