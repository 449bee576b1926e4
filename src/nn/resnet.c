/* resnet.c — ResNet with basic or bottleneck blocks, torchvision's layout and names:
 *
 *   stem:   conv1 -> bn1 -> relu [-> maxpool 3×3/2]          (B, C, H, W) -> (B, w0, H', W')
 *   stages: layer1..layer4, block 0 of stages 2..4 halves H and W
 *   head:   global average pool -> fc (optional)             -> (B, out_dim) or (B, classes)
 *
 * Initialisation follows torchvision's ResNet.__init__: every conv kaiming_normal_
 * (mode="fan_out", nonlinearity="relu"), i.e. N(0, sqrt(2 / (out · k · k))); batch norms
 * weight 1, bias 0; fc keeps nn.Linear's default. zero_init_residual is not offered. */
#include "nn_internal.h"
#include <math.h>
#include <string.h>

mmc_nn_resnet_cfg mmc_nn_resnet_layout(int depth) {
    mmc_nn_resnet_cfg c;
    memset(&c, 0, sizeof c);
    static const int l18[4] = {2, 2, 2, 2}, l34[4] = {3, 4, 6, 3};
    const int *l = depth == 18 ? l18 : (depth == 34 || depth == 50) ? l34 : NULL;
    for (int i = 0; i < 4; i++) {
        c.layers[i] = l ? l[i] : 0;
        c.widths[i] = 64 << i;
    }
    c.bottleneck = depth == 50;
    c.in_channels = 3, c.stem = MMC_STEM_IMAGENET, c.num_classes = 1000;
    return c;
}

/* A bias-free conv with torchvision's kaiming-normal (fan_out) init. */
static int conv_init(mmc_nn_conv2d *c, mmc_params *P, const char *prefix, const char *name, int in, int out,
                     int k, int stride, mmc_rng *rng, mmc_error *err) {
    char full[MMC_NAME_MAX];
    int rc = mmc_nn_conv2d_init(c, P, mmc_nn_join(full, prefix, name), in, out, k, stride, k / 2, 0, NULL, err);
    if (!rc && rng) mmc_init_normal(c->weight, 0.0f, sqrtf(2.0f / (float)(out * k * k)), rng);
    return rc;
}

static int bn_init(mmc_nn_batchnorm *b, mmc_params *P, const char *prefix, const char *name, int ch,
                   mmc_error *err) {
    char full[MMC_NAME_MAX];
    return mmc_nn_batchnorm_init(b, P, mmc_nn_join(full, prefix, name), ch, err);
}

int mmc_nn_resnet_block_init(mmc_nn_resnet_block *m, mmc_params *P, const char *prefix, int bottleneck,
                             int in_ch, int width, int stride, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (in_ch < 1 || width < 1 || stride < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "resnet block %s: in %d, width %d, stride %d", prefix, in_ch,
                             width, stride);
    m->stride = stride, m->bottleneck = bottleneck;
    int out_ch = bottleneck ? 4 * width : width, rc;
    m->has_downsample = stride != 1 || in_ch != out_ch;
    if (bottleneck) { /* 1×1 reduce, 3×3 (strided, as torchvision's "v1.5"), 1×1 expand */
        if ((rc = conv_init(&m->conv1, P, prefix, "conv1", in_ch, width, 1, 1, rng, err)) ||
            (rc = bn_init(&m->bn1, P, prefix, "bn1", width, err)) ||
            (rc = conv_init(&m->conv2, P, prefix, "conv2", width, width, 3, stride, rng, err)) ||
            (rc = bn_init(&m->bn2, P, prefix, "bn2", width, err)) ||
            (rc = conv_init(&m->conv3, P, prefix, "conv3", width, out_ch, 1, 1, rng, err)) ||
            (rc = bn_init(&m->bn3, P, prefix, "bn3", out_ch, err)))
            return rc;
    } else if ((rc = conv_init(&m->conv1, P, prefix, "conv1", in_ch, width, 3, stride, rng, err)) ||
               (rc = bn_init(&m->bn1, P, prefix, "bn1", width, err)) ||
               (rc = conv_init(&m->conv2, P, prefix, "conv2", width, width, 3, 1, rng, err)) ||
               (rc = bn_init(&m->bn2, P, prefix, "bn2", width, err))) {
        return rc;
    }
    if (m->has_downsample && ((rc = conv_init(&m->down_conv, P, prefix, "downsample.0", in_ch, out_ch, 1, stride, rng, err)) ||
                              (rc = bn_init(&m->down_bn, P, prefix, "downsample.1", out_ch, err))))
        return rc;
    return MMC_OK;
}

