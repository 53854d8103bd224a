/* test_cg_groups.c — codegen on the fusion groups of the real programs: each example
 * (examples/NAME.mam + .yaml) runs through autodiff, simplify and fusion (passes/), and every
 * group of every task graph (ir_fusion_groups, ir/group.h) is lowered; with LLVM each is
 * JIT-compiled once and run under two symbol bindings on random values of its input buffers,
 * against the interpreter running the group's members one by one on the same values.
 * Tolerance per element: 1e-5 max(|r64|, 1) + 8 |r32 - r64|, r32 the f32 interpreter. The
 * inputs are random, which can make a group ill-conditioned (a positional encoding's
 * sin(pos * exp(i * s)) with s > 0 takes arguments near 1e27, where one ulp of exp moves
 * sin anywhere in [-1, 1]): an element whose reference moves by more than 1e-3 max(|r64|, 1)
 * between the f32 and f64 interpreters, or when the inputs are scaled by 1 + 2^-22, is
 * counted as ill-conditioned and only checked for NaN agreement.
 * An example that does not elaborate or pass is skipped (its own tests report it); when none
 * does, the test exits 77, which ctest reports as skipped.
 * Also checks that codegen derives the same inputs and outputs as ir_fusion_groups for the
 * groups without matmul or reshape members (with them, codegen reads the product / the
 * reshaped operand as the buffer).
 */
#include <math.h>
#include <stdlib.h>

#include "bind.h"
#include "cpu.h"
#include "group.h"
#include "interp.h"
#include "pipeline.h"
#include "rng.h"
#include "test.h"

typedef struct Tally {
  int groups, lowered, run, same_io, refused;
  long illcond;
} Tally;

/* the members' values at fdt given the buffers' values: inputs from vals, compute members
 * through interp_node, a trailing reshape as its operand's elements */
static int reference(const IrProgram *p, const IrGraph *g, const FusionGroup *G, const int64_t *sym, Tensor *vals,
                     DType fdt, char *err, size_t errlen) {
  InterpCx cx = {.fdt = fdt};
  for (int m = G->first; m < G->first + G->count; m++) {
    const IrNode *n = &g->nodes.v[m];
    if (vals[m].data) continue; /* an input buffer (matmul, leading reshape) */
    if (n->op == OP_RESHAPE) {
      if (!rt_tensor_copy(&vals[n->in[0]], &vals[m])) return 0;
      continue;
    }
    const Tensor *ins[4];
    for (int j = 0; j < n->nin; j++) ins[j] = &vals[n->in[j]];
    if (!interp_node(p, g, m, sym, ins, &vals[m], &cx)) {
      snprintf(err, errlen, "%s", cx.err);
      return 0;
    }
  }
  return 1;
}

