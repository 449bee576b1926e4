/* test_video.c — video decoding checked against the ffmpeg tool, on clips the tool makes
 * here at test time (several codecs, containers, odd sizes, frame rates, a variable frame
 * rate, rotation metadata): frame count, size and timestamps must be what ffprobe reports,
 * and pixels what `ffmpeg -f rawvideo -pix_fmt rgb24` decodes (exact for lossless FFV1,
 * within a small mean difference for the lossy codecs, whose decoders may differ in the
 * last bit of chroma upsampling). Also: sampling by count and by fps, the FFV1 writer
 * (frames come back exactly, and the ffmpeg tool reads the same), with a FLAC sound track
 * (mmc_video_decode_sound and ffmpeg read it back), and hostile files
 * (truncated, corrupted, audio only, no frames, not a video) refused as MMC_ERR_INPUT
 * naming the file. Tests skip when the ffmpeg tool is missing (scripts/install-deps.sh
 * installs it). */
#include "test.h"
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int have_ffmpeg(void) {
    return system("ffmpeg -version >/dev/null 2>&1") == 0 && system("ffprobe -version >/dev/null 2>&1") == 0;
}

/* Runs a shell command; 1 if it exited 0. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc == 0;
}

/* The whole stdout of a command (malloc'd), its length in *n; NULL on failure. */
static uint8_t *slurp_cmd(const char *cmd, size_t *n) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, p)) > 0) {
        len += got;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    int rc = pclose(p);
    if (rc != 0 || !buf) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

typedef struct clip {
    const char *file;  /* in the temp folder */
    const char *make;  /* ffmpeg arguments after the input; %s = output path */
    const char *input; /* lavfi source */
    double tol;        /* mean |mmc - ffmpeg| per byte allowed */
    int detect;        /* 1: flipped bytes in its frames must be caught; 0: the codec has no
                        * check that catches all (MJPEG, FFV1 version 1: no CRCs), or the
                        * flipped bytes land in the audio, which is not decoded */
} clip;

#define SRC(sz, rate, dur) "-f lavfi -i testsrc=size=" sz ":rate=" rate ":duration=" dur
static const clip CLIPS[] = {
    {"h264.mp4", "-c:v libx264 -pix_fmt yuv420p -threads 1", SRC("64x48", "25", "1"), 1.0, 1},
    {"odd-h264.mp4", "-c:v libx264 -pix_fmt yuv444p -threads 1", SRC("33x17", "30", "0.5"), 1.0, 1},
    /* tiny: most of its bytes are x264's settings text (an SEI message), which no check covers */
    {"tiny-h264.mp4", "-c:v libx264 -pix_fmt yuv420p -threads 1", SRC("8x8", "5", "0.4"), 1.0, 0},
    {"vp9.webm", "-c:v libvpx-vp9 -threads 1", SRC("33x17", "10", "1"), 1.0, 1},
    {"mpeg4.avi", "-c:v mpeg4", SRC("48x32", "30", "0.5"), 1.0, 1},
    {"mjpeg.avi", "-c:v mjpeg", SRC("40x30", "10", "1"), 1.0, 0},
    {"ffv1.mkv", "-c:v ffv1 -level 3", SRC("33x17", "25", "1"), 0.0, 1},
    {"ffv1-rgb.mkv", "-c:v ffv1 -level 3 -pix_fmt bgr0", SRC("31x19", "10", "1"), 0.0, 1},
    /* variable frame rate: frames 0.12 s apart, then 0.04 s (in the source's 1/25 s ticks) */
    {"vfr.mkv", "-vf setpts='if(lt(N\\,5)\\,N*3\\,15+(N-5))' -fps_mode passthrough -c:v ffv1",
     SRC("32x24", "25", "0.6"), 0.0, 0},
    /* with audio: FFV1 + PCM in MKV; H.264 + AAC in MP4 with the audio twice as long as the video
     * (the file lasts longer than its video: not truncation) */
    {"av.mkv", "-c:v ffv1 -level 3 -c:a pcm_s16le -shortest", SRC("24x16", "10", "1") " -f lavfi -i sine=duration=1", 0.0, 0},
    {"av-long-audio.mp4", "-c:v libx264 -pix_fmt yuv420p -threads 1 -c:a aac", SRC("32x24", "25", "0.5") " -f lavfi -i sine=duration=1", 1.0, 0},
};
#define N_CLIPS ((int)(sizeof CLIPS / sizeof *CLIPS))

static int make_clip(const char *dir, const clip *c) {
    return sh("ffmpeg -nostdin -v error -y %s %s '%s/%s'", c->input, c->make, dir, c->file);
}

/* Timestamps and sizes ffprobe reports for the video frames of path. */
static int probe(const char *path, double *t, int max, int *w, int *h) {
    char cmd[4300];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time,width,height "
             "-of csv=p=0 '%s'",
             path);
    size_t n = 0;
    char *out = (char *)slurp_cmd(cmd, &n);
    if (!out) return -1;
    out = realloc(out, n + 1);
    out[n] = 0;
    int k = 0;
    for (char *line = strtok(out, "\n"); line && k < max; line = strtok(NULL, "\n")) {
        /* ffprobe prints best_effort_timestamp_time,width,height */
        if (sscanf(line, "%lf,%d,%d", &t[k], w, h) == 3) k++;
    }
    free(out);
    return k;
}

