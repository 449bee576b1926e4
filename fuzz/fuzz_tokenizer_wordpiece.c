/* fuzz_tokenizer_wordpiece.c — libFuzzer target for BERT's vocab.txt (and
 * tokenizer_config.json): mmc_wordpiece_read_config, then mmc_tokenizer_load_wordpiece.
 *
 * The input is vocab.txt, except that when it contains the two bytes NUL '{', what follows
 * the first such pair is a tokenizer_config.json whose options (lowercase, accent
 * stripping, CJK splitting) the vocabulary is loaded with. Any other NUL stays in
 * vocab.txt, where it must be refused. Both loaders take paths only, so the files are
 * written to a per-process temporary folder (fuzz/tmpdir.h). A tokenizer that loads is
 * walked (fuzz/tokwalk.h): encode (lowercasing, accent stripping and CJK splitting run on
 * the fixed texts), decode, token <-> id. max_chars_per_word is 100, or 3 when the input's
 * size is odd, so the long-word [UNK] path runs too.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tmpdir.h"
#include "tokwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t nv = size;
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == 0 && data[i + 1] == '{') {
            nv = i;
            break;
        }
    mmc_error err = {0};
    mmc_wordpiece_opts o = mmc_wordpiece_defaults();
    if (size & 1) o.max_chars_per_word = 3;
    char vpath[1024], cpath[1024];
    if (nv < size) {
        fz_write(cpath, sizeof cpath, "tokenizer_config.json", data + nv + 1, size - nv - 1);
        mmc_wordpiece_opts before = o;
        if (mmc_wordpiece_read_config(cpath, &o, &err) != MMC_OK) {
            if (err.code == MMC_OK || memcmp(&o, &before, sizeof o) != 0) abort(); /* untouched on error */
            return 0;
        }
    }
    fz_write(vpath, sizeof vpath, "vocab.txt", data, nv);
    mmc_tokenizer *t = mmc_tokenizer_load_wordpiece(vpath, &o, &err);
    if (!t) {
        if (err.code == MMC_OK) abort();
        return 0;
    }
    if (mmc_tokenizer_kind_of(t) != MMC_TOK_WORDPIECE) abort();
    fz_walk_tokenizer(t);
    mmc_tokenizer_free(t);
    return 0;
}
