/* demo_caption.c — the demo's captioning stage: the default captioner of `mmc train
 * caption` (a CNN over the scene, a transformer decoder attending to its regions) trained
 * for a fixed step count on the English captions, evaluated on the test split with beam
 * search (BLEU, CIDEr-D), then asked to describe a few test scenes. */
#include "demo.h"
#include <stdio.h>
#include <string.h>

/* Steps: about 1.5 minutes on 2 idle cores (batch 32). The full-size run of
 * docs/results.md trains ~3000 steps in 15 minutes; a few hundred give captions that name
 * the objects but often miss a size or a relation, which the report shows as it is. */
#define DEMO_CAPTION_STEPS 400
#define DEMO_CAPTION_QUICK_STEPS 20
#define DEMO_CAPTION_EXAMPLES 6
#define DEMO_CAPTION_BEAM 3

static void tiny_config(mmc_caption_config *c) {
    c->image_size = 32;
    memset(c->image.cnn_widths, 0, sizeof c->image.cnn_widths);
    c->image.cnn_widths[0] = 8;
    c->image.cnn_widths[1] = 16;
    c->pool_grid = 2;
    c->hidden = 32;
    c->dec_layers = 1;
    c->dec_heads = 2;
    c->word_dim = 16;
    c->batch_size = 16;
    c->val_max_images = 16;
}

static int train(const void *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_caption_train(cfg, o, err); }

int demo_stage_caption(demo_ctx *d) {
    int64_t steps = d->steps > 0 ? d->steps : d->quick ? DEMO_CAPTION_QUICK_STEPS : DEMO_CAPTION_STEPS;
    char run[4200];
    demo_path(d, "caption", run, sizeof run);
    mmc_caption_config cfg = mmc_caption_config_default();
    snprintf(cfg.lang, sizeof cfg.lang, "en");
    if (d->quick) tiny_config(&cfg);
    else cfg.val_max_images = 100;
    printf("English captioner (CNN regions, %s decoder, cross-entropy with teacher forcing): %lld steps into %s\n", cfg.decoder,
           (long long)steps, run);
    fflush(stdout);
    if (*d->interrupt) return demo_interrupted(d, NULL, NULL);

    int rc = demo_train(d, "caption", run, steps, train, &cfg);
    if (rc) return rc;
    mmc_error err = {0};

    mmc_captioner *m = mmc_captioner_load(run, NULL, &err);
    if (!m) return cli_error_from(&err);
    mmc_caption_opts co = mmc_caption_opts_default(m);
    co.beam = DEMO_CAPTION_BEAM;
    mmc_caption_metrics mt;
    if (mmc_captioner_evaluate(m, d->data_dir, "test", &co, 0, &mt, &err)) {
        mmc_captioner_free(m);
        return cli_error_from(&err);
    }
    printf("test (%d images, beam %d): BLEU-1 %.3f BLEU-4 %.3f CIDEr-D %.3f exact match %.3f\n", mt.n_images, co.beam, mt.bleu[0],
           mt.bleu[3], mt.cider_d, mt.exact_match);
    char model[128];
    snprintf(model, sizeof model, "English captioner, %lld steps, beam %d", (long long)steps, co.beam);
    const char *names[4] = {"BLEU-1", "BLEU-4", "CIDEr-D", "exact match (any reference)"};
    double v[4] = {mt.bleu[0], mt.bleu[3], mt.cider_d, mt.exact_match};
    for (int i = 0; i < 4 && !rc; i++) rc = demo_metric(d, "captioning", model, names[i], "%.3f", v[i]);

    char text[20000];
    snprintf(text, sizeof text,
             "A captioner trained for %lld steps (batch %d) on the English captions: a CNN turns the scene into a grid of "
             "region features and a %s decoder writes the caption word by word, attending to the regions. Run folder: %s. "
             "Below, test scenes with the beam-%d caption and the scene's first reference caption (a green frame: the "
             "caption equals one of the scene's five references). Try: mmc caption --model %s --beam 3 IMAGE.png",
             (long long)steps, cfg.batch_size, cfg.decoder, run, co.beam, run);
    if (!rc && (mmc_report_heading(d->report, "Image captioning", &err) || mmc_report_text(d->report, text, &err)))
        rc = cli_error_from(&err);
    const char *series[1] = {"English"}, *dirs[1] = {run};
    if (!rc) rc = demo_chart_runs(d, "captioner: training loss (cross-entropy)", "loss", "loss", 1, series, dirs);
    if (!rc) rc = demo_chart_runs(d, "captioner: validation BLEU-4 (greedy)", "BLEU-4", "val.BLEU-4", 1, series, dirs);

    const mmc_manifest *test = rc ? NULL : demo_test_split(d);
    if (!rc && !test) rc = 2;
    int g = -1;
    if (!rc && (g = mmc_report_gallery(d->report, "Captions for test scenes (beam 3)", &err)) < 0) rc = cli_error_from(&err);
    if (!rc) printf("captions for a few test scenes (beam %d):\n", co.beam);
    for (int i = 0; !rc && i < DEMO_CAPTION_EXAMPLES && i < test->count; i++) {
        const mmc_sample *s = &test->samples[i];
        char path[4200];
        demo_image_path(test, s, path, sizeof path);
        mmc_caption_result r = {0};
        if (mmc_captioner_caption_file(m, path, &co, &r, &err)) {
            rc = cli_error_from(&err);
            break;
        }
        const char *cap = r.n > 0 ? r.hyps[0].text : "";
        int exact = 0; /* as mmc eval counts it: the same tokens as one of the references */
        for (int k = 0; k < s->n_captions && r.n > 0 && !exact; k++) {
            int32_t *ids = NULL;
            int n = 0;
            if (mmc_tokenizer_encode(mmc_captioner_tokenizer(m), s->captions[k], (size_t)-1, 0, 0, &ids, &n, &err)) continue;
            exact = n == r.hyps[0].n_ids && !memcmp(ids, r.hyps[0].ids, sizeof *ids * (size_t)n);
            mmc_free(ids);
        }
        printf("  %s  %s%s\n", s->id, cap, exact ? "  (= a reference)" : "");
        char ex[4096];
        snprintf(ex, sizeof ex, "%s\nreference: %s", cap, s->n_captions ? s->captions[0] : "");
        if (mmc_report_example_file(d->report, g, path, ex, exact ? 1 : 0, &err)) rc = cli_error_from(&err);
        mmc_caption_result_free(&r);
    }
    mmc_captioner_free(m);
    fflush(stdout);
    return rc;
}
