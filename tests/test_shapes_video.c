/* test_shapes_video.c — the moving-shapes world: frame order matters (a clip played
 * backwards renders exactly reversed and needs other captions), written files decode back
 * to exactly the generated frames, answers are balanced per question type, first captions
 * single clips out, and clips are deterministic. */
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

#define N_CHECK 400

static int first_caption_differs(const mmc_sample *a, const mmc_sample *b) {
    return strcmp(a->captions[0], b->captions[0]) != 0 && strcmp(a->captions_zh[0], b->captions_zh[0]) != 0;
}

/* Rendering the reversed clip = the frames in reverse order, and its first captions (EN
 * and ZH) differ, for every clip of a sample of N_CHECK; reversing twice is the identity. */
TEST(shapes_video_reverse) {
    const int S = 32, T = 8;
    size_t fb = (size_t)S * S * 3;
    uint8_t *fwd = malloc(fb * T), *bwd = malloc(fb * T);
    mmc_error err = {0};
    int events = 0;
    for (int i = 0; i < N_CHECK; i++) {
        mmc_shapes_clip c, r;
        mmc_sample s, sr;
        REQUIRE(mmc_shapes_clip_make(3, "test", i, S, T, &c, fwd, &s, &err) == MMC_OK, "%s", err.msg);
        r = c;
        mmc_shapes_clip_reverse(&r);
        mmc_shapes_clip_render(&r, bwd);
        for (int f = 0; f < T; f++)
            CHECK(!memcmp(fwd + (size_t)f * fb, bwd + (size_t)(T - 1 - f) * fb, fb),
                  "clip %d: reversed frame %d is not frame %d", i, T - 1 - f, f);
        mmc_rng rng;
        mmc_rng_seed(&rng, 1, (uint64_t)i);
        memset(&sr, 0, sizeof sr);
        REQUIRE(mmc_shapes_clip_describe(&r, &rng, &sr) == MMC_OK, "describe");
        CHECK(first_caption_differs(&s, &sr), "clip %d: the reversed clip has the same caption: %s", i, s.captions[0]);
        mmc_shapes_clip rr = r;
        mmc_shapes_clip_reverse(&rr);
        CHECK(!memcmp(&rr, &c, sizeof c), "clip %d: reversing twice changes the clip", i);
        for (int k = 0; k < c.n; k++) events += c.obj[k].event != MMC_EVENT_STILL;
        /* every clip has an event, and the frames are not all the same */
        int moving = 0;
        for (int f = 1; f < T; f++) moving |= memcmp(fwd, fwd + (size_t)f * fb, fb) != 0;
        CHECK(moving, "clip %d: all frames are identical", i);
        mmc_sample_free(&s);
        mmc_sample_free(&sr);
    }
    CHECK(events >= N_CHECK, "%d events in %d clips", events, N_CHECK);
    free(fwd);
    free(bwd);
}

/* A written split: every video decodes to exactly the frames mmc_shapes_clip_make draws,
 * at i / fps; the PNG is the first frame; the manifest reads back with its files. */
TEST(shapes_video_files_exact) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-shvid-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    const int S = 24, T = 6, fps = 12, n = 12;
    mmc_error err = {0};
    REQUIRE(mmc_shapes_write_video_split(dir, "val", n, 5, S, T, fps, NULL, NULL, &err) == MMC_OK, "%s", err.msg);
    mmc_manifest *m = mmc_manifest_load(dir, "val", &err);
    REQUIRE(m && m->count == n, "%s", err.msg);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_OK, "%s", err.msg);
    size_t fb = (size_t)S * S * 3;
    uint8_t *rgb = malloc(fb * T);
    for (int i = 0; i < n; i++) {
        REQUIRE(mmc_shapes_clip_make(5, "val", i, S, T, NULL, rgb, NULL, &err) == MMC_OK, "%s", err.msg);
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, m->samples[i].video);
        mmc_video v;
        REQUIRE(mmc_video_load(&v, path, NULL, &err) == MMC_OK, "%s", err.msg);
        CHECK(v.n == T, "%s: %d frames", path, v.n);
        for (int f = 0; f < v.n && f < T; f++) {
            CHECK(v.frames[f].w == S && v.frames[f].h == S && !memcmp(v.frames[f].data, rgb + (size_t)f * fb, fb),
                  "%s frame %d differs from the drawn frame", path, f);
            CHECK(fabs(v.t[f] - (double)f / fps) < 1e-3, "%s frame %d at %.4f s", path, f, v.t[f]);
        }
        mmc_video_free(&v);
        mmc_image img;
        snprintf(path, sizeof path, "%s/%s", dir, m->samples[i].image);
        REQUIRE(mmc_image_load(&img, path, 3, &err) == MMC_OK, "%s", err.msg);
        CHECK(img.w == S && !memcmp(img.data, rgb, fb), "%s is not the first frame", path);
        mmc_image_free(&img);
    }
    /* sampling 3 of the 6 frames picks frames 1, 3, 5 (the ones shown at (i + 0.5) T / 3) */
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, m->samples[0].video);
    mmc_video_opts o = mmc_video_opts_default();
    o.frames = 3;
    mmc_video v;
    REQUIRE(mmc_shapes_clip_make(5, "val", 0, S, T, NULL, rgb, NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_video_load(&v, path, &o, &err) == MMC_OK, "%s", err.msg);
    for (int k = 0; k < 3; k++)
        CHECK(v.n == 3 && !memcmp(v.frames[k].data, rgb + (size_t)(2 * k + 1) * fb, fb), "sampled frame %d", k);
    mmc_video_free(&v);
    free(rgb);
    mmc_manifest_free(m);
    test_rm_tmpdir(dir);
}