// x (B, in, H, W) -> (B, out, H/stride, W/stride): relu(F(x) + shortcut(x))
// Each batch norm is fused with the ReLU after it, the last one also with the shortcut add
// (mmc_batch_norm_act): one tensor per conv + norm instead of three.
mmc_tensor *mmc_nn_resnet_block_forward(mmc_ctx *ctx, mmc_nn_resnet_block *m, mmc_tensor *x, int training) {
    mmc_tensor *h = mmc_nn_batchnorm_act_forward(ctx, &m->bn1, mmc_nn_conv2d_forward(ctx, &m->conv1, x), training, NULL, 1);
    mmc_nn_batchnorm *last = &m->bn2;
    h = mmc_nn_conv2d_forward(ctx, &m->conv2, h);
    if (m->bottleneck) {
        h = mmc_nn_conv2d_forward(ctx, &m->conv3, mmc_nn_batchnorm_act_forward(ctx, &m->bn2, h, training, NULL, 1));
        last = &m->bn3;
    }
    mmc_tensor *sc = m->has_downsample
                         ? mmc_nn_batchnorm_forward(ctx, &m->down_bn, mmc_nn_conv2d_forward(ctx, &m->down_conv, x), training)
                         : x;
    return mmc_nn_batchnorm_act_forward(ctx, last, h, training, sc, 1);
}

int mmc_nn_resnet_init(mmc_nn_resnet *m, mmc_params *P, const char *prefix, const mmc_nn_resnet_cfg *cfg,
                       mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    int total = 0, ok = cfg->in_channels >= 1 && cfg->num_classes >= 0 &&
                        (cfg->stem == MMC_STEM_IMAGENET || cfg->stem == MMC_STEM_SMALL);
    for (int i = 0; i < 4; i++) {
        ok = ok && cfg->layers[i] >= 1 && cfg->widths[i] >= 1;
        total += cfg->layers[i];
    }
    if (!ok || total > MMC_RESNET_MAX_BLOCKS)
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "resnet %s: layers %d-%d-%d-%d (>= 1 each, <= %d in all), widths %d-%d-%d-%d, "
                             "in_channels %d, stem %d, num_classes %d", prefix ? prefix : "", cfg->layers[0],
                             cfg->layers[1], cfg->layers[2], cfg->layers[3], MMC_RESNET_MAX_BLOCKS, cfg->widths[0],
                             cfg->widths[1], cfg->widths[2], cfg->widths[3], cfg->in_channels, cfg->stem,
                             cfg->num_classes);
    m->cfg = *cfg;
    int small = cfg->stem == MMC_STEM_SMALL, ch = cfg->widths[0], rc;
    if ((rc = conv_init(&m->conv1, P, prefix, "conv1", cfg->in_channels, ch, small ? 3 : 7, small ? 1 : 2, rng, err)) ||
        (rc = bn_init(&m->bn1, P, prefix, "bn1", ch, err)))
        return rc;
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < cfg->layers[s]; b++) {
            char name[MMC_NAME_MAX], local[32];
            snprintf(local, sizeof local, "layer%d.%d", s + 1, b);
            int stride = (s > 0 && b == 0) ? 2 : 1;
            mmc_nn_resnet_block *blk = &m->blocks[m->n_blocks++];
            if ((rc = mmc_nn_resnet_block_init(blk, P, mmc_nn_join(name, prefix, local), cfg->bottleneck, ch,
                                               cfg->widths[s], stride, rng, err)))
                return rc;
            ch = cfg->bottleneck ? 4 * cfg->widths[s] : cfg->widths[s];
        }
    m->out_dim = ch;
    if (cfg->num_classes > 0) {
        char name[MMC_NAME_MAX];
        if ((rc = mmc_nn_linear_init(&m->fc, P, mmc_nn_join(name, prefix, "fc"), ch, cfg->num_classes, 1, rng, err)))
            return rc;
    }
    return MMC_OK;
}

// x (B, in_channels, H, W) -> (B, num_classes) or (B, out_dim)
mmc_tensor *mmc_nn_resnet_forward(mmc_ctx *ctx, mmc_nn_resnet *m, mmc_tensor *x, int training) {
    x = mmc_nn_batchnorm_act_forward(ctx, &m->bn1, mmc_nn_conv2d_forward(ctx, &m->conv1, x), training, NULL, 1);
    if (m->cfg.stem == MMC_STEM_IMAGENET) x = mmc_max_pool2d(ctx, x, 3, 2, 1);
    for (int i = 0; i < m->n_blocks; i++) x = mmc_nn_resnet_block_forward(ctx, &m->blocks[i], x, training);
    x = mmc_global_avg_pool2d(ctx, x); // (B, out_dim)
    return m->cfg.num_classes > 0 ? mmc_nn_linear_forward(ctx, &m->fc, x) : x;
}
