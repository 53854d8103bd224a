/* test_pool.c — the worker pool (runtime/pool.c): for 1 to 4 threads, thousands of jobs of
 * random length and minimum chunk, back to back (the workers catch them while spinning) and
 * after pauses longer than the spin (the workers have gone to sleep and must be woken): every
 * index of every job is visited exactly once, by the job it belongs to, and the caller's
 * thread takes part; a pool freed while its workers spin and one freed while they sleep both
 * shut down; pool_run_aligned's boundaries fall where it says. In every fourth job the workers' shares end after the caller's. Fresh random
 * lengths each run (the seed is printed).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "pool.h"
#include "rng.h"
#include "test.h"

typedef struct Job {
  int64_t gen;            /* which job this is */
  int64_t *owner;         /* per index: the gen of the last job that visited it */
  atomic_int *visits;     /* per index: visits in this job */
  atomic_llong calls;     /* ranges handed out */
  atomic_int caller_ran;  /* the calling thread ran a range */
  pthread_t caller;
} Job;

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static void visit(void *ctx, int64_t b, int64_t e) {
  Job *j = ctx;
  atomic_fetch_add(&j->calls, 1);
  if (pthread_equal(pthread_self(), j->caller))
    atomic_store(&j->caller_ran, 1);
  else if (j->gen % 4 == 0)
    sleep_us(20); /* a worker that ends after the caller: pool_run must wait for it */
  for (int64_t i = b; i < e; i++) {
    atomic_fetch_add(&j->visits[i], 1);
    j->owner[i] = j->gen;
  }
}

enum { MAXN = 5000 };

/* runs njobs jobs on p, pausing pause_us between them; returns the jobs split between threads */
static int run_jobs(Pool *p, uint64_t key, int njobs, long pause_us, int64_t *owner, atomic_int *visits) {
  int split = 0;
  for (int k = 0; k < njobs; k++) {
    int64_t n = (int64_t)(rng_uniform(key, 2 * (uint64_t)k) * MAXN); /* 0 included */
    int64_t min_chunk = 1 + (int64_t)(rng_uniform(key, 2 * (uint64_t)k + 1) * 600);
    Job j = {.gen = k + 1, .owner = owner, .visits = visits, .caller = pthread_self()};
    for (int64_t i = 0; i < n; i++) atomic_store(&visits[i], 0);
    pool_run(p, visit, &j, n, min_chunk);
    int once = 1, mine = 1;
    for (int64_t i = 0; i < n; i++) {
      once &= atomic_load(&visits[i]) == 1;
      mine &= owner[i] == j.gen;
    }
    CHECK_MSG(once && mine, "job %d (n %lld, min chunk %lld, %d threads): each index once: %d, by this job: %d", k,
              (long long)n, (long long)min_chunk, pool_size(p), once, mine);
    int64_t calls = atomic_load(&j.calls);
    int expect_split = pool_size(p) > 1 && n >= 2 * min_chunk;
    CHECK_MSG(calls == (n == 0 ? 0 : expect_split ? (n < pool_size(p) ? n : pool_size(p)) : 1),
              "job %d: %lld ranges for n %lld, min chunk %lld, %d threads", k, (long long)calls, (long long)n,
              (long long)min_chunk, pool_size(p));
    CHECK_MSG(n == 0 || atomic_load(&j.caller_ran), "job %d: the caller's thread took no share", k);
    split += expect_split;
    if (pause_us) sleep_us(pause_us);
  }
  return split;
}

typedef struct Bounds {
  atomic_int n;
  int64_t begin[8], end[8];
} Bounds;

static void note_range(void *ctx, int64_t b, int64_t e) {
  Bounds *r = ctx;
  int i = atomic_fetch_add(&r->n, 1);
  if (i < 8) r->begin[i] = b, r->end[i] = e;
}

/* pool_run_aligned: the ranges cover [0, n) exactly and every boundary is at r * row + j * grain */
static void aligned_bounds(Pool *p, uint64_t key) {
  for (int k = 0; k < 400; k++) {
    int64_t n = 1 + (int64_t)(rng_uniform(key, 3 * (uint64_t)k) * 20000);
    int64_t row = 1 + (int64_t)(rng_uniform(key, 3 * (uint64_t)k + 1) * 3000), grain = 256;
    Bounds r = {0};
    pool_run_aligned(p, note_range, &r, n, 64, row, grain);
    int m = atomic_load(&r.n), ok = m >= 1 && m <= pool_size(p);
    int64_t covered = 0;
    for (int i = 0; ok && i < m; i++) {
      ok &= r.begin[i] < r.end[i] && (r.begin[i] == 0 || r.begin[i] % row % grain == 0) &&
            (r.end[i] == n || r.end[i] % row % grain == 0);
      covered += r.end[i] - r.begin[i];
    }
    CHECK_MSG(ok && covered == n, "aligned split of %lld (row %lld, %d threads): %d ranges, %lld covered", (long long)n,
              (long long)row, pool_size(p), m, (long long)covered);
  }
}

int main(void) {
  uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
  printf("seed %llu\n", (unsigned long long)seed);
  static int64_t owner[MAXN];
  static atomic_int visits[MAXN];
  for (int threads = 1; threads <= 4; threads++) {
    Pool *p = pool_new(threads);
    CHECK_MSG(p != NULL, "pool_new(%d)", threads);
    if (!p) continue;
    CHECK(pool_size(p) == threads);
    for (int64_t i = 0; i < MAXN; i++) owner[i] = 0;
    uint64_t key = rng_key(seed, (uint64_t)threads);
    int busy = run_jobs(p, key, 1000, 0, owner, visits);       /* back to back: caught spinning */
    int woken = run_jobs(p, rng_key(key, 1), 12, 2000, owner, visits); /* 2 ms apart: asleep */
    aligned_bounds(p, rng_key(key, 3));
    printf("%d thread(s): %d jobs split back to back, %d after the workers slept\n", threads, busy, woken);
    if (threads > 1) CHECK(busy > 300 && woken > 0);
    pool_free(p); /* workers asleep: the last job was 2 ms ago */
    p = pool_new(threads);
    if (p) {
      run_jobs(p, rng_key(key, 2), 5, 0, owner, visits);
      pool_free(p); /* workers still spinning */
    }
  }
  pool_run(NULL, visit, &(Job){.gen = 1, .owner = owner, .visits = visits, .caller = pthread_self()}, 10, 1);
  CHECK(owner[9] == 1); /* no pool: inline */
  return test_done();
}
