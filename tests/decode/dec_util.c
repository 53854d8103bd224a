/* dec_util.c — see dec_util.h. */
#include "dec_util.h"

#include <stdlib.h>

#include "bind.h"
#include "config.h"
#include "elab.h"
#include "pipeline.h"
#include "rng.h"

IrProgram *du_compile(Arena *a, const char *model, const char *config, const char *task) {
  Diag d;
  diag_init(&d);
  IrProgram *p = NULL;
  RunConfig *cfg = config_load(a, &d, config);
  if (cfg) {
    FeEnv env;
    fe_env_from_config(a, cfg, &env);
    int k = 0;
    for (int i = 0; i < env.ntasks; i++)
      if (strcmp(env.tasks[i].name, task) == 0) env.tasks[k++] = env.tasks[i];
    env.ntasks = k;
    const char *dirs[5];
    fe_default_stdlib_dirs(dirs, NULL, 0);
    env.stdlib_dirs = dirs;
    p = k == 1 ? fe_elaborate(a, &d, model, &env) : NULL;
    if (k != 1) diag_plain(&d, "no task %s in %s", task, config);
  }
  PipelineOpts dec = {.only = "D", .verify = 1}, opt = {.only = "LSF", .verify = 1};
  if (p && (!pass_run(p, &dec, &d) || !pass_run(p, &opt, &d))) p = NULL;
  if (!p) fprintf(stderr, "%s", d.out.s ? d.out.s : "compile failed\n");
  diag_free(&d);
  return p;
}

int du_full_logp(const IrProgram *p, const ParamStore *ps, DType fdt, const int32_t *src, int B, int S,
                 const int32_t *tgt, int T, double *logp, char *err, size_t errlen) {
  Exec e;
  if (!exec_init(&e, p, 0, NULL, err, errlen)) return 0;
  const IrGraph *g = &p->graphs.v[0];
  int64_t *sym = calloc((size_t)p->syms.n + 1, sizeof(int64_t));
  Tensor in[2] = {{DT_I32, 2, {B, S}, (int64_t)B * S, (void *)src}, {DT_I32, 2, {B, T}, (int64_t)B * T, (void *)tgt}};
  for (int i = 0; i < 2; i++) /* bind B, S, T from the inputs */
    for (int r = 0; r < 2; r++) sym[g->nodes.v[i].type.d[r].sym] = in[i].shape[r];
  InterpCx cx = {.fdt = fdt};
  int ok = exec_run(&e, sym, in, ps, &cx), lo = -1;
  for (int k = 0; k < g->outputs.n; k++)
    if (strcmp(g->outputs.v[k].name, "logits") == 0) lo = k;
  if (!ok) snprintf(err, errlen, "%s", cx.err);
  if (ok && lo >= 0) {
    const Tensor *l = exec_output(&e, lo);
    int V = (int)l->shape[2];
    for (int64_t r = 0; r < (int64_t)B * (T - 1); r++) dec_log_softmax(l, r, V, logp + r * V);
  }
  free(sym);
  exec_free(&e);
  return ok && lo >= 0;
}

void du_tokens(int32_t *ids, int B, int n, const int *len, int range, uint64_t seed, int bos) {
  for (int b = 0; b < B; b++)
    for (int i = 0; i < n; i++) {
      int32_t v = 4 + (int32_t)(rng_u64(seed, (uint64_t)(b * n + i)) % (uint64_t)range);
      if (bos && i == 0) v = 1;
      if (i == len[b] - 1) v = 2;
      if (i >= len[b]) v = 0;
      ids[b * n + i] = v;
    }
}
