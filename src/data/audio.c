/* audio.c — sound files: libsndfile decodes them, libsoxr resamples them (both Debian
 * packages: libsndfile1-dev, libsoxr-dev; docs/audio.md).
 *
 * A file is untrusted bytes. It is read into memory first (at most
 * MMC_AUDIO_MAX_FILE_BYTES) and libsndfile parses it from there through its virtual I/O,
 * so nothing but that buffer is ever read. The header's claims are not trusted either: the
 * frame count it states is only a hint, the samples are read in blocks until the decoder
 * stops, and the limits (duration, channels, rate) are checked on what actually decodes.
 * Every sample must be finite and within MMC_AUDIO_MAX_AMPLITUDE of full scale: a float
 * file with NaN, infinity or 1e38 is refused rather than passed on to poison a model (or to
 * overflow the resampler's sums).
 *
 * The result is mono: the mean of the channels, sample by sample (what `sox -c 1` and
 * ffmpeg's `-ac 1` do too, up to their clipping), then resampled to the rate asked for
 * with libsoxr's high-quality setting (SOXR_HQ: a linear-phase filter with a 20-bit stop
 * band), the resampler `sox rate -h` uses.
 *
 * Video files (MP4/MOV, Matroska/WebM, AVI, known by their first bytes) go to
 * mmc_video_decode_sound (video.c), which gives their sound track the same treatment, so
 * every task that loads sound reads a clip's too. */
#include "internal.h"
#include "mmc/data.h"
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIO_BLOCK 65536 /* frames read per call */

void mmc_audio_free(mmc_audio *a) {
    if (!a) return;
    mmc_free(a->samples);
    memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------ virtual I/O over a buffer */

typedef struct membuf {
    const uint8_t *p;
    sf_count_t n, at;
} membuf;

static sf_count_t vio_len(void *u) { return ((membuf *)u)->n; }
static sf_count_t vio_tell(void *u) { return ((membuf *)u)->at; }
static sf_count_t vio_seek(sf_count_t off, int whence, void *u) {
    membuf *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->at : m->n;
    if ((off > 0 && base > m->n - off) || base + off < 0) return -1; /* no seeking outside */
    m->at = base + off;
    return m->at;
}
static sf_count_t vio_read(void *ptr, sf_count_t count, void *u) {
    membuf *m = u;
    if (count <= 0 || m->at >= m->n) return 0;
    sf_count_t k = m->n - m->at < count ? m->n - m->at : count;
    memcpy(ptr, m->p + m->at, (size_t)k);
    m->at += k;
    return k;
}
static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u) {
    (void)ptr, (void)count, (void)u;
    return 0; /* read-only */
}

/* ------------------------------------------------------------------ names */

static const char *major_name(int f) {
    switch (f & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: return "WAV";
    case SF_FORMAT_WAVEX: return "WAVEX";
    case SF_FORMAT_RF64: return "RF64";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_AU: return "AU";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_OGG: return "OGG";
    case SF_FORMAT_RAW: return "RAW";
    case SF_FORMAT_MPEG: return "MPEG";
    default: return "other";
    }
}

static const char *subtype_name(int f) {
    switch (f & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8: return "PCM_S8";
    case SF_FORMAT_PCM_U8: return "PCM_U8";
    case SF_FORMAT_PCM_16: return "PCM_16";
    case SF_FORMAT_PCM_24: return "PCM_24";
    case SF_FORMAT_PCM_32: return "PCM_32";
    case SF_FORMAT_FLOAT: return "FLOAT";
    case SF_FORMAT_DOUBLE: return "DOUBLE";
    case SF_FORMAT_ULAW: return "ULAW";
    case SF_FORMAT_ALAW: return "ALAW";
    case SF_FORMAT_IMA_ADPCM: return "IMA_ADPCM";
    case SF_FORMAT_MS_ADPCM: return "MS_ADPCM";
    case SF_FORMAT_GSM610: return "GSM610";
    case SF_FORMAT_VORBIS: return "VORBIS";
    case SF_FORMAT_OPUS: return "OPUS";
    case SF_FORMAT_MPEG_LAYER_III: return "MPEG_LAYER_III";
    default: return "other";
    }
}

/* ------------------------------------------------------------------ resampling */

