/* scorer.c — next-token log-probabilities for the rows of a search (decode_internal.h):
 * the cached scorer runs the encoder graph once per batch and the step graph once per
 * position, keeping the encoder values, key/value caches and recurrent states per row and
 * reordering them as the search keeps, drops and copies rows; the no-cache scorer (the
 * baseline) runs the whole task graph on every row's prefix at every step.
 *
 * Shapes: caches [rows, ..., P, ...] with the positions on the axis of the symbol P (keys
 * [rows, H, P, dh], key masks [rows, P]); each step appends the new position's rows
 * [rows, ..., 1, ...]; states [rows, H, m, Dv'] are replaced.
 */
#include "decode_internal.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

static const IrGraph *graph_of(const Exec *e) { return &e->p->graphs.v[e->graph]; }

static int out_index(const IrGraph *g, const char *name) {
  for (int k = 0; k < g->outputs.n; k++)
    if (strcmp(g->outputs.v[k].name, name) == 0) return k;
  return -1;
}

static int ninputs(const IrGraph *g) {
  int n = 0;
  while (n < g->nodes.n && g->nodes.v[n].op == OP_INPUT) n++;
  return n;
}

/* "cache.12" -> 12 when name starts with prefix, else -1 */
static int numbered(const char *name, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n) != 0 || !name[n]) return -1;
  char *end;
  long v = strtol(name + n, &end, 10);
  return *end || v < 0 || v > 100000 ? -1 : (int)v;
}

/* ---- layout -------------------------------------------------------------------------------------- */

static int layout_cached(DecScorer *sc, const IrGraph *eg, const IrGraph *sg, char *err, size_t errlen) {
  for (int i = 0; i < sc->nin; i++) {
    const IrNode *nd = &sg->nodes.v[i];
    int k;
    if (strcmp(nd->name, "tok") == 0) sc->kind[i] = IN_TOK, sc->bsym = nd->type.d[0].sym;
    else if (strcmp(nd->name, "pos") == 0) sc->kind[i] = IN_POS;
    else if ((k = numbered(nd->name, "enc.")) >= 0) sc->kind[i] = IN_ENC, sc->index[i] = k, sc->nenc++;
    else if ((k = numbered(nd->name, "cache.")) >= 0) sc->kind[i] = IN_CACHE, sc->index[i] = k, sc->ncache++;
    else if ((k = numbered(nd->name, "state.")) >= 0) sc->kind[i] = IN_STATE, sc->index[i] = k, sc->nstate++;
    else return snprintf(err, errlen, "step graph input %%%s is not a decoding input (docs/decoding.md)", nd->name), 0;
  }
  sc->cache_axis = calloc((size_t)sc->ncache + 1, sizeof(int));
  sc->out_of = calloc((size_t)(sc->ncache + sc->nstate) + 1, sizeof(int));
  sc->enc_batched = calloc((size_t)sc->nenc + 1, sizeof(int));
  if (!sc->cache_axis || !sc->out_of || !sc->enc_batched) return snprintf(err, errlen, "out of memory"), 0;
  for (int i = 0; i < sc->nin; i++) {
    const IrNode *nd = &sg->nodes.v[i];
    int k = sc->index[i], lim = sc->kind[i] == IN_ENC ? sc->nenc : sc->kind[i] == IN_CACHE ? sc->ncache : sc->nstate;
    if (sc->kind[i] >= IN_ENC && k >= lim) return snprintf(err, errlen, "step graph input %%%s is out of sequence", nd->name), 0;
    if (sc->kind[i] == IN_CACHE) {
      sc->cache_axis[k] = -1;
      for (int r = 1; r < nd->type.rank; r++)
        if (nd->type.d[r].sym >= 0 && nd->type.d[r].sym != sc->bsym) sc->cache_axis[k] = r;
      char name[32];
      snprintf(name, sizeof name, "cache.%d", k);
      if (sc->cache_axis[k] < 0 || (sc->out_of[k] = out_index(sg, name)) < 0)
        return snprintf(err, errlen, "step graph cache %%%s has no position axis or no output", nd->name), 0;
    }
    if (sc->kind[i] == IN_STATE) {
      char name[32];
      snprintf(name, sizeof name, "state.%d", k);
      if ((sc->out_of[sc->ncache + k] = out_index(sg, name)) < 0)
        return snprintf(err, errlen, "step graph state %%%s has no output", nd->name), 0;
    }
    if (sc->kind[i] == IN_ENC) {
      char name[32];
      snprintf(name, sizeof name, "enc.%d", k);
      int o = out_index(eg, name);
      if (o < 0) return snprintf(err, errlen, "the encoder graph has no output %s", name), 0;
      const IrType *t = &eg->nodes.v[eg->outputs.v[o].node].type;
      sc->enc_batched[k] = t->rank > 0 && t->d[0].sym == sc->bsym && sc->bsym >= 0;
    }
  }
  if (sc->bsym < 0 || ninputs(eg) > 1)
    return snprintf(err, errlen, "the step graph has no %%tok, or the encoder more than one input"), 0;
  return 1;
}

