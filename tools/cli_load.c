/* cli_load.c — shared plumbing of the subcommands: options, loading, atomic output. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_flush_diag(Diag *d) {
  if (d->out.len) fputs(d->out.s, stderr);
  if (d->nerrors > d->max_errors && d->max_errors)
    fprintf(stderr, "(%d more errors not shown)\n", d->nerrors - d->max_errors);
  d->out.len = 0;
  if (d->out.s) d->out.s[0] = 0;
}

int cli_model_opts(int argc, char **argv, const Cmd *cmd, ModelOpts *o) {
  memset(o, 0, sizeof *o);
  o->rank = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(cmd->usage, stdout);
      return 1;
    }
    int has_next = i + 1 < argc;
    if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
      if (!has_next) goto missing;
      o->config = argv[++i];
    } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      if (!has_next) goto missing;
      o->out = argv[++i];
    } else if (strcmp(a, "--ir") == 0) {
      if (!has_next) goto missing;
      o->input_ir = argv[++i];
    } else if (strcmp(a, "--after") == 0) {
      if (!has_next) goto missing;
      o->after = argv[++i];
    } else if (strcmp(a, "--passes") == 0) {
      if (!has_next) goto missing;
      o->passes = argv[++i];
    } else if (strcmp(a, "--rank") == 0 || strcmp(a, "--processes") == 0) {
      if (!has_next) goto missing;
      char *end;
      long v = strtol(argv[++i], &end, 10);
      int lo = a[2] == 'r' ? 0 : 1;
      if (*end || end == argv[i] || v < lo || v > (1 << 20)) {
        fprintf(stderr, "mamc %s: %s needs an integer >= %d, got '%s'\n", cmd->name, a, lo, argv[i]);
        return -1;
      }
      *(a[2] == 'r' ? &o->rank : &o->processes) = (int)v;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "mamc %s: unknown option '%s' (see mamc %s --help)\n", cmd->name, a, cmd->name);
      return -1;
    } else if (!o->model) {
      o->model = a;
    } else {
      fprintf(stderr, "mamc %s: unexpected argument '%s' (see mamc %s --help)\n", cmd->name, a, cmd->name);
      return -1;
    }
    continue;
  missing:
    fprintf(stderr, "mamc %s: option '%s' needs a value\n", cmd->name, a);
    return -1;
  }
  if (!o->model && !o->input_ir) {
    fprintf(stderr, "mamc %s: no model given\nusage: %s", cmd->name, cmd->usage);
    return -1;
  }
  if (o->input_ir && (o->model || o->config)) {
    fprintf(stderr, "mamc %s: --ir reads IR text; do not also give a model or --config\n", cmd->name);
    return -1;
  }
  return 0;
}

int cli_load(const ModelOpts *o, Loaded *l) {
  memset(l, 0, sizeof *l);
  arena_init(&l->arena);
  diag_init(&l->diag);
  if (o->input_ir) {
    SrcFile *src = srcfile_read(&l->arena, &l->diag, o->input_ir);
    IrProgram *p = ARENA_NEW(&l->arena, IrProgram);
    ir_program_init(p, &l->arena);
    if (src && ir_parse(p, src, &l->diag) && ir_verify(p, &l->diag)) l->prog = p;
  } else {
    if (o->config) {
      l->cfg = config_load(&l->arena, &l->diag, o->config);
    } else if (o->need_config) {
      fprintf(stderr, "mamc: this command needs the run configuration: --config RUN.yaml\n");
      return EXIT_INPUT;
    }
    if (l->cfg) {
      l->prog = fe_elaborate_config(&l->arena, &l->diag, o->model, l->cfg);
    } else if (!o->config) { /* no configuration: syntax and declarations only */
      FeEnv env = {0};
      const char *dirs[5];
      char exe_dir[4096];
      fe_default_stdlib_dirs(dirs, exe_dir, sizeof exe_dir);
      env.stdlib_dirs = dirs;
      l->prog = fe_elaborate(&l->arena, &l->diag, o->model, &env);
    }
    if (l->prog && l->prog->graphs.n && !ir_verify(l->prog, &l->diag)) {
      fprintf(stderr, "mamc: internal error: the elaborated program does not verify\n");
      cli_flush_diag(&l->diag);
      l->prog = NULL;
      return EXIT_INTERNAL;
    }
  }
  cli_flush_diag(&l->diag);
  return l->prog ? EXIT_OK : EXIT_INPUT;
}

void cli_loaded_free(Loaded *l) {
  diag_free(&l->diag);
  arena_free(&l->arena);
}

int cli_mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0755);
      *p = '/';
    }
  return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

int cli_write_output(const char *path, const char *text, size_t len) {
  if (!path || strcmp(path, "-") == 0) {
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
      fprintf(stderr, "mamc: cannot write to standard output: %s\n", strerror(errno));
      return EXIT_INTERNAL;
    }
    return EXIT_OK;
  }
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) return EXIT_INTERNAL;
  snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(text, 1, len, f) == len;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "mamc: cannot write '%s': %s\n", path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return ok ? EXIT_OK : EXIT_INPUT;
}
