/* encoder_audio.c — the audio slot of the registry: a clip's log-mel frames (mmc_logmel:
 * Whisper's front end, n_mels bands at 100 frames a second) through a stack of 1-D
 * convolutions, then a temporal module and the mean over the clip's steps.
 *
 *   stem         audio_convs convolutions of kernel 3, padding 1, audio_channels wide,
 *                GELU after each (Whisper's conv1/conv2); the first log2(audio_stride) have
 *                stride 2, so 8 leaves 12.5 steps a second — about two per syllable.
 *                Weights prefix.conv.K.weight (C_out, C_in, 3) and .bias: nn.Conv1d's
 *                layout and init. The features stay (B, T, C): a conv is mmc_unfold1d
 *                (3 steps side by side) and one GEMM with the weight read as (C_out, 3·C_in).
 *   gru          (default) audio_layers bidirectional GRU layers of audio_hidden per
 *                direction over the steps (prefix.temporal.rnn), each clip at its own
 *                length; the mean of the outputs over the clip's steps: (B, 2·H).
 *   transformer  the steps projected to audio_hidden (prefix.temporal.in_proj), + learned
 *                positions (prefix.temporal.pos_embedding, N(0, 0.02)), audio_layers pre-LN
 *                blocks (audio_heads heads, 4× GELU MLP) with the padding masked, a final
 *                LayerNorm (prefix.temporal.ln) and the masked mean: (B, H).
 *   mean         a LayerNorm (prefix.temporal.ln) and the masked mean of the conv features:
 *                (B, C) — a bag of sounds, the baseline that cannot hear word order.
 *
 * Padding. A batch holds clips of different lengths, padded with 0 to the longest. After
 * each conv the steps past a clip's own length are zeroed again, so what a clip's real
 * steps see is exactly what the conv's own zero padding gives when the clip is alone: an
 * embedding does not depend on the batch (test audio_encoder_batch_invariant).
 *
 * SpecAugment (Park et al. 2019), training only: spec_freq_masks runs of up to
 * spec_freq_width bands and spec_time_masks runs of up to spec_time_width frames set to 0
 * (the padding value) in each training clip, drawn by the task from its per-step stream. */
#include "encoder.h"
#include "internal.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

mmc_tensor *enc_masked_mean(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *mk); /* encoder_text.c */

#define OFF(f) offsetof(mmc_audio_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"audio_mels", CFG_INT, OFF(n_mels), 1, 512, 0, NULL},
    {"audio_channels", CFG_INT, OFF(channels), 1, 4096, 0, NULL},
    {"audio_convs", CFG_INT, OFF(convs), 1, ENC_MAX_AUDIO_CONVS, 0, NULL},
    {"audio_stride", CFG_INT, OFF(stride), 1, 8, 0, NULL},
    {"audio_hidden", CFG_INT, OFF(hidden), 2, 4096, 0, NULL},
    {"audio_layers", CFG_INT, OFF(layers), 1, 8, 0, NULL},
    {"audio_heads", CFG_INT, OFF(heads), 1, 64, 0, NULL},
    {"audio_max_frames", CFG_INT, OFF(max_frames), 8, 360000, 0, NULL},
    {"spec_freq_masks", CFG_INT, OFF(freq_masks), 0, 16, 0, NULL},
    {"spec_freq_width", CFG_INT, OFF(freq_width), 0, 512, 0, NULL},
    {"spec_time_masks", CFG_INT, OFF(time_masks), 0, 64, 0, NULL},
    {"spec_time_width", CFG_INT, OFF(time_width), 0, 10000, 0, NULL},
    {"spec_warp", CFG_FLOAT, OFF(warp), 0, 0.5, 0, NULL},
    {"spec_stretch", CFG_FLOAT, OFF(stretch), 0, 0.5, 0, NULL},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

/* The stem's defaults, shared by every audio encoder (the registry calls each one's). */
static void defaults(mmc_audio_encoder_opts *o) {
    o->n_mels = 80;
    o->channels = 128;
    o->convs = 3;
    o->stride = 8;
    o->hidden = 128;
    o->layers = 1;
    o->heads = 4;
    o->max_frames = 3000;
    o->freq_masks = 2, o->freq_width = 8;
    o->time_masks = 2, o->time_width = 10;
    o->warp = 0.15f, o->stretch = 0.15f; /* measured: docs/audio.md */
}