static int layout_nocache(DecScorer *sc, const IrGraph *g, char *err, size_t errlen) {
  int tgt = -1;
  for (int i = 0; i < sc->nin; i++)
    if (strcmp(g->nodes.v[i].name, "tgt") == 0) tgt = i;
  if (tgt < 0) tgt = sc->nin > 1 ? 1 : 0;
  if (sc->nin > 2 || sc->nin < 1) return snprintf(err, errlen, "the task graph must have inputs (src, tgt) or (tgt)"), 0;
  for (int i = 0; i < sc->nin; i++) sc->kind[i] = i == tgt ? IN_TGT : IN_SRC;
  sc->bsym = g->nodes.v[tgt].type.d[0].sym;
  return 1;
}

int scorer_init(DecScorer *sc, const IrProgram *p, int encode, int step, const ParamStore *ps, CgCpu *jit, DType fdt,
                char *err, size_t errlen) {
  memset(sc, 0, sizeof *sc);
  sc->p = p;
  sc->ps = ps;
  sc->nocache = encode < 0;
  sc->cx.fdt = fdt;
  sc->bsym = -1;
  const IrGraph *sg = &p->graphs.v[step];
  sc->nin = ninputs(sg);
  sc->kind = calloc((size_t)sc->nin + 1, sizeof(DecInKind));
  sc->index = calloc((size_t)sc->nin + 1, sizeof(int));
  sc->in = calloc((size_t)sc->nin + 1, sizeof(Tensor));
  sc->symvals = calloc((size_t)p->syms.n + 1, sizeof(int64_t));
  if (!sc->kind || !sc->index || !sc->in || !sc->symvals) return snprintf(err, errlen, "out of memory"), 0;
  int ok = sc->nocache ? layout_nocache(sc, sg, err, errlen) : layout_cached(sc, &p->graphs.v[encode], sg, err, errlen);
  sc->logits_out = out_index(sg, "logits");
  if (ok && sc->logits_out < 0)
    ok = (snprintf(err, errlen, "task @%s has no output `logits` (run the decode pass)", sg->task), 0);
  if (ok) {
    const IrType *lt = &sg->nodes.v[sg->outputs.v[sc->logits_out].node].type;
    Dim v = lt->d[lt->rank - 1];
    if (!dim_is_const(v) || lt->rank != (sc->nocache ? 3 : 2))
      ok = (snprintf(err, errlen, "the logits must be [B, V] (step) or [B, T-1, V] (task)"), 0);
    sc->V = (int)v.add;
  }
  ok = ok && (sc->nocache || exec_init(&sc->enc, p, encode, jit, err, errlen));
  sc->has_enc = ok && !sc->nocache;
  ok = ok && exec_init(&sc->step, p, step, jit, err, errlen);
  sc->has_step = ok;
  return ok;
}

