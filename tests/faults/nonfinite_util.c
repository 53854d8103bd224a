/* nonfinite_util.c — helpers of the numerical guard's tests (nonfinite_util.h). No CHECKs here:
 * test.h counts failures per file, so the callers check what these return. */
#include "nonfinite_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state = 1;
static int poison_at = -1;

void nf_seed(const char *name) {
  const char *env = getenv("MAMC_TEST_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  fprintf(stderr, "%s: MAMC_TEST_SEED=%llu\n", name, (unsigned long long)seed);
  rng_state = seed | 1;
}

uint32_t nf_next_u32(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

void nf_make_batch(int32_t *tgt, int poison) {
  for (int b = 0; b < NF_B; b++) {
    tgt[b * NF_T] = 1;
    for (int j = 1; j < NF_T - 1; j++) tgt[b * NF_T + j] = 4 + 'a' + (int32_t)(nf_next_u32() % 26);
    tgt[b * NF_T + NF_T - 1] = 2;
  }
  poison_at = -1;
  if (poison < 0) return;
  int row = (int)(nf_next_u32() % NF_B);
  poison_at = row * NF_T + 1 + (int)(nf_next_u32() % (NF_T - 3));
  tgt[poison_at] = poison;
}

int nf_poison_at(void) { return poison_at; }

int nf_step(mamc_trainer *t, int poison, mamc_step *out, char **err) {
  int32_t tgt[NF_B * NF_T];
  nf_make_batch(tgt, poison);
  *err = NULL;
  return mamc_trainer_step_batch(t, 0, NULL, NF_B, 0, tgt, NF_T, out, err);
}

Tensor *nf_param(mamc_trainer *t, const char *module, int p) {
  Trainer *rt = mamc_trainer_runtime(t);
  int m = ir_module_find(rt->train, module);
  return m >= 0 ? rt_params_at(&rt->params, m, p) : NULL;
}

static void put(NfSnap *s, const void *p, size_t n) {
  char *b = realloc(s->bytes, s->n + n);
  if (!b) abort(); /* a test helper: no way to go on */
  s->bytes = b;
  memcpy(s->bytes + s->n, p, n);
  s->n += n;
}

NfSnap nf_snap(mamc_trainer *t) {
  Trainer *rt = mamc_trainer_runtime(t);
  NfSnap s = {0};
  const ParamStore *ps[3] = {&rt->params, &rt->m, &rt->v};
  for (int k = 0; k < 3; k++)
    for (int q = 0; q < ps[k]->n; q++)
      if (ps[k]->t[q].data) put(&s, ps[k]->t[q].data, (size_t)ps[k]->t[q].n * (size_t)dtype_size(ps[k]->t[q].dt));
  put(&s, rt->module_steps, sizeof(int64_t) * (size_t)rt->train->modules.n);
  return s;
}

int nf_snap_eq(const NfSnap *a, const NfSnap *b) { return a->n == b->n && memcmp(a->bytes, b->bytes, a->n) == 0; }

mamc_trainer *nf_open(const char *mam, const char *yaml, char *metrics, mamc_model **m) {
  char *err = NULL;
  mamc_trainer *t = NULL;
  if (metrics) {
    int fd = mkstemp(metrics);
    if (fd < 0) return fprintf(stderr, "mkstemp %s failed\n", metrics), *m = NULL, NULL;
    close(fd);
  }
  *m = mamc_model_compile(mam, yaml, &err);
  if (*m) {
    mamc_train_options o = {.metrics_path = metrics};
    t = mamc_trainer_new(*m, &o, &err);
  }
  if (!t) fprintf(stderr, "%s", err ? err : "");
  mamc_free_text(err);
  return t;
}

char *nf_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *b = calloc(1, 1 << 16);
  if (b) b[fread(b, 1, (1 << 16) - 1, f)] = 0;
  fclose(f);
  return b;
}
