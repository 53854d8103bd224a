/* load.c — what a decoder needs besides the search: the parameters of the modules a
 * direction uses, read from a training checkpoint (runtime/trainer.h's layout: one
 * <module>.safetensors per module instance in DIR/step-N/, DIR/latest naming the newest), and
 * the decoding graphs of a task found by name (passes/decode.h's convention).
 */
#include <stdlib.h>
#include <unistd.h>

#include "../safetensors.h"
#include "decode_internal.h"

static int find(const IrProgram *p, const IrGraph *g, const char *suffix) {
  size_t n = strlen(g->task);
  for (int k = 0; k < p->graphs.n; k++) {
    const IrGraph *h = &p->graphs.v[k];
    if (h->nargs != g->nargs || strncmp(h->task, g->task, n) != 0 || strcmp(h->task + n, suffix) != 0) continue;
    int same = 1;
    for (int a = 0; a < g->nargs; a++) same &= strcmp(h->args[a], g->args[a]) == 0;
    if (same) return k;
  }
  return -1;
}

int dec_find_graphs(const IrProgram *p, int graph, int *encode, int *step) {
  *encode = find(p, &p->graphs.v[graph], ".encode");
  *step = find(p, &p->graphs.v[graph], ".step");
  return *encode >= 0 && *step >= 0;
}

/* path/latest names the newest checkpoint folder; else path is one. */
static void resolve(const char *path, char *out, size_t n) {
  char latest[4200], name[256] = {0};
  snprintf(latest, sizeof latest, "%s/latest", path);
  FILE *f = fopen(latest, "r");
  if (f && fgets(name, sizeof name, f)) {
    name[strcspn(name, "\r\n")] = 0;
    snprintf(out, n, "%s/%s", path, name);
  } else {
    snprintf(out, n, "%s", path);
  }
  if (f) fclose(f);
}

static int load_module(ParamStore *ps, const IrProgram *p, int m, const char *dir, char *err, size_t errlen) {
  const IrModule *mod = &p->modules.v[m];
  char mpath[4400];
  snprintf(mpath, sizeof mpath, "%s/%s.safetensors", dir, mod->name);
  if (access(mpath, R_OK) != 0)
    return snprintf(err, errlen, "the checkpoint has no module '%s' (no %s), which this direction needs", mod->name,
                    mpath), 0;
  StFile sf;
  if (!st_read(mpath, &sf, err, errlen)) return 0;
  int ok = 1;
  for (int q = 0; ok && q < mod->params.n; q++) {
    Tensor *dst = rt_params_at(ps, m, q), conv = {0};
    const Tensor *src = st_find(&sf, mod->params.v[q].name);
    if (!src || !rt_same_shape(src, dst)) {
      snprintf(err, errlen, "%s: no tensor '%s' with the model's shape (module %s)", mpath, mod->params.v[q].name, mod->name);
      ok = 0;
    } else if (!rt_tensor_convert(src, dst->dt, &conv)) {
      snprintf(err, errlen, "out of memory");
      ok = 0;
    } else {
      memcpy(dst->data, conv.data, (size_t)conv.n * (size_t)dtype_size(conv.dt));
      rt_tensor_free(&conv);
    }
  }
  st_free(&sf);
  return ok;
}

int dec_load_checkpoint(ParamStore *ps, const IrProgram *p, const char *path, DType fdt, char *err, size_t errlen) {
  char dir[4096], frame[4200];
  resolve(path, dir, sizeof dir);
  snprintf(frame, sizeof frame, "%s/frame.json", dir);
  if (access(frame, R_OK) != 0) return snprintf(err, errlen, "'%s' is not a mamc checkpoint (no frame.json)", dir), 0;
  char *held = calloc((size_t)p->modules.n + 1, 1);
  if (!held) return snprintf(err, errlen, "out of memory"), 0;
  for (int m = 0; m < p->modules.n; m++) held[m] = p->modules.v[m].used_by.n > 0;
  int ok = rt_params_init_held(ps, p, held, 0, fdt, err, errlen);
  for (int m = 0; ok && m < p->modules.n; m++)
    if (held[m]) ok = load_module(ps, p, m, dir, err, errlen);
  free(held);
  if (!ok) rt_params_free(ps);
  return ok;
}