static void free_batch(DecScorer *sc) {
  for (int k = 0; sc->enc_base && k < sc->nenc; k++) {
    rt_tensor_free(&sc->enc_base[k]);
    rt_tensor_free(&sc->enc_rows[k]);
  }
  for (int k = 0; sc->cache && k < sc->ncache; k++) rt_tensor_free(&sc->cache[k]);
  for (int k = 0; sc->state && k < sc->nstate; k++) rt_tensor_free(&sc->state[k]);
  free(sc->enc_base);
  free(sc->enc_rows);
  free(sc->cache);
  free(sc->state);
  free(sc->row_sent);
  free(sc->src);
  sc->enc_base = sc->enc_rows = sc->cache = sc->state = NULL;
  sc->row_sent = NULL;
  sc->src = NULL;
  sc->rows = sc->nsent = 0;
  sc->pending = 0;
}

void scorer_free(DecScorer *sc) {
  free_batch(sc);
  if (sc->has_enc) exec_free(&sc->enc);
  if (sc->has_step) exec_free(&sc->step);
  free(sc->kind);
  free(sc->index);
  free(sc->in);
  free(sc->symvals);
  free(sc->cache_axis);
  free(sc->out_of);
  free(sc->enc_batched);
  memset(sc, 0, sizeof *sc);
}

/* ---- rows ------------------------------------------------------------------------------------------ */

/* dst[i] = src[orig[i]] along axis 0. */
static int gather(const Tensor *src, const int *orig, int n, Tensor *dst) {
  int64_t shape[IR_MAX_RANK];
  memcpy(shape, src->shape, sizeof shape);
  shape[0] = n;
  if (!rt_tensor_alloc(dst, src->dt, src->rank, shape)) return 0;
  size_t row = (size_t)(src->shape[0] ? src->n / src->shape[0] : 0) * (size_t)dtype_size(src->dt);
  for (int i = 0; i < n; i++) memcpy((char *)dst->data + (size_t)i * row, (const char *)src->data + (size_t)orig[i] * row, row);
  return 1;
}

/* dst[i] = concat(cache[orig[i]], fresh[orig[i]]) along axis a. */
static int gather_append(const Tensor *c, const Tensor *f, int a, const int *orig, int n, Tensor *dst) {
  int64_t shape[IR_MAX_RANK];
  memcpy(shape, c->shape, sizeof shape);
  shape[0] = n;
  shape[a] = c->shape[a] + f->shape[a];
  if (c->dt != f->dt || c->rank != f->rank || !rt_tensor_alloc(dst, c->dt, c->rank, shape)) return 0;
  int64_t outer = 1, inner = 1;
  for (int r = 1; r < a; r++) outer *= c->shape[r];
  for (int r = a + 1; r < c->rank; r++) inner *= c->shape[r];
  size_t es = (size_t)dtype_size(c->dt), pc = (size_t)(c->shape[a] * inner) * es, pf = (size_t)(f->shape[a] * inner) * es;
  char *d = dst->data;
  for (int i = 0; i < n; i++)
    for (int64_t o = 0; o < outer; o++) {
      size_t at = (size_t)((int64_t)orig[i] * outer + o);
      memcpy(d, (const char *)c->data + at * pc, pc);
      memcpy(d + pc, (const char *)f->data + at * pf, pf);
      d += pc + pf;
    }
  return 1;
}

/* A zero tensor of input i's type with B = rows and the cached length 0. */
static int empty_of(DecScorer *sc, int i, Tensor *t) {
  const IrType *ty = &graph_of(&sc->step)->nodes.v[i].type;
  int64_t shape[IR_MAX_RANK];
  for (int r = 0; r < ty->rank; r++) {
    Dim d = ty->d[r];
    shape[r] = d.sym == sc->bsym ? sc->rows : d.sym >= 0 ? 0 : d.add;
  }
  return rt_tensor_alloc(t, ty->dt == DT_I32 ? DT_I32 : sc->cx.fdt, ty->rank, shape);
}

