/* sgd.c — stochastic gradient descent with momentum, dampening, Nesterov and L2 weight
 * decay, in torch.optim.SGD's order of operations (PyTorch 1.13, single-tensor path):
 *
 *   d = g + wd * p
 *   v = d                              on a parameter's first step (torch clones d_p)
 *   v = momentum * v + (1 - dampening) * d   afterwards
 *   d = nesterov ? d + momentum * v : v
 *   p = p - lr * d
 */
#include "optim_impl.h"

mmc_sgd_opts mmc_sgd_defaults(float lr) {
    return (mmc_sgd_opts){.lr = lr, .momentum = 0, .dampening = 0, .weight_decay = 0, .nesterov = 0};
}

mmc_optim *mmc_optim_sgd(mmc_tensor *const *params, int n, mmc_sgd_opts o, mmc_error *err) {
    /* Written as !(x >= 0) so NaN is refused too. */
    if (!(o.lr >= 0) || !(o.momentum >= 0) || !(o.weight_decay >= 0) || !(o.dampening >= 0)) {
        mmc_error_set(err, MMC_ERR_USAGE,
                      "sgd: lr (%g), momentum (%g), dampening (%g) and weight_decay (%g) must be >= 0",
                      o.lr, o.momentum, o.dampening, o.weight_decay);
        return NULL;
    }
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
        mmc_error_set(err, MMC_ERR_USAGE, "sgd: nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                      o.momentum, o.dampening);
        return NULL;
    }
    mmc_optim *opt = mmc_optim_create(MMC_OPTIM_KIND_SGD, "sgd", params, n, o.momentum != 0 ? 1 : 0, err);
    if (!opt) return NULL;
    opt->sgd = o;
    opt->lr = o.lr;
    return opt;
}

void mmc_sgd_update(mmc_optim *o, int i) {
    mmc_tensor *t = o->params[i];
    float *p = t->data;
    const float *g = t->grad;
    const int64_t N = t->numel;
    const float wd = o->sgd.weight_decay, mom = o->sgd.momentum;
    /* torch computes 1 - dampening in double, then the kernel sees it as a float */
    const float keep = (float)(1.0 - (double)o->sgd.dampening);
    const float neg_lr = -o->lr;
    const int nesterov = o->sgd.nesterov, first = o->steps[i] == 0;
    float *v = mom != 0 ? o->slot[0][i]->data : NULL;
#pragma omp parallel for if (N > 32768)
    for (int64_t j = 0; j < N; j++) {
        float d = g[j];
        if (wd != 0) d = d + wd * p[j];
        if (v) {
            v[j] = first ? d : v[j] * mom + keep * d;
            d = nesterov ? d + mom * v[j] : v[j];
        }
        p[j] = p[j] + neg_lr * d;
    }
    o->steps[i]++;
}