/* The answers a blind model could exploit: per type, the most common answer's share stays
 * near 1 / (number of answers); and the first caption singles a clip out. */
TEST(shapes_video_balance) {
    const int n = 3000;
    mmc_sample *s = calloc(n, sizeof *s);
    mmc_error err = {0};
    for (int i = 0; i < n; i++)
        REQUIRE(mmc_shapes_clip_make(7, "test", i, 64, 8, NULL, NULL, &s[i], &err) == MMC_OK, "%s", err.msg);
    mmc_qa_type_stats st[16];
    int nt = mmc_qa_stats(s, n, st, 16);
    static const struct { const char *type; int answers; int min_count; } want[] = {
        {"count_moving", 3, 3000}, {"direction", 4, 1500}, {"appear", 48, 300},
        {"colour_change", 8, 200}, {"size_change", 2, 200},
    };
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        int t = 0;
        while (t < nt && strcmp(st[t].type, want[w].type)) t++;
        REQUIRE(t < nt, "no %s questions", want[w].type);
        double share = (double)st[t].majority_count / st[t].total, fair = 1.0 / want[w].answers;
        CHECK(st[t].total >= want[w].min_count, "%s: only %d questions", want[w].type, st[t].total);
        CHECK(share <= fair + 0.05, "%s: '%s' answers %.1f%% of %d (fair %.1f%%)", want[w].type, st[t].majority,
              100 * share, st[t].total, 100 * fair);
        CHECK(st[t].distinct >= (want[w].answers < 40 ? want[w].answers : 40), "%s: %d distinct answers", want[w].type,
              st[t].distinct);
    }
    double uniq = mmc_captions_unique_rate(s, 1000);
    CHECK(uniq >= 0.9, "first captions unique in %.1f%% of 1000 clips", 100 * uniq);
    /* captions say what happens in both languages; Chinese has no ASCII letters */
    for (int i = 0; i < 200; i++) {
        CHECK(s[i].n_captions == 3 && s[i].n_captions_zh == 3, "clip %d: captions", i);
        for (const char *p = s[i].captions_zh[0]; *p; p++) CHECK(!((*p | 32) >= 'a' && (*p | 32) <= 'z'), "ZH: %s", s[i].captions_zh[0]);
        CHECK(mmc_utf8_validate(s[i].captions_zh[0], strlen(s[i].captions_zh[0]), NULL) == MMC_OK, "UTF-8");
    }
    /* deterministic: the same clip twice, and another seed gives another clip */
    mmc_sample a, b;
    REQUIRE(mmc_shapes_clip_make(7, "test", 5, 64, 8, NULL, NULL, &a, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_shapes_clip_make(8, "test", 5, 64, 8, NULL, NULL, &b, &err) == MMC_OK, "%s", err.msg);
    char *ja = mmc_sample_to_json(&a), *j5 = mmc_sample_to_json(&s[5]), *jb = mmc_sample_to_json(&b);
    CHECK(ja && j5 && !strcmp(ja, j5), "clip 5 differs between two makes");
    CHECK(jb && strcmp(ja, jb), "seeds 7 and 8 give the same clip 5");
    mmc_free(ja), mmc_free(j5), mmc_free(jb);
    mmc_sample_free(&a), mmc_sample_free(&b);
    for (int i = 0; i < n; i++) mmc_sample_free(&s[i]);
    free(s);
    /* bad arguments */
    CHECK(mmc_shapes_clip_make(7, "test", 0, 64, 1, NULL, NULL, NULL, &err) == MMC_ERR_USAGE, "1 frame accepted");
    CHECK(mmc_shapes_clip_make(7, "te st", 0, 64, 8, NULL, NULL, NULL, &err) == MMC_ERR_USAGE, "bad split accepted");
    CHECK(mmc_shapes_clip_make(7, "test", 0, 8, 8, NULL, NULL, NULL, &err) == MMC_ERR_USAGE, "8 px accepted");
}