static void check_group(const IrProgram *p, int gi, const FusionGroup *G, CgCpu *s, Tally *t, const char *ex) {
  const IrGraph *g = &p->graphs.v[gi];
  int nodes[512], nn = 0;
  char err[512];
  for (int m = G->first; m < G->first + G->count && nn < 512; m++) nodes[nn++] = m;
  Kir kir;
  t->groups++;
  if (!cg_lower(p, g, nodes, nn, &kir, err, sizeof err)) {
    t->refused++;
    printf("NOT OK  %s @%s group %d (%s, %d members): refused: %s\n", ex, g->task, G->id, fusion_kind_name(G->kind),
           G->count, err);
    CHECK_MSG(0, "%s group %d: %s", ex, G->id, err);
    return;
  }
  t->lowered++;
  CgKernel k;
  cg_describe(&kir, &k, err, sizeof err);
  int plain = 1; /* no matmul / reshape members: the same buffers as ir_fusion_groups */
  for (int m = G->first; m < G->first + G->count; m++)
    if (g->nodes.v[m].op == OP_MATMUL || g->nodes.v[m].op == OP_RESHAPE) plain = 0;
  if (plain) {
    int same = k.nin == G->ninputs && k.nbufs - k.nin == G->noutputs;
    for (int i = 0; same && i < k.nin; i++) same = k.bufs[i].node == G->inputs[i];
    for (int i = 0; same && i < G->noutputs; i++) same = k.bufs[k.nin + i].node == G->outputs[i];
    CHECK_MSG(same, "%s group %d: codegen's buffers differ from ir_fusion_groups'", ex, G->id);
    t->same_io += same;
  }
  kir_free(&kir);
  if (!s || !cg_cpu_compile(s, p, g, nodes, nn, &k, err, sizeof err)) {
    if (s) CHECK_MSG(0, "%s group %d: %s", ex, G->id, err);
    return;
  }
  double worst = 0;
  int bad = 0;
  long ill0 = t->illcond;
  for (int b = 0; b < 2; b++) {
    int64_t sym[32];
    for (int i = 0; i < 32; i++) sym[i] = b ? 5 : 3;
    Tensor *v64 = calloc((size_t)g->nodes.n, sizeof *v64), *v32 = calloc((size_t)g->nodes.n, sizeof *v32);
    Tensor *vp = calloc((size_t)g->nodes.n, sizeof *vp);
    Tensor out[CG_MAX_BUFS] = {{0}};
    void *ptrs[CG_MAX_BUFS];
    const int64_t *shapes[CG_MAX_BUFS];
    int64_t dims[CG_MAX_DIMS];
    for (int i = 0; i < k.nbufs; i++) { /* inputs: random; outputs: allocated */
      const CgBufInfo *bi = &k.bufs[i];
      int64_t shape[IR_MAX_RANK];
      for (int j = 0; j < bi->type.rank; j++) shape[j] = dim_eval(bi->type.d[j], sym);
      if (!rt_tensor_alloc(&out[i], bi->dt, bi->type.rank, shape)) die("out of memory");
      if (!bi->out) {
        uint64_t key = rng_key(77 + (uint64_t)b, (uint64_t)bi->node);
        for (int64_t e = 0; e < out[i].n; e++)
          rt_tensor_set(&out[i], e, bi->dt == DT_I32 ? (double)(rng_u64(key, (uint64_t)e) % 5) : 2 * rng_uniform(key, (uint64_t)e) - 1);
        DType f64 = bi->dt == DT_I32 ? DT_I32 : DT_F64, f32 = bi->dt == DT_I32 ? DT_I32 : DT_F32;
        if (!rt_tensor_convert(&out[i], f64, &v64[bi->node]) || !rt_tensor_convert(&out[i], f32, &v32[bi->node]) ||
            !rt_tensor_convert(&out[i], f64, &vp[bi->node]))
          die("out of memory");
        for (int64_t e = 0; f64 == DT_F64 && e < vp[bi->node].n; e++) ((double *)vp[bi->node].data)[e] *= 1 + 0x1p-22;
      }
      ptrs[i] = out[i].data;
      shapes[i] = out[i].shape;
    }
    int ok = reference(p, g, G, sym, v64, DT_F64, err, sizeof err) &&
             reference(p, g, G, sym, v32, DT_F32, err, sizeof err) &&
             reference(p, g, G, sym, vp, DT_F64, err, sizeof err) &&
             cg_fill_dims(&k, shapes, sym, NULL, dims, err, sizeof err);
    CHECK_MSG(ok, "%s group %d: %s", ex, G->id, err);
    if (ok) k.fn(ptrs, dims, 0, cg_outer(&k, dims));
    for (int i = k.nin; ok && i < k.nbufs; i++) {
      const Tensor *r64 = &v64[k.bufs[i].node], *r32 = &v32[k.bufs[i].node], *rp = &vp[k.bufs[i].node];
      for (int64_t e = 0; e < out[i].n; e++) {
        double got = rt_tensor_get(&out[i], e), w = rt_tensor_get(r64, e), w32 = rt_tensor_get(r32, e);
        double dev = fmax(fabs(w32 - w), fabs(rt_tensor_get(rp, e) - w));
        if (isnan(got) || isnan(w)) {
          bad += !(isnan(got) && (isnan(w) || isnan(w32)));
          continue;
        }
        if (!(dev <= 1e-3 * fmax(fabs(w), 1))) {
          t->illcond++;
          continue;
        }
        double d = fabs(got - w), tol = 1e-5 * fmax(fabs(w), 1) + 8 * fabs(w32 - w);
        if (d / fmax(fabs(w), 1) > worst) worst = d / fmax(fabs(w), 1);
        if (!(d <= tol || got == w) && getenv("MAMC_CG_DUMP"))
          printf("  element %lld of b%d: got %.9g, f64 %.17g, f32 %.9g, perturbed %.17g\n", (long long)e, i, got, w, w32,
                 rt_tensor_get(rp, e));
        bad += !(d <= tol || got == w);
      }
    }
    for (int i = 0; i < k.nbufs; i++) rt_tensor_free(&out[i]);
    interp_values_free(v64, g->nodes.n);
    interp_values_free(v32, g->nodes.n);
    interp_values_free(vp, g->nodes.n);
    free(v64);
    free(v32);
    free(vp);
  }
  CHECK_MSG(!bad, "%s group %d: %d elements out of tolerance", ex, G->id, bad);
  if (bad && getenv("MAMC_CG_DUMP")) { /* the group's members and its KIR */
    StrBuf b;
    sb_init(&b);
    ir_print_graph(&b, p, gi);
    char pat[32];
    snprintf(pat, sizeof pat, " group %d\n", G->id);
    for (char *l = b.s, *e; l && *l; l = e ? e + 1 : NULL) {
      e = strchr(l, '\n');
      if (e && strstr(l, pat) && strstr(l, pat) < e + 1) printf("%.*s\n", (int)(e - l), l);
    }
    sb_free(&b);
    if (cg_lower(p, g, nodes, nn, &kir, err, sizeof err)) {
      sb_init(&b);
      kir_print(&b, &kir, 1);
      printf("%s", b.s);
      sb_free(&b);
      kir_free(&kir);
    }
  }
  t->run += !bad;
  printf("%-6s  %s @%s group %d: %s, %d members, %d inputs, %d outputs: max rel diff %.2e", bad ? "NOT OK" : "OK", ex,
         g->task, G->id, fusion_kind_name(G->kind), G->count, k.nin, k.nbufs - k.nin, worst);
  printf(t->illcond > ill0 ? " (%ld ill-conditioned)\n" : "\n", t->illcond - ill0);
}

