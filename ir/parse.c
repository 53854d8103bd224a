/* parse.c — ir_parse: the IR text form (docs/ir.md) back into an IrProgram. Recursive
 * descent, one function per grammar rule (the rule is written above it), on the lexer in
 * parse_lex.c. Checks what the text claims against what it means: every written type
 * against the op's shape rule, `param` types against the module table, used_by lists
 * against the graphs' actual parameter reads. Stops at the first error, reported as
 * `file:line:col: error: ...` with a caret. Parsed nodes keep their location (IrNode.loc)
 * in `src`, so the verifier can point at the text: src must outlive the program.
 */
#include "irtext.h"

#include <ctype.h>
#include <stdlib.h>

typedef struct UseEntry {
  const char *name; /* canonical graph name "task(a, b)" */
  SrcLoc loc;
} UseEntry;

typedef struct UseDecl {
  int module, star;
  SrcLoc loc;
  Vec(UseEntry) e;
} UseDecl;

/* Value names of one graph -> node index: open addressing, malloc'd, freed per graph. */
typedef struct ValTab {
  const char **key;
  int *node;
  size_t cap, n;
} ValTab;

typedef struct OutDecl {
  const char *name;
  IrType type;
  SrcLoc loc;
  int node;
} OutDecl;

typedef struct Parser {
  IrLex lx;
  IrProgram *p;
  int cur_module; /* the module `param` lines belong to; -1 outside one */
  Vec(UseDecl) uses;
  Vec(const char *) gnames; /* canonical graph names, by graph index */
  int *ins, ins_cap;        /* scratch: operands of the node being read */
} Parser;

/* ---- value table ----------------------------------------------------------------------------- */

