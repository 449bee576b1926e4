/*
 * mmc/data.h — data (src/data): images (decode, resize, crop, preprocess, augment),
 * Unicode and tokenizers, manifests, the shapes world, the loader and dataset importers.
 */
#ifndef MMC_DATA_H
#define MMC_DATA_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- images */
/* src/data/image.c: decode (PNG, JPEG, PPM/PGM), resize, crop, normalise, augment. */

/* An 8-bit image: h rows top to bottom, w pixels each, c interleaved channels (HWC).
 * Decoders give c = 3 (RGB) or 1 (gray); mmc_image_alloc also takes 4 for callers' RGBA
 * buffers, and resize/crop/flip work on any c. data holds w*h*c bytes from mmc_malloc. */
typedef struct mmc_image {
    int w, h, c;
    uint8_t *data;
} mmc_image;

/* Decoders refuse images with more than this many pixels (w*h), judged from the header
 * before any pixel memory is allocated. Default 178956970, Pillow's MAX_IMAGE_PIXELS.
 * Process-wide; n <= 0 restores the default. */
#define MMC_IMAGE_DEFAULT_MAX_PIXELS 178956970LL
void mmc_image_set_max_pixels(int64_t n);
int64_t mmc_image_max_pixels(void);

/* Decoding. The format is found from the magic bytes, never the file name: PNG (libpng;
 * 1–16 bit gray, gray+alpha, RGB, RGBA, palette, tRNS, interlaced), JPEG (libjpeg-turbo;
 * baseline, progressive, gray, CMYK/YCCK) and PPM/PGM (P2, P3, P5, P6; maxval 1..65535).
 * The pixels are what Pillow's Image.open(f).convert("RGB") gives (channels = 3) or
 * .convert("L") (channels = 1), so models see what they saw in Python:
 *   - alpha and tRNS are dropped, not composited;
 *   - 16-bit RGB(A)/gray+alpha PNG keep the high byte; 16-bit gray PNG and PGM with
 *     maxval > 255 become Pillow's mode "I", whose conversion clips at 255 (not scales);
 *   - PPM/PGM samples are scaled round(v / maxval * 255), half to even;
 *   - 4-channel JPEGs are taken as Adobe-inverted CMYK (Pillow assumes so for all of them),
 *     R = (255-K) - (C*(255-K))/255 rounded;
 *   - gray from colour is L = (19595 R + 38470 G + 7471 B + 32768) >> 16;
 *   - gAMA/iCCP and EXIF orientation are not applied (Image.open does not either);
 *   - JPEG uses libjpeg's defaults (ISLOW DCT, fancy upsampling), as Pillow does.
 * Truncated or corrupt data, zero or oversized dimensions and unknown formats are
 * MMC_ERR_INPUT with a message naming the file; nothing is printed. name is used in
 * messages only. */
int mmc_image_load(mmc_image *img, const char *path, int channels, mmc_error *err);
int mmc_image_decode(mmc_image *img, const uint8_t *bytes, size_t n, const char *name,
                     int channels, mmc_error *err);
/* "png", "jpeg", "ppm" or NULL, from the first bytes. */
const char *mmc_image_format(const uint8_t *bytes, size_t n);

/* A new image (contents uninitialised); MMC_ERR_USAGE for bad sizes, RUNTIME on OOM. */
int mmc_image_alloc(mmc_image *img, int w, int h, int c, mmc_error *err);
void mmc_image_free(mmc_image *img); /* frees data, zeroes the struct; NULL is fine */
int mmc_image_copy(mmc_image *dst, const mmc_image *src, mmc_error *err);

/* Resampling filters, numbered as PIL's Image.Resampling (so a preprocessor_config.json
 * "resample" value can be passed straight through). */
enum {
    MMC_RESAMPLE_NEAREST = 0,
    MMC_RESAMPLE_LANCZOS = 1,
    MMC_RESAMPLE_BILINEAR = 2,
    MMC_RESAMPLE_BICUBIC = 3,
    MMC_RESAMPLE_BOX = 4,
    MMC_RESAMPLE_HAMMING = 5,
};
/* Whose arithmetic to reproduce. Hugging Face has two image-processor families that
 * differ in the last bit: the "slow" ones run Pillow, the "fast" ones (the default from
 * transformers 5) run torchvision on uint8 tensors. */
enum {
    MMC_IMAGE_PIL = 0,         /* Pillow Image.resize; HF slow processors' center_crop */
    MMC_IMAGE_TORCHVISION = 1, /* torchvision resize(antialias=True) / center_crop on uint8 */
};
/* dst = src resized to w x h exactly as Pillow's Image.resize(size, filter) for 8-bit
 * images: separable convolution (horizontal pass, then vertical), the filter support
 * widened by the downscale factor (antialiasing), bicubic a = -0.5, fixed-point weights
 * and uint8 rounding/clipping after each pass. dst must not alias src. */
int mmc_image_resize(const mmc_image *src, mmc_image *dst, int w, int h, int filter,
                     mmc_error *err);
/* The same with a flavour. MMC_IMAGE_TORCHVISION: the same filters and supports but int16
 * weights at a per-axis precision (bilinear and bicubic only); it differs from Pillow by 1
 * in well under 1% of values. */
int mmc_image_resize_ex(const mmc_image *src, mmc_image *dst, int w, int h, int filter,
                        int flavour, mmc_error *err);
/* dst = the w x h window of src at (x, y); parts outside src are zero (black). */
int mmc_image_crop(const mmc_image *src, mmc_image *dst, int x, int y, int w, int h,
                   mmc_error *err);
/* Hugging Face's (slow) center_crop: top = (H - h) // 2, left = (W - w) // 2 (floor), and
 * a smaller image is zero-padded with ceil((h - H) / 2) rows above (likewise columns). */
int mmc_image_center_crop(const mmc_image *src, mmc_image *dst, int w, int h, mmc_error *err);
/* With a flavour. MMC_IMAGE_TORCHVISION: top = round((H - h) / 2) half to even, and a
 * smaller image gets (h - H) // 2 rows of zeros above. */
int mmc_image_center_crop_ex(const mmc_image *src, mmc_image *dst, int w, int h, int flavour,
                             mmc_error *err);
/* Output size of HF's "shortest_edge" resize: the short side becomes `size`, the long
 * side int(size * long / short). */
void mmc_image_shortest_edge_size(int w, int h, int size, int *out_w, int *out_h);
/* out (c, h, w) floats: (v * rescale - mean[k]) / std[k] per channel k, computed as HF's
 * slow image processors do (rescale in double, rounded to f32, then f32 normalisation).
 * mean/std NULL: no normalisation. MMC_IMAGE_TORCHVISION: as the fast processors do,
 * (v - mean * (1/rescale)) / (std * (1/rescale)) in f32 (when normalising). */
void mmc_image_to_chw(const mmc_image *img, float *out, double rescale, const float *mean,
                      const float *std);
void mmc_image_to_chw_ex(const mmc_image *img, float *out, double rescale, const float *mean,
                         const float *std, int flavour);

/* The Hugging Face image-processor recipe, parameter by parameter (the fields of a
 * preprocessor_config.json). CLIP: shortest edge -> bicubic -> centre crop. Chinese-CLIP:
 * straight to (size, size), no crop. flavour picks HF's fast (torchvision, transformers
 * >= 5's default) or slow (Pillow) arithmetic; the constructors below choose the fast one. */
