/* dnccl.h — collectives on device buffers between processes: NCCL communicators bootstrapped
 * over MPI, one per set of ranks the gradient exchange uses (a module group's holders, a step's
 * trainers of a group, a broadcast set: trainer_buckets.c's sets), for path (b) of
 * train.device: cuda with several processes (dtrain_nccl.c; docs/gpu.md).
 *
 * Sets are registered (dnccl_need) in an order every rank computes alike from the program and
 * the shared sampling schedule — sets a rank is not in included — and created together by
 * dnccl_create, collective over the world: for each new set, in registration order, its MPI
 * communicator (dist_comm), ncclGetUniqueId at the set's lowest rank, the id broadcast over MPI
 * to the set; then every ncclCommInitRank of this rank inside one ncclGroupStart/End; then the
 * world agrees (one reduction) on whether every rank succeeded. Whatever fails on any rank —
 * the library, the version, a communicator — every rank turns NCCL off together (c->on = 0,
 * the reason in c->why, naming the rank), so that all ranks take the same path: the MPI
 * exchange on staged host buffers. MAMC_NCCL=0 turns it off from the start.
 *
 * Emulation (the device is dev.h's host emulation: no GPU, so no real NCCL): the same sets,
 * bootstrap and agreement (the "unique id" is a text the lowest rank writes and every member
 * checks), and the collectives are MPI's on the emulated device memory (host memory), through
 * the set's MPI communicator — the same calls, so the same numbers, as the staged exchange.
 * MAMC_NCCL_EMU_FAIL=R fails rank R's communicator creation at start, =R@K its Kth creation
 * (K > 1: a set first needed mid-run): tests of the agreed fallback.
 *
 * No global state; every function returns 1, or 0 with a message in err (MPI failures: the
 * world cannot agree any more). */
#ifndef MAMC_DNCCL_H
#define MAMC_DNCCL_H

#include "dev.h"

struct Dist;

typedef struct DNcclSet {
  int n, *ranks;      /* ascending */
  int comm;           /* its MPI communicator (dist_comm) */
  int me;             /* this rank's index in ranks, or -1 */
  int created;        /* dnccl_create has run for it */
  ncclComm_t nc;      /* real NCCL: this rank's communicator (NULL when not a member or n < 2) */
} DNcclSet;

typedef struct DNccl {
  int on;             /* collectives through NCCL (or its emulation) */
  int emu;            /* emulated device: MPI collectives on its memory */
  int version;        /* ncclGetVersion's (e.g. 22803) */
  char kind[32];      /* "nccl", "nccl-emulated", "mpi-staged", "none": the device line's collectives */
  char why[320];      /* the reason, one line of plain text (JSON-safe) */
  Dev *dev;
  struct Dist *ds;
  DNcclSet *sets;
  int nsets, cap;
  int batches;        /* dnccl_create calls that created something (MAMC_NCCL_EMU_FAIL=R@K) */
  char hint[160];     /* the caller's guess at why creation could fail (set after dnccl_open),
                       * appended to a creation failure's reason */
} DNccl;

/* Collective over the world. able: this rank can exchange on device buffers (else why_not says
 * why). Loads NCCL (unless MAMC_NCCL=0), reads its version and agrees over the world; c->on
 * says the outcome, c->kind and c->why say which and why. 0 only for an MPI failure. */
int dnccl_open(DNccl *c, Dev *dev, struct Dist *ds, int able, const char *why_not, char *err, size_t n);
/* Registers a set (ascending ranks; not collective). Returns its index; -1 out of memory. */
int dnccl_need(DNccl *c, const int *ranks, int n);
/* The index of a registered set, or -1. */
int dnccl_find(const DNccl *c, const int *ranks, int n);
/* Collective over the world: creates the registered sets not created yet (see above). A failure
 * on any rank turns NCCL off on all of them (c->on = 0, c->why) and still returns 1. */
int dnccl_create(DNccl *c, char *err, size_t n);
/* In-place float sum over set s (this rank a member), on the device's stream. */
int dnccl_allreduce(DNccl *c, int s, DPtr buf, int64_t count, char *err, size_t n);
/* Broadcast from member `root` (an index in the set's ranks), in place, on the device's stream. */
int dnccl_bcast(DNccl *c, int s, DPtr buf, int64_t count, int root, char *err, size_t n);
/* Destroys the communicators (every rank, at the end). */
void dnccl_close(DNccl *c);
/* NCCL's version as text ("2.28.3"), or "?" for 0. */
void dnccl_version_text(int version, char *out, size_t n);

#endif
