/* test_fast.c — every fast f32 kernel (runtime/fast/) against the reference interpreter on
 * fresh random inputs: elementwise ops with several broadcasting patterns, reductions over
 * leading, trailing and middle axes, row softmax / norms / cross-entropy, softmax attention
 * (across query-block boundaries, cross and causal with Sq != Sk, padded and fully masked
 * batches) and its backward (softmax_attention_grad, each wrt, over several query blocks)
 * with causal and key masks, and the movement ops; cross-entropy's gradient also from the row
 * log-sum-exps its forward kept (FastLse). Prints OK/NOT OK with the worst relative
 * difference per case; tolerance 2e-5 relative (f32 kernels vs f64-accumulated reference). */
#include <stdlib.h>
#include <time.h>

#include "fast/fast.h"
#include "interp.h"
#include "rng.h"
#include "test.h"

static uint64_t seed;
static int cases, declined;
static int positive; /* draw float inputs from (0.1, 4.1) instead of (-2, 2) */
static int no_infer; /* the node's type is set by the caller (a form the verifier refuses) */
static int mask01;   /* rank-2 float inputs are 0/1 masks (about 30% zeros); 2: row 0 also drops its
                        last third (padding), row 1 drops every key */

typedef struct G {
  Arena a;
  IrProgram p;
  IrGraph *g;
} G;

static void g_init(G *t) {
  arena_init(&t->a);
  ir_program_init(&t->p, &t->a);
  int gi = ir_graph_add(&t->p, "t", 0, NULL);
  t->g = &t->p.graphs.v[gi];
}

static int input(G *t, DType dt, int rank, const int64_t *shape) {
  IrType ty = {.dt = dt, .rank = rank};
  for (int i = 0; i < rank; i++) ty.d[i] = dim_const(shape[i]);
  char name[16];
  snprintf(name, sizeof name, "x%d", t->g->nodes.n);
  return ir_input_add(&t->p, t->g, name, ty);
}

static int neg_inf; /* a quarter of a rank-3 f32 input is -inf (masked softmax rows) */

static void fill(Tensor *x, uint64_t key, int ids_below) {
  for (int64_t i = 0; i < x->n; i++) {
    double u = rng_uniform(key, (uint64_t)i);
    if (x->dt == DT_I32)
      ((int32_t *)x->data)[i] = (int32_t)(u * ids_below);
    else if (mask01 && x->rank == 2) { /* element 0 dropped: a causal query 0 of batch 0 sees no key */
      int64_t row = i / x->shape[1], col = i % x->shape[1];
      int pad = mask01 == 2 && (row > 0 || col >= x->shape[1] - x->shape[1] / 3);
      ((float *)x->data)[i] = u < 0.3 || i == 0 || pad ? 0.0f : 1.0f;
    }
    else if (neg_inf && x->rank == 3 && u < 0.25) /* masked logits */
      ((float *)x->data)[i] = -INFINITY;
    else
      ((float *)x->data)[i] = positive ? (float)(0.1 + 4 * u) : (float)(4 * u - 2);
  }
}

/* Set by the cross-entropy gradient's paired case: the forward node run first (fast_node_lse,
 * on the gradient's logits and targets) so that the gradient reads its row log-sum-exps. */
static int pair_fwd = -1;
static FastLse pair_lse;

