/* test_schedule.c — the communication schedule (passes/comm.h), as a pure simulation of a
 * distributed run (no MPI): random placements and sampling schedules over 50 steps.
 *   - every rank computes the same task schedule and the same comm schedule on its own;
 *   - a bucket is active exactly when a holder trained its modules (on its sync steps);
 *     otherwise nobody sends anything for it;
 *   - each rank, running the graph the comm pass compiled for it, performs its collectives
 *     (a bucket's reduction at its last start, its broadcast at its first done, the norm) so
 *     that on every communicator (cached by rank set) all members see the same operations
 *     in the same order — the condition for MPI collectives never to deadlock or mismatch;
 *     and each rank's sequence follows the plan's global order.
 */
#include <stdlib.h>

#include "comm.h"
#include "comm_random.h"
#include "data/sampler.h"
#include "pipeline.h"
#include "test.h"

enum { OP_REDUCE_ = 1, OP_BCAST_ = 2, OP_NORM_ = 3, MAXR = 8, MAXOPS = 4096 };

typedef struct SimOp {
  int kind, bucket;
  unsigned comm; /* bitmask of the rank set */
} SimOp;

typedef struct Rank {
  Arena arena;
  IrProgram prog;  /* compiled for this rank */
  Sampler *samplers; /* every rank's, built by this rank */
  int **copies, *ncopies;
  SimOp ops[MAXOPS];
  int nops;
} Rank;

static void build_samplers(Rank *rk, const Placement *pl, const PlaceInput *in, uint64_t seed) {
  int R = pl->nranks;
  rk->samplers = ARENA_ARRAY(&rk->arena, Sampler, R);
  rk->copies = ARENA_ARRAY(&rk->arena, int *, R);
  rk->ncopies = ARENA_ARRAY(&rk->arena, int, R);
  Diag d;
  diag_init(&d);
  for (int r = 0; r < R; r++) {
    rk->copies[r] = ARENA_ARRAY(&rk->arena, int, pl->ncopies);
    rk->ncopies[r] = place_rank_copies(pl, r, rk->copies[r]);
    SamplerTask *st = ARENA_ARRAY(&rk->arena, SamplerTask, rk->ncopies[r]);
    for (int i = 0; i < rk->ncopies[r]; i++) {
      const PlaceCopy *c = &pl->copies[rk->copies[r][i]];
      st[i] = (SamplerTask){in->tasks[c->task].name, c->weight, in->tasks[c->task].introduce_at_step};
    }
    CHECK(sampler_init(&rk->samplers[r], &rk->arena, &d, st, rk->ncopies[r], 1.0, seed, (uint64_t)r) == 0);
  }
  diag_free(&d);
}

static void graphs_at(const Rank *rk, const Placement *pl, const PlaceInput *in, int64_t step, int *gor) {
  for (int r = 0; r < pl->nranks; r++)
    gor[r] = in->tasks[pl->copies[rk->copies[r][sampler_task_at(&rk->samplers[r], step)]].task].graph;
}

static unsigned mask_of(const int *r, int n) {
  unsigned m = 0;
  for (int i = 0; i < n; i++) m |= 1u << r[i];
  return m;
}

static void emit(Rank *rk, int kind, int b, unsigned comm) {
  if (rk->nops < MAXOPS) rk->ops[rk->nops++] = (SimOp){kind, b, comm};
}

