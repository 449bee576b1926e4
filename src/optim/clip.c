/* clip.c — global-norm gradient clipping, torch.nn.utils.clip_grad_norm_ (L2 norm):
 * coef = max_norm / (total + 1e-6), applied when it is below 1 (torch multiplies by
 * min(coef, 1) unconditionally; multiplying by exactly 1 changes nothing). */
#include "optim_impl.h"
#include <math.h>

float mmc_clip_grad_norm(mmc_tensor *const *params, int n, float max_norm) {
    if (!params || n <= 0) return 0.0f;
    /* Accumulate in double, serially: the sum is memory-bound anyway, and a fixed order
     * keeps the result independent of the thread count. */
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        const mmc_tensor *t = params[i];
        if (!t || !t->grad) continue;
        for (int64_t j = 0; j < t->numel; j++) ss += (double)t->grad[j] * t->grad[j];
    }
    const float total = (float)sqrt(ss);
    const float coef = max_norm / (total + 1e-6f);
    /* !(coef >= 1) also catches NaN, which torch's clamp passes through to the grads. */
    if (!(coef >= 1.0f)) {
        for (int i = 0; i < n; i++) {
            mmc_tensor *t = params[i];
            if (!t || !t->grad) continue;
            float *g = t->grad;
            const int64_t N = t->numel;
            MMC_PARALLEL_FOR(mmc_par_threads(N, MMC_OPTIM_PARALLEL_MIN - 1),
                             for (int64_t j = 0; j < N; j++) g[j] *= coef);
        }
    }
    return total;
}
