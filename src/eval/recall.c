/* recall.c — cross-modal retrieval metrics (R@K, median and mean rank, rsum) and accuracy.
 *
 * The protocol is the one VSE++/CLIP papers report on COCO and Flickr30k, where an image has
 * several captions:
 *   text -> image: every caption is a query; its rank is the position of its own image among
 *                  all images.
 *   image -> text: every image (with at least one caption) is a query; its rank is the
 *                  position of the best-ranked of its own captions among all captions.
 *
 * Ties are pessimistic: a wrong item that scores exactly as high as the right one is put
 * before it. So rank = 1 + (number of wrong items scoring >= the right item's score). The
 * pessimistic choice means a degenerate model (all scores equal, e.g. a collapsed encoder)
 * scores the worst rank rather than R@1 = 100%, which an optimistic rule would report.
 *
 * Ranks are counted, not sorted: one pass over a row (text -> image) or a column (image ->
 * text) per query, O(T * I) in all. */
#include "internal.h"
#include "mmc/eval.h"
#include "../ops/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Queries per OpenMP region below which the loop runs serially (a region run serially
 * still costs libgomp a team setup; see src/optim/optim_impl.h). */
#define RECALL_PARALLEL_MIN 256

static int check_args(const char *who, const float *sim, int n_texts, int n_images,
                      const int *text_image, mmc_error *err) {
    if (n_texts < 1 || n_images < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: need at least one text and one image (got %d texts, %d images)",
                             who, n_texts, n_images);
    if (!sim || !text_image) return mmc_error_set(err, MMC_ERR_USAGE, "%s: NULL argument", who);
    for (int t = 0; t < n_texts; t++)
        if (text_image[t] < 0 || text_image[t] >= n_images)
            return mmc_error_set(err, MMC_ERR_USAGE, "%s: text %d names image %d, outside 0..%d", who, t,
                                 text_image[t], n_images - 1);
    /* A NaN would make every comparison false and silently give rank 1. */
    int64_t total = (int64_t)n_texts * n_images;
    for (int64_t i = 0; i < total; i++)
        if (!isfinite(sim[i]))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: similarity (%lld, %lld) is not finite", who,
                                 (long long)(i / n_images), (long long)(i % n_images));
    return MMC_OK;
}

static int t2i_rank_of(const float *row, int n_images, int target) {
    float s = row[target];
    int r = 1;
    for (int j = 0; j < n_images; j++)
        if (j != target && row[j] >= s) r++;
    return r;
}

/* Image j against all texts; captions of j are marked by text_image[t] == j. 0 when j has
 * no caption. */
static int i2t_rank_of(const float *sim, int n_texts, int n_images, const int *text_image, int j) {
    float best = -INFINITY;
    int any = 0;
    for (int t = 0; t < n_texts; t++)
        if (text_image[t] == j) {
            float s = sim[(int64_t)t * n_images + j];
            if (!any || s > best) best = s;
            any = 1;
        }
    if (!any) return 0;
    int r = 1;
    for (int t = 0; t < n_texts; t++)
        if (text_image[t] != j && sim[(int64_t)t * n_images + j] >= best) r++;
    return r;
}

int mmc_eval_recall_ranks(const float *sim, int n_texts, int n_images, const int *text_image,
                          int *t2i_rank, int *i2t_rank, mmc_error *err) {
    int rc = check_args("recall ranks", sim, n_texts, n_images, text_image, err);
    if (rc) return rc;
    if (t2i_rank) {
        if (n_texts >= RECALL_PARALLEL_MIN) {
#pragma omp parallel for
            for (int t = 0; t < n_texts; t++)
                t2i_rank[t] = t2i_rank_of(sim + (int64_t)t * n_images, n_images, text_image[t]);
        } else {
            for (int t = 0; t < n_texts; t++)
                t2i_rank[t] = t2i_rank_of(sim + (int64_t)t * n_images, n_images, text_image[t]);
        }
    }
    if (i2t_rank) {
        if (n_images >= RECALL_PARALLEL_MIN) {
#pragma omp parallel for
            for (int j = 0; j < n_images; j++) i2t_rank[j] = i2t_rank_of(sim, n_texts, n_images, text_image, j);
        } else {
            for (int j = 0; j < n_images; j++) i2t_rank[j] = i2t_rank_of(sim, n_texts, n_images, text_image, j);
        }
    }
    return MMC_OK;
}

double mmc_eval_recall_at(const int *ranks, int n, int k) {
    int scored = 0, hit = 0;
    for (int i = 0; i < n; i++) {
        if (ranks[i] <= 0) continue;
        scored++;
        hit += ranks[i] <= k;
    }
    return scored ? 100.0 * hit / scored : 0.0;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Median and mean of the positive entries; the median of an even count is the mean of the
 * two middle values (numpy.median). */
static int rank_stats(const int *ranks, int n, double *median, double *mean) {
    int *v = mmc_malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!v) return -1;
    int m = 0;
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (ranks[i] > 0) {
            v[m++] = ranks[i];
            sum += ranks[i];
        }
    if (m == 0) {
        *median = *mean = 0;
    } else {
        qsort(v, (size_t)m, sizeof *v, cmp_int);
        *median = m % 2 ? v[m / 2] : 0.5 * ((double)v[m / 2 - 1] + v[m / 2]);
        *mean = sum / m;
    }
    mmc_free(v);
    return m;
}