int scorer_encode(DecScorer *sc, const int32_t *src, int B, int S, char *err, size_t errlen) {
  free_batch(sc);
  sc->nsent = sc->rows = B;
  sc->S = S;
  sc->row_sent = malloc(sizeof(int) * (size_t)(B + 1));
  size_t ns = (size_t)B * (size_t)S;
  sc->src = malloc(sizeof(int32_t) * (ns + 1));
  if (!sc->row_sent || !sc->src) return snprintf(err, errlen, "out of memory"), 0;
  for (int b = 0; b < B; b++) sc->row_sent[b] = b;
  if (ns) memcpy(sc->src, src, sizeof(int32_t) * ns);
  if (sc->nocache) return 1;
  double t0 = mono_seconds();
  const IrGraph *eg = graph_of(&sc->enc);
  Tensor in = {DT_I32, 2, {B, S}, (int64_t)ns, sc->src};
  memset(sc->symvals, 0, sizeof(int64_t) * (size_t)sc->p->syms.n);
  if (ninputs(eg) == 1) {
    const IrType *t = &eg->nodes.v[0].type;
    for (int r = 0; r < t->rank && r < 2; r++)
      if (t->d[r].sym >= 0 && t->d[r].mul) sc->symvals[t->d[r].sym] = (in.shape[r] - t->d[r].add) / t->d[r].mul;
  }
  sc->symvals[sc->bsym] = B;
  if (!exec_run(&sc->enc, sc->symvals, &in, sc->ps, &sc->cx)) return snprintf(err, errlen, "encoder: %s", sc->cx.err), 0;
  sc->enc_base = calloc((size_t)sc->nenc + 1, sizeof(Tensor));
  sc->enc_rows = calloc((size_t)sc->nenc + 1, sizeof(Tensor));
  sc->cache = calloc((size_t)sc->ncache + 1, sizeof(Tensor));
  sc->state = calloc((size_t)sc->nstate + 1, sizeof(Tensor));
  int ok = sc->enc_base && sc->enc_rows && sc->cache && sc->state;
  for (int k = 0; ok && k < sc->nenc; k++) ok = rt_tensor_copy(exec_output(&sc->enc, k), &sc->enc_base[k]);
  exec_release(&sc->enc);
  for (int i = 0; ok && i < sc->nin; i++) {
    if (sc->kind[i] == IN_CACHE) ok = empty_of(sc, i, &sc->cache[sc->index[i]]);
    if (sc->kind[i] == IN_STATE) ok = empty_of(sc, i, &sc->state[sc->index[i]]);
  }
  sc->stats.encode_seconds += mono_seconds() - t0;
  return ok ? 1 : (snprintf(err, errlen, "out of memory"), 0);
}

int scorer_select(DecScorer *sc, const int *orig, int n, char *err, size_t errlen) {
  int *rs = malloc(sizeof(int) * (size_t)(n + 1));
  if (!rs) return snprintf(err, errlen, "out of memory"), 0;
  int same = n == sc->rows, ident = n == sc->nsent, ok = 1;
  for (int i = 0; i < n; i++) {
    rs[i] = sc->row_sent[orig[i]];
    same = same && rs[i] == sc->row_sent[i];
    ident &= rs[i] == i;
  }
  if (sc->nocache) {
    Tensor s = {DT_I32, 2, {sc->rows, sc->S}, (int64_t)sc->rows * sc->S, sc->src}, t;
    ok = gather(&s, orig, n, &t);
    if (ok) free(sc->src), sc->src = t.data;
  }
  for (int k = 0; ok && !sc->nocache && k < sc->ncache; k++) {
    Tensor t;
    ok = sc->pending ? gather_append(&sc->cache[k], exec_output(&sc->step, sc->out_of[k]), sc->cache_axis[k], orig, n, &t)
                     : gather(&sc->cache[k], orig, n, &t);
    if (ok) rt_tensor_free(&sc->cache[k]), sc->cache[k] = t;
  }
  for (int k = 0; ok && !sc->nocache && k < sc->nstate; k++) {
    Tensor t;
    ok = gather(sc->pending ? exec_output(&sc->step, sc->out_of[sc->ncache + k]) : &sc->state[k], orig, n, &t);
    if (ok) rt_tensor_free(&sc->state[k]), sc->state[k] = t;
  }
  for (int k = 0; ok && !same && !sc->nocache && k < sc->nenc; k++) { /* the rows' sentences changed */
    rt_tensor_free(&sc->enc_rows[k]);
    if (sc->enc_batched[k] && !ident) ok = gather(&sc->enc_base[k], rs, n, &sc->enc_rows[k]);
  }
  free(sc->row_sent);
  sc->row_sent = rs;
  sc->rows = n;
  sc->pending = 0;
  return ok ? 1 : (snprintf(err, errlen, "out of memory"), 0);
}

