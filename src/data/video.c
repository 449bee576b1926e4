/* video.c — video files through FFmpeg's libraries: decoding with sampling by time, their
 * sound track, and writing lossless FFV1 in Matroska, with or without a FLAC sound track
 * (docs/video.md).
 *
 * Decoding. The whole file is read into memory (capped) and demuxed from there through a
 * custom AVIOContext, so a hostile file can make libavformat open nothing else: only the
 * MP4/MOV, Matroska/WebM and AVI demuxers are allowed and io_open refuses every request
 * (HLS-style references, external tracks). The first video stream that is not cover art
 * is decoded on one thread with AV_EF_EXPLODE (a decode error fails the file instead of
 * being concealed). Sampling needs the timestamps of every frame before it can choose, so
 * the file is decoded twice: pass 1 collects presentation times, pass 2 converts only the
 * chosen frames to RGB (libswscale, bicubic as the ffmpeg tool's default), rotates them as
 * the display matrix says, and resizes them if asked. Every loop is bounded: packets and
 * frames (MMC_VIDEO_MAX_DECODED), pixels per frame, duration, frames and bytes returned.
 *
 * Truncation: a file that ends early usually still demuxes cleanly up to the cut, so the
 * decoded stream is compared with what the container promised — its frame count (MP4,
 * AVI) and its duration (Matroska/WebM; the stream's, or the file's when video is the
 * only stream) — and a clear shortfall is an error.
 *
 * The sound track (mmc_video_decode_sound) goes through the same demuxer setup and decode
 * loop (dec_open picks the first audio stream instead), every sample format becomes float,
 * the channels are averaged to mono and resampled as src/data/audio.c does for sound files,
 * and the same truncation rule holds against the track's promised duration. */
#include "internal.h"
#include "mmc/data.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/samplefmt.h>
#include <libswscale/swscale.h>

#define ALLOWED_DEMUXERS "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi"
#define IO_BUF 65536
#define SOUND_CHUNK 4096 /* samples a sound frame holds when the encoder leaves it to us */

/* FFmpeg 5.1 replaced the channel count and mask with AVChannelLayout */
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 24, 100)
#define N_CHANNELS(x) ((x)->ch_layout.nb_channels)
#else
#define N_CHANNELS(x) ((x)->channels)
#endif

/* FFmpeg logs through one process-wide callback; ours prints nothing and remembers the
 * first error the decoder of this thread's current file reports (decoders conceal some
 * damage, e.g. an FFV1 slice CRC mismatch, and only say so in the log). */
typedef struct dec dec;
static _Thread_local dec *tl_dec;
static void log_cb(void *avcl, int level, const char *fmt, va_list vl);
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_init(void) {
    av_log_set_level(AV_LOG_QUIET);
    av_log_set_callback(log_cb);
}
static void av_quiet(void) { pthread_once(&quiet_once, quiet_init); }

static const char *averr(int e, char *buf, size_t n) {
    if (av_strerror(e, buf, n) < 0) snprintf(buf, n, "error %d", e);
    return buf;
}

mmc_video_opts mmc_video_opts_default(void) {
    return (mmc_video_opts){.frames = 0, .fps = 0.0, .size = 0, .resample = MMC_RESAMPLE_BILINEAR};
}

void mmc_video_free(mmc_video *v) {
    if (!v) return;
    for (int i = 0; v->frames && i < v->n; i++) mmc_image_free(&v->frames[i]);
    mmc_free(v->frames);
    mmc_free(v->t);
    memset(v, 0, sizeof *v);
}

int mmc_image_rotate(const mmc_image *src, mmc_image *dst, int degrees, mmc_error *err) {
    memset(dst, 0, sizeof *dst);
    degrees = ((degrees % 360) + 360) % 360;
    if (degrees % 90) return mmc_error_set(err, MMC_ERR_USAGE, "image_rotate: %d degrees is not a multiple of 90", degrees);
    int W = src->w, H = src->h, c = src->c;
    int ow = degrees % 180 ? H : W, oh = degrees % 180 ? W : H;
    int rc = mmc_image_alloc(dst, ow, oh, c, err);
    if (rc) return rc;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy; /* the source pixel shown at (x, y) after a clockwise turn */
            switch (degrees) {
            case 90: sx = y, sy = H - 1 - x; break;
            case 180: sx = W - 1 - x, sy = H - 1 - y; break;
            case 270: sx = W - 1 - y, sy = x; break;
            default: sx = x, sy = y; break;
            }
            memcpy(dst->data + ((size_t)y * ow + x) * c, src->data + ((size_t)sy * W + sx) * c, (size_t)c);
        }
    return MMC_OK;
}

/* ------------------------------------------------------------- reading */

typedef struct membuf { const uint8_t *p; size_t n, pos; } membuf;

static int mem_read(void *op, uint8_t *buf, int sz) {
    membuf *m = op;
    size_t left = m->n - m->pos;
    if (!left) return AVERROR_EOF;
    if (sz < 0) return AVERROR(EINVAL);
    if ((size_t)sz > left) sz = (int)left;
    memcpy(buf, m->p + m->pos, (size_t)sz);
    m->pos += (size_t)sz;
    return sz;
}

static int64_t mem_seek(void *op, int64_t off, int whence) {
    membuf *m = op;
    if (whence & AVSEEK_SIZE) return (int64_t)m->n;
    whence &= ~AVSEEK_FORCE;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos : whence == SEEK_END ? (int64_t)m->n : -1;
    if (base < 0) return AVERROR(EINVAL);
    if ((off > 0 && off > (int64_t)m->n - base) || (off < 0 && -off > base)) return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

static int refuse_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **opt) {
    (void)s, (void)pb, (void)url, (void)flags, (void)opt;
    return AVERROR(EPERM);
}

struct dec {
    const char *name;
    membuf mem;
    AVFormatContext *fmt;
    AVIOContext *pb;
    AVCodecContext *cc;
    AVPacket *pkt;
    AVFrame *fr;
    AVStream *st;
    int si, eof;
    int audio;           /* decoding the first audio stream instead of the first video one */
    const char *what;    /* "video" or "audio", for messages */
    int64_t packets, frames;
    int64_t max_packets, max_frames;
    double end; /* the latest packet end of any stream, seconds (-inf before any) */
    int log_error;
    char log_msg[256];
};

static void log_cb(void *avcl, int level, const char *fmt, va_list vl) {
    dec *d = tl_dec;
    if (!d || !avcl || level > AV_LOG_ERROR || avcl != (void *)d->cc || d->log_error) return;
    d->log_error = 1;
    vsnprintf(d->log_msg, sizeof d->log_msg, fmt, vl);
    size_t n = strlen(d->log_msg);
    while (n && (d->log_msg[n - 1] == '\n' || d->log_msg[n - 1] == ' ')) d->log_msg[--n] = 0;
}

static void dec_close(dec *d) {
    if (tl_dec == d) tl_dec = NULL;
    if (d->fmt) avformat_close_input(&d->fmt);
    if (d->pb) av_freep(&d->pb->buffer);
    avio_context_free(&d->pb);
    avcodec_free_context(&d->cc);
    av_packet_free(&d->pkt);
    av_frame_free(&d->fr);
}

