/* ksrc.c — lookups over the embedded kernel sources (ksrc.h). */
#include "ksrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* each module: its name, then its kernel files in the order they are joined */
static const char *const modules[KMOD_COUNT][KSRC_MAX_FILES + 1] = {
    {"move", "move.cu"},         {"norm", "norm.cu"},
    {"xent", "xent.cu"},         {"adamw", "adamw.cu"},
    {"attention", "attention.cu"}, {"linattn", "linattn.cu", "linattn_tc.cu"},
    {"attention_tc", "attention_tc.cu"}};

const char *ksrc_get(const char *name) {
  for (const KSource *s = ksrc_files; s->name; s++)
    if (strcmp(s->name, name) == 0) return s->text;
  return NULL;
}

const char *ksrc_module_name(int mod) { return mod >= 0 && mod < KMOD_COUNT ? modules[mod][0] : NULL; }

const char *ksrc_module_file(int mod, int i) {
  return mod >= 0 && mod < KMOD_COUNT && i >= 0 && i < KSRC_MAX_FILES ? modules[mod][1 + i] : NULL;
}

char *ksrc_module(int mod) {
  const char *parts[2 + KSRC_MAX_FILES] = {ksrc_get("kargs.h"), ksrc_get("common.cuh")};
  int np = 2;
  for (const char *f; (f = ksrc_module_file(mod, np - 2)) != NULL; np++) parts[np] = ksrc_get(f);
  if (np == 2) return NULL;
  size_t n = 1;
  for (int i = 0; i < np; i++) {
    if (!parts[i]) return NULL;
    n += strlen(parts[i]) + 1;
  }
  char *s = malloc(n), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < np; i++) {
    size_t k = strlen(parts[i]);
    memcpy(p, parts[i], k);
    p += k;
    *p++ = '\n';
  }
  *p = 0;
  return s;
}
