/* trainer_valid.c — validation BLEU and chrF during training (trainer.h: trainer_setup_bleu,
 * trainer_validate_bleu). At set-up, the first N lines of each validated task's validation
 * data (source and reference text) are kept and one cached greedy decoder is built per task
 * on the decode pass's programs; the decoders read the trainer's own ParamStore, so every
 * validation translates with the current parameters without writing a checkpoint. Scores
 * are corpus BLEU (13a, exp smoothing) and chrF2 from runtime/eval/, summed as statistics
 * over the processes that validate (each task is validated by the one that owns it).
 */
#include <math.h>
#include <stdlib.h>

#include "decode.h"
#include "dist.h"
#include "eval/eval.h"
#include "trainer_internal.h"

typedef struct TVTask {
  int task;                /* trainer task spec */
  Decoder *dec;
  int n;
  const char **src, **ref; /* n lines each, in the trainer's arena */
} TVTask;

struct TValidBleu {
  int n;
  TVTask *v;
};

/* per task: BLEU hyp_len, ref_len, correct[4], total[4]; chrF hyp[6], ref[6], match[6]; lines */
enum { NSTAT = 2 + 2 * EVAL_BLEU_ORDER + 3 * EVAL_CHRF_ORDER + 1 };

void tvalid_free(Trainer *t) {
  struct TValidBleu *vb = t->vbleu;
  if (!vb) return;
  for (int i = 0; i < vb->n; i++) decoder_free(vb->v[i].dec);
  free(vb->v);
  free(vb);
  t->vbleu = NULL;
}

/* The decode program must come from the same elaboration: same modules, parameters, shapes. */
static int same_modules(const IrProgram *a, const IrProgram *b) {
  if (a->modules.n != b->modules.n) return 0;
  for (int m = 0; m < a->modules.n; m++) {
    const IrModule *x = &a->modules.v[m], *y = &b->modules.v[m];
    if (strcmp(x->name, y->name) != 0 || x->params.n != y->params.n) return 0;
    for (int q = 0; q < x->params.n; q++)
      if (strcmp(x->params.v[q].name, y->params.v[q].name) != 0 || !type_eq(&x->params.v[q].type, &y->params.v[q].type))
        return 0;
  }
  return 1;
}

static int same_graph(const IrGraph *a, const IrGraph *b) {
  if (strcmp(a->task, b->task) != 0 || a->nargs != b->nargs) return 0;
  for (int i = 0; i < a->nargs; i++)
    if (strcmp(a->args[i], b->args[i]) != 0) return 0;
  return 1;
}

static int setup_task(Trainer *t, const IrProgram *dec, int k, int sentences, TVTask *out, Diag *d) {
  const TTask *tk = &t->tasks[k];
  const TrainTaskSpec *sp = &tk->spec;
  int g = sp->graph, enc, step;
  if (g < 0 || g >= t->train->graphs.n || g >= dec->graphs.n || !same_graph(&t->train->graphs.v[g], &dec->graphs.v[g])) {
    diag_plain(d, "valid_bleu: task %s has no graph in the decoding program", sp->name);
    return 0;
  }
  if (!dec_find_graphs(dec, g, &enc, &step)) {
    diag_plain(d, "valid_bleu: task %s cannot be decoded (translation needs a task with a source and a target "
                  "input; set train.valid_bleu: 0)", sp->name);
    return 0;
  }
  Corpus c;
  if (corpus_load(&c, &t->arena, d, &sp->valid) != 0) return 0;
  int n = c.n < sentences ? (int)c.n : sentences;
  out->task = k;
  out->n = n;
  out->src = ARENA_ARRAY(&t->arena, const char *, n + 1);
  out->ref = ARENA_ARRAY(&t->arena, const char *, n + 1);
  if (sp->src_col >= c.ncols || sp->tgt_col >= c.ncols) {
    diag_plain(d, "valid_bleu: the validation data of task %s has %d column%s", sp->name, c.ncols, c.ncols == 1 ? "" : "s");
    return 0;
  }
  for (int i = 0; i < n; i++) {
    out->src[i] = corpus_field(&c, i, sp->src_col, NULL);
    out->ref[i] = corpus_field(&c, i, sp->tgt_col, NULL);
  }
  char err[512];
  out->dec = decoder_new(dec, enc, step, &t->params, t->jit, t->opts.fdt, err, sizeof err);
  if (!out->dec) {
    diag_plain(d, "valid_bleu: task %s: %s", sp->name, err);
    return 0;
  }
  if (decoder_vocab(out->dec) != tokenizer_vocab_size(t->toks[sp->tgt_vocab])) {
    diag_plain(d, "valid_bleu: task %s: the model's output vocabulary has %d ids, its target vocabulary %d", sp->name,
               decoder_vocab(out->dec), tokenizer_vocab_size(t->toks[sp->tgt_vocab]));
    return 0;
  }
  return 1;
}

int trainer_setup_bleu(Trainer *t, const IrProgram *dec, int sentences, Diag *d) {
  tvalid_free(t);
  if (sentences <= 0) return 1;
  if (!dec || !same_modules(t->train, dec)) {
    diag_plain(d, "valid_bleu: the decoding program does not have the training program's modules");
    return 0;
  }
  struct TValidBleu *vb = calloc(1, sizeof *vb);
  if (vb) vb->v = calloc((size_t)t->ntasks + 1, sizeof(TVTask));
  if (!vb || !vb->v) {
    free(vb);
    diag_plain(d, "out of memory");
    return 0;
  }
  t->vbleu = vb;
  for (int k = 0; k < t->ntasks; k++) {
    const TTask *tk = &t->tasks[k];
    if (!tk->owned || !tk->nvalid) continue; /* the copy of a task that validates it */
    if (!setup_task(t, dec, k, sentences, &vb->v[vb->n], d)) {
      decoder_free(vb->v[vb->n].dec);
      vb->v[vb->n].dec = NULL;
      tvalid_free(t);
      return 0;
    }
    vb->n++;
  }
  return 1;
}

