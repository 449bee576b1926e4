/* fuzz_trainer_json.c — libFuzzer target for a run folder's trainer.json
 * (mmc_run_read_trainer, the first thing mmc_run_load reads) and config.json
 * (mmc_run_read_config).
 *
 * Both readers take a run folder, so the input is written as trainer.json and as
 * config.json into a per-process temporary folder (fuzz/tmpdir.h). A trainer state that
 * loads must survive the writer: mmc_run_trainer_text (src/io/run_internal.h; declared
 * here, since the fuzz targets see only the public header) prints it, and reading that
 * text back must give the same fields (best_metric bit for bit, NaN for null). A mismatch
 * means resuming from a checkpoint would not resume where training stood, so it aborts.
 *
 * MMC_FUZZ_MAX_LEN 16384 */
#include "tmpdir.h"
#include "mmc.h"
#include <cjson/cJSON.h> /* cJSON_free, for mmc_run_trainer_text's string */
#include <math.h>

char *mmc_run_trainer_text(const mmc_trainer_state *ts); /* src/io/run_internal.h */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_state(const mmc_trainer_state *a, const mmc_trainer_state *b) {
    if (a->step != b->step || a->epoch != b->epoch || a->batch != b->batch || a->schedule_step != b->schedule_step)
        return 0;
    if (a->rng.state != b->rng.state || a->rng.inc != b->rng.inc) return 0;
    if (isnan(a->best_metric) != isnan(b->best_metric)) return 0;
    if (!isnan(a->best_metric) && memcmp(&a->best_metric, &b->best_metric, sizeof(double)) != 0) return 0;
    return strcmp(a->best_metric_name, b->best_metric_name) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024];
    const char *dir = fz_tmpdir();
    mmc_error err = {0};

    fz_write(path, sizeof path, "config.json", data, size);
    char *json = NULL;
    if (mmc_run_read_config(dir, &json, &err) == MMC_OK) {
        if (!json) abort();
        mmc_free(json);
    } else if (json) {
        abort(); /* nothing handed out on failure */
    }

    fz_write(path, sizeof path, "trainer.json", data, size);
    mmc_trainer_state ts = mmc_trainer_state_init(7), before = ts;
    if (mmc_run_read_trainer(dir, &ts, &err) != MMC_OK) {
        if (err.code == MMC_OK || memcmp(&ts, &before, sizeof ts) != 0) abort(); /* untouched on error */
        return 0;
    }
    char *text = mmc_run_trainer_text(&ts);
    if (!text) abort();
    fz_write(path, sizeof path, "trainer.json", text, strlen(text));
    cJSON_free(text);
    mmc_trainer_state back = mmc_trainer_state_init(9);
    if (mmc_run_read_trainer(dir, &back, &err) != MMC_OK || !same_state(&ts, &back)) abort();
    return 0;
}
