/* elab_internal.h — what the elab*.c files share: compile-time values, scopes, the loaded
 * files, module instances and the elaboration context. Not part of any public interface.
 *
 *   elab.c         entry points, `use` loading, global tables, module-instance ordering
 *   elab_value.c   values, scopes, name lookup, conversions
 *   elab_expr.c    expression evaluation (compile-time and tensor)
 *   elab_prim.c    primitive tensor functions -> IR ops
 *   elab_module.c  block values, instantiation of modules, calls of methods and fns
 *   elab_task.c    task instances: inputs, statements, outputs
 */
#ifndef MAMC_ELAB_INTERNAL_H
#define MAMC_ELAB_INTERNAL_H

#include "ast.h"
#include "elab.h"

typedef struct Value Value;
typedef struct Scope Scope;
typedef struct Unit Unit;
typedef struct Inst Inst;
typedef struct IndexSet IndexSet;
typedef struct ModDecl ModDecl;

typedef enum {
  V_NONE, V_INT, V_FLOAT, V_BOOL, V_STR,
  V_DIM,      /* a (possibly symbolic) size: x.shape[1] */
  V_LIST,     /* [a, b, ...] */
  V_IDX,      /* an index value: set + position */
  V_SET,      /* an index set (callable when grouped) */
  V_RANGE,    /* a..b */
  V_BLOCK,    /* a block with some arguments bound */
  V_FN,       /* a parameter-free tensor function */
  V_UNIT,     /* a `use`d file, as a namespace */
  V_MODDECL,  /* a top-level module declaration, before its index values are chosen */
  V_INST,     /* a module instance (top-level or sub-module) */
  V_SUBARR,   /* an array of sub-modules: layer[i] */
  V_METHOD,   /* inst.method, to be called */
  V_PARAM,    /* a parameter of an instance: becomes a `param` node when used */
  V_TENSOR,   /* an SSA value of the current graph */
  V_DTYPE,    /* f32, i32, ... */
  V_BUILTIN,  /* vocab, len */
} ValueKind;

typedef struct BoundArg {
  const char *name;
  Value *value;
  SrcLoc loc;           /* where the argument was written */
} BoundArg;

struct Value {
  ValueKind kind;
  int64_t i;            /* INT, BOOL, DTYPE; IDX: position; RANGE: start */
  int64_t j;            /* RANGE: end */
  double f;             /* FLOAT */
  const char *s;        /* STR; BUILTIN name */
  Dim dim;              /* DIM */
  int n;                /* LIST */
  Value **items;        /* LIST; SUBARR: instances */
  IndexSet *set;        /* IDX, SET */
  Decl *decl;           /* BLOCK, FN, MODDECL; METHOD: the method */
  Unit *unit;           /* BLOCK, FN, MODDECL, UNIT: the file it is declared in */
  int nbound;           /* BLOCK: bound arguments in the order given */
  BoundArg *bound;
  Inst *inst;           /* INST, METHOD, PARAM */
  int param;            /* PARAM: index in inst's IR module */
  ModDecl *mod;         /* MODDECL */
  int node;             /* TENSOR */
};

struct IndexSet {
  const char *name;
  int n;
  const char **values;
  int nmembers;         /* grouped */
  const char **members;
  const char **member_group;
  SrcLoc loc;
};

typedef struct Binding {
  const char *name;
  Value *value;
  SrcLoc loc;
  struct Binding *next;
} Binding;

struct Scope {
  Scope *parent;
  Binding *head;
  Unit *unit;           /* whose globals are visible from here */
  Inst *inst;           /* the instance whose members are visible, if any */
  int body;             /* a method/fn/task body: primitives shadow globals in calls */
};

struct Unit {           /* one loaded .mam file */
  const char *name;     /* namespace name ("nn"), or "" for the main file */
  const char *dir;      /* its folder, for relative `use` */
  AstFile *ast;
  Scope *globals;       /* consts, indexes, blocks, fns, modules, used units */
  int nuses;
  Unit **uses;          /* `use`d units, for unqualified lookup */
  int loading;          /* on the `use` stack: a cycle if reached again */
};

struct ModDecl {        /* a top-level `module` declaration and its instances so far */
  Decl *decl;
  Unit *unit;
  int order;            /* declaration order, for the final module ordering */
  int nsets;
  IndexSet **sets;      /* one per index variable (NULL for a range: not allowed at top level) */
  Vec(Inst *) insts;
};

