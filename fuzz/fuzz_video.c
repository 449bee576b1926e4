/* fuzz_video.c — libFuzzer target for video demuxing and decoding from memory
 * (mmc_video_decode: MP4/MOV, Matroska/WebM and AVI through libavformat, any video codec
 * through libavcodec, RGB conversion through libswscale, rotation and resizing), i.e. the
 * path every video file a user hands mmc takes; and the same bytes through
 * mmc_video_decode_sound (the sound track: the same demuxer setup, any audio codec, every
 * sample format to mono float, resampled to 16 kHz when bit 4 of the last byte is set).
 *
 * The input is a whole file. Its last byte steers the sampling (every frame, 1-4 frames
 * uniformly, or 1-8 fps) and whether frames are resized to a small square, so the
 * selection, repetition and resize code runs on whatever the decoders produce. What must
 * hold: a failure says why; a success gives n >= 1 frames of the promised size, with
 * times that never go backwards; sound, n >= 1 finite samples at the rate asked for. FFmpeg's libraries are the system's, not instrumented:
 * coverage feedback sees mmc's side (the memory I/O, limits, sampling, conversion).
 * Seeds: fuzz/seeds/video (tiny clips made with the ffmpeg tool).
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "mmc.h"
#include <math.h>   /* isfinite */
#include <stdlib.h> /* abort */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t k = size ? data[size - 1] : 0;
    mmc_video_opts o = mmc_video_opts_default();
    switch (k & 3) {
    case 0: break; /* every frame */
    case 1: o.frames = 1 + ((k >> 2) & 3); break;
    default: o.fps = 1 + ((k >> 2) & 7); break;
    }
    if (k & 0x20) o.size = 1 + ((k >> 6) & 3) * 5;
    mmc_error err = {0};
    mmc_audio a;
    int rate = k & 0x10 ? 16000 : 0;
    if (mmc_video_decode_sound(&a, data, size, "fuzz.video", rate, &err) != MMC_OK) {
        if (err.code == MMC_OK || !err.msg[0]) abort();
    } else {
        if (a.n < 1 || !a.samples || a.info.channels < 1 || a.info.rate < 1 || (rate && a.rate != rate)) abort();
        for (int64_t i = 0; i < a.n; i++)
            if (!isfinite(a.samples[i])) abort();
        mmc_audio_free(&a);
    }
    err = (mmc_error){0};
    mmc_video v;
    if (mmc_video_decode(&v, data, size, "fuzz.video", &o, &err) != MMC_OK) {
        if (err.code == MMC_OK || !err.msg[0]) abort(); /* a failure must say why */
        return 0;
    }
    if (v.n < 1 || !v.frames || !v.t) abort();
    if (o.frames && v.n != o.frames) abort();
    for (int i = 0; i < v.n; i++) {
        const mmc_image *f = &v.frames[i];
        int w = o.size ? o.size : v.info.out_w, h = o.size ? o.size : v.info.out_h;
        if (f->w != w || f->h != h || f->c != 3 || !f->data) abort();
        if (i && v.t[i] < v.t[i - 1]) abort();
    }
    mmc_video_free(&v);
    return 0;
}