int mmc_audio_resample(const float *in, int64_t n, int rate_in, int rate_out, float **out, int64_t *n_out,
                       mmc_error *err) {
    *out = NULL;
    *n_out = 0;
    if (!in || n < 0 || rate_in < 1 || rate_out < 1 || rate_in > MMC_AUDIO_MAX_RATE || rate_out > MMC_AUDIO_MAX_RATE)
        return mmc_error_set(err, MMC_ERR_USAGE, "audio: cannot resample %lld samples from %d Hz to %d Hz", (long long)n,
                             rate_in, rate_out);
    double want = (double)n * rate_out / rate_in;
    if (want > (double)MMC_AUDIO_MAX_SECONDS * MMC_AUDIO_MAX_RATE)
        return mmc_error_set(err, MMC_ERR_INPUT, "audio: %lld samples at %d Hz is too long to resample", (long long)n, rate_in);
    size_t cap = (size_t)ceil(want) + 64;
    float *o = mmc_malloc(sizeof(float) * cap);
    if (!o) return mmc_error_set(err, MMC_ERR_RUNTIME, "audio: out of memory resampling");
    if (rate_in == rate_out) {
        if (n) memcpy(o, in, sizeof(float) * (size_t)n);
        *out = o;
        *n_out = n;
        return MMC_OK;
    }
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* one thread: the caller decides parallelism */
    size_t idone = 0, odone = 0;
    soxr_error_t e = soxr_oneshot(rate_in, rate_out, 1, in, (size_t)n, &idone, o, cap, &odone, &io, &q, &rt);
    if (e) {
        mmc_free(o);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "audio: resampling from %d Hz to %d Hz failed: %s", rate_in, rate_out, e);
    }
    *out = o;
    *n_out = (int64_t)odone;
    return MMC_OK;
}

/* ------------------------------------------------------------------ decoding */

/* A video container (Matroska/WebM: the EBML magic; MP4/MOV: an "ftyp" or "moov" box
 * first; AVI: a RIFF of form "AVI "): its sound track is read with FFmpeg's libraries
 * (mmc_video_decode_sound), which libsndfile cannot. */
static int video_container(const uint8_t *b, size_t n) {
    if (n >= 4 && b[0] == 0x1A && b[1] == 0x45 && b[2] == 0xDF && b[3] == 0xA3) return 1;
    if (n >= 8 && (!memcmp(b + 4, "ftyp", 4) || !memcmp(b + 4, "moov", 4))) return 1;
    return n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "AVI ", 4);
}

int mmc_audio_decode(mmc_audio *a, const uint8_t *bytes, size_t n, const char *name, int rate, mmc_error *err) {
    if (a) memset(a, 0, sizeof *a);
    if (!name) name = "(audio)";
    if (!a || (!bytes && n)) return mmc_error_set(err, MMC_ERR_USAGE, "audio: decode needs an output and bytes");
    if (rate < 0 || rate > MMC_AUDIO_MAX_RATE) return mmc_error_set(err, MMC_ERR_USAGE, "audio: bad target rate %d", rate);
    if (n == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: empty file", name);
    if (n > MMC_AUDIO_MAX_FILE_BYTES)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %zu bytes (at most %zu)", name, n, (size_t)MMC_AUDIO_MAX_FILE_BYTES);
    if (video_container(bytes, n)) return mmc_video_decode_sound(a, bytes, n, name, rate, err);
    membuf mb = {bytes, (sf_count_t)n, 0};
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &si, &mb);
    if (!sf) return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a sound file libsndfile reads (%s)", name, sf_strerror(NULL));
    int rc = MMC_OK, C = si.channels;
    if (si.samplerate < 1 || si.samplerate > MMC_AUDIO_MAX_RATE)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: sample rate %d Hz (1 to %d)", name, si.samplerate, MMC_AUDIO_MAX_RATE);
    else if (C < 1 || C > MMC_AUDIO_MAX_CHANNELS)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %d channels (1 to %d)", name, C, MMC_AUDIO_MAX_CHANNELS);
    /* integer files as floats in [-1, 1); float files as they are (no clipping) */
    sf_command(sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    const int64_t max_frames = (int64_t)(MMC_AUDIO_MAX_SECONDS * si.samplerate);
    float *block = rc ? NULL : mmc_malloc(sizeof(float) * (size_t)AUDIO_BLOCK * (size_t)C);
    float *mono = NULL;
    int64_t got = 0, cap = 0;
    if (!rc && !block) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
    while (!rc) {
        sf_count_t k = sf_readf_float(sf, block, AUDIO_BLOCK);
        if (k <= 0) break;
        if (got + k > max_frames) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: longer than %.0f s", name, MMC_AUDIO_MAX_SECONDS);
            break;
        }
        if (got + k > cap) { /* grows as it decodes: the header's frame count is not believed */
            int64_t nc = cap ? cap * 2 : (int64_t)AUDIO_BLOCK * 4;
            while (nc < got + k) nc *= 2;
            if (nc > max_frames) nc = max_frames;
            float *m = mmc_realloc(mono, sizeof(float) * (size_t)nc);
            if (!m) {
                rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
                break;
            }
            mono = m;
            cap = nc;
        }
        for (sf_count_t i = 0; i < k && !rc; i++) {
            double s = 0;
            for (int c = 0; c < C; c++) {
                float v = block[(size_t)i * C + c];
                if (!isfinite(v))
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: sample %lld (channel %d) is not a finite number", name,
                                       (long long)(got + i), c);
                else if (fabsf(v) > MMC_AUDIO_MAX_AMPLITUDE) /* 1e38 would overflow the resampler's and the
                                                              * spectrum's sums to infinity */
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: sample %lld (channel %d) is %g, over %g times full scale", name,
                                       (long long)(got + i), c, (double)v, (double)MMC_AUDIO_MAX_AMPLITUDE);
                s += v;
            }
            mono[got + i] = (float)(s / C);
        }
        got += k;
    }
    if (!rc && sf_error(sf) != SF_ERR_NO_ERROR)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: decoding failed after %lld frames: %s", name, (long long)got, sf_strerror(sf));
    if (!rc && got == 0) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no audio frames", name);
    mmc_free(block);
    if (!rc) {
        a->info.rate = si.samplerate;
        a->info.channels = C;
        a->info.frames = got;
        a->info.duration = (double)got / si.samplerate;
        snprintf(a->info.format, sizeof a->info.format, "%s", major_name(si.format));
        snprintf(a->info.subtype, sizeof a->info.subtype, "%s", subtype_name(si.format));
        if (rate == 0 || rate == si.samplerate) {
            a->samples = mono;
            a->n = got;
            a->rate = si.samplerate;
            mono = NULL;
        } else {
            rc = mmc_audio_resample(mono, got, si.samplerate, rate, &a->samples, &a->n, err);
            a->rate = rate;
            if (!rc && a->n < 1) /* 9 frames at 768 kHz are a fifth of a sample at 16 kHz */
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %lld frames at %d Hz are too short to resample to %d Hz",
                                   name, (long long)got, si.samplerate, rate);
            if (rc && err && strncmp(err->msg, name, strlen(name)) != 0) {
                char msg[sizeof err->msg];
                memcpy(msg, err->msg, sizeof msg);
                mmc_error_set(err, rc, "%s: %.900s", name, msg);
            }
        }
    }
    mmc_free(mono);
    sf_close(sf);
    if (rc) mmc_audio_free(a);
    return rc;
}