double mmc_eval_rank_median(const int *ranks, int n) {
    double med = 0, mean = 0;
    if (rank_stats(ranks, n, &med, &mean) < 0) return 0;
    return med;
}

int mmc_eval_recall(const float *sim, int n_texts, int n_images, const int *text_image,
                    mmc_recall_result *out, mmc_error *err) {
    if (!out) return mmc_error_set(err, MMC_ERR_USAGE, "recall: NULL output");
    memset(out, 0, sizeof *out);
    int rc = check_args("recall", sim, n_texts, n_images, text_image, err);
    if (rc) return rc;
    int *tr = mmc_malloc(sizeof(int) * (size_t)n_texts);
    int *ir = mmc_malloc(sizeof(int) * (size_t)n_images);
    if (!tr || !ir) {
        mmc_free(tr);
        mmc_free(ir);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "recall: out of memory for %d + %d ranks", n_texts, n_images);
    }
    rc = mmc_eval_recall_ranks(sim, n_texts, n_images, text_image, tr, ir, err);
    if (rc == MMC_OK) {
        static const int ks[3] = {1, 5, 10};
        out->n_texts = n_texts;
        for (int i = 0; i < 3; i++) {
            out->t2i[i] = mmc_eval_recall_at(tr, n_texts, ks[i]);
            out->i2t[i] = mmc_eval_recall_at(ir, n_images, ks[i]);
            out->rsum += out->t2i[i] + out->i2t[i];
        }
        int a = rank_stats(tr, n_texts, &out->t2i_medr, &out->t2i_meanr);
        int b = rank_stats(ir, n_images, &out->i2t_medr, &out->i2t_meanr);
        if (a < 0 || b < 0) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "recall: out of memory");
        out->n_images = b;
    }
    mmc_free(tr);
    mmc_free(ir);
    return rc;
}

int mmc_eval_recall_embeddings(const float *text_emb, int n_texts, const float *image_emb,
                               int n_images, int dim, const int *text_image, mmc_recall_result *out,
                               mmc_error *err) {
    if (!out) return mmc_error_set(err, MMC_ERR_USAGE, "recall: NULL output");
    memset(out, 0, sizeof *out);
    if (!text_emb || !image_emb || dim < 1 || n_texts < 1 || n_images < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "recall: bad embeddings (%d texts, %d images, dim %d)",
                             n_texts, n_images, dim);
    size_t cells = (size_t)n_texts * (size_t)n_images;
    if (cells > SIZE_MAX / sizeof(float))
        return mmc_error_set(err, MMC_ERR_USAGE, "recall: %d x %d similarity matrix is too large", n_texts,
                             n_images);
    float *sim = mmc_malloc(cells * sizeof(float));
    if (!sim)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "recall: out of memory for a %d x %d similarity matrix",
                             n_texts, n_images);
    /* sim (T, I) = text (T, D) . image (I, D)^T */
    mmc_gemm(0, 1, n_texts, n_images, dim, 1.0f, text_emb, image_emb, 0.0f, sim);
    int rc = mmc_eval_recall(sim, n_texts, n_images, text_image, out, err);
    mmc_free(sim);
    return rc;
}

/* ---------------------------------------------------------------- accuracy */

int mmc_eval_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i; /* strict: ties keep the lowest index */
    return best;
}

int mmc_eval_accuracy(const int *pred, const int *truth, int n, int n_classes, mmc_accuracy *out,
                      int *class_correct, int *class_total, mmc_error *err) {
    if (!out) return mmc_error_set(err, MMC_ERR_USAGE, "accuracy: NULL output");
    memset(out, 0, sizeof *out);
    if (n < 0 || n_classes < 1 || (n > 0 && (!pred || !truth)))
        return mmc_error_set(err, MMC_ERR_USAGE, "accuracy: bad arguments (n = %d, classes = %d)", n, n_classes);
    for (int i = 0; i < n; i++)
        if (truth[i] < 0 || truth[i] >= n_classes || pred[i] < 0 || pred[i] >= n_classes)
            return mmc_error_set(err, MMC_ERR_USAGE, "accuracy: sample %d has class %d, predicted %d (classes 0..%d)",
                                 i, truth[i], pred[i], n_classes - 1);
    if (class_correct) memset(class_correct, 0, sizeof(int) * (size_t)n_classes);
    if (class_total) memset(class_total, 0, sizeof(int) * (size_t)n_classes);
    /* Per-class counts are needed for the balanced accuracy even when the caller does not
     * want them; a small scratch keeps the signature simple. */
    int *cc = class_correct ? class_correct : mmc_calloc((size_t)n_classes, sizeof(int));
    int *ct = class_total ? class_total : mmc_calloc((size_t)n_classes, sizeof(int));
    if (!cc || !ct) {
        if (!class_correct) mmc_free(cc);
        if (!class_total) mmc_free(ct);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "accuracy: out of memory");
    }
    for (int i = 0; i < n; i++) {
        ct[truth[i]]++;
        if (pred[i] == truth[i]) {
            cc[truth[i]]++;
            out->correct++;
        }
    }
    out->n = n;
    out->overall = n ? (double)out->correct / n : 0.0;
    double sum = 0;
    for (int c = 0; c < n_classes; c++)
        if (ct[c]) {
            sum += (double)cc[c] / ct[c];
            out->classes_present++;
        }
    out->mean_per_class = out->classes_present ? sum / out->classes_present : 0.0;
    if (!class_correct) mmc_free(cc);
    if (!class_total) mmc_free(ct);
    return MMC_OK;
}