static int dec_fail(dec *d, mmc_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int dec_fail(dec *d, mmc_error *err, int code, const char *fmt, ...) {
    char why[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    dec_close(d);
    return mmc_error_set(err, code, "%s: %s", d->name, why);
}

/* Opens bytes for decoding the first video stream that is not cover art (type
 * AVMEDIA_TYPE_VIDEO) or the first audio stream (AVMEDIA_TYPE_AUDIO): one hardened demuxer
 * setup for both. */
static int dec_open(dec *d, const uint8_t *bytes, size_t n, const char *name, enum AVMediaType type, mmc_error *err) {
    memset(d, 0, sizeof *d);
    d->name = name;
    d->audio = type == AVMEDIA_TYPE_AUDIO;
    d->what = d->audio ? "audio" : "video";
    d->mem = (membuf){bytes, n, 0};
    char eb[128];
    if (n == 0) return dec_fail(d, err, MMC_ERR_INPUT, "empty file (not a video)");
    uint8_t *buf = av_malloc(IO_BUF);
    d->fmt = avformat_alloc_context();
    d->pkt = av_packet_alloc();
    d->fr = av_frame_alloc();
    if (buf) d->pb = avio_alloc_context(buf, IO_BUF, 0, &d->mem, mem_read, NULL, mem_seek);
    if (!d->pb) av_free(buf);
    if (!d->fmt || !d->pb || !d->pkt || !d->fr) return dec_fail(d, err, MMC_ERR_RUNTIME, "out of memory");
    d->fmt->pb = d->pb;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    d->fmt->io_open = refuse_open;
    d->fmt->format_whitelist = av_strdup(ALLOWED_DEMUXERS);
    d->fmt->protocol_whitelist = av_strdup("none");
    if (!d->fmt->format_whitelist || !d->fmt->protocol_whitelist) return dec_fail(d, err, MMC_ERR_RUNTIME, "out of memory");
    int r = avformat_open_input(&d->fmt, "", NULL, NULL); /* frees fmt on failure */
    if (r < 0) return dec_fail(d, err, MMC_ERR_INPUT, "not a readable video file (MP4, MKV, WebM or AVI): %s", averr(r, eb, sizeof eb));
    if ((r = avformat_find_stream_info(d->fmt, NULL)) < 0)
        return dec_fail(d, err, MMC_ERR_INPUT, "cannot read the streams: %s", averr(r, eb, sizeof eb));
    d->si = -1;
    for (unsigned i = 0; i < d->fmt->nb_streams && d->si < 0; i++) {
        AVStream *s = d->fmt->streams[i];
        if (s->codecpar->codec_type == type && (d->audio || !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))) d->si = (int)i;
    }
    if (d->si < 0) return dec_fail(d, err, MMC_ERR_INPUT, d->audio ? "no audio stream (a video without sound)" : "no video stream");
    d->st = d->fmt->streams[d->si];
    /* other streams are read (not decoded): their packets say where the file ends */
    d->end = -INFINITY;
    const AVCodecParameters *cp = d->st->codecpar;
    if (d->audio) {
        /* the sample budget of MMC_AUDIO_MAX_SECONDS at the stream's rate bounds the frames
         * (each holds at least one sample) and, with the other streams' share, the packets */
        if (cp->sample_rate < 1 || cp->sample_rate > MMC_AUDIO_MAX_RATE)
            return dec_fail(d, err, MMC_ERR_INPUT, "sample rate %d Hz (1 to %d)", cp->sample_rate, MMC_AUDIO_MAX_RATE);
        if (N_CHANNELS(cp) < 0 || N_CHANNELS(cp) > MMC_AUDIO_MAX_CHANNELS)
            return dec_fail(d, err, MMC_ERR_INPUT, "%d channels (1 to %d)", N_CHANNELS(cp), MMC_AUDIO_MAX_CHANNELS);
        d->max_frames = (int64_t)(MMC_AUDIO_MAX_SECONDS * cp->sample_rate) + 1;
        d->max_packets = d->max_frames + 4LL * MMC_VIDEO_MAX_DECODED;
    } else {
        if ((int64_t)cp->width * cp->height > MMC_VIDEO_MAX_PIXELS)
            return dec_fail(d, err, MMC_ERR_INPUT, "frame size %dx%d is over the limit of %lld pixels", cp->width, cp->height,
                            (long long)MMC_VIDEO_MAX_PIXELS);
        d->max_frames = MMC_VIDEO_MAX_DECODED;
        d->max_packets = 4LL * MMC_VIDEO_MAX_DECODED;
    }
    const AVCodec *codec = avcodec_find_decoder(cp->codec_id);
    if (!codec)
        return dec_fail(d, err, MMC_ERR_INPUT, "no decoder for its %s codec (%s)", d->what, avcodec_get_name(cp->codec_id));
    if (!(d->cc = avcodec_alloc_context3(codec))) return dec_fail(d, err, MMC_ERR_RUNTIME, "out of memory");
    if ((r = avcodec_parameters_to_context(d->cc, cp)) < 0)
        return dec_fail(d, err, MMC_ERR_INPUT, "bad codec parameters: %s", averr(r, eb, sizeof eb));
    d->cc->pkt_timebase = d->st->time_base;
    d->cc->thread_count = 1;
    if (!d->audio) d->cc->max_pixels = MMC_VIDEO_MAX_PIXELS;
    d->cc->err_recognition |= AV_EF_EXPLODE | AV_EF_CRCCHECK;
    tl_dec = d;
    if ((r = avcodec_open2(d->cc, codec, NULL)) < 0)
        return dec_fail(d, err, MMC_ERR_INPUT, "cannot open its %s decoder: %s", codec->name, averr(r, eb, sizeof eb));
    return MMC_OK;
}

/* Next frame into d->fr: 1, 0 at the end, or minus an error code (d closed, err set). */
static int dec_next(dec *d, mmc_error *err) {
    char eb[128];
    for (;;) {
        av_frame_unref(d->fr);
        int r = avcodec_receive_frame(d->cc, d->fr);
        if (r == 0) {
            if (d->log_error)
                return -dec_fail(d, err, MMC_ERR_INPUT, "corrupt %s data (frame %lld: %s)", d->what, (long long)d->frames + 1,
                                 d->log_msg);
            if (d->fr->decode_error_flags || (d->fr->flags & AV_FRAME_FLAG_CORRUPT))
                return -dec_fail(d, err, MMC_ERR_INPUT, "corrupt %s data in frame %lld", d->what, (long long)d->frames + 1);
            if (d->audio) {
                if (d->fr->nb_samples < 0 || d->fr->sample_rate < 1 || d->fr->sample_rate > MMC_AUDIO_MAX_RATE ||
                    N_CHANNELS(d->fr) < 1 || N_CHANNELS(d->fr) > MMC_AUDIO_MAX_CHANNELS)
                    return -dec_fail(d, err, MMC_ERR_INPUT, "audio frame %lld is bad: %d samples, %d Hz, %d channels",
                                     (long long)d->frames + 1, d->fr->nb_samples, d->fr->sample_rate, N_CHANNELS(d->fr));
            } else if (d->fr->width < 1 || d->fr->height < 1 || (int64_t)d->fr->width * d->fr->height > MMC_VIDEO_MAX_PIXELS)
                return -dec_fail(d, err, MMC_ERR_INPUT, "frame %lld has a bad size %dx%d", (long long)d->frames + 1,
                                d->fr->width, d->fr->height);
            if (++d->frames > d->max_frames)
                return -dec_fail(d, err, MMC_ERR_INPUT, "more than %lld frames (the limit)", (long long)d->max_frames);
            return 1;
        }
        if (r == AVERROR_EOF) {
            if (d->log_error) return -dec_fail(d, err, MMC_ERR_INPUT, "corrupt %s data (at the end: %s)", d->what, d->log_msg);
            return 0;
        }
        if (r != AVERROR(EAGAIN))
            return -dec_fail(d, err, MMC_ERR_INPUT, "truncated or corrupt %s (decoding frame %lld: %s)", d->what,
                            (long long)d->frames + 1, averr(r, eb, sizeof eb));
        if (d->eof) return -dec_fail(d, err, MMC_ERR_INPUT, "the decoder stalled at the end of the stream");
        r = av_read_frame(d->fmt, d->pkt);
        if (r == AVERROR_EOF) {
            d->eof = 1;
            if ((r = avcodec_send_packet(d->cc, NULL)) < 0 && r != AVERROR_EOF)
                return -dec_fail(d, err, MMC_ERR_INPUT, "truncated or corrupt %s (at the end: %s)", d->what,
                                 averr(r, eb, sizeof eb));
            continue;
        }
        if (r < 0)
            return -dec_fail(d, err, MMC_ERR_INPUT, "truncated or corrupt file (reading packet %lld: %s)",
                            (long long)d->packets + 1, averr(r, eb, sizeof eb));
        if (++d->packets > d->max_packets) {
            av_packet_unref(d->pkt);
            return -dec_fail(d, err, MMC_ERR_INPUT, "more than %lld packets (the limit)", (long long)d->max_packets);
        }
        if (d->pkt->stream_index >= 0 && (unsigned)d->pkt->stream_index < d->fmt->nb_streams) {
            int64_t ts = d->pkt->pts != AV_NOPTS_VALUE ? d->pkt->pts : d->pkt->dts;
            if (ts != AV_NOPTS_VALUE && d->pkt->duration >= 0 && ts < INT64_MAX / 4 && d->pkt->duration < INT64_MAX / 4) {
                double e = (double)(ts + d->pkt->duration) * av_q2d(d->fmt->streams[d->pkt->stream_index]->time_base);
                if (isfinite(e) && e > d->end) d->end = e;
            }
        }
        if (d->pkt->stream_index != d->si) {
            av_packet_unref(d->pkt);
            continue;
        }
        r = avcodec_send_packet(d->cc, d->pkt);
        av_packet_unref(d->pkt);
        if (r < 0 && r != AVERROR(EAGAIN))
            return -dec_fail(d, err, MMC_ERR_INPUT, "truncated or corrupt %s (packet %lld: %s)", d->what,
                            (long long)d->packets, averr(r, eb, sizeof eb));
    }
}

/* Clockwise degrees a player turns the picture by, from the display matrix (as the ffmpeg
 * tool's autorotate reads it), rounded to a multiple of 90. */
static int stream_rotation(const AVStream *st) {
    const uint8_t *sd = NULL;
    size_t sz = 0;
#if LIBAVFORMAT_VERSION_INT >= AV_VERSION_INT(60, 15, 100)
    const AVPacketSideData *p =
        av_packet_side_data_get(st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (p) sd = p->data, sz = p->size;
#else
    sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &sz);
#endif
    if (!sd || sz < 9 * sizeof(int32_t)) return 0;
    double theta = -round(av_display_rotation_get((const int32_t *)sd));
    if (!isfinite(theta)) return 0;
    theta -= 360.0 * floor(theta / 360.0 + 0.9 / 360.0);
    int q = (int)lround(theta / 90.0) % 4;
    return q * 90;
}

static double frame_time(const dec *d) {
    int64_t ts = d->fr->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) ts = d->fr->pts;
    if (ts == AV_NOPTS_VALUE) return NAN;
    return (double)ts * av_q2d(d->st->time_base);
}

