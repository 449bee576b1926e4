/* task_util.h — what the trainable task models (retrieval, caption, vqa, and CLIP
 * fine-tuning for its splits) share: the checks before building, a run folder's
 * config.json and weights, preprocessing, and a split's captions and images held in
 * memory. Not installed. */
#ifndef MMC_TASK_UTIL_H
#define MMC_TASK_UTIL_H

#include "mmc.h"
#include "config_keys.h"
#include <cjson/cJSON.h>

/* Before building a model from a checked config: max_len set (>= 3) and a word or char
 * tokenizer ("the WHAT needs ..."). MMC_ERR_INPUT naming name. */
int task_build_check(int max_len, const mmc_tokenizer *tok, const char *what, const char *name, mmc_error *err);

/* config.json's text (mmc_malloc'd): the config's JSON cfg (mmc_malloc'd, freed here), the
 * vocabulary as "tokenizer" (none when tok is NULL: a task without text), then the members of extra (an object or NULL; taken). NULL
 * with err filled (naming where) when out of memory. */
char *task_config_text(char *cfg, const mmc_tokenizer *tok, cJSON *extra, const char *where, mmc_error *err);

/* RUN/config.json (text) and RUN/weights (NULL = model.safetensors, its metadata format),
 * each atomically. */
int task_save(const mmc_params *P, const char *text, const char *run_dir, const char *weights, const char *format,
              mmc_error *err);

/* Reads RUN/config.json: its settings as a config of kind k over cfg (which holds what an
 * older run lacks), its vocabulary into *tok (tok NULL: a task without text reads none)
 * and, when root is not NULL, the document into *root for the task's other members
 * (cJSON_Delete it). A kind with a task: the document must hold a "task" string (checked
 * before the settings). path (4096 bytes) gets the file's name. Every failure is
 * MMC_ERR_INPUT naming the file, and leaves nothing to free. */
int task_read_config(const char *run_dir, const cfg_kind *k, void *cfg, mmc_tokenizer **tok, cJSON **root, char *path,
                     mmc_error *err);

/* RUN/weights (NULL = model.safetensors) into P, every tensor; failures are MMC_ERR_INPUT. */
int task_load_weights(mmc_params *P, const char *run_dir, const char *weights, mmc_error *err);

/* An RGB image, resized bilinearly to S × S if it is another size, into out (3, S, S) as
 * (v/255 - 0.5) / 0.5. what names the model in messages. */
int task_image_to_chw(const mmc_image *img, int S, float *out, const char *what, mmc_error *err);

/* A split held in memory: the captions of one language, sample by sample, and (S > 0)
 * the images, decoded once in parallel and resized to S × S (the shapes world is small:
 * 20000 × 64² RGB is 245 MB of bytes). */
typedef struct task_audio task_audio;
typedef struct task_split {
    mmc_manifest *man;
    task_audio *audio;          /* task_split_load_audio: the spoken captions; else NULL */
    int n, S;
    int T;                      /* task_split_load_video: frames per clip; 0: images */
    uint8_t *pixels;            /* n × S × S × 3, HWC (clips: n × T × S × S × 3); NULL when S is 0 */
    const char **caps;          /* every caption of the language, sample by sample */
    int *cap_img;               /* the sample of each caption */
    int *cap_first, *cap_count; /* per sample: its captions' range in caps */
    int n_caps;
} task_split;
/* max_images > 0 keeps only the first ones. A sample without a caption in lang is an
 * MMC_ERR_INPUT naming the manifest and the sample. */
int task_split_load(task_split *d, const char *dir, const char *split, const char *lang, int S, int max_images,
                    mmc_error *err);
void task_split_free(task_split *d);
/* The same for clips: each sample's "video" decoded once (mmc_video_load, T frames at S × S),
 * in parallel, kept as bytes (n × T × S × S × 3: 5000 clips of 8 frames at 64 px are
 * 492 MB; as floats they would be 4 times that). Samples may lack an image; a sample
 * without a video, or a clip that fails to decode, is MMC_ERR_INPUT naming it. */
int task_split_load_video(task_split *d, const char *dir, const char *split, const char *lang, int S, int T,
                          int max_clips, mmc_error *err);
/* A video file as a clip of T frames (T, 3, S, S), uniformly over its duration, each frame
 * as task_image_to_chw makes it. keep (NULL: not wanted) gets the decoded frames and their
 * timestamps (mmc_video_free it). A file that does not decode is MMC_ERR_INPUT naming it. */