/* ffmpeg's own RGB decode (autorotate on, as players do). */
static uint8_t *ffmpeg_rgb(const char *path, size_t *n) {
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f rawvideo -pix_fmt rgb24 -fps_mode passthrough -", path);
    return slurp_cmd(cmd, n);
}

static int tmpdir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/mmc-video-XXXXXX");
    return mkdtemp(dir) != NULL;
}

/* Decodes every frame of path with mmc and compares with ffprobe and ffmpeg. */
static void compare_with_ffmpeg(const char *path, double tol) {
    mmc_video v;
    mmc_error err = {0};
    REQUIRE(mmc_video_load(&v, path, NULL, &err) == MMC_OK, "%s: %s", path, err.msg);
    double t[512];
    int w = 0, h = 0;
    int nf = probe(path, t, 512, &w, &h);
    CHECK(nf == v.n && nf == v.info.decoded, "%s: ffprobe says %d frames, mmc decodes %d", path, nf, v.n);
    int rot = v.info.rotation % 180 != 0;
    CHECK(v.info.w == w && v.info.h == h, "%s: ffprobe says %dx%d, mmc %dx%d", path, w, h, v.info.w, v.info.h);
    for (int i = 0; i < nf && i < v.n; i++) {
        CHECK(fabs(v.t[i] - t[i]) < 1e-6, "%s frame %d: t %.6f, ffprobe %.6f", path, i, v.t[i], t[i]);
        CHECK(v.frames[i].w == (rot ? h : w) && v.frames[i].h == (rot ? w : h), "%s frame %d: %dx%d", path, i,
              v.frames[i].w, v.frames[i].h);
    }
    size_t n = 0;
    uint8_t *ref = ffmpeg_rgb(path, &n);
    size_t fb = (size_t)v.frames[0].w * v.frames[0].h * 3;
    if (!ref || n != fb * (size_t)v.n) {
        CHECK(0, "%s: ffmpeg decoded %zu bytes, mmc %zu", path, n, fb * (size_t)v.n);
    } else {
        double sum = 0;
        int maxd = 0;
        for (int i = 0; i < v.n; i++)
            for (size_t k = 0; k < fb; k++) {
                int d = abs((int)v.frames[i].data[k] - (int)ref[(size_t)i * fb + k]);
                sum += d;
                if (d > maxd) maxd = d;
            }
        double mean = sum / (double)n;
        CHECK(mean <= tol, "%s: mean |mmc - ffmpeg| = %.4f (max %d), allowed %.4f", path, mean, maxd, tol);
        if (tol == 0) CHECK(maxd == 0, "%s: lossless clip differs from ffmpeg by up to %d", path, maxd);
        printf("  %-14s %s/%s %dx%d rot %d, %d frames, %.3f s, mean diff %.4f (max %d)\n", strrchr(path, '/') + 1,
               v.info.container, v.info.codec, v.frames[0].w, v.frames[0].h, v.info.rotation, v.n, v.info.duration, mean,
               maxd);
    }
    free(ref);
    mmc_video_free(&v);
}

