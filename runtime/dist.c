/* dist.c — processes and collectives (see dist.h): MPI when built with it and launched by
 * mpirun, one process otherwise. Bytes counted are payload: n * 4 per participant of an
 * all-reduce, n * 4 for the root of a broadcast, n * 4 for each member but the root of a
 * reduction onto one member (f64: n * 8). */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MAMC_HAVE_MPI
#include <mpi.h>
#endif

typedef struct DComm {
  int n;
  int *ranks;
#ifdef MAMC_HAVE_MPI
  MPI_Comm comm; /* MPI_COMM_NULL on ranks outside the set */
#endif
} DComm;

enum { DIST_MAX_REQ = 4096 };

struct Dist {
  int rank, size, mpi;
  int local_rank, local_size; /* among the processes of this node (MPI_COMM_TYPE_SHARED) */
  int ncomm, cap;
  DComm *comms;
  int64_t bytes;
  int nreq;                 /* requests issued since the last time all completed */
#ifdef MAMC_HAVE_MPI
  MPI_Request reqs[DIST_MAX_REQ];
#endif
};

#ifdef MAMC_HAVE_MPI
static int mpi_fail(const Dist *d, int rc, const char *what, char *err, size_t n) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  snprintf(err, n, "rank %d: %s failed: %s", d->rank, what, msg);
  return 0;
}
#define MPI_CHECK(call, what)                                                              \
  do {                                                                                     \
    int rc_ = (call);                                                                      \
    if (rc_ != MPI_SUCCESS) return mpi_fail(d, rc_, what, err, errlen);                    \
  } while (0)
#endif

int dist_mpi_init(int *argc, char ***argv) {
#ifdef MAMC_HAVE_MPI
  const char *launched = getenv("OMPI_COMM_WORLD_SIZE");
  if (!launched) launched = getenv("PMI_SIZE");
  if (!launched) launched = getenv("PMIX_RANK");
  if (!launched) return 1;
  int inited = 0, provided = 0, size = 1;
  MPI_Initialized(&inited);
  if (!inited) MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
#else
  (void)argc;
  (void)argv;
  return 1;
#endif
}

int dist_mpi_rank(void) {
  int rank = 0;
#ifdef MAMC_HAVE_MPI
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
#endif
  return rank;
}

void dist_mpi_finalize(void) {
#ifdef MAMC_HAVE_MPI
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized) MPI_Finalize();
#endif
}

Dist *dist_new(char *err, size_t errlen) {
  Dist *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  d->size = d->local_size = 1;
#ifdef MAMC_HAVE_MPI
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized) {
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node; /* collective: every process creates its Dist at the same point */
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS) {
      mpi_fail(d, rc, "MPI_Comm_split_type (the processes of this node)", err, errlen);
      free(d);
      return NULL;
    }
    MPI_Comm_rank(node, &d->local_rank);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
  }
#endif
  return d;
}

void dist_free(Dist *d) {
  if (!d) return;
  for (int i = 0; i < d->ncomm; i++) {
#ifdef MAMC_HAVE_MPI
    if (d->comms[i].comm != MPI_COMM_NULL) MPI_Comm_free(&d->comms[i].comm);
#endif
    free(d->comms[i].ranks);
  }
  free(d->comms);
  free(d);
}

int dist_rank(const Dist *d) { return d->rank; }
int dist_size(const Dist *d) { return d->size; }
int dist_is_mpi(const Dist *d) { return d->mpi; }
int dist_local_rank(const Dist *d) { return d ? d->local_rank : 0; }
int dist_local_size(const Dist *d) { return d ? d->local_size : 1; }
int64_t dist_bytes_sent(const Dist *d) { return d->bytes; }

static int member_index(const DComm *c, int rank) {
  for (int i = 0; i < c->n; i++)
    if (c->ranks[i] == rank) return i;
  return -1;
}

int dist_comm(Dist *d, const int *ranks, int n, char *err, size_t errlen) {
  for (int i = 0; i < d->ncomm; i++)
    if (d->comms[i].n == n && memcmp(d->comms[i].ranks, ranks, sizeof(int) * (size_t)n) == 0) return i;
  if (d->ncomm == d->cap) {
    int nc = d->cap ? 2 * d->cap : 16;
    DComm *nv = realloc(d->comms, sizeof(DComm) * (size_t)nc);
    if (!nv) return snprintf(err, errlen, "out of memory"), -1;
    d->comms = nv;
    d->cap = nc;
  }
  DComm c = {.n = n, .ranks = malloc(sizeof(int) * (size_t)(n ? n : 1))};
  if (!c.ranks) return snprintf(err, errlen, "out of memory"), -1;
  memcpy(c.ranks, ranks, sizeof(int) * (size_t)n);
#ifdef MAMC_HAVE_MPI
  c.comm = MPI_COMM_NULL;
  if (d->mpi) {
    int color = member_index(&c, d->rank) >= 0 ? 0 : MPI_UNDEFINED;
    int rc = MPI_Comm_split(MPI_COMM_WORLD, color, d->rank, &c.comm);
    if (rc != MPI_SUCCESS) {
      free(c.ranks);
      mpi_fail(d, rc, "MPI_Comm_split", err, errlen);
      return -1;
    }
  }
#endif
  d->comms[d->ncomm++] = c;
  return d->ncomm - 1;
}

