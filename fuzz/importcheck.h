/* importcheck.h — shared by the importer fuzz targets (fuzz_idx.c, fuzz_emoji.c,
 * fuzz_karpathy.c). Header-only, like tmpdir.h (include that first).
 *
 * fz_split: one fuzz input carries several files, cut at a marker the dictionary knows.
 * fz_check_import: what an importer promises when it succeeds — each split it counted has a
 * manifest that mmc_manifest_load reads back with that many samples, every image it names
 * exists under the output folder, and the splits share no id — and when it fails: an error
 * code and a message. Anything else aborts (a bug no sanitizer would see). */
#ifndef MMC_FUZZ_IMPORTCHECK_H
#define MMC_FUZZ_IMPORTCHECK_H
#include "mmc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_part {
    const uint8_t *p;
    size_t n;
} fz_part;

/* Cuts data at each occurrence of marker (mlen bytes) into at most max parts (the last
 * takes the rest); returns the count (>= 1). */
static inline int fz_split(const uint8_t *data, size_t size, const char *marker, size_t mlen, fz_part *parts, int max) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; k < max - 1 && i + mlen <= size;) {
        if (memcmp(data + i, marker, mlen) == 0) {
            parts[k].p = data + start, parts[k].n = i - start, k++;
            i += mlen;
            start = i;
        } else {
            i++;
        }
    }
    parts[k].p = data + start, parts[k].n = size - start, k++;
    return k;
}

static inline void fz_check_import(int rc, const mmc_error *err, const mmc_import_stats *st, const char *out) {
#ifdef FZ_TRACE /* a hand-built replay binary that says what each seed reached (docs/robustness.md) */
    fprintf(stderr, "rc %d: %s | %lld %lld %lld\n", rc, rc ? err->msg : "ok", (long long)st->n[0], (long long)st->n[1],
            (long long)st->n[2]);
#endif
    if (rc != MMC_OK) {
        if (err->code == MMC_OK || !err->msg[0]) abort(); /* a failure must say why */
        if (st->n[0] || st->n[1] || st->n[2]) abort();    /* and count nothing written */
        return;
    }
    static const char *const splits[3] = {"train", "val", "test"};
    mmc_manifest *m[3] = {0};
    int64_t total = 0;
    for (int s = 0; s < 3; s++) {
        if (st->n[s] < 0) abort();
        total += st->n[s];
        if (!st->n[s]) continue;
        mmc_error e = {0};
        m[s] = mmc_manifest_load(out, splits[s], &e);
        if (!m[s] || m[s]->count != st->n[s]) abort(); /* the importer wrote what mmc cannot read */
        if (mmc_manifest_check_images(m[s], &e) != MMC_OK) abort();
    }
    if (total <= 0) abort(); /* success with no sample at all */
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            for (int i = 0; m[a] && m[b] && i < m[a]->count; i++)
                for (int j = 0; j < m[b]->count; j++)
                    if (!strcmp(m[a]->samples[i].id, m[b]->samples[j].id)) abort(); /* one id, two splits */
    for (int s = 0; s < 3; s++) mmc_manifest_free(m[s]);
}
#endif