/* Runs node `id` with fast_node and interp_node on random inputs; compares. */
static void check(G *t, int id, const char *what, int ids_below) {
  IrNode *n = &t->g->nodes.v[id];
  char err[512];
  if (!no_infer && !ir_infer(&t->p, t->g, id, err, sizeof err)) {
    CHECK_MSG(0, "%s: %s", what, err);
    return;
  }
  Tensor ins[8] = {{0}};
  const Tensor *ptr[8];
  for (int k = 0; k < n->nin; k++) {
    const IrNode *src = &t->g->nodes.v[n->in[k]];
    int64_t sh[IR_MAX_RANK];
    for (int d = 0; d < src->type.rank; d++) sh[d] = src->type.d[d].add;
    rt_tensor_alloc(&ins[k], src->type.dt, src->type.rank, sh);
    fill(&ins[k], rng_key(seed, (uint64_t)(cases * 16 + k)), ids_below);
    ptr[k] = &ins[k];
  }
  Tensor fast = {0}, ref = {0};
  int r;
  if (pair_fwd >= 0) { /* the forward's statistics, then the gradient reading them */
    Tensor loss = {0};
    int64_t reused = pair_lse.reused, rows = ptr[1]->n;
    r = fast_node_lse(&t->p, t->g, pair_fwd, NULL, ptr, &loss, &pair_lse, err, sizeof err);
    CHECK_MSG(r == 1 && pair_lse.rows == rows, "%s: forward %d (%s), %lld rows kept", what, r, err, (long long)pair_lse.rows);
    rt_tensor_free(&loss);
    r = fast_node_lse(&t->p, t->g, id, NULL, ptr, &fast, &pair_lse, err, sizeof err);
    CHECK_MSG(pair_lse.reused == reused + 1, "%s: the gradient did not read the kept statistics", what);
  } else {
    r = fast_node(&t->p, t->g, id, NULL, ptr, &fast, err, sizeof err);
  }
  InterpCx cx = {DT_F64, 1, 0, 0, {0}};
  int ok = interp_node(&t->p, t->g, id, NULL, ptr, &ref, &cx);
  cases++;
  if (r < 0) {
    declined++;
    printf("-- declined (interpreter runs it): %s\n", what);
  } else {
    CHECK_MSG(r == 1 && ok, "%s: fast %d (%s), interp %d (%s)", what, r, err, ok, cx.err);
    double worst = 0;
    int same = r == 1 && ok && fast.n == ref.n;
    for (int64_t i = 0; same && i < fast.n; i++) {
      double a = rt_tensor_get(&fast, i), b = rt_tensor_get(&ref, i);
      double d = fabs(a - b) / fmax(1.0, fabs(b));
      if (isnan(a) != isnan(b)) d = 1;
      if (d > worst) worst = d;
    }
    printf("%s %-44s max rel diff %.2e\n", same && worst < 2e-5 ? "OK    " : "NOT OK", what, worst);
    CHECK_MSG(same && worst < 2e-5, "%s: worst %.3g (seed %llu)", what, worst, (unsigned long long)seed);
    if (pair_fwd >= 0 && same) { /* gradients are small: normwise too, over the finite entries */
      double e2 = 0, r2 = 0;
      for (int64_t i = 0; i < fast.n; i++) {
        double a = rt_tensor_get(&fast, i), b = rt_tensor_get(&ref, i);
        if (isnan(b)) continue;
        e2 += (a - b) * (a - b), r2 += b * b;
      }
      CHECK_MSG(sqrt(e2) <= 1e-6 * sqrt(r2), "%s: normwise relative difference %.3g (seed %llu)", what,
                sqrt(e2 / (r2 > 0 ? r2 : 1)), (unsigned long long)seed);
    }
  }
  rt_tensor_free(&fast);
  rt_tensor_free(&ref);
  for (int k = 0; k < n->nin; k++) rt_tensor_free(&ins[k]);
}

static void ew_cases(void) {
  static const Op un[] = {OP_NEG, OP_EXP, OP_LOG, OP_SQRT, OP_RSQRT, OP_RECIP, OP_ABS, OP_SQUARE,
                          OP_TANH, OP_SIGMOID, OP_RELU, OP_GELU, OP_SILU, OP_SIN, OP_COS};
  for (int i = 0; i < COUNT_OF(un); i++) {
    G t;
    g_init(&t);
    int x = input(&t, DT_F32, 3, (int64_t[]){3, 5, 33});
    int id = ir_node_add(&t.p, t.g, un[i], 1, &x);
    positive = un[i] == OP_LOG || un[i] == OP_SQRT || un[i] == OP_RSQRT;
    check(&t, id, op_info(un[i])->name, 0);
    positive = 0;
    arena_free(&t.a);
  }
  static const Op bin[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAXIMUM, OP_MINIMUM, OP_EQ, OP_NE, OP_LT, OP_LE};
  const int64_t shapes[][2][4] = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, /* same shape */
      {{2, 3, 4, 5}, {1, 1, 1, 5}}, /* bias over the last axis */
      {{2, 3, 4, 5}, {2, 1, 4, 1}}, /* middle broadcast */
      {{2, 3, 4, 5}, {1, 1, 1, 1}}, /* scalar-like */
      {{1, 3, 1, 5}, {2, 1, 4, 1}}, /* both broadcast */
  };
  for (int i = 0; i < COUNT_OF(bin); i++)
    for (int s = 0; s < COUNT_OF(shapes); s++) {
      G t;
      g_init(&t);
      int in[2] = {input(&t, DT_F32, 4, shapes[s][0]), input(&t, DT_F32, 4, shapes[s][1])};
      int id = ir_node_add(&t.p, t.g, bin[i], 2, in);
      char what[64];
      snprintf(what, sizeof what, "%s, broadcast pattern %d", op_info(bin[i])->name, s);
      check(&t, id, what, 0);
      arena_free(&t.a);
    }
}

