/* fuzz_manifest.c — libFuzzer target for JSONL dataset manifests (mmc_manifest_parse, the
 * same code mmc_manifest_load runs after reading the file).
 *
 * On success every sample must be writable again (mmc_sample_to_json: the reader accepts
 * only what the writer can write), and the written line must parse back to the same
 * sample: a difference is a validation gap between reader and writer, which no sanitizer
 * would see, so it aborts. Labels that were JSON numbers come back as strings of the same
 * text, which the comparison allows for (the text is what is compared).
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "mmc.h"
#include <stdlib.h> /* abort */
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int same_strings(char *const *a, int na, char *const *b, int nb) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (!same_str(a[i], b[i])) return 0;
    return 1;
}

static int same_sample(const mmc_sample *a, const mmc_sample *b) {
    if (!same_str(a->id, b->id) || !same_str(a->image, b->image) || !same_str(a->video, b->video) ||
        !same_str(a->label, b->label))
        return 0;
    if (!same_strings(a->captions, a->n_captions, b->captions, b->n_captions)) return 0;
    if (!same_strings(a->captions_zh, a->n_captions_zh, b->captions_zh, b->n_captions_zh)) return 0;
    if (a->n_qa != b->n_qa) return 0;
    for (int i = 0; i < a->n_qa; i++)
        if (!same_str(a->qa[i].question, b->qa[i].question) || !same_str(a->qa[i].answer, b->qa[i].answer) ||
            !same_str(a->qa[i].type, b->qa[i].type))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmc_error err = {0};
    /* odd sizes read as a video task does: an image or a video per sample */
    unsigned flags = (size & 1) ? MMC_MANIFEST_IMAGE_OPTIONAL : 0;
    mmc_manifest *m = mmc_manifest_parse_ex("fuzz.jsonl", "dataset", (const char *)data, size, flags, &err);
    if (!m) {
        if (err.code == MMC_OK) abort(); /* a failure must say why */
        return 0;
    }
    if (m->count <= 0) abort(); /* "no samples" is an error, not an empty manifest */
    for (int i = 0; i < m->count; i++) {
        const mmc_sample *s = &m->samples[i];
        char *line = mmc_sample_to_json(s);
        if (!line) abort(); /* the reader took a sample the writer refuses */
        mmc_manifest *back = mmc_manifest_parse_ex("roundtrip.jsonl", "dataset", line, strlen(line), flags, &err);
        if (!back || back->count != 1 || !same_sample(s, &back->samples[0])) abort();
        mmc_manifest_free(back);
        mmc_free(line);
    }
    /* the dataset statistics walk every caption and answer */
    mmc_captions_unique_rate(m->samples, m->count);
    mmc_qa_type_stats st[8];
    if (mmc_qa_stats(m->samples, m->count, st, 8) > 8) abort();
    mmc_manifest_free(m);
    return 0;
}
