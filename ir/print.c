/* print.c — the canonical IR text form (grammar in docs/ir.md): ir_print_program and
 * ir_print_graph. ir/parse.c reads it back, and print(parse(print(P))) == print(P) byte for
 * byte, so everything here depends only on what the text carries: names (not symbol or
 * graph indices beyond their order), attribute values (not how they were set), and floats
 * in the shortest form that strtod reads back exactly. Never fails on an invalid program:
 * what cannot be named prints as '?', and the verifier says why.
 */
#include "irtext.h"

#include <math.h>
#include <stdlib.h>

/* ---- shared rules ------------------------------------------------------------------------ */

int irt_attr_printed(const AttrSpec *s, const AttrVal *v) {
  if (!s->has_default || s->default_unset) return v->set;
  switch (s->kind) {
  case AK_FLOAT: return !(v->f == s->def_f); /* NaN differs from everything */
  case AK_INT:
  case AK_FLAG:
  case AK_ENUM: return v->i != s->def_i;
  default: return v->set;
  }
}

int irt_node_number(const IrGraph *g, int id) {
  int k = 0;
  for (int i = 0; i < id && i < g->nodes.n; i++)
    if (g->nodes.v[i].op != OP_INPUT) k++;
  return k;
}

/* ---- pieces ------------------------------------------------------------------------------- */