/* ---- a step ----------------------------------------------------------------------------------------- */

void dec_log_softmax(const Tensor *logits, int64_t row, int V, double *out) {
  const float *f = logits->dt == DT_F32 ? (const float *)logits->data + row * V : NULL;
  const double *g = logits->dt == DT_F64 ? (const double *)logits->data + row * V : NULL;
  double mx = -INFINITY, sum = 0;
  for (int v = 0; v < V; v++) {
    out[v] = f ? f[v] : g ? g[v] : rt_tensor_get(logits, row * V + v);
    if (out[v] > mx) mx = out[v];
  }
  for (int v = 0; v < V; v++) sum += exp(out[v] - mx);
  double lse = mx + log(sum);
  for (int v = 0; v < V; v++) out[v] -= lse;
}

/* Binds the program's symbols from the inputs' shapes against their declared types. */
static void bind(DecScorer *sc, const IrGraph *g) {
  memset(sc->symvals, 0, sizeof(int64_t) * (size_t)sc->p->syms.n);
  for (int i = 0; i < sc->nin; i++) {
    const IrType *t = &g->nodes.v[i].type;
    for (int r = 0; r < t->rank && r < sc->in[i].rank; r++)
      if (t->d[r].sym >= 0 && t->d[r].mul) sc->symvals[t->d[r].sym] = (sc->in[i].shape[r] - t->d[r].add) / t->d[r].mul;
  }
}

int scorer_step(DecScorer *sc, const int32_t *prefix, int stride, int t, double *logp, char *err, size_t errlen) {
  double t0 = mono_seconds();
  int R = sc->rows, W = sc->nocache ? t + 2 : 1;
  int32_t *tok = malloc(sizeof(int32_t) * ((size_t)R * (size_t)W + 1)), pos = t;
  if (!tok) return snprintf(err, errlen, "out of memory"), 0;
  for (int r = 0; r < R; r++)
    for (int j = 0; j < W; j++) tok[r * W + j] = sc->nocache ? (j <= t ? prefix[r * stride + j] : DEC_PAD) : prefix[r * stride + t];
  for (int i = 0; i < sc->nin; i++) {
    Tensor *x = &sc->in[i];
    int k = sc->index[i];
    switch (sc->kind[i]) {
    case IN_TOK:
    case IN_TGT: *x = (Tensor){DT_I32, 2, {R, W}, (int64_t)R * W, tok}; break;
    case IN_POS: *x = (Tensor){DT_I32, 0, {0}, 1, &pos}; break;
    case IN_SRC: *x = (Tensor){DT_I32, 2, {R, sc->S}, (int64_t)R * sc->S, sc->src}; break;
    case IN_ENC: *x = sc->enc_rows[k].data ? sc->enc_rows[k] : sc->enc_base[k]; break;
    case IN_CACHE: *x = sc->cache[k]; break;
    case IN_STATE: *x = sc->state[k]; break;
    }
  }
  bind(sc, graph_of(&sc->step));
  int ok = exec_run(&sc->step, sc->symvals, sc->in, sc->ps, &sc->cx);
  free(tok);
  if (!ok) return snprintf(err, errlen, "decoder step %d: %s", t, sc->cx.err), 0;
  const Tensor *lg = exec_output(&sc->step, sc->logits_out);
  for (int r = 0; r < R; r++) dec_log_softmax(lg, sc->nocache ? (int64_t)r * (t + 1) + t : r, sc->V, logp + (size_t)r * sc->V);
  sc->pending = !sc->nocache;
  sc->stats.steps++;
  sc->stats.rows += R;
  sc->stats.step_seconds += mono_seconds() - t0;
  return 1;
}