static int log2_stride(int s) { return s == 1 ? 0 : s == 2 ? 1 : s == 4 ? 2 : s == 8 ? 3 : -1; }

int enc_audio_check(const enc_audio_cfg *c, const char *file, mmc_error *err) {
    int rc = enc_check_name(MMC_MOD_AUDIO, c->o.encoder, file, "audio_encoder", err);
    if (rc) return rc;
    int l2 = log2_stride(c->o.stride);
    if (l2 < 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: audio_stride %d is not 1, 2, 4 or 8", file, c->o.stride);
    if (l2 > c->o.convs)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: audio_stride %d needs at least %d audio_convs (got %d)", file, c->o.stride, l2,
                             c->o.convs);
    if (c->o.freq_width > c->o.n_mels)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: spec_freq_width %d is wider than audio_mels %d", file, c->o.freq_width, c->o.n_mels);
    const enc_audio_vt *vt = enc_audio_find(c->o.encoder);
    return vt->check ? vt->check(c, file, err) : MMC_OK;
}

static int check_gru(const enc_audio_cfg *c, const char *file, mmc_error *err) {
    if (c->o.layers > ENC_MAX_RNN_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: audio_layers %d: the gru has at most %d layers", file, c->o.layers, ENC_MAX_RNN_LAYERS);
    return MMC_OK;
}

static int check_tf(const enc_audio_cfg *c, const char *file, mmc_error *err) {
    if (c->o.layers > ENC_MAX_TF_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: audio_layers %d: the transformer has at most %d blocks", file, c->o.layers,
                             ENC_MAX_TF_LAYERS);
    if (c->o.hidden % c->o.heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: audio_hidden %d is not a multiple of audio_heads %d", file, c->o.hidden, c->o.heads);
    return MMC_OK;
}

/* ------------------------------------------------------------------ stem */

static int conv_out(int n, int stride) { return (n + 2 - 3) / stride + 1; }

int enc_audio_steps(const enc_audio *e, int n) {
    for (int k = 0; k < e->n_conv; k++) n = conv_out(n, e->stride[k]);
    return n;
}

int enc_audio_init(enc_audio *e, const enc_audio_vt *vt, const enc_audio_cfg *cfg, mmc_params *P, const char *prefix,
                   mmc_rng *rng, mmc_rng *drop_rng, mmc_error *err) {
    memset(e, 0, sizeof *e);
    e->vt = vt;
    e->cfg = *cfg;
    e->drop_rng = drop_rng;
    if (!vt) return mmc_error_set(err, MMC_ERR_INPUT, "config: audio_encoder '%s' is not one of %s", cfg->o.encoder, enc_names(MMC_MOD_AUDIO));
    if (enc_audio_check(cfg, "config", err)) return err->code;
    const mmc_audio_encoder_opts *o = &cfg->o;
    e->n_conv = o->convs;
    int l2 = log2_stride(o->stride), in = o->n_mels, C = o->channels;
    char name[160];
    for (int k = 0; k < e->n_conv; k++) {
        e->stride[k] = k < l2 ? 2 : 1;
        snprintf(name, sizeof name, "%s.conv.%d", prefix, k);
        e->conv_w[k] = mmc_params_new(P, name, "weight", MMC_PARAM, 3, (int[]){C, in, 3}, err);
        if (!e->conv_w[k]) return err->code;
        e->conv_b[k] = mmc_params_new(P, name, "bias", MMC_PARAM, 1, (int[]){C}, err);
        if (!e->conv_b[k]) return err->code;
        if (rng) { /* nn.Conv1d: kaiming_uniform(a = sqrt 5) = U(±1/sqrt(fan_in)), the bias the same */
            float bound = 1.0f / sqrtf((float)in * 3);
            mmc_init_uniform(e->conv_w[k], bound, rng);
            mmc_init_uniform(e->conv_b[k], bound, rng);
        }
        in = C;
    }
    e->out_dim = C;
    snprintf(name, sizeof name, "%s.temporal", prefix);
    return vt->init ? vt->init(e, P, name, rng, err) : MMC_OK;
}

int enc_audio_warp(const float *in, int M, int Tin, int len, float alpha, float beta, float *out, int Tout) {
    int n = (int)lrintf((float)len * beta);
    n = n < 1 ? 1 : n > Tout ? Tout : n;
    for (int f = 0; f < M; f++) {
        float sf = (float)f * alpha;
        int f0 = (int)sf;
        float wf = sf - (float)f0;
        if (f0 >= M - 1) f0 = M - 1, wf = 0.0f; /* past the top band: the top band */
        int f1 = f0 + 1 < M ? f0 + 1 : f0;
        float *o = out + (size_t)f * Tout;
        for (int t = 0; t < n; t++) {
            float st = n > 1 ? (float)t * (float)(len - 1) / (float)(n - 1) : 0.0f;
            int t0 = (int)st;
            float wt = st - (float)t0;
            int t1 = t0 + 1 < len ? t0 + 1 : t0;
            const float *a = in + (size_t)f0 * Tin, *b = in + (size_t)f1 * Tin;
            float lo = a[t0] + wt * (a[t1] - a[t0]), hi = b[t0] + wt * (b[t1] - b[t0]);
            o[t] = lo + wf * (hi - lo);
        }
        for (int t = n; t < Tout; t++) o[t] = 0.0f;
    }
    return n;
}

void enc_audio_specaugment(const mmc_audio_encoder_opts *o, float *mel, int T, int len, mmc_rng *r) {
    int M = o->n_mels;
    for (int k = 0; k < o->freq_masks && o->freq_width > 0; k++) {
        int w = (int)mmc_rng_below(r, (uint32_t)o->freq_width + 1);
        int f0 = (int)mmc_rng_below(r, (uint32_t)(M - w + 1));
        for (int f = f0; f < f0 + w; f++) memset(mel + (size_t)f * T, 0, sizeof(float) * (size_t)len);
    }
    for (int k = 0; k < o->time_masks && o->time_width > 0; k++) {
        int w = (int)mmc_rng_below(r, (uint32_t)o->time_width + 1);
        if (w > len) w = len;
        int t0 = (int)mmc_rng_below(r, (uint32_t)(len - w + 1));
        for (int f = 0; f < M; f++) memset(mel + (size_t)f * T + t0, 0, sizeof(float) * (size_t)w);
    }
}

/* (B, T) 1/0 for steps < len[b], in the arena. */
static mmc_tensor *step_mask(mmc_ctx *ctx, const int *len, int B, int T) {
    mmc_tensor *m = mmc_tensor_empty(ctx, 2, (int[]){B, T});
    if (!m) return NULL;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) m->data[(size_t)b * T + t] = t < len[b] ? 1.0f : 0.0f;
    return m;
}

mmc_tensor *enc_audio_forward(mmc_ctx *ctx, enc_audio *e, mmc_tensor *mel, const int *len, int training) {
    if (!mel) return NULL;
    int M = e->cfg.o.n_mels, C = e->cfg.o.channels;
    if (mel->ndim != 3 || mel->shape[1] != M)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "audio encoder: input of %d dims with %d bands, want (B, %d, T)", mel->ndim,
                           mel->ndim > 1 ? mel->shape[1] : 0, M);
    int B = mel->shape[0], T = mel->shape[2];
    int *l = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
    if (!l) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "audio encoder: out of memory");
    for (int b = 0; b < B; b++) {
        if (len[b] < 1 || len[b] > T) return mmc_op_fail(ctx, MMC_ERR_USAGE, "audio encoder: clip %d has %d of %d frames", b, len[b], T);
        l[b] = len[b];
    }
    /* (B, T, C) throughout: each conv is an unfold of 3 steps and one GEMM */
    mmc_tensor *h = mmc_transpose(ctx, mel, 1, 2); // (B, T, M)
    int in = M;
    mmc_tensor *mask = NULL;
    for (int k = 0; k < e->n_conv; k++) {
        mmc_tensor *u = mmc_unfold1d(ctx, h, 3, e->stride[k], 1);                     // (B, T', in·3)
        mmc_tensor *w = mmc_reshape(ctx, e->conv_w[k], 2, (int[]){C, in * 3});
        h = mmc_gelu(ctx, mmc_linear(ctx, u, w, e->conv_b[k]));                        // (B, T', C)
        T = conv_out(T, e->stride[k]);
        for (int b = 0; b < B; b++) l[b] = conv_out(l[b], e->stride[k]);
        mask = step_mask(ctx, l, B, T);
        if (!mask) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "audio encoder: out of memory");
        h = mmc_mul(ctx, h, mmc_reshape(ctx, mask, 3, (int[]){B, T, 1}));
        in = C;
    }
    return e->vt->temporal(ctx, e, h, l, mask, training);
}