typedef struct mmc_image_preprocess {
    int flavour;             /* MMC_IMAGE_TORCHVISION or MMC_IMAGE_PIL */
    int do_resize;
    int shortest_edge;       /* > 0: resize the short side to this (size.shortest_edge) */
    int resize_w, resize_h;  /* used when shortest_edge == 0 (size.width/height) */
    int resample;            /* MMC_RESAMPLE_* */
    int do_center_crop;
    int crop_w, crop_h;
    int do_rescale;
    double rescale_factor;   /* 1/255 */
    int do_normalize;
    float mean[3], std[3];
} mmc_image_preprocess;
/* The defaults of openai/clip-vit-*: shortest edge `size`, bicubic, crop `crop`, CLIP
 * mean/std, torchvision flavour. */
mmc_image_preprocess mmc_image_preprocess_clip(int size, int crop);
/* The defaults of OFA-Sys/chinese-clip-*: (size, size) bicubic, no crop, CLIP mean/std,
 * torchvision flavour. */
mmc_image_preprocess mmc_image_preprocess_chinese_clip(int size);
/* Runs the recipe on an RGB image; *out is a new persistent (3, H, W) tensor. */
int mmc_image_preprocess_run(const mmc_image_preprocess *p, const mmc_image *img,
                             mmc_tensor **out, mmc_error *err);

/* Augmentations (training). Each draws from rng only, so a seed fixes the result. */
/* torchvision's RandomResizedCrop: a window with area fraction in [scale_lo, scale_hi]
 * and aspect ratio (w/h) log-uniform in [ratio_lo, ratio_hi] (10 tries, then the
 * centre crop fallback), resized to out_w x out_h with `filter`. */
int mmc_image_random_resized_crop(const mmc_image *src, mmc_image *dst, int out_w, int out_h,
                                  float scale_lo, float scale_hi, float ratio_lo,
                                  float ratio_hi, int filter, mmc_rng *rng, mmc_error *err);
void mmc_image_hflip(mmc_image *img);                               /* in place */
/* Flips with probability p; returns 1 if it flipped. */
int mmc_image_random_hflip(mmc_image *img, float p, mmc_rng *rng);
/* torchvision's ColorJitter (brightness, contrast, saturation; 0 disables one): each
 * factor uniform in [max(0, 1 - x), 1 + x], applied in a random order, with Pillow's
 * ImageEnhance blends. In place; saturation needs RGB. */
void mmc_image_color_jitter(mmc_image *img, float brightness, float contrast, float saturation,
                            mmc_rng *rng);

/* (declarations for images go above this line) */

/* ------------------------------------------------------------------- video */
/* src/data/video.c: video files through FFmpeg's libraries (libavformat, libavcodec,
 * libswscale; docs/video.md). Containers MP4/MOV, Matroska/WebM and AVI; any video codec
 * the system's libavcodec decodes (H.264, VP9, MPEG-4, MJPEG, FFV1, ...). The file is
 * untrusted: it is read into memory (at most MMC_VIDEO_MAX_FILE_BYTES) and demuxed from
 * there, only those demuxers are allowed, and nothing else is ever opened (no playlists,
 * no URLs). Limits, each an MMC_ERR_INPUT naming the file when passed: frame size
 * (MMC_VIDEO_MAX_PIXELS), packets read and frames decoded (MMC_VIDEO_MAX_DECODED),
 * duration (MMC_VIDEO_MAX_SECONDS), frames returned (MMC_VIDEO_MAX_FRAMES) and their bytes
 * (MMC_VIDEO_MAX_OUT_BYTES). FFmpeg's own log is silenced (the library never prints). */
#define MMC_VIDEO_MAX_FILE_BYTES ((size_t)1 << 31)
#define MMC_VIDEO_MAX_PIXELS (8192LL * 8192LL)
#define MMC_VIDEO_MAX_DECODED 200000
#define MMC_VIDEO_MAX_SECONDS (24.0 * 3600.0)
#define MMC_VIDEO_MAX_FRAMES 10000
#define MMC_VIDEO_MAX_OUT_BYTES ((size_t)1 << 31)

typedef struct mmc_video_opts {
    int frames;    /* > 0: T frames uniformly over the duration (frame shown at (i + 0.5) D / T) */
    double fps;    /* > 0 (frames == 0): the frame shown at start + k / fps, k = 0, 1, ... */
                   /* both 0: every frame, in presentation order */
    int size;      /* 0: source size (after rotation); > 0: size x size as the image loader
                    * makes it: the short side resized to size, then the centre square */
    int resample;  /* MMC_RESAMPLE_* for that resize; mmc_video_opts_default picks bilinear */
} mmc_video_opts;
mmc_video_opts mmc_video_opts_default(void); /* every frame, source size, bilinear */

typedef struct mmc_video_info {
    int w, h;           /* coded frame size */
    int rotation;       /* clockwise degrees applied to show it as players do: 0, 90, 180, 270 */
    int out_w, out_h;   /* frame size after rotation (before any resize) */
    int64_t decoded;    /* frames the decoder gave */
    double start;       /* timestamp of the first frame, seconds */
    double duration;    /* last timestamp - first + the last gap between frames, seconds */
    double fps;         /* decoded / duration (an average: variable frame rates are fine) */
    char codec[32];     /* libavcodec's decoder name, e.g. "h264" */
    char container[32]; /* the demuxer's name, e.g. "matroska,webm" (truncated) */
} mmc_video_info;

/* Sampled frames: n RGB images (c = 3) and their timestamps in seconds (the presentation
 * time of the frame shown, from the stream's pts, never frame index x frame rate). */
typedef struct mmc_video {
    int n;
    mmc_image *frames;
    double *t;
    mmc_video_info info;
} mmc_video;

/* Decodes a video file (path) or bytes in memory (name is used in messages). Audio-only
 * files ("no video stream"), files whose video decodes to no frame ("no frames"), a
 * decode error anywhere, a stream that ends before the container says (truncated), sizes
 * or counts over the limits: MMC_ERR_INPUT naming the file. Bad opts: MMC_ERR_USAGE. */
int mmc_video_load(mmc_video *v, const char *path, const mmc_video_opts *o, mmc_error *err);
int mmc_video_decode(mmc_video *v, const uint8_t *bytes, size_t n, const char *name,
                     const mmc_video_opts *o, mmc_error *err);
void mmc_video_free(mmc_video *v); /* frees frames and times, zeroes v; NULL is fine */
/* Rotates an RGB/gray image clockwise by 0, 90, 180 or 270 degrees into dst (new). */
int mmc_image_rotate(const mmc_image *src, mmc_image *dst, int degrees, mmc_error *err);
/* The frames as one (T, 3, H, W) float array (out holds n * 3 * h * w floats), each frame as
 * mmc_image_to_chw makes it (rescale, then per-channel mean/std; NULL: none). Frames must
 * share one size (they do unless a caller changed them): else MMC_ERR_USAGE. */
int mmc_video_to_chw(const mmc_video *v, float *out, double rescale, const float *mean,
                     const float *std, mmc_error *err);

/* Writing: n frames of w x h RGB (rgb: n * h * w * 3 bytes) as FFV1 (lossless, 8-bit RGB
 * words) in Matroska at fps frames per second, frame i at time i / fps. Bit-exact output
 * (no encoder string, no random ids), so the same frames give the same bytes, and decoding
 * gives back the frames exactly. mmc_video_write_mkv writes to a temporary name and
 * renames it into place (not fsynced, like mmc_png_write). */
int mmc_video_encode_mkv(const uint8_t *rgb, int n, int w, int h, int fps, uint8_t **out,
                         size_t *out_n, mmc_error *err);
int mmc_video_write_mkv(const char *path, const uint8_t *rgb, int n, int w, int h, int fps,
                        mmc_error *err);
