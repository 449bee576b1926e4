/* tokwalk.h — what the tokenizer fuzz targets do with a tokenizer once it has loaded: walk
 * the vocabulary (every id's token must map back to that id), encode fixed texts and one
 * made of the vocabulary's own tokens (so merges and word pieces fire), check every id is
 * in range, and decode the ids again. Header-only, included by each fuzz_tokenizer_*.c. */
#ifndef MMC_FUZZ_TOKWALK_H
#define MMC_FUZZ_TOKWALK_H

#include "mmc.h"
#include <stdlib.h>
#include <string.h>

static void fz_encode_decode(const mmc_tokenizer *t, const char *text, size_t len) {
    mmc_error err = {0};
    int nv = mmc_tokenizer_vocab_size(t);
    for (int mode = 0; mode < 3; mode++) {
        int32_t *ids = NULL;
        int n = 0;
        int add = mode != 0, max_len = mode == 2 ? 5 : 0;
        if (mmc_tokenizer_encode(t, text, len, add, max_len, &ids, &n, &err) != MMC_OK) {
            mmc_free(ids);
            continue;
        }
        if (n < 0 || (max_len && n > max_len)) abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= nv) abort(); /* an id outside the vocabulary */
        char *s = mmc_tokenizer_decode(t, ids, n, mode == 1, &err);
        mmc_free(s);
        mmc_free(ids);
    }
}

static void fz_walk_tokenizer(const mmc_tokenizer *t) {
    static const char *const texts[] = {
        "a photo of a cat", "Hello, World! It's 3 o'clock... lower low LOW", "\xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9 na\xc3\xafve",
        "<|startoftext|>x<|endoftext|>", "[CLS] [MASK] unaffable running! [SEP]", " \t\n ", "",
    };
    int nv = mmc_tokenizer_vocab_size(t);
    if (nv <= 0) abort();
    mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(t);
    const int special[] = {sp.pad, sp.unk, sp.start, sp.end, sp.cls, sp.sep, sp.mask};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (special[i] < -1 || special[i] >= nv) abort();
    /* every token maps back to its id; gather a text from the first ones */
    char buf[4096];
    size_t len = 0;
    for (int id = 0; id < nv; id++) {
        const char *s = mmc_tokenizer_token(t, id);
        if (!s || mmc_tokenizer_token_id(t, s) != id) abort();
        size_t l = strlen(s);
        if (id < 64 && len + l + 1 < sizeof buf) {
            memcpy(buf + len, s, l);
            len += l;
            buf[len++] = (id & 3) ? ' ' : 'a';
        }
    }
    if (mmc_tokenizer_token(t, nv) || mmc_tokenizer_token(t, -1)) abort();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) fz_encode_decode(t, texts[i], strlen(texts[i]));
    fz_encode_decode(t, buf, len);
    /* a batch, padded and truncated */
    mmc_error err = {0};
    int32_t ids[3 * 6], mask[3 * 6];
    if (mmc_tokenizer_encode_batch(t, texts, 3, 6, ids, mask, &err) == MMC_OK)
        for (int i = 0; i < 3 * 6; i++)
            if (ids[i] < 0 || ids[i] >= nv || (mask[i] != 0 && mask[i] != 1)) abort();
    /* decoding ids the file never produced: every id once, and out of range */
    int32_t all[64];
    int n = nv < 64 ? nv : 64;
    for (int i = 0; i < n; i++) all[i] = nv - 1 - i;
    mmc_free(mmc_tokenizer_decode(t, all, n, 0, &err));
    mmc_free(mmc_tokenizer_decode(t, all, n, 1, &err));
    int32_t bad[2] = {0, nv};
    char *s = mmc_tokenizer_decode(t, bad, 2, 0, &err);
    if (s) abort(); /* an id out of range must be refused */
}

#endif
