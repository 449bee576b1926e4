/* demo_video.c — the demo's video stage: a small moving-shapes world written as real video
 * files (FFV1 in Matroska, decoded back through FFmpeg), then three models of the one
 * training loop on it, each with the default video encoder (the frames stacked as channels
 * of the cnn): text->video retrieval, a video captioner (a summary sentence per clip) and
 * video QA. Each is evaluated on the test clips; the report shows clips as frame strips
 * with the clip a query found, the summary the captioner wrote and the answers.
 *
 * The short runs show the pipeline; docs/video.md has the 15-minute figures. */
#include "demo.h"
#include <stdio.h>
#include <string.h>

/* Steps: about 2.5 minutes on 2 idle cores for the three models together. */
#define DEMO_VRET_STEPS 500
#define DEMO_VCAP_STEPS 800
#define DEMO_VQA_STEPS 400
#define DEMO_VIDEO_QUICK_STEPS 10
#define DEMO_VIDEO_FRAMES 8
#define DEMO_VIDEO_EXAMPLES 4

/* One clip as a frame strip: its T frames side by side with a 2-pixel gap (w × S × 3). */
static int frame_strip(const char *path, int S, int T, uint8_t **px, int *w, mmc_error *err) {
    mmc_video v = {0};
    mmc_video_opts o = mmc_video_opts_default();
    o.frames = T;
    o.size = S;
    int rc = mmc_video_load(&v, path, &o, err);
    if (!rc && v.n != T) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %d frames decoded, %d wanted", path, v.n, T);
    *w = T * S + (T - 1) * 2;
    *px = rc ? NULL : mmc_malloc((size_t)*w * S * 3);
    if (!rc && !*px) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "demo: out of memory");
    if (!rc) {
        memset(*px, 255, (size_t)*w * S * 3);
        for (int t = 0; t < T; t++)
            for (int y = 0; y < S; y++)
                memcpy(*px + ((size_t)y * *w + (size_t)t * (S + 2)) * 3, v.frames[t].data + (size_t)y * S * 3, (size_t)S * 3);
    }
    mmc_video_free(&v);
    return rc;
}

static int strip_example(demo_ctx *d, int g, const char *path, int S, int T, const char *text, int mark, mmc_error *err) {
    uint8_t *px = NULL;
    int w = 0, rc = frame_strip(path, S, T, &px, &w, err);
    if (!rc) rc = mmc_report_example_pixels(d->report, g, w, S, 3, px, text, mark, err);
    mmc_free(px);
    return rc;
}

static const char *clip_path(const mmc_manifest *m, const mmc_sample *s, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", m->dir, s->video ? s->video : "");
    return buf;
}

static int train_ret(const void *c, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_retrieval_train(c, o, err); }
static int train_cap(const void *c, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_caption_train(c, o, err); }
static int train_vqa(const void *c, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_vqa_train(c, o, err); }

/* --quick: tiny models (seconds) */
#define TINY_CNN(c)                                                     \
    do {                                                                \
        memset((c).image.cnn_widths, 0, sizeof (c).image.cnn_widths);   \
        (c).image.cnn_widths[0] = 8, (c).image.cnn_widths[1] = 16;      \
        (c).pool_grid = 2;                                              \
    } while (0)