/* The shortest %.*g that strtod reads back as exactly v. */
static void print_float(StrBuf *b, double v) {
  if (isnan(v)) {
    sb_puts(b, "nan");
    return;
  }
  if (isinf(v)) {
    sb_puts(b, v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  sb_puts(b, buf);
}

static void print_name(StrBuf *b, const char *s) { sb_puts(b, s ? s : "?"); }

static void print_graph_name(StrBuf *b, const IrGraph *g) {
  print_name(b, g->task);
  sb_putc(b, '(');
  for (int i = 0; i < g->nargs; i++) {
    if (i) sb_puts(b, ", ");
    print_name(b, g->args[i]);
  }
  sb_putc(b, ')');
}

static void print_init(StrBuf *b, const IrInit *in) {
  switch (in->kind) {
  case INIT_ZEROS: sb_puts(b, "zeros"); return;
  case INIT_ONES: sb_puts(b, "ones"); return;
  case INIT_XAVIER:
    sb_puts(b, "xavier");
    if (in->b == 0 || in->b == 1) return; /* gain 1 */
    sb_putc(b, '(');
    print_float(b, in->b);
    sb_putc(b, ')');
    return;
  case INIT_DCT: sb_puts(b, "dct"); return;
  case INIT_CONST: sb_puts(b, "const("); break;
  case INIT_NORMAL: sb_puts(b, "normal("); break;
  case INIT_UNIFORM: sb_puts(b, "uniform("); break;
  default: sb_puts(b, "?"); return;
  }
  print_float(b, in->a);
  if (in->kind != INIT_CONST) {
    sb_puts(b, ", ");
    print_float(b, in->b);
  }
  sb_putc(b, ')');
}

static void print_sync(StrBuf *b, const SyncPolicy *s) {
  switch (s->kind) {
  case SYNC_EVERY: sb_printf(b, "every(%d)", s->every); return;
  case SYNC_LOCAL: sb_puts(b, "local"); return;
  case SYNC_OUTER:
    sb_printf(b, "outer(every = %d, lr = ", s->every);
    print_float(b, s->lr);
    sb_puts(b, ", momentum = ");
    print_float(b, s->momentum);
    sb_puts(b, s->nesterov ? ", nesterov)" : ")");
    return;
  }
  sb_puts(b, "?");
}

static int used_by_all(const IrProgram *p, const IrModule *m) {
  if (p->graphs.n < 2 || m->used_by.n != p->graphs.n) return 0;
  for (int i = 0; i < m->used_by.n; i++)
    if (m->used_by.v[i] != i) return 0;
  return 1;
}

static void print_module(StrBuf *b, const IrProgram *p, const IrModule *m) {
  sb_puts(b, "module @");
  print_name(b, m->name);
  sb_puts(b, " sync ");
  print_sync(b, &m->sync);
  sb_puts(b, " used_by [");
  if (used_by_all(p, m)) {
    sb_putc(b, '*');
  } else {
    for (int i = 0; i < m->used_by.n; i++) {
      if (i) sb_puts(b, ", ");
      int gi = m->used_by.v[i];
      if (gi >= 0 && gi < p->graphs.n)
        print_graph_name(b, &p->graphs.v[gi]);
      else
        sb_puts(b, "?");
    }
  }
  sb_putc(b, ']');
  if (m->ranks.n > 0) {
    sb_puts(b, " ranks [");
    for (int i = 0; i < m->ranks.n; i++) sb_printf(b, "%s%d", i ? ", " : "", m->ranks.v[i]);
    sb_putc(b, ']');
  }
  sb_putc(b, '\n');
  for (int i = 0; i < m->params.n; i++) {
    const IrParam *prm = &m->params.v[i];
    sb_puts(b, "  param ");
    print_name(b, prm->name);
    sb_puts(b, " : ");
    ir_print_type(b, p, &prm->type);
    sb_puts(b, " init ");
    print_init(b, &prm->init);
    if (prm->frozen) sb_puts(b, " frozen");
    sb_putc(b, '\n');
  }
}

/* %name for inputs, %N for the others. `dense`: inputs are exactly a prefix of `prefix`
 * nodes, so numbering is a subtraction; otherwise count. */
typedef struct Numbering {
  const IrGraph *g;
  int prefix, dense;
} Numbering;

static Numbering numbering(const IrGraph *g) {
  Numbering nb = {g, 0, 1};
  while (nb.prefix < g->nodes.n && g->nodes.v[nb.prefix].op == OP_INPUT) nb.prefix++;
  for (int i = nb.prefix; i < g->nodes.n; i++)
    if (g->nodes.v[i].op == OP_INPUT) nb.dense = 0;
  return nb;
}

static void print_ref(StrBuf *b, const Numbering *nb, int id) {
  const IrGraph *g = nb->g;
  if (id < 0 || id >= g->nodes.n) {
    sb_puts(b, "%?");
  } else if (g->nodes.v[id].op == OP_INPUT) {
    sb_putc(b, '%');
    print_name(b, g->nodes.v[id].name);
  } else {
    sb_printf(b, "%%%d", nb->dense ? id - nb->prefix : irt_node_number(g, id));
  }
}

static void print_attr(StrBuf *b, const AttrSpec *s, const AttrVal *v) {
  if (s->kind == AK_FLAG) {
    sb_puts(b, s->name);
    if (!v->i) sb_puts(b, " = false");
    return;
  }
  sb_printf(b, "%s = ", s->name);
  switch (s->kind) {
  case AK_INT: sb_printf(b, "%lld", (long long)v->i); break;
  case AK_FLOAT: print_float(b, v->f); break;
  case AK_INTS:
    sb_putc(b, '[');
    for (int i = 0; i < v->n; i++)
      sb_printf(b, "%s%lld", i ? ", " : "", v->ints ? (long long)v->ints[i] : 0LL);
    sb_putc(b, ']');
    break;
  case AK_GROUP:
    sb_putc(b, '@');
    print_name(b, v->s);
    break;
  case AK_ENUM:
    if (v->i >= 0 && v->i < s->nwords)
      sb_puts(b, s->words[v->i]);
    else
      sb_puts(b, "?");
    break;
  default: break;
  }
}

static void print_node(StrBuf *b, const IrProgram *p, const Numbering *nb, int id) {
  const IrNode *n = &nb->g->nodes.v[id];
  sb_puts(b, "  ");
  print_ref(b, nb, id);
  sb_puts(b, " = ");
  if ((unsigned)n->op >= OP_COUNT) {
    sb_puts(b, "?");
    sb_pad_to(b, IRT_TYPE_COL);
    sb_puts(b, ": ");
    ir_print_type(b, p, &n->type);
    sb_putc(b, '\n');
    return;
  }
  const OpInfo *oi = op_info(n->op);
  sb_puts(b, oi->name);
  if (n->op == OP_PARAM) {
    sb_puts(b, " @");
    if (n->module >= 0 && n->module < p->modules.n) {
      const IrModule *m = &p->modules.v[n->module];
      print_name(b, m->name);
      sb_putc(b, '.');
      print_name(b, n->param >= 0 && n->param < m->params.n ? m->params.v[n->param].name : NULL);
    } else {
      sb_puts(b, "?");
    }
  }
  for (int i = 0; i < n->nin; i++) {
    sb_puts(b, i ? ", " : " ");
    print_ref(b, nb, n->in[i]);
  }
  int first = 1;
  for (int k = 0; k < oi->nattrs; k++) {
    if (!irt_attr_printed(&oi->attrs[k], &n->attr[k])) continue;
    sb_puts(b, first ? " {" : ", ");
    first = 0;
    print_attr(b, &oi->attrs[k], &n->attr[k]);
  }
  if (!first) sb_putc(b, '}');
  sb_pad_to(b, IRT_TYPE_COL);
  sb_puts(b, ": ");
  ir_print_type(b, p, &n->type);
  if (n->group != -1) sb_printf(b, " group %d", n->group); /* fusion group (ir/group.h) */
  sb_putc(b, '\n');
}

/* ---- entry points -------------------------------------------------------------------------- */

void ir_print_graph(StrBuf *b, const IrProgram *p, int graph) {
  const IrGraph *g = &p->graphs.v[graph];
  Numbering nb = numbering(g);
  sb_puts(b, "task @");
  print_graph_name(b, g);
  sb_puts(b, " (");
  int first = 1;
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op != OP_INPUT) continue;
    if (!first) sb_puts(b, ", ");
    first = 0;
    sb_putc(b, '%');
    print_name(b, n->name);
    sb_puts(b, ": ");
    ir_print_type(b, p, &n->type);
  }
  sb_puts(b, ") -> (");
  for (int i = 0; i < g->outputs.n; i++) {
    const IrOutput *o = &g->outputs.v[i];
    if (i) sb_puts(b, ", ");
    print_name(b, o->name);
    sb_puts(b, ": ");
    if (o->node >= 0 && o->node < g->nodes.n)
      ir_print_type(b, p, &g->nodes.v[o->node].type);
    else
      sb_puts(b, "?");
  }
  sb_puts(b, ") {\n");
  for (int i = 0; i < g->nodes.n; i++)
    if (g->nodes.v[i].op != OP_INPUT) print_node(b, p, &nb, i);
  for (int i = 0; i < g->outputs.n; i++) {
    sb_puts(b, "  return ");
    print_name(b, g->outputs.v[i].name);
    sb_puts(b, " = ");
    print_ref(b, &nb, g->outputs.v[i].node);
    sb_putc(b, '\n');
  }
  sb_puts(b, "}\n");
}

void ir_print_program(StrBuf *b, const IrProgram *p) {
  for (int i = 0; i < p->modules.n; i++) print_module(b, p, &p->modules.v[i]);
  for (int i = 0; i < p->graphs.n; i++) {
    if (i > 0 || p->modules.n > 0) sb_putc(b, '\n');
    ir_print_graph(b, p, i);
  }
}
