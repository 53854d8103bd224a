/* tokenizer.h — per-language tokenizers for the data pipeline: byte-level (no file) and
 * byte-level BPE (trained here, saved as a readable text file).
 *
 * Ids: 0 <pad>, 1 <s>, 2 </s>, 3 <unk>, then 4 + byte for the 256 bytes (so the byte
 * tokenizer has 260 ids), then one id per learned BPE piece. Every id >= 4 stands for a
 * non-empty byte string (its "piece"), so decode(encode(s)) == s for any input bytes.
 *
 * Pre-splitting (training and encoding): text is cut into words, each word being at most one
 * whitespace byte followed by the run of non-whitespace bytes after it ("a  b" -> "a", " ",
 * " b"): the space stays attached to the following word, like GPT-2's "Ġ" but on raw bytes.
 * Merges never cross a word boundary.
 *
 * BPE file (bpe_save / tokenizer_load), UTF-8 text:
 *   mamc-bpe v1 size N
 *   "t" "h"
 *   " th" "e"
 * one merge per line, in rank order: the two parts as quoted byte strings in which `\"`,
 * `\\` and `\xNN` are escapes and every other byte stands for itself (the writer escapes
 * control bytes, and bytes >= 0x80 that are not part of a complete UTF-8 character in the
 * part). Each part must be the piece of an id defined by the lines before it. A merge whose
 * result equals an existing piece maps to that id (as in HF tokenizers), so N (the vocabulary
 * size, 260 included) can be less than 260 + the number of merges.
 *
 * A Tokenizer is heap-allocated and owned by the caller (tokenizer_free). Encoding updates
 * a per-word cache inside it: use one Tokenizer per thread.
 */
#ifndef MAMC_DATA_TOKENIZER_H
#define MAMC_DATA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "support.h"

enum {
  TOK_PAD = 0,
  TOK_BOS = 1, /* <s>  */
  TOK_EOS = 2, /* </s> */
  TOK_UNK = 3,
  TOK_BYTE_BASE = 4, /* id of byte b is TOK_BYTE_BASE + b */
  TOK_BYTE_VOCAB = 260,
  TOK_MAX_VOCAB = 1 << 24,
};

typedef enum { TOKENIZER_BYTE, TOKENIZER_BPE } TokenizerKind;

typedef struct Tokenizer Tokenizer;

/* The byte-level tokenizer (260 ids). NULL only when out of memory. */
Tokenizer *tokenizer_byte(void);
/* Load a tokenizer file, dispatching on its first line: `mamc-bpe v1 size N` (BPE) or
 * `mamc-byte v1` (byte-level). Errors go to d as `file:line:col: error: ...`; NULL then. */
Tokenizer *tokenizer_load(const char *path, Diag *d);
/* The same, from text already in memory (f->name is used in messages). */
Tokenizer *tokenizer_parse(const SrcFile *f, Diag *d);
void tokenizer_free(Tokenizer *t);

TokenizerKind tokenizer_kind(const Tokenizer *t);
int tokenizer_vocab_size(const Tokenizer *t);
int tokenizer_num_merges(const Tokenizer *t);
/* The bytes an id stands for (not NUL-terminated in general); NULL for special and
 * out-of-range ids. */
const char *tokenizer_piece(const Tokenizer *t, int32_t id, size_t *len);

/* Encode s[0..len) (any bytes) into out, which must have room for len ids (an id is never
 * shorter than one byte). No <s>/</s> are added. Returns the number of ids, or -1 when out
 * of memory. */
int64_t tokenizer_encode(Tokenizer *t, const char *s, size_t len, int32_t *out);

/* Append the bytes of ids[0..n) to out. <pad>, <s> and </s> produce nothing; <unk> and ids
 * outside the vocabulary produce U+FFFD. Returns how many ids were <unk> or out of range. */
size_t tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, StrBuf *out);

/* Pre-splitting: the end of the word that starts at pos (pos < len). */
size_t tokenizer_next_word(const char *s, size_t len, size_t pos);

/* ---- BPE (bpe.c: training; bpe_file.c: the file format) --------------------------------- */

typedef struct BpeTrainOpts {
  int min_count; /* stop when the most frequent pair occurs fewer times (0 = 2) */
} BpeTrainOpts;

/* Learn byte-level BPE merges from lines[0..nlines) (lens may be NULL: NUL-terminated)
 * until the vocabulary has `size` ids (260 included) or no pair occurs min_count times.
 * Pair counts are kept over word types and updated incrementally after each merge.
 * opts may be NULL. Errors (bad size, out of memory) go to d; NULL then. */
Tokenizer *bpe_train(const char *const *lines, const size_t *lens, size_t nlines, int size,
                     const BpeTrainOpts *opts, Diag *d);

/* Write t (BPE or byte) in the file format above. Returns 0, or -1 with a message in d. */
int tokenizer_save(const Tokenizer *t, const char *path, Diag *d);
/* The file text of t, appended to out. */
void tokenizer_write(const Tokenizer *t, StrBuf *out);

#endif