/* Text->video: recall on the test clips, then the first clip each of a few test captions finds. */
static int retrieval(demo_ctx *d, const mmc_manifest *test, int64_t steps, int T, mmc_error *err) {
    char run[4200];
    demo_path(d, "video-retrieval", run, sizeof run);
    mmc_retrieval_config cfg = mmc_retrieval_config_default();
    snprintf(cfg.target, sizeof cfg.target, "video");
    cfg.video.frames = T;
    cfg.image_size = d->image_size;
    if (d->quick) {
        TINY_CNN(cfg);
        cfg.embed_dim = 16, cfg.batch_size = 16, cfg.text.word_dim = 16, cfg.text.text_hidden = 16;
    }
    printf("text->video retrieval (video %s over %d frames, %s text encoder): %lld steps into %s\n", cfg.video.encoder, T,
           cfg.text.encoder, (long long)steps, run);
    fflush(stdout);
    int rc = demo_train(d, "retrieval", run, steps, train_ret, &cfg);
    if (rc) return rc;
    mmc_retrieval *m = mmc_retrieval_load(run, err);
    if (!m) return cli_error_from(err);
    mmc_retrieval_metrics mt;
    int S = d->image_size, n = test->count, E = mmc_retrieval_dim(m);
    if (mmc_retrieval_evaluate(m, d->train_data, "test", 0, &mt, err)) rc = cli_error_from(err);
    char model[128];
    snprintf(model, sizeof model, "text→video, video %s, %lld steps", cfg.video.encoder, (long long)steps);
    if (!rc) {
        printf("test (%d clips, %d captions): text->video R@1 %.3f R@5 %.3f, video->text R@1 %.3f\n", mt.n_images, mt.n_texts,
               mt.t2i.r1, mt.t2i.r5, mt.i2t.r1);
        rc = demo_metric(d, "video retrieval", model, "text→video R@1", "%.3f", mt.t2i.r1);
        if (!rc) rc = demo_metric(d, "video retrieval", model, "text→video R@5", "%.3f", mt.t2i.r5);
    }
    /* every test clip embedded once (as `mmc embed --video` does), then the best clip for a few captions */
    mmc_retrieval_free(m);
    mmc_embedder *e = rc ? NULL : mmc_embedder_open(run, err);
    if (!rc && !e) rc = cli_error_from(err);
    float *emb = rc ? NULL : mmc_malloc(sizeof(float) * (size_t)n * E);
    if (!rc && !emb) rc = cli_error(3, "demo: out of memory");
    for (int i = 0; i < n && !rc; i++) {
        char path[4200];
        mmc_video_segments sg;
        if (mmc_embedder_video_file(e, clip_path(test, &test->samples[i], path, sizeof path), 0, 0, &sg, err)) rc = cli_error_from(err);
        else memcpy(emb + (size_t)i * E, sg.emb, sizeof(float) * (size_t)E);
        mmc_video_segments_free(&sg);
    }
    int g = -1;
    char text[8400];
    snprintf(text, sizeof text,
             "Text→video search (以文搜视频): a dual encoder trained for %lld steps matches captions with clips; the clip "
             "encoder stacks the %d frames as channels of one cnn, so it sees which way things move. Run folder: %s. Below, "
             "captions of test clips as queries and the clip ranked first among the %d test clips (green: the clip the "
             "caption was written for, or another clip with that very caption).",
             (long long)steps, T, run, n);
    if (!rc && (mmc_report_heading(d->report, "Video: text→video search, summaries, questions", err) ||
                mmc_report_text(d->report, text, err) || (g = mmc_report_gallery(d->report, "Text→video: the top clip", err)) < 0))
        rc = cli_error_from(err);
    if (!rc) printf("the top test clip for a few test captions:\n");
    for (int q = 0; q < DEMO_VIDEO_EXAMPLES && q < n && !rc; q++) {
        const mmc_sample *s = &test->samples[q * 3 % n];
        const char *query = s->n_captions > 2 ? s->captions[2] : s->n_captions ? s->captions[0] : "";
        float qe[1024];
        if (E > 1024 || mmc_embedder_texts(e, &query, 1, qe, err)) { rc = E > 1024 ? cli_error(3, "demo: embed_dim") : cli_error_from(err); break; }
        int best = 0;
        float bs = -2;
        for (int i = 0; i < n; i++) {
            float dot = 0;
            for (int k = 0; k < E; k++) dot += qe[k] * emb[(size_t)i * E + k];
            if (dot > bs) bs = dot, best = i;
        }
        /* right: the query's own clip, or another clip the query also describes word for word
         * (one of its own captions is the query: the short captions name only movers) */
        const mmc_sample *t = &test->samples[best];
        int own = best == q * 3 % n, also = 0;
        for (int c = 0; c < t->n_captions && !own; c++) also |= !strcmp(t->captions[c], query);
        int right = own || also;
        printf("  \"%s\" -> %s%s\n", query, t->id, own ? " (its clip)" : also ? " (another clip with this caption)" : "");
        char path[4200], ex[8400];
        snprintf(ex, sizeof ex, "query: %s\ntop clip: %s (cosine %.2f)%s", query, t->id, bs,
                 own ? "" : also ? "\nanother clip this caption describes" : "\nnot a clip this caption describes");
        if (strip_example(d, g, clip_path(test, &test->samples[best], path, sizeof path), S, T, ex, right ? 1 : -1, err))
            rc = cli_error_from(err);
    }
    mmc_free(emb);
    mmc_embedder_close(e);
    const char *series[1] = {"text->video"}, *dirs[1] = {run};
    if (!rc) rc = demo_chart_runs(d, "video retrieval: validation text→video R@1", "R@1", "val.text_to_video.R@1", 1, series, dirs);
    return rc;
}

