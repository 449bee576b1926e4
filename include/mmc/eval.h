/*
 * mmc/eval.h — metrics (src/eval): BLEU, CIDEr-D, exact match, recall@K and ranks,
 * accuracy.
 */
#ifndef MMC_EVAL_H
#define MMC_EVAL_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- eval */
/* src/eval: metrics. */

/* -- caption metrics (src/eval/bleu.c, cider.c, exact_match.c) -- */
/* Captions are scored as token-id sequences (a WORD tokenizer's words, a CHAR tokenizer's
 * Chinese characters alike), without start/end/pad tokens (encode with add_special = 0).
 * Every hypothesis has one or more references. */
typedef struct mmc_token_seq {
    const int32_t *ids;
    int n;
} mmc_token_seq;
typedef struct mmc_caption_item {
    mmc_token_seq hyp;
    const mmc_token_seq *refs;
    int n_refs; /* >= 1 */
} mmc_caption_item;

/* BLEU (Papineni et al. 2002) as coco-caption's Bleu and NLTK's corpus_bleu compute it:
 * p_n = sum over hypotheses of clipped n-gram matches (each n-gram's count capped by its
 * largest count in any one reference) / sum of hypothesis n-gram counts; c = summed
 * hypothesis lengths, r = summed closest reference lengths (closest to the hypothesis's
 * length; on a tie the shorter reference, as both do); BP = 1 if c >= r, else
 * exp(1 - r/c) (0 if c = 0); BLEU-n = BP * (p_1 ... p_n)^(1/n). No smoothing: BLEU-n is 0
 * when any p_k (k <= n) is 0 (as NLTK; coco-caption's epsilons give ~1e-9 there). */
typedef struct mmc_bleu_result {
    double bleu[4];          /* BLEU-1 .. BLEU-4 */
    double precision[4];     /* p_1 .. p_4 (smoothed for a smoothed sentence score) */
    int64_t matched[4], total[4]; /* clipped matches and hypothesis n-grams, per order */
    int64_t hyp_len, ref_len;     /* c and r */
    double brevity_penalty;
} mmc_bleu_result;
int mmc_bleu_corpus(const mmc_caption_item *items, int n, mmc_bleu_result *out, mmc_error *err);
/* One hypothesis scored alone (NLTK's sentence_bleu). smooth 0: none, as the corpus score;
 * smooth 1: add one to the matches and to the total of every order n >= 2 (Lin & Och 2004;
 * SmoothingFunction().method2 of current NLTK), so a short caption with no 4-gram match
 * does not score 0. */
int mmc_bleu_sentence(const mmc_caption_item *item, int smooth, mmc_bleu_result *out,
                      mmc_error *err);

/* CIDEr-D (Vedantam et al. 2015) with coco-caption's conventions: n-grams of 1..4 tokens;
 * a sentence is a vector per order of tf * idf with tf the raw count and
 * idf = log(N) - log(max(1, df)), N the number of items and df the number of items whose
 * references (any of them) contain the n-gram; similarity per order and reference =
 * sum over the hypothesis's n-grams of min(h, r) * r / (|h| |r|) (0 when either norm is 0),
 * times exp(-(l_h - l_r)^2 / (2 * 6^2)) with l the number of bigrams of a sentence (as
 * coco-caption counts it); an item's score = 10 * mean over orders of the sum over
 * references / n_refs. The corpus score is the mean of the items' scores. The idf comes
 * from the references of the items given, so a lone item scores 0 (log 1 = 0). per_item
 * may be NULL, else it receives n scores. */
int mmc_cider_d(const mmc_caption_item *items, int n, double *mean, double *per_item,
                mmc_error *err);

/* Fraction of hypotheses equal, token for token, to at least one of their references. */
int mmc_exact_match(const mmc_caption_item *items, int n, double *rate, mmc_error *err);

/* -- retrieval metrics (src/eval/recall.c) -- */
/* Cross-modal retrieval over n_texts captions and n_images images, the COCO/Flickr30k
 * protocol: sim is (n_texts, n_images) row-major (higher = more similar; cosine when the
 * embeddings are L2-normalised), text_image[t] is the image caption t describes (an image
 * may have several captions, or none).
 *   text -> image: each caption's rank of its own image among all images.
 *   image -> text: for each image with at least one caption, the rank of the best-ranked of
 *                  its own captions among all captions. Images without captions are skipped.
 * Ranks are 1-based. Ties are pessimistic: a wrong item scoring exactly as high as the right
 * one ranks before it, i.e. rank = 1 + #(wrong items with score >= the right item's), so a
 * model whose scores are all equal gets the worst rank, never a perfect one.
 * MMC_ERR_USAGE for bad arguments (text_image out of range), MMC_ERR_INPUT for a non-finite
 * similarity. */
typedef struct mmc_recall_result {
    int n_texts;                /* text -> image queries */
    int n_images;               /* image -> text queries (images with >= 1 caption) */
    double t2i[3], i2t[3];      /* R@1, R@5, R@10 in percent (0..100) */
    double t2i_medr, i2t_medr;  /* median rank (even count: mean of the two middle ranks) */
    double t2i_meanr, i2t_meanr;
    double rsum;                /* sum of the six recalls (0..600) */
} mmc_recall_result;
int mmc_eval_recall(const float *sim, int n_texts, int n_images, const int *text_image,
                    mmc_recall_result *out, mmc_error *err);
/* The same from embeddings text_emb (n_texts, dim) and image_emb (n_images, dim): sim is
 * their inner product (normalise them first for cosine similarity). */
int mmc_eval_recall_embeddings(const float *text_emb, int n_texts, const float *image_emb,
                               int n_images, int dim, const int *text_image, mmc_recall_result *out,
                               mmc_error *err);
/* Per-query ranks: t2i_rank[n_texts], i2t_rank[n_images] (0 for an image without captions);
 * either may be NULL. */
int mmc_eval_recall_ranks(const float *sim, int n_texts, int n_images, const int *text_image,
                          int *t2i_rank, int *i2t_rank, mmc_error *err);
/* Percent of the ranks (entries <= 0 are skipped) that are <= k; 0 when none count. */
double mmc_eval_recall_at(const int *ranks, int n, int k);
/* Median of the positive ranks (0 when none). */
double mmc_eval_rank_median(const int *ranks, int n);

/* -- accuracy (src/eval/recall.c): classification and zero-shot -- */
typedef struct mmc_accuracy {
    int n, correct;
    double overall;         /* correct / n (0 when n == 0), a fraction in 0..1 */
    double mean_per_class;  /* mean of the per-class accuracies over classes present */
    int classes_present;    /* classes with at least one sample */
} mmc_accuracy;
/* pred[i], truth[i] in [0, n_classes). class_correct / class_total (n_classes each, may be
 * NULL) receive the per-class counts: class c's accuracy is class_correct[c] /
 * class_total[c]. MMC_ERR_USAGE for a class out of range. */
int mmc_eval_accuracy(const int *pred, const int *truth, int n, int n_classes, mmc_accuracy *out,
                      int *class_correct, int *class_total, mmc_error *err);
/* Index of the largest of x[0..n-1]; ties keep the lowest index (n >= 1). */
int mmc_eval_argmax(const float *x, int n);

/* (declarations for eval go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_EVAL_H */