int mmc_audio_load(mmc_audio *a, const char *path, int rate, mmc_error *err) {
    if (a) memset(a, 0, sizeof *a);
    if (!a || !path) return mmc_error_set(err, MMC_ERR_USAGE, "audio: load needs an output and a path");
    uint8_t *bytes = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, MMC_AUDIO_MAX_FILE_BYTES, &bytes, &n, err);
    if (rc) {
        if (err && err->code == MMC_ERR_RUNTIME) err->code = MMC_ERR_INPUT;
        return rc;
    }
    rc = mmc_audio_decode(a, bytes, n, path, rate, err);
    mmc_free(bytes);
    return rc;
}

/* ------------------------------------------------------------------ writing */

int mmc_audio_write(const char *path, const float *samples, int64_t n, int rate, const char *format, mmc_error *err) {
    if (!path || (!samples && n) || n < 0 || rate < 1 || rate > MMC_AUDIO_MAX_RATE || !format)
        return mmc_error_set(err, MMC_ERR_USAGE, "audio: bad arguments writing %s", path ? path : "(null)");
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = rate;
    si.channels = 1;
    if (!strcmp(format, "ogg")) si.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    else if (!strcmp(format, "flac")) si.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    else if (!strcmp(format, "wav")) si.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    else return mmc_error_set(err, MMC_ERR_USAGE, "audio: format \"%s\" (ogg, flac or wav)", format);
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return mmc_error_set(err, MMC_ERR_USAGE, "audio: path too long");
    SNDFILE *sf = sf_open(tmp, SFM_WRITE, &si);
    if (!sf) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot write: %s", tmp, sf_strerror(NULL));
    if (si.format & SF_FORMAT_VORBIS) {
        double q = 0.0; /* the lowest: speech at 16 kHz stays clear, ~2.5 KB a second */
        sf_command(sf, SFC_SET_VBR_ENCODING_QUALITY, &q, sizeof q);
    } else sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    int rc = MMC_OK;
    for (int64_t at = 0; at < n && !rc;) { /* in blocks: sf_count_t is 64-bit, but be plain */
        sf_count_t k = n - at < AUDIO_BLOCK ? n - at : AUDIO_BLOCK;
        if (sf_writef_float(sf, samples + at, k) != k) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: write failed: %s", tmp, sf_strerror(sf));
        at += k;
    }
    if (sf_close(sf) != 0 && !rc) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot finish the file", tmp);
    if (!rc && rename(tmp, path) != 0) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "cannot rename %s to %s", tmp, path);
    if (rc) remove(tmp);
    return rc;
}