/* The same with a sound track when sound is not NULL: n_sound mono samples at sound_rate Hz
 * as a second stream, FLAC (libavcodec's encoder, 16-bit: each sample clipped to [-1, 1]
 * and rounded to round(32768 x), held to 32767), interleaved with the frames, bit-exact
 * too. sound NULL: exactly mmc_video_encode_mkv (the same bytes). Bad arguments
 * (n_sound < 1 or over MMC_AUDIO_MAX_SECONDS, a rate outside 1..MMC_AUDIO_MAX_RATE or one
 * FLAC cannot code — any below 65,535 Hz, above it multiples of 10 below 655,350 —, a
 * sample that is not finite): MMC_ERR_USAGE. mmc_video_decode_sound (with the audio
 * declarations) reads the sound back. */
int mmc_video_encode_mkv_sound(const uint8_t *rgb, int n, int w, int h, int fps, const float *sound,
                               int64_t n_sound, int sound_rate, uint8_t **out, size_t *out_n,
                               mmc_error *err);
int mmc_video_write_mkv_sound(const char *path, const uint8_t *rgb, int n, int w, int h, int fps,
                              const float *sound, int64_t n_sound, int sound_rate, mmc_error *err);

/* (declarations for video go above this line) */

/* ------------------------------------------------------------------- audio */
/* src/data/audio.c: sound files through libsndfile (WAV 8/16/24/32-bit integer and float,
 * FLAC, Ogg Vorbis/Opus, AIFF, and what else the system's libsndfile reads), mixed down to
 * mono (the mean of the channels) and resampled with libsoxr (its high-quality setting) to
 * the rate asked for. The file is untrusted: it is read into memory (at most
 * MMC_AUDIO_MAX_FILE_BYTES) and parsed from there; a claimed length is checked against what
 * decodes; limits, each an MMC_ERR_INPUT naming the file: duration (MMC_AUDIO_MAX_SECONDS),
 * channels (MMC_AUDIO_MAX_CHANNELS), rate (1 Hz to MMC_AUDIO_MAX_RATE); no frames, NaN or
 * infinite samples, and float samples beyond MMC_AUDIO_MAX_AMPLITUDE are refused too
 * (docs/audio.md). */
#define MMC_AUDIO_MAX_FILE_BYTES ((size_t)1 << 30)
#define MMC_AUDIO_MAX_SECONDS (4.0 * 3600.0)
#define MMC_AUDIO_MAX_CHANNELS 64
#define MMC_AUDIO_MAX_RATE 768000
#define MMC_AUDIO_MAX_AMPLITUDE 1000.0f /* |sample| of a float file: 60 dB over full scale */

typedef struct mmc_audio_info {
    int rate;            /* the file's sample rate, Hz */
    int channels;        /* the file's channels (before the mixdown) */
    int64_t frames;      /* the file's sample frames (as decoded) */
    double duration;     /* frames / rate, seconds */
    char format[32];     /* the container, e.g. "WAV", "FLAC", "OGG", "AIFF" */
    char subtype[32];    /* the encoding, e.g. "PCM_16", "FLOAT", "VORBIS" */
} mmc_audio_info;

/* Mono samples in [-1, 1] (float files may go beyond; they are kept as they are). */
typedef struct mmc_audio {
    float *samples;
    int64_t n;
    int rate;            /* of samples: the rate asked for, or the file's */
    mmc_audio_info info; /* the file as it was */
} mmc_audio;

/* Decodes a sound file (path) or bytes in memory (name is used in messages) to mono at
 * rate Hz (0: the file's own rate, no resampling). */
int mmc_audio_load(mmc_audio *a, const char *path, int rate, mmc_error *err);
int mmc_audio_decode(mmc_audio *a, const uint8_t *bytes, size_t n, const char *name, int rate, mmc_error *err);
/* The sound track of a video file (src/data/video.c): its first audio stream, decoded by
 * libavcodec through the video decoder's hardened demuxer setup (bytes in memory; MP4/MOV,
 * Matroska/WebM and AVI only; nothing else opened), mixed to mono and resampled as above;
 * info.format "MATROSKA", "WEBM", "MP4" or "AVI", info.subtype the codec ("FLAC", "AAC",
 * "OPUS", "VORBIS", "PCM_S16LE", ...). A video without an audio stream, a decode error, a
 * stream that ends clearly before the container's duration (truncated), the limits above:
 * MMC_ERR_INPUT naming the file. mmc_audio_decode (so mmc_audio_load) hands it every file
 * that starts like one of those containers (Matroska's EBML magic 1A 45 DF A3, "ftyp" or
 * "moov" at offset 4, "RIFF" .... "AVI "); libsndfile reads the rest. */
int mmc_video_decode_sound(mmc_audio *a, const uint8_t *bytes, size_t n, const char *name, int rate, mmc_error *err);
void mmc_audio_free(mmc_audio *a); /* frees samples, zeroes a; NULL is fine */
/* Resamples n mono samples from rate_in to rate_out with libsoxr's high quality (the
 * loader's resampler): *out (mmc_malloc'd), *n_out samples. */
int mmc_audio_resample(const float *in, int64_t n, int rate_in, int rate_out, float **out, int64_t *n_out,
                       mmc_error *err);

/* Writes n mono samples at rate Hz to path as "ogg" (Vorbis at its lowest quality
 * setting: ~25 kbit/s for speech at 16 kHz), "flac" (16-bit) or "wav" (16-bit PCM), through a temporary name
 * renamed into place. Samples beyond [-1, 1] are clipped for the 16-bit formats. */
int mmc_audio_write(const char *path, const float *samples, int64_t n, int rate, const char *format, mmc_error *err);

/* src/data/shapes_speech.c: spoken captions of the shapes world, synthesised with eSpeak NG
 * (Debian's libespeak-ng, called as a library; English voices and Mandarin "cmn"). Each
 * utterance is the voice, speed (words a minute) and pitch drawn for it, resampled to
 * 16 kHz. The test and val splits use voice variants that train never uses, so a model
 * that scores on them hears words, not one speaker (docs/audio.md lists them). */
typedef struct mmc_speech_opts {
    int per_scene;      /* spoken captions per scene and language (default 1) */
    int en, zh;         /* languages to speak (default both) */
    char format[8];     /* "ogg" (default), "flac" or "wav" */
    int64_t max_scenes; /* speak the first max_scenes scenes of a split (0: all) */
} mmc_speech_opts;
mmc_speech_opts mmc_speech_opts_default(void);
/* Speaks the captions of DIR/manifest-SPLIT.jsonl (a shapes split already written): writes
 * DIR/audio/ID-LANG-K.FORMAT and rewrites the manifest (atomically, last) with each
 * sample's "audio" list. The choice of caption, voice, speed and pitch depends only on
 * (seed, split, index), not on the thread count (mmc_get_threads(): the synthesis itself is
 * serialised, it keeps global state; resampling and encoding run in parallel). */
int mmc_shapes_speak_split(const char *dir, const char *split, uint64_t seed, const mmc_speech_opts *o,
                           void (*progress)(void *user, int64_t done, int64_t total), void *user, mmc_error *err);
/* One utterance: text in a voice ("en-us+m3", "cmn+f2") at rate words a minute and pitch
 * 0..100 -> *out (mmc_malloc'd) mono samples at 16 kHz. */
int mmc_speech_synth(const char *text, const char *voice, int rate, int pitch, float **out, int64_t *n, mmc_error *err);

/* src/data/audio_mel.c: log-mel spectrogram features as Whisper's front end computes them
 * (whisper/audio.py log_mel_spectrogram), so a Whisper-style encoder could load pretrained
 * weights: 16 kHz, a periodic Hann window of n_fft 400, hop 160, centred frames (reflect
 * padding of n_fft/2 at both ends) with the last frame dropped, power spectrum |X|^2,
 * n_mels 80 triangular filters on the Slaney mel scale with Slaney area normalisation
 * (librosa.filters.mel's defaults, fmin 0, fmax rate/2), then
 *     L = log10(max(mel, 1e-10));  L = max(L, max(L) - 8);  L = (L + 4) / 4.
 * Parity with a torch.stft reference: tests/fixtures/audio (tools/gen_audio_fixtures.py). */
