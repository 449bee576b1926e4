/*
 * mmc/models/embedder.h — one interface over every model that embeds text and images
 * (src/models/embedder.c).
 */
#ifndef MMC_MODELS_EMBEDDER_H
#define MMC_MODELS_EMBEDDER_H

#include "../core.h"
#include "../data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- embedder: one interface over every model that embeds text and images -- */
/* `mmc embed`, `mmc index build`, `mmc search` and `mmc zeroshot` use only this. A path is
 * a retrieval run folder now, and a Hugging Face CLIP / Chinese-CLIP folder later. Outputs
 * are L2-normalised rows of mmc_embedder_dim floats. */
typedef struct mmc_embedder mmc_embedder;
mmc_embedder *mmc_embedder_open(const char *model_path, mmc_error *err);
/* How mmc_embedder_open_ex opens a model (zeroed = mmc_embedder_open). */
typedef struct mmc_embedder_opts {
    /* 0: the weights as stored (f32; a folder written by `mmc quantize` stays quantised).
     * MMC_QTYPE_Q8 / MMC_QTYPE_Q4 (mmc/ops.h): int8 / int4 inference (`--dtype int8|q4`).
     *   CLIP / Chinese-CLIP: mmc_clip_opts.quantize — the encoder-layer Linears and both
     *   projections quantised at load (q4: the MLPs 4-bit, the rest int8), floats freed.
     *   A retrieval run: Q8 only (Q4 is MMC_ERR_USAGE) — every 2-D parameter gets an int8
     *   copy beside its float data, so each mmc_linear product runs int8 and every other
     *   op (embedding lookups, recurrent cells, convolutions) reads the floats as before.
     * Any other value is MMC_ERR_USAGE. */
    int quantize;
} mmc_embedder_opts;
mmc_embedder *mmc_embedder_open_ex(const char *model_path, const mmc_embedder_opts *opts, mmc_error *err);
/* A loaded retrieval run made to run its Linear products in int8 (type MMC_QTYPE_Q8; q4 is
 * refused): an int8 copy of every 2-D parameter, float data kept (path names the run in
 * messages). `mmc eval --dtype int8` and the embedder use it. */
int mmc_retrieval_quantize(mmc_retrieval *m, const char *path, int type, mmc_error *err);
void mmc_embedder_close(mmc_embedder *e);
int mmc_embedder_dim(const mmc_embedder *e);
/* A stable identifier of the model (recorded in indexes: its absolute path). */
const char *mmc_embedder_id(const mmc_embedder *e);
int mmc_embedder_texts(mmc_embedder *e, const char *const *texts, int n, float *out, mmc_error *err);
int mmc_embedder_image_files(mmc_embedder *e, const char *const *paths, int n, float *out,
                             mmc_error *err);
/* Decoded images (any size; 1 or 3 channels as mmc_image_decode makes them with channels
 * 3) into n rows, as mmc_embedder_image_files embeds the files they came from: `mmc
 * serve`'s uploads go through here. */
int mmc_embedder_images(mmc_embedder *e, const mmc_image *images, int n, float *out, mmc_error *err);
/* mmc_embedder_images in two halves, for pipelines: image_to_chw makes one image the
 * model's input (3 · S · S floats, S = mmc_embedder_image_size: resized, cropped and
 * normalised as the model wants; it reads only the model's constant settings, so another
 * thread may call it while embed_chw runs), embed_chw embeds n such inputs (out n × dim,
 * unit rows). Together they give exactly what mmc_embedder_images gives. */
int mmc_embedder_image_size(const mmc_embedder *e);
int mmc_embedder_image_to_chw(const mmc_embedder *e, const mmc_image *img, float *chw, mmc_error *err);
int mmc_embedder_embed_chw(mmc_embedder *e, const float *chw, int n, float *out, mmc_error *err);

/* Sound files (anything mmc_audio_load reads) into n rows: a retrieval run whose query is
 * "audio" (`--pair audio:image` / `audio:text`); any other model: MMC_ERR_USAGE. */
int mmc_embedder_audio_files(mmc_embedder *e, const char *const *paths, int n, float *out, mmc_error *err);
/* 1 when the model embeds sound. */
int mmc_embedder_has_audio(const mmc_embedder *e);

/* "retrieval" for a run folder (later "clip", "chinese_clip"). */
const char *mmc_embedder_kind(const mmc_embedder *e);
/* The scale the model multiplies cosine similarities by before a softmax: exp(logit_scale)
 * of an InfoNCE-trained model, at most 100 (CLIP's clamp); 0 when the model has none
 * (trained with another loss). */
float mmc_embedder_logit_scale(const mmc_embedder *e);

/* A video file as segments, each one embedding (以文搜视频: `mmc index build --videos`).
 * window > 0 cuts the file into consecutive spans of window seconds (the last may be
 * shorter); window <= 0, or a file no longer than window, is one segment. Each segment is
 * T frames at instants uniform over its span: a text:video run (`mmc train retrieval
 * --pair text:video`) embeds them as one clip with its own video_frames T; CLIP,
 * Chinese-CLIP and a text:image run embed each frame with the image tower and average the
 * T embeddings (meanP, as CLIP4Clip; frames T, 8 when <= 0). A file that does not decode is
 * MMC_ERR_INPUT naming it. */
typedef struct mmc_video_segments {
    int n;            /* segments */
    float *emb;       /* n rows of mmc_embedder_dim floats, L2-normalised */
    double *t0, *t1;  /* each segment's span in seconds (presentation time) */
} mmc_video_segments;
int mmc_embedder_video_file(mmc_embedder *e, const char *path, double window, int frames,
                            mmc_video_segments *out, mmc_error *err);
void mmc_video_segments_free(mmc_video_segments *s);
/* Frames per segment the embedder takes: a text:video run's video_frames, else 0 (any). */
int mmc_embedder_video_frames(const mmc_embedder *e);

/* (declarations for the embedder go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_EMBEDDER_H */
