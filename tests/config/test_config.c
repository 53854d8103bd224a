/* test_config.c — unit tests of the run configuration (frontend/config*.c).
 *
 * - tests/config/good/X.yaml loads; its dump equals X.golden, and the dump loads back to the
 *   same dump. MAMC_UPDATE_GOLDEN=1 rewrites the golden files (review the diff!).
 * - tests/config/bad/X.yaml fails; line 1 is `# expect: LINE:COL: error: message`, compared
 *   with the first diagnostic line (the file name is prefixed by the test).
 * - lookups, sync patterns, key locations, file checks, several errors in one run, and
 *   allocation failure at every point of a load.
 * Runs from the source root (ctest's working directory).
 */
#include <dirent.h>
#include <stdlib.h>

#include "config.h"
#include "test.h"

#define GOOD "tests/config/good"
#define BAD "tests/config/bad"

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  StrBuf b;
  sb_init(&b);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_putn(&b, buf, n);
  fclose(f);
  if (!b.s) sb_puts(&b, "");
  return b.s;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted names in dir ending with ext; caller frees each and the array */
static int list_dir(const char *dir, const char *ext, char ***out) {
  DIR *d = opendir(dir);
  int n = 0, cap = 0;
  char **v = NULL;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name), el = strlen(ext);
    if (l <= el || strcmp(e->d_name + l - el, ext) != 0) continue;
    if (n == cap) v = realloc(v, sizeof *v * (size_t)(cap = cap ? 2 * cap : 64));
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(v, (size_t)n, sizeof *v, cmp_str);
  *out = v;
  return n;
}

static const char *first_line(const char *s, char *buf, size_t cap) {
  size_t n = strcspn(s, "\n");
  if (n >= cap) n = cap - 1;
  memcpy(buf, s, n);
  buf[n] = 0;
  return buf;
}

/* ---- good configurations ------------------------------------------------------------------- */

static void test_good(void) {
  char **names;
  int n = list_dir(GOOD, ".yaml", &names);
  CHECK(n >= 4);
  int update = getenv("MAMC_UPDATE_GOLDEN") != NULL;
  for (int i = 0; i < n; i++) {
    char path[512], golden_path[512];
    snprintf(path, sizeof path, GOOD "/%s", names[i]);
    snprintf(golden_path, sizeof golden_path, GOOD "/%.*s.golden",
             (int)(strlen(names[i]) - 5), names[i]);
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    RunConfig *cfg = config_load(&a, &d, path);
    CHECK_MSG(cfg && d.nerrors == 0 && d.nwarnings == 0, "%s:\n%s", path, d.out.s ? d.out.s : "");
    if (cfg) {
      StrBuf b;
      sb_init(&b);
      config_dump(&b, cfg);
      if (update) {
        FILE *f = fopen(golden_path, "wb");
        if (f) {
          fputs(b.s, f);
          fclose(f);
        }
      }
      char *golden = read_text(golden_path);
      CHECK_MSG(golden && strcmp(golden, b.s) == 0, "%s: dump differs from %s:\n%s", path,
                golden_path, b.s);
      free(golden);
      /* the dump is a configuration too, and a fixed point */
      Diag d2;
      diag_init(&d2);
      RunConfig *again = config_load_string(&a, &d2, golden_path, b.s);
      CHECK_MSG(again != NULL, "%s: the dump does not load:\n%s", path, d2.out.s ? d2.out.s : "");
      if (again) {
        StrBuf b2;
        sb_init(&b2);
        config_dump(&b2, again);
        CHECK_MSG(strcmp(b.s, b2.s) == 0, "%s: dump of the dump differs:\n%s", path, b2.s);
        sb_free(&b2);
      }
      diag_free(&d2);
      sb_free(&b);
    }
    diag_free(&d);
    arena_free(&a);
    free(names[i]);
  }
  free(names);
}

/* ---- bad configurations --------------------------------------------------------------------- */