/* Pass 1: presentation times of every frame (held non-decreasing; missing ones follow the
 * previous by the stream's nominal frame duration) and the container's promises. */
static int pass_times(const uint8_t *bytes, size_t n, const char *name, double **times, int64_t *count, double *tick,
                      mmc_video_info *info, mmc_error *err) {
    dec d;
    int rc = dec_open(&d, bytes, n, name, AVMEDIA_TYPE_VIDEO, err);
    if (rc) return rc;
    AVRational fr = d.st->avg_frame_rate.num > 0 && d.st->avg_frame_rate.den > 0 ? d.st->avg_frame_rate : d.st->r_frame_rate;
    double nominal = fr.num > 0 && fr.den > 0 ? (double)fr.den / fr.num : 0.04;
    if (!(nominal > 1e-6 && nominal < 60)) nominal = 0.04;
    int64_t cap = 1024, cnt = 0;
    double *t = mmc_malloc((size_t)cap * sizeof *t);
    if (!t) return dec_fail(&d, err, MMC_ERR_RUNTIME, "out of memory");
    int w0 = 0, h0 = 0;
    while ((rc = dec_next(&d, err)) == 1) {
        if (!cnt) w0 = d.fr->width, h0 = d.fr->height;
        else if (d.fr->width != w0 || d.fr->height != h0) {
            mmc_free(t);
            return dec_fail(&d, err, MMC_ERR_INPUT, "frame size changes from %dx%d to %dx%d at frame %lld", w0, h0,
                            d.fr->width, d.fr->height, (long long)cnt + 1);
        }
        double x = frame_time(&d);
        if (!isfinite(x)) x = cnt ? t[cnt - 1] + nominal : 0.0;
        if (cnt && x < t[cnt - 1]) x = t[cnt - 1];
        if (fabs(x) > MMC_VIDEO_MAX_SECONDS || (cnt && x - t[0] > MMC_VIDEO_MAX_SECONDS)) {
            mmc_free(t);
            return dec_fail(&d, err, MMC_ERR_INPUT, "timestamp %.1f s is beyond the limit of %.0f s", x, MMC_VIDEO_MAX_SECONDS);
        }
        if (cnt == cap) {
            double *nt = mmc_realloc(t, (size_t)(cap *= 2) * sizeof *t);
            if (!nt) {
                mmc_free(t);
                return dec_fail(&d, err, MMC_ERR_RUNTIME, "out of memory");
            }
            t = nt;
        }
        t[cnt++] = x;
    }
    if (rc < 0) {
        mmc_free(t);
        return -rc;
    }
    if (!cnt) {
        mmc_free(t);
        return dec_fail(&d, err, MMC_ERR_INPUT, "no frames (the video stream decodes to nothing)");
    }
    /* the last frame lasts as long as the gap before it (the average one if that is 0) */
    double gap = cnt > 1 ? t[cnt - 1] - t[cnt - 2] : nominal;
    if (!(gap > 0)) gap = cnt > 1 && t[cnt - 1] > t[0] ? (t[cnt - 1] - t[0]) / (double)(cnt - 1) : nominal;
    memset(info, 0, sizeof *info);
    info->w = w0, info->h = h0;
    info->rotation = stream_rotation(d.st);
    info->out_w = info->rotation % 180 ? h0 : w0;
    info->out_h = info->rotation % 180 ? w0 : h0;
    info->decoded = cnt;
    info->start = t[0];
    info->duration = t[cnt - 1] - t[0] + gap;
    info->fps = (double)cnt / info->duration;
    snprintf(info->codec, sizeof info->codec, "%s", d.cc->codec->name);
    snprintf(info->container, sizeof info->container, "%s", d.fmt->iformat->name);
    /* what the container promised */
    int64_t promised = d.st->nb_frames;
    double promised_s = d.st->duration != AV_NOPTS_VALUE && d.st->duration > 0 ? (double)d.st->duration * av_q2d(d.st->time_base)
                        : d.fmt->nb_streams == 1 && d.fmt->duration > 0 ? (double)d.fmt->duration / AV_TIME_BASE
                                                                       : 0.0;
    double st0 = d.st->start_time != AV_NOPTS_VALUE ? (double)d.st->start_time * av_q2d(d.st->time_base) : t[0];
    double got_s = info->duration + (t[0] - st0);
    /* the container's end, when it agrees with the frames, says how long the last one lasts
     * (timestamps rounded to the container's ticks make the last gap a little off) */
    if (promised_s > 0 && st0 + promised_s > t[cnt - 1] && st0 + promised_s <= t[cnt - 1] + 2.0 * gap) {
        info->duration = st0 + promised_s - t[0];
        info->fps = (double)cnt / info->duration;
    }
    *tick = av_q2d(d.st->time_base);
    if (!(*tick > 0) || *tick > 0.25 * gap) *tick = 0.25 * gap;
    /* with several streams: where the packets of all of them end, against the file's duration */
    double file_s = d.fmt->nb_streams > 1 && d.fmt->duration > 0 ? (double)d.fmt->duration / AV_TIME_BASE : 0.0;
    double file_end = file_s + (d.fmt->start_time != AV_NOPTS_VALUE ? (double)d.fmt->start_time / AV_TIME_BASE : 0.0);
    double all_end = fmax(d.end, t[cnt - 1] + gap);
    dec_close(&d);
    if (file_s > 0 && all_end < file_end - (1.5 * gap + 0.02 + 0.02 * file_s)) {
        mmc_free(t);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated: the file promises %.3f s, its streams end at %.3f s", name,
                             file_end, all_end);
    }
    if (promised > 0 && cnt < promised) {
        mmc_free(t);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated: the container promises %lld frames, %lld decode", name,
                             (long long)promised, (long long)cnt);
    }
    if (promised_s > 0 && got_s < promised_s - (1.5 * gap + 0.01)) {
        mmc_free(t);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated: the container promises %.3f s of video, %.3f s decode", name,
                             promised_s, got_s);
    }
    *times = t;
    *count = cnt;
    return MMC_OK;
}