TEST(video_decode_matches_ffmpeg) {
    if (!have_ffmpeg()) SKIP("the ffmpeg tool is not installed (scripts/install-deps.sh)");
    char dir[64], path[256];
    REQUIRE(tmpdir(dir, sizeof dir), "mkdtemp");
    for (int c = 0; c < N_CLIPS; c++) {
        if (!make_clip(dir, &CLIPS[c])) {
            CHECK(0, "ffmpeg could not make %s", CLIPS[c].file);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, CLIPS[c].file);
        compare_with_ffmpeg(path, CLIPS[c].tol);
    }
    /* rotation metadata (display matrix) on a stream copy: frames come out turned, as
     * ffmpeg's autorotate shows them; 90 and 270 swap width and height */
    snprintf(path, sizeof path, "%s/%s", dir, "h264.mp4");
    for (int deg = 90; deg < 360; deg += 90) {
        char rp[256];
        snprintf(rp, sizeof rp, "%s/rot%d.mp4", dir, deg);
        if (!sh("ffmpeg -nostdin -v error -y -i '%s' -c copy -metadata:s:v:0 rotate=%d '%s'", path, deg, rp)) continue;
        compare_with_ffmpeg(rp, 1.0);
        mmc_video v;
        mmc_error err = {0};
        REQUIRE(mmc_video_load(&v, rp, NULL, &err) == MMC_OK, "%s", err.msg);
        CHECK(v.info.rotation == 360 - deg, "rotate=%d metadata: mmc turns by %d clockwise", deg, v.info.rotation);
        mmc_video_free(&v);
    }
    test_rm_tmpdir(dir);
}

