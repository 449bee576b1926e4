/* tokenizer_internal.h — what the tokenizer files share: the tokenizer struct, a string
 * vocabulary with hash lookup, a growable id vector and small text helpers. */
#ifndef MMC_TOKENIZER_INTERNAL_H
#define MMC_TOKENIZER_INTERNAL_H

#include "internal.h"
#include "mmc/data.h"
#include <stdint.h>

#define TOK_MAX_TOKEN_BYTES 1024       /* a vocabulary entry longer than this is hostile */
#define TOK_MAX_FILE_BYTES (512u << 20) /* tokenizer files we agree to read */

/* id <-> string, with an open-addressing hash table from string to id. */
typedef struct tok_vocab {
    char **str;      /* str[id], NUL-terminated, owned */
    uint32_t *len;   /* byte length of str[id] */
    int n, cap;
    int32_t *slots;  /* -1 empty, else an id; size nslots (a power of two) */
    size_t nslots;
} tok_vocab;

/* BPE merges: (left id, right id) -> (rank, merged id), open addressing. */
typedef struct tok_merge {
    uint64_t key; /* left << 32 | right; UINT64_MAX marks an empty slot */
    int32_t rank, result;
} tok_merge;

typedef struct tok_ivec {
    int32_t *v;
    int n, cap;
} tok_ivec;

struct mmc_tokenizer {
    mmc_tokenizer_kind kind;
    tok_vocab vocab;
    mmc_tokenizer_specials sp;
    /* strings matched verbatim in raw text before any normalisation (added tokens) */
    int n_added;
    int32_t added[8];
    /* CLIP BPE */
    tok_merge *merges;
    size_t merge_slots;
    int n_merges;
    int32_t byte_id[256], byte_end_id[256]; /* the byte's symbol, alone and + "</w>" */
    uint16_t byte_char[256];                /* GPT-2's bytes -> printable code points */
    /* WordPiece */
    mmc_wordpiece_opts wp;
};

/* vocabulary */
int tok_vocab_add(tok_vocab *v, const char *s, size_t n, int *id); /* MMC_OK; *id = new id, or -1-existing if present */
int tok_vocab_find(const tok_vocab *v, const char *s, size_t n);   /* id or -1 */
int tok_vocab_reserve(tok_vocab *v, int n);                        /* room for n tokens */
void tok_vocab_free(tok_vocab *v);

mmc_tokenizer *tok_new(mmc_tokenizer_kind kind);
int tok_ivec_push(tok_ivec *a, int32_t x); /* MMC_OK or MMC_ERR_RUNTIME */
/* Appends cp as UTF-8 to a growable byte buffer. */
typedef struct tok_buf {
    char *s;
    size_t n, cap;
} tok_buf;
int tok_buf_put(tok_buf *b, const char *s, size_t n);
int tok_buf_cp(tok_buf *b, uint32_t cp);

/* Decodes UTF-8 text to code points (*cps mmc_malloc'd), naming `what` and the byte offset
 * on ill-formed input. */
int tok_decode_text(const char *s, size_t n, uint32_t **cps, size_t *ncp, const char *what, mmc_error *err);
/* Adds the specials to a freshly built WORD/CHAR vocabulary (<pad> <unk> <start> <end>). */
int tok_add_basic_specials(mmc_tokenizer *t);

/* per-kind encoders of one segment of valid UTF-8 text (no added tokens inside) */
int tok_word_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err);
int tok_char_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err);
int tok_bpe_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err);
int tok_wordpiece_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err);
/* per-kind decoders: append the text for ids (already range-checked) to b */
int tok_word_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b);
int tok_char_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b);
int tok_bpe_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b);
int tok_wordpiece_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b);
int tok_is_special(const mmc_tokenizer *t, int id);

#endif
