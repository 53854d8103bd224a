/* dot.c — a Graphviz view of a program: each module instance is a cluster holding its
 * sub-modules, each task instance a colour; an edge means data flows from one piece to the
 * next in that task. Modules used by more than one task are drawn shared (bold, tinted) and
 * list the tasks that share them. Ownership comes from IrNode.owner/owner_path (set by the
 * elaborator); IR read back from text has no owners, so its clusters are drawn whole.
 */
#include "ir.h"

#include <stdlib.h>

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

/* The drawn sub-module of an owner path: its first component, plus the index of an array
 * ("layer.0.self_attn" -> "layer.0"). */
static void sub_key(const char *path, char *out, size_t n) {
  const char *dot = strchr(path, '.');
  size_t len = dot ? (size_t)(dot - path) : strlen(path);
  if (dot && dot[1] >= '0' && dot[1] <= '9') {
    const char *e = dot + 1;
    while (*e >= '0' && *e <= '9') e++;
    len = (size_t)(e - path);
  }
  if (len >= n) len = n - 1;
  memcpy(out, path, len);
  out[len] = 0;
}

static void esc(StrBuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') sb_putc(b, '\\');
    sb_putc(b, *s);
  }
}

/* Node id for a piece: module m (or -1: the task body of graph g), sub-module key. */
static void node_id(StrBuf *b, int m, int g, const char *sub) {
  if (m < 0) {
    sb_printf(b, "t%d", g);
    return;
  }
  sb_printf(b, "m%d_", m);
  for (const char *s = sub; *s; s++) sb_putc(b, (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ? *s : '_');
}

typedef struct Piece {
  int m;
  char sub[64];
} Piece;

static Piece piece_of(const IrNode *n) {
  Piece p = {n->owner, ""};
  if (n->op == OP_PARAM) p.m = n->module;
  if (p.m >= 0 && n->owner_path) sub_key(n->owner_path, p.sub, sizeof p.sub);
  return p;
}

void ir_print_dot(StrBuf *b, const IrProgram *p) {
  sb_puts(b, "digraph mamc {\n  rankdir=LR; compound=true; newrank=true;\n"
             "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=Helvetica, fontsize=10];\n"
             "  edge [penwidth=1.4, arrowsize=0.7];\n");
  int ng = p->graphs.n;
  /* sub-modules seen per module (pieces that own nodes), so empty ones are not drawn */
  for (int m = 0; m < p->modules.n; m++) {
    const IrModule *mod = &p->modules.v[m];
    int64_t nparams = 0;
    for (int k = 0; k < mod->params.n; k++) {
      int64_t e = 1;
      for (int r = 0; r < mod->params.v[k].type.rank; r++) e *= mod->params.v[k].type.d[r].add;
      nparams += e;
    }
    int shared = mod->used_by.n > 1;
    sb_printf(b, "  subgraph cluster_m%d {\n    label=\"", m);
    esc(b, mod->name);
    sb_printf(b, "\\n%s · %lld parameters", mod->block ? mod->block : "", (long long)nparams);
    if (shared) {
      sb_printf(b, "\\nshared by %d tasks:", mod->used_by.n);
      for (int k = 0; k < mod->used_by.n; k++) {
        sb_puts(b, k % 3 == 0 ? "\\n" : ", ");
        const IrGraph *g = &p->graphs.v[mod->used_by.v[k]];
        esc(b, g->task);
        sb_putc(b, '(');
        for (int a = 0; a < g->nargs; a++) sb_printf(b, "%s%s", a ? ", " : "", g->args[a]);
        sb_putc(b, ')');
      }
    }
    sb_printf(b, "\";\n    style=\"rounded,filled%s\"; fillcolor=\"%s\"; fontsize=11;\n", shared ? ",bold" : "",
              shared ? "#fdecea" : "#eef3fb");
    /* collect distinct sub-module keys in first-use order */
    char (*keys)[64] = NULL;
    int nk = 0, cap = 0;
    for (int g = 0; g < ng; g++)
      for (int i = 0; i < p->graphs.v[g].nodes.n; i++) {
        const IrNode *nd = &p->graphs.v[g].nodes.v[i];
        if (op_info(nd->op)->flags & F_SOURCE) continue;
        Piece pc = piece_of(nd);
        if (pc.m != m) continue;
        int found = 0;
        for (int k = 0; k < nk && !found; k++) found = strcmp(keys[k], pc.sub) == 0;
        if (found) continue;
        if (nk == cap) {
          cap = cap ? 2 * cap : 16;
          keys = realloc(keys, sizeof *keys * (size_t)cap);
          if (!keys) return;
        }
        memcpy(keys[nk++], pc.sub, sizeof pc.sub);
      }
    if (nk == 0) {
      sb_puts(b, "    ");
      node_id(b, m, 0, "");
      sb_puts(b, " [label=\"(unused)\"];\n");
    }
    for (int k = 0; k < nk; k++) {
      sb_puts(b, "    ");
      node_id(b, m, 0, keys[k]);
      sb_puts(b, " [label=\"");
      esc(b, keys[k][0] ? keys[k] : mod->name);
      sb_puts(b, "\"];\n");
    }
    free(keys);
    sb_puts(b, "  }\n");
  }
  /* tasks: an input node, a body node (ops of the task itself), an output node each */
  for (int g = 0; g < ng; g++) {
    const IrGraph *G = &p->graphs.v[g];
    const char *col = palette[g % COUNT_OF(palette)];
    sb_printf(b, "  in%d [shape=oval, color=\"%s\", penwidth=2, label=\"", g, col);
    esc(b, G->task);
    sb_putc(b, '(');
    for (int a = 0; a < G->nargs; a++) sb_printf(b, "%s%s", a ? ", " : "", G->args[a]);
    sb_puts(b, ")\\n");
    int first = 1;
    for (int i = 0; i < G->nodes.n; i++)
      if (G->nodes.v[i].op == OP_INPUT) {
        sb_printf(b, "%s%s", first ? "" : ", ", G->nodes.v[i].name);
        first = 0;
      }
    sb_printf(b, "\"];\n  t%d [shape=ellipse, style=dashed, color=\"%s\", label=\"task ops\"];\n", g, col);
    sb_printf(b, "  out%d [shape=oval, color=\"%s\", penwidth=2, label=\"", g, col);
    for (int o = 0; o < G->outputs.n; o++) sb_printf(b, "%s%s", o ? ", " : "", G->outputs.v[o].name);
    sb_puts(b, "\"];\n");
    /* edges between pieces, deduplicated per task */
    /* aux[i]: computed from inputs and constants only (masks, shifted targets, positions).
     * Integer ones are drawn as coming from the task's input; float ones (masks, positions)
     * are not drawn, as they feed nearly everything. */
    char *aux = calloc((size_t)G->nodes.n + 1, 1);
    if (!aux) return;
    for (int i = 0; i < G->nodes.n; i++) {
      const IrNode *n = &G->nodes.v[i];
      aux[i] = n->op != OP_PARAM;
      for (int k = 0; k < n->nin && aux[i]; k++) aux[i] = aux[n->in[k]];
    }
    StrBuf seen;
    sb_init(&seen);
    sb_putc(&seen, '\n');
    for (int i = 0; i < G->nodes.n; i++) {
      const IrNode *n = &G->nodes.v[i];
      if ((op_info(n->op)->flags & F_SOURCE) || aux[i]) continue;
      Piece to = piece_of(n);
      for (int k = 0; k < n->nin; k++) {
        const IrNode *src = &G->nodes.v[n->in[k]];
        if (src->op == OP_PARAM || (aux[n->in[k]] && src->type.dt != DT_I32)) continue;
        StrBuf e; /* "\nFROM -> TO\n": looked up whole in `seen` */
        sb_init(&e);
        sb_putc(&e, '\n');
        if (aux[n->in[k]])
          sb_printf(&e, "in%d", g);
        else {
          Piece from = piece_of(src);
          if (from.m == to.m && strcmp(from.sub, to.sub) == 0) {
            sb_free(&e);
            continue;
          }
          node_id(&e, from.m, g, from.sub);
        }
        sb_puts(&e, " -> ");
        node_id(&e, to.m, g, to.sub);
        sb_putc(&e, '\n');
        if (!strstr(seen.s, e.s)) {
          sb_puts(&seen, e.s + 1);
          e.s[e.len - 1] = 0;
          sb_printf(b, "  %s [color=\"%s\"];\n", e.s + 1, col);
        }
        sb_free(&e);
      }
    }
    for (int o = 0; o < G->outputs.n; o++) {
      Piece from = piece_of(&G->nodes.v[G->outputs.v[o].node]);
      sb_puts(b, "  ");
      node_id(b, from.m, g, from.sub);
      sb_printf(b, " -> out%d [color=\"%s\"];\n", g, col);
    }
    sb_free(&seen);
    free(aux);
  }
  sb_puts(b, "}\n");
}