int dist_allreduce(Dist *d, int comm, float *buf, int64_t n, char *err, size_t errlen) {
  DComm *c = &d->comms[comm];
  if (member_index(c, d->rank) < 0) return snprintf(err, errlen, "rank %d is not in this communicator", d->rank), 0;
  d->bytes += 4 * n;
  if (c->n == 1) return 1;
#ifdef MAMC_HAVE_MPI
  if (d->mpi) MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, c->comm), "MPI_Allreduce");
#else
  (void)buf;
#endif
  return 1;
}

int dist_allreduce_f64(Dist *d, int comm, double *buf, int64_t n, char *err, size_t errlen) {
  DComm *c = &d->comms[comm];
  if (member_index(c, d->rank) < 0) return snprintf(err, errlen, "rank %d is not in this communicator", d->rank), 0;
  d->bytes += 8 * n;
  if (c->n == 1) return 1;
#ifdef MAMC_HAVE_MPI
  if (d->mpi) MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, c->comm), "MPI_Allreduce");
#else
  (void)buf;
#endif
  return 1;
}

int dist_iallreduce(Dist *d, int comm, float *buf, int64_t n, int *req, char *err, size_t errlen) {
  DComm *c = &d->comms[comm];
  *req = -1;
  if (member_index(c, d->rank) < 0) return snprintf(err, errlen, "rank %d is not in this communicator", d->rank), 0;
  d->bytes += 4 * n;
  if (c->n == 1) return 1;
#ifdef MAMC_HAVE_MPI
  if (d->mpi) {
    if (d->nreq == DIST_MAX_REQ) return snprintf(err, errlen, "too many outstanding requests"), 0;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, c->comm, &d->reqs[d->nreq]), "MPI_Iallreduce");
    *req = d->nreq++;
  }
#else
  (void)buf;
#endif
  return 1;
}

int dist_wait(Dist *d, int req, char *err, size_t errlen) {
  if (req < 0) return 1;
#ifdef MAMC_HAVE_MPI
  MPI_CHECK(MPI_Wait(&d->reqs[req], MPI_STATUS_IGNORE), "MPI_Wait");
  int pending = 0; /* the slots are reused once every request is done */
  for (int i = 0; i < d->nreq; i++) pending |= d->reqs[i] != MPI_REQUEST_NULL;
  if (!pending) d->nreq = 0;
#else
  (void)d;
  (void)err;
  (void)errlen;
#endif
  return 1;
}

void dist_progress(Dist *d) {
#ifdef MAMC_HAVE_MPI
  if (d->mpi && d->nreq) {
    int flag;
    MPI_Testall(d->nreq, d->reqs, &flag, MPI_STATUSES_IGNORE);
  }
#else
  (void)d;
#endif
}

int dist_bcast(Dist *d, int comm, float *buf, int64_t n, int root, char *err, size_t errlen) {
  DComm *c = &d->comms[comm];
  int me = member_index(c, d->rank);
  if (me < 0) return snprintf(err, errlen, "rank %d is not in this communicator", d->rank), 0;
  if (me == root) d->bytes += 4 * n;
  if (c->n == 1) return 1;
#ifdef MAMC_HAVE_MPI
  if (d->mpi) MPI_CHECK(MPI_Bcast(buf, (int)n, MPI_FLOAT, root, c->comm), "MPI_Bcast");
#else
  (void)buf;
#endif
  return 1;
}

int dist_bcast_f64(Dist *d, int comm, double *buf, int64_t n, int root, char *err, size_t errlen) {
  DComm *c = &d->comms[comm];
  int me = member_index(c, d->rank);
  if (me < 0) return snprintf(err, errlen, "rank %d is not in this communicator", d->rank), 0;
  if (me == root) d->bytes += 8 * n;
  if (c->n == 1) return 1;
#ifdef MAMC_HAVE_MPI
  if (d->mpi) MPI_CHECK(MPI_Bcast(buf, (int)n, MPI_DOUBLE, root, c->comm), "MPI_Bcast");
#else
  (void)buf;
#endif
  return 1;
}

int dist_reduce(Dist *d, int comm, float *buf, int64_t n, int root, char *err, size_t errlen) {
  DComm *c = &d->comms[comm];
  int me = member_index(c, d->rank);
  if (me < 0) return snprintf(err, errlen, "rank %d is not in this communicator", d->rank), 0;
  if (me != root) d->bytes += 4 * n;
  if (c->n == 1) return 1;
#ifdef MAMC_HAVE_MPI
  if (d->mpi) {
    if (me == root)
      MPI_CHECK(MPI_Reduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, root, c->comm), "MPI_Reduce");
    else
      MPI_CHECK(MPI_Reduce(buf, NULL, (int)n, MPI_FLOAT, MPI_SUM, root, c->comm), "MPI_Reduce");
  }
#else
  (void)buf;
#endif
  return 1;
}

int dist_world_sum(Dist *d, double *buf, int64_t n, char *err, size_t errlen) {
  if (d->size == 1) return 1;
#ifdef MAMC_HAVE_MPI
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (world)");
#else
  (void)buf;
  (void)n;
  (void)err;
  (void)errlen;
#endif
  return 1;
}

int dist_barrier(Dist *d, char *err, size_t errlen) {
  if (d->size == 1) return 1;
#ifdef MAMC_HAVE_MPI
  MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#else
  (void)err;
  (void)errlen;
#endif
  return 1;
}
