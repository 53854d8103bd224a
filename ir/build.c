/* build.c — constructing programs: symbols, modules, parameters, graphs, nodes, attributes. */
#include "ir.h"

void ir_program_init(IrProgram *p, Arena *a) {
  memset(p, 0, sizeof *p);
  p->arena = a;
  p->target = (IrTarget){-1, 1, 0, 1};
}

int ir_sym(IrProgram *p, const char *name) {
  for (int i = 0; i < p->syms.n; i++)
    if (strcmp(p->syms.v[i], name) == 0) return i;
  vec_push(p->arena, p->syms, arena_strdup(p->arena, name));
  return p->syms.n - 1;
}

int ir_module_find(const IrProgram *p, const char *name) {
  for (int i = 0; i < p->modules.n; i++)
    if (strcmp(p->modules.v[i].name, name) == 0) return i;
  return -1;
}

int ir_module_add(IrProgram *p, const char *name, const char *block) {
  if (ir_module_find(p, name) >= 0) return -1;
  IrModule m = {0};
  m.name = arena_strdup(p->arena, name);
  m.block = block ? arena_strdup(p->arena, block) : NULL;
  m.sync = (SyncPolicy){SYNC_EVERY, 1, 1.0, 0.0, 0};
  vec_push(p->arena, p->modules, m);
  return p->modules.n - 1;
}

int ir_param_find(const IrProgram *p, int module, const char *name) {
  const IrModule *m = &p->modules.v[module];
  for (int i = 0; i < m->params.n; i++)
    if (strcmp(m->params.v[i].name, name) == 0) return i;
  return -1;
}

int ir_grad_target(const IrProgram *p, const char *ref, int *module, int *param) {
  int best = -1;
  size_t best_len = 0;
  for (int m = 0; m < p->modules.n; m++) {
    size_t n = strlen(p->modules.v[m].name);
    if (n > best_len && strncmp(ref, p->modules.v[m].name, n) == 0 && ref[n] == '.' &&
        ir_param_find(p, m, ref + n + 1) >= 0) {
      best = m;
      best_len = n;
    }
  }
  if (best < 0) return 0;
  *module = best;
  *param = ir_param_find(p, best, ref + best_len + 1);
  return 1;
}

int ir_param_add(IrProgram *p, int module, const char *name, IrType type, IrInit init) {
  if (ir_param_find(p, module, name) >= 0) return -1;
  IrParam prm = {arena_strdup(p->arena, name), type, init, 0};
  vec_push(p->arena, p->modules.v[module].params, prm);
  return p->modules.v[module].params.n - 1;
}

int ir_graph_add(IrProgram *p, const char *task, int nargs, const char *const *args) {
  IrGraph g = {0};
  g.task = arena_strdup(p->arena, task);
  g.nargs = nargs;
  g.args = ARENA_ARRAY(p->arena, const char *, nargs > 0 ? nargs : 1);
  for (int i = 0; i < nargs; i++) g.args[i] = arena_strdup(p->arena, args[i]);
  vec_push(p->arena, p->graphs, g);
  return p->graphs.n - 1;
}

const char *ir_graph_name(IrProgram *p, const IrGraph *g) {
  StrBuf b;
  sb_init(&b);
  sb_puts(&b, g->task);
  sb_putc(&b, '(');
  for (int i = 0; i < g->nargs; i++) sb_printf(&b, "%s%s", i ? ", " : "", g->args[i]);
  sb_putc(&b, ')');
  const char *s = arena_take_sb(p->arena, &b);
  return s;
}

static void set_defaults(IrNode *n) {
  const OpInfo *oi = op_info(n->op);
  for (int k = 0; k < oi->nattrs; k++) {
    const AttrSpec *s = &oi->attrs[k];
    n->attr[k].i = s->def_i;
    n->attr[k].f = s->def_f;
  }
}

