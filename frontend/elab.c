/* elab.c — elaboration entry points: loading the model and the files it `use`s, the global
 * declarations of each file, running every task instance of the run configuration, and
 * putting module instances in their canonical order (declaration order, then index order).
 */
#include "elab_internal.h"

#include <stdlib.h>
#include <unistd.h>

void fe_default_stdlib_dirs(const char **out, char *exe_buf, size_t exe_len) {
  int n = 0;
  const char *env = getenv("MAMC_STDLIB");
  if (env && *env) out[n++] = env;
  out[n++] = MAMC_STDLIB_DIR;
  out[n++] = MAMC_STDLIB_INSTALL_DIR;
  /* beside an installed binary: PREFIX/bin/mamc -> PREFIX/share/mamc/stdlib */
  ssize_t len = exe_buf && exe_len > 32 ? readlink("/proc/self/exe", exe_buf, exe_len - 24) : -1;
  if (len > 0) {
    exe_buf[len] = 0;
    char *slash = strrchr(exe_buf, '/');
    if (slash) {
      *slash = 0;
      slash = strrchr(exe_buf, '/');
      if (slash) {
        strcpy(slash, "/share/mamc/stdlib");
        out[n++] = exe_buf;
      }
    }
  }
  out[n] = NULL;
}

static const char *dir_of(Cx *c, const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? arena_strndup(c->a, path, (size_t)(slash - path)) : ".";
}

/* ---- globals --------------------------------------------------------------------------------- */

static void define(Cx *c, Unit *u, const char *name, Value *v, SrcLoc loc) {
  Binding *old = scope_find_local(u->globals, name);
  if (old) {
    diag_error(c->d, loc, "redefinition of '%s'", name);
    diag_note(c->d, old->loc, "'%s' was first defined here", name);
    longjmp(c->fail, 1);
  }
  scope_bind(c, u->globals, name, v, loc);
}

static IndexSet *index_from_decl(Cx *c, Decl *d) {
  IndexSet *set = ARENA_NEW(c->a, IndexSet);
  set->name = d->name;
  set->loc = d->loc;
  if (d->from_config) {
    if (!c->env->has_config) return set; /* checked without a configuration: empty */
    const FeIndex *fi = NULL;
    for (int i = 0; i < c->env->nindices; i++)
      if (strcmp(c->env->indices[i].name, d->name) == 0) fi = &c->env->indices[i];
    if (!fi) fail(c, d->loc, "index '%s' comes from the run configuration, but it has no 'index: {%s: ...}' entry", d->name, d->name);
    set->n = fi->nvalues;
    set->values = fi->values;
    set->nmembers = fi->nmembers;
    set->members = fi->members;
    set->member_group = fi->member_group;
    return set;
  }
  if (!d->grouped) {
    set->n = d->nvalues;
    set->values = d->values;
    for (int i = 0; i < d->nvalues; i++)
      for (int j = 0; j < i; j++)
        if (strcmp(d->values[i], d->values[j]) == 0) fail(c, d->value_locs[i], "'%s' is listed twice in index '%s'", d->values[i], d->name);
    return set;
  }
  set->n = d->ngroups;
  set->values = ARENA_ARRAY(c->a, const char *, d->ngroups ? d->ngroups : 1);
  int nm = 0;
  for (int g = 0; g < d->ngroups; g++) nm += d->groups[g].n;
  set->members = ARENA_ARRAY(c->a, const char *, nm ? nm : 1);
  set->member_group = ARENA_ARRAY(c->a, const char *, nm ? nm : 1);
  for (int g = 0; g < d->ngroups; g++) {
    IndexGroup *gr = &d->groups[g];
    for (int k = 0; k < g; k++)
      if (strcmp(set->values[k], gr->name) == 0) fail(c, gr->loc, "group '%s' is listed twice in index '%s'", gr->name, d->name);
    set->values[g] = gr->name;
    for (int i = 0; i < gr->n; i++) {
      for (int k = 0; k < set->nmembers; k++)
        if (strcmp(set->members[k], gr->values[i]) == 0)
          fail(c, gr->locs[i], "'%s' is in two groups of index '%s' (%s and %s)", gr->values[i], d->name, set->member_group[k], gr->name);
      set->members[set->nmembers] = gr->values[i];
      set->member_group[set->nmembers++] = gr->name;
    }
  }
  return set;
}