typedef struct mmc_logmel_opts {
    int rate;      /* Hz the samples are at (16000) */
    int n_fft;     /* window and FFT size (400) */
    int hop;       /* samples between frames (160) */
    int n_mels;    /* mel bands (80; Whisper large-v3 uses 128) */
    float fmin, fmax; /* Hz; fmax 0 = rate / 2 */
} mmc_logmel_opts;
mmc_logmel_opts mmc_logmel_opts_whisper(void);
/* n samples -> *out (mmc_malloc'd) of n_mels rows x *n_frames columns (row-major, as
 * Whisper's (80, T) tensor), *n_frames = n / hop. n must be > n_fft / 2 (reflect padding
 * needs it): else MMC_ERR_INPUT. Bad opts: MMC_ERR_USAGE. */
int mmc_logmel(const float *samples, int64_t n, const mmc_logmel_opts *o, float **out, int *n_frames, mmc_error *err);
/* The (n_mels, n_fft / 2 + 1) Slaney mel filterbank the features use (out: mmc_malloc'd). */
int mmc_mel_filters(const mmc_logmel_opts *o, float **out, mmc_error *err);

/* (declarations for audio go above this line) */

/* --------------------------------------------------------------------- text */
/* src/data/unicode.c, src/data/tokenizer_*.c: Unicode classes and tokenizers (UTF-8
 * validation, src/core/utf8.c, is in mmc/core.h). */

/* Character classes from the Unicode Character Database (tables generated from Python's
 * unicodedata by tools/gen_unicode_tables.py; version in mmc_unicode_version()). They
 * cover the whole code space, not only the scripts we test. */
const char *mmc_unicode_version(void);
int mmc_unicode_is_letter(uint32_t cp);      /* general category L* */
int mmc_unicode_is_number(uint32_t cp);      /* N* */
int mmc_unicode_is_mark(uint32_t cp);        /* M* (Mn, Mc, Me) */
int mmc_unicode_is_space(uint32_t cp);       /* the White_Space property (regex \s) */
/* BERT's BasicTokenizer definitions: whitespace is space, \t, \n, \r or Zs; control is
 * any C* category (Cc, Cf, Co, Cn) except \t \n \r; punctuation is ASCII 33-47, 58-64,
 * 91-96, 123-126 or any P* category; CJK is BERT's list of CJK ideograph blocks (URO,
 * Ext A-E, compatibility ideographs and their supplement). */
int mmc_unicode_is_bert_whitespace(uint32_t cp);
int mmc_unicode_is_bert_control(uint32_t cp);
int mmc_unicode_is_bert_punct(uint32_t cp);
int mmc_unicode_is_cjk(uint32_t cp);

/* Code-point string transforms. Each returns a new mmc_malloc'd array (free with
 * mmc_free) and its length in *out_n, or NULL on out of memory.
 *   lower: Unicode lowercase as Python's str.lower() for single characters, including
 *     U+0130 -> "i" U+0307; not done: the context rule for final sigma (Σ always -> σ).
 *   nfd / nfc: canonical decomposition / composition (Hangul included), full UCD tables.
 *   strip_accents: NFD, then drop every mark (M*), as the tokenizers crate's BertNormalizer
 *     does (Python's BasicTokenizer drops only Mn; the two differ only on Mc/Me marks). */
uint32_t *mmc_unicode_lower(const uint32_t *cps, size_t n, size_t *out_n);
uint32_t *mmc_unicode_nfd(const uint32_t *cps, size_t n, size_t *out_n);
uint32_t *mmc_unicode_nfc(const uint32_t *cps, size_t n, size_t *out_n);
uint32_t *mmc_unicode_strip_accents(const uint32_t *cps, size_t n, size_t *out_n);

/* Tokenizers. One type, four kinds:
 *   WORD       built from training texts: lowercase, split on whitespace and punctuation
 *              (each punctuation character is a token); specials <pad>=0 <unk>=1
 *              <start>=2 <end>=3; decode joins tokens with spaces.
 *   CHAR       for Chinese: one token per CJK ideograph, per digit and per punctuation
 *              or symbol character; each run of other letters (Latin, Greek, ...) is one
 *              lowercased word; same specials; decode joins with no space except between
 *              two word/number tokens (so "红色的 car" -> "红色的car", "red car" stays).
 *   CLIP_BPE   CLIP's byte-level BPE as transformers 5 (tokenizers backend) runs it:
 *              NFC, whitespace runs -> " ", lowercase, the CLIP split regex, bytes ->
 *              unicode, BPE with "</w>", <|startoftext|> ... <|endoftext|>.
 *   WORDPIECE  BERT: clean text (drop NUL, U+FFFD, controls; whitespace -> " "), space
 *              around CJK ideographs, optional lowercase + accent strip, split on
 *              whitespace and punctuation, greedy longest-match WordPiece with "##",
 *              words over 100 characters -> [UNK]; [CLS] ... [SEP].
 * Special-token strings in the text (e.g. "<|endoftext|>", "[SEP]") are matched before
 * normalisation and map to their ids, as transformers does for added tokens (BPE and
 * WordPiece only). Truncation to max_len keeps the end token ([SEP], <|endoftext|>,
 * <end>) last. Every loader reports bad files as MMC_ERR_INPUT naming the file (and the
 * line for text files); text that is not valid UTF-8 is MMC_ERR_INPUT with its offset. */
typedef struct mmc_tokenizer mmc_tokenizer;

typedef enum mmc_tokenizer_kind {
    MMC_TOK_WORD = 1,
    MMC_TOK_CHAR = 2,
    MMC_TOK_CLIP_BPE = 3,
    MMC_TOK_WORDPIECE = 4,
} mmc_tokenizer_kind;

/* CLIP BPE from vocab.json + merges.txt ("#version" header line optional). */
mmc_tokenizer *mmc_tokenizer_load_clip(const char *vocab_json, const char *merges_txt,
                                       mmc_error *err);
/* CLIP BPE from a tokenizer.json whose model is BPE (merges as "a b" or ["a", "b"]). */
mmc_tokenizer *mmc_tokenizer_load_clip_json(const char *tokenizer_json, mmc_error *err);
/* A Hugging Face model folder: tokenizer.json if present, else vocab.json + merges.txt
 * (CLIP), or vocab.txt (+ tokenizer_config.json) for BERT folders. */
mmc_tokenizer *mmc_tokenizer_load_dir(const char *dir, mmc_error *err);

/* WordPiece options; mmc_wordpiece_defaults() gives BERT's: lowercase on, strip accents
 * following lowercase (-1), CJK splitting on, 100 chars per word. */
typedef struct mmc_wordpiece_opts {
    int do_lower_case;          /* 1/0 */
    int strip_accents;          /* 1, 0, or -1: same as do_lower_case */
    int tokenize_chinese_chars; /* 1/0 */
    int max_chars_per_word;     /* longer words become [UNK] */
} mmc_wordpiece_opts;
mmc_wordpiece_opts mmc_wordpiece_defaults(void);
/* Reads do_lower_case, strip_accents (null -> -1) and tokenize_chinese_chars from a
 * tokenizer_config.json into *o (keys absent keep their value; wrong types are errors). */
int mmc_wordpiece_read_config(const char *tokenizer_config_json, mmc_wordpiece_opts *o,
                              mmc_error *err);