/* Index of the frame shown at time x: the last with t <= x (t non-decreasing), within half
 * a tick of the stream's clock (timestamps are rounded to it: 5/12 s is 0.417 in Matroska). */
static int64_t shown_at(const double *t, int64_t n, double x, double tick) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (t[mid] <= x + 0.5 * tick) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* RGB of d->fr (converted, rotated, resized) into out. */
static int convert(dec *d, struct SwsContext **sws, const mmc_video_info *info, const mmc_video_opts *o, mmc_image *out,
                   mmc_error *err) {
    AVFrame *f = d->fr;
    mmc_image rgb = {0}, rot = {0};
    *sws = sws_getCachedContext(*sws, f->width, f->height, (enum AVPixelFormat)f->format, f->width, f->height,
                                AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
    if (!*sws) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot convert its pixel format (%s) to RGB", d->name,
                                    av_get_pix_fmt_name((enum AVPixelFormat)f->format) ? av_get_pix_fmt_name((enum AVPixelFormat)f->format) : "?");
    int rc = mmc_image_alloc(&rgb, f->width, f->height, 3, err);
    if (rc) return rc;
    /* swscale's SIMD may write past the end of a row: convert into an aligned, padded
     * buffer of FFmpeg's own, then copy the rows out */
    uint8_t *dst[4] = {NULL};
    int stride[4] = {0};
    if (av_image_alloc(dst, stride, f->width, f->height, AV_PIX_FMT_RGB24, 64) < 0) {
        mmc_image_free(&rgb);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", d->name);
    }
    int ok = sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride) == f->height;
    for (int y = 0; ok && y < f->height; y++)
        memcpy(rgb.data + (size_t)y * f->width * 3, dst[0] + (size_t)y * stride[0], (size_t)f->width * 3);
    av_freep(&dst[0]);
    if (!ok) {
        mmc_image_free(&rgb);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: pixel conversion failed", d->name);
    }
    mmc_image *cur = &rgb;
    if (info->rotation) {
        if ((rc = mmc_image_rotate(&rgb, &rot, info->rotation, err))) {
            mmc_image_free(&rgb);
            return rc;
        }
        mmc_image_free(&rgb);
        cur = &rot;
    }
    if (o->size > 0 && (cur->w != o->size || cur->h != o->size)) {
        /* as the image loader does: the short side to size, then the centre square */
        int w, h;
        mmc_image_shortest_edge_size(cur->w, cur->h, o->size, &w, &h);
        mmc_image tmp;
        rc = mmc_image_resize(cur, &tmp, w, h, o->resample, err);
        mmc_image_free(cur);
        if (rc) return rc;
        if (w == o->size && h == o->size) {
            *out = tmp;
            return MMC_OK;
        }
        rc = mmc_image_center_crop(&tmp, out, o->size, o->size, err);
        mmc_image_free(&tmp);
        return rc;
    }
    *out = *cur;
    return MMC_OK;
}