static void reduce_cases(void) {
  static const Op ops[] = {OP_REDUCE_SUM, OP_REDUCE_MEAN, OP_REDUCE_MAX};
  const int64_t axes[][3] = {{0, 1, -1}, {2, -1, -1}, {1, -1, -1}, {0, 2, -1}, {0, 1, 2}};
  for (int i = 0; i < COUNT_OF(ops); i++)
    for (int a = 0; a < COUNT_OF(axes); a++)
      for (int keep = 0; keep < 2; keep++) {
        G t;
        g_init(&t);
        int x = input(&t, DT_F32, 3, (int64_t[]){4, 6, 37});
        int id = ir_node_add(&t.p, t.g, ops[i], 1, &x);
        int64_t ax[3];
        int na = 0;
        for (int k = 0; k < 3; k++)
          if (axes[a][k] >= 0) ax[na++] = axes[a][k];
        ir_set_ints(&t.p, &t.g->nodes.v[id], "axes", ax, na);
        ir_set_i(&t.g->nodes.v[id], "keepdim", keep);
        char what[80];
        snprintf(what, sizeof what, "%s axes set %d keepdim %d", op_info(ops[i])->name, a, keep);
        check(&t, id, what, 0);
        arena_free(&t.a);
      }
}

static void row_cases(void) {
  const int64_t lens[] = {1, 3, 17, 260};
  for (int l = 0; l < COUNT_OF(lens); l++) {
    Op ops[] = {OP_SOFTMAX, OP_LOG_SOFTMAX, OP_LAYERNORM, OP_RMSNORM};
    for (int i = 0; i < COUNT_OF(ops); i++) {
      G t;
      g_init(&t);
      int x = input(&t, DT_F32, 3, (int64_t[]){2, 5, lens[l]});
      int in[3] = {x, input(&t, DT_F32, 1, &lens[l]), input(&t, DT_F32, 1, &lens[l])};
      int nin = ops[i] == OP_LAYERNORM ? 3 : ops[i] == OP_RMSNORM ? 2 : 1;
      int id = ir_node_add(&t.p, t.g, ops[i], nin, in);
      char what[64];
      snprintf(what, sizeof what, "%s rows of %lld", op_info(ops[i])->name, (long long)lens[l]);
      check(&t, id, what, 0);
      arena_free(&t.a);
    }
    G t;
    g_init(&t);
    neg_inf = 1; /* e^-inf is exactly 0; rows with every entry -inf are NaN in both */
    int xm = input(&t, DT_F32, 3, (int64_t[]){2, 5, lens[l]});
    char what[64];
    snprintf(what, sizeof what, "softmax rows of %lld with -inf", (long long)lens[l]);
    check(&t, ir_node_add(&t.p, t.g, OP_SOFTMAX, 1, &xm), what, 0);
    neg_inf = 0;
    arena_free(&t.a);
    g_init(&t);
    int in[2] = {input(&t, DT_F32, 3, (int64_t[]){3, 4, lens[l]}), input(&t, DT_I32, 2, (int64_t[]){3, 4})};
    int id = ir_node_add(&t.p, t.g, OP_CROSS_ENTROPY, 2, in);
    ir_set_f(&t.g->nodes.v[id], "smoothing", 0.1);
    ir_set_i(&t.g->nodes.v[id], "ignore", 0);
    snprintf(what, sizeof what, "cross_entropy V %lld, smoothing, ignore", (long long)lens[l]);
    check(&t, id, what, (int)lens[l]);
    int gin[3] = {in[0], in[1], input(&t, DT_F32, 0, NULL)};
    id = ir_node_add(&t.p, t.g, OP_CROSS_ENTROPY_GRAD, 3, gin);
    ir_set_f(&t.g->nodes.v[id], "smoothing", 0.1);
    ir_set_i(&t.g->nodes.v[id], "ignore", 0);
    snprintf(what, sizeof what, "cross_entropy_grad V %lld, smoothing, ignore", (long long)lens[l]);
    check(&t, id, what, (int)lens[l]);
    /* the same from the forward's row log-sum-exps; with -inf entries (rows all -inf: NaN in both) */
    for (int inf = 0; inf < 2; inf++) {
      neg_inf = inf;
      pair_fwd = ir_node_add(&t.p, t.g, OP_CROSS_ENTROPY, 2, in);
      ir_set_i(&t.g->nodes.v[pair_fwd], "ignore", 0);
      CHECK(ir_infer(&t.p, t.g, pair_fwd, what, sizeof what));
      snprintf(what, sizeof what, "cross_entropy_grad V %lld from the forward's lse%s", (long long)lens[l],
               inf ? ", -inf" : "");
      check(&t, id, what, (int)lens[l]);
      pair_fwd = -1, neg_inf = 0;
    }
    arena_free(&t.a);
  }
}