/* vocab.txt: one token per line, id = line number - 1; needs [UNK], [CLS], [SEP]
 * ([PAD] and [MASK] optional). opts NULL = defaults. */
mmc_tokenizer *mmc_tokenizer_load_wordpiece(const char *vocab_txt,
                                            const mmc_wordpiece_opts *opts, mmc_error *err);

/* Builds a WORD or CHAR vocabulary from n training texts: the 4 specials, then every
 * token seen at least min_count times, most frequent first (ties: byte order).
 * max_vocab > 0 caps the size (specials included). */
mmc_tokenizer *mmc_tokenizer_build_word(const char *const *texts, int n, int min_count,
                                        int max_vocab, mmc_error *err);
mmc_tokenizer *mmc_tokenizer_build_char(const char *const *texts, int n, int min_count,
                                        int max_vocab, mmc_error *err);
/* WORD/CHAR vocabularies as JSON: {"kind": "word"|"char", "tokens": [...]} (the token at
 * index i has id i). to_json returns an mmc_malloc'd string (for a run's config.json). */
char *mmc_tokenizer_to_json(const mmc_tokenizer *t, mmc_error *err);
mmc_tokenizer *mmc_tokenizer_from_json(const char *json, size_t len, const char *name,
                                       mmc_error *err);
int mmc_tokenizer_save(const mmc_tokenizer *t, const char *path, mmc_error *err);
mmc_tokenizer *mmc_tokenizer_load(const char *path, mmc_error *err); /* what save wrote */

void mmc_tokenizer_free(mmc_tokenizer *t);

/* Encodes len bytes of text (len may be (size_t)-1 for a NUL-terminated string). With
 * add_special the start/end (or [CLS]/[SEP]) tokens frame the ids. max_len > 0 truncates
 * to that many ids in all, the end token kept last; 0 = no limit. *ids is mmc_malloc'd
 * (free with mmc_free), *n its length. */
int mmc_tokenizer_encode(const mmc_tokenizer *t, const char *text, size_t len,
                         int add_special, int max_len, int32_t **ids, int *n, mmc_error *err);
/* Encodes n texts (NUL-terminated) into ids[n * max_len] and mask[n * max_len] (caller's
 * arrays; mask may be NULL): specials added, truncated to max_len, then padded with the
 * pad id (mask 1 for real tokens, 0 for padding), as transformers' padding="max_length". */
int mmc_tokenizer_encode_batch(const mmc_tokenizer *t, const char *const *texts, int n,
                               int max_len, int32_t *ids, int32_t *mask, mmc_error *err);
/* Text for ids, mmc_malloc'd. skip_special drops pad/start/end/cls/sep/mask tokens.
 * CLIP: byte-level decode ("</w>" -> space; bytes that do not form UTF-8 -> U+FFFD);
 * WordPiece: words joined by spaces, "##" pieces glued on. Ids out of range are
 * MMC_ERR_INPUT. */
char *mmc_tokenizer_decode(const mmc_tokenizer *t, const int32_t *ids, int n,
                           int skip_special, mmc_error *err);

mmc_tokenizer_kind mmc_tokenizer_kind_of(const mmc_tokenizer *t);
int mmc_tokenizer_vocab_size(const mmc_tokenizer *t);
const char *mmc_tokenizer_token(const mmc_tokenizer *t, int id); /* NULL if out of range */
int mmc_tokenizer_token_id(const mmc_tokenizer *t, const char *token); /* -1 if absent */
/* Special ids, -1 where the kind has none. CLIP: start = <|startoftext|>, end = pad = unk =
 * <|endoftext|>. WordPiece: start = cls = [CLS], end = sep = [SEP]. */
typedef struct mmc_tokenizer_specials {
    int pad, unk, start, end, cls, sep, mask;
} mmc_tokenizer_specials;
mmc_tokenizer_specials mmc_tokenizer_special_ids(const mmc_tokenizer *t);

/* (declarations for text go above this line) */

/* ----------------------------------------------------------------- datasets */
/* src/data/manifest.c, src/data/shapes.c: manifests and the synthetic shapes world. */

/* PNG writing (src/data/png_write.c): 8-bit pixels, row-major, channels 1 (grey), 2 (grey +
 * alpha), 3 (RGB) or 4 (RGBA); fast compression. Written to a temporary name and renamed,
 * so a reader never sees a torn file. Not fsynced: images of a dataset are regenerable,
 * and a dataset's commit point is its manifest (written last, with fsync). */
int mmc_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels,
                  mmc_error *err);

/* Manifests (src/data/manifest.c): a dataset folder holds manifest-SPLIT.jsonl, one JSON
 * object per line (docs/formats.md):
 *   {"id", "image", "video", "captions": [..], "captions_zh": [..],
 *    "qa": [{"question", "answer", "type"}], "label"}
 * id and image are required (with MMC_MANIFEST_IMAGE_OPTIONAL: an image or a video);
 * image and video are paths relative to the folder (no leading '/', no "..", no control
 * characters). Unknown fields are ignored. All strings are UTF-8. */
typedef struct mmc_qa {
    char *question;
    char *answer;
    char *type; /* e.g. "colour", "shape", "count", "existence", "spatial"; NULL if absent */
} mmc_qa;

/* A spoken version of a caption: the sound file (relative, the same rules as image), the
 * language ("en", "zh"), what it says, and the voice that said it (NULL if absent). */
typedef struct mmc_audio_ref {
    char *path;
    char *lang;
    char *text;
    char *voice;
} mmc_audio_ref;

typedef struct mmc_sample {
    char *id;
    char *image;       /* relative to the dataset folder, never absolute, never ".."; NULL only
                        * in a manifest loaded with MMC_MANIFEST_IMAGE_OPTIONAL */
    char *video;       /* e.g. "videos/x.mkv", the same rules as image; NULL if absent */
    char **captions;   /* English */
    int n_captions;
    char **captions_zh; /* Chinese */
    int n_captions_zh;
    mmc_qa *qa;
    int n_qa;
    char *label;       /* NULL if absent (a JSON number is kept as its text) */
    mmc_audio_ref *audio; /* spoken captions ("audio": [{"path", "lang", "text", "voice"}]) */
    int n_audio;
} mmc_sample;

typedef struct mmc_manifest {
    char *dir;  /* the dataset folder: image paths are relative to it */
    char *path; /* the manifest file, for messages */
    mmc_sample *samples;
    int count;
} mmc_manifest;

#define MMC_MANIFEST_MAX_LINE (1u << 20)     /* bytes per line */
#define MMC_MANIFEST_MAX_SAMPLES 10000000    /* lines per file */
#define MMC_MANIFEST_MAX_BYTES ((size_t)1 << 31)
#define MMC_MANIFEST_MAX_ITEMS 10000         /* captions or qa pairs per sample */

/* Loads DIR/manifest-SPLIT.jsonl (split: [a-z0-9_-]+, e.g. "train"). The file is untrusted:
 * a malformed line fails the whole load with MMC_ERR_INPUT naming the file and line
 * (invalid UTF-8, not an object, missing or non-string id/image, absolute or escaping
 * image path, wrong types, line over MMC_MANIFEST_MAX_LINE, duplicate id, no samples).
 * Blank lines are skipped. Returns NULL with err set on failure. */
mmc_manifest *mmc_manifest_load(const char *dir, const char *split, mmc_error *err);
/* The same from memory; name is used in messages, dir becomes m->dir. */
mmc_manifest *mmc_manifest_parse(const char *name, const char *dir, const char *text,
                                 size_t n, mmc_error *err);
/* The same, where flags may hold MMC_MANIFEST_IMAGE_OPTIONAL: a sample may have a video and
 * no image (video tasks). Readers of images use the plain loaders, which refuse such a
 * sample (naming it), so an image path is never NULL for them. */
