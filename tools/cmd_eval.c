/* cmd_eval.c — `mamc eval`: corpus BLEU and chrF of a hypothesis file against one or more
 * reference files, as sacreBLEU 2.x computes them by default (runtime/eval/eval.h), printed
 * with a sacreBLEU-style signature, or as JSON.
 *
 *   mamc eval --ref REF [--ref REF2 ...] --hyp HYP [--metrics bleu,chrf] [--lowercase]
 *             [--json] [--width N] [--score-only]
 *
 * Files are read as sacreBLEU's CLI reads them: split on '\n' only, each line's trailing
 * whitespace removed; they must be UTF-8 and have the same number of lines.
 */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"
#include "data/utf8.h"
#include "eval/eval.h"

typedef struct TextLines {
  const char **v;
  int n;
} TextLines;

/* Reads path ("-": standard input) into lines; diagnostics into d. 0 or -1. */
static int read_lines(Arena *a, Diag *d, const char *path, TextLines *out) {
  SrcFile *f;
  if (strcmp(path, "-") == 0) {
    StrBuf b;
    sb_init(&b);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, stdin)) > 0) sb_putn(&b, buf, k);
    if (ferror(stdin) || b.failed) {
      sb_free(&b);
      diag_plain(d, "cannot read standard input");
      return -1;
    }
    if (b.len && memchr(b.s, 0, b.len)) {
      sb_free(&b);
      diag_plain(d, "standard input contains a NUL byte (is it text?)");
      return -1;
    }
    f = srcfile_from_string(a, "<stdin>", b.s ? b.s : "");
    sb_free(&b);
  } else {
    f = srcfile_read(a, d, path);
  }
  if (!f) return -1;
  size_t bad = utf8_check(f->text, f->len);
  if (bad < f->len) {
    int line = 1, col = 1;
    for (size_t i = 0; i < bad; i++) f->text[i] == '\n' ? (line++, col = 1) : col++;
    diag_plain(d, "%s:%d:%d: invalid UTF-8 (byte 0x%02X)", f->name, line, col, (unsigned char)f->text[bad]);
    return -1;
  }
  int n = 0; /* Python's `for line in file`: the last line may lack '\n'; none after a final '\n' */
  for (size_t i = 0; i < f->len; i++) n += f->text[i] == '\n';
  if (f->len && f->text[f->len - 1] != '\n') n++;
  out->v = ARENA_ARRAY(a, const char *, n ? n : 1);
  out->n = n;
  const char *p = f->text;
  for (int i = 0; i < n; i++) {
    const char *e = memchr(p, '\n', (size_t)(f->text + f->len - p));
    size_t len = e ? (size_t)(e - p) : (size_t)(f->text + f->len - p);
    out->v[i] = arena_strndup(a, p, eval_rstrip_len(p, len));
    p += len + 1;
  }
  return 0;
}

static void json_escape(StrBuf *sb, const char *s) {
  sb_putc(sb, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') sb_putc(sb, '\\');
    sb_putc(sb, *s);
  }
  sb_putc(sb, '"');
}

/* One JSON object in sacreBLEU's --format json shape, plus our statistics. */
static void json_score(StrBuf *sb, const char *name, double score, int width, const char *sig, const char *verbose,
                       const char *extra) {
  sb_printf(sb, "{\n \"name\": \"%s\",\n \"score\": %.*f,\n \"score_exact\": %.17g,\n \"signature\": ", name, width,
            score, score);
  json_escape(sb, sig);
  if (verbose) {
    sb_puts(sb, ",\n \"verbose_score\": ");
    json_escape(sb, verbose);
  }
  /* each key:value of the signature as its own field, as sacreBLEU does */
  for (const char *p = sig; *p;) {
    const char *bar = strchr(p, '|'), *end = bar ? bar : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (colon) sb_printf(sb, ",\n \"%.*s\": \"%.*s\"", (int)(colon - p), p, (int)(end - colon - 1), colon + 1);
    p = bar ? bar + 1 : end;
  }
  sb_puts(sb, extra);
  sb_puts(sb, "\n}");
}

