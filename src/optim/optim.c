/* optim.c — the optimizer object: creation (state allocated once, up front, so steps
 * never allocate), the step loop that skips parameters without a gradient, zero_grad,
 * the learning rate, and access to the state for checkpoints. */
#include "optim_impl.h"
#include "mmc/nn.h" /* mmc_params: which parameters decay */
#include <string.h>

mmc_optim *mmc_optim_create(int kind, const char *who, mmc_tensor *const *params, int n,
                            int nslots, mmc_error *err) {
    if (n < 0 || (n > 0 && !params)) {
        mmc_error_set(err, MMC_ERR_USAGE, "%s: no parameter list (n = %d)", who, n);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        mmc_tensor *p = params[i];
        if (!p) {
            mmc_error_set(err, MMC_ERR_USAGE, "%s: parameter %d is NULL", who, i);
            return NULL;
        }
        /* The state is shaped like the parameter and the update writes p->data in place:
         * an arena tensor would die at the next mmc_ctx_reset, taking the update with it. */
        if (!p->persistent || p->base) {
            mmc_error_set(err, MMC_ERR_USAGE,
                          "%s: parameter %d (%s) is not a persistent tensor (use mmc_tensor_new)",
                          who, i, p->name ? p->name : "unnamed");
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (params[j] == p) {
                /* torch warns about this; here it would silently update p twice. */
                mmc_error_set(err, MMC_ERR_USAGE, "%s: parameter %d (%s) is listed twice (also at %d)",
                              who, i, p->name ? p->name : "unnamed", j);
                return NULL;
            }
    }
    mmc_optim *o = mmc_calloc(1, sizeof *o);
    if (!o) goto oom;
    o->kind = kind;
    o->n = n;
    o->params = mmc_calloc((size_t)(n ? n : 1), sizeof *o->params);
    o->steps = mmc_calloc((size_t)(n ? n : 1), sizeof *o->steps);
    o->no_decay = mmc_calloc((size_t)(n ? n : 1), 1);
    if (!o->params || !o->steps || !o->no_decay) goto oom;
    if (n) memcpy(o->params, params, sizeof *params * (size_t)n);
    for (int s = 0; s < nslots; s++) {
        o->slot[s] = mmc_calloc((size_t)(n ? n : 1), sizeof *o->slot[s]);
        if (!o->slot[s]) goto oom;
        for (int i = 0; i < n; i++) {
            o->slot[s][i] = mmc_tensor_new(params[i]->ndim, params[i]->shape);
            if (!o->slot[s][i]) goto oom;
        }
    }
    return o;
oom:
    mmc_optim_free(o);
    mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory allocating optimizer state for %d parameters",
                  who, n);
    return NULL;
}

void mmc_optim_free(mmc_optim *o) {
    if (!o) return;
    for (int s = 0; s < 2; s++) {
        if (!o->slot[s]) continue;
        for (int i = 0; i < o->n; i++) mmc_tensor_free(o->slot[s][i]);
        mmc_free(o->slot[s]);
    }
    mmc_free(o->params);
    mmc_free(o->steps);
    mmc_free(o->no_decay);
    mmc_free(o);
}

void mmc_optim_step(mmc_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (!o->params[i]->grad) continue; /* torch: `if p.grad is None: continue` */
        if (o->kind == MMC_OPTIM_KIND_SGD) mmc_sgd_update(o, i);
        else mmc_adam_update(o, i);
    }
}

void mmc_optim_zero_grad(mmc_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) mmc_tensor_zero_grad(o->params[i]);
}

void mmc_optim_set_lr(mmc_optim *o, float lr) {
    if (o) o->lr = lr;
}
float mmc_optim_get_lr(const mmc_optim *o) { return o ? o->lr : 0.0f; }

mmc_tensor *mmc_optim_state(mmc_optim *o, int i, int slot) {
    if (!o || i < 0 || i >= o->n || slot < 0 || slot > 1 || !o->slot[slot]) return NULL;
    return o->slot[slot][i];
}

int64_t mmc_optim_get_steps(const mmc_optim *o, int i) {
    return o && i >= 0 && i < o->n ? o->steps[i] : 0;
}

void mmc_optim_set_steps(mmc_optim *o, int i, int64_t steps) {
    if (o && i >= 0 && i < o->n && steps >= 0) o->steps[i] = steps;
}

void mmc_optim_set_decay_mask(mmc_optim *o, const uint8_t *no_decay) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) o->no_decay[i] = no_decay && no_decay[i];
}

void mmc_optim_no_decay_from_params(mmc_optim *o, const mmc_params *P) {
    if (!o || !P) return;
    for (int i = 0; i < o->n; i++)
        for (int j = 0; j < P->n; j++)
            if (P->tensors[j] == o->params[i]) o->no_decay[i] = P->no_decay[j] != 0;
}

/* The weight decay parameter i sees: its group's. */
float mmc_optim_decay_of(const mmc_optim *o, int i, float wd) { return o->no_decay[i] ? 0.0f : wd; }

int mmc_optim_count(const mmc_optim *o) { return o ? o->n : 0; }

mmc_tensor *mmc_optim_param(const mmc_optim *o, int i) {
    return o && i >= 0 && i < o->n ? o->params[i] : NULL;
}

const char *mmc_optim_kind(const mmc_optim *o) {
    if (!o) return "";
    return o->kind == MMC_OPTIM_KIND_SGD ? "sgd" : o->kind == MMC_OPTIM_KIND_ADAM ? "adam" : "adamw";
}

int mmc_optim_slots(const mmc_optim *o) {
    if (!o) return 0;
    return (o->slot[0] ? 1 : 0) + (o->slot[1] ? 1 : 0);
}

/* torch's state_dict keys, so a checkpoint reads like torch's optimizer.state_dict(). */
const char *mmc_optim_slot_name(const mmc_optim *o, int slot) {
    if (!o || slot < 0 || slot >= mmc_optim_slots(o)) return NULL;
    if (o->kind == MMC_OPTIM_KIND_SGD) return "momentum_buffer";
    return slot == 0 ? "exp_avg" : "exp_avg_sq";
}