#define MMC_MANIFEST_IMAGE_OPTIONAL 1u
mmc_manifest *mmc_manifest_load_ex(const char *dir, const char *split, unsigned flags, mmc_error *err);
mmc_manifest *mmc_manifest_parse_ex(const char *name, const char *dir, const char *text, size_t n,
                                    unsigned flags, mmc_error *err);
/* Checks that every image and video the samples name exists as a regular file under m->dir
 * (MMC_ERR_INPUT names the first missing one and its sample). */
int mmc_manifest_check_images(const mmc_manifest *m, mmc_error *err);
void mmc_manifest_free(mmc_manifest *m);
void mmc_sample_free(mmc_sample *s); /* frees what s holds, not s itself */

/* One sample as a single-line JSON object (no newline); mmc_free it. NULL if the sample is
 * invalid (what the reader would refuse: missing id/image, bad image path, text that is not
 * UTF-8) or on OOM. */
char *mmc_sample_to_json(const mmc_sample *s);
/* Writes samples as JSONL atomically (temp, fsync, rename). MMC_ERR_USAGE for an invalid
 * sample (index named), MMC_ERR_RUNTIME for I/O. */
int mmc_manifest_write(const char *path, const mmc_sample *samples, int n, mmc_error *err);

/* Dataset statistics (src/data/dataset_stats.c). */
/* Fraction of samples whose first caption no other sample has (0 if n == 0; samples
 * without captions count as not unique): the ceiling of text->image retrieval R@1. */
double mmc_captions_unique_rate(const mmc_sample *samples, int n);

/* Answer distribution of one QA type: a blind model that always says `majority` scores
 * majority_count / total; yes/no questions should split about evenly. */
typedef struct mmc_qa_type_stats {
    char type[32];
    int total;           /* questions of this type */
    int yes, no;         /* answers "yes" / "no" */
    int distinct;        /* distinct answers */
    char majority[64];   /* the most frequent answer (ties: the smallest string) */
    int majority_count;
    char open_majority[64]; /* the same over open questions (answers other than yes/no) */
    int open_majority_count;
} mmc_qa_type_stats;
/* Fills out[0..] with one entry per type (in order of first appearance, at most max; a
 * NULL type counts as "") and returns the number of types, or -1 on OOM. */
int mmc_qa_stats(const mmc_sample *samples, int n, mmc_qa_type_stats *out, int max);

/* The shapes world (src/data/shapes*.c): synthetic scenes of 1-4 objects, each a shape in a
 * colour and a size, on a plain dark background, with captions in English and Chinese and
 * balanced QA pairs. Deterministic: scene (seed, split, index) draws from its own rng
 * stream, so scenes can be made in any order or in parallel and come out the same.
 *
 * A scene's objects are sorted left to right; the first caption names every object (size,
 * colour, shape) and how consecutive ones relate (left of / above / below), or for a lone
 * object where it is, so it singles the scene out among ~1000 others. label = the shape
 * of the leftmost object (the first one the caption names): 6 balanced classes.
 * QA types: colour, shape, count, existence, spatial; each has open and yes/no questions
 * (existence: yes/no only), yes/no answers drawn 50/50. */
enum { MMC_SHAPE_CIRCLE, MMC_SHAPE_SQUARE, MMC_SHAPE_TRIANGLE, MMC_SHAPE_DIAMOND,
       MMC_SHAPE_STAR, MMC_SHAPE_CROSS, MMC_SHAPES_N_SHAPES };
#define MMC_SHAPES_N_COLOURS 8
#define MMC_SHAPES_MAX_OBJECTS 4

typedef struct mmc_shape_obj {
    int shape;      /* MMC_SHAPE_* */
    int colour;     /* 0..MMC_SHAPES_N_COLOURS-1 */
    int large;      /* 1 large, 0 small */
    float cx, cy;   /* centre in pixels, y down */
    float r;        /* outer radius in pixels (the object stays inside this circle) */
} mmc_shape_obj;

typedef struct mmc_shapes_scene {
    int size;       /* image side in pixels */
    int n;          /* objects, 1..MMC_SHAPES_MAX_OBJECTS */
    mmc_shape_obj obj[MMC_SHAPES_MAX_OBJECTS]; /* sorted by cx */
} mmc_shapes_scene;

const char *mmc_shapes_shape_name(int shape);    /* "circle", ...; NULL if out of range */
const char *mmc_shapes_colour_name(int colour);  /* "red", ... */
const char *mmc_shapes_shape_name_zh(int shape); /* "圆形", ... */
const char *mmc_shapes_colour_name_zh(int colour);
void mmc_shapes_colour_rgb(int colour, uint8_t rgb[3]);
void mmc_shapes_background_rgb(uint8_t rgb[3]);

/* Makes scene `index` of `split` ("train", "val", "test", ...) at size x size pixels (8 to
 * 1024). Any of scene, rgb (size*size*3 bytes) and sample may be NULL to skip that part.
 * The sample gets id "SPLIT-NNNNNN" and image "images/SPLIT-NNNNNN.png". */
int mmc_shapes_make(uint64_t seed, const char *split, int64_t index, int size,
                    mmc_shapes_scene *scene, uint8_t *rgb, mmc_sample *sample, mmc_error *err);

/* Writes n scenes of split into dir: dir/images/SPLIT-NNNNNN.png and dir/manifest-SPLIT.jsonl (last,
 * atomically). Uses mmc_get_threads() threads. progress (may be NULL) is called from the
 * calling thread after each batch with (done, n). */
typedef void (*mmc_progress_fn)(void *user, int64_t done, int64_t total);
int mmc_shapes_write_split(const char *dir, const char *split, int64_t n, uint64_t seed,
                           int size, mmc_progress_fn progress, void *user, mmc_error *err);

/* The moving-shapes world (src/data/shapes_video.c, docs/video.md): clips of `frames`
 * frames (2-64) of 1-3 shapes from the image world (same shapes, colours and sizes) in
 * which shapes move (left, right, up, down), grow, shrink, change colour, appear or
 * disappear, while the others stay still. Every clip has at least one event, and each
 * event played backwards is another event (left <-> right, grow <-> shrink, red -> blue
 * <-> blue -> red, appear <-> disappear), so a reversed clip needs a different caption.
 * Positions and radii are interpolated symmetrically, so rendering the reversed clip gives
 * exactly the frames in reverse order. QA types: count_moving (0, 1, 2 uniform),
 * direction (4 uniform), appear ("what appears?" / "what disappears?"), colour_change,
 * size_change (grow/shrink 50/50). Deterministic per (seed, split, index). */
enum { MMC_EVENT_STILL, MMC_EVENT_MOVE, MMC_EVENT_GROW, MMC_EVENT_SHRINK, MMC_EVENT_RECOLOUR,
       MMC_EVENT_APPEAR, MMC_EVENT_DISAPPEAR, MMC_EVENTS_N };
enum { MMC_DIR_LEFT, MMC_DIR_RIGHT, MMC_DIR_UP, MMC_DIR_DOWN }; /* where a mover goes */
#define MMC_SHAPES_CLIP_MAX_OBJECTS 3
#define MMC_SHAPES_CLIP_MAX_FRAMES 64

typedef struct mmc_shape_track {
    int shape, event, dir;  /* MMC_SHAPE_*, MMC_EVENT_*, MMC_DIR_* (movers) */
    int large;              /* size word of objects that keep their size */
    int colour0, colour1;   /* before and from frame `change` on (recolour) */
    int visible0, visible1; /* likewise (appear, disappear) */
    int change;             /* 1..frames-1: the frame a discrete change shows first */
    float x0, y0, r0;       /* centre and outer radius at the first frame, pixels */
    float x1, y1, r1;       /* at the last frame; linear in between */
} mmc_shape_track;

