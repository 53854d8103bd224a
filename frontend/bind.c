/* bind.c — what the elaborator needs from a run configuration: FeEnv filled from a
 * RunConfig (index sets, vocabulary sizes, task instances, sync rules). Keeps elab*.c free
 * of YAML and lets tests build an FeEnv by hand.
 */
#include "bind.h"

#include <setjmp.h>

IrProgram *fe_elaborate_config(Arena *a, Diag *d, const char *model_path, const RunConfig *cfg) {
  /* without the caller's out-of-memory handler, allocation failure is caught here */
  jmp_buf oom;
  jmp_buf *saved = a->oom;
  if (!saved) {
    if (setjmp(oom)) {
      a->oom = NULL;
      diag_plain(d, "out of memory while compiling '%s'", model_path);
      return NULL;
    }
    a->oom = &oom;
  }
  FeEnv env;
  fe_env_from_config(a, cfg, &env);
  const char *dirs[5];
  char exe_dir[4096];
  fe_default_stdlib_dirs(dirs, exe_dir, sizeof exe_dir);
  env.stdlib_dirs = dirs;
  IrProgram *p = fe_elaborate(a, d, model_path, &env);
  a->oom = saved;
  return p;
}

void fe_env_from_config(Arena *a, const RunConfig *cfg, FeEnv *env) {
  memset(env, 0, sizeof *env);
  env->has_config = 1;
  env->nindices = cfg->indexes.n;
  env->indices = ARENA_ARRAY(a, FeIndex, cfg->indexes.n ? cfg->indexes.n : 1);
  for (int i = 0; i < cfg->indexes.n; i++) {
    const CfgIndex *ci = &cfg->indexes.v[i];
    FeIndex *fi = &env->indices[i];
    fi->name = ci->name.s;
    fi->loc = ci->name.loc;
    fi->nvalues = ci->values.n;
    fi->values = ARENA_ARRAY(a, const char *, ci->values.n ? ci->values.n : 1);
    for (int k = 0; k < ci->values.n; k++) fi->values[k] = ci->values.v[k].s;
    if (!ci->grouped) continue;
    int nm = 0;
    for (int g = 0; g < ci->groups.n; g++) nm += ci->groups.v[g].members.n;
    fi->members = ARENA_ARRAY(a, const char *, nm ? nm : 1);
    fi->member_group = ARENA_ARRAY(a, const char *, nm ? nm : 1);
    for (int g = 0; g < ci->groups.n; g++)
      for (int k = 0; k < ci->groups.v[g].members.n; k++) {
        fi->members[fi->nmembers] = ci->groups.v[g].members.v[k].s;
        fi->member_group[fi->nmembers++] = ci->groups.v[g].name.s;
      }
  }
  env->nvocabs = cfg->vocabs.n;
  env->vocabs = ARENA_ARRAY(a, FeVocab, cfg->vocabs.n ? cfg->vocabs.n : 1);
  for (int i = 0; i < cfg->vocabs.n; i++)
    env->vocabs[i] = (FeVocab){cfg->vocabs.v[i].name.s, cfg->vocabs.v[i].size, cfg->vocabs.v[i].name.loc};
  env->label_smoothing = cfg->train.label_smoothing;
  env->label_smoothing_given = cfg->train.label_smoothing_given;
  env->label_smoothing_loc = cfg->train.label_smoothing_loc;
  env->ntasks = cfg->tasks.n;
  env->tasks = ARENA_ARRAY(a, FeTask, cfg->tasks.n ? cfg->tasks.n : 1);
  for (int i = 0; i < cfg->tasks.n; i++) {
    const CfgTask *t = &cfg->tasks.v[i];
    FeTask *ft = &env->tasks[i];
    ft->name = t->name.s;
    ft->tmpl = t->tmpl.s;
    ft->loc = t->tmpl.loc;
    ft->nargs = t->args.n;
    ft->args = ARENA_ARRAY(a, const char *, t->args.n ? t->args.n : 1);
    for (int k = 0; k < t->args.n; k++) ft->args[k] = t->args.v[k].s;
  }
  /* sync rules in file order, `default` last as the pattern "*" */
  env->syncs = ARENA_ARRAY(a, FeSync, cfg->sync.n ? cfg->sync.n : 1);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < cfg->sync.n; i++) {
      const CfgSyncRule *r = &cfg->sync.v[i];
      if (r->is_default != pass) continue;
      env->syncs[env->nsyncs++] = (FeSync){r->is_default ? "*" : r->norm, r->policy, r->pattern.loc};
    }
}