/* A blind model: for each question text, the answer most often given to it in 3,000
 * training clips (the type's majority for a text never seen). On 1,000 test clips it must
 * score no better than about chance per type, i.e. the question text must not give the
 * answer away. */
typedef struct qa_pair { const char *q, *a, *type; } qa_pair;

static int cmp_pair(const void *x, const void *y) {
    const qa_pair *a = x, *b = y;
    int c = strcmp(a->q, b->q);
    return c ? c : strcmp(a->a, b->a);
}

static int collect(mmc_sample *s, int n, qa_pair *out) {
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < s[i].n_qa; j++) out[k++] = (qa_pair){s[i].qa[j].question, s[i].qa[j].answer, s[i].qa[j].type};
    return k;
}

TEST(shapes_video_blind_baseline) {
    const int ntr = 3000, nte = 1000;
    mmc_sample *tr = calloc(ntr, sizeof *tr), *te = calloc(nte, sizeof *te);
    mmc_error err = {0};
    for (int i = 0; i < ntr; i++) REQUIRE(mmc_shapes_clip_make(7, "train", i, 64, 8, NULL, NULL, &tr[i], &err) == MMC_OK, "%s", err.msg);
    for (int i = 0; i < nte; i++) REQUIRE(mmc_shapes_clip_make(7, "test", i, 64, 8, NULL, NULL, &te[i], &err) == MMC_OK, "%s", err.msg);
    qa_pair *p = malloc(sizeof *p * (size_t)ntr * 8), *q = malloc(sizeof *q * (size_t)nte * 8);
    int np = collect(tr, ntr, p), nq = collect(te, nte, q);
    qsort(p, (size_t)np, sizeof *p, cmp_pair);
    /* per distinct question: its most frequent answer (runs of equal (q, a) in sorted order) */
    qa_pair *best = malloc(sizeof *best * (size_t)np);
    int nb = 0;
    for (int i = 0; i < np;) {
        int j = i, top = 0;
        const char *ans = NULL;
        while (j < np && !strcmp(p[j].q, p[i].q)) {
            int k = j;
            while (k < np && !strcmp(p[k].q, p[j].q) && !strcmp(p[k].a, p[j].a)) k++;
            if (k - j > top) top = k - j, ans = p[j].a;
            j = k;
        }
        best[nb++] = (qa_pair){p[i].q, ans, p[i].type};
        i = j;
    }
    static const struct { const char *type; double chance; } types[] = {
        {"count_moving", 1.0 / 3}, {"direction", 0.25}, {"appear", 1.0 / 48}, {"colour_change", 1.0 / 7}, {"size_change", 0.5},
    };
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        int asked = 0, right = 0;
        for (int i = 0; i < nq; i++) {
            if (strcmp(q[i].type, types[t].type)) continue;
            asked++;
            int lo = 0, hi = nb - 1, found = -1;
            while (lo <= hi) {
                int mid = (lo + hi) / 2, c = strcmp(best[mid].q, q[i].q);
                if (!c) { found = mid; break; }
                if (c < 0) lo = mid + 1; else hi = mid - 1;
            }
            right += found >= 0 && !strcmp(best[found].a, q[i].a);
        }
        double acc = asked ? (double)right / asked : 0;
        printf("  blind %-14s %4d questions, %5.1f%% right (chance %.1f%%)\n", types[t].type, asked, 100 * acc,
               100 * types[t].chance);
        CHECK(asked >= 50 && acc <= types[t].chance + 0.08, "%s: a blind model scores %.1f%% of %d (chance %.1f%%)",
              types[t].type, 100 * acc, asked, 100 * types[t].chance);
    }
    free(best), free(p), free(q);
    for (int i = 0; i < ntr; i++) mmc_sample_free(&tr[i]);
    for (int i = 0; i < nte; i++) mmc_sample_free(&te[i]);
    free(tr), free(te);
}