int task_clip_file_to_chw(const char *path, int S, int T, float *out, mmc_video *keep, mmc_error *err);
/* k > 0: keeps only the first k captions of each sample (e.g. an emoji's name, not its
 * keywords); k <= 0 keeps all. */
void task_split_keep_captions(task_split *d, int k);

/* The images of samples 0..n-1 of man decoded in parallel and resized to S × S: *pixels
 * (mmc_malloc'd) n × S × S × 3 bytes, HWC. The first failure (lowest index) is reported. */
int task_images_load(const mmc_manifest *man, int n, int S, uint8_t **pixels, mmc_error *err);
/* The clips ("video") of samples 0..n-1 decoded in parallel, T frames each at S × S: *pixels
 * n × T × S × S × 3 bytes. A sample without a video or a clip that fails is MMC_ERR_INPUT
 * naming it (the first by index). */
int task_clips_load(const mmc_manifest *man, int n, int S, int T, uint8_t **pixels, mmc_error *err);
/* Image i of such pixels as (3, S, S) floats, shifted by (dx, dy) with edge replication. */
void task_images_chw(const uint8_t *pixels, int S, int i, int dx, int dy, float *out);
static inline void task_split_chw(const task_split *d, int i, int dx, int dy, float *out) {
    task_images_chw(d->pixels, d->S, i, dx, dy, out);
}

/* Clip i of a video split as T frames (T, 3, S, S), every frame shifted by the same
 * (dx, dy); frame order is kept. */
static inline void task_split_clip_chw(const task_split *d, int i, int dx, int dy, float *out) {
    for (int t = 0; t < d->T; t++)
        task_images_chw(d->pixels, d->S, i * d->T + t, dx, dy, out + (size_t)t * 3 * d->S * d->S);
}

/* A split's spoken captions of one language (task_audio.c): clip i belongs to sample
 * sample[i], says text[i] (the manifest's), and has frames[i] log-mel frames (n_mels bands,
 * cut to max_frames), kept quantised to a byte. Per sample s: its clips are
 * first[s] .. first[s] + count[s] - 1. Strings point into the manifest. */
typedef struct task_audio {
    int n, n_mels, n_samples;
    int *sample, *frames;
    int64_t *off;               /* clip i's bytes: q + off[i], n_mels × frames[i], row-major */
    uint8_t *q;
    float *lo, *scale;          /* value = lo + scale · byte */
    const char **text, **path;
    int *first, *count;         /* per sample */
} task_audio;
/* The clips in lang of man's first n_samples samples (lang NULL: one clip a sample, the sound
 * track of its "video" file; text NULL), decoded in parallel (progress after
 * each chunk, may be NULL). A clip that does not decode is MMC_ERR_INPUT naming it (the
 * first by index); a sample may have none. */
int task_audio_load(task_audio *a, const mmc_manifest *man, int n_samples, const char *lang, int n_mels, int max_frames,
                    void (*progress)(void *user, int done, int total), void *user, mmc_error *err);
void task_audio_free(task_audio *a);
/* A split for a task whose queries are spoken captions in lang: the captions, then d->n cut
 * to the leading samples that have a clip in lang (`mmc data shapes --audio-scenes N`
 * speaks the first N; none is MMC_ERR_INPUT naming the manifest), their images when S > 0
 * (max_images as task_split_load), and every clip of those samples in d->audio. */
int task_split_load_audio(task_split *d, const char *dir, const char *split, const char *lang, int S, int max_images, int n_mels,
                          int max_frames, void (*progress)(void *user, int done, int total), void *user, mmc_error *err);
/* Sorts the n indices idx (each >= 0) by len[idx], ties by index (no globals: qsort takes
 * no user pointer). MMC_OK, or MMC_ERR_RUNTIME out of memory (idx unchanged). */
int task_sort_by_length(int *idx, int n, const int *len);
/* Clip i as floats (n_mels, T), T >= frames[i], zero past its frames. */
void task_audio_mel(const task_audio *a, int i, float *out, int T);

/* The sample order of an epoch: when *at is not epoch, perm becomes the permutation of n
 * drawn from stream 1000 + epoch of seed, and *at epoch. */
void task_epoch_perm(uint64_t seed, int epoch, int *perm, int n, int *at);
/* A random shift in -max..max pixels (0 draws nothing when max is 0). */
static inline int task_shift(mmc_rng *r, int max) { return max ? (int)mmc_rng_below(r, 2 * (uint32_t)max + 1) - max : 0; }

#endif
