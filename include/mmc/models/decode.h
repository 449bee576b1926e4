/*
 * mmc/models/decode.h — greedy and beam search over a step callback (src/models/decode.c).
 */
#ifndef MMC_MODELS_DECODE_H
#define MMC_MODELS_DECODE_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- decoding (src/models/decode.c) -- */
/* Greedy and beam search over any autoregressive model, through one step callback.
 *
 * The callback owns the model state (hidden states, caches), one slot per live beam. Each
 * call advances every live beam by one token:
 *   - beam_parents[i] is the slot (in the previous call's numbering) that beam i extends:
 *     first make slot i a copy of that slot (a beam may be copied to several), then
 *   - feed last_tokens[i] to beam i and write the log-probabilities of the next token
 *     into logprobs[i * V .. i * V + V) (log-softmax values, <= 0; -inf = impossible).
 * The first call has n_beams = 1, beam_parents = {0} (the state the caller prepared, e.g.
 * the image encoding) and last_tokens = {start_id}. n_beams never exceeds the beam width.
 * Return MMC_OK, or a status (with err filled) that stops the search and is returned. */
typedef int (*mmc_decode_step_fn)(void *user, const int *beam_parents, const int32_t *last_tokens,
                                  int n_beams, float *logprobs, mmc_error *err);

typedef enum mmc_length_penalty_kind {
    MMC_LP_GNMT = 0,  /* lp(len) = ((5 + len) / 6)^alpha (Wu et al. 2016, GNMT) */
    MMC_LP_POWER = 1, /* lp(len) = len^alpha (Hugging Face generate's length_penalty) */
} mmc_length_penalty_kind;

typedef struct mmc_decode_opts {
    int vocab_size;        /* V, the row length of logprobs */
    int32_t start_id, end_id;
    int max_len;           /* most tokens generated per hypothesis, the end token included */
    int beam;              /* beam width K >= 1 (greedy ignores it) */
    float length_penalty;  /* alpha; 0 ranks by the plain sum of log-probs */
    int lp_kind;           /* mmc_length_penalty_kind */
    int no_repeat_ngram;   /* n > 0: never generate an n-gram twice in one hypothesis
                              (generated tokens only; the start token is not counted) */
} mmc_decode_opts;
/* vocab_size 0 (must be set), start 2, end 3 (the WORD/CHAR tokenizers' ids), max_len 20,
 * beam 1, no length penalty, GNMT kind, no n-gram blocking. */
mmc_decode_opts mmc_decode_defaults(void);

/* Hypotheses, best first. tokens holds n rows of max_len entries; row i has lengths[i]
 * valid tokens, without the start and end tokens. ended[i] is 1 if the hypothesis ended
 * with end_id, 0 if it was cut at max_len (or had no allowed continuation). The length
 * used by the penalty counts generated tokens: lengths[i] + ended[i].
 * scores[i] = logprobs[i] / lp(lengths[i] + ended[i]), logprobs[i] the sum of the
 * log-probabilities of every generated token (end included). */
typedef struct mmc_decode_result {
    int n, max_len;
    int32_t *tokens;
    int *lengths, *ended;
    double *scores, *logprobs;
} mmc_decode_result;
void mmc_decode_result_free(mmc_decode_result *r); /* frees the arrays; r itself is the caller's */

/* Greedy: the most likely token at each step (lowest id on ties) until end_id or max_len.
 * One hypothesis; scores as above (the length penalty only rescales its score). */
int mmc_decode_greedy(mmc_decode_step_fn step, void *user, const mmc_decode_opts *o,
                      mmc_decode_result *out, mmc_error *err);
/* Beam search of width K. Each step ranks the K x V extensions of the live beams by summed
 * log-prob (ties: lower beam, then lower token id) and walks the 2K best: an end token
 * within the first K ranks makes a finished hypothesis (kept aside; only the K best by
 * score are kept), other tokens become the next live beams until K are live. The search
 * stops when K hypotheses have finished and the worst of them scores at least every live
 * beam's best reachable score (its log-prob can only fall; the penalty is taken at its most
 * favourable reachable length), when no beam is live, or at max_len, where the live beams
 * join the finished ones (ended = 0). Returns up to K hypotheses sorted by score (ties: the
 * one found first). With length_penalty = 0, K = 1 gives exactly greedy's hypothesis; with
 * a penalty, width 1 may look past an end token for a better-scoring longer caption. */
int mmc_decode_beam(mmc_decode_step_fn step, void *user, const mmc_decode_opts *o,
                    mmc_decode_result *out, mmc_error *err);

/* (declarations for decoding go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_DECODE_H */
