/* dist.h — the processes a training run spans, and the collectives the trainer needs.
 *
 * Under mpirun (and built with MPI) a Dist wraps MPI_COMM_WORLD; otherwise it is one process
 * and every collective is the identity. Communicators for a set of ranks are created on first
 * use and cached: creation is collective over the world, so every rank must ask for the same
 * sets in the same order — the trainer derives that order from the program and the shared
 * sampling schedule, never from local data, so it cannot deadlock.
 *
 * Every function returns 1 on success, 0 with a message naming the failed call and the rank.
 * The byte counters count payload this rank sent, for `mamc plan` checks and benchmarks.
 */
#ifndef MAMC_DIST_H
#define MAMC_DIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct Dist Dist;

/* A Dist over MPI_COMM_WORLD if MPI is initialised (the caller does MPI_Init: see
 * dist_mpi_init), else over this process alone. */
Dist *dist_new(char *err, size_t errlen);
void dist_free(Dist *d);

int dist_rank(const Dist *d);
int dist_size(const Dist *d);
int dist_is_mpi(const Dist *d);
/* This process's rank among the processes on its node, and their number (from
 * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) at dist_new; 0 and 1 without MPI or for NULL):
 * what picks one GPU per process (docs/gpu.md). */
int dist_local_rank(const Dist *d);
int dist_local_size(const Dist *d);

/* Initialises MPI when this process was started by mpirun (and mamc was built with MPI);
 * returns the world size (1 otherwise). Process-wide: call once from main. */
int dist_mpi_init(int *argc, char ***argv);
void dist_mpi_finalize(void);
/* This process's rank in the world (0 without MPI or before dist_mpi_init). */
int dist_mpi_rank(void);

/* The communicator for exactly these ranks (ascending, containing this rank or not):
 * collective over the world. Returns its handle (>= 0), or -1 with err. */
int dist_comm(Dist *d, const int *ranks, int n, char *err, size_t errlen);

/* In-place sum over the members of communicator `comm` (this rank must be one). */
int dist_allreduce(Dist *d, int comm, float *buf, int64_t n, char *err, size_t errlen);
int dist_allreduce_f64(Dist *d, int comm, double *buf, int64_t n, char *err, size_t errlen);
/* Non-blocking in-place sum: *req receives a handle for dist_wait. Collectives on one
 * communicator must be started in the same order on its members. */
int dist_iallreduce(Dist *d, int comm, float *buf, int64_t n, int *req, char *err, size_t errlen);
int dist_wait(Dist *d, int req, char *err, size_t errlen);
/* Lets MPI progress outstanding requests (it has no progress thread). */
void dist_progress(Dist *d);
/* Broadcast from member `root` (index within the communicator's ranks). */
int dist_bcast(Dist *d, int comm, float *buf, int64_t n, int root, char *err, size_t errlen);
int dist_bcast_f64(Dist *d, int comm, double *buf, int64_t n, int root, char *err, size_t errlen);
/* In-place sum onto member `root` (index within the communicator's ranks): the root's buf
 * receives the sum, the others' buf is left as it was. Counted at the members other than
 * the root (each hands its n floats to the reduction; the root's stay in place). */
int dist_reduce(Dist *d, int comm, float *buf, int64_t n, int root, char *err, size_t errlen);
/* Sum over the whole world (comm of every rank), f64. */
int dist_world_sum(Dist *d, double *buf, int64_t n, char *err, size_t errlen);
int dist_barrier(Dist *d, char *err, size_t errlen);

int64_t dist_bytes_sent(const Dist *d);

#endif