static void example(const char *name, CgCpu *s, Tally *t) {
  char mam[256], yaml[256], err[512];
  snprintf(mam, sizeof mam, "examples/%s.mam", name);
  snprintf(yaml, sizeof yaml, "examples/%s.yaml", name);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  RunConfig *cfg = config_load(&a, &d, yaml);
  IrProgram *p = cfg ? fe_elaborate_config(&a, &d, mam, cfg) : NULL;
  const char *passes = "ASF";
  for (const char *c = passes; p && *c; c++) {
    char pn[2] = {*c, 0};
    if (!pass_run_one(p, pass_find(pn), 1, &d)) {
      if (*c == 'A') { /* a program autodiff cannot differentiate: forward only */
        diag_free(&d);
        diag_init(&d);
        p = fe_elaborate_config(&a, &d, mam, cfg);
        continue;
      }
      p = NULL;
    }
  }
  if (!p) /* the frontend's and the passes' own tests report that; here there is nothing to lower */
    printf("skipped %s: it does not elaborate or the passes fail:\n%s", name, d.out.s ? d.out.s : "\n");
  for (int gi = 0; p && gi < p->graphs.n; gi++) {
    FusionGroups fg;
    if (!ir_fusion_groups(p, gi, &a, &fg, err, sizeof err)) {
      CHECK_MSG(0, "%s: %s", name, err);
      continue;
    }
    for (int i = 0; i < fg.n; i++) check_group(p, gi, &fg.v[i], s, t, name);
  }
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  char err[256];
  CgCpu *s = cg_cpu_new(err, sizeof err);
  if (!s) printf("no JIT (%s): lowering only\n", err);
  Tally t = {0};
  const char *examples[] = {"lm", "shared", "multi"};
  for (int i = 0; i < COUNT_OF(examples); i++) example(examples[i], s, &t);
  printf("%d groups: %d lowered (%d refused), %d run against the interpreter (%ld ill-conditioned elements not "
         "compared), %d with ir_fusion_groups' buffers\n", t.groups, t.lowered, t.refused, t.run, t.illcond, t.same_io);
  if (t.groups == 0) { /* no example elaborates: the frontend's tests say why */
    printf("skipped: no example program elaborated, so there were no groups to check\n");
    cg_cpu_free(s);
    return test_failures ? 1 : 77; /* ctest: SKIP_RETURN_CODE */
  }
  int compiled, hits;
  cg_cpu_stats(s, &compiled, &hits);
  if (s) printf("compile cache: %d kernels compiled for %d groups (%d hits)\n", compiled, t.lowered, hits);
  cg_cpu_free(s);
  return test_done();
}
