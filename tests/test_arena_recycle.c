/* Tests of the arena's block recycling (src/core/alloc.c: mmc_arena_recycle,
 * mmc_arena_alloc_reuse) and of its use by backward (src/core/tensor.c), which hands each
 * op's output gradient back once the op's backward has run. */
#include "internal.h"
#include "test.h"
#include <stdlib.h>

TEST(arena_recycle_merge_split_grow) {
    mmc_arena *a = mmc_arena_new(1 << 20);
    unsigned char *p1 = mmc_arena_alloc(a, 4096), *p2 = mmc_arena_alloc(a, 4096), *p3 = mmc_arena_alloc(a, 4096);
    REQUIRE(p1 && p2 == p1 + 4096 && p3 == p2 + 4096, "bump allocation is contiguous in one chunk");
    size_t used = mmc_arena_used(a);
    /* nothing recycled: a plain bump */
    unsigned char *q = mmc_arena_alloc_reuse(a, 64);
    CHECK(q == p3 + 4096 && mmc_arena_used(a) == used + 64, "no free block: alloc_reuse bumps");
    used = mmc_arena_used(a);
    /* p2 then p1 handed back: they merge into one 8 KiB block */
    mmc_arena_recycle(a, p2, 4096);
    mmc_arena_recycle(a, p1, 4096);
    unsigned char *r = mmc_arena_alloc_reuse(a, 8192);
    CHECK(r == p1 && mmc_arena_used(a) == used, "two neighbours merge and serve a request of their total size");
    /* split: a 8 KiB block serves two 4 KiB requests, in order */
    mmc_arena_recycle(a, r, 8192);
    unsigned char *s1 = mmc_arena_alloc_reuse(a, 4000), *s2 = mmc_arena_alloc_reuse(a, 4160);
    CHECK(s1 == p1 && s2 == p1 + 4032 && mmc_arena_used(a) == used, /* 4000 rounds up to 4032 */
          "a larger block is split: the head is handed out, the tail stays free (s1 %p s2 %p p1 %p)", (void *)s1,
          (void *)s2, (void *)p1);
    /* best fit: of a 64-byte and a 4 KiB free block, a 64-byte request takes the small one */
    unsigned char *t = mmc_arena_alloc(a, 4096);
    mmc_arena_recycle(a, q, 64);
    (void)t;
    unsigned char *u = mmc_arena_alloc_reuse(a, 64);
    CHECK(u == q, "the smallest block that fits is used");
    /* grow the top: a free block that ends at the bump pointer is extended */
    unsigned char *top = mmc_arena_alloc(a, 1024);
    used = mmc_arena_used(a);
    mmc_arena_recycle(a, top, 1024);
    unsigned char *big = mmc_arena_alloc_reuse(a, 3072);
    CHECK(big == top && mmc_arena_used(a) == used + 2048, "the top block grows by the difference only");
    /* reset forgets every free block */
    mmc_arena_recycle(a, big, 3072);
    mmc_arena_reset(a);
    unsigned char *z = mmc_arena_alloc_reuse(a, 128);
    CHECK(z && mmc_arena_used(a) == 128, "after reset allocation starts over");
    mmc_arena_free(a);
}

static mmc_tensor *chain(mmc_ctx *ctx, mmc_tensor *x, int depth) {
    mmc_tensor *h = x;
    for (int i = 0; i < depth; i++) h = mmc_scale(ctx, mmc_tanh(ctx, h), 0.9f);
    return mmc_sum(ctx, h, NULL, 0, 0);
}

/* A deep chain of same-sized activations: without recycling backward would add one gradient
 * buffer per activation (as many bytes again as the forward); with it, a handful. The
 * gradient reaching the leaf must be unaffected (compared with a chain computed per link in
 * separate contexts, which recycle nothing across links). */
TEST(backward_recycles_gradients) {
    enum { N = 1 << 14, DEPTH = 24 };
    mmc_tensor *x = test_randn(1, (int[]){N}, 9, 1.0f);
    x->requires_grad = 1;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *loss = chain(ctx, x, DEPTH);
    REQUIRE(loss, "forward: %s", ctx->err.msg);
    size_t fwd = mmc_arena_used(ctx->arena);
    REQUIRE(mmc_backward(ctx, loss) == MMC_OK, "backward: %s", ctx->err.msg);
    size_t extra = mmc_arena_peak(ctx->arena) - fwd, one = (size_t)N * sizeof(float);
    CHECK(extra <= 4 * one, "backward took %zu bytes beyond the forward: more than 4 gradients of %zu", extra, one);
    CHECK(loss->grad && loss->grad[0] == 1.0f, "the seeded tensor keeps its gradient");
    /* reference: d/dx by the chain rule, link by link */
    float *g = malloc(sizeof(float) * N), *h = malloc(sizeof(float) * N);
    for (int64_t i = 0; i < N; i++) g[i] = 1.0f, h[i] = x->data[i];
    float *hs = malloc(sizeof(float) * (size_t)N * DEPTH);
    for (int d = 0; d < DEPTH; d++) {
        memcpy(hs + (int64_t)d * N, h, sizeof(float) * N);
        for (int64_t i = 0; i < N; i++) h[i] = tanhf(h[i]) * 0.9f;
    }
    for (int d = DEPTH - 1; d >= 0; d--)
        for (int64_t i = 0; i < N; i++) {
            float t = tanhf(hs[(int64_t)d * N + i]);
            g[i] *= 0.9f * (1.0f - t * t);
        }
    test_close("chain gradient", x->grad, g, N, 1e-5);
    /* a second backward on the same tape gives the same gradient again (added to the first) */
    for (int64_t i = 0; i < N; i++) g[i] = 2.0f * x->grad[i];
    REQUIRE(mmc_backward(ctx, loss) == MMC_OK, "second backward: %s", ctx->err.msg);
    test_close("second backward", x->grad, g, N, 1e-6);
    free(g), free(h), free(hs);
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
}

