/* fuzz_tokenizer_vocab.c — libFuzzer target for saved WORD/CHAR vocabularies
 * ({"kind": "word"|"char", "tokens": [...]}, what mmc_tokenizer_save writes and a run's
 * config.json embeds), read from memory by mmc_tokenizer_from_json.
 *
 * A vocabulary that loads is walked (fuzz/tokwalk.h), then written back with
 * mmc_tokenizer_to_json and read again: the copy must have the same kind and the same
 * tokens in the same order (a difference means the reader accepts what the writer cannot
 * reproduce), which aborts.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tokwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_from_json((const char *)data, size, "fuzz-vocab.json", &err);
    if (!t) {
        if (err.code == MMC_OK) abort();
        return 0;
    }
    mmc_tokenizer_kind k = mmc_tokenizer_kind_of(t);
    if (k != MMC_TOK_WORD && k != MMC_TOK_CHAR) abort();
    fz_walk_tokenizer(t);
    char *json = mmc_tokenizer_to_json(t, &err);
    if (!json) abort();
    mmc_tokenizer *u = mmc_tokenizer_from_json(json, strlen(json), "roundtrip.json", &err);
    if (!u || mmc_tokenizer_kind_of(u) != k || mmc_tokenizer_vocab_size(u) != mmc_tokenizer_vocab_size(t)) abort();
    for (int id = 0; id < mmc_tokenizer_vocab_size(t); id++)
        if (strcmp(mmc_tokenizer_token(t, id), mmc_tokenizer_token(u, id)) != 0) abort();
    mmc_tokenizer_free(u);
    mmc_free(json);
    mmc_tokenizer_free(t);
    return 0;
}
