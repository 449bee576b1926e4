/* dataset_stats.c — numbers that say whether a dataset can be learned honestly:
 * how often a caption singles out its image (the ceiling of retrieval), and how the
 * answers of each QA type are spread (what a blind model scores by guessing). */
#include "internal.h"
#include "mmc/data.h"
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

double mmc_captions_unique_rate(const mmc_sample *samples, int n) {
    if (n <= 0) return 0.0;
    const char **c = mmc_malloc(sizeof *c * (size_t)n);
    if (!c) return 0.0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (samples[i].n_captions > 0) c[m++] = samples[i].captions[0];
    qsort(c, (size_t)m, sizeof *c, cmp_str);
    int unique = 0;
    for (int i = 0; i < m; i++)
        if ((i == 0 || strcmp(c[i - 1], c[i])) && (i + 1 == m || strcmp(c[i], c[i + 1]))) unique++;
    mmc_free(c);
    return (double)unique / (double)n;
}

static int is_yes_no(const char *a) { return !strcmp(a, "yes") || !strcmp(a, "no"); }

/* Majority (overall and over open answers) and distinct count of sorted answers. */
static void summarise(const char **a, int n, mmc_qa_type_stats *st) {
    int best = 0, best_open = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && !strcmp(a[i], a[j])) j++;
        st->distinct++;
        if (j - i > best) {
            best = j - i;
            snprintf(st->majority, sizeof st->majority, "%s", a[i]);
        }
        if (!is_yes_no(a[i]) && j - i > best_open) {
            best_open = j - i;
            snprintf(st->open_majority, sizeof st->open_majority, "%s", a[i]);
        }
        i = j;
    }
    st->majority_count = best;
    st->open_majority_count = best_open;
}

static int find_type(mmc_qa_type_stats *out, int nt, const char *t) {
    for (int i = 0; i < nt; i++)
        if (!strncmp(out[i].type, t, sizeof out[i].type - 1)) return i;
    return -1;
}

/* Answers of one type, gathered for sorting. */
static int type_answers(const mmc_sample *s, int n, const char *type, const char **a) {
    int m = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n_qa; k++) {
            const char *t = s[i].qa[k].type ? s[i].qa[k].type : "";
            if (!strncmp(t, type, 31)) a[m++] = s[i].qa[k].answer ? s[i].qa[k].answer : "";
        }
    return m;
}

int mmc_qa_stats(const mmc_sample *samples, int n, mmc_qa_type_stats *out, int max) {
    int nt = 0, total = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < samples[i].n_qa; k++) {
            const char *t = samples[i].qa[k].type ? samples[i].qa[k].type : "";
            total++;
            if (find_type(out, nt, t) < 0 && nt < max) {
                memset(&out[nt], 0, sizeof out[nt]);
                snprintf(out[nt].type, sizeof out[nt].type, "%s", t);
                nt++;
            }
        }
    const char **a = mmc_malloc(sizeof *a * (size_t)(total ? total : 1));
    if (!a) return -1;
    for (int t = 0; t < nt; t++) {
        int m = type_answers(samples, n, out[t].type, a);
        out[t].total = m;
        for (int i = 0; i < m; i++) {
            out[t].yes += !strcmp(a[i], "yes");
            out[t].no += !strcmp(a[i], "no");
        }
        qsort(a, (size_t)m, sizeof *a, cmp_str);
        summarise(a, m, &out[t]);
    }
    mmc_free(a);
    return nt;
}
