/* vqa_internal.h — the fusion model's structs, shared by src/models/vqa*.c. Callers see
 * mmc_vqa as an opaque type through mmc.h. */
#ifndef MMC_VQA_INTERNAL_H
#define MMC_VQA_INTERNAL_H

#include "mmc.h"
#include "encoder.h"

#define VQA_MAX_STAGES ENC_MAX_STAGES

enum { VQA_EARLY = 1, VQA_LATE, VQA_HYBRID, VQA_JOINT, VQA_NONE };
enum { VQA_Q_TEXT, VQA_Q_AUDIO, VQA_Q_NONE };
enum { VQA_CAT = 1, VQA_SUM, VQA_PROD, VQA_BILINEAR, VQA_LOGITS, VQA_ATTENTION };

struct mmc_vqa {
    mmc_vqa_config cfg;
    int fusion, combine;
    int T;                      /* frames per input: video_frames (target "video") or 1 */
    int video;                  /* target "video" (a clip of T frames, even when T is 1) */
    mmc_params P;
    mmc_tokenizer *tok;
    char **classes;
    int n_classes;

    /* image encoder (early, late, hybrid): one of the registry; early and hybrid need the
     * cnn's stages */
    enc_image img;
    int n_stages;
    int shared_stages;          /* stages run once per image, before the question enters */
    mmc_nn_film film[VQA_MAX_STAGES]; /* hybrid: stages >= film_from */
    int grid_pool, img_feat;
    mmc_nn_linear img_fc;       /* C·g·g -> image_dim */
    mmc_nn_linear early_fc;     /* early: question -> early_dim channels */

    /* question (all but joint): a text encoder of the registry; query "audio": an audio
     * encoder of the registry (audio_encoder.*) instead; query "none": neither */
    int query;                  /* VQA_Q_TEXT, VQA_Q_AUDIO, VQA_Q_NONE */
    enc_text txt;
    enc_audio aud;
    int q_dim;                  /* the question vector: txt's feature (+ word_dim, last+mean) */

    /* late combiners */
    mmc_nn_fusion fuse;
    mmc_nn_lowrank_bilinear mlb;
    mmc_nn_mlp head_img, head_txt;
    mmc_nn_logit_average lavg;
    mmc_nn_cell_attention att;  /* attention over the final map's cells */
    int cell_dim;               /* channels of the final map + 2 coordinates */

    mmc_nn_joint joint;
    mmc_nn_mlp head;            /* the classifier (all but late "logits") */
    int head_in;
    mmc_rng drop_rng;           /* dropout; saved in trainer.json */
};

/* vqa_config.c */
extern const cfg_kind VQA_CONFIG; /* how config.json is read and written (config_keys.h) */
int vqa_fusion_kind(const char *s);
int vqa_combine_kind(const char *s);
/* The encoders' settings from the config's keys. */
void vqa_encoder_cfgs(const mmc_vqa_config *c, enc_image_cfg *ic, enc_text_cfg *tc);

/* vqa_data.c: a split in memory. items are the texts with their image, class and type. */
typedef struct vqa_dataset {
    mmc_manifest *man;
    int n, S;                  /* images kept, side */
    int frames;                /* frames per sample: 1, or video_frames for clips */
    uint8_t *pixels;           /* n × frames × S × S × 3 (HWC) */
    int n_items;
    int *item_img, *item_class, *item_type;
    const char **item_text;    /* into man: the question / caption */
    const char **item_answer;  /* into man, or "yes"/"no" for match */
    int *img_first, *img_count;/* per image: its items' range */
    char type_names[MMC_VQA_MAX_TYPES][32];
    int n_types;
    struct task_audio *audio;  /* query "audio": each sample's sound track (item i: clip item_img[i]) */
    int T;                     /* tokens per text */
    int32_t *ids, *mask;       /* n_items × T, NULL until vqa_dataset_bind */
} vqa_dataset;

/* task/source: which texts; item_class is -1 until vqa_dataset_bind. max_images > 0 keeps
 * the first ones. */
int vqa_dataset_load(vqa_dataset *d, const char *dir, const char *split, const mmc_vqa_config *c, int max_images,
                     mmc_error *err);
void vqa_dataset_free(vqa_dataset *d);
/* item_class from the model's vocabulary (-1: unseen) and tokens at T = max_len. */
int vqa_dataset_bind(vqa_dataset *d, const mmc_vqa *m, mmc_error *err);
void vqa_dataset_chw(const vqa_dataset *d, int i, int dx, int dy, float *out);
/* query "audio": the sound tracks of samples sample[0..N-1] as (N, n_mels, Tm), Tm the
 * longest, zero past each; len[n] its frames. */
mmc_tensor *vqa_dataset_mel(mmc_ctx *ctx, const vqa_dataset *d, const int *sample, int N, int *len);
int vqa_dataset_evaluate(mmc_vqa *m, const vqa_dataset *d, mmc_vqa_metrics *out, mmc_error *err);

/* vqa.c */
int vqa_save(const mmc_vqa *m, const char *run_dir, uint64_t seed, int n_train, char **config_json, mmc_error *err);
mmc_vqa *vqa_load_full(const char *run_dir, const char *weights, uint64_t *seed, int *n_train, mmc_error *err);

#endif
