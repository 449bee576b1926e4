/* audio.c — `mmc audio info FILE [--rate R] [--out F.f32] [--json]`: what mmc hears in a
 * sound file (docs/audio.md): the container, encoding, rate, channels, frames and duration
 * libsndfile reports, then the mono signal mmc makes of it (at R Hz when given, resampled
 * by libsoxr) — its length, peak and RMS level, and with --out the samples themselves as
 * raw little-endian float32 (what `sox FILE -t f32 -c 1 -` writes), so a test or a user can
 * compare them with another tool's. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int write_f32(const char *path, const float *x, int64_t n) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return cli_error(1, "audio: --out path too long");
    FILE *f = fopen(tmp, "wb");
    if (!f) return cli_error(3, "audio: cannot write %s", tmp);
    int ok = 1;
    for (int64_t i = 0; ok && i < n; i++) { /* little-endian whatever the host */
        uint32_t u;
        memcpy(&u, &x[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return cli_error(3, "audio: cannot write %s", path);
    }
    return 0;
}

static int cmd_audio_info(int argc, char **argv) {
    const char *file = NULL, *out = NULL;
    int json = 0, rate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--rate")) {
            if (!v || cli_parse_int(v, 1, MMC_AUDIO_MAX_RATE, &rate))
                return cli_error(1, "audio info: --rate needs an integer from 1 to %d (Hz)", MMC_AUDIO_MAX_RATE);
            i++;
        } else if (!strcmp(a, "--out")) {
            if (!v || !*v) return cli_error(1, "audio info: --out needs a file name");
            out = v, i++;
        } else if (a[0] == '-' && a[1]) return cli_error(1, "audio info: unknown option '%s' (see: mmc help audio)", a);
        else if (file) return cli_error(1, "audio info: one FILE at a time (got '%s' and '%s')", file, a);
        else file = a;
    }
    if (!file) return cli_error(1, "audio info: missing FILE (see: mmc help audio)");
    int rc = cli_check_utf8("audio info: the file name", file);
    if (rc) return rc;
    mmc_audio au;
    mmc_error err = {0};
    if (mmc_audio_load(&au, file, rate, &err)) return cli_error_from(&err);
    double peak = 0, ss = 0;
    for (int64_t i = 0; i < au.n; i++) {
        double v = au.samples[i];
        if (fabs(v) > peak) peak = fabs(v);
        ss += v * v;
    }
    double rms = au.n ? sqrt(ss / au.n) : 0;
    if (out && (rc = write_f32(out, au.samples, au.n))) {
        mmc_audio_free(&au);
        return rc;
    }
    const mmc_audio_info *in = &au.info;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", file);
        cJSON_AddStringToObject(o, "format", in->format);
        cJSON_AddStringToObject(o, "subtype", in->subtype);
        cJSON_AddNumberToObject(o, "rate", in->rate);
        cJSON_AddNumberToObject(o, "channels", in->channels);
        cJSON_AddNumberToObject(o, "frames", (double)in->frames);
        cJSON_AddNumberToObject(o, "duration", in->duration);
        cJSON_AddNumberToObject(o, "out_rate", au.rate);
        cJSON_AddNumberToObject(o, "out_samples", (double)au.n);
        cJSON_AddNumberToObject(o, "peak", peak);
        cJSON_AddNumberToObject(o, "rms", rms);
        char *s = cJSON_PrintUnformatted(o);
        if (s) printf("%s\n", s);
        else rc = cli_error(3, "audio info: out of memory");
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        printf("%s: %s %s, %d Hz, %d channel%s, %lld frames, %.3f s\n", file, in->format, in->subtype, in->rate, in->channels,
               in->channels == 1 ? "" : "s", (long long)in->frames, in->duration);
        printf("mono at %d Hz%s: %lld samples, peak %.4f, RMS %.4f (%.1f dBFS)\n", au.rate,
               au.rate != in->rate ? " (resampled)" : "", (long long)au.n, peak, rms, rms > 0 ? 20 * log10(rms) : -INFINITY);
        if (out) printf("wrote %s (float32 little-endian, mono)\n", out);
    }
    mmc_audio_free(&au);
    return rc;
}

/* A colour for a log-mel value: Whisper's scaling puts speech in about [-1, 1.5]; dark
 * blue through teal and green to yellow, like the usual spectrogram maps. */