static void test_bad(void) {
  char **names;
  int n = list_dir(BAD, ".yaml", &names);
  CHECK(n >= 15);
  for (int i = 0; i < n; i++) {
    char path[512], want[1024], got[1024];
    snprintf(path, sizeof path, BAD "/%s", names[i]);
    char *text = read_text(path);
    const char *tag = "# expect: ";
    CHECK_MSG(text && strncmp(text, tag, strlen(tag)) == 0, "%s: no '# expect:' line", path);
    if (!text || strncmp(text, tag, strlen(tag)) != 0) {
      free(text);
      free(names[i]);
      continue;
    }
    char line[900];
    snprintf(want, sizeof want, "%s:%s", path, first_line(text + strlen(tag), line, sizeof line));
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    RunConfig *cfg = config_load(&a, &d, path);
    CHECK_MSG(cfg == NULL && d.nerrors > 0, "%s loaded without errors", path);
    first_line(d.out.s ? d.out.s : "", got, sizeof got);
    CHECK_STR(got, want);
    /* a located error shows the line and a caret */
    const char *caret = d.out.s ? strchr(d.out.s, '\n') : NULL;
    CHECK_MSG(caret && strncmp(caret, "\n  ", 3) == 0 && strstr(caret, "^\n"), "%s: no caret:\n%s",
              path, d.out.s ? d.out.s : "");
    diag_free(&d);
    arena_free(&a);
    free(text);
    free(names[i]);
  }
  free(names);
}

/* ---- the API on the full example ------------------------------------------------------------- */

static void test_api(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  RunConfig *cfg = config_load(&a, &d, GOOD "/full.yaml");
  CHECK(cfg != NULL);
  if (!cfg) {
    fprintf(stderr, "%s", d.out.s);
    return;
  }
  const CfgIndex *lang = cfg_index_find(cfg, "lang"), *fam = cfg_index_find(cfg, "family");
  CHECK(lang && !lang->grouped && lang->values.n == 4 && cfg_index_value(lang, "de") == 2);
  CHECK(fam && fam->grouped && fam->values.n == 2);
  CHECK(fam && cfg_index_value(fam, "germanic") == 1 && cfg_index_value(fam, "en") == -1);
  CHECK_STR(fam ? cfg_index_group_of(fam, "es") : NULL, "romance");
  CHECK(fam && cfg_index_group_of(fam, "xx") == NULL);
  CHECK(!cfg_index_find(cfg, "nope"));
  const CfgVocab *en = cfg_vocab_find(cfg, "en"), *fr = cfg_vocab_find(cfg, "fr");
  CHECK(en && en->kind == CFG_VOCAB_BYTE && en->size == 260 && !en->path.s);
  CHECK(fr && fr->kind == CFG_VOCAB_BPE && fr->size == 8000);
  CHECK_STR(fr ? fr->path.s : NULL, "vocab/fr.bpe");
  CHECK(fr && fr->name.loc.line == 8 && fr->name.loc.col == 3);

  CHECK(cfg->tasks.n == 4 && cfg->processes == 2);
  const CfgTask *t = cfg_task_find(cfg, "translate-fr-en");
  CHECK(t != NULL);
  if (t) {
    CHECK_STR(t->tmpl.s, "translate");
    CHECK(t->args.n == 2 && t->vocabs_defaulted && t->vocabs.n == 2);
    CHECK_STR(t->vocabs.v[0].s, "fr");
    CHECK(t->weight == 0.5 && t->ranks.n == 1 && t->ranks.v[0] == 1);
    CHECK(t->loc.line == 19 && t->loc.col == 5);
  }
  t = cfg_task_find(cfg, "de-es.0");
  CHECK(t && t->args.n == 2 && t->stride == 2 && t->offset == 0 && t->introduce_at_step == 200);
  /* columns inside the template scalar: `    task: translate( de ,es )` */
  CHECK(t && t->tmpl.loc.line == 27 && t->tmpl.loc.col == 11);
  CHECK(t && t->args.v[0].loc.col == 22 && t->args.v[1].loc.col == 26);

  SyncPolicy p;
  const CfgSyncRule *r = cfg_sync_for(cfg, "core", &p);
  CHECK(r && p.kind == SYNC_OUTER && p.every == 8 && p.lr == 0.7 && p.momentum == 0.9 && p.nesterov);
  r = cfg_sync_for(cfg, "embed[fr]", &p);
  CHECK(r && p.kind == SYNC_LOCAL && r->pattern.loc.line == 42);
  r = cfg_sync_for(cfg, "enc_fam[romance]", &p);
  CHECK(r && p.kind == SYNC_EVERY && p.every == 2);
  r = cfg_sync_for(cfg, "enc_fam[germanic]", &p);
  CHECK(r && r->is_default && p.kind == SYNC_EVERY && p.every == 1);
  CHECK(cfg->dept.variant == CFG_DEPT_SPEC);
  CHECK(cfg->train.precision == DT_BF16 && cfg->train.device == CFG_DEV_CUDA &&
        cfg->train.device_index == 0 && cfg->train.accum == 2);
  CHECK(cfg->train.optimizer.eps == 1e-9 && cfg->train.schedule.warmup == 100);

  SrcLoc l = cfg_loc(cfg, "train.lr");
  CHECK(l.file == cfg->file && l.line == 46 && l.col == 60);
  l = cfg_loc(cfg, "tasks[1].weight");
  CHECK(l.line == 24 && l.col == 13);
  l = cfg_loc(cfg, "sync.embed[*]");
  CHECK(l.line == 42 && l.col == 15);
  l = cfg_loc(cfg, "vocab.fr.size");
  CHECK(l.line == 8 && l.col == 25);
  l = cfg_loc(cfg, "train.nothing"); /* absent: the enclosing key */
  CHECK(l.line == 46 && l.col == 1);
  l = cfg_loc(cfg, "nothing");
  CHECK(l.line == 0);
  CHECK_STR(cfg->base_dir, GOOD);
  CHECK_STR(config_resolve_path(&a, cfg, "data/x.tsv"), GOOD "/data/x.tsv");
  CHECK_STR(config_resolve_path(&a, cfg, "/abs/x.tsv"), "/abs/x.tsv");
  diag_free(&d);
  arena_free(&a);
}

