/* cmd_translate.c — `mamc translate`: translates plain text, one sentence a line, with a
 * trained checkpoint (the public API's mamc_translator; docs/decoding.md).
 *
 *   mamc translate --checkpoint DIR --config RUN.yaml --model MODEL.mam --task en-fr
 *                  [--beam K] [--n-best N] [--sample ...] [--max-len N] < input > output
 *
 * One output line per input line (the best hypothesis); with --n-best N > 1, N lines per
 * input line, `INDEX ||| TEXT ||| SCORE` (Moses' n-best layout, INDEX counting from 0).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "mamc/mamc.h"

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The lines of a file ("-": standard input), '\n'-separated, a trailing '\r' dropped. */
static char **read_lines(const char *path, int *n) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "mamc translate: cannot open '%s': %s\n", path, strerror(errno));
    return NULL;
  }
  StrBuf b;
  sb_init(&b);
  char buf[65536];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) sb_putn(&b, buf, k);
  int bad = ferror(f) || b.failed;
  if (f != stdin) fclose(f);
  int count = 0;
  for (size_t i = 0; i < b.len; i++) count += b.s[i] == '\n';
  if (b.len && b.s[b.len - 1] != '\n') count++;
  char **lines = calloc((size_t)count + 1, sizeof(char *));
  if (bad || !lines) {
    fprintf(stderr, "mamc translate: cannot read '%s'\n", path);
    sb_free(&b);
    free(lines);
    return NULL;
  }
  char *p = b.s;
  for (int i = 0; i < count; i++) {
    char *e = memchr(p, '\n', b.len - (size_t)(p - b.s));
    size_t len = e ? (size_t)(e - p) : b.len - (size_t)(p - b.s);
    if (len && p[len - 1] == '\r') len--;
    lines[i] = strndup(p, len);
    p += (e ? (size_t)(e - p) + 1 : len);
  }
  sb_free(&b);
  *n = count;
  return lines;
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || errno || !(v >= lo && v <= hi)) {
    fprintf(stderr, "mamc translate: %s wants a number in [%g, %g], not '%s'\n", opt, lo, hi, s);
    return 0;
  }
  *out = v;
  return 1;
}

static int run_translate(int argc, char **argv) {
  const char *ckpt = NULL, *config = NULL, *model = NULL, *in = "-", *outp = NULL;
  mamc_translate_options o = {0};
  int timing = 0;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    double v = 0;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_translate.usage, stdout);
      return EXIT_OK;
    }
    if (!strcmp(s, "--sample")) {
      o.sample = 1;
      continue;
    }
    if (!strcmp(s, "--no-cache") || !strcmp(s, "--timing")) {
      *(s[2] == 'n' ? &o.no_cache : &timing) = 1;
      continue;
    }
    const char *val = has ? argv[++i] : NULL;
#define NUM(name, lo, hi, lhs) \
  if (!strcmp(s, name)) {      \
    if (!parse_num(s, val, lo, hi, &v)) return EXIT_INPUT; \
    lhs;                       \
    continue;                  \
  }
    if (!val) {
      fprintf(stderr, "mamc translate: %s '%s' (see mamc translate --help)\n",
              s[0] == '-' ? "unknown option, or no value for" : "unexpected argument", s);
      return EXIT_INPUT;
    }
    NUM("--beam", 1, 1000, o.beam = (int)v)
    NUM("--n-best", 1, 1000, o.nbest = (int)v)
    NUM("--max-len", 1, 100000, o.max_len = (int)v)
    NUM("--min-len", 0, 100000, o.min_len = (int)v)
    NUM("--alpha", 0, 100, o.alpha = v)
    NUM("--temperature", 1e-6, 1e6, o.temperature = v)
    NUM("--top-k", 0, 1e9, o.top_k = (int)v)
    NUM("--top-p", 1e-9, 1, o.top_p = v)
    NUM("--seed", 0, 9007199254740992.0, o.seed = (uint64_t)v)
    NUM("--batch", 1, 100000, o.batch = (int)v)
