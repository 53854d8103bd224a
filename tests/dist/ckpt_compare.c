/* ckpt_compare.c — compares two mamc checkpoints module by module, tensor by tensor:
 *   ckpt_compare A B [TOL]
 * prints the largest relative difference of parameters (not optimizer moments) and exits 0
 * when it is within TOL (default 0: bit-identical), 1 otherwise, 2 when a file is missing or
 * the two checkpoints do not hold the same tensors. Outer-round state (outer.*) and holders'
 * replica files (<module>.rank-R) that only A has are skipped (a run with rounds against one
 * without). Used by the multi-process tests. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"

static void resolve(const char *path, char *out, size_t n) {
  char latest[4200], name[256] = {0};
  snprintf(latest, sizeof latest, "%s/latest", path);
  FILE *f = fopen(latest, "r");
  if (f && fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = 0;
    snprintf(out, n, "%s/%s", path, name);
  } else {
    snprintf(out, n, "%s", path);
  }
  if (f) fclose(f);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ckpt_compare A B [TOL]\n");
    return 2;
  }
  double tol = argc > 3 ? atof(argv[3]) : 0.0, worst = 0;
  char a[4096], b[4096], err[512];
  resolve(argv[1], a, sizeof a);
  resolve(argv[2], b, sizeof b);
  DIR *d = opendir(a);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", a);
    return 2;
  }
  struct dirent *e;
  int files = 0, tensors = 0;
  const char *worst_name = "";
  static char worst_buf[512];
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 12 || strcmp(e->d_name + l - 12, ".safetensors") != 0) continue;
    char pa[8300], pb[8300];
    snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
    snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
    StFile fa, fb;
    if (strstr(e->d_name, ".rank-") && access(pb, R_OK) != 0) continue; /* a holder's replica B lacks */
    if (!st_read(pa, &fa, err, sizeof err) || !st_read(pb, &fb, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
    files++;
    for (int i = 0; i < fa.n; i++) {
      if (strstr(fa.names[i], ".adam_")) continue;
      const Tensor *x = &fa.tensors[i], *y = st_find(&fb, fa.names[i]);
      if (!y && strncmp(fa.names[i], "outer.", 6) == 0) continue; /* round state B does not keep */
      if (!y || !rt_same_shape(x, y)) {
        fprintf(stderr, "%s: tensor %s missing or of another shape in %s\n", e->d_name, fa.names[i], b);
        return 2;
      }
      tensors++;
      for (int64_t k = 0; k < x->n; k++) {
        double u = rt_tensor_get(x, k), v = rt_tensor_get(y, k);
        double r = fabs(u - v) / fmax(1e-3, fmax(fabs(u), fabs(v)));
        if (r > worst) {
          worst = r;
          snprintf(worst_buf, sizeof worst_buf, "%s:%s", e->d_name, fa.names[i]);
          worst_name = worst_buf;
        }
      }
    }
    st_free(&fa);
    st_free(&fb);
  }
  closedir(d);
  printf("%s: %d module files, %d parameter tensors, largest relative difference %.3g%s%s (tolerance %g)\n",
         worst <= tol ? "OK" : "NOT OK", files, tensors, worst, worst > 0 ? " at " : "", worst_name, tol);
  return files > 0 && worst <= tol ? 0 : 1;
}