int ir_node_add(IrProgram *p, IrGraph *g, Op op, int nin, const int *in) {
  IrNode n = {0};
  n.op = op;
  n.nin = nin;
  n.in = ARENA_ARRAY(p->arena, int, nin > 0 ? nin : 1);
  for (int i = 0; i < nin; i++) n.in[i] = in[i];
  int na = op_info(op)->nattrs;
  n.attr = ARENA_ARRAY(p->arena, AttrVal, na > 0 ? na : 1);
  n.module = n.param = -1;
  n.owner = -1;
  n.group = -1;
  n.owner_path = "";
  set_defaults(&n);
  vec_push(p->arena, g->nodes, n);
  return g->nodes.n - 1;
}

int ir_input_add(IrProgram *p, IrGraph *g, const char *name, IrType type) {
  int id = ir_node_add(p, g, OP_INPUT, 0, NULL);
  g->nodes.v[id].name = arena_strdup(p->arena, name);
  g->nodes.v[id].type = type;
  return id;
}

int ir_param_ref(IrProgram *p, IrGraph *g, int module, int param) {
  int id = ir_node_add(p, g, OP_PARAM, 0, NULL);
  IrModule *m = &p->modules.v[module];
  IrNode *n = &g->nodes.v[id];
  n->module = module;
  n->param = param;
  n->name = m->params.v[param].name;
  n->type = m->params.v[param].type;
  int gi = (int)(g - p->graphs.v);
  int pos = 0;
  while (pos < m->used_by.n && m->used_by.v[pos] < gi) pos++;
  if (pos == m->used_by.n || m->used_by.v[pos] != gi) {
    vec_push(p->arena, m->used_by, 0);
    memmove(&m->used_by.v[pos + 1], &m->used_by.v[pos], sizeof(int) * (size_t)(m->used_by.n - 1 - pos));
    m->used_by.v[pos] = gi;
  }
  return id;
}

void ir_output_add(IrProgram *p, IrGraph *g, const char *name, int node) {
  IrOutput o = {arena_strdup(p->arena, name), node, -1, -1};
  vec_push(p->arena, g->outputs, o);
}

static AttrVal *attr_slot(IrNode *n, const char *attr, AttrKind want) {
  int k = op_attr_index(n->op, attr);
  if (k < 0) die("op %s has no attribute '%s'", op_info(n->op)->name, attr);
  AttrKind kind = op_info(n->op)->attrs[k].kind;
  if (kind != want && !(want == AK_INT && kind == AK_FLAG))
    die("attribute %s.%s has another kind", op_info(n->op)->name, attr);
  n->attr[k].set = 1;
  return &n->attr[k];
}

void ir_set_i(IrNode *n, const char *attr, int64_t v) { attr_slot(n, attr, AK_INT)->i = v; }
void ir_set_f(IrNode *n, const char *attr, double v) { attr_slot(n, attr, AK_FLOAT)->f = v; }

void ir_set_ints(IrProgram *p, IrNode *n, const char *attr, const int64_t *v, int count) {
  AttrVal *a = attr_slot(n, attr, AK_INTS);
  a->n = count;
  a->ints = ARENA_ARRAY(p->arena, int64_t, count > 0 ? count : 1);
  for (int i = 0; i < count; i++) a->ints[i] = v[i];
}

void ir_set_group(IrProgram *p, IrNode *n, const char *attr, const char *group) {
  attr_slot(n, attr, AK_GROUP)->s = arena_strdup(p->arena, group);
}

int ir_set_enum(IrNode *n, const char *attr, const char *word) {
  int k = op_attr_index(n->op, attr);
  if (k < 0) die("op %s has no attribute '%s'", op_info(n->op)->name, attr);
  const AttrSpec *s = &op_info(n->op)->attrs[k];
  for (int w = 0; w < s->nwords; w++)
    if (strcmp(s->words[w], word) == 0) {
      n->attr[k].set = 1;
      n->attr[k].i = w;
      return 1;
    }
  return 0;
}

const AttrVal *ir_get(const IrNode *n, const char *attr) {
  int k = op_attr_index(n->op, attr);
  if (k < 0) die("op %s has no attribute '%s'", op_info(n->op)->name, attr);
  return &n->attr[k];
}
int64_t ir_get_i(const IrNode *n, const char *attr) { return ir_get(n, attr)->i; }
double ir_get_f(const IrNode *n, const char *attr) { return ir_get(n, attr)->f; }
