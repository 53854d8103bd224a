/* ast.h — the syntax tree of a .mam file (docs/language.md), produced by parse.c from the
 * tokens of lex.c and consumed by elab*.c. Every node carries its source location; all of it
 * lives in the caller's Arena.
 */
#ifndef MAMC_AST_H
#define MAMC_AST_H

#include "support.h"

/* ---- tokens (lex.c) ----------------------------------------------------------------------- */
typedef enum {
  TK_EOF, TK_NEWLINE, TK_IDENT, TK_INT, TK_FLOAT, TK_STRING,
  /* keywords */
  TK_USE, TK_CONST, TK_INDEX, TK_FROM, TK_CONFIG, TK_BLOCK, TK_FN, TK_MODULE, TK_PARAM,
  TK_INIT, TK_FROZEN, TK_IF, TK_ELSE, TK_FOR, TK_IN, TK_RETURN, TK_INPUT, TK_OUTPUT, TK_TASK,
  TK_TRUE, TK_FALSE, TK_NONE, TK_AND, TK_OR, TK_NOT,
  /* punctuation */
  TK_LPAREN, TK_RPAREN, TK_LBRACK, TK_RBRACK, TK_LBRACE, TK_RBRACE, TK_COMMA, TK_COLON,
  TK_SEMI, TK_DOT, TK_DOTDOT, TK_ASSIGN, TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_PLUS,
  TK_MINUS, TK_STAR, TK_SLASH, TK_SLASHSLASH, TK_PERCENT, TK_AT, TK_STARSTAR, TK_TRANSPOSE,
  TK_ARROW, TK_ELLIPSIS,
  TK_COUNT
} TokKind;

typedef struct Token {
  TokKind kind;
  SrcLoc loc;
  const char *text; /* IDENT: name; STRING: unescaped contents; INT/FLOAT: spelling */
  int64_t ival;
  double fval;
  int nl_before;    /* a newline precedes this token */
  int len;          /* bytes of source spelling (NEWLINE, EOF: 0); the token ends at col + len */
} Token;

/* Tokenizes src. Newline tokens are emitted only where they end a statement (not inside
 * brackets); see docs/language.md. Errors go to d; returns NULL on any lexical error. */
Token *lex(Arena *a, Diag *d, const SrcFile *src, int *ntok);
const char *tok_kind_name(TokKind k); /* for messages: "identifier", "')'", ... */

/* ---- expressions ---------------------------------------------------------------------------- */
typedef enum {
  E_INT, E_FLOAT, E_STR, E_BOOL, E_NONE,
  E_NAME,      /* name */
  E_MEMBER,    /* lhs.name */
  E_INDEX,     /* lhs[args]: module selection, sub-module array, or tensor slicing */
  E_SLICE,     /* a:b:c inside an index (any part may be NULL); only as an E_INDEX arg */
  E_ELLIPSIS,  /* ... inside an index */
  E_CALL,      /* lhs(args) */
  E_UNARY,     /* op lhs: TK_MINUS, TK_NOT */
  E_BINARY,    /* lhs op rhs */
  E_TRANSPOSE, /* lhs^T */
  E_LIST,      /* [args] */
  E_RANGE,     /* lhs..rhs (in `for` and module index sets) */
  E_TYPE,      /* dtype[dims]: name = dtype or NULL (f32), args = dims */
} ExprKind;

typedef struct Expr Expr;
typedef struct Arg {
  const char *name; /* keyword or NULL */
  Expr *value;
  SrcLoc loc;
} Arg;

struct Expr {
  ExprKind kind;
  SrcLoc loc;
  TokKind op;        /* E_UNARY, E_BINARY */
  int64_t ival;      /* E_INT, E_BOOL */
  double fval;       /* E_FLOAT */
  const char *name;  /* E_NAME, E_MEMBER, E_STR (contents), E_TYPE (dtype or NULL) */
  Expr *lhs, *rhs;   /* operands; E_SLICE: lhs = start, rhs = end, step in `step` */
  Expr *step;
  int nargs;         /* E_INDEX, E_CALL, E_LIST, E_TYPE */
  Arg *args;
};

