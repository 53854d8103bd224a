/* ksrc.c — lookups over the embedded kernel sources (ksrc.h). */
#include "ksrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const modules[KMOD_COUNT] = {"move", "norm", "xent", "adamw", "attention", "linattn", "attention_tc"};

const char *ksrc_get(const char *name) {
  for (const KSource *s = ksrc_files; s->name; s++)
    if (strcmp(s->name, name) == 0) return s->text;
  return NULL;
}

const char *ksrc_module_name(int mod) { return mod >= 0 && mod < KMOD_COUNT ? modules[mod] : NULL; }

char *ksrc_module(int mod) {
  char file[64];
  snprintf(file, sizeof file, "%s.cu", ksrc_module_name(mod));
  const char *parts[3] = {ksrc_get("kargs.h"), ksrc_get("common.cuh"), ksrc_get(file)};
  size_t n = 1;
  for (int i = 0; i < 3; i++) {
    if (!parts[i]) return NULL;
    n += strlen(parts[i]) + 1;
  }
  char *s = malloc(n), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < 3; i++) {
    size_t k = strlen(parts[i]);
    memcpy(p, parts[i], k);
    p += k;
    *p++ = '\n';
  }
  *p = 0;
  return s;
}