/* ------------------------------------------------------------------ temporal modules */

static int init_gru(enc_audio *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
    o.num_layers = e->cfg.o.layers;
    o.bidirectional = 1;
    mmc_rng scratch;
    if (!rng) mmc_rng_seed(&scratch, 0, 0);
    char name[200];
    snprintf(name, sizeof name, "%s.rnn", prefix);
    e->out_dim = 2 * e->cfg.o.hidden;
    return mmc_nn_gru_init(&e->rnn, P, name, e->cfg.o.channels, e->cfg.o.hidden, o, rng ? rng : &scratch, err);
}

static mmc_tensor *temporal_gru(mmc_ctx *ctx, enc_audio *e, mmc_tensor *h, const int *len, mmc_tensor *mask, int training) {
    mmc_tensor *out = mmc_nn_gru_forward(ctx, &e->rnn, h, NULL, len, training, e->drop_rng, NULL); // (B, T', 2H)
    return enc_masked_mean(ctx, out, mask);
}

static int init_tf(enc_audio *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    const mmc_audio_encoder_opts *o = &e->cfg.o;
    int D = o->hidden, steps = 1;
    for (int n = o->max_frames, k = 0; k < e->n_conv; k++) steps = n = conv_out(n, e->stride[k]);
    char name[200];
    snprintf(name, sizeof name, "%s.in_proj", prefix);
    if (mmc_nn_linear_init(&e->in_proj, P, name, o->channels, D, 1, rng, err)) return err->code;
    e->pos = mmc_params_new(P, prefix, "pos_embedding", MMC_PARAM, 2, (int[]){steps, D}, err);
    if (!e->pos) return err->code;
    if (rng) mmc_init_normal(e->pos, 0.0f, 0.02f, rng);
    if (enc_pre_ln_stack_init(e->tf, &e->ln, P, prefix, D, o->heads, o->layers, e->cfg.dropout, rng, err)) return err->code;
    e->out_dim = D;
    return MMC_OK;
}