/* ---- statements ------------------------------------------------------------------------------ */
typedef enum {
  S_ASSIGN,  /* name = value */
  S_RETURN,  /* return value */
  S_IF,      /* if cond { body } else { orelse } */
  S_FOR,     /* for name in range { body } (range: E_RANGE) */
  S_INPUT,   /* input name: type (one statement per declared input) */
  S_OUTPUT,  /* output name = value */
  S_EXPR,    /* a bare expression (a call for its effect; elaboration warns it is unused) */
} StmtKind;

typedef struct Stmt Stmt;
typedef struct StmtList {
  int n;
  Stmt **v;
} StmtList;

struct Stmt {
  StmtKind kind;
  SrcLoc loc;
  const char *name;
  Expr *value;       /* ASSIGN, RETURN, OUTPUT, EXPR; IF: cond; FOR: range; INPUT: E_TYPE */
  StmtList body, orelse;
};

/* ---- declarations ------------------------------------------------------------------------------ */
typedef struct Param {  /* a parameter of a block, fn, method or task */
  const char *name;
  const char *kind;     /* "int", "float", "bool", "str", "block", an index set, or NULL */
  Expr *def;            /* default value or NULL */
  SrcLoc loc;
} Param;

typedef struct ParamList {
  int n;
  Param *v;
} ParamList;

typedef enum {
  D_USE,      /* use name (name may be dotted: "nn" or "extra.moe") */
  D_CONST,    /* const name = value */
  D_INDEX,    /* index name = [..] | { g: [..] } | from config */
  D_BLOCK,    /* block name(params) { members } */
  D_FN,       /* fn name(params) { body } */
  D_MODULE,   /* module name[idx] = value (top level or inside a block) */
  D_TASK,     /* task name(params) { body } */
  D_TENSOR,   /* param name: type [init ..] [frozen] [if cond] (inside a block) */
  D_METHOD,   /* name(params) { body } (inside a block) */
} DeclKind;

typedef struct IndexGroup {
  const char *name;
  int n;
  const char **values;
  SrcLoc *locs;
  SrcLoc loc;
} IndexGroup;

typedef struct ModuleIndex {   /* `l: lang` or `i: 0..n` in module name[...] */
  const char *var;
  Expr *set;                   /* E_NAME (an index set) or E_RANGE */
  SrcLoc loc;
} ModuleIndex;

typedef struct Decl Decl;
typedef struct DeclList {
  int n;
  Decl **v;
} DeclList;

struct Decl {
  DeclKind kind;
  SrcLoc loc;
  const char *name;
  /* D_CONST, D_MODULE: value; D_TENSOR: type (E_TYPE), init (E_NAME/E_CALL or NULL), cond;
   * D_MODULE: cond too (`module g = Linear(d, d) if gated`), or NULL */
  Expr *value;
  Expr *init;
  Expr *cond;
  int frozen;
  /* D_INDEX */
  int from_config;
  int grouped;           /* { g: [..] } form */
  int nvalues;           /* plain form: values */
  const char **values;
  SrcLoc *value_locs;
  int ngroups;           /* grouped form */
  IndexGroup *groups;
  /* D_MODULE */
  int nidx;
  ModuleIndex *idx;
  /* D_BLOCK, D_FN, D_TASK, D_METHOD */
  ParamList params;
  DeclList members;      /* D_BLOCK: D_TENSOR, D_MODULE, D_METHOD, D_CONST */
  StmtList body;         /* D_FN, D_TASK, D_METHOD */
};

typedef struct AstFile {
  const SrcFile *src;
  DeclList decls;
} AstFile;

/* Parses one file. Errors go to d (parsing continues after an error at the next item, so a
 * file can report several); returns NULL if there was any error. */
AstFile *parse_file(Arena *a, Diag *d, const SrcFile *src);

/* A readable S-expression dump of the tree, for tests. */
void ast_dump(StrBuf *b, const AstFile *f);

#endif