int mmc_video_decode(mmc_video *v, const uint8_t *bytes, size_t n, const char *name, const mmc_video_opts *opts,
                     mmc_error *err) {
    memset(v, 0, sizeof *v);
    av_quiet();
    mmc_video_opts o = opts ? *opts : mmc_video_opts_default();
    if (!name) name = "video";
    if (o.frames < 0 || o.frames > MMC_VIDEO_MAX_FRAMES || !(o.fps >= 0 && o.fps <= 1000) || o.size < 0 || o.size > 4096 ||
        o.resample < MMC_RESAMPLE_NEAREST || o.resample > MMC_RESAMPLE_HAMMING)
        return mmc_error_set(err, MMC_ERR_USAGE, "video: frames must be 0..%d, fps 0..1000, size 0..4096 (got %d, %g, %d)",
                             MMC_VIDEO_MAX_FRAMES, o.frames, o.fps, o.size);
    double *t = NULL;
    int64_t cnt = 0;
    mmc_video_info info;
    double tick = 0;
    int rc = pass_times(bytes, n, name, &t, &cnt, &tick, &info, err);
    if (rc) return rc;
    /* which frames */
    int64_t want = o.frames > 0 ? o.frames : o.fps > 0 ? (int64_t)ceil(info.duration * o.fps - 1e-9) : cnt;
    if (want < 1) want = 1;
    if (want > MMC_VIDEO_MAX_FRAMES) {
        mmc_free(t);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %lld frames asked of a %.1f s video (at most %d; sample fewer)", name,
                             (long long)want, info.duration, MMC_VIDEO_MAX_FRAMES);
    }
    int W = o.size > 0 ? o.size : info.out_w, H = o.size > 0 ? o.size : info.out_h;
    if ((size_t)want * (size_t)W * (size_t)H * 3 > MMC_VIDEO_MAX_OUT_BYTES) {
        mmc_free(t);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %lld frames of %dx%d are over %zu bytes (sample fewer or smaller)", name,
                             (long long)want, W, H, (size_t)MMC_VIDEO_MAX_OUT_BYTES);
    }
    int64_t *sel = mmc_malloc((size_t)want * sizeof *sel);
    v->frames = mmc_calloc((size_t)want, sizeof *v->frames);
    v->t = mmc_malloc((size_t)want * sizeof *v->t);
    if (!sel || !v->frames || !v->t) {
        mmc_free(sel), mmc_free(t), mmc_video_free(v);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
    }
    for (int64_t i = 0; i < want; i++) {
        double x = o.frames > 0 ? info.start + ((double)i + 0.5) * info.duration / (double)want
                 : o.fps > 0   ? info.start + (double)i / o.fps
                               : t[i];
        sel[i] = o.frames > 0 || o.fps > 0 ? shown_at(t, cnt, x, tick) : i;
        v->t[i] = t[sel[i]];
    }
    mmc_free(t);
    v->n = (int)want;
    v->info = info;
    /* pass 2: decode again, convert the chosen frames */
    dec d;
    struct SwsContext *sws = NULL;
    if ((rc = dec_open(&d, bytes, n, name, AVMEDIA_TYPE_VIDEO, err))) {
        mmc_free(sel), mmc_video_free(v);
        return rc;
    }
    int64_t j = 0, k = 0;
    int r = 1;
    rc = MMC_OK;
    while (!rc && k < want && (r = dec_next(&d, err)) == 1) {
        if (d.fr->width != info.w || d.fr->height != info.h) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: decodes differently the second time (frame %lld)", name,
                               (long long)j + 1);
            break;
        }
        if (sel[k] == j) {
            rc = convert(&d, &sws, &info, &o, &v->frames[k], err);
            for (k++; !rc && k < want && sel[k] == j; k++) rc = mmc_image_copy(&v->frames[k], &v->frames[k - 1], err);
        }
        j++;
    }
    dec_close(&d); /* idempotent: a failed dec_next has closed it already */
    if (!rc && r < 0) rc = -r;
    if (!rc && k < want) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: decodes to fewer frames the second time", name);
    sws_freeContext(sws);
    mmc_free(sel);
    if (rc) mmc_video_free(v);
    return rc;
}

int mmc_video_load(mmc_video *v, const char *path, const mmc_video_opts *o, mmc_error *err) {
    memset(v, 0, sizeof *v);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, MMC_VIDEO_MAX_FILE_BYTES, &buf, &n, err);
    if (rc) return rc;
    rc = mmc_video_decode(v, buf, n, path, o, err);
    mmc_free(buf);
    return rc;
}

/* ------------------------------------------------------------- the sound track */

/* The container's name as mmc_audio_info says it. libavformat's one Matroska demuxer reads
 * WebM too; the EBML header's DocType (element 42 82, "webm") tells them apart. */
static const char *sound_container(const dec *d, const uint8_t *b, size_t n) {
    const char *f = d->fmt->iformat->name;
    if (strstr(f, "matroska")) {
        for (size_t k = 4; k + 7 <= n && k < 64; k++)
            if (b[k] == 0x42 && b[k + 1] == 0x82 && b[k + 2] == 0x84 && !memcmp(b + k + 3, "webm", 4)) return "WEBM";
        return "MATROSKA";
    }
    if (strstr(f, "mov") || strstr(f, "mp4")) return "MP4";
    if (strstr(f, "avi")) return "AVI";
    return "other";
}

/* The sample at p in packed format fmt (one of the six libavcodec has) as a double, full
 * scale +-1 as libsndfile normalises integers (s16 / 32768, ...). */
static double sample_at(const uint8_t *p, enum AVSampleFormat fmt) {
    switch (fmt) {
    case AV_SAMPLE_FMT_U8: return ((int)*p - 128) / 128.0;
    case AV_SAMPLE_FMT_S16: { int16_t v; memcpy(&v, p, 2); return v / 32768.0; }
    case AV_SAMPLE_FMT_S32: { int32_t v; memcpy(&v, p, 4); return v / 2147483648.0; }
    case AV_SAMPLE_FMT_S64: { int64_t v; memcpy(&v, p, 8); return (double)v / 9223372036854775808.0; }
    case AV_SAMPLE_FMT_FLT: { float v; memcpy(&v, p, 4); return v; }
    default: { double v; memcpy(&v, p, 8); return v; } /* AV_SAMPLE_FMT_DBL */
    }
}

/* Seconds of sound the container promises for the stream (0: it says nothing): the
 * stream's duration (MP4, compressed audio in AVI); for PCM in AVI its length in samples
 * (nb_frames, in the stream's time base; elsewhere nb_frames counts packets); in Matroska
 * the track's DURATION tag, which muxers write near the head, so a cut file keeps it; else
 * the file's duration when this is its only stream. */
static double sound_promise(const dec *d) {
    const AVStream *st = d->st;
    double tb = av_q2d(st->time_base);
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) return (double)st->duration * tb;
    if (strstr(d->fmt->iformat->name, "avi") && st->nb_frames > 0) return (double)st->nb_frames * tb;
    const AVDictionaryEntry *t = strstr(d->fmt->iformat->name, "matroska") ? av_dict_get(st->metadata, "DURATION", NULL, 0) : NULL;
    int hh, mm;
    double ss;
    if (t && sscanf(t->value, "%d:%d:%lf", &hh, &mm, &ss) == 3 && hh >= 0 && hh < 1000000 && mm >= 0 && mm < 60 && ss >= 0 &&
        ss < 61)
        return hh * 3600.0 + mm * 60.0 + ss;
    if (d->fmt->nb_streams == 1 && d->fmt->duration > 0) return (double)d->fmt->duration / AV_TIME_BASE;
    return 0.0;
}

