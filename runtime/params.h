/* params.h — a ParamStore: one Tensor per module parameter of an IrProgram, initialised
 * from each IrParam's IrInit.
 *
 * A parameter's values depend only on (seed, "module/param", its type and init): the RNG
 * key is rng_key(seed, rng_hash_str("embed[fr]/weight")) and element i draws counter i.
 * So they do not depend on creation order, on the rank that creates them, or on which
 * other modules exist — every process that holds a module gets the same initial values.
 *
 * Inits (IrInit):
 *   zeros, ones, const(a)
 *   normal(mean a, std b)          a + b * N(0, 1)
 *   uniform(a, b)                  U[a, b)
 *   xavier(gain b)                 U(-r, r), r = gain sqrt(6 / (fan_in + fan_out)), fan_in and
 *                                  fan_out the last two dims (rank >= 2; gain b, 0 means 1)
 *   dct                            the orthonormal DCT-II matrix over the last two dims
 * Values are drawn in f64 and stored in `fdt` (f32 or f64); a parameter declared bf16 or f16
 * is rounded through that format first. i32 parameters take only zeros/ones/const.
 */
#ifndef MAMC_PARAMS_H
#define MAMC_PARAMS_H

#include "tensor.h"

typedef struct ParamStore {
  int nmodules;
  int *first;   /* nmodules + 1 offsets into t: module m's params are t[first[m] ..] */
  Tensor *t;    /* one per parameter, module-major, in the module's param order */
  int n;        /* total parameters */
  uint64_t seed;
  DType fdt;
} ParamStore;

/* Allocate and initialise every parameter of p. 1 on success; 0 with a message in err
 * (ps left empty). fdt: DT_F32 or DT_F64. */
int rt_params_init(ParamStore *ps, const IrProgram *p, uint64_t seed, DType fdt, char *err, size_t errlen);
/* The same for the modules with held[m] set only (a process of a distributed run holds the
 * modules its tasks use); the others' tensors stay empty. Values are those rt_params_init
 * gives: they depend only on (seed, module, param). */
int rt_params_init_held(ParamStore *ps, const IrProgram *p, const char *held, uint64_t seed, DType fdt, char *err,
                        size_t errlen);
void rt_params_free(ParamStore *ps);

/* The tensor of parameter `param` of module `module`; NULL if out of range. */
const Tensor *rt_params_get(const ParamStore *ps, int module, int param);
Tensor *rt_params_at(ParamStore *ps, int module, int param);

/* The RNG key of a parameter: rng_key(seed, rng_hash_str("<module>/<param>")). */
uint64_t rt_param_key(uint64_t seed, const char *module, const char *param);

/* Allocate t for one parameter (constant dims only) and fill it from its init. */
int rt_param_init(Tensor *t, const IrParam *prm, const char *module, uint64_t seed, DType fdt,
                  char *err, size_t errlen);

#endif