static size_t hash_str(const char *s) {
  size_t h = 1469598103934665603u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static int vt_find(const ValTab *t, const char *k) {
  if (!t->cap) return -1;
  for (size_t i = hash_str(k) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    if (!t->key[i]) return -1;
    if (strcmp(t->key[i], k) == 0) return t->node[i];
  }
}

static int vt_put(ValTab *t, const char *k, int node) {
  if (2 * (t->n + 1) > t->cap) {
    size_t ncap = t->cap ? 2 * t->cap : 64;
    const char **nk = calloc(ncap, sizeof *nk);
    int *nn = calloc(ncap, sizeof *nn);
    if (!nk || !nn) {
      free(nk);
      free(nn);
      return 0;
    }
    for (size_t j = 0; j < t->cap; j++) {
      if (!t->key[j]) continue;
      size_t i = hash_str(t->key[j]) & (ncap - 1);
      while (nk[i]) i = (i + 1) & (ncap - 1);
      nk[i] = t->key[j];
      nn[i] = t->node[j];
    }
    free(t->key);
    free(t->node);
    t->key = nk;
    t->node = nn;
    t->cap = ncap;
  }
  size_t i = hash_str(k) & (t->cap - 1);
  while (t->key[i]) i = (i + 1) & (t->cap - 1);
  t->key[i] = k;
  t->node[i] = node;
  t->n++;
  return 1;
}

/* ---- types ------------------------------------------------------------------------------------ */

static const char *type_text(Parser *ps, const IrType *t) {
  StrBuf b;
  sb_init(&b);
  ir_print_type(&b, ps->p, t);
  const char *s = arena_take_sb(ps->p->arena, &b);
  return s;
}

/* ---- modules and parameters ---------------------------------------------------------------------- */

/* graph_ref := NAME '(' [NAME {',' NAME}] ')'; *canon gets "task(a, b)" */
static int parse_graph_ref(Parser *ps, const char **task, int *nargs, const char ***args,
                           const char **canon) {
  IrLex *l = &ps->lx;
  *task = irl_name(l, "a task name");
  if (!*task || !irl_expect(l, '(', "after the task name")) return 0;
  Vec(const char *) a = {0};
  StrBuf b;
  sb_init(&b);
  sb_printf(&b, "%s(", *task);
  int ok = 1;
  if (!irl_accept(l, ')')) {
    do {
      const char *arg = irl_name(l, "a task argument");
      if (!arg) {
        ok = 0;
        break;
      }
      sb_printf(&b, "%s%s", a.n ? ", " : "", arg);
      vec_push(ps->p->arena, a, arg);
    } while (irl_accept(l, ','));
    ok = ok && irl_expect(l, ')', "after the task arguments");
  }
  sb_putc(&b, ')');
  *nargs = a.n;
  *args = a.v;
  *canon = arena_take_sb(ps->p->arena, &b);
  return ok;
}

/* sync := 'every' '(' INT ')' | 'local'
 *       | 'outer' '(' 'every' '=' INT [',' 'lr' '=' NUM] [',' 'momentum' '=' NUM] [',' 'nesterov'] ')' */
static int parse_sync(Parser *ps, SyncPolicy *sp) {
  IrLex *l = &ps->lx;
  SrcLoc loc = irl_loc(l);
  int64_t v;
  if (irl_accept_word(l, "local")) {
    sp->kind = SYNC_LOCAL;
    return 1;
  }
  if (irl_accept_word(l, "every")) {
    if (!irl_expect(l, '(', "after 'every'") || !irl_int(l, &v, "a step count")) return 0;
    if (v < 0 || v > INT32_MAX) return irl_error(l, loc, "step count %lld is out of range", (long long)v);
    sp->kind = SYNC_EVERY;
    sp->every = (int)v;
    return irl_expect(l, ')', "after the step count");
  }
  if (!irl_accept_word(l, "outer"))
    return irl_error(l, loc,
                     "expected a sync policy (every(N), outer(every = H, lr = X, momentum = Y) or local), "
                     "found %s",
                     irl_found(l));
  if (!irl_expect(l, '(', "after 'outer'")) return 0;
  int has_every = 0;
  sp->kind = SYNC_OUTER;
  sp->lr = 1;
  sp->momentum = 0;
  sp->nesterov = 0;
  do {
    SrcLoc kl = irl_loc(l);
    if (irl_accept_word(l, "nesterov")) {
      sp->nesterov = 1;
    } else if (irl_accept_word(l, "every")) {
      if (!irl_expect(l, '=', "after 'every'") || !irl_int(l, &v, "a step count")) return 0;
      if (v < 0 || v > INT32_MAX) return irl_error(l, kl, "step count %lld is out of range", (long long)v);
      sp->every = (int)v;
      has_every = 1;
    } else if (irl_accept_word(l, "lr")) {
      if (!irl_expect(l, '=', "after 'lr'") || !irl_float(l, &sp->lr, "a learning rate")) return 0;
    } else if (irl_accept_word(l, "momentum")) {
      if (!irl_expect(l, '=', "after 'momentum'") || !irl_float(l, &sp->momentum, "a momentum")) return 0;
    } else {
      return irl_error(l, kl, "expected every, lr, momentum or nesterov in outer(...), found %s",
                       irl_found(l));
    }
  } while (irl_accept(l, ','));
  if (!has_every) return irl_error(l, loc, "outer(...) needs 'every = H'");
  return irl_expect(l, ')', "to close outer(...)");
}

/* used_by := 'used_by' '[' ('*' | [graph_ref {',' graph_ref}]) ']' */
static int parse_used_by(Parser *ps, int module, SrcLoc loc) {
  IrLex *l = &ps->lx;
  UseDecl u = {module, 0, loc, {0}};
  if (!irl_expect(l, '[', "after 'used_by'")) return 0;
  if (irl_accept(l, '*')) {
    u.star = 1;
  } else if (irl_peek(l) != ']') {
    do {
      UseEntry e = {NULL, irl_loc(l)};
      const char *task, **args;
      int nargs;
      if (!parse_graph_ref(ps, &task, &nargs, &args, &e.name)) return 0;
      vec_push(ps->p->arena, u.e, e);
    } while (irl_accept(l, ','));
  }
  if (!irl_expect(l, ']', "to close the used_by list")) return 0;
  vec_push(ps->p->arena, ps->uses, u);
  return 1;
}

/* module := 'module' '@' NAME {'sync' sync | used_by | 'ranks' '[' [INT {',' INT}] ']'} */
static int parse_module(Parser *ps) {
  IrLex *l = &ps->lx;
  if (!irl_expect(l, '@', "before the module name")) return 0;
  SrcLoc nloc = irl_loc(l);
  const char *name = irl_name(l, "a module name");
  if (!name) return 0;
  if (ir_module_find(ps->p, name) >= 0) return irl_error(l, nloc, "module @%s is defined twice", name);
  int m = ir_module_add(ps->p, name, NULL);
  int seen_sync = 0, seen_used = 0, seen_ranks = 0;
  for (;;) {
    SrcLoc cl = irl_loc(l);
    if (irl_accept_word(l, "sync")) {
      if (seen_sync++) return irl_error(l, cl, "'sync' is given twice");
      if (!parse_sync(ps, &ps->p->modules.v[m].sync)) return 0;
    } else if (irl_accept_word(l, "used_by")) {
      if (seen_used++) return irl_error(l, cl, "'used_by' is given twice");
      if (!parse_used_by(ps, m, cl)) return 0;
    } else if (irl_accept_word(l, "ranks")) {
      if (seen_ranks++) return irl_error(l, cl, "'ranks' is given twice");
      if (!irl_expect(l, '[', "after 'ranks'")) return 0;
      if (irl_peek(l) != ']') {
        do {
          SrcLoc rl = irl_loc(l);
          int64_t r;
          if (!irl_int(l, &r, "a rank")) return 0;
          if (r < 0 || r > INT32_MAX) return irl_error(l, rl, "rank %lld is out of range", (long long)r);
          vec_push(ps->p->arena, ps->p->modules.v[m].ranks, (int)r);
        } while (irl_accept(l, ','));
      }
      if (!irl_expect(l, ']', "to close the ranks")) return 0;
    } else {
      break;
    }
  }
  ps->cur_module = m;
  return 1;
}

/* init := 'zeros' | 'ones' | 'xavier' [ '(' NUM ')' ] | 'const' '(' NUM ')'
 *       | 'normal' '(' NUM ',' NUM ')' | 'uniform' '(' NUM ',' NUM ')' */
static int parse_init(Parser *ps, IrInit *in) {
  IrLex *l = &ps->lx;
  SrcLoc loc = irl_loc(l);
  const char *w = irl_ident(l, "an initializer");
  if (!w) return 0;
  memset(in, 0, sizeof *in);
  int nargs = 0;
  if (strcmp(w, "zeros") == 0) {
    in->kind = INIT_ZEROS;
  } else if (strcmp(w, "ones") == 0) {
    in->kind = INIT_ONES;
  } else if (strcmp(w, "xavier") == 0) { /* xavier or xavier(GAIN) */
    in->kind = INIT_XAVIER;
    if (!irl_accept(l, '(')) return 1;
    if (!irl_float(l, &in->b, "the gain")) return 0;
    return irl_expect(l, ')', "after the gain");
  } else if (strcmp(w, "dct") == 0) {
    in->kind = INIT_DCT;
  } else if (strcmp(w, "const") == 0) {
    in->kind = INIT_CONST;
    nargs = 1;
  } else if (strcmp(w, "normal") == 0) {
    in->kind = INIT_NORMAL;
    nargs = 2;
  } else if (strcmp(w, "uniform") == 0) {
    in->kind = INIT_UNIFORM;
    nargs = 2;
  } else {
    return irl_error(l, loc,
                     "unknown initializer '%s' (expected zeros, ones, const(v), normal(mean, std), "
                     "uniform(a, b), xavier or dct)",
                     w);
  }
  if (!nargs) return 1;
  if (!irl_expect(l, '(', "after the initializer") || !irl_float(l, &in->a, "a number")) return 0;
  if (nargs == 2 &&
      (!irl_expect(l, ',', "between the initializer's arguments") || !irl_float(l, &in->b, "a number")))
    return 0;
  return irl_expect(l, ')', "after the initializer's arguments");
}

/* param := 'param' NAME ':' type 'init' init ['frozen'] */
static int parse_param(Parser *ps, SrcLoc loc) {
  IrLex *l = &ps->lx;
  if (ps->cur_module < 0)
    return irl_error(l, loc, "'param' outside a module: parameters follow their 'module' line");
  int m = ps->cur_module;
  SrcLoc nloc = irl_loc(l);
  const char *name = irl_name(l, "a parameter name");
  if (!name) return 0;
  if (ir_param_find(ps->p, m, name) >= 0)
    return irl_error(l, nloc, "module @%s already has a parameter '%s'", ps->p->modules.v[m].name, name);
  IrType t;
  IrInit in;
  if (!irl_expect(l, ':', "after the parameter name") || !irl_type(&ps->lx, ps->p, &t)) return 0;
  if (!irl_accept_word(l, "init"))
    return irl_error(l, irl_loc(l), "expected 'init' after the parameter type, found %s", irl_found(l));
  if (!parse_init(ps, &in)) return 0;
  int k = ir_param_add(ps->p, m, name, t, in);
  ps->p->modules.v[m].params.v[k].frozen = irl_accept_word(l, "frozen");
  return 1;
}

/* ---- nodes ----------------------------------------------------------------------------------------- */

/* attr := NAME ['=' value]   (a bare NAME only for flags) */
static int parse_attr_value(Parser *ps, const char *op, const AttrSpec *s, AttrVal *v) {
  IrLex *l = &ps->lx;
  Arena *a = ps->p->arena;
  char what[96], buf[160];
  snprintf(what, sizeof what, "attribute '%s' of %s", s->name, op);
  if (!irl_accept(l, '=')) {
    if (s->kind == AK_FLAG) {
      v->i = 1;
      return 1;
    }
    return irl_error(l, irl_loc(l), "expected '=' after %s, found %s", what, irl_found(l));
  }
  SrcLoc vloc = irl_loc(l);
  switch (s->kind) {
  case AK_FLAG:
    if (irl_accept_word(l, "true") || irl_accept_word(l, "1")) {
      v->i = 1;
      return 1;
    }
    if (irl_accept_word(l, "false") || irl_accept_word(l, "0")) {
      v->i = 0;
      return 1;
    }
    return irl_error(l, vloc, "%s is a flag: write it bare, or = true / = false; found %s", what,
                     irl_found(l));
  case AK_INT: snprintf(buf, sizeof buf, "an integer for %s", what); return irl_int(l, &v->i, buf);
  case AK_FLOAT: snprintf(buf, sizeof buf, "a number for %s", what); return irl_float(l, &v->f, buf);
  case AK_INTS: {
    if (!irl_accept(l, '['))
      return irl_error(l, vloc, "expected a list of integers like [0, 1] for %s, found %s", what,
                       irl_found(l));
    Vec(int64_t) xs = {0};
    snprintf(buf, sizeof buf, "an integer in %s", what);
    if (irl_peek(l) != ']') {
      do {
        int64_t x;
        if (!irl_int(l, &x, buf)) return 0;
        vec_push(a, xs, x);
      } while (irl_accept(l, ','));
    }
    v->n = xs.n;
    v->ints = xs.v ? xs.v : ARENA_ARRAY(a, int64_t, 1);
    return irl_expect(l, ']', "to close the list");
  }
  case AK_GROUP:
    if (!irl_accept(l, '@'))
      return irl_error(l, vloc, "expected a group like @core for %s, found %s", what, irl_found(l));
    v->s = irl_name(l, "a group name");
    return v->s != NULL;
  case AK_ENUM: {
    for (int k = 0; k < s->nwords; k++)
      if (irl_accept_word(l, s->words[k])) {
        v->i = k;
        return 1;
      }
    StrBuf b;
    sb_init(&b);
    for (int k = 0; k < s->nwords; k++) sb_printf(&b, "%s%s", k ? ", " : "", s->words[k]);
    irl_error(l, vloc, "%s must be one of %s; found %s", what, b.s ? b.s : "", irl_found(l));
    sb_free(&b);
    return 0;
  }
  }
  return 0;
}

/* attrs := '{' [attr {',' attr}] '}'   ('{' already read) */
static int parse_attrs(Parser *ps, IrGraph *g, int id) {
  IrLex *l = &ps->lx;
  Op op = g->nodes.v[id].op;
  const OpInfo *oi = op_info(op);
  if (irl_accept(l, '}')) return 1;
  do {
    SrcLoc aloc = irl_loc(l);
    const char *name = irl_ident(l, "an attribute name");
    if (!name) return 0;
    int k = op_attr_index(op, name);
    if (k < 0) {
      StrBuf b;
      sb_init(&b);
      for (int j = 0; j < oi->nattrs; j++) sb_printf(&b, "%s%s", j ? ", " : "", oi->attrs[j].name);
      irl_error(l, aloc, "op %s has no attribute '%s' (%s%s)", oi->name, name,
                oi->nattrs ? "its attributes: " : "it takes none", b.s ? b.s : "");
      sb_free(&b);
      return 0;
    }
    AttrVal *v = &g->nodes.v[id].attr[k];
    if (v->set) return irl_error(l, aloc, "attribute '%s' is given twice", name);
    if (!parse_attr_value(ps, oi->name, &oi->attrs[k], v)) return 0;
    v->set = 1;
  } while (irl_accept(l, ','));
  return irl_expect(l, '}', "to close the attributes");
}

/* param_ref := '@' MODULE '.' PARAM — the longest declared module name that works. */
static int parse_param_ref(Parser *ps, IrGraph *g, int *id) {
  IrLex *l = &ps->lx;
  IrProgram *p = ps->p;
  if (!irl_expect(l, '@', "before the parameter (like @embed[en].weight)")) return 0;
  SrcLoc rloc = irl_loc(l);
  const char *ref = irl_name(l, "a parameter reference");
  if (!ref) return 0;
  int best_m = -1, best_p = -1;
  size_t best_len = 0, any_len = 0;
  int any_m = -1;
  for (int i = 0; i < p->modules.n; i++) {
    size_t n = strlen(p->modules.v[i].name);
    if (strncmp(ref, p->modules.v[i].name, n) != 0 || ref[n] != '.') continue;
    if (any_m < 0 || n > any_len) any_m = i, any_len = n;
    int k = ir_param_find(p, i, ref + n + 1);
    if (k >= 0 && (best_m < 0 || n > best_len)) best_m = i, best_p = k, best_len = n;
  }
  if (any_m < 0) return irl_error(l, rloc, "no declared module matches @%s (expected @MODULE.PARAM)", ref);
  if (best_m < 0)
    return irl_error(l, rloc, "module @%s has no parameter '%s'", p->modules.v[any_m].name,
                     ref + any_len + 1);
  *id = ir_param_ref(p, g, best_m, best_p);
  return 1;
}

/* node := '%' NAME '=' (OP [operands] [attrs] | 'param' param_ref) ':' type ['group' INT]
 * operands := '%' NAME {',' '%' NAME} */
static int parse_node(Parser *ps, IrGraph *g, ValTab *vt) {
  IrLex *l = &ps->lx;
  IrProgram *p = ps->p;
  SrcLoc loc = irl_loc(l);
  irl_accept(l, '%');
  const char *name = irl_name(l, "a value name");
  if (!name) return 0;
  if (vt_find(vt, name) >= 0) return irl_error(l, loc, "value %%%s is defined twice", name);
  if (!irl_expect(l, '=', "after the value name")) return 0;
  SrcLoc oploc = irl_loc(l);
  const char *opname = irl_ident(l, "an op name");
  if (!opname) return 0;
  Op op;
  if (!op_lookup(opname, &op)) return irl_error(l, oploc, "unknown op '%s'", opname);
  if (op == OP_INPUT)
    return irl_error(l, oploc, "inputs are declared in the task signature, not with 'input'");
  int id = -1;
  if (op == OP_PARAM) {
    if (!parse_param_ref(ps, g, &id)) return 0;
  } else {
    int nin = 0;
    if (irl_peek(l) == '%') {
      do {
        SrcLoc rloc = irl_loc(l);
        if (!irl_expect(l, '%', "before an operand")) return 0;
        const char *r = irl_name(l, "a value name");
        if (!r) return 0;
        int k = vt_find(vt, r);
        if (k < 0) return irl_error(l, rloc, "undefined value %%%s", r);
        if (nin == ps->ins_cap) {
          int ncap = ps->ins_cap ? 2 * ps->ins_cap : 16;
          int *ni = realloc(ps->ins, sizeof(int) * (size_t)ncap);
          if (!ni) return irl_error(l, rloc, "out of memory");
          ps->ins = ni;
          ps->ins_cap = ncap;
        }
        ps->ins[nin++] = k;
      } while (irl_accept(l, ','));
    }
    id = ir_node_add(p, g, op, nin, ps->ins);
  }
  if (irl_accept(l, '{') && !parse_attrs(ps, g, id)) return 0;
  if (!irl_accept(l, ':'))
    return irl_error(l, irl_loc(l), "expected ':' and the type of %%%s, found %s", name, irl_found(l));
  SrcLoc tloc = irl_loc(l);
  IrType t;
  if (!irl_type(&ps->lx, ps->p, &t)) return 0;
  IrNode *n = &g->nodes.v[id];
  n->loc = loc;
  if (op == OP_PARAM) {
    if (!type_eq(&n->type, &t))
      return irl_error(l, tloc, "type mismatch: @%s.%s is %s in its module, written %s",
                       p->modules.v[n->module].name, n->name, type_text(ps, &n->type), type_text(ps, &t));
  } else {
    char err[512];
    n->type = t;
    if (!ir_infer(p, g, id, err, sizeof err)) return irl_error(l, oploc, "%s", err);
    if (!type_eq(&n->type, &t))
      return irl_error(l, tloc, "type mismatch: written %s, but %s gives %s", type_text(ps, &t), opname,
                       type_text(ps, &n->type));
  }
  SrcLoc gloc = irl_loc(l);
  if (irl_accept_word(l, "group")) { /* fusion group (ir/group.h); the verifier checks the rules */
    int64_t grp;
    if (!irl_int(l, &grp, "a fusion group number")) return 0;
    if (grp < 0 || grp > INT32_MAX) return irl_error(l, gloc, "fusion group %lld is out of range", (long long)grp);
    g->nodes.v[id].group = (int)grp;
  }
  if (!vt_put(vt, name, id)) return irl_error(l, loc, "out of memory");
  return 1;
}

/* ---- tasks ----------------------------------------------------------------------------------------- */

/* return := 'return' NAME '=' '%' NAME */
static int parse_return(Parser *ps, IrGraph *g, ValTab *vt, OutDecl *outs, int nouts) {
  IrLex *l = &ps->lx;
  SrcLoc nloc = irl_loc(l);
  const char *name = irl_name(l, "an output name");
  if (!name) return 0;
  int k = 0;
  while (k < nouts && strcmp(outs[k].name, name) != 0) k++;
  if (k == nouts) return irl_error(l, nloc, "the task signature declares no output '%s'", name);
  if (outs[k].node >= 0) return irl_error(l, nloc, "output '%s' is returned twice", name);
  if (!irl_expect(l, '=', "after the output name")) return 0;
  SrcLoc vloc = irl_loc(l);
  if (!irl_expect(l, '%', "before the returned value")) return 0;
  const char *v = irl_name(l, "a value name");
  if (!v) return 0;
  int id = vt_find(vt, v);
  if (id < 0) return irl_error(l, vloc, "undefined value %%%s", v);
  const IrType *t = &g->nodes.v[id].type;
  if (!type_eq(t, &outs[k].type))
    return irl_error(l, vloc, "output '%s' is declared %s, but %%%s is %s", name,
                     type_text(ps, &outs[k].type), v, type_text(ps, t));
  outs[k].node = id;
  return 1;
}

/* task := 'task' '@' graph_ref '(' [input {',' input}] ')' '->' '(' [output {',' output}] ')'
 *         '{' {node | return} '}'
 * input := '%' NAME ':' type      output := NAME ':' type */
static int parse_task_body(Parser *ps, IrGraph *g, ValTab *vt) {
  IrLex *l = &ps->lx;
  IrProgram *p = ps->p;
  if (!irl_expect(l, '(', "before the task inputs")) return 0;
  if (!irl_accept(l, ')')) {
    do {
      SrcLoc vloc = irl_loc(l);
      if (!irl_expect(l, '%', "before an input name")) return 0;
      const char *name = irl_name(l, "an input name");
      IrType t;
      if (!name) return 0;
      if (vt_find(vt, name) >= 0) return irl_error(l, vloc, "value %%%s is defined twice", name);
      if (!irl_expect(l, ':', "after the input name") || !irl_type(&ps->lx, ps->p, &t)) return 0;
      int id = ir_input_add(p, g, name, t);
      g->nodes.v[id].loc = vloc;
      if (!vt_put(vt, g->nodes.v[id].name, id)) return irl_error(l, vloc, "out of memory");
    } while (irl_accept(l, ','));
    if (!irl_expect(l, ')', "after the task inputs")) return 0;
  }
  if (!irl_accept_str(l, "->"))
    return irl_error(l, irl_loc(l), "expected '->' after the task inputs, found %s", irl_found(l));
  if (!irl_expect(l, '(', "before the task outputs")) return 0;
  Vec(OutDecl) outs = {0};
  if (!irl_accept(l, ')')) {
    do {
      OutDecl o = {NULL, {0}, irl_loc(l), -1};
      o.name = irl_name(l, "an output name");
      if (!o.name) return 0;
      for (int i = 0; i < outs.n; i++)
        if (strcmp(outs.v[i].name, o.name) == 0)
          return irl_error(l, o.loc, "output '%s' is declared twice", o.name);
      if (!irl_expect(l, ':', "after the output name") || !irl_type(&ps->lx, ps->p, &o.type)) return 0;
      vec_push(p->arena, outs, o);
    } while (irl_accept(l, ','));
    if (!irl_expect(l, ')', "after the task outputs")) return 0;
  }
  if (!irl_expect(l, '{', "to open the task body")) return 0;
  while (!irl_accept(l, '}')) {
    SrcLoc sloc = irl_loc(l);
    if (irl_accept_word(l, "return")) {
      if (!parse_return(ps, g, vt, outs.v, outs.n)) return 0;
    } else if (irl_peek(l) == '%') {
      if (!parse_node(ps, g, vt)) return 0;
    } else {
      return irl_error(l, sloc, "expected a node ('%%N = op ...'), 'return' or '}', found %s", irl_found(l));
    }
  }
  for (int i = 0; i < outs.n; i++) {
    if (outs.v[i].node < 0)
      return irl_error(l, outs.v[i].loc, "output '%s' is never returned", outs.v[i].name);
    IrOutput o = {outs.v[i].name, outs.v[i].node, -1, -1};
    if (strncmp(o.name, "grad.", 5) == 0 && !ir_grad_target(p, o.name + 5, &o.module, &o.param))
      return irl_error(l, outs.v[i].loc, "gradient output '%s' names no parameter of the module table", o.name);
    vec_push(p->arena, g->outputs, o);
  }
  return 1;
}

static int parse_task(Parser *ps) {
  IrLex *l = &ps->lx;
  ps->cur_module = -1;
  if (!irl_expect(l, '@', "before the task name")) return 0;
  SrcLoc nloc = irl_loc(l);
  const char *task, **args, *canon;
  int nargs;
  if (!parse_graph_ref(ps, &task, &nargs, &args, &canon)) return 0;
  for (int i = 0; i < ps->gnames.n; i++)
    if (strcmp(ps->gnames.v[i], canon) == 0) return irl_error(l, nloc, "task @%s is defined twice", canon);
  int gi = ir_graph_add(ps->p, task, nargs, args);
  vec_push(ps->p->arena, ps->gnames, canon);
  ValTab vt = {0};
  int ok = parse_task_body(ps, &ps->p->graphs.v[gi], &vt);
  free(vt.key);
  free(vt.node);
  return ok;
}

/* ---- program ----------------------------------------------------------------------------------------- */

static int uses_graph(const IrModule *m, int gi) {
  for (int i = 0; i < m->used_by.n; i++)
    if (m->used_by.v[i] == gi) return 1;
  return 0;
}

/* Each written used_by list must equal the graphs that read the module's parameters. */
static int check_used_by(Parser *ps) {
  IrLex *l = &ps->lx;
  IrProgram *p = ps->p;
  for (int u = 0; u < ps->uses.n; u++) {
    const UseDecl *ud = &ps->uses.v[u];
    const IrModule *m = &p->modules.v[ud->module];
    if (ud->star) {
      for (int gi = 0; gi < p->graphs.n; gi++)
        if (!uses_graph(m, gi))
          return irl_error(l, ud->loc, "module @%s: used_by [*], but task @%s reads none of its parameters",
                           m->name, ps->gnames.v[gi]);
      continue;
    }
    char *listed = ARENA_ARRAY(p->arena, char, p->graphs.n + 1);
    for (int e = 0; e < ud->e.n; e++) {
      const UseEntry *ue = &ud->e.v[e];
      int gi = 0;
      while (gi < p->graphs.n && strcmp(ps->gnames.v[gi], ue->name) != 0) gi++;
      if (gi == p->graphs.n)
        return irl_error(l, ue->loc, "module @%s: used_by names task @%s, which is not defined", m->name,
                         ue->name);
      if (listed[gi])
        return irl_error(l, ue->loc, "module @%s: task @%s is listed twice in used_by", m->name, ue->name);
      listed[gi] = 1;
      if (!uses_graph(m, gi))
        return irl_error(l, ue->loc, "module @%s: used_by lists task @%s, which reads none of its parameters",
                         m->name, ue->name);
    }
    for (int i = 0; i < m->used_by.n; i++)
      if (!listed[m->used_by.v[i]])
        return irl_error(l, ud->loc,
                         "module @%s: task @%s reads its parameters, but used_by does not list it", m->name,
                         ps->gnames.v[m->used_by.v[i]]);
  }
  return 1;
}

/* program := {module | param | task} */
int ir_parse(IrProgram *p, const SrcFile *src, Diag *d) {
  Parser ps;
  memset(&ps, 0, sizeof ps);
  irl_init(&ps.lx, src, d, p->arena);
  ps.p = p;
  ps.cur_module = -1;
  IrLex *l = &ps.lx;
  int ok = 1;
  while (ok && irl_peek(l)) {
    SrcLoc loc = irl_loc(l);
    if (irl_accept_word(l, "module"))
      ok = parse_module(&ps);
    else if (irl_accept_word(l, "param"))
      ok = parse_param(&ps, loc);
    else if (irl_accept_word(l, "task"))
      ok = parse_task(&ps);
    else
      ok = irl_error(l, loc, "expected 'module', 'param' or 'task', found %s", irl_found(l));
  }
  ok = ok && check_used_by(&ps);
  free(ps.ins);
  return ok;
}