int mmc_video_decode_sound(mmc_audio *a, const uint8_t *bytes, size_t n, const char *name, int rate, mmc_error *err) {
    if (a) memset(a, 0, sizeof *a);
    av_quiet();
    if (!name) name = "(video)";
    if (!a || (!bytes && n)) return mmc_error_set(err, MMC_ERR_USAGE, "video sound: decode needs an output and bytes");
    if (rate < 0 || rate > MMC_AUDIO_MAX_RATE) return mmc_error_set(err, MMC_ERR_USAGE, "video sound: bad target rate %d", rate);
    if (n > MMC_VIDEO_MAX_FILE_BYTES)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %zu bytes (at most %zu)", name, n, (size_t)MMC_VIDEO_MAX_FILE_BYTES);
    dec d;
    int rc = dec_open(&d, bytes, n, name, AVMEDIA_TYPE_AUDIO, err);
    if (rc) return rc;
    int R = 0, C = 0;
    int64_t got = 0, cap = 0, max_samples = 0;
    float *mono = NULL;
    double t0 = NAN, last = 0; /* the first frame's time; the last frame's length, seconds */
    while ((rc = dec_next(&d, err)) == 1) {
        const AVFrame *f = d.fr;
        if (!R) { /* the first frame fixes the layout: the decoder's, not the header's */
            R = f->sample_rate, C = N_CHANNELS(f);
            max_samples = (int64_t)(MMC_AUDIO_MAX_SECONDS * R);
            int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
            if (ts != AV_NOPTS_VALUE && ts > -(INT64_MAX / 4) && ts < INT64_MAX / 4) t0 = (double)ts * av_q2d(d.st->time_base);
        } else if (f->sample_rate != R || N_CHANNELS(f) != C) {
            mmc_free(mono);
            return dec_fail(&d, err, MMC_ERR_INPUT, "the audio changes from %d Hz, %d channels to %d Hz, %d channels at frame %lld",
                            R, C, f->sample_rate, N_CHANNELS(f), (long long)d.frames);
        }
        int k = f->nb_samples;
        if (got + k > max_samples) {
            mmc_free(mono);
            return dec_fail(&d, err, MMC_ERR_INPUT, "longer than %.0f s", MMC_AUDIO_MAX_SECONDS);
        }
        if (got + k > cap) { /* grows as it decodes: the container's duration is not believed */
            int64_t nc = cap ? cap * 2 : 65536;
            while (nc < got + k) nc *= 2;
            if (nc > max_samples) nc = max_samples;
            float *m = mmc_realloc(mono, sizeof(float) * (size_t)nc);
            if (!m) {
                mmc_free(mono);
                return dec_fail(&d, err, MMC_ERR_RUNTIME, "out of memory");
            }
            mono = m, cap = nc;
        }
        enum AVSampleFormat sf = (enum AVSampleFormat)f->format, pf = av_get_packed_sample_fmt(sf);
        int planar = av_sample_fmt_is_planar(sf), bps = av_get_bytes_per_sample(sf);
        if (pf != AV_SAMPLE_FMT_U8 && pf != AV_SAMPLE_FMT_S16 && pf != AV_SAMPLE_FMT_S32 && pf != AV_SAMPLE_FMT_S64 &&
            pf != AV_SAMPLE_FMT_FLT && pf != AV_SAMPLE_FMT_DBL) {
            const char *fn = av_get_sample_fmt_name(sf);
            mmc_free(mono);
            return dec_fail(&d, err, MMC_ERR_INPUT, "its decoder gives samples as %s, which mmc does not read", fn ? fn : "?");
        }
        for (int i = 0; i < k; i++) {
            double s = 0;
            for (int c = 0; c < C; c++) {
                const uint8_t *p = planar ? f->extended_data[c] + (size_t)i * bps : f->extended_data[0] + ((size_t)i * C + c) * bps;
                double v = sample_at(p, pf);
                /* as the sound-file loader: NaN, infinity and 1e38 would poison a model or
                 * overflow the resampler's sums */
                if (!isfinite(v) || fabs(v) > MMC_AUDIO_MAX_AMPLITUDE) {
                    mmc_free(mono);
                    if (!isfinite(v))
                        return dec_fail(&d, err, MMC_ERR_INPUT, "sample %lld (channel %d) is not a finite number", (long long)(got + i), c);
                    return dec_fail(&d, err, MMC_ERR_INPUT, "sample %lld (channel %d) is %g, over %g times full scale",
                                    (long long)(got + i), c, v, (double)MMC_AUDIO_MAX_AMPLITUDE);
                }
                s += v;
            }
            mono[got + i] = (float)(s / C);
        }
        got += k;
        if (k > 0) last = (double)k / R;
    }
    if (rc < 0) {
        mmc_free(mono);
        return -rc;
    }
    if (!got) {
        mmc_free(mono);
        return dec_fail(&d, err, MMC_ERR_INPUT, "no audio frames (the audio stream decodes to nothing)");
    }
    /* Truncation, as for the frames (pass_times): what decoded against what the container
     * promised for this stream, and with several streams where the packets of all of them
     * end against the file's duration */
    double got_s = (double)got / R;
    double promised_s = sound_promise(&d);
    double st0 = d.st->start_time != AV_NOPTS_VALUE ? (double)d.st->start_time * av_q2d(d.st->time_base) : NAN;
    if (isfinite(t0) && isfinite(st0) && t0 > st0) got_s += t0 - st0;
    double file_s = d.fmt->nb_streams > 1 && d.fmt->duration > 0 ? (double)d.fmt->duration / AV_TIME_BASE : 0.0;
    double file_end = file_s + (d.fmt->start_time != AV_NOPTS_VALUE ? (double)d.fmt->start_time / AV_TIME_BASE : 0.0);
    double all_end = fmax(d.end, (isfinite(t0) ? t0 : 0.0) + (double)got / R);
    const char *container = sound_container(&d, bytes, n);
    char subtype[32];
    snprintf(subtype, sizeof subtype, "%s", avcodec_get_name(d.st->codecpar->codec_id));
    for (char *q = subtype; *q; q++) *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 'a' + 'A' : *q);
    dec_close(&d);
    if (file_s > 0 && all_end < file_end - (1.5 * last + 0.02 + 0.02 * file_s))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated: the file promises %.3f s, its streams end at %.3f s", name,
                           file_end, all_end);
    /* the last frame's length is known here (unlike a video frame's), so the slack is only
     * for timestamps rounded to the container's ticks and codecs' start and end trimming */
    else if (promised_s > 0 && got_s < promised_s - (0.04 + 0.01 * promised_s))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated: the container promises %.3f s of audio, %.3f s decode", name,
                           promised_s, got_s);
    if (rc) {
        mmc_free(mono);
        return rc;
    }
    a->info.rate = R;
    a->info.channels = C;
    a->info.frames = got;
    a->info.duration = (double)got / R;
    snprintf(a->info.format, sizeof a->info.format, "%s", container);
    snprintf(a->info.subtype, sizeof a->info.subtype, "%s", subtype);
    if (rate == 0 || rate == R) {
        a->samples = mono, a->n = got, a->rate = R;
        return MMC_OK;
    }
    rc = mmc_audio_resample(mono, got, R, rate, &a->samples, &a->n, err);
    mmc_free(mono);
    a->rate = rate;
    if (!rc && a->n < 1)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %lld frames at %d Hz are too short to resample to %d Hz", name, (long long)got,
                           R, rate);
    else if (rc && err && strncmp(err->msg, name, strlen(name)) != 0) { /* name the file */
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        mmc_error_set(err, rc, "%s: %.900s", name, msg);
    }
    if (rc) mmc_audio_free(a);
    return rc;
}

/* ------------------------------------------------------------- writing */

typedef struct wbuf { uint8_t *p; size_t n, cap, pos; int oom; } wbuf;

#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define WRITE_CONST const
#else
#define WRITE_CONST
#endif

