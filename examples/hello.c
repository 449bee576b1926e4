/* hello.c — the smallest mmc program: a tiny linear map, its gradient, one SGD step.
 * Build against an installed mmc:
 *   cc hello.c $(pkg-config --cflags --libs mmc) -o hello && ./hello */
#include <mmc.h>
#include <stdio.h>

int main(void) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *w = mmc_tensor_new(1, (int[]){3}); /* a parameter: lives until freed */
    w->requires_grad = 1;
    w->data[0] = 0.5f; w->data[1] = -1.0f; w->data[2] = 2.0f;
    float xs[3] = {1.0f, 2.0f, 3.0f};
    for (int step = 0; step < 3; step++) {
        mmc_tensor *x = mmc_tensor_from(ctx, 1, (int[]){3}, xs);  /* step memory: arena */
        mmc_tensor *y = mmc_mul(ctx, w, x);                        /* y = w * x */
        mmc_tensor *loss = mmc_mul(ctx, y, y);                     /* loss = sum (w x)^2 */
        if (!loss) { fprintf(stderr, "error: %s\n", ctx->err.msg); return 1; }
        float l = loss->data[0] + loss->data[1] + loss->data[2];
        mmc_backward_with(ctx, loss, (float[]){1, 1, 1});          /* d sum / d loss = 1 */
        printf("step %d: loss %.4f  grad (%.2f %.2f %.2f)\n", step, l, w->grad[0], w->grad[1], w->grad[2]);
        for (int i = 0; i < 3; i++) w->data[i] -= 0.02f * w->grad[i]; /* SGD */
        mmc_tensor_zero_grad(w);
        mmc_ctx_reset(ctx);                                        /* frees the step's tensors */
    }
    mmc_tensor_free(w);
    mmc_ctx_free(ctx);
    return 0;
}
