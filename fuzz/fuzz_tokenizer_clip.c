/* fuzz_tokenizer_clip.c — libFuzzer target for CLIP's vocab.json + merges.txt loader
 * (mmc_tokenizer_load_clip).
 *
 * One input holds both files: the bytes before the first NUL are vocab.json, the bytes
 * after it merges.txt (no NUL: an empty merges.txt). A NUL inside either file is thus not
 * reachable here; merges.txt's NUL check is covered by the unit tests. The loader takes
 * paths only, so both are written to a per-process temporary folder (fuzz/tmpdir.h) on
 * every input. A tokenizer that loads is then walked (fuzz/tokwalk.h): token <-> id both
 * ways, encode and decode, ids in range.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tmpdir.h"
#include "tokwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    size_t nv = nul ? (size_t)(nul - data) : size;
    char vpath[1024], mpath[1024];
    fz_write(vpath, sizeof vpath, "vocab.json", data, nv);
    fz_write(mpath, sizeof mpath, "merges.txt", nul ? nul + 1 : data, nul ? size - nv - 1 : 0);
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_load_clip(vpath, mpath, &err);
    if (!t) {
        if (err.code == MMC_OK) abort(); /* a failure must say why */
        return 0;
    }
    if (mmc_tokenizer_kind_of(t) != MMC_TOK_CLIP_BPE) abort();
    fz_walk_tokenizer(t);
    mmc_tokenizer_free(t);
    return 0;
}