static int wb_write(void *op, WRITE_CONST uint8_t *buf, int sz) {
    wbuf *w = op;
    if (sz < 0) return AVERROR(EINVAL);
    size_t end = w->pos + (size_t)sz;
    if (end > w->cap) {
        size_t cap = w->cap ? w->cap : 1 << 16;
        while (cap < end) cap *= 2;
        uint8_t *np = mmc_realloc(w->p, cap);
        if (!np) return w->oom = 1, AVERROR(ENOMEM);
        w->p = np, w->cap = cap;
    }
    if (w->pos > w->n) memset(w->p + w->n, 0, w->pos - w->n);
    memcpy(w->p + w->pos, buf, (size_t)sz);
    w->pos = end;
    if (end > w->n) w->n = end;
    return sz;
}

static int64_t wb_seek(void *op, int64_t off, int whence) {
    wbuf *w = op;
    if (whence & AVSEEK_SIZE) return (int64_t)w->n;
    whence &= ~AVSEEK_FORCE;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)w->pos : whence == SEEK_END ? (int64_t)w->n : -1;
    if (base < 0 || base + off < 0) return AVERROR(EINVAL);
    w->pos = (size_t)(base + off);
    return (int64_t)w->pos;
}

typedef struct enc {
    AVFormatContext *oc;
    AVCodecContext *ec, *ac; /* video (FFV1), sound (FLAC; NULL without) */
    AVStream *st, *ast;
    AVFrame *fr, *afr;
    AVPacket *pkt;
    wbuf out;
} enc;

/* Sends frame (NULL: flush) to the encoder cc of stream st and writes what comes out. */
static int enc_drain(enc *e, AVCodecContext *cc, AVStream *st, AVFrame *frame) {
    int r = avcodec_send_frame(cc, frame);
    if (r < 0) return r;
    for (;;) {
        r = avcodec_receive_packet(cc, e->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return 0;
        if (r < 0) return r;
        av_packet_rescale_ts(e->pkt, cc->time_base, st->time_base);
        e->pkt->stream_index = st->index;
        if ((r = av_interleaved_write_frame(e->oc, e->pkt)) < 0) return r;
    }
}

/* The next FLAC frame of the sound: samples from *at on, clipped to [-1, 1] and rounded
 * to 16 bits as q = round(32768 x) held to [-32768, 32767], the inverse of the decoders'
 * q / 32768 (so a round trip is within half a step, a full step at +1). */
static int enc_sound(enc *e, const float *sound, int64_t n_sound, int64_t *at) {
    int chunk = e->ac->frame_size > 0 ? e->ac->frame_size : SOUND_CHUNK; /* what afr holds */
    int k = n_sound - *at > chunk ? chunk : (int)(n_sound - *at);
    int r = av_frame_make_writable(e->afr);
    if (r < 0) return r;
    e->afr->nb_samples = k;
    int16_t *q = (int16_t *)e->afr->data[0];
    for (int i = 0; i < k; i++) {
        double v = sound[*at + i];
        v = v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
        long x = lrint(v * 32768.0);
        q[i] = (int16_t)(x > 32767 ? 32767 : x);
    }
    e->afr->pts = *at;
    *at += k;
    return enc_drain(e, e->ac, e->ast, e->afr);
}

int mmc_video_encode_mkv_sound(const uint8_t *rgb, int n, int w, int h, int fps, const float *sound, int64_t n_sound,
                               int sound_rate, uint8_t **out, size_t *out_n, mmc_error *err) {
    *out = NULL, *out_n = 0;
    av_quiet();
    if (!rgb || n < 1 || n > MMC_VIDEO_MAX_FRAMES || w < 1 || h < 1 || (int64_t)w * h > MMC_VIDEO_MAX_PIXELS || fps < 1 ||
        fps > 1000)
        return mmc_error_set(err, MMC_ERR_USAGE, "video write: bad clip (%d frames of %dx%d at %d fps)", n, w, h, fps);
    if (sound) {
        if (sound_rate < 1 || sound_rate > MMC_AUDIO_MAX_RATE)
            return mmc_error_set(err, MMC_ERR_USAGE, "video write: sound rate %d Hz (1 to %d)", sound_rate, MMC_AUDIO_MAX_RATE);
        if (n_sound < 1 || (double)n_sound > (double)sound_rate * MMC_AUDIO_MAX_SECONDS)
            return mmc_error_set(err, MMC_ERR_USAGE, "video write: %lld sound samples at %d Hz (1 to %.0f s)", (long long)n_sound,
                                 sound_rate, MMC_AUDIO_MAX_SECONDS);
        for (int64_t i = 0; i < n_sound; i++)
            if (!isfinite(sound[i]))
                return mmc_error_set(err, MMC_ERR_USAGE, "video write: sound sample %lld is not a finite number", (long long)i);
    }
    enc e = {0};
    char eb[128];
    const char *what = "out of memory";
    int r = AVERROR(ENOMEM);
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_FFV1);
    if (!codec) return mmc_error_set(err, MMC_ERR_RUNTIME, "video write: this libavcodec has no FFV1 encoder");
    const AVCodec *acodec = sound ? avcodec_find_encoder(AV_CODEC_ID_FLAC) : NULL;
    if (sound && !acodec) return mmc_error_set(err, MMC_ERR_RUNTIME, "video write: this libavcodec has no FLAC encoder");
    uint8_t *iobuf = NULL;
    int64_t at = 0;    /* sound samples sent */
    int flac_rate = 0; /* the FLAC encoder refused the rate */
    if (avformat_alloc_output_context2(&e.oc, NULL, "matroska", NULL) < 0 || !e.oc) goto fail;
    e.oc->flags |= AVFMT_FLAG_BITEXACT;
    if (!(e.st = avformat_new_stream(e.oc, NULL)) || !(e.ec = avcodec_alloc_context3(codec)) || !(e.fr = av_frame_alloc()) ||
        !(e.pkt = av_packet_alloc()))
        goto fail;
    e.ec->width = w, e.ec->height = h;
    e.ec->pix_fmt = AV_PIX_FMT_0RGB32; /* FFV1's 8-bit RGB: native 0x00RRGGBB words (bgr0 bytes here) */
    e.ec->time_base = (AVRational){1, fps};
    e.ec->framerate = (AVRational){fps, 1};
    e.ec->flags |= AV_CODEC_FLAG_BITEXACT;
    e.ec->thread_count = 1;
    e.ec->level = 3; /* FFV1 version 3: per-slice CRCs, so corruption is detected */
    if (e.oc->oformat->flags & AVFMT_GLOBALHEADER) e.ec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    what = "cannot open the FFV1 encoder";
    if ((r = avcodec_open2(e.ec, codec, NULL)) < 0) goto fail;
    what = "cannot set up the stream";
    if ((r = avcodec_parameters_from_context(e.st->codecpar, e.ec)) < 0) goto fail;
    e.st->time_base = e.ec->time_base;
    e.st->avg_frame_rate = e.ec->framerate;
    if (sound) { /* the second stream: mono FLAC, 16-bit, one thread, bit-exact */
        what = "out of memory";
        r = AVERROR(ENOMEM);
        if (!(e.ast = avformat_new_stream(e.oc, NULL)) || !(e.ac = avcodec_alloc_context3(acodec)) || !(e.afr = av_frame_alloc()))
            goto fail;
        e.ac->sample_fmt = AV_SAMPLE_FMT_S16;
        e.ac->sample_rate = sound_rate;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 24, 100)
        av_channel_layout_default(&e.ac->ch_layout, 1);
#else
        e.ac->channels = 1, e.ac->channel_layout = AV_CH_LAYOUT_MONO;
#endif
        e.ac->time_base = (AVRational){1, sound_rate};
        e.ac->flags |= AV_CODEC_FLAG_BITEXACT;
        e.ac->thread_count = 1;
        if (e.oc->oformat->flags & AVFMT_GLOBALHEADER) e.ac->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        what = "cannot open the FLAC encoder";
        if ((r = avcodec_open2(e.ac, acodec, NULL)) < 0) {
            /* the rates FLAC's frame header codes (this libavcodec's rules): a caller's choice */
            if (r == AVERROR(EINVAL)) flac_rate = 1;
            goto fail;
        }
        what = "cannot set up the sound stream";
        if ((r = avcodec_parameters_from_context(e.ast->codecpar, e.ac)) < 0) goto fail;
        e.ast->time_base = e.ac->time_base;
        e.afr->format = AV_SAMPLE_FMT_S16, e.afr->sample_rate = sound_rate;
        e.afr->nb_samples = e.ac->frame_size > 0 ? e.ac->frame_size : SOUND_CHUNK;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 24, 100)
        if ((r = av_channel_layout_copy(&e.afr->ch_layout, &e.ac->ch_layout)) < 0) goto fail;
