/*
 * mmc/models/encoders.h — the encoder settings the tasks share (the encoder registry,
 * src/models/encoder*.c).
 */
#ifndef MMC_MODELS_ENCODERS_H
#define MMC_MODELS_ENCODERS_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- encoder settings (src/models/encoder*.c) -- */
/* Every task with an image (text) tower embeds one mmc_image_encoder_opts
 * (mmc_text_encoder_opts) in its config, as .image (.text). Their keys stand flat in the
 * task's config.json ("image_encoder": "cnn", "cnn_widths": [16, 32, 64, 128],
 * "vit_patch": 8, ...) and are listed once, by the encoder that reads them
 * (src/models/encoder_NAME.c); a task states only which of them it does not take. Keys a
 * task shares with its encoder — image_size, max_len, dropout — stay the task's own. */
typedef struct mmc_image_encoder_opts {
    char encoder[16];        /* key image_encoder: "cnn" (default), "resnet", "vit" */
    int cnn_widths[6];       /* cnn: channels per stage, 0-terminated */
    int cnn_strides[6];      /* cnn: stride (1 or 2) of each stage's first conv; 0 = 2 */
    int cnn_depth;           /* cnn: 3×3 convs per stage (the later ones stride 1): 1 or 2 */
    int norm_groups;         /* cnn with GroupNorm: a layer of width w uses gcd(w, this) groups */
    int coord;               /* cnn: 1 = (x, y) channels appended before each conv (CoordConv) */
    int resnet_layers[4], resnet_widths[4]; /* resnet: basic blocks per stage, widths */
    int vit_patch, vit_dim, vit_depth, vit_heads; /* vit: patch side, width, blocks, heads */
} mmc_image_encoder_opts;

typedef struct mmc_text_encoder_opts {
    char encoder[16];        /* key text_encoder: "gru" (default), "lstm", "bag", "transformer" */
    int word_dim;            /* token embedding size; the transformer's width */
    int text_hidden;         /* gru/lstm hidden size */
    int text_layers;         /* recurrent layers (1-2) or transformer blocks (1-8) */
    int text_heads;          /* transformer heads */
} mmc_text_encoder_opts;

/* A video tower (src/models/encoder_video*.c): a per-frame image encoder of the image
 * registry (its keys are the task's image keys: cnn_widths, vit_patch, ...) and a temporal
 * module over the frame features, or early fusion (the frames stacked as channels into the
 * cnn). Retrieval embeds one as .video (used with "target": "video"). */
typedef struct mmc_video_encoder_opts {
    char encoder[16];        /* key video_encoder: "early" (default), "gru", "mean" (CLIP4Clip's
                                meanP: frame order is lost), "transformer", "early" */
    char frame_encoder[16];  /* key video_frame_encoder: an image encoder, "cnn" (default) */
    int frames;              /* video_frames: frames sampled per clip, T (8) */
    int temporal_hidden;     /* gru hidden size / temporal transformer width (128) */
    int temporal_layers;     /* gru layers (1-2) / transformer blocks (1-8) (1) */
    int temporal_heads;      /* transformer heads (4) */
} mmc_video_encoder_opts;

/* An audio tower (src/models/encoder_audio.c): a stack of 1-D convolutions over log-mel
 * frames (Whisper's front end, mmc_logmel: 80 bands, 100 frames a second), GELU after
 * each, the first log2(audio_stride) of them stride 2, then a temporal module and the mean
 * over a clip's frames. Retrieval embeds one as .audio (used with "query": "audio"). The
 * SpecAugment keys mask bands and frames of the training clips (never at inference). */
typedef struct mmc_audio_encoder_opts {
    char encoder[16];        /* key audio_encoder: "gru" (default), "transformer", "mean" */
    int n_mels;              /* audio_mels: log-mel bands in (80) */
    int channels;            /* audio_channels: conv width (128) */
    int convs;               /* audio_convs: conv layers, kernel 3 (3) */
    int stride;              /* audio_stride: time subsampling, 1, 2, 4 or 8 (8: 12.5 steps a second) */
    int hidden;              /* audio_hidden: gru hidden size per direction / transformer width (128) */
    int layers;              /* audio_layers: bidirectional gru layers (1-2) / transformer blocks (1-8) (1) */
    int heads;               /* audio_heads: transformer heads (4) */
    int max_frames;          /* audio_max_frames: longest clip in frames (3000: 30 s); longer ones are cut */
    int freq_masks, freq_width; /* spec_freq_masks, spec_freq_width: training masks of up to width bands (2, 8) */
    int time_masks, time_width; /* spec_time_masks, spec_time_width: ... of up to width frames (2, 10) */
    float warp;              /* spec_warp: training clips' bands scaled by 1 ± up to this (another
                                voice's formants, VTLP) (0.15) */
    float stretch;           /* spec_stretch: ... and their frames by 1 ± up to this (another tempo) (0.15) */
} mmc_audio_encoder_opts;

/* The registry's defaults (each encoder's own), which a task's defaults start from. */
mmc_image_encoder_opts mmc_image_encoder_defaults(void);
mmc_text_encoder_opts mmc_text_encoder_defaults(void);
mmc_video_encoder_opts mmc_video_encoder_defaults(void);
mmc_audio_encoder_opts mmc_audio_encoder_defaults(void);

/* (declarations for encoder settings go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_ENCODERS_H */