struct Inst {           /* an instantiated block */
  Decl *block;
  Unit *unit;
  Scope *scope;         /* block parameters, consts, params, sub-modules */
  int irmod;            /* the top-level IR module its parameters live in */
  const char *prefix;   /* parameter name prefix: "" or "layer.0.attn." */
  const char *display;  /* for messages: "enc[fr]" or "enc[fr].layer.0" */
  ModDecl *mod;         /* top-level: its declaration; NULL for sub-modules */
  int nidx;             /* top-level: chosen index positions */
  int64_t *idx;
};

typedef struct CallSite {  /* the call stack, for "note: in call of ..." */
  SrcLoc loc;
  const char *what;
} CallSite;

typedef struct Cx {
  Arena *a;
  Diag *d;
  const FeEnv *env;
  IrProgram *p;
  Vec(Unit *) units;
  Unit *main;
  Vec(ModDecl *) mods;
  IrGraph *g;           /* the graph being built, or NULL outside tasks */
  int gi;
  Vec(int) pcache;      /* per graph: (module, param, node) triples */
  Vec(CallSite) stack;
  Inst *cur;            /* the instance whose method is running (owner of new nodes) */
  int depth;
  jmp_buf fail;         /* longjmp here after an error is reported */
} Cx;

/* ---- elab_value.c ---- */
Value *val_new(Cx *c, ValueKind k);
Value *val_int(Cx *c, int64_t i);
Value *val_float(Cx *c, double f);
Value *val_bool(Cx *c, int b);
Value *val_none(Cx *c);
Value *val_tensor(Cx *c, int node);
const char *val_kind_name(ValueKind k);
const char *val_describe(Cx *c, const Value *v); /* "int 512", "tensor f32[B, S, 512]", ... */
Scope *scope_new(Cx *c, Scope *parent);
void scope_bind(Cx *c, Scope *s, const char *name, Value *v, SrcLoc loc);
Binding *scope_find_local(Scope *s, const char *name);
Value *scope_lookup(Cx *c, Scope *s, const char *name, SrcLoc loc, int call); /* NULL if unbound */
int value_as_int(Cx *c, Value *v, SrcLoc loc, const char *what, int64_t *out);
int value_as_float(Cx *c, Value *v, SrcLoc loc, const char *what, double *out);
int value_is_number(const Value *v);
Dim value_as_dim(Cx *c, Value *v, SrcLoc loc, const char *what);
IndexSet *index_set_find(Cx *c, Unit *u, const char *name);
const char *idx_name(const Value *v);

/* Report an error at loc (plus the call-stack notes) and unwind to the entry point. */
MAMC_NORETURN void fail(Cx *c, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4);

/* ---- elab_expr.c ---- */
Value *eval(Cx *c, Scope *s, Expr *e);
Value *eval_call_value(Cx *c, Scope *s, Value *callee, Expr *call);
int to_node(Cx *c, Value *v, SrcLoc loc, DType like); /* tensor, param or number -> node */
IrType eval_type(Cx *c, Scope *s, Expr *type, int symbols_ok);

/* ---- elab_prim.c ---- */
int prim_exists(const char *name);
Value *prim_call(Cx *c, Scope *s, const char *name, Expr *call);
int emit(Cx *c, Op op, int nin, const int *in, SrcLoc loc);  /* adds node + shape rule */
int emit_declared(Cx *c, Op op, int nin, const int *in, IrType t, SrcLoc loc);
int emit_const(Cx *c, double v, DType dt, SrcLoc loc);
IrNode *node_at(Cx *c, int id);

/* ---- elab_module.c ---- */
Value *block_apply(Cx *c, Value *block, Scope *s, Expr *call);   /* partial application */
Inst *inst_create(Cx *c, Value *block, int irmod, const char *prefix, const char *display, SrcLoc loc);
Inst *moddecl_instance(Cx *c, ModDecl *m, Value **idx, const SrcLoc *locs, SrcLoc loc); /* locs: per index value, or NULL */
Value *call_method(Cx *c, Scope *s, Inst *inst, Decl *method, Expr *call, SrcLoc loc);
Value *call_fn(Cx *c, Scope *s, Value *fn, Expr *call);
Value *param_use(Cx *c, Value *pv, SrcLoc loc);                  /* V_PARAM -> V_TENSOR */
Decl *block_member(Decl *block, DeclKind kind, const char *name);
int pattern_match(const char *pat, const char *s); /* '*' matches any run of characters */

/* ---- elab_task.c ---- */
void exec_body(Cx *c, Scope *s, StmtList *body, Value **ret, int is_task);
void elab_task(Cx *c, const FeTask *t);

/* ---- elab.c ---- */
Unit *unit_load_use(Cx *c, Unit *from, const char *name, SrcLoc loc);

#endif