/* Rank r runs its graph g at this step: the collectives it performs, in order. */
static void run_rank(Rank *rk, int r, int g, const CommPlan *pl, const CommStep *st, int R) {
  const IrGraph *G = &rk->prog.graphs.v[g];
  int nslots = 0;
  char *seen = calloc((size_t)pl->nbuckets + 1, 1);
  for (int i = 0; i < G->nodes.n; i++) {
    const IrNode *n = &G->nodes.v[i];
    if (n->op == OP_ALLREDUCE_START) {
      int b = (int)ir_get_i(n, "bucket"), recv = (int)ir_get_i(n, "recv");
      const CommSlot *s = &st->slots[b];
      int trainer = 0;
      for (int k = 0; k < s->ntrainers; k++) trainer |= s->trainers[k] == r;
      CHECK_MSG(!s->active || trainer == !recv, "rank %d bucket %d: slot kind disagrees with the schedule", r, b);
      int last = i + 1 >= G->nodes.n || G->nodes.v[i + 1].op != OP_ALLREDUCE_START ||
                 ir_get_i(&G->nodes.v[i + 1], "bucket") != b;
      if (!seen[b]) nslots++;
      seen[b] = 1;
      if (last && s->active && trainer && s->ntrainers > 1) emit(rk, OP_REDUCE_, b, mask_of(s->trainers, s->ntrainers));
    } else if (n->op == OP_ALLREDUCE_DONE) {
      int b = (int)ir_get_i(&G->nodes.v[n->in[0]], "bucket");
      const CommSlot *s = &st->slots[b];
      if (seen[b] == 1 && s->active && s->nreceivers) {
        unsigned m = mask_of(s->receivers, s->nreceivers) | 1u << s->root;
        if (m >> r & 1) emit(rk, OP_BCAST_, b, m);
      }
      seen[b] = 2;
    } else if (n->op == OP_ALLREDUCE) {
      emit(rk, OP_NORM_, -1, (1u << R) - 1);
    }
  }
  int want = 0;
  for (int b = 0; b < pl->nbuckets; b++) want += comm_bucket_has_rank(pl, b, r);
  CHECK_MSG(nslots == want, "rank %d graph %d: %d bucket slots, holds %d buckets", r, g, nslots, want);
  free(seen);
}

static int compile_for(Rank *rk, const char *text, int r, int R, int64_t bucket) {
  arena_init(&rk->arena);
  ir_program_init(&rk->prog, &rk->arena);
  Diag d;
  diag_init(&d);
  int ok = ir_parse(&rk->prog, srcfile_from_string(&rk->arena, "placed.mir", text), &d);
  rk->prog.target = (IrTarget){r, R, bucket, 1};
  ok = ok && pass_run_one(&rk->prog, pass_find("comm"), 1, &d);
  CHECK_MSG(ok, "rank %d: %s", r, d.out.s ? d.out.s : "");
  diag_free(&d);
  return ok;
}

