/* params.c — the ParamStore: per-parameter tensors initialised from IrInit with an
 * order-independent RNG key per "module/param". See params.h for the init formulas.
 */
#include "params.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

uint64_t rt_param_key(uint64_t seed, const char *module, const char *param) {
  /* FNV-1a over "module/param", computed as rng_hash_str of the joined string */
  size_t lm = strlen(module), lp = strlen(param);
  char small[256], *s = lm + lp + 2 <= sizeof small ? small : malloc(lm + lp + 2);
  uint64_t h;
  if (s) {
    memcpy(s, module, lm);
    s[lm] = '/';
    memcpy(s + lm + 1, param, lp + 1);
    h = rng_hash_str(s);
    if (s != small) free(s);
  } else { /* out of memory: the same hash, byte by byte */
    h = 0xcbf29ce484222325ull;
    for (const char *c = module; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    h = (h ^ (unsigned char)'/') * 0x100000001b3ull;
    for (const char *c = param; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
  }
  return rng_key(seed, h);
}

int rt_param_init(Tensor *t, const IrParam *prm, const char *module, uint64_t seed, DType fdt,
                  char *err, size_t errlen) {
  const IrType *ty = &prm->type;
  int64_t shape[IR_MAX_RANK];
  memset(t, 0, sizeof *t);
  if (fdt != DT_F32 && fdt != DT_F64) {
    snprintf(err, errlen, "parameter %s/%s: float dtype must be f32 or f64", module, prm->name);
    return 0;
  }
  for (int i = 0; i < ty->rank; i++) {
    if (!dim_is_const(ty->d[i])) {
      snprintf(err, errlen, "parameter %s/%s: dimension %d is symbolic; parameters need constant shapes",
               module, prm->name, i);
      return 0;
    }
    shape[i] = ty->d[i].add;
  }
  DType st = ty->dt == DT_I32 ? DT_I32 : fdt;
  if (!rt_tensor_alloc(t, st, ty->rank, shape)) {
    char sh[200];
    snprintf(err, errlen, "parameter %s/%s: cannot allocate %s%s", module, prm->name, dtype_name(ty->dt),
             rt_shape_str(sh, sizeof sh, ty->rank, shape));
    return 0;
  }
  const IrInit *in = &prm->init;
  uint64_t key = rt_param_key(seed, module, prm->name);
  if (st == DT_I32 && in->kind != INIT_ZEROS && in->kind != INIT_ONES && in->kind != INIT_CONST) {
    snprintf(err, errlen, "parameter %s/%s: an i32 parameter takes only zeros, ones or const", module, prm->name);
    rt_tensor_free(t);
    return 0;
  }
  double bound = 0;
  if ((in->kind == INIT_XAVIER || in->kind == INIT_DCT) && ty->rank < 2) {
    snprintf(err, errlen, "parameter %s/%s: %s needs rank >= 2 (the last two dims)", module, prm->name,
             in->kind == INIT_DCT ? "dct" : "xavier");
    rt_tensor_free(t);
    return 0;
  }
  if (in->kind == INIT_XAVIER) {
    if (ty->rank < 2) {
      snprintf(err, errlen, "parameter %s/%s: xavier needs rank >= 2 (fan_in, fan_out from the last two dims)",
               module, prm->name);
      rt_tensor_free(t);
      return 0;
    }
    double fans = (double)(shape[ty->rank - 2] + shape[ty->rank - 1]);
    bound = fans > 0 ? (in->b > 0 ? in->b : 1.0) * sqrt(6.0 / fans) : 0; /* gain b (0 means 1) */
  }
  for (int64_t i = 0; i < t->n; i++) {
    double v;
    switch (in->kind) {
    case INIT_ZEROS: v = 0; break;
    case INIT_ONES: v = 1; break;
    case INIT_CONST: v = in->a; break;
    case INIT_NORMAL: v = in->a + in->b * rng_normal(key, (uint64_t)i); break;
    case INIT_UNIFORM: v = in->a + (in->b - in->a) * rng_uniform(key, (uint64_t)i); break;
    case INIT_XAVIER: v = bound * (2 * rng_uniform(key, (uint64_t)i) - 1); break;
    case INIT_DCT: { /* P[k, j] over the last two dims [n, m] */
      int64_t n = shape[ty->rank - 2], m = shape[ty->rank - 1], k = (i / m) % n, j = i % m;
      v = sqrt((k ? 2.0 : 1.0) / (double)n) * cos(3.141592653589793 * (double)k * (double)(2 * j + 1) / (2.0 * (double)n));
      break;
    }
    default:
      snprintf(err, errlen, "parameter %s/%s: unknown init kind %d", module, prm->name, (int)in->kind);
      rt_tensor_free(t);
      return 0;
    }
    rt_tensor_set(t, i, rt_round_to(ty->dt, v)); /* bf16/f16 parameters hold bf16/f16 values */
  }
  return 1;
}

void rt_params_free(ParamStore *ps) {
  if (!ps) return;
  for (int i = 0; i < ps->n; i++) rt_tensor_free(&ps->t[i]);
  free(ps->t);
  free(ps->first);
  memset(ps, 0, sizeof *ps);
}

int rt_params_init(ParamStore *ps, const IrProgram *p, uint64_t seed, DType fdt, char *err, size_t errlen) {
  return rt_params_init_held(ps, p, NULL, seed, fdt, err, errlen);
}

int rt_params_init_held(ParamStore *ps, const IrProgram *p, const char *held, uint64_t seed, DType fdt, char *err,
                        size_t errlen) {
  memset(ps, 0, sizeof *ps);
  ps->seed = seed;
  ps->fdt = fdt;
  ps->nmodules = p->modules.n;
  ps->first = calloc((size_t)p->modules.n + 1, sizeof *ps->first);
  if (!ps->first) goto oom;
  int n = 0;
  for (int m = 0; m < p->modules.n; m++) {
    ps->first[m] = n;
    n += p->modules.v[m].params.n;
  }
  ps->first[p->modules.n] = n;
  ps->t = calloc(n ? (size_t)n : 1, sizeof *ps->t);
  if (!ps->t) goto oom;
  for (int m = 0; m < p->modules.n; m++) {
    const IrModule *mod = &p->modules.v[m];
    if (held && !held[m]) continue; /* not held by this process: left empty */
    for (int k = 0; k < mod->params.n; k++) {
      if (!rt_param_init(&ps->t[ps->first[m] + k], &mod->params.v[k], mod->name, seed, fdt, err, errlen)) {
        ps->n = n; /* free what was made (the rest are empty) */
        rt_params_free(ps);
        return 0;
      }
    }
  }
  ps->n = n;
  return 1;
oom:
  snprintf(err, errlen, "out of memory allocating the parameter store");
  rt_params_free(ps);
  return 0;
}

static int in_range(const ParamStore *ps, int module, int param) {
  return ps && module >= 0 && module < ps->nmodules && param >= 0 &&
         param < ps->first[module + 1] - ps->first[module];
}

const Tensor *rt_params_get(const ParamStore *ps, int module, int param) {
  return in_range(ps, module, param) ? &ps->t[ps->first[module] + param] : NULL;
}

Tensor *rt_params_at(ParamStore *ps, int module, int param) {
  return in_range(ps, module, param) ? &ps->t[ps->first[module] + param] : NULL;
}