static mmc_tensor *temporal_tf(mmc_ctx *ctx, enc_audio *e, mmc_tensor *h, const int *len, mmc_tensor *mask, int training) {
    (void)len;
    if (!h) return NULL;
    int B = h->shape[0], T = h->shape[1];
    if (T > e->pos->shape[0])
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "audio transformer: %d steps, positions for %d (audio_max_frames %d)", T,
                           e->pos->shape[0], e->cfg.o.max_frames);
    uint8_t *km = mmc_arena_alloc(ctx->arena, (size_t)B * T);
    if (!km) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "audio transformer: out of memory");
    for (int i = 0; i < B * T; i++) km[i] = mask->data[i] != 0.0f;
    mmc_tensor *x = mmc_nn_linear_forward(ctx, &e->in_proj, h);
    x = mmc_add(ctx, x, mmc_slice(ctx, e->pos, 0, 0, T));
    for (int l = 0; l < e->cfg.o.layers; l++) x = mmc_nn_encoder_layer_forward(ctx, &e->tf[l], x, 0, km, training, e->drop_rng);
    x = mmc_nn_layernorm_forward(ctx, &e->ln, x);
    return enc_masked_mean(ctx, x, mask);
}

static int init_mean(enc_audio *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    (void)rng;
    char name[200];
    snprintf(name, sizeof name, "%s.ln", prefix);
    return mmc_nn_layernorm_init(&e->ln, P, name, e->cfg.o.channels, 1e-5f, err);
}

static mmc_tensor *temporal_mean(mmc_ctx *ctx, enc_audio *e, mmc_tensor *h, const int *len, mmc_tensor *mask, int training) {
    (void)len, (void)training;
    return enc_masked_mean(ctx, mmc_nn_layernorm_forward(ctx, &e->ln, h), mask);
}

const enc_audio_vt enc_audio_gru = {"gru", KEYS, NKEYS, init_gru, temporal_gru, defaults, check_gru};
const enc_audio_vt enc_audio_transformer = {"transformer", KEYS, NKEYS, init_tf, temporal_tf, defaults, check_tf};
const enc_audio_vt enc_audio_mean = {"mean", KEYS, NKEYS, init_mean, temporal_mean, defaults, NULL};