#else
        e.afr->channels = 1, e.afr->channel_layout = AV_CH_LAYOUT_MONO;
#endif
        what = "out of memory";
        if ((r = av_frame_get_buffer(e.afr, 0)) < 0) goto fail;
    }
    what = "out of memory";
    r = AVERROR(ENOMEM);
    if (!(iobuf = av_malloc(IO_BUF))) goto fail;
    if (!(e.oc->pb = avio_alloc_context(iobuf, IO_BUF, 1, &e.out, NULL, wb_write, wb_seek))) {
        av_free(iobuf);
        goto fail;
    }
    e.oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    what = "cannot write the Matroska header";
    if ((r = avformat_write_header(e.oc, NULL)) < 0) goto fail;
    e.fr->format = AV_PIX_FMT_0RGB32, e.fr->width = w, e.fr->height = h;
    what = "out of memory";
    if ((r = av_frame_get_buffer(e.fr, 0)) < 0) goto fail;
    what = "encoding failed";
    for (int i = 0; i < n; i++) {
        if ((r = av_frame_make_writable(e.fr)) < 0) goto fail;
        const uint8_t *src = rgb + (size_t)i * h * w * 3;
        for (int y = 0; y < h; y++) {
            uint8_t *row = e.fr->data[0] + (size_t)y * e.fr->linesize[0];
            const uint8_t *s = src + (size_t)y * w * 3;
            for (int x = 0; x < w; x++) {
                uint32_t px = (uint32_t)s[3 * x] << 16 | (uint32_t)s[3 * x + 1] << 8 | s[3 * x + 2];
                memcpy(row + 4 * (size_t)x, &px, 4);
            }
        }
        e.fr->pts = i;
        if ((r = enc_drain(&e, e.ec, e.st, e.fr)) < 0) goto fail;
        /* the sound that starts before the next frame, so the muxer's interleaving queue
         * stays short (it would hold every frame until the first sound packet) */
        while (sound && at < n_sound && (double)at * fps < (double)(i + 1) * sound_rate)
            if ((r = enc_sound(&e, sound, n_sound, &at)) < 0) goto fail;
    }
    while (sound && at < n_sound)
        if ((r = enc_sound(&e, sound, n_sound, &at)) < 0) goto fail;
    if ((r = enc_drain(&e, e.ec, e.st, NULL)) < 0) goto fail;
    if (sound && (r = enc_drain(&e, e.ac, e.ast, NULL)) < 0) goto fail;
    what = "cannot finish the Matroska file";
    if ((r = av_write_trailer(e.oc)) < 0) goto fail;
    avio_flush(e.oc->pb);
    if (e.out.oom) {
        what = "out of memory";
        goto fail;
    }
    *out = e.out.p, *out_n = e.out.n;
    e.out.p = NULL;
    r = 0;
fail:
    if (e.oc && e.oc->pb) {
        av_freep(&e.oc->pb->buffer);
        avio_context_free(&e.oc->pb);
    }
    avformat_free_context(e.oc);
    avcodec_free_context(&e.ec);
    avcodec_free_context(&e.ac);
    av_frame_free(&e.fr);
    av_frame_free(&e.afr);
    av_packet_free(&e.pkt);
    mmc_free(e.out.p);
    if (flac_rate)
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "video write: FLAC cannot code a sound rate of %d Hz (it takes 1 to 65,534 Hz, and "
                             "multiples of 10 up to 655,340 Hz)", sound_rate);
    if (r < 0) return mmc_error_set(err, MMC_ERR_RUNTIME, "video write: %s: %s", what, averr(r, eb, sizeof eb));
    return MMC_OK;
}

int mmc_video_encode_mkv(const uint8_t *rgb, int n, int w, int h, int fps, uint8_t **out, size_t *out_n, mmc_error *err) {
    return mmc_video_encode_mkv_sound(rgb, n, w, h, fps, NULL, 0, 0, out, out_n, err);
}

int mmc_video_write_mkv_sound(const char *path, const uint8_t *rgb, int n, int w, int h, int fps, const float *sound,
                              int64_t n_sound, int sound_rate, mmc_error *err) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mmc_video_encode_mkv_sound(rgb, n, w, h, fps, sound, n_sound, sound_rate, &buf, &len, err);
    if (rc) return rc;
    size_t pl = strlen(path);
    char *tmp = mmc_malloc(pl + 32);
    if (!tmp) {
        mmc_free(buf);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    }
    snprintf(tmp, pl + 32, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    mmc_free(tmp);
    mmc_free(buf);
    return rc;
}

int mmc_video_write_mkv(const char *path, const uint8_t *rgb, int n, int w, int h, int fps, mmc_error *err) {
    return mmc_video_write_mkv_sound(path, rgb, n, w, h, fps, NULL, 0, 0, err);
}

int mmc_video_to_chw(const mmc_video *v, float *out, double rescale, const float *mean, const float *std,
                     mmc_error *err) {
    if (!v || v->n < 1 || !v->frames) return mmc_error_set(err, MMC_ERR_USAGE, "video_to_chw: no frames");
    const mmc_image *f0 = &v->frames[0];
    for (int i = 0; i < v->n; i++)
        if (v->frames[i].w != f0->w || v->frames[i].h != f0->h || v->frames[i].c != 3)
            return mmc_error_set(err, MMC_ERR_USAGE, "video_to_chw: frame %d is %dx%dx%d, frame 0 %dx%dx3", i,
                                 v->frames[i].w, v->frames[i].h, v->frames[i].c, f0->w, f0->h);
    size_t per = (size_t)3 * f0->w * f0->h;
    for (int i = 0; i < v->n; i++) mmc_image_to_chw(&v->frames[i], out + (size_t)i * per, rescale, mean, std);
    return MMC_OK;
}