static int run_eval(int argc, char **argv) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Vec(const char *) ref_paths = {0};
  const char *hyp_path = NULL, *metrics = "bleu,chrf";
  EvalOpts o = {0};
  int json = 0, width = 2, score_only = 0, rc = EXIT_INPUT;
  StrBuf out;
  sb_init(&out);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_eval.usage, stdout);
      rc = EXIT_OK;
      goto done;
    } else if ((!strcmp(s, "--ref") || !strcmp(s, "-r")) && has) {
      vec_push(&a, ref_paths, argv[++i]);
    } else if ((!strcmp(s, "--hyp") || !strcmp(s, "-i")) && has) {
      hyp_path = argv[++i];
    } else if ((!strcmp(s, "--metrics") || !strcmp(s, "-m")) && has) {
      metrics = argv[++i];
    } else if ((!strcmp(s, "--width") || !strcmp(s, "-w")) && has) {
      char *end;
      long w = strtol(argv[++i], &end, 10);
      if (*end || w < 0 || w > 17) {
        fprintf(stderr, "mamc eval: --width wants 0..17 decimals, not '%s'\n", argv[i]);
        goto done;
      }
      width = (int)w;
    } else if (!strcmp(s, "--lowercase") || !strcmp(s, "-lc")) {
      o.lowercase = 1;
    } else if (!strcmp(s, "--json")) {
      json = 1;
    } else if (!strcmp(s, "--score-only") || !strcmp(s, "-b")) {
      score_only = 1;
    } else {
      fprintf(stderr, "mamc eval: %s '%s' (see mamc eval --help)\n", s[0] == '-' ? "unknown option" : "unexpected argument",
              s);
      goto done;
    }
  }
  int want_bleu = 0, want_chrf = 0;
  for (const char *p = metrics; *p;) {
    size_t n = strcspn(p, ",");
    if (n == 4 && !strncmp(p, "bleu", 4)) want_bleu = 1;
    else if (n == 4 && !strncmp(p, "chrf", 4)) want_chrf = 1;
    else {
      fprintf(stderr, "mamc eval: unknown metric '%.*s' (bleu, chrf)\n", (int)n, p);
      goto done;
    }
    p += n + (p[n] == ',');
  }
  if (!ref_paths.n || !hyp_path) {
    fprintf(stderr, "mamc eval: give --ref REF and --hyp HYP (see mamc eval --help)\n");
    goto done;
  }

  TextLines hyp;
  const char ***refs = ARENA_ARRAY(&a, const char **, ref_paths.n);
  if (read_lines(&a, &d, hyp_path, &hyp) != 0) goto done;
  for (int r = 0; r < ref_paths.n; r++) {
    TextLines ref;
    if (read_lines(&a, &d, ref_paths.v[r], &ref) != 0) goto done;
    if (ref.n != hyp.n) {
      diag_plain(&d, "%s has %d lines but %s has %d: each hypothesis line needs a reference line", hyp_path, hyp.n,
                 ref_paths.v[r], ref.n);
      goto done;
    }
    refs[r] = ref.v;
  }
  if (hyp.n == 0) {
    diag_plain(&d, "%s has no lines to score", hyp_path);
    goto done;
  }

  const char *const *const *crefs = (const char *const *const *)refs;
  BleuScore bleu;
  ChrfScore chrf;
  if ((want_bleu && eval_bleu(hyp.v, crefs, ref_paths.n, hyp.n, &o, &bleu) != 0) ||
      (want_chrf && eval_chrf(hyp.v, crefs, ref_paths.n, hyp.n, &o, &chrf) != 0)) {
    fprintf(stderr, "mamc eval: out of memory\n");
    rc = EXIT_INTERNAL;
    goto done;
  }

  StrBuf sig, verbose, extra;
  sb_init(&sig), sb_init(&verbose), sb_init(&extra);
  if (json) sb_puts(&out, "[\n");
  if (want_bleu) {
    if (json) {
      eval_bleu_signature(&sig, bleu.nrefs, &o);
      eval_bleu_format(&verbose, &bleu, &o, width);
      const char *v = strchr(verbose.s, '=') + 2;
      v = strchr(v, ' ') + 1; /* the part after the score */
      sb_puts(&extra, ",\n \"counts\": [");
      for (int n = 0; n < EVAL_BLEU_ORDER; n++) sb_printf(&extra, "%s%lld", n ? ", " : "", (long long)bleu.st.correct[n]);
      sb_puts(&extra, "],\n \"totals\": [");
      for (int n = 0; n < EVAL_BLEU_ORDER; n++) sb_printf(&extra, "%s%lld", n ? ", " : "", (long long)bleu.st.total[n]);
      sb_puts(&extra, "],\n \"precisions\": [");
      for (int n = 0; n < EVAL_BLEU_ORDER; n++) sb_printf(&extra, "%s%.17g", n ? ", " : "", bleu.precisions[n]);
      sb_printf(&extra, "],\n \"bp\": %.17g,\n \"ratio\": %.17g,\n \"hyp_len\": %lld,\n \"ref_len\": %lld", bleu.bp,
                bleu.ratio, (long long)bleu.st.hyp_len, (long long)bleu.st.ref_len);
      json_score(&out, "BLEU", bleu.score, width, sig.s, v, extra.s);
    } else if (score_only) {
      sb_printf(&out, "%.*f\n", width, bleu.score);
    } else {
      eval_bleu_format(&out, &bleu, &o, width);
      sb_putc(&out, '\n');
    }
  }
  if (want_chrf) {
    if (json) {
      sig.len = 0;
      extra.len = 0;
      eval_chrf_signature(&sig, chrf.nrefs, &o);
      sb_puts(&extra, ",\n \"hyp\": [");
      for (int n = 0; n < EVAL_CHRF_ORDER; n++) sb_printf(&extra, "%s%lld", n ? ", " : "", (long long)chrf.st.hyp[n]);
      sb_puts(&extra, "],\n \"ref\": [");
      for (int n = 0; n < EVAL_CHRF_ORDER; n++) sb_printf(&extra, "%s%lld", n ? ", " : "", (long long)chrf.st.ref[n]);
      sb_puts(&extra, "],\n \"match\": [");
      for (int n = 0; n < EVAL_CHRF_ORDER; n++) sb_printf(&extra, "%s%lld", n ? ", " : "", (long long)chrf.st.match[n]);
      sb_puts(&extra, "]");
      if (want_bleu) sb_puts(&out, ",\n");
      json_score(&out, "chrF2", chrf.score, width, sig.s, NULL, extra.s);
    } else if (score_only) {
      sb_printf(&out, "%.*f\n", width, chrf.score);
    } else {
      eval_chrf_format(&out, &chrf, &o, width);
      sb_putc(&out, '\n');
    }
  }
  if (json) sb_puts(&out, "\n]\n");
  int failed = sig.failed || verbose.failed || extra.failed || out.failed;
  sb_free(&sig), sb_free(&verbose), sb_free(&extra);
  if (failed) {
    fprintf(stderr, "mamc eval: out of memory\n");
    rc = EXIT_INTERNAL;
    goto done;
  }
  rc = cli_write_output(NULL, out.s, out.len);