static void attention_cases(void) {
  /* the forward: query blocks of 64 (causal) / 128 rows, so Sq = 1, 7, 64, 65, 130, 150 cover one
   * block, a partial one and several; cross attention (Sq != Sk); causal with Sq < Sk (queries
   * are the last Sq positions) and Sq > Sk (the first Sq - Sk queries see no key: a whole
   * block of zeros; shape inference refuses causal Sq != Sk, the interpreter defines it, so
   * those cases set the type themselves); mask 2: padding and a batch with every key masked */
  static const struct {
    int64_t Sq, Sk;
    int causal, mask;
    double scale;
  } fw[] = {{7, 7, 1, 0, 0},     {7, 7, 1, 1, 0},   {7, 11, 0, 0, 0},     {7, 11, 0, 1, 0},   {1, 1, 1, 1, 0},
            {1, 150, 0, 1, 0},   {1, 150, 1, 0, 0}, {65, 65, 1, 0, 0},    {64, 64, 1, 1, 0},  {130, 130, 1, 1, 0.2},
            {130, 130, 0, 0, 0}, {130, 11, 0, 1, 0}, {129, 300, 0, 2, 0}, {70, 150, 1, 1, 0}, {150, 70, 1, 0, 0},
            {150, 70, 1, 2, 0},  {65, 200, 1, 2, 0}, {200, 65, 0, 2, 0.3}};
  for (int c = 0; c < COUNT_OF(fw); c++) {
    G t;
    g_init(&t);
    int64_t Sq = fw[c].Sq, Sk = fw[c].Sk;
    int in[4] = {input(&t, DT_F32, 4, (int64_t[]){2, 3, Sq, 8}), input(&t, DT_F32, 4, (int64_t[]){2, 3, Sk, 8}),
                 input(&t, DT_F32, 4, (int64_t[]){2, 3, Sk, 5}), input(&t, DT_F32, 2, (int64_t[]){2, Sk})};
    int id = ir_node_add(&t.p, t.g, OP_SOFTMAX_ATTENTION, fw[c].mask ? 4 : 3, in);
    ir_set_i(&t.g->nodes.v[id], "causal", fw[c].causal);
    if (fw[c].scale) ir_set_f(&t.g->nodes.v[id], "scale", fw[c].scale);
    no_infer = fw[c].causal && Sq != Sk;
    if (no_infer)
      t.g->nodes.v[id].type =
          (IrType){.dt = DT_F32, .rank = 4, .d = {dim_const(2), dim_const(3), dim_const(Sq), dim_const(5)}};
    char what[80];
    snprintf(what, sizeof what, "softmax_attention causal %d mask %d Sq %lld Sk %lld%s", fw[c].causal, fw[c].mask,
             (long long)Sq, (long long)Sk, fw[c].scale ? " scale" : "");
    mask01 = fw[c].mask ? fw[c].mask : 1;
    check(&t, id, what, 0);
    mask01 = no_infer = 0;
    arena_free(&t.a);
  }
  /* the backward: 70 queries (blocks of 64, causal 32), each wrt; cross attention with 11 or 150 keys */
  static const char *wrts[] = {"all", "q", "kv"};
  for (int wrt = 0; wrt < 3; wrt++)
    for (int causal = 0; causal < 2; causal++)
      for (int masked = 0; masked < 2; masked++)
        for (int cross = 0; cross < (wrt && !causal ? 3 : 1); cross++) {
          G t;
          g_init(&t);
          int64_t Sq = 70, Sk = cross == 1 ? 11 : cross == 2 ? 150 : 70;
          int in[5] = {input(&t, DT_F32, 4, (int64_t[]){2, 3, Sq, 8}), input(&t, DT_F32, 4, (int64_t[]){2, 3, Sk, 8}),
                       input(&t, DT_F32, 4, (int64_t[]){2, 3, Sk, 5}), input(&t, DT_F32, 2, (int64_t[]){2, Sk}),
                       input(&t, DT_F32, 4, (int64_t[]){2, 3, Sq, 5})};
          if (!masked) in[3] = in[4];
          int id = ir_node_add(&t.p, t.g, OP_SOFTMAX_ATTENTION_GRAD, masked ? 5 : 4, in);
          ir_set_i(&t.g->nodes.v[id], "causal", causal);
          ir_set_enum(&t.g->nodes.v[id], "wrt", wrts[wrt]);
          if (cross == 2) ir_set_f(&t.g->nodes.v[id], "scale", 0.2);
          char what[80];
          snprintf(what, sizeof what, "softmax_attention_grad %s causal %d mask %d Sk %lld", wrts[wrt], causal, masked,
                   (long long)Sk);
          mask01 = 1;
          check(&t, id, what, 0);
          mask01 = 0;
          arena_free(&t.a);
        }
}

