/* decode_internal.h — what the two files of the decode pass share (decode.c builds the
 * programs, decode_check.c finds the target, the logits and the target side, and checks that
 * the target side is position-wise): the pass's working state. */
#ifndef MAMC_DECODE_INTERNAL_H
#define MAMC_DECODE_INTERNAL_H

#include "decode.h"

typedef struct Dx {
  IrProgram *p;
  int graph, n, ninputs;
  Diag *d;
  const char *gname;
  int tgt, logits;
  int32_t tsym, bsym, psym;
  Dim len;         /* the decoder length (the shifted slice's axis 1) */
  char *side;      /* per node: target side */
  char *need;      /* per node: a target-side node the logits need */
  char *encv;      /* per node: an encoder value (read by the step graph, computed once) */
  int *ax;         /* per node: position axis */
  int *map;        /* per node: its node in the graph being built (-1) */
  int *cache_of;   /* per node: the cache holding its past rows (-1) */
} Dx;

static inline IrNode *N(const Dx *x, int i) { return &x->p->graphs.v[x->graph].nodes.v[i]; }

/* An error at node i: "cannot decode task @t(): %N = op: message". Returns 0. */
int decode_refuse(Dx *x, int i, const char *fmt, ...) MAMC_PRINTF(3, 4);
/* Finds the target input, the logits and the decoder length; marks side, need, encv, ax and
 * checks every needed target-side node (decode_check.c). 1, or 0 with an error. scratch:
 * x->n bytes. */
int decode_analyse(Dx *x, char *scratch);
int decode_mentions(const IrType *t, int32_t sym);
int decode_is_shift(const Dx *x, int i);

#endif