static void simulate(uint64_t seed) {
  int R = 2 + (int)(seed % 5);
  RandOpts o = {seed, 5 + (int)(seed % 4), 2, 8 + (int)(seed % 6), R, 0.15, 0.2, seed % 2 ? 0.3 : 0.0, (int)(seed % 3 == 0),
                1, 40};
  RandInst ri;
  if (!rand_instance(&ri, &o)) {
    CHECK(0);
    return;
  }
  Diag d;
  diag_init(&d);
  Placement pl;
  CHECK(place_run(&ri.in, PLACE_EXACT, &ri.arena, &pl, &d));
  place_apply(&ri.prog, &pl);
  StrBuf text;
  sb_init(&text);
  ir_print_program(&text, &ri.prog);
  int64_t bucket = 1024 + (int64_t)(seed % 4) * 4096;
  CommPlan plan;
  CHECK(comm_plan_build(&ri.prog, R, bucket, &ri.arena, &plan, &d));
  Rank *rk = calloc((size_t)R, sizeof(Rank));
  int ok = 1;
  for (int r = 0; r < R; r++) {
    ok &= compile_for(&rk[r], text.s, r, R, bucket);
    build_samplers(&rk[r], &pl, &ri.in, seed);
  }
  CommStep st, mine;
  CHECK(comm_step_alloc(&plan, &st) && comm_step_alloc(&plan, &mine));
  int gor[MAXR], gor2[MAXR], active = 0, elided = 0;
  for (int64_t step = 0; ok && step < 50; step++) {
    graphs_at(&rk[0], &pl, &ri.in, step, gor);
    comm_schedule(&plan, step, gor, &st);
    for (int r = 1; r < R; r++) { /* each rank computes the same schedule on its own */
      graphs_at(&rk[r], &pl, &ri.in, step, gor2);
      CHECK(memcmp(gor, gor2, sizeof(int) * (size_t)R) == 0);
      comm_schedule(&plan, step, gor2, &mine);
      for (int b = 0; b < plan.nbuckets; b++) {
        const CommSlot *x = &st.slots[b], *y = &mine.slots[b];
        CHECK(x->active == y->active && x->root == y->root && x->ntrainers == y->ntrainers &&
              x->nreceivers == y->nreceivers &&
              !memcmp(x->trainers, y->trainers, sizeof(int) * (size_t)x->ntrainers) &&
              !memcmp(x->receivers, y->receivers, sizeof(int) * (size_t)x->nreceivers));
      }
    }
    /* elision: active iff some holder's task reads the bucket's modules (on sync steps) */
    for (int b = 0; b < plan.nbuckets; b++) {
      const CommBucket *bk = &plan.buckets[b];
      const CommGroup *g = &plan.groups[bk->group];
      int trained = 0;
      for (int i = 0; i < g->n; i++) trained |= bk->trained_by[gor[g->ranks[i]]];
      int sync = bk->every <= 1 || (step + 1) % bk->every == 0;
      CHECK(st.slots[b].active == (trained && sync));
      active += st.slots[b].active;
      elided += !st.slots[b].active;
      if (!st.slots[b].active) CHECK(st.slots[b].ntrainers == 0 && st.slots[b].nreceivers == 0);
    }
    for (int r = 0; r < R; r++) {
      rk[r].nops = 0;
      run_rank(&rk[r], r, gor[r], &plan, &st, R);
    }
    /* per communicator: all members see the same operations in the same order */
    for (int r = 0; r < R; r++)
      for (int i = 0; i < rk[r].nops; i++) {
        unsigned comm = rk[r].ops[i].comm;
        CHECK_MSG(comm >> r & 1, "rank %d performs an operation it is not part of", r);
        for (int q = 0; q < R; q++) {
          if (!(comm >> q & 1)) continue;
          int a = 0, b = 0, same = 1; /* compare the subsequences on `comm` */
          for (;;) {
            while (a < rk[r].nops && rk[r].ops[a].comm != comm) a++;
            while (b < rk[q].nops && rk[q].ops[b].comm != comm) b++;
            if (a == rk[r].nops || b == rk[q].nops) {
              same &= a == rk[r].nops && b == rk[q].nops;
              break;
            }
            same &= rk[r].ops[a].kind == rk[q].ops[b].kind && rk[r].ops[a].bucket == rk[q].ops[b].bucket;
            a++, b++;
          }
          CHECK_MSG(same, "seed %llu step %lld: ranks %d and %d disagree on communicator %#x", (unsigned long long)seed,
                    (long long)step, r, q, comm);
        }
      }
    /* each rank follows the global order: reductions by bucket, broadcasts by bucket, the norm */
    for (int r = 0; r < R; r++)
      for (int i = 1; i < rk[r].nops; i++) {
        const SimOp *x = &rk[r].ops[i - 1], *y = &rk[r].ops[i];
        CHECK(x->kind < y->kind || (x->kind == y->kind && x->bucket < y->bucket));
      }
  }
  printf("seed %llu: %d ranks, %d tasks, %d groups, %d buckets; 50 steps: %d bucket-steps active, %d elided\n",
         (unsigned long long)seed, R, ri.in.ntasks, plan.ngroups, plan.nbuckets, active, elided);
  comm_step_free(&st);
  comm_step_free(&mine);
  for (int r = 0; r < R; r++) arena_free(&rk[r].arena);
  free(rk);
  sb_free(&text);
  diag_free(&d);
  rand_free(&ri);
}

int main(void) {
  for (uint64_t seed = 1; seed <= 12; seed++) simulate(seed);
  return test_done();
}
