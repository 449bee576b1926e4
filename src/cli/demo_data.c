/* demo_data.c — the demo's first stage: the shapes world, generated (not downloaded) into
 * OUT/data, and a few of its training scenes in the report. */
#include "demo.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct split_progress {
    cli_progress_state p;
    const char *what;
} split_progress;

static void on_progress(void *user, int64_t done, int64_t total) {
    split_progress *s = user;
    cli_progress(&s->p, s->what, done, total);
}

int demo_stage_data(demo_ctx *d) {
    static const char *splits[3] = {"train", "val", "test"};
    int n[3] = {d->n_train, d->n_val, d->n_test};
    mmc_error err = {0};
    printf("generating %d / %d / %d scenes (train / val / test) of %d px into %s\n", n[0], n[1], n[2], d->image_size, d->data_dir);
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        split_progress sp = {{stdout, mmc_now(), 0, d->tty}, splits[i]};
        if (mmc_shapes_write_split(d->data_dir, splits[i], n[i], d->data_seed, d->image_size, on_progress, &sp, &err))
            return cli_error_from(&err);
        if (*d->interrupt) return 0;
    }
    mmc_manifest *train = mmc_manifest_load(d->data_dir, "train", &err);
    if (!train) return cli_error_from(&err);
    int rc = mmc_report_heading(d->report, "The shapes world", &err);
    char text[5000];
    snprintf(text, sizeof text,
             "Scenes of one to four shapes (6 shapes, 8 colours, two sizes) with five English and five Chinese captions "
             "each, and question-answer pairs. Made by `mmc data shapes` in %s. A few training scenes with their first "
             "captions:", d->data_dir);
    if (!rc) rc = mmc_report_text(d->report, text, &err);
    int g = rc ? -1 : mmc_report_gallery(d->report, "", &err);
    if (g < 0) rc = err.code;
    int shown = train->count < 6 ? train->count : 6;
    for (int i = 0; i < shown && !rc; i++) {
        const mmc_sample *s = &train->samples[i];
        char path[4200], cap[2048];
        snprintf(cap, sizeof cap, "%s\n%s", s->n_captions ? s->captions[0] : "", s->n_captions_zh ? s->captions_zh[0] : "");
        rc = mmc_report_example_file(d->report, g, demo_image_path(train, s, path, sizeof path), cap, 0, &err);
    }
    mmc_manifest_free(train);
    return rc ? cli_error_from(&err) : 0;
}