static void mel_colour(float v, uint8_t *rgb) {
    static const uint8_t stops[5][3] = {{20, 10, 60}, {40, 80, 140}, {30, 150, 130}, {120, 200, 70}, {250, 230, 40}};
    float t = (v + 1.0f) / 2.5f;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float x = t * 4;
    int i = x >= 4 ? 3 : (int)x;
    float f = x - i;
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]) + 0.5f);
}

/* `mmc audio mel FILE --out F.png [--n-mels N]`: the log-mel features a speech model sees,
 * as a picture: time to the right, low frequencies at the bottom, one pixel a 10 ms frame. */
static int cmd_audio_mel(int argc, char **argv) {
    const char *file = NULL, *out = NULL;
    mmc_logmel_opts o = mmc_logmel_opts_whisper();
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--out")) {
            if (!v || !*v) return cli_error(1, "audio mel: --out needs a .png file name");
            out = v, i++;
        } else if (!strcmp(a, "--n-mels")) {
            if (!v || cli_parse_int(v, 8, 201, &o.n_mels)) return cli_error(1, "audio mel: --n-mels needs 8 to 201");
            i++;
        } else if (a[0] == '-' && a[1]) return cli_error(1, "audio mel: unknown option '%s' (see: mmc help audio)", a);
        else if (file) return cli_error(1, "audio mel: one FILE at a time (got '%s' and '%s')", file, a);
        else file = a;
    }
    if (!file || !out) return cli_error(1, "audio mel: usage: mmc audio mel FILE --out F.png [--n-mels N]");
    int rc = cli_check_utf8("audio mel: the file name", file);
    if (rc) return rc;
    mmc_audio au;
    mmc_error err = {0};
    if (mmc_audio_load(&au, file, o.rate, &err)) return cli_error_from(&err);
    float *mel = NULL;
    int T = 0;
    if (mmc_logmel(au.samples, au.n, &o, &mel, &T, &err)) {
        mmc_audio_free(&au);
        if (err.code == MMC_ERR_INPUT) { /* name the file: the message speaks of samples */
            char msg[sizeof err.msg];
            memcpy(msg, err.msg, sizeof msg);
            mmc_error_set(&err, MMC_ERR_INPUT, "%s: %.900s", file, msg);
        }
        return cli_error_from(&err);
    }
    if (T > 100000) T = 100000; /* 1000 s of picture at most */
    uint8_t *rgb = mmc_malloc((size_t)T * o.n_mels * 3);
    float lo = 1e30f, hi = -1e30f;
    if (!rgb) rc = cli_error(3, "audio mel: out of memory");
    for (int m = 0; !rc && m < o.n_mels; m++)
        for (int t = 0; t < T; t++) {
            float v = mel[(size_t)m * T + t];
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            mel_colour(v, rgb + ((size_t)(o.n_mels - 1 - m) * T + t) * 3);
        }
    if (!rc && mmc_png_write(out, T, o.n_mels, 3, rgb, &err)) rc = cli_error_from(&err);
    if (!rc) {
        if (json) { /* through cJSON: the names are the user's and may need escaping */
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "file", file);
            cJSON_AddNumberToObject(j, "frames", T);
            cJSON_AddNumberToObject(j, "n_mels", o.n_mels);
            cJSON_AddNumberToObject(j, "min", lo);
            cJSON_AddNumberToObject(j, "max", hi);
            cJSON_AddStringToObject(j, "png", out);
            char *txt = cJSON_PrintUnformatted(j);
            if (txt) printf("%s\n", txt);
            else rc = cli_error(3, "audio mel: out of memory");
            cJSON_free(txt);
            cJSON_Delete(j);
        } else printf("%s: %d frames x %d mel bands (log-mel %.3f to %.3f) -> %s\n", file, T, o.n_mels, lo, hi, out);
    }
    mmc_free(rgb);
    mmc_free(mel);
    mmc_audio_free(&au);
    return rc;
}

int cmd_audio(int argc, char **argv) {
    if (argc < 2) return cli_error(1, "audio: missing subcommand (see: mmc help audio)");
    if (!strcmp(argv[1], "info")) return cmd_audio_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "mel")) return cmd_audio_mel(argc - 1, argv + 1);
    return cli_error(1, "audio: unknown subcommand '%s' (see: mmc help audio)", argv[1]);
}