/* A summary sentence per clip: BLEU on the test clips, then a few clips with theirs. */
static int caption(demo_ctx *d, const mmc_manifest *test, int64_t steps, int T, mmc_error *err) {
    char run[4200];
    demo_path(d, "video-caption", run, sizeof run);
    mmc_caption_config cfg = mmc_caption_config_default();
    snprintf(cfg.target, sizeof cfg.target, "video");
    cfg.video.frames = T;
    cfg.image_size = d->image_size;
    cfg.val_max_images = d->quick ? 8 : 100;
    if (d->quick) {
        TINY_CNN(cfg);
        cfg.hidden = 32, cfg.dec_layers = 1, cfg.dec_heads = 2, cfg.batch_size = 16;
    }
    printf("video captioner (video %s regions, %s decoder): %lld steps into %s\n", cfg.video.encoder, cfg.decoder, (long long)steps, run);
    fflush(stdout);
    int rc = demo_train(d, "caption", run, steps, train_cap, &cfg);
    if (rc) return rc;
    mmc_captioner *m = mmc_captioner_load(run, NULL, err);
    if (!m) return cli_error_from(err);
    mmc_caption_opts co = mmc_caption_opts_default(m);
    mmc_caption_metrics mt;
    if (mmc_captioner_evaluate(m, d->train_data, "test", &co, 0, &mt, err)) rc = cli_error_from(err);
    char model[128];
    snprintf(model, sizeof model, "video captioner, %lld steps, greedy", (long long)steps);
    if (!rc) {
        printf("test (%d clips, greedy): BLEU-4 %.3f CIDEr-D %.3f exact match %.3f\n", mt.n_images, mt.bleu[3], mt.cider_d,
               mt.exact_match);
        rc = demo_metric(d, "video captioning", model, "BLEU-4", "%.3f", mt.bleu[3]);
        if (!rc) rc = demo_metric(d, "video captioning", model, "CIDEr-D", "%.3f", mt.cider_d);
    }
    int g = -1;
    if (!rc && (g = mmc_report_gallery(d->report, "Video summaries of test clips", err)) < 0) rc = cli_error_from(err);
    if (!rc) printf("summaries of a few test clips:\n");
    for (int i = 0; i < DEMO_VIDEO_EXAMPLES && i < test->count && !rc; i++) {
        const mmc_sample *s = &test->samples[i];
        char path[4200], ex[4096];
        mmc_caption_result r = {0};
        if (mmc_captioner_caption_file(m, clip_path(test, s, path, sizeof path), &co, &r, err)) { rc = cli_error_from(err); break; }
        const char *cap = r.n > 0 ? r.hyps[0].text : "";
        printf("  %s  %s\n", s->id, cap);
        snprintf(ex, sizeof ex, "%s\nreference: %s", cap, s->n_captions ? s->captions[0] : "");
        if (strip_example(d, g, path, d->image_size, T, ex, 0, err)) rc = cli_error_from(err);
        mmc_caption_result_free(&r);
    }
    mmc_captioner_free(m);
    return rc;
}

