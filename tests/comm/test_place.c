/* test_place.c — placement (passes/placement.h) on random MAMMOTH-like instances: explicit
 * ranks are kept, every rank has a task from step 0, holders follow the copies, splits read
 * disjoint lines, the result is deterministic for a seed, and its cost is at most that of
 * MAMMOTH's approximation and of round-robin; errors for impossible inputs; the time for 100
 * tasks on 32 ranks (printed, not asserted). */
#include <stdlib.h>

#include "comm_random.h"
#include "test.h"

static int uses(const IrProgram *p, int m, int graph) {
  for (int i = 0; i < p->modules.v[m].used_by.n; i++)
    if (p->modules.v[m].used_by.v[i] == graph) return 1;
  return 0;
}

/* The invariants every placement keeps. */
static void check_placement(const PlaceInput *in, const Placement *pl, const char *what) {
  int R = in->nranks;
  char *busy = calloc((size_t)R, 1);
  for (int c = 0; c < pl->ncopies; c++) {
    const PlaceCopy *x = &pl->copies[c];
    CHECK_MSG(x->rank >= 0 && x->rank < R, "%s: copy on rank %d", what, x->rank);
    if (x->rank < 0 || x->rank >= R) continue;
    if (in->tasks[x->task].introduce_at_step == 0) busy[x->rank] = 1;
    if (c) CHECK_MSG(pl->copies[c - 1].task < x->task || (pl->copies[c - 1].task == x->task && pl->copies[c - 1].rank < x->rank),
                     "%s: copies not sorted by (task, rank), or two copies of a task on one rank", what);
  }
  for (int r = 0; r < R; r++) CHECK_MSG(busy[r], "%s: rank %d has no task at step 0", what, r);
  free(busy);
  /* explicit ranks kept; copies of a task read disjoint lines covering the task's */
  for (int t = 0; t < in->ntasks; t++) {
    const PlaceTask *pt = &in->tasks[t];
    int k = 0, seen_off[64] = {0};
    for (int c = 0; c < pl->ncopies; c++) {
      const PlaceCopy *x = &pl->copies[c];
      if (x->task != t) continue;
      k++;
      if (pt->nranks) {
        int listed = 0;
        for (int i = 0; i < pt->nranks; i++) listed |= pt->ranks[i] == x->rank;
        CHECK_MSG(listed && x->fixed, "%s: task %s moved off its explicit ranks", what, pt->name);
      }
      int base = pt->stride > 0 ? pt->stride : 1;
      int i = (x->offset - pt->offset) / base;
      CHECK_MSG(x->stride % base == 0 && i >= 0 && i < 64 && (x->offset - pt->offset) % base == 0, "%s: copy lines", what);
      if (i >= 0 && i < 64) seen_off[i]++;
    }
    if (pt->nranks) CHECK_MSG(k == pt->nranks, "%s: task %s has %d copies, %d explicit ranks", what, pt->name, k, pt->nranks);
    for (int i = 0; i < k && i < 64; i++) CHECK_MSG(seen_off[i] == 1, "%s: task %s: copy offsets overlap", what, pt->name);
  }
  /* holders: exactly the ranks with a copy reading the module */
  const IrProgram *p = in->prog;
  for (int m = 0; m < p->modules.n; m++) {
    char *want = calloc((size_t)R, 1);
    for (int c = 0; c < pl->ncopies; c++)
      if (uses(p, m, in->tasks[pl->copies[c].task].graph)) want[pl->copies[c].rank] = 1;
    int n = 0;
    for (int r = 0; r < R; r++) n += want[r];
    CHECK_MSG(n == pl->nholders[m], "%s: module %s: %d holders, want %d", what, p->modules.v[m].name, pl->nholders[m], n);
    for (int i = 0; i < pl->nholders[m] && i < n; i++) CHECK(want[pl->holders[m][i]]);
    free(want);
  }
}

static void test_random(void) {
  int cases = 0, better = 0;
  double tol = 0.1;
  for (int seed = 1; seed <= 40; seed++) {
    RandOpts o = {(uint64_t)seed, 4 + seed % 9, 1 + seed % 4, 6 + (seed * 7) % 40, 2 + seed % 7,
                  seed % 3 ? 0.1 : 0.0, 0.2, 0.0, 0, 0, 1000};
    RandInst ri;
    if (!rand_instance(&ri, &o)) {
      CHECK(0);
      continue;
    }
    Diag d;
    diag_init(&d);
    Placement ex, mam, rr, again;
    char what[64];
    snprintf(what, sizeof what, "seed %d", seed);
    int ok = place_run(&ri.in, PLACE_EXACT, &ri.arena, &ex, &d) && place_run(&ri.in, PLACE_MAMMOTH, &ri.arena, &mam, &d) &&
             place_run(&ri.in, PLACE_ROUNDROBIN, &ri.arena, &rr, &d) && place_run(&ri.in, PLACE_EXACT, &ri.arena, &again, &d);
    CHECK_MSG(ok, "%s: %s", what, d.out.s ? d.out.s : "");
    if (ok) {
      cases++;
      check_placement(&ri.in, &ex, what);
      check_placement(&ri.in, &mam, what);
      /* deterministic */
      int same = ex.ncopies == again.ncopies;
      for (int c = 0; same && c < ex.ncopies; c++) same = ex.copies[c].rank == again.copies[c].rank;
      CHECK_MSG(same, "%s: two runs with the same seed differ", what);
      /* never worse than the baselines, when they keep the balance */
      CHECK_MSG(ex.imbalance <= tol + 1e-9 || ex.imbalance <= mam.imbalance + 1e-9, "%s: imbalance %g (mammoth %g)", what,
                ex.imbalance, mam.imbalance);
      if (mam.imbalance <= tol + 1e-9)
        CHECK_MSG(ex.cost <= mam.cost * (1 + 1e-12), "%s: cost %.0f > mammoth-approx %.0f", what, ex.cost, mam.cost);
      if (rr.imbalance <= tol + 1e-9)
        CHECK_MSG(ex.cost <= rr.cost * (1 + 1e-12), "%s: cost %.0f > round-robin %.0f", what, ex.cost, rr.cost);
      better += ex.cost < mam.cost;
      if (seed <= 6)
        printf("%-8s %3d tasks %2d ranks: cost mamc %12.0f  mammoth-approx %12.0f (%.2fx)  round-robin %12.0f (%.2fx)  %.4f s\n",
               what, ri.in.ntasks, ri.in.nranks, ex.cost, mam.cost, ex.cost > 0 ? mam.cost / ex.cost : 1, rr.cost,
               ex.cost > 0 ? rr.cost / ex.cost : 1, ex.seconds);
    }
    diag_free(&d);
    rand_free(&ri);
  }
  printf("%d random instances: mamc strictly cheaper than mammoth-approx on %d\n", cases, better);
  CHECK(cases >= 35);
}

