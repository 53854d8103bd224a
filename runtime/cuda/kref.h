/* kref.h — CPU references of the hand-written kernels (kref.c), by kernel name, on argument
 * blocks (kargs.h) holding host addresses. */
#ifndef MAMC_KREF_H
#define MAMC_KREF_H

/* 1 when kernel `name` has a reference. */
int kref_has(const char *name);
/* Runs the reference of kernel `name` on args (the whole grid at once); 0 when there is none. */
int kref_launch(const char *name, const void *args);

#endif