static void declare_module(Cx *c, Unit *u, Decl *d) {
  ModDecl *m = ARENA_NEW(c->a, ModDecl);
  m->decl = d;
  m->unit = u;
  m->order = c->mods.n;
  m->nsets = d->nidx;
  if (d->nidx > 8) fail(c, d->loc, "a module takes at most 8 index sets");
  m->sets = ARENA_ARRAY(c->a, IndexSet *, d->nidx ? d->nidx : 1);
  for (int i = 0; i < d->nidx; i++) {
    Expr *se = d->idx[i].set;
    if (se->kind != E_NAME) fail(c, se->loc, "a top-level module is indexed by an index set (e.g. l: lang)");
    Value *v = scope_lookup(c, u->globals, se->name, se->loc, 0);
    if (!v) fail(c, se->loc, "unknown index set '%s'", se->name);
    if (v->kind != V_SET) fail(c, se->loc, "'%s' is not an index set (it is a %s)", se->name, val_kind_name(v->kind));
    m->sets[i] = v->set;
    for (int j = 0; j < i; j++)
      if (strcmp(d->idx[j].var, d->idx[i].var) == 0) fail(c, d->idx[i].loc, "index variable '%s' is used twice", d->idx[i].var);
  }
  vec_push(c->a, c->mods, m);
  Value *v = val_new(c, V_MODDECL);
  v->mod = m;
  v->decl = d;
  v->unit = u;
  define(c, u, d->name, v, d->loc);
}

static void declare_globals(Cx *c, Unit *u) {
  for (int i = 0; i < u->ast->decls.n; i++) {
    Decl *d = u->ast->decls.v[i];
    Value *v;
    switch (d->kind) {
    case D_USE: {
      Unit *used = unit_load_use(c, u, d->name, d->loc);
      v = val_new(c, V_UNIT);
      v->unit = used;
      const char *dot = strrchr(d->name, '.');
      define(c, u, dot ? dot + 1 : d->name, v, d->loc);
      Unit **nu = ARENA_ARRAY(c->a, Unit *, u->nuses + 1);
      if (u->nuses) memcpy(nu, u->uses, sizeof(Unit *) * (size_t)u->nuses);
      nu[u->nuses++] = used;
      u->uses = nu;
      break;
    }
    case D_CONST: define(c, u, d->name, eval(c, u->globals, d->value), d->loc); break;
    case D_INDEX:
      v = val_new(c, V_SET);
      v->set = index_from_decl(c, d);
      define(c, u, d->name, v, d->loc);
      break;
    case D_BLOCK:
    case D_FN:
      for (int k = 0; k < d->params.n; k++)
        for (int j = 0; j < k; j++)
          if (strcmp(d->params.v[k].name, d->params.v[j].name) == 0)
            fail(c, d->params.v[k].loc, "duplicate parameter '%s'", d->params.v[k].name);
      v = val_new(c, d->kind == D_BLOCK ? V_BLOCK : V_FN);
      v->decl = d;
      v->unit = u;
      define(c, u, d->name, v, d->loc);
      break;
    case D_MODULE: declare_module(c, u, d); break;
    case D_TASK:
      for (int j = 0; j < i; j++) {
        Decl *o = u->ast->decls.v[j];
        if (o->kind == D_TASK && strcmp(o->name, d->name) == 0) {
          diag_error(c->d, d->loc, "task '%s' is defined twice", d->name);
          diag_note(c->d, o->loc, "first defined here");
          longjmp(c->fail, 1);
        }
      }
      break;
    default: fail(c, d->loc, "this declaration is only allowed inside a block");
    }
  }
}

/* ---- loading files ----------------------------------------------------------------------------- */

static Unit *unit_from_src(Cx *c, const SrcFile *src, const char *ns, const char *dir) {
  AstFile *ast = parse_file(c->a, c->d, src);
  if (!ast) longjmp(c->fail, 1);
  Unit *u = ARENA_NEW(c->a, Unit);
  u->name = ns;
  u->dir = dir;
  u->ast = ast;
  u->globals = scope_new(c, NULL);
  u->globals->unit = u;
  vec_push(c->a, c->units, u);
  if (!c->main) c->main = u; /* the first file loaded is the model */
  u->loading = 1;
  declare_globals(c, u);
  u->loading = 0;
  return u;
}

Unit *unit_load_use(Cx *c, Unit *from, const char *name, SrcLoc loc) {
  for (int i = 0; i < c->units.n; i++)
    if (strcmp(c->units.v[i]->name, name) == 0) {
      if (c->units.v[i]->loading) fail(c, loc, "use cycle: '%s' is already being loaded", name);
      return c->units.v[i];
    }
  char *rel = arena_strdup(c->a, name);
  for (char *p = rel; *p; p++)
    if (*p == '.') *p = '/';
  const char *dirs[8];
  int nd = 0;
  dirs[nd++] = from->dir;
  if (c->main && c->main->dir != from->dir) dirs[nd++] = c->main->dir;
  for (int i = 0; c->env->stdlib_dirs && c->env->stdlib_dirs[i] && nd < 7; i++) dirs[nd++] = c->env->stdlib_dirs[i];
  for (int i = 0; i < nd; i++) {
    const char *path = arena_printf(c->a, "%s/%s.mam", dirs[i], rel);
    if (access(path, R_OK) != 0) continue;
    const SrcFile *src = srcfile_read(c->a, c->d, path);
    if (!src) longjmp(c->fail, 1);
    CallSite cs = {loc, arena_printf(c->a, "use %s", name)};
    vec_push(c->a, c->stack, cs);
    Unit *u = unit_from_src(c, src, name, dir_of(c, path));
    c->stack.n--;
    return u;
  }
  StrBuf b;
  sb_init(&b);
  for (int i = 0; i < nd; i++) sb_printf(&b, "%s%s", i ? ", " : "", dirs[i]);
  const char *where = arena_take_sb(c->a, &b);
  fail(c, loc, "cannot find '%s.mam' for 'use %s' (searched: %s)", rel, name, where);
}