static void move_cases(void) {
  { /* transpose */
    G t;
    g_init(&t);
    int x = input(&t, DT_F32, 4, (int64_t[]){2, 3, 4, 5});
    int id = ir_node_add(&t.p, t.g, OP_TRANSPOSE, 1, &x);
    ir_set_ints(&t.p, &t.g->nodes.v[id], "perm", (int64_t[]){0, 2, 1, 3}, 4);
    check(&t, id, "transpose [0, 2, 1, 3]", 0);
    arena_free(&t.a);
  }
  { /* slice with a negative end, pad back */
    G t;
    g_init(&t);
    int x = input(&t, DT_F32, 3, (int64_t[]){2, 9, 4});
    int id = ir_node_add(&t.p, t.g, OP_SLICE, 1, &x);
    ir_set_i(&t.g->nodes.v[id], "axis", 1);
    ir_set_i(&t.g->nodes.v[id], "start", 1);
    ir_set_i(&t.g->nodes.v[id], "end", -2);
    check(&t, id, "slice axis 1 [1:-2]", 0);
    int y = input(&t, DT_F32, 3, (int64_t[]){2, 6, 4});
    int pd = ir_node_add(&t.p, t.g, OP_PAD, 1, &y);
    t.g->nodes.v[pd].type = (IrType){.dt = DT_F32, .rank = 3, .d = {dim_const(2), dim_const(9), dim_const(4)}};
    ir_set_i(&t.g->nodes.v[pd], "axis", 1);
    ir_set_i(&t.g->nodes.v[pd], "start", 1);
    ir_set_i(&t.g->nodes.v[pd], "end", -2);
    check(&t, pd, "pad axis 1 [1:-2]", 0);
    arena_free(&t.a);
  }
  { /* gather and scatter_add */
    G t;
    g_init(&t);
    int in[2] = {input(&t, DT_F32, 2, (int64_t[]){13, 6}), input(&t, DT_I32, 2, (int64_t[]){3, 4})};
    int id = ir_node_add(&t.p, t.g, OP_GATHER, 2, in);
    check(&t, id, "gather [13, 6] by [3, 4]", 13);
    int in2[2] = {input(&t, DT_I32, 2, (int64_t[]){3, 4}), input(&t, DT_F32, 3, (int64_t[]){3, 4, 6})};
    int sc = ir_node_add(&t.p, t.g, OP_SCATTER_ADD, 2, in2);
    t.g->nodes.v[sc].type = (IrType){.dt = DT_F32, .rank = 2, .d = {dim_const(13), dim_const(6)}};
    check(&t, sc, "scatter_add into [13, 6]", 13);
    arena_free(&t.a);
  }
  { /* concat, expand, reshape */
    G t;
    g_init(&t);
    int in[2] = {input(&t, DT_F32, 3, (int64_t[]){2, 3, 4}), input(&t, DT_F32, 3, (int64_t[]){2, 5, 4})};
    int id = ir_node_add(&t.p, t.g, OP_CONCAT, 2, in);
    ir_set_i(&t.g->nodes.v[id], "axis", 1);
    check(&t, id, "concat axis 1", 0);
    int x = input(&t, DT_F32, 3, (int64_t[]){2, 1, 4});
    int ex = ir_node_add(&t.p, t.g, OP_EXPAND, 1, &x);
    t.g->nodes.v[ex].type = (IrType){.dt = DT_F32, .rank = 3, .d = {dim_const(2), dim_const(6), dim_const(4)}};
    check(&t, ex, "expand [2, 1, 4] -> [2, 6, 4]", 0);
    int rs = ir_node_add(&t.p, t.g, OP_RESHAPE, 1, &x);
    t.g->nodes.v[rs].type = (IrType){.dt = DT_F32, .rank = 2, .d = {dim_const(2), dim_const(4)}};
    check(&t, rs, "reshape [2, 1, 4] -> [2, 4]", 0);
    arena_free(&t.a);
  }
}

int main(void) {
  const char *s = getenv("MAMC_TEST_SEED");
  seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
  printf("seed %llu (MAMC_TEST_SEED to replay)\n", (unsigned long long)seed);
  ew_cases();
  reduce_cases();
  row_cases();
  attention_cases();
  move_cases();
  free(pair_lse.v);
  printf("%d cases, %d declined\n", cases, declined);
  CHECK(declined == 0);
  return test_done();
}