done:
  cli_flush_diag(&d);
  diag_free(&d);
  sb_free(&out);
  arena_free(&a);
  return rc;
}

const Cmd cmd_eval = {
    "eval", run_eval, "score translations: corpus BLEU and chrF as sacreBLEU computes them",
    "usage: mamc eval --ref REF [--ref REF2 ...] --hyp HYP [--metrics bleu,chrf] [--lowercase]\n"
    "                 [--json] [--width N] [--score-only]\n\n"
    "Corpus BLEU (13a tokenisation, exp smoothing) and chrF (character 6-grams, beta 2,\n"
    "whitespace excluded) of HYP against one or more references, equal to sacreBLEU "
    EVAL_SACREBLEU_VERSION "'s\n"
    "defaults, printed with a sacreBLEU-style signature:\n"
    "  BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" EVAL_VERSION_TAG " = 41.38 ...\n"
    "  chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" EVAL_VERSION_TAG " = 41.52\n\n"
    "Files hold one sentence a line (UTF-8, detokenised), the same number of lines each;\n"
    "HYP may be '-' for standard input. Trailing whitespace of a line is ignored.\n\n"
    "options:\n"
    "  -r, --ref FILE      a reference file (repeat for several references per line)\n"
    "  -i, --hyp FILE      the hypotheses (translations) to score\n"
    "  -m, --metrics LIST  bleu, chrf or bleu,chrf (default)\n"
    "  -lc, --lowercase    case-insensitive scores, both metrics (case:lc; sacreBLEU's -lc and\n"
    "                      --chrf-lowercase)\n"
    "  --json              a JSON list of scores with their statistics\n"
    "  -w, --width N       decimals of the scores (default 2)\n"
    "  -b, --score-only    only the numbers, one a line\n"};
