/* tokenizer_internal.h — the Tokenizer struct, shared by tokenizer.c (pieces, encoding,
 * decoding), bpe.c (training) and bpe_file.c (the text format). Not a public header. */
#ifndef MAMC_DATA_TOKENIZER_INTERNAL_H
#define MAMC_DATA_TOKENIZER_INTERNAL_H

#include "hash.h"
#include "tokenizer.h"

typedef struct BpeMerge {
  int32_t left, right, out; /* rank = index in Tokenizer.merges */
} BpeMerge;

/* One pending merge while encoding a word: the pair starting at symbol `pos`. */
typedef struct EncPair {
  int32_t rank, pos, left, right;
} EncPair;

struct Tokenizer {
  TokenizerKind kind;
  int vocab; /* number of ids */
  /* Pieces: entry k of `pieces` is the byte string of id TOK_BYTE_BASE + k, and its value
   * is that id. Lookup by bytes gives the id (used when a merge's result already exists). */
  StrMap pieces;
  BpeMerge *merges;
  int nmerges, merges_cap;
  U64Map rank; /* (left << 32 | right) -> rank */
  /* Encode cache: word bytes -> (offset << 11 | count) into cache_ids. */
  StrMap cache;
  int32_t *cache_ids;
  size_t cache_len, cache_cap;
  /* Scratch for merging one word. */
  int32_t *sym, *prev, *next;
  EncPair *heap;
  size_t scratch_cap, heap_cap;
};

/* A tokenizer with the 4 special and 256 byte ids; NULL when out of memory. */
Tokenizer *tok_new(TokenizerKind kind);
/* Append merge (left, right) with the next rank; its result is the existing id of the
 * concatenated bytes or a new id. Returns the result id, or -1 when out of memory. */
int32_t tok_add_merge(Tokenizer *t, int32_t left, int32_t right);
/* Id of a piece given by its bytes, or -1. */
int32_t tok_find_piece(const Tokenizer *t, const char *s, size_t len);

static inline uint64_t tok_pair_key(int32_t l, int32_t r) {
  return (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
}

static inline int tok_is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

#endif