/* mmc_ctx_keep: without autograd, everything since the mark but the kept tensor is freed; the
 * kept values (also those of a view) and the tensors from before the mark are intact. With
 * grad mode on it changes nothing. */
TEST(ctx_keep_frees_the_rest) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_grad_mode(ctx, 0);
    mmc_tensor *in = mmc_tensor_from(ctx, 2, (int[]){4, 256}, NULL);
    for (int i = 0; i < 1024; i++) in->data[i] = (float)i;
    size_t before = mmc_arena_used(ctx->arena);
    mmc_ctx_mark mark = mmc_ctx_tell(ctx);
    mmc_tensor *h = in;
    for (int i = 0; i < 8; i++) h = mmc_add_scalar(ctx, mmc_scale(ctx, h, 2.0f), 1.0f);
    h = mmc_reshape(ctx, h, 2, (int[]){8, 128});
    REQUIRE(h && mmc_arena_used(ctx->arena) > before + 16 * 4096, "the loop allocated");
    mmc_tensor *k = mmc_ctx_keep(ctx, mark, h);
    REQUIRE(k && k->base == NULL && k->shape[0] == 8 && k->shape[1] == 128, "kept as a (8, 128) tensor, not a view");
    CHECK(mmc_arena_used(ctx->arena) <= before + 4096 + 128, "only the kept tensor remains: %zu bytes above the mark",
          mmc_arena_used(ctx->arena) - before);
    int ok = 1;
    for (int i = 0; i < 1024; i++) {
        float want = (float)i;
        for (int j = 0; j < 8; j++) want = want * 2.0f + 1.0f;
        ok &= k->data[i] == want && in->data[i] == (float)i;
    }
    CHECK(ok, "kept and earlier values intact");
    /* grad mode on: nothing moves */
    mmc_grad_mode(ctx, 1);
    mmc_ctx_mark m2 = mmc_ctx_tell(ctx);
    mmc_tensor *y = mmc_scale(ctx, k, 3.0f);
    size_t used = mmc_arena_used(ctx->arena);
    CHECK(mmc_ctx_keep(ctx, m2, y) == y && mmc_arena_used(ctx->arena) == used, "with autograd keep is a no-op");
    mmc_ctx_free(ctx);
}

/* A step that grows the arena (new chunks) between mark and keep still frees what it made:
 * the head moves back to the mark's chunk and the values survive the move. Each "layer"
 * makes 24 MB of intermediates, more than the first 16 MB chunk: before, its keep could not
 * rewind and those layers' intermediates stayed until the reset. */
TEST(ctx_keep_across_new_chunks) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_grad_mode(ctx, 0);
    mmc_tensor *h = mmc_tensor_from(ctx, 2, (int[]){1024, 1024}, NULL);
    for (int i = 0; i < 1 << 20; i++) h->data[i] = (float)(i % 97);
    for (int layer = 0; layer < 6; layer++) {
        mmc_ctx_mark mark = mmc_ctx_tell(ctx);
        mmc_tensor *x = h;
        for (int j = 0; j < 6; j++) x = mmc_add_scalar(ctx, x, 1.0f); /* 6 × 4 MB */
        REQUIRE(x, "ops failed");
        mmc_tensor *k = mmc_ctx_keep(ctx, mark, x);
        CHECK(k != x, "layer %d: keep could not rewind (arena capacity %zu)", layer, mmc_arena_capacity(ctx->arena));
        h = k;
    }
    int ok = 1;
    for (int i = 0; i < 1 << 20; i++) ok &= h->data[i] == (float)(i % 97) + 36.0f;
    CHECK(ok, "values after 6 kept layers");
    size_t used = mmc_arena_used(ctx->arena); /* the input and six kept outputs, 4 MB each */
    CHECK(used <= ((size_t)28 << 20) + 65536, "%zu bytes in use: the layers' intermediates were not freed", used);
    mmc_ctx_free(ctx);
}
