/* clip_text.c — the text towers.
 *
 * CLIP (CLIPTextTransformer):
 *   x = token_embedding[ids] + position_embedding[0..T)            (B, T, Dt)
 *   x = layer_i(x) for each pre-LN block, causal mask + padding mask
 *   last = final_layer_norm(x); pooled = last[b, eos position]     (B, Dt)
 * The eos position: transformers keeps the original openai configs working
 * (eos_token_id == 2 there, a bug in their config) by taking the argmax of the ids, which
 * is the first <|endoftext|> as it is the largest id; otherwise the first eos_token_id.
 *
 * Chinese-CLIP (ChineseCLIPTextModel, BERT without a pooler):
 *   x = LayerNorm(word[ids] + token_type[tt] + position[0..T))     (B, T, Dt)
 *   x = layer_i(x) for each post-LN block, padding mask
 *   pooled = x[:, 0] ([CLS]); last_hidden_state = x (no final norm)
 *
 * then features = text_projection(pooled) (B, P), embeds = features / |features|. */
#include "clip_internal.h"
#include <string.h>

/* (B*T) rows of the token table: a differentiable lookup when it is resident, decoded
 * from the checkpoint when compact. -> (B, T, D) */
static mmc_tensor *token_rows(mmc_ctx *ctx, mmc_clip *m, const int *ids, int B, int T) {
    int D = m->cfg.text.hidden;
    for (int i = 0; i < B * T; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.text.vocab)
            return mmc_op_fail(ctx, MMC_ERR_INPUT, "clip text: token id %d at (%d, %d) is outside 0..%d", ids[i],
                               i / T, i % T, m->cfg.text.vocab - 1);
    if (m->tok_emb && !m->tok_emb->quant)
        return mmc_reshape(ctx, mmc_embedding(ctx, m->tok_emb, ids, B * T), 3, (int[]){B, T, D});
    mmc_tensor *x = mmc_tensor_empty(ctx, 3, (int[]){B, T, D});
    if (!x) return NULL;
    if (m->tok_emb) { /* held int8, a scale per token: the rows dequantised */
        for (int i = 0; i < B * T; i++) mmc_qweight_row(m->tok_emb->quant, ids[i], x->data + (size_t)i * D);
        return x;
    }
    mmc_error e = {0};
    if (clip_store_rows(&m->store, m->tok_emb_name, ids, B * T, D, x->data, &e))
        return mmc_op_fail(ctx, e.code, "%s", e.msg);
    return x;
}

int mmc_clip_text_forward(mmc_ctx *ctx, mmc_clip *m, const int32_t *ids, const int32_t *mask,
                          const int32_t *token_type_ids, int B, int T, mmc_clip_text_out *out) {
    memset(out, 0, sizeof *out);
    const clip_text_cfg *c = &m->cfg.text;
    if (B < 1 || T < 1 || !ids)
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE, "clip text: need B >= 1 rows of T >= 1 ids (B %d, T %d)", B, T);
    if (T > c->max_pos)
        return mmc_error_set(&ctx->err, MMC_ERR_INPUT, "clip text: %d tokens, the model has %d positions", T,
                             c->max_pos);
    /* compact weights are overwritten layer by layer: nothing could be differentiated */
    int prev = m->compact || m->quantized ? mmc_grad_mode(ctx, 0) : ctx->grad_enabled;
    int64_t n = (int64_t)B * T;
    uint8_t *key_mask = NULL;
    int *tt = NULL, *pool = mmc_scratch(ctx, sizeof(int) * (size_t)B);
    if (!pool) goto fail;
    if (mask) {
        if (!(key_mask = mmc_scratch(ctx, (size_t)n))) goto fail;
        for (int64_t i = 0; i < n; i++) {
            if (mask[i] != 0 && mask[i] != 1) {
                mmc_error_set(&ctx->err, MMC_ERR_INPUT, "clip text: attention_mask value %d at (%lld, %lld)", mask[i],
                              (long long)(i / T), (long long)(i % T));
                goto fail;
            }
            key_mask[i] = (uint8_t)mask[i];
        }
    }
    int D = c->hidden;
    mmc_tensor *x = token_rows(ctx, m, (const int *)ids, B, T);
    if (m->cfg.chinese) {
        if (!(tt = mmc_scratch(ctx, sizeof(int) * (size_t)n))) goto fail;
        for (int64_t i = 0; i < n; i++) {
            tt[i] = token_type_ids ? token_type_ids[i] : 0;
            if (tt[i] < 0 || tt[i] >= c->type_vocab) {
                mmc_error_set(&ctx->err, MMC_ERR_INPUT, "clip text: token_type_id %d outside 0..%d", tt[i],
                              c->type_vocab - 1);
                goto fail;
            }
        }
        /* transformers' order: (word + token_type) + position, then LayerNorm */
        x = mmc_add(ctx, x, mmc_reshape(ctx, mmc_embedding(ctx, m->type_emb, tt, (int)n), 3, (int[]){B, T, D}));
        x = mmc_add(ctx, x, mmc_slice(ctx, m->pos_emb, 0, 0, T));
        x = mmc_nn_layernorm_forward(ctx, &m->emb_ln, x);
    } else {
        x = mmc_add(ctx, x, mmc_slice(ctx, m->pos_emb, 0, 0, T)); // (B, T, D) + (T, D)
    }
    if (!x) goto fail;
    out->hidden_states[0] = x;
    for (int i = 0; i < m->text.n; i++) {
        if (clip_layer_fetch(m, &m->text, i, &ctx->err)) goto fail;
        /* without autograd, a layer's intermediates die with it: keep only its output */
        mmc_ctx_mark mark = mmc_ctx_tell(ctx);
        x = mmc_ctx_keep(ctx, mark,
                         mmc_nn_encoder_layer_forward(ctx, &m->text.layer[i], x, !m->cfg.chinese, key_mask, 0, NULL));
        if (!x) goto fail;
        out->hidden_states[i + 1] = x;
    }
    out->n_hidden = m->text.n + 1;
    mmc_tensor *last = m->cfg.chinese ? x : mmc_nn_layernorm_forward(ctx, &m->final_ln, x);
    for (int b = 0; b < B; b++) {
        const int32_t *row = ids + (int64_t)b * T;
        int at = 0;
        if (m->cfg.chinese) at = 0;
        else if (!c->has_eos || c->eos_id == 2) {
            for (int j = 1; j < T; j++)
                if (row[j] > row[at]) at = j; /* the first maximum, as torch.argmax */
        } else {
            for (int j = 0; j < T; j++)
                if (row[j] == c->eos_id) { at = j; break; }
        }
        pool[b] = b * T + at;
    }
    // rows of last (B*T, D) -> pooled (B, D)
    mmc_tensor *pooled = mmc_embedding(ctx, mmc_reshape(ctx, last, 2, (int[]){B * T, D}), pool, B);
    mmc_tensor *feat = mmc_nn_linear_forward(ctx, &m->text_proj, pooled);
    mmc_tensor *emb = mmc_l2_normalize(ctx, feat, 1e-12f);
    if (!emb) goto fail;
    out->last_hidden_state = last;
    out->pooler_output = pooled;
    out->features = feat;
    out->embeds = emb;
    mmc_grad_mode(ctx, prev);
    return MMC_OK;
fail:
    mmc_grad_mode(ctx, prev);
    if (!ctx->err.code) mmc_error_set(&ctx->err, MMC_ERR_RUNTIME, "clip text: out of memory");
    return ctx->err.code;
}