/* Sampling picks the frame shown at each time: checked against the every-frame decode. */
TEST(video_sampling) {
    if (!have_ffmpeg()) SKIP("the ffmpeg tool is not installed (scripts/install-deps.sh)");
    char dir[64], path[256];
    REQUIRE(tmpdir(dir, sizeof dir), "mkdtemp");
    const clip *cl[2] = {NULL, NULL}; /* 25 fps ffv1, variable frame rate */
    for (int c = 0; c < N_CLIPS; c++) {
        if (!strcmp(CLIPS[c].file, "ffv1.mkv")) cl[0] = &CLIPS[c];
        if (!strcmp(CLIPS[c].file, "vfr.mkv")) cl[1] = &CLIPS[c];
    }
    REQUIRE(cl[0] && cl[1], "clips");
    for (int c = 0; c < 2; c++) {
        REQUIRE(make_clip(dir, cl[c]), "ffmpeg");
        snprintf(path, sizeof path, "%s/%s", dir, cl[c]->file);
        mmc_video all, s;
        mmc_error err = {0};
        REQUIRE(mmc_video_load(&all, path, NULL, &err) == MMC_OK, "%s", err.msg);
        double D = all.info.duration, t0 = all.info.start;
        for (int mode = 0; mode < 5; mode++) {
            mmc_video_opts o = mmc_video_opts_default();
            if (mode < 3) o.frames = (int[]){1, 5, 40}[mode];
            else o.fps = (double[]){5.0, 7.3}[mode - 3];
            REQUIRE(mmc_video_load(&s, path, &o, &err) == MMC_OK, "%s", err.msg);
            int want = o.frames ? o.frames : (int)ceil(D * o.fps - 1e-9);
            CHECK(s.n == want, "%s: %d frames sampled, want %d", path, s.n, want);
            for (int i = 0; i < s.n; i++) {
                double x = o.frames ? t0 + (i + 0.5) * D / o.frames : t0 + i / o.fps;
                int j = 0; /* the frame shown at x: the last one starting at or before it (within half
                            * a tick of Matroska's millisecond clock) */
                while (j + 1 < all.n && all.t[j + 1] <= x + 5e-4) j++;
                CHECK(s.t[i] == all.t[j], "%s mode %d frame %d: t %.4f, want %.4f", path, mode, i, s.t[i], all.t[j]);
                CHECK(!memcmp(s.frames[i].data, all.frames[j].data, (size_t)all.frames[j].w * all.frames[j].h * 3),
                      "%s mode %d frame %d: pixels are not those of frame %d", path, mode, i, j);
                if (i) CHECK(s.t[i] >= s.t[i - 1], "times go backwards");
            }
            mmc_video_free(&s);
        }
        /* resized as the image loader resizes */
        mmc_video_opts o = mmc_video_opts_default();
        o.frames = 3, o.size = 16;
        REQUIRE(mmc_video_load(&s, path, &o, &err) == MMC_OK, "%s", err.msg);
        for (int i = 0; i < 3; i++) {
            mmc_image want, tmp;
            int j = 0;
            while (j + 1 < all.n && all.t[j + 1] <= t0 + (i + 0.5) * D / 3 + 5e-4) j++;
            int w, h; /* the image loader's geometry: short side to 16, then the centre square */
            mmc_image_shortest_edge_size(all.frames[j].w, all.frames[j].h, 16, &w, &h);
            REQUIRE(mmc_image_resize(&all.frames[j], &tmp, w, h, MMC_RESAMPLE_BILINEAR, &err) == MMC_OK, "%s", err.msg);
            REQUIRE(mmc_image_center_crop(&tmp, &want, 16, 16, &err) == MMC_OK, "%s", err.msg);
            CHECK(s.frames[i].w == 16 && s.frames[i].h == 16 && !memcmp(s.frames[i].data, want.data, 16 * 16 * 3),
                  "resized frame %d differs from the loader's resize + centre crop of the source frame", i);
            mmc_image_free(&want);
            mmc_image_free(&tmp);
        }
        /* as one (T, 3, 16, 16) array: each frame as mmc_image_to_chw makes it */
        float *chw = malloc(sizeof(float) * 3 * 3 * 16 * 16), one[3 * 16 * 16];
        const float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.2f, 0.25f, 0.3f};
        REQUIRE(mmc_video_to_chw(&s, chw, 1.0 / 255, mean, std, &err) == MMC_OK, "%s", err.msg);
        for (int i = 0; i < 3; i++) {
            mmc_image_to_chw(&s.frames[i], one, 1.0 / 255, mean, std);
            CHECK(!memcmp(one, chw + i * 3 * 16 * 16, sizeof one), "video_to_chw frame %d", i);
        }
        free(chw);
        mmc_video_free(&s);
        mmc_video_free(&all);
    }
    /* the variable-frame-rate clip: 0.12 s gaps, then 0.04 s, from the stream's timestamps */
    snprintf(path, sizeof path, "%s/vfr.mkv", dir);
    mmc_video v;
    mmc_error err = {0};
    REQUIRE(mmc_video_load(&v, path, NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(v.n >= 8, "vfr: %d frames", v.n);
    CHECK(fabs(v.t[1] - v.t[0] - 0.12) < 1e-3 && fabs(v.t[7] - v.t[6] - 0.04) < 1e-3, "vfr gaps %.3f, %.3f",
          v.t[1] - v.t[0], v.t[7] - v.t[6]);
    mmc_video_free(&v);
    test_rm_tmpdir(dir);
}

/* Random frames (odd size) through the FFV1/Matroska writer: exact round trip, the same
 * bytes twice, and the ffmpeg tool reads the same pixels and timestamps. */
TEST(video_write_roundtrip_exact) {
    const int n = 5, w = 37, h = 21, fps = 12;
    size_t fb = (size_t)w * h * 3;
    uint8_t *rgb = malloc(fb * n);
    mmc_rng rng;
    mmc_rng_seed(&rng, 5, 0);
    for (size_t i = 0; i < fb * n; i++) rgb[i] = (uint8_t)mmc_rng_below(&rng, 256);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    mmc_error err = {0};
    REQUIRE(mmc_video_encode_mkv(rgb, n, w, h, fps, &a, &na, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_video_encode_mkv(rgb, n, w, h, fps, &b, &nb, &err) == MMC_OK, "%s", err.msg);
    CHECK(na == nb && !memcmp(a, b, na), "the writer is not deterministic (%zu vs %zu bytes)", na, nb);
    mmc_video v;
    REQUIRE(mmc_video_decode(&v, a, na, "mem.mkv", NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(v.n == n, "%d frames back, wrote %d", v.n, n);
    CHECK(!strcmp(v.info.codec, "ffv1") && strstr(v.info.container, "matroska"), "%s/%s", v.info.container, v.info.codec);
    for (int i = 0; i < n; i++) {
        CHECK(v.frames[i].w == w && v.frames[i].h == h && !memcmp(v.frames[i].data, rgb + i * fb, fb),
              "frame %d does not come back exactly", i);
        CHECK(fabs(v.t[i] - (double)i / fps) < 1e-3, "frame %d at %.4f s, want %.4f", i, v.t[i], (double)i / fps);
    }
    CHECK(fabs(v.info.duration - (double)n / fps) < 2e-3, "duration %.4f, want %.4f", v.info.duration, (double)n / fps);
    mmc_video_free(&v);
    if (have_ffmpeg()) {
        char dir[64], path[256];
        REQUIRE(tmpdir(dir, sizeof dir), "mkdtemp");
        snprintf(path, sizeof path, "%s/w.mkv", dir);
        REQUIRE(mmc_video_write_mkv(path, rgb, n, w, h, fps, &err) == MMC_OK, "%s", err.msg);
        size_t nr = 0;
        uint8_t *ref = ffmpeg_rgb(path, &nr);
        CHECK(ref && nr == fb * n && !memcmp(ref, rgb, fb * n), "ffmpeg reads other pixels from our file (%zu bytes)", nr);
        free(ref);
        double t[16];
        int pw = 0, ph = 0;
        CHECK(probe(path, t, 16, &pw, &ph) == n && pw == w && ph == h, "ffprobe disagrees about our file");
        test_rm_tmpdir(dir);
    }
    mmc_free(a);
    mmc_free(b);
    free(rgb);
}

/* A clip with a sound track through mmc_video_encode_mkv_sound: the sound comes back from
 * mmc_video_decode_sound within the 16-bit rounding, the frames decode exactly as from the
 * same clip without sound, the bytes are the same twice, the sound-less path is the old
 * writer's, and the ffmpeg tool sees a mono FLAC stream holding the same samples. */
TEST(video_write_sound) {
    const int n = 8, w = 32, h = 32, fps = 8, rate = 16000;
    const int64_t ns = rate; /* 1 s: as long as the frames */
    size_t fb = (size_t)w * h * 3;
    uint8_t *rgb = malloc(fb * n);
    float *snd = malloc(sizeof(float) * (size_t)ns);
    REQUIRE(rgb && snd, "malloc");
    mmc_rng rng;
    mmc_rng_seed(&rng, 9, 0);
    for (size_t i = 0; i < fb * n; i++) rgb[i] = (uint8_t)mmc_rng_below(&rng, 256);
    for (int64_t i = 0; i < ns; i++) snd[i] = (float)(0.9 * sin(2 * 3.14159265358979323846 * 440.0 * (double)i / rate));
    snd[100] = 1.0f, snd[101] = -1.0f, snd[102] = 1.7f, snd[103] = -3.0f; /* full scale, and clipped */
    uint8_t *a = NULL, *b = NULL, *plain = NULL, *plain2 = NULL;
    size_t na = 0, nb = 0, np = 0, np2 = 0;
    mmc_error err = {0};
    REQUIRE(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, ns, rate, &a, &na, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, ns, rate, &b, &nb, &err) == MMC_OK, "%s", err.msg);
    CHECK(na == nb && !memcmp(a, b, na), "the writer with sound is not deterministic (%zu vs %zu bytes)", na, nb);
    REQUIRE(mmc_video_encode_mkv(rgb, n, w, h, fps, &plain, &np, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, NULL, 0, 0, &plain2, &np2, &err) == MMC_OK, "%s", err.msg);
    CHECK(np == np2 && !memcmp(plain, plain2, np), "sound NULL writes other bytes than mmc_video_encode_mkv");
    CHECK(na > np, "the sound track added no bytes (%zu vs %zu)", na, np);
    /* the sound, back */
    mmc_audio au;
    REQUIRE(mmc_video_decode_sound(&au, a, na, "mem.mkv", 0, &err) == MMC_OK, "%s", err.msg);
    CHECK(au.n == ns && au.rate == rate && au.info.rate == rate && au.info.channels == 1 && au.info.frames == ns,
          "%lld samples at %d Hz (%d channels), wrote %lld at %d", (long long)au.n, au.rate, au.info.channels, (long long)ns, rate);
    CHECK(!strcmp(au.info.format, "MATROSKA") && !strcmp(au.info.subtype, "FLAC"), "%s %s", au.info.format, au.info.subtype);
    CHECK(fabs(au.info.duration - 1.0) < 1e-9, "duration %.6f", au.info.duration);
    double worst = 0;
    for (int64_t i = 0; i < ns && i < au.n; i++) {
        double x = snd[i] > 1 ? 1 : snd[i] < -1 ? -1 : snd[i];
        if (fabs(au.samples[i] - x) > worst) worst = fabs(au.samples[i] - x);
    }
    CHECK(worst <= 1.0 / 32767 + 1e-6, "the sound comes back %.3g off (16-bit rounding allows %.3g)", worst, 1.0 / 32767);
    printf("  sound round trip: %lld samples, max |diff| %.3g (1/32768 = %.3g)\n", (long long)au.n, worst, 1.0 / 32768);
    /* through the sound-file loader: the same samples, and resampled when asked */
    mmc_audio au2, au8;
    REQUIRE(mmc_audio_decode(&au2, a, na, "mem.mkv", 0, &err) == MMC_OK, "%s", err.msg);
    CHECK(au2.n == au.n && !memcmp(au2.samples, au.samples, sizeof(float) * (size_t)au.n), "mmc_audio_decode reads other samples");
    REQUIRE(mmc_audio_decode(&au8, a, na, "mem.mkv", 8000, &err) == MMC_OK, "%s", err.msg);
    CHECK(au8.rate == 8000 && llabs(au8.n - 8000) <= 1 && au8.info.rate == rate, "at 8 kHz: %lld samples at %d Hz", (long long)au8.n,
          au8.rate);
    mmc_audio_free(&au2);
    mmc_audio_free(&au8);
    /* the frames: exactly as without sound */
    mmc_video v, vp;
    REQUIRE(mmc_video_decode(&v, a, na, "mem.mkv", NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_video_decode(&vp, plain, np, "plain.mkv", NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(v.n == n && vp.n == n, "%d and %d frames, wrote %d", v.n, vp.n, n);
    for (int i = 0; i < n && i < v.n && i < vp.n; i++) {
        CHECK(!memcmp(v.frames[i].data, rgb + i * fb, fb) && !memcmp(vp.frames[i].data, rgb + i * fb, fb),
              "frame %d does not come back exactly", i);
        CHECK(v.t[i] == vp.t[i], "frame %d at %.4f s with sound, %.4f without", i, v.t[i], vp.t[i]);
    }
    CHECK(fabs(v.info.duration - vp.info.duration) < 1e-9, "duration %.4f with sound, %.4f without", v.info.duration,
          vp.info.duration);
    mmc_video_free(&v);
    mmc_video_free(&vp);
    /* no sound track */
    mmc_audio none;
    CHECK(mmc_video_decode_sound(&none, plain, np, "plain.mkv", 0, &err) == MMC_ERR_INPUT &&
              strstr(err.msg, "plain.mkv: no audio stream"),
          "a video without sound: %s", err.msg);
    /* bad arguments */
    uint8_t *o = NULL;
    size_t no = 0;
    CHECK(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, 0, rate, &o, &no, &err) == MMC_ERR_USAGE, "0 samples: %s", err.msg);
    CHECK(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, ns, 0, &o, &no, &err) == MMC_ERR_USAGE, "0 Hz: %s", err.msg);
    CHECK(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, ns, MMC_AUDIO_MAX_RATE + 1, &o, &no, &err) == MMC_ERR_USAGE,
          "too high a rate: %s", err.msg);
    CHECK(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, ns, 65535, &o, &no, &err) == MMC_ERR_USAGE,
          "a rate FLAC cannot code: %s", err.msg);
    CHECK(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, (int64_t)(1 * MMC_AUDIO_MAX_SECONDS) + 1, 1, &o, &no, &err) ==
              MMC_ERR_USAGE,
          "too long: %s", err.msg);
    float keep = snd[500];
    snd[500] = NAN;
    CHECK(mmc_video_encode_mkv_sound(rgb, n, w, h, fps, snd, ns, rate, &o, &no, &err) == MMC_ERR_USAGE && strstr(err.msg, "500"),
          "a NaN sample: %s", err.msg);
    snd[500] = keep;
    CHECK(!o && !no, "a refused clip left output");
    /* what the ffmpeg tool sees in the file mmc_video_write_mkv_sound writes */
    if (have_ffmpeg()) {
        char dir[64], path[256], cmd[600];
        REQUIRE(tmpdir(dir, sizeof dir), "mkdtemp");
        snprintf(path, sizeof path, "%s/s.mkv", dir);
        REQUIRE(mmc_video_write_mkv_sound(path, rgb, n, w, h, fps, snd, ns, rate, &err) == MMC_OK, "%s", err.msg);
        uint8_t *disk = NULL;
        size_t nd = 0;
        REQUIRE(mmc_read_file(path, 1 << 24, &disk, &nd, &err) == MMC_OK, "%s", err.msg);
        CHECK(nd == na && !memcmp(disk, a, na), "the file holds other bytes than the encoder gave");
        mmc_free(disk);
        snprintf(cmd, sizeof cmd,
                 "ffprobe -v error -select_streams a -show_entries stream=codec_name,sample_rate,channels,sample_fmt -of csv=p=0 '%s'",
                 path);
        size_t nq = 0;
        char *q = (char *)slurp_cmd(cmd, &nq);
        CHECK(q && nq >= 15 && !strncmp(q, "flac,s16,16000,1", 16), "ffprobe sees %.*s", q ? (int)nq : 0, q ? q : "");
        free(q);
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -map 0:a:0 -f f32le -", path);
        size_t nr = 0;
        float *ref = (float *)slurp_cmd(cmd, &nr);
        CHECK(ref && nr == sizeof(float) * (size_t)au.n && !memcmp(ref, au.samples, nr), "ffmpeg decodes other samples (%zu bytes)",
              nr);
        free(ref);
        size_t nf = 0;
        uint8_t *frames = ffmpeg_rgb(path, &nf);
        CHECK(frames && nf == fb * n && !memcmp(frames, rgb, fb * n), "ffmpeg reads other pixels from our file (%zu bytes)", nf);
        free(frames);
        test_rm_tmpdir(dir);
    }
    mmc_audio_free(&au);
    mmc_free(a), mmc_free(b), mmc_free(plain), mmc_free(plain2);
    free(rgb), free(snd);
}

static void expect_bad(const char *path, const char *what) {
    mmc_video v;
    mmc_error err = {0};
    int rc = mmc_video_load(&v, path, NULL, &err);
    CHECK(rc == MMC_ERR_INPUT, "%s (%s): rc %d, want MMC_ERR_INPUT (%s)", path, what, rc, err.msg);
    CHECK(strstr(err.msg, path) != NULL, "%s (%s): message does not name the file: %s", path, what, err.msg);
    if (rc == MMC_ERR_INPUT) printf("  %-22s %-26s %s\n", strrchr(path, '/') + 1, what, err.msg + strlen(path) + 2);
    mmc_video_free(&v);
}

static int write_bytes(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Truncated (cut in half) and corrupted (bytes flipped in the middle) copies of every
 * clip, an audio-only file, a video stream with no frames, an empty file, text. */
TEST(video_bad_files) {
    if (!have_ffmpeg()) SKIP("the ffmpeg tool is not installed (scripts/install-deps.sh)");
    char dir[64], path[256], bad[300];
    REQUIRE(tmpdir(dir, sizeof dir), "mkdtemp");
    for (int c = 0; c < N_CLIPS; c++) {
        REQUIRE(make_clip(dir, &CLIPS[c]), "ffmpeg");
        snprintf(path, sizeof path, "%s/%s", dir, CLIPS[c].file);
        uint8_t *buf = NULL;
        size_t n = 0;
        mmc_error err = {0};
        REQUIRE(mmc_read_file(path, 1 << 24, &buf, &n, &err) == MMC_OK, "%s", err.msg);
        snprintf(bad, sizeof bad, "%s/half-%s", dir, CLIPS[c].file);
        REQUIRE(write_bytes(bad, buf, n / 2), "write");
        expect_bad(bad, "cut in half");
        /* flip 64 bytes at 60% of the file: inside the coded frames of every clip here */
        for (size_t k = n * 6 / 10; k < n * 6 / 10 + 64 && k < n; k++) buf[k] ^= 0xA5;
        snprintf(bad, sizeof bad, "%s/flipped-%s", dir, CLIPS[c].file);
        REQUIRE(write_bytes(bad, buf, n), "write");
        if (CLIPS[c].detect) expect_bad(bad, "bytes flipped");
        else { /* no check in the codec: refused, or decoded to the same number of frames */
            mmc_video v;
            int rc = mmc_video_load(&v, bad, NULL, &err);
            CHECK(rc == MMC_ERR_INPUT ? strstr(err.msg, bad) != NULL : rc == MMC_OK && v.n > 0, "%s: rc %d %s", bad, rc, err.msg);
            printf("  %-22s %-26s %s\n", strrchr(bad, '/') + 1, "bytes flipped (no CRC)", rc ? err.msg + strlen(bad) + 2 : "decodes (the codec cannot tell)");
            mmc_video_free(&v);
        }
        mmc_free(buf);
    }
    snprintf(path, sizeof path, "%s/audio.mka", dir);
    REQUIRE(sh("ffmpeg -nostdin -v error -y -f lavfi -i sine=duration=0.5 '%s'", path), "ffmpeg");
    expect_bad(path, "audio only");
    snprintf(path, sizeof path, "%s/zero.mkv", dir);
    (void)sh("ffmpeg -nostdin -v error -y " SRC("32x24", "10", "1") " -frames:v 0 -c:v ffv1 '%s'", path);
    struct stat st;
    if (stat(path, &st) == 0) expect_bad(path, "no frames");
    /* a video stream with no frames: our own FFV1 clip cut just before its first Cluster
     * element (EBML id 1F 43 B6 75), so the header and track survive and no block does */
    {
        uint8_t rgb[8 * 8 * 3 * 2] = {0}, *mkv = NULL;
        size_t n = 0, cut = 0;
        mmc_error err = {0};
        REQUIRE(mmc_video_encode_mkv(rgb, 2, 8, 8, 5, &mkv, &n, &err) == MMC_OK, "%s", err.msg);
        for (size_t k = 0; k + 4 <= n && !cut; k++)
            if (mkv[k] == 0x1F && mkv[k + 1] == 0x43 && mkv[k + 2] == 0xB6 && mkv[k + 3] == 0x75) cut = k;
        REQUIRE(cut > 0, "no Cluster in our Matroska file");
        snprintf(path, sizeof path, "%s/noframes.mkv", dir);
        REQUIRE(write_bytes(path, mkv, cut), "write");
        mmc_video v;
        /* libavformat refuses it already at the header (the segment ends early); the cut VP9
         * clip above is the one that reaches "no frames" */
        CHECK(mmc_video_load(&v, path, NULL, &err) == MMC_ERR_INPUT && strstr(err.msg, path),
              "a video track without frames: %s", err.msg);
        printf("  %-22s %-26s %s\n", "noframes.mkv", "header only, no blocks", err.msg + strlen(path) + 2);
        mmc_free(mkv);
    }
    snprintf(path, sizeof path, "%s/empty.mp4", dir);
    REQUIRE(write_bytes(path, (const uint8_t *)"", 0), "write");
    expect_bad(path, "empty");
    snprintf(path, sizeof path, "%s/text.avi", dir);
    REQUIRE(write_bytes(path, (const uint8_t *)"RIFF....AVI LIST hello", 22), "write");
    expect_bad(path, "not a video");
    mmc_video v;
    mmc_error err = {0};
    snprintf(path, sizeof path, "%s/missing.mp4", dir);
    CHECK(mmc_video_load(&v, path, NULL, &err) != MMC_OK && strstr(err.msg, path), "a missing file: %s", err.msg);
    test_rm_tmpdir(dir);
}
