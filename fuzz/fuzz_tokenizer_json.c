/* fuzz_tokenizer_json.c — libFuzzer target for Hugging Face tokenizer.json files with a
 * BPE model (mmc_tokenizer_load_clip_json: model.vocab, model.merges as "a b" strings or
 * ["a", "b"] pairs, end_of_word_suffix, added_tokens).
 *
 * The loader takes a path only, so the input is written to a per-process temporary folder
 * (fuzz/tmpdir.h) on every run; a tokenizer that loads is walked (fuzz/tokwalk.h).
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tmpdir.h"
#include "tokwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024];
    fz_write(path, sizeof path, "tokenizer.json", data, size);
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_load_clip_json(path, &err);
    if (!t) {
        if (err.code == MMC_OK) abort();
        return 0;
    }
    if (mmc_tokenizer_kind_of(t) != MMC_TOK_CLIP_BPE) abort();
    fz_walk_tokenizer(t);
    mmc_tokenizer_free(t);
    return 0;
}
