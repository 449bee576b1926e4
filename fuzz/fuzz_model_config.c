/* fuzz_model_config.c — libFuzzer target for the model config.json readers:
 * the caption and VQA configs (mmc_caption_config_parse, mmc_vqa_config_parse: *c
 * unchanged on error, a config that parses and checks survives its own writer), the
 * retrieval config (mmc_retrieval_config_parse, from memory; a config that parses and
 * checks must write back with mmc_retrieval_config_to_json and re-parse to the same JSON)
 * and a Hugging Face CLIP config.json (mmc_clip_load on a folder holding only the fuzzed
 * config.json: everything up to the weights is read and validated, then the load fails
 * for the missing model.safetensors — or for the config, which is what is fuzzed).
 *
 * MMC_FUZZ_MAX_LEN 16384 */
#include "tmpdir.h"
#include "mmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One config kind: parse; on error *c unchanged; when it checks, write, re-parse, and
 * the two writes agree. */
#define FZ_ROUND_TRIP(type, init, parse, check, to_json)                                   \
    do {                                                                                  \
        type c_ = init, before_ = c_;                                                     \
        mmc_error e_ = {0};                                                               \
        if (parse(&c_, (const char *)data, size, "fuzz", &e_) == MMC_OK) {                \
            if (check(&c_, "fuzz", &e_) == MMC_OK) {                                      \
                char *a_ = to_json(&c_);                                                  \
                if (!a_) abort();                                                         \
                type d_ = init;                                                           \
                if (parse(&d_, a_, strlen(a_), "again", &e_) != MMC_OK) abort();          \
                char *b_ = to_json(&d_);                                                  \
                if (!b_ || strcmp(a_, b_) != 0) abort();                                  \
                mmc_free(a_);                                                             \
                mmc_free(b_);                                                             \
            }                                                                             \
        } else if (memcmp(&c_, &before_, sizeof c_) != 0) {                               \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FZ_ROUND_TRIP(mmc_caption_config, mmc_caption_config_default(), mmc_caption_config_parse, mmc_caption_config_check,
                  mmc_caption_config_to_json);
    FZ_ROUND_TRIP(mmc_vqa_config, mmc_vqa_config_default("vqa", NULL), mmc_vqa_config_parse, mmc_vqa_config_check,
                  mmc_vqa_config_to_json);
    mmc_error err = {0};
    mmc_retrieval_config c = mmc_retrieval_config_default(), before = c;
    if (mmc_retrieval_config_parse(&c, (const char *)data, size, "fuzz", &err) == MMC_OK) {
        if (mmc_retrieval_config_check(&c, "fuzz", &err) == MMC_OK) {
            char *a = mmc_retrieval_config_to_json(&c);
            if (!a) abort();
            mmc_retrieval_config d = mmc_retrieval_config_default();
            if (mmc_retrieval_config_parse(&d, a, strlen(a), "again", &err) != MMC_OK) abort();
            char *b = mmc_retrieval_config_to_json(&d);
            if (!b || strcmp(a, b) != 0) abort(); /* a config must survive its own writer */
            mmc_free(a);
            mmc_free(b);
        }
    } else if (memcmp(&c, &before, sizeof c) != 0) {
        abort(); /* the header promises *c unchanged on error */
    }

    char path[1024];
    const char *dir = fz_tmpdir();
    fz_write(path, sizeof path, "config.json", data, size);
    mmc_error e2 = {0};
    mmc_clip *m = mmc_clip_load(dir, &e2);
    if (m) abort(); /* no weights in the folder: loading cannot succeed */
    if (e2.code == MMC_OK || !e2.msg[0]) abort();
    return 0;
}