static void test_patterns(void) {
  CHECK(cfg_pattern_match("embed[*]", "embed[fr]"));
  CHECK(!cfg_pattern_match("embed[*]", "embedder"));
  CHECK(!cfg_pattern_match("embed[*]", "enc[fr]"));
  CHECK(cfg_pattern_match("*", "anything[a, b]"));
  CHECK(cfg_pattern_match("enc*", "enc_fam[romance]"));
  CHECK(cfg_pattern_match("x[*, fr]", "x[en, fr]"));
  CHECK(cfg_pattern_match("x[*,fr]", "x[en,fr]"));
  CHECK(!cfg_pattern_match("x[*, fr]", "x[en, de]"));
  CHECK(cfg_pattern_match("*[fr]", "dec[fr]"));
  CHECK(!cfg_pattern_match("core", "core2"));
  CHECK(cfg_pattern_match("c*e*", "core"));
  CHECK(cfg_pattern_match("enc_fam[ romance ]", "enc_fam[romance]"));

  /* no rules: the built-in every(1) */
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  RunConfig *cfg = config_load_string(&a, &d, "s.yaml",
                                      "vocab: {en: byte}\ntasks: [{task: lm(en), path: x}]\n"
                                      "sync: {\"dec[*]\": local}\n");
  CHECK(cfg != NULL);
  SyncPolicy p = {SYNC_LOCAL, 0, 0, 0, 0};
  CHECK(cfg && cfg_sync_for(cfg, "enc[en]", &p) == NULL && p.kind == SYNC_EVERY && p.every == 1);
  CHECK(cfg && cfg_sync_for(cfg, "dec[en]", &p) != NULL && p.kind == SYNC_LOCAL);
  diag_free(&d);
  arena_free(&a);
}

/* ---- several errors, warnings, empty input -------------------------------------------------- */

static void test_several(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  const char *text = "vocab: {en: byte, fr: byte}\n"
                     "tasks:\n"
                     "  - task: translate(en, fr)\n"
                     "    path: x.tsv\n"
                     "    weight: -1\n"
                     "train: {steps: 0, lr: fast, dropotu: 0.2}\n"
                     "sampling: {temperature: -2}\n";
  CHECK(config_load_string(&a, &d, "many.yaml", text) == NULL);
  CHECK_MSG(d.nerrors == 5, "%d errors:\n%s", d.nerrors, d.out.s);
  CHECK(d.out.s && strstr(d.out.s, "many.yaml:6:29: error: unknown key 'dropotu' in train; did "
                                   "you mean 'dropout'?\n"));
  CHECK(d.out.s && strstr(d.out.s, "note: the keys of train are: steps, batch_tokens,"));
  CHECK(d.out.s && strstr(d.out.s, "many.yaml:5:13: error: tasks[0].weight must be > 0, got -1"));
  diag_free(&d);

  /* an unreachable sync rule is a warning; the config still loads */
  diag_init(&d);
  CHECK(config_load_string(&a, &d, "w.yaml",
                           "vocab: {en: byte}\ntasks: [{task: lm(en), path: x}]\n"
                           "sync: {\"*\": local, core: {every: 2}}\n") != NULL);
  CHECK(d.nerrors == 0 && d.nwarnings == 1);
  CHECK(d.out.s && strncmp(d.out.s, "w.yaml:3:20: warning: sync rule 'core' is never used", 52) == 0);
  diag_free(&d);

  diag_init(&d);
  CHECK(config_load_string(&a, &d, "empty.yaml", "") == NULL);
  CHECK(d.out.s && strncmp(d.out.s, "empty.yaml:1:1: error: the configuration is empty", 49) == 0);
  diag_free(&d);

  diag_init(&d);
  CHECK(config_load(&a, &d, "tests/config/no-such-file.yaml") == NULL);
  CHECK(d.out.s && strncmp(d.out.s, "error: cannot open 'tests/config/no-such-file.yaml'", 51) == 0);
  diag_free(&d);
  arena_free(&a);
}