#undef NUM
    if (!strcmp(s, "--checkpoint")) ckpt = val;
    else if (!strcmp(s, "--config")) config = val;
    else if (!strcmp(s, "--model")) model = val;
    else if (!strcmp(s, "--task")) o.task = val;
    else if (!strcmp(s, "-i") || !strcmp(s, "--input")) in = val;
    else if (!strcmp(s, "-o") || !strcmp(s, "--output")) outp = val;
    else if (!strcmp(s, "--length-penalty")) o.length_penalty = val;
    else {
      fprintf(stderr, "mamc translate: unknown option '%s' (see mamc translate --help)\n", s);
      return EXIT_INPUT;
    }
  }
  if (!ckpt || !config || !model || !o.task) {
    fprintf(stderr, "mamc translate: give --checkpoint DIR, --config RUN.yaml, --model MODEL.mam and --task SRC-TGT\n");
    return EXIT_INPUT;
  }
  if (o.sample && o.beam > 1) {
    fprintf(stderr, "mamc translate: --sample draws one token at a time: it does not combine with --beam\n");
    return EXIT_INPUT;
  }
  if (!o.sample && o.nbest > (o.beam > 1 ? o.beam : 1)) {
    fprintf(stderr, "mamc translate: --n-best %d needs --beam %d or more (or --sample)\n", o.nbest, o.nbest);
    return EXIT_INPUT;
  }
  if (!getenv("OPENBLAS_NUM_THREADS")) mamc_set_blas_threads(1);
  int n = 0, rc = EXIT_INPUT;
  char **lines = read_lines(in, &n), *err = NULL;
  if (!lines) return EXIT_INPUT;
  mamc_translator *t = mamc_translator_new(model, config, ckpt, &o, &err);
  mamc_hypothesis *h = NULL;
  int nbest = t ? mamc_translator_nbest(t) : 1;
  if (t && mamc_translator_warnings(t)) fputs(mamc_translator_warnings(t), stderr);
  double t0 = wall();
  if (t && mamc_translate(t, (const char *const *)lines, n, &h, &err) == MAMC_OK) {
    double sec = wall() - t0;
    StrBuf b;
    sb_init(&b);
    for (int i = 0; i < n; i++)
      for (int k = 0; k < nbest; k++) {
        const mamc_hypothesis *x = &h[(size_t)i * nbest + k];
        if (nbest == 1) sb_printf(&b, "%s\n", x->text ? x->text : "");
        else if (x->text) sb_printf(&b, "%d ||| %s ||| %.6f\n", i, x->text, x->score);
      }
    rc = b.failed ? EXIT_INTERNAL : cli_write_output(outp, b.s ? b.s : "", b.len);
    sb_free(&b);
    if (timing) {
      double enc, step;
      int64_t steps;
      mamc_translator_times(t, &enc, &step, NULL, &steps);
      fprintf(stderr, "mamc translate: %d sentences in %.3f s: %.2f sentences/s (encoder %.3f s, %lld decoder steps %.3f s)\n",
              n, sec, sec > 0 ? n / sec : 0.0, enc, (long long)steps, step);
    }
  } else if (err) {
    fputs(err, stderr);
    if (err[0] && err[strlen(err) - 1] != '\n') fputc('\n', stderr);
  }
  mamc_hypotheses_free(h, n * nbest);
  mamc_free_text(err);
  mamc_translator_free(t);
  for (int i = 0; i < n; i++) free(lines[i]);
  free(lines);
  return rc;
}

const Cmd cmd_translate = {
    "translate", run_translate, "translate text with a trained checkpoint: greedy, beam search, sampling",
    "usage: mamc translate --checkpoint DIR --config RUN.yaml --model MODEL.mam --task SRC-TGT [options]\n"
    "                      < input > output\n\n"
    "Reads one sentence a line, tokenises it with the source vocabulary, decodes with the\n"
    "cached encoder and one-step decoder programs (docs/decoding.md) and writes one translation\n"
    "a line. Only the modules of the direction are loaded from the checkpoint (a step-N folder,\n"
    "DIR/best -- the best validation's, with train.early_stop -- or a checkpoint folder: its\n"
    "latest). A direction that no task of the configuration trained decodes zero-shot through\n"
    "the modules it shares (with a warning) when they all exist.\n\n"
    "options:\n"
    "  --task T            en-fr (the task's arguments), a task name, or translate(en, fr)\n"
    "  --beam K            beam search with K beams (default 1: greedy search)\n"
    "  --n-best N          N hypotheses per line as `INDEX ||| TEXT ||| SCORE` (N <= K)\n"
    "  --length-penalty P  how finished hypotheses rank: avg (logprob / len^alpha, default),\n"
    "                      gnmt (logprob / ((5 + len) / 6)^alpha) or none\n"
    "  --alpha A           the penalty's exponent (default: avg 1, gnmt 0.6)\n"
    "  --max-len N         at most N tokens per translation, </s> included (default 2 * source + 10)\n"
    "  --min-len N         at least N tokens before </s>\n"
    "  --sample            sample instead of searching (N samples with --n-best N)\n"
    "  --temperature T     sampling temperature (default 1)\n"
    "  --top-k K           sample among the K likeliest tokens only\n"
    "  --top-p P           sample among the likeliest tokens whose probability reaches P\n"
    "  --seed S            sampling seed (a line's samples depend on the seed and its number)\n"
    "  --batch N           sentences decoded together (default 32)\n"
    "  -i, --input FILE    read FILE instead of standard input\n"
    "  -o, --output FILE   write FILE instead of standard output\n"
    "  --no-cache          the baseline: re-run the whole model on the growing prefix each step\n"
    "  --timing            print sentences per second to standard error\n"};