/* Translates task i's lines and adds their statistics to st[NSTAT]. */
static int score_task(Trainer *t, TVTask *v, double *st, Diag *d) {
  const TrainTaskSpec *sp = &t->tasks[v->task].spec;
  DecodeOpts o = {0};
  o.beam = 1;
  o.nbest = 1;
  o.lp = DEC_LP_AVG;
  o.alpha = 1.0;
  DecTextHyp *h = calloc((size_t)v->n + 1, sizeof *h);
  char err[512] = "out of memory";
  if (!h || !dec_translate_text(v->dec, t->toks[sp->src_vocab], t->toks[sp->tgt_vocab], v->src, v->n, &o, 32, h, err,
                                sizeof err)) {
    free(h);
    diag_plain(d, "validation BLEU of %s: %s", sp->name, err);
    return 0;
  }
  BleuStats bs;
  ChrfStats cs;
  memset(&bs, 0, sizeof bs);
  memset(&cs, 0, sizeof cs);
  EvalOpts eo = {0};
  int ok = 1;
  for (int i = 0; ok && i < v->n; i++) {
    const char *hyp = h[i].text ? h[i].text : "";
    const char *refs[1] = {v->ref[i]};
    ok = eval_bleu_line(hyp, refs, 1, &eo, &bs) == 0 && eval_chrf_line(hyp, refs, 1, &eo, &cs) == 0;
  }
  dec_text_free(h, v->n); /* the texts; the array is ours */
  free(h);
  if (!ok) return diag_plain(d, "out of memory"), 0;
  int j = 0;
  st[j++] += (double)bs.hyp_len;
  st[j++] += (double)bs.ref_len;
  for (int n = 0; n < EVAL_BLEU_ORDER; n++) st[j++] += (double)bs.correct[n];
  for (int n = 0; n < EVAL_BLEU_ORDER; n++) st[j++] += (double)bs.total[n];
  for (int n = 0; n < EVAL_CHRF_ORDER; n++) st[j++] += (double)cs.hyp[n];
  for (int n = 0; n < EVAL_CHRF_ORDER; n++) st[j++] += (double)cs.ref[n];
  for (int n = 0; n < EVAL_CHRF_ORDER; n++) st[j++] += (double)cs.match[n];
  st[j++] += v->n;
  return 1;
}

int trainer_validate_bleu(Trainer *t, double *bleu, double *chrf, Diag *d) {
  for (int k = 0; k < t->ntasks; k++) bleu[k] = chrf[k] = NAN;
  double *st = calloc((size_t)t->ntasks * NSTAT + 1, sizeof(double));
  if (!st) return diag_plain(d, "out of memory"), 0;
  int ok = !t->dev || tdev_pull(t, d); /* train.device: cuda: the decoder reads the host's parameters */
  for (int i = 0; ok && t->vbleu && i < t->vbleu->n; i++)
    ok = score_task(t, &t->vbleu->v[i], st + (size_t)t->vbleu->v[i].task * NSTAT, d);
  /* every rank reaches the sum (a failed rank adds a marker) so none waits forever */
  double *all = calloc((size_t)t->ntasks * NSTAT + 2, sizeof(double));
  if (!all) ok = 0, diag_plain(d, "out of memory");
  char err[256];
  if (all) {
    memcpy(all, st, sizeof(double) * (size_t)t->ntasks * NSTAT);
    all[(size_t)t->ntasks * NSTAT] = ok ? 0 : 1;
    if (t->opts.dist && !dist_world_sum(t->opts.dist, all, (int64_t)t->ntasks * NSTAT + 1, err, sizeof err)) {
      diag_plain(d, "validation BLEU: %s", err);
      ok = 0;
    } else if (ok && all[(size_t)t->ntasks * NSTAT] > 0) {
      diag_plain(d, "validation BLEU failed on another process");
      ok = 0;
    }
  }
  for (int k = 0; ok && k < t->ntasks; k++) {
    const double *s = all + (size_t)k * NSTAT;
    if (s[NSTAT - 1] <= 0) continue;
    BleuStats bs;
    ChrfStats cs;
    int j = 0;
    bs.hyp_len = (int64_t)s[j++];
    bs.ref_len = (int64_t)s[j++];
    for (int n = 0; n < EVAL_BLEU_ORDER; n++) bs.correct[n] = (int64_t)s[j++];
    for (int n = 0; n < EVAL_BLEU_ORDER; n++) bs.total[n] = (int64_t)s[j++];
    for (int n = 0; n < EVAL_CHRF_ORDER; n++) cs.hyp[n] = (int64_t)s[j++];
    for (int n = 0; n < EVAL_CHRF_ORDER; n++) cs.ref[n] = (int64_t)s[j++];
    for (int n = 0; n < EVAL_CHRF_ORDER; n++) cs.match[n] = (int64_t)s[j++];
    BleuScore b;
    eval_bleu_from_stats(&bs, &b);
    bleu[k] = b.score;
    chrf[k] = eval_chrf_from_stats(&cs);
  }
  free(all);
  free(st);
  return ok;
}