typedef struct mmc_shapes_clip {
    int size, frames, n;
    mmc_shape_track obj[MMC_SHAPES_CLIP_MAX_OBJECTS];
} mmc_shapes_clip;

/* Clip `index` of split at size x size, `frames` frames. Any of clip, rgb (frames * size *
 * size * 3 bytes) and sample may be NULL. The sample gets id "SPLIT-NNNNNN", video
 * "videos/SPLIT-NNNNNN.mkv" and image "images/SPLIT-NNNNNN.png" (the first frame). */
int mmc_shapes_clip_make(uint64_t seed, const char *split, int64_t index, int size, int frames,
                         mmc_shapes_clip *clip, uint8_t *rgb, mmc_sample *sample, mmc_error *err);
void mmc_shapes_clip_render(const mmc_shapes_clip *c, uint8_t *rgb); /* all frames */
void mmc_shapes_clip_reverse(mmc_shapes_clip *c); /* the same clip played backwards */
/* Captions (EN, ZH) and QA of a clip, phrasing drawn from rng; fills out but id, image
 * and video. MMC_OK or MMC_ERR_RUNTIME (OOM). */
int mmc_shapes_clip_describe(const mmc_shapes_clip *c, mmc_rng *rng, mmc_sample *out);
/* Writes n clips of split into dir: videos/SPLIT-NNNNNN.mkv (FFV1, lossless, fps frames
 * per second), images/SPLIT-NNNNNN.png (the first frame) and manifest-SPLIT.jsonl (last). */
int mmc_shapes_write_video_split(const char *dir, const char *split, int64_t n, uint64_t seed,
                                 int size, int frames, int fps, mmc_progress_fn progress,
                                 void *user, mmc_error *err);

/* The sounding-shapes world (`mmc data shapes --video --audio`, docs/audio.md): clips as
 * above with a sound track, for audio-visual classification that neither modality can do
 * alone. Each clip has 2 or 3 objects with an event, all of different kinds and every
 * object of a different colour; exactly one of the events is heard, each kind with its own
 * sound (move: a band of noise swelling and fading; grow: a tone gliding up an octave;
 * shrink: gliding down; recolour: one note, then a fifth higher from the frame the colour
 * changes; appear: a plucked note from the frame it appears; disappear: a steady note cut
 * with a click when it goes), at a random pitch and loudness over a little background
 * noise. The label is the colour of the object that makes the sound: the sound says which
 * kind of event (not the colour), the frames show every event and colour (not which one
 * is heard). Streams apart from the silent world's clips; deterministic per (seed, split,
 * index). *sound (mmc_malloc'd, may be NULL to skip) gets frames / fps seconds of mono
 * samples at MMC_SHAPES_SOUND_RATE; *who the index in clip->obj of the sounding object. */
#define MMC_SHAPES_SOUND_RATE 16000
int mmc_shapes_av_clip_make(uint64_t seed, const char *split, int64_t index, int size, int frames, int fps,
                            mmc_shapes_clip *clip, uint8_t *rgb, float **sound, int64_t *n_sound, int *who,
                            mmc_sample *sample, mmc_error *err);
/* The sound of clip c's object `who` (its event's kind) into out (n = frames·rate/fps
 * samples), pitch, loudness and noise drawn from rng. */
void mmc_shapes_clip_sound(const mmc_shapes_clip *c, int who, int fps, int rate, mmc_rng *rng, float *out, int64_t n);
/* Writes n sounding clips: videos/SPLIT-NNNNNN.mkv (FFV1 + a FLAC sound track),
 * images/SPLIT-NNNNNN.png (the first frame), manifest-SPLIT.jsonl with "label" (the colour
 * of the sounding object) beside the clip's captions and questions. */
int mmc_shapes_write_av_split(const char *dir, const char *split, int64_t n, uint64_t seed, int size, int frames,
                              int fps, mmc_progress_fn progress, void *user, mmc_error *err);

/* -- loader (src/data/loader.c) -- */
/* Batches of (image, caption choice) over a manifest, prepared ahead by worker threads.
 *
 * The stream is global batch g = epoch * batches_per_epoch + b, in order. In training the
 * order within an epoch is a permutation drawn from (seed, epoch); sample at position p of
 * epoch e draws its caption choice and augmentation from its own rng stream (seed, e, p),
 * so batches are bit-identical for any number of workers, and a saved state (epoch, batch)
 * resumes bit-exactly. Eval mode: manifest order, no augmentation, caption 0.
 *
 * Image path: decode (RGB) -> training with random resized crop: the crop is taken from
 * the decoded image (from the S x S base image when cached); otherwise the base image:
 * short side resized to S, centre crop S x S (no resize if already S x S) -> horizontal
 * flip, colour jitter (training) -> (v / 255 - mean) / std into (3, S, S) floats.
 * With `cache`, each sample's S x S base image is kept (uint8) after its first decode, so
 * later epochs skip decoding. Batch buffers are allocated once; with the cache warm and no
 * random resized crop, producing a batch makes no allocation at all (decoding and
 * resizing allocate).
 *
 * A missing or corrupt image is reported by mmc_loader_next as MMC_ERR_INPUT naming the
 * file and the sample, in stream order (the batches before it come out normally); the
 * loader then keeps returning that error until mmc_loader_set_state or mmc_loader_free. */
typedef struct mmc_loader mmc_loader;

typedef struct mmc_loader_opts {
    int batch_size;          /* B >= 1 */
    int image_size;          /* S >= 1: images come out (3, S, S) */
    int train;               /* 1: shuffle, augment, random caption; 0: eval */
    int drop_last;           /* 1: an epoch's final partial batch is skipped */
    int epochs;              /* the stream ends after this many epochs; 0: never ends */
    uint64_t seed;
    int workers;             /* decode threads, 1..64 */
    int prefetch;            /* batch buffers in the ring, >= 2 (batches ready ahead) */
    int cache;               /* keep decoded S x S images in memory (uint8) */
    int resample;            /* MMC_RESAMPLE_* for every resize */
    float mean[3], std[3];   /* normalisation of v / 255 */
    /* augmentation, training only */
    int random_resized_crop; /* 1: torchvision RandomResizedCrop to S x S */
    float scale_lo, scale_hi, ratio_lo, ratio_hi;
    float hflip;             /* flip probability */
    float brightness, contrast, saturation; /* colour jitter amounts; 0 disables */
    /* text */
    int captions_zh;         /* 1: choose among captions_zh instead of captions */
    const mmc_tokenizer *tokenizer; /* non-NULL: batches carry ids/mask (pre-tokenised at
                                       mmc_loader_new; the tokenizer is not kept) */
    int max_len;             /* tokens per caption with a tokenizer (padded, truncated) */
} mmc_loader_opts;

/* Defaults: eval, 2 workers, prefetch 4, no cache, bilinear, CLIP mean/std, no epoch
 * limit; augmentation amounts set (scale 0.08-1, ratio 3/4-4/3, flip 0.5, jitter 0.4)
 * but the crop only applies when random_resized_crop = 1 and all only when train = 1. */
mmc_loader_opts mmc_loader_defaults(int batch_size, int image_size);

/* One batch; valid until the next mmc_loader_next / set_state / free. */
typedef struct mmc_loader_batch {
    int size;               /* samples in it: B, or fewer in an epoch's last batch */
    int64_t epoch;
    int64_t index;          /* batch within the epoch */
    mmc_tensor *images;     /* (size, 3, S, S), owned by the loader (persistent, no grad) */
    const int *samples;     /* [size] indices into manifest->samples */
    const int *captions;    /* [size] chosen caption index, -1 if the sample has none */
    const int32_t *ids;     /* [size * max_len] token ids, NULL without a tokenizer */
    const int32_t *mask;    /* [size * max_len] 1 token, 0 padding (all 0: no caption) */
} mmc_loader_batch;

