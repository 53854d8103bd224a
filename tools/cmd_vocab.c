/* cmd_vocab.c — `mamc vocab`: train byte-level BPE vocabularies.
 *
 *   mamc vocab --config RUN.yaml [--force]   every `type: bpe` vocabulary of the run
 *       configuration, from the training text of the tasks (and columns) that use it;
 *       written to its `path` (relative to the configuration's folder)
 *   mamc vocab --size N -o OUT.bpe FILE...   from text files (one sentence a line), or one
 *       column of TSV files with --column K
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

typedef struct Lines {
  Vec(const char *) s;
  Vec(size_t) n;
} Lines;

static void add_column(Arena *a, Lines *l, const Corpus *c, int col) {
  for (int64_t i = 0; i < c->n; i++) {
    size_t len;
    const char *s = corpus_field(c, i, col, &len);
    vec_push(a, l->s, s);
    vec_push(a, l->n, len);
  }
}

static int train_one(Lines *l, int size, const char *out, Diag *d) {
  double t0 = (double)clock() / CLOCKS_PER_SEC;
  Tokenizer *t = bpe_train(l->s.v, l->n.v, (size_t)l->s.n, size, NULL, d);
  if (!t) return 0;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) { /* the vocabulary's folder, as the configuration names it */
    *slash = 0;
    if (!cli_mkdirs(dir)) diag_plain(d, "cannot create the folder '%s': %s", dir, strerror(errno));
  }
  int ok = tokenizer_save(t, out, d) == 0; /* runtime/data: 0 ok, -1 error */
  if (ok)
    fprintf(stderr, "mamc vocab: %s: %d tokens (%d merges) from %d lines in %.1f s\n", out, tokenizer_vocab_size(t),
            tokenizer_num_merges(t), l->s.n, (double)clock() / CLOCKS_PER_SEC - t0);
  tokenizer_free(t);
  return ok;
}

static int from_config(const char *config, int force) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  int rc = EXIT_INPUT;
  RunConfig *cfg = config_load(&a, &d, config);
  if (!cfg) goto out;
  int any = 0;
  for (int v = 0; v < cfg->vocabs.n; v++) {
    const CfgVocab *vb = &cfg->vocabs.v[v];
    if (vb->kind != CFG_VOCAB_BPE) continue;
    any = 1;
    char *path = config_resolve_path(&a, cfg, vb->path.s);
    FILE *f = force ? NULL : fopen(path, "r");
    if (f) {
      fclose(f);
      fprintf(stderr, "mamc vocab: %s exists (use --force to retrain)\n", path);
      continue;
    }
    Lines l = {{0}, {0}};
    for (int k = 0; k < cfg->tasks.n; k++) {
      const CfgTask *t = &cfg->tasks.v[k];
      for (int i = 0; i < t->vocabs.n; i++) {
        if (strcmp(t->vocabs.v[i].s, vb->name.s) != 0) continue;
        CorpusSpec cs = {0};
        const char *files[2];
        if (t->path.s) {
          cs.tsv = config_resolve_path(&a, cfg, t->path.s);
        } else {
          files[0] = config_resolve_path(&a, cfg, t->path_src.s);
          files[1] = config_resolve_path(&a, cfg, t->path_tgt.s);
          cs.files = files;
          cs.nfiles = 2;
        }
        Corpus c;
        if (corpus_load(&c, &a, &d, &cs) != 0) goto out;
        int col = t->columns.n > i ? t->columns.v[i] : i;
        if (col >= c.ncols) {
          diag_error(&d, t->loc, "task %s: column %d does not exist in its data (%d columns)", t->name.s, col, c.ncols);
          goto out;
        }
        add_column(&a, &l, &c, col);
      }
    }
    if (l.s.n == 0) {
      diag_error(&d, vb->name.loc, "vocabulary '%s': no task's training data uses it", vb->name.s);
      goto out;
    }
    if (!train_one(&l, vb->size, path, &d)) goto out;
  }
  if (!any) fprintf(stderr, "mamc vocab: %s has no bpe vocabularies (byte-level ones need no file)\n", config);
  rc = EXIT_OK;
out:
  cli_flush_diag(&d);
  diag_free(&d);
  arena_free(&a);
  return rc;
}

static int run_vocab(int argc, char **argv) {
  const char *config = NULL, *out = NULL;
  int size = 0, column = -1, force = 0;
  Vec(const char *) files = {0};
  Arena a;
  arena_init(&a);
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_vocab.usage, stdout);
      arena_free(&a);
      return EXIT_OK;
    } else if ((!strcmp(s, "--config") || !strcmp(s, "-c")) && has) {
      config = argv[++i];
    } else if (!strcmp(s, "-o") && has) {
      out = argv[++i];
    } else if (!strcmp(s, "--size") && has) {
      size = atoi(argv[++i]);
    } else if (!strcmp(s, "--column") && has) {
      column = atoi(argv[++i]);
    } else if (!strcmp(s, "--force")) {
      force = 1;
    } else if (s[0] == '-') {
      fprintf(stderr, "mamc vocab: unknown option '%s' (see mamc vocab --help)\n", s);
      arena_free(&a);
      return EXIT_INPUT;
    } else {
      vec_push(&a, files, s);
    }
  }
  int rc;
  if (config) {
    rc = files.n || out ? (fprintf(stderr, "mamc vocab: --config trains the configured vocabularies; no files or -o\n"), EXIT_INPUT)
                        : from_config(config, force);
  } else if (!out || size <= 260 || !files.n) {
    fprintf(stderr, "mamc vocab: give --config RUN.yaml, or --size N (> 260) -o OUT.bpe FILE...\n");
    rc = EXIT_INPUT;
  } else {
    Diag d;
    diag_init(&d);
    Lines l = {{0}, {0}};
    rc = EXIT_OK;
    for (int i = 0; i < files.n && rc == EXIT_OK; i++) {
      CorpusSpec cs = {0};
      const char *one[1] = {files.v[i]};
      if (column >= 0) cs.tsv = files.v[i];
      else cs.files = one, cs.nfiles = 1;
      Corpus c;
      if (corpus_load(&c, &a, &d, &cs) != 0) rc = EXIT_INPUT;
      else if (column >= c.ncols) {
        diag_plain(&d, "%s has %d columns; --column %d does not exist", files.v[i], c.ncols, column);
        rc = EXIT_INPUT;
      } else add_column(&a, &l, &c, column >= 0 ? column : 0);
    }
    if (rc == EXIT_OK && !train_one(&l, size, out, &d)) rc = EXIT_INPUT;
    cli_flush_diag(&d);
    diag_free(&d);
  }
  arena_free(&a);
  return rc;
}

const Cmd cmd_vocab = {
    "vocab", run_vocab, "train byte-level BPE vocabularies (from the run configuration or files)",
    "usage: mamc vocab --config RUN.yaml [--force]\n"
    "       mamc vocab --size N -o OUT.bpe [--column K] FILE...\n\n"
    "With --config, trains every `type: bpe` vocabulary of the run configuration from the\n"
    "training text of the tasks that use it (each task's vocabs: and columns: say which text),\n"
    "and writes it to its path (skipped when the file exists, unless --force).\n"
    "Otherwise trains one vocabulary of N tokens (including the 260 byte-level ones) from text\n"
    "files (one sentence a line) or column K of TSV files. The file is readable text\n"
    "(docs/config.md: vocabularies).\n"};