/* A task heavier than a rank's share is split; busy-ness forces splits too. */
static void test_splits(void) {
  RandOpts o = {7, 4, 2, 3, 6, 0.0, 0.0, 0.0, 0, 0, 1000};
  RandInst ri;
  CHECK(rand_instance(&ri, &o));
  PlaceTask *t = ri.tasks;
  t[0].weight = 10, t[1].weight = 1, t[2].weight = 1; /* 3 tasks, 6 ranks */
  t[0].stride = 2, t[0].offset = 1;                    /* already every 2nd line from 1 */
  Diag d;
  diag_init(&d);
  Placement pl;
  CHECK(place_run(&ri.in, PLACE_EXACT, &ri.arena, &pl, &d));
  check_placement(&ri.in, &pl, "splits");
  int k0 = 0;
  for (int c = 0; c < pl.ncopies; c++) k0 += pl.copies[c].task == 0;
  CHECK_MSG(k0 >= 2, "the heavy task is split over %d ranks", k0);
  for (int c = 0, i = 0; c < pl.ncopies; c++)
    if (pl.copies[c].task == 0) { /* every (2 k0)-th line from 1 + 2 i: its own lines split k0 ways */
      CHECK(pl.copies[c].stride == 2 * k0 && pl.copies[c].offset == 1 + 2 * i++);
      CHECK_NEAR(pl.copies[c].weight, 10.0 / k0, 1e-12); /* temperature 1 */
    }
  CHECK(pl.ncopies >= 6);
  /* explicit ranks leave rank 2 idle, and no automatic task starts at step 0: an error */
  static const int r0[] = {0}, r1[] = {1};
  t[0].nranks = 1, t[0].ranks = r0;
  t[1].nranks = 1, t[1].ranks = r1;
  t[2].introduce_at_step = 5;
  ri.in.nranks = 3;
  CHECK(!place_run(&ri.in, PLACE_EXACT, &ri.arena, &pl, &d) && d.out.s && strstr(d.out.s, "rank 2 has no task"));
  /* an explicit rank out of range */
  static const int r9[] = {9};
  t[1].ranks = r9;
  CHECK(!place_run(&ri.in, PLACE_EXACT, &ri.arena, &pl, &d) && strstr(d.out.s, "rank 9"));
  diag_free(&d);
  rand_free(&ri);
}

static void test_apply(void) {
  RandOpts o = {3, 5, 2, 10, 3, 0.0, 0.0, 0.0, 0, 0, 1000};
  RandInst ri;
  CHECK(rand_instance(&ri, &o));
  Diag d;
  diag_init(&d);
  Placement pl;
  CHECK(place_run(&ri.in, PLACE_EXACT, &ri.arena, &pl, &d));
  place_apply(&ri.prog, &pl);
  for (int m = 0; m < ri.prog.modules.n; m++) {
    CHECK(ri.prog.modules.v[m].ranks.n == pl.nholders[m]);
    for (int i = 0; i < pl.nholders[m]; i++) CHECK(ri.prog.modules.v[m].ranks.v[i] == pl.holders[m][i]);
  }
  CHECK(ir_verify(&ri.prog, &d));
  diag_free(&d);
  rand_free(&ri);
}

/* 100 tasks on 32 ranks: printed (the goal is <= 1 s; not asserted, machines vary). */
static void test_time(void) {
  RandOpts o = {11, 14, 4, 100, 32, 0.05, 0.2, 0.0, 0, 0, 10000};
  RandInst ri;
  CHECK(rand_instance(&ri, &o));
  Diag d;
  diag_init(&d);
  Placement ex, mam, rr;
  CHECK(place_run(&ri.in, PLACE_EXACT, &ri.arena, &ex, &d));
  CHECK(place_run(&ri.in, PLACE_MAMMOTH, &ri.arena, &mam, &d));
  CHECK(place_run(&ri.in, PLACE_ROUNDROBIN, &ri.arena, &rr, &d));
  check_placement(&ri.in, &ex, "100x32");
  printf("100 tasks on 32 ranks: %.3f s (mammoth-approx search %.3f s); cost mamc %.0f, mammoth-approx %.0f (%.2fx), "
         "round-robin %.0f (%.2fx); imbalance %.1f%% / %.1f%% / %.1f%%\n",
         ex.seconds, mam.seconds, ex.cost, mam.cost, mam.cost / ex.cost, rr.cost, rr.cost / ex.cost, 100 * ex.imbalance,
         100 * mam.imbalance, 100 * rr.imbalance);
  diag_free(&d);
  rand_free(&ri);
}

int main(void) {
  test_random();
  test_splits();
  test_apply();
  test_time();
  return test_done();
}