/* Where the stream stands: the next batch mmc_loader_next returns. */
typedef struct mmc_loader_state {
    int64_t epoch;
    int64_t batch;
} mmc_loader_state;

/* The manifest must outlive the loader. Workers start at once, at (epoch 0, batch 0).
 * MMC_ERR_USAGE for bad options or an epoch with no batch (drop_last, fewer samples than
 * B); MMC_ERR_INPUT if the tokenizer refuses a caption. */
mmc_loader *mmc_loader_new(const mmc_manifest *m, const mmc_loader_opts *o, mmc_error *err);
/* The next batch in stream order (waits for it). *out = NULL with MMC_OK at the end of
 * the stream (opts.epochs). next, get/set_state and free belong to one consumer thread. */
int mmc_loader_next(mmc_loader *l, const mmc_loader_batch **out, mmc_error *err);
mmc_loader_state mmc_loader_get_state(const mmc_loader *l);
/* Drops the batches prepared ahead and continues from s (batch < batches_per_epoch). */
int mmc_loader_set_state(mmc_loader *l, mmc_loader_state s, mmc_error *err);
int64_t mmc_loader_batches_per_epoch(const mmc_loader *l);
/* Stops and joins the workers (also mid-epoch, also after an error); NULL is fine. */
void mmc_loader_free(mmc_loader *l);

/* -- importers (src/data/import_*.c) -- */
/* Turn public datasets into dataset folders (DESIGN.md §4). Everything read from a package,
 * an IDX file or an annotation JSON is untrusted: wrong types, invalid UTF-8, paths that
 * leave their folder, sizes that disagree with the file fail with MMC_ERR_INPUT naming the
 * file. docs/formats.md says what each importer writes. */

/* Progress and report lines for a human (no newline); may be NULL. */
typedef void (*mmc_log_fn)(void *user, const char *line);

typedef struct mmc_import_stats {
    int64_t n[3];        /* samples written to train, val, test */
    int64_t skipped;     /* records left out (the importer's log says why) */
    int64_t no_text;     /* emoji: samples without a CLDR name (captions from short names) */
    int64_t no_zh;       /* emoji: samples without Chinese captions */
} mmc_import_stats;

/* Runs argv[0] (found on PATH) with the argument vector as given: no shell, so nothing in
 * an argument is interpreted. quiet_stdout sends the child's stdout to /dev/null.
 * MMC_ERR_RUNTIME when it cannot start, is killed or exits non-zero (the status named). */
int mmc_import_run(const char *const *argv, int quiet_stdout, mmc_error *err);

/* SHA-512 (FIPS 180-4) and npm's Subresource-Integrity strings ("sha512-" + base64). */
void mmc_sha512(const void *data, size_t n, uint8_t digest[64]);
/* MMC_OK when the file's SHA-512 matches integrity; MMC_ERR_INPUT naming the file and both
 * values otherwise, or when integrity is not a "sha512-..." string. */
int mmc_npm_integrity_check(const char *path, const char *integrity, mmc_error *err);

/* IDX files (LeCun's MNIST format, also Fashion-MNIST): magic 00 00 08 NDIM (unsigned
 * bytes only), NDIM big-endian u32 dims, then the bytes. gzip or plain (zlib reads both).
 * Refused: other magic or type, NDIM 0 or > 4, a zero dim, more than max_bytes of data,
 * fewer or more data bytes than the dims say. Memory grows with what the file holds, not
 * with what its header claims. */
typedef struct mmc_idx {
    int ndim;
    int64_t dims[4];
    int64_t size;  /* product of dims */
    uint8_t *data; /* size bytes, mmc_malloc'd */
} mmc_idx;
int mmc_idx_read(const char *path, int64_t max_bytes, mmc_idx *out, mmc_error *err);
void mmc_idx_free(mmc_idx *x);

/* Fashion-MNIST from src_dir (Debian's dataset-fashion-mnist puts
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz in MMC_FASHION_MNIST_DIR) into out:
 * 28x28 grayscale PNGs images/{train,test}-NNNNNN.png (official index), label = class name,
 * English and Chinese captions. Splits: train = official train minus its last
 * val_count images (val), test = official test. */
#define MMC_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
const char *mmc_fashion_mnist_class(int k);    /* "t-shirt/top", ...; NULL out of range */
const char *mmc_fashion_mnist_class_zh(int k); /* "T恤", ... */
int mmc_import_fashion_mnist(const char *src_dir, const char *out, int val_count, mmc_log_fn log,
                             void *user, mmc_import_stats *st, mmc_error *err);

/* Karpathy's split JSON (dataset_coco.json, dataset_flickr8k.json, dataset_flickr30k.json):
 * {"images": [{"filepath"?, "filename", "split", "sentences": [{"raw"}, ...]}, ...]}.
 * split train and restval -> train, val, test. out/images becomes a symbolic link to
 * images_dir (made absolute), so manifest paths images/FILEPATH/FILENAME resolve inside
 * out. Images missing from images_dir are skipped and counted; if none is found it is an
 * error (the wrong folder). */
int mmc_import_karpathy(const char *annotations, const char *images_dir, const char *out,
                        mmc_log_fn log, void *user, mmc_import_stats *st, mmc_error *err);

/* Emoji from the npm packages emoji-datasource-STYLE (emoji.json + img/STYLE/64/X.png)
 * and emojibase-data (en/data.json, zh/data.json). */
#define MMC_EMOJI_MAX_STYLES 4
enum { MMC_EMOJI_SPLIT_STYLE = 0, MMC_EMOJI_SPLIT_WITHIN = 1 };
typedef struct mmc_emoji_opts {
    const char *out;
    const char *emojibase_dir;                   /* the extracted package/ folder */
    int n_styles;
    const char *styles[MMC_EMOJI_MAX_STYLES];    /* "google", "twitter", ... */
    const char *style_dirs[MMC_EMOJI_MAX_STYLES]; /* extracted package/ of each datasource */
    int split;  /* STYLE: train/val = styles[0] (val = the emoji whose hash is 0 mod 20),
                 * test = the other styles (needs >= 2). WITHIN: each emoji goes to one split
                 * by its hash (80/10/10), in every style. */
    mmc_log_fn log;
    void *user;
} mmc_emoji_opts;
/* Builds the folder from extracted packages (no network): images/STYLE/X.png (the
 * package's PNG, copied after it decodes) and the manifests. */
int mmc_import_emoji_build(const mmc_emoji_opts *o, mmc_import_stats *st, mmc_error *err);
/* Makes sure the pinned tarball of package (e.g. "emoji-datasource-google") is in
 * cache_dir, verified against its pinned sha512 (fetching it with `npm pack` when missing
 * or corrupt), and extracts the members it names into dest (a new folder): dest/package/...
 * MMC_ERR_USAGE for a package with no pin. */
int mmc_emoji_fetch(const char *package, const char *cache_dir, const char *dest, mmc_log_fn log,
                    void *user, mmc_error *err);
/* The pinned "name@version" of a package, or NULL. */
const char *mmc_emoji_pinned(const char *package);
/* All of it: fetches emojibase-data and emoji-datasource-STYLE for each style into
 * cache_dir, extracts them into a temporary folder inside out (removed afterwards) and
 * builds the dataset (o->emojibase_dir and o->style_dirs are filled in). */
int mmc_import_emoji(mmc_emoji_opts *o, const char *cache_dir, mmc_import_stats *st, mmc_error *err);

/* (declarations for datasets go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_DATA_H */