/* ---- module order --------------------------------------------------------------------------------- */

static int inst_cmp(const Inst *a, const Inst *b) {
  if (a->mod->order != b->mod->order) return a->mod->order - b->mod->order;
  for (int i = 0; i < a->nidx; i++)
    if (a->idx[i] != b->idx[i]) return a->idx[i] < b->idx[i] ? -1 : 1;
  return 0;
}

static void order_modules(Cx *c) {
  int n = c->p->modules.n;
  Inst **by_mod = ARENA_ARRAY(c->a, Inst *, n ? n : 1);
  for (int m = 0; m < c->mods.n; m++)
    for (int k = 0; k < c->mods.v[m]->insts.n; k++) by_mod[c->mods.v[m]->insts.v[k]->irmod] = c->mods.v[m]->insts.v[k];
  int *order = ARENA_ARRAY(c->a, int, n ? n : 1), *newpos = ARENA_ARRAY(c->a, int, n ? n : 1);
  for (int i = 0; i < n; i++) order[i] = i;
  for (int i = 1; i < n; i++) /* insertion sort: few modules */
    for (int j = i; j > 0 && inst_cmp(by_mod[order[j - 1]], by_mod[order[j]]) > 0; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  IrModule *sorted = ARENA_ARRAY(c->a, IrModule, n ? n : 1);
  for (int i = 0; i < n; i++) {
    sorted[i] = c->p->modules.v[order[i]];
    newpos[order[i]] = i;
  }
  if (n) memcpy(c->p->modules.v, sorted, sizeof(IrModule) * (size_t)n);
  for (int g = 0; g < c->p->graphs.n; g++)
    for (int k = 0; k < c->p->graphs.v[g].nodes.n; k++) {
      IrNode *nd = &c->p->graphs.v[g].nodes.v[k];
      if (nd->op == OP_PARAM) nd->module = newpos[nd->module];
      if (nd->owner >= 0) nd->owner = newpos[nd->owner];
    }
}

static int pattern_match_any(const IrProgram *p, const char *pat) {
  for (int i = 0; i < p->modules.n; i++)
    if (pattern_match(pat, p->modules.v[i].name)) return 1;
  return 0;
}

static IrProgram *elaborate(Cx *c, const SrcFile *src) {
  IrProgram *p = ARENA_NEW(c->a, IrProgram);
  ir_program_init(p, c->a);
  c->p = p;
  if (setjmp(c->fail)) return NULL;
  unit_from_src(c, src, "", dir_of(c, src->name));
  if (!c->env->has_config) return p;
  for (int i = 0; i < c->env->ntasks; i++) elab_task(c, &c->env->tasks[i]);
  order_modules(c);
  for (int m = 0; m < c->mods.n; m++)
    if (c->mods.v[m]->insts.n == 0 && c->mods.v[m]->unit == c->main)
      diag_warning(c->d, c->mods.v[m]->decl->loc, "module '%s' is used by no task of the run configuration", c->mods.v[m]->decl->name);
  for (int i = 0; i < c->env->nsyncs; i++)
    if (strcmp(c->env->syncs[i].pattern, "default") != 0 && !pattern_match_any(p, c->env->syncs[i].pattern))
      fail(c, c->env->syncs[i].loc, "sync: '%s' matches no module instance of the model", c->env->syncs[i].pattern);
  if (c->d->nerrors) return NULL;
  return p;
}

static IrProgram *run(Arena *a, Diag *d, const SrcFile *src, const FeEnv *env) {
  Cx *c = ARENA_NEW(a, Cx);
  c->a = a;
  c->d = d;
  c->env = env;
  return elaborate(c, src);
}

/* The model from a file (text NULL) or from text. Without the caller's out-of-memory
 * handler, allocation failure is caught here: everything lives in the arena. */
static IrProgram *entry(Arena *a, Diag *d, const char *name, const char *text, const FeEnv *env) {
  jmp_buf oom;
  jmp_buf *saved = a->oom;
  if (!saved) {
    if (setjmp(oom)) {
      a->oom = NULL;
      diag_plain(d, "out of memory while compiling '%s'", name);
      return NULL;
    }
    a->oom = &oom;
  }
  const SrcFile *src = text ? srcfile_from_string(a, name, text) : srcfile_read(a, d, name);
  IrProgram *p = src ? run(a, d, src, env) : NULL;
  a->oom = saved;
  return p;
}

IrProgram *fe_elaborate(Arena *a, Diag *d, const char *model_path, const FeEnv *env) {
  return entry(a, d, model_path, NULL, env);
}

IrProgram *fe_elaborate_string(Arena *a, Diag *d, const char *name, const char *text, const FeEnv *env) {
  return entry(a, d, name, text, env);
}