/* Video QA: accuracy on the test questions (direction apart), then a few answers. */
static int vqa(demo_ctx *d, const mmc_manifest *test, int64_t steps, int T, mmc_error *err) {
    char run[4200];
    demo_path(d, "video-vqa", run, sizeof run);
    /* late fusion, as the image VQA stage: one cnn pass per clip for all its questions */
    mmc_vqa_config cfg = mmc_vqa_config_default("vqa", "late");
    snprintf(cfg.target, sizeof cfg.target, "video");
    cfg.video.frames = T;
    cfg.image_size = d->image_size;
    if (d->quick) {
        TINY_CNN(cfg);
        cfg.image_dim = 32, cfg.text.word_dim = 16, cfg.text.text_hidden = 32, cfg.fuse_dim = 32, cfg.hidden = 32, cfg.batch_images = 8;
    }
    printf("video QA (frames stacked as cnn channels, fusion %s): %lld steps into %s\n", cfg.fusion, (long long)steps, run);
    fflush(stdout);
    int rc = demo_train(d, "vqa", run, steps, train_vqa, &cfg);
    if (rc) return rc;
    mmc_vqa *m = mmc_vqa_load(run, NULL, err);
    if (!m) return cli_error_from(err);
    mmc_vqa_metrics mt;
    if (mmc_vqa_evaluate(m, d->train_data, "test", 0, &mt, err)) rc = cli_error_from(err);
    char model[128];
    snprintf(model, sizeof model, "video QA, fusion %s, %lld steps", cfg.fusion, (long long)steps);
    if (!rc) {
        printf("test (%d questions): accuracy %.3f;", mt.n, mt.accuracy);
        for (int t = 0; t < mt.n_types; t++) printf(" %s %.3f", mt.types[t].name, mt.types[t].accuracy);
        printf("\n");
        rc = demo_metric(d, "video QA", model, "accuracy (all questions)", "%.3f", mt.accuracy);
        for (int t = 0; t < mt.n_types && !rc; t++)
            if (!strcmp(mt.types[t].name, "direction"))
                rc = demo_metric(d, "video QA", model, "accuracy: direction questions", "%.3f (n = %d)", mt.types[t].accuracy, mt.types[t].n);
    }
    int g = -1;
    if (!rc && (g = mmc_report_gallery(d->report, "Answers about test clips", err)) < 0) rc = cli_error_from(err);
    if (!rc) printf("answers about a few test clips:\n");
    for (int i = 0, shown = 0; i < test->count && shown < DEMO_VIDEO_EXAMPLES && !rc; i++) {
        const mmc_sample *s = &test->samples[i];
        if (s->n_qa <= 0) continue;
        const mmc_qa *qa = &s->qa[shown % s->n_qa];
        char path[4200], ex[4096];
        int top = -1;
        float prob = 0;
        if (mmc_vqa_answer_file(m, clip_path(test, s, path, sizeof path), qa->question, 1, &top, &prob, err)) {
            rc = cli_error_from(err);
            break;
        }
        const char *ans = mmc_vqa_class(m, top);
        int right = ans && !strcmp(ans, qa->answer);
        printf("  %s  %s -> %s (p %.2f; truth: %s)\n", s->id, qa->question, ans ? ans : "?", prob, qa->answer);
        snprintf(ex, sizeof ex, "Q: %s\nA: %s (p %.2f)\ntruth: %s", qa->question, ans ? ans : "?", prob, qa->answer);
        if (strip_example(d, g, path, d->image_size, T, ex, right ? 1 : -1, err)) rc = cli_error_from(err);
        shown++;
    }
    mmc_vqa_free(m);
    return rc;
}

int demo_stage_video(demo_ctx *d) {
    static const char *splits[3] = {"train", "val", "test"};
    int n[3] = {d->quick ? 64 : 3000, d->quick ? 8 : 100, d->quick ? 16 : 100}, T = d->quick ? 4 : DEMO_VIDEO_FRAMES;
    char data[4200];
    demo_path(d, "vdata", data, sizeof data);
    mmc_error err = {0};
    printf("generating %d / %d / %d moving-shapes clips of %d frames at %d px (FFV1 video files) into %s\n", n[0], n[1], n[2], T,
           d->image_size, data);
    fflush(stdout);
    for (int i = 0; i < 3; i++)
        if (mmc_shapes_write_video_split(data, splits[i], n[i], d->data_seed, d->image_size, T, 8, NULL, NULL, &err))
            return cli_error_from(&err);
    if (*d->interrupt) return 0;
    mmc_manifest *test = mmc_manifest_load(data, "test", &err);
    if (!test) return cli_error_from(&err);
    d->train_data = data;
    int64_t q = d->steps > 0 ? d->steps : DEMO_VIDEO_QUICK_STEPS;
    int rc = retrieval(d, test, d->quick || d->steps > 0 ? q : DEMO_VRET_STEPS, T, &err);
    if (!rc && !*d->interrupt) rc = caption(d, test, d->quick || d->steps > 0 ? q : DEMO_VCAP_STEPS, T, &err);
    if (!rc && !*d->interrupt) rc = vqa(d, test, d->quick || d->steps > 0 ? q : DEMO_VQA_STEPS, T, &err);
    d->train_data = NULL;
    mmc_manifest_free(test);
    fflush(stdout);
    return rc;
}