/* ---- data files --------------------------------------------------------------------------------- */

static void test_files(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  const char *text = "vocab:\n"
                     "  en: byte\n"
                     "  fr: {type: bpe, size: 100, path: vocab/fr.bpe}\n"
                     "  de: {type: bpe, size: 100, path: vocab/de.bpe}\n"
                     "tasks:\n"
                     "  - task: translate(en, fr)\n"
                     "    path: data/en-fr.tsv\n"
                     "    valid: data/missing.tsv\n"
                     "  - task: translate(en, de)\n"
                     "    path_src: data/en-fr.tsv\n"
                     "    path_tgt: data\n";
  RunConfig *cfg = config_load_string(&a, &d, "tests/config/files/run.yaml", text);
  CHECK(cfg != NULL && d.nerrors == 0);
  if (cfg) {
    CHECK(config_check_files(cfg, &d) == 3);
    const char *s = d.out.s ? d.out.s : "";
    CHECK_MSG(strstr(s, "tests/config/files/run.yaml:4:36: error: cannot open vocabulary file "
                        "'vocab/de.bpe' (looked for tests/config/files/vocab/de.bpe): No such "
                        "file or directory\n"), "%s", s);
    CHECK_MSG(strstr(s, "run.yaml:8:12: error: cannot open validation data 'data/missing.tsv'"), "%s", s);
    CHECK_MSG(strstr(s, "run.yaml:11:15: error: cannot open training data 'data' (looked for "
                        "tests/config/files/data): it is a directory"), "%s", s);
  }
  diag_free(&d);
  arena_free(&a);
}

/* ---- allocation failure at every point ------------------------------------------------------- */

static void test_oom(void) {
  char *text = read_text(GOOD "/full.yaml");
  CHECK(text != NULL);
  if (!text) return;
  int loaded = 0, failed = 0;
  long needed = 0; /* allocations a full load makes */
  for (long n = 1; n < 100000 && !loaded; n++) {
    Arena a;
    arena_init(&a);
    a.fail_after = n;
    Diag d;
    diag_init(&d);
    RunConfig *cfg = config_load_string(&a, &d, "full.yaml", text);
    if (cfg) {
      loaded = 1;
      needed = n;
    } else {
      failed++;
      if (!d.out.s || !strstr(d.out.s, "out of memory")) {
        CHECK_MSG(0, "fail_after=%ld: %s", n, d.out.s ? d.out.s : "(no message)");
        break;
      }
    }
    diag_free(&d);
    arena_free(&a);
  }
  CHECK(loaded && failed > 10);
  /* with the caller's handler: the longjmp reaches it (libyaml's memory released first) */
  for (long n = 1; n < needed; n += 1 + needed / 50) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    jmp_buf jb;
    volatile int jumped = 0;
    if (setjmp(jb) == 0) {
      a.oom = &jb;
      a.fail_after = n;
      config_load_string(&a, &d, "full.yaml", text);
    } else {
      jumped = 1;
    }
    CHECK(jumped);
    a.oom = NULL;
    diag_free(&d);
    arena_free(&a);
  }
  free(text);
}

/* ---- the examples in docs/config.md load ------------------------------------------------------ */

static void test_docs(void) {
  char *doc = read_text("docs/config.md");
  CHECK(doc != NULL);
  if (!doc) return;
  int blocks = 0;
  for (char *p = doc; (p = strstr(p, "```yaml\n"));) {
    p += 8;
    char *end = strstr(p, "```");
    if (!end) break;
    *end = 0;
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    CHECK_MSG(config_load_string(&a, &d, "docs/config.md", p) != NULL && d.nwarnings == 0,
              "example %d of docs/config.md:\n%s", blocks + 1, d.out.s ? d.out.s : "");
    diag_free(&d);
    arena_free(&a);
    blocks++;
    p = end + 3;
  }
  CHECK(blocks >= 2);
  free(doc);
}

int main(void) {
  test_good();
  test_bad();
  test_api();
  test_patterns();
  test_several();
  test_files();
  test_oom();
  test_docs();
  return test_done();
}
