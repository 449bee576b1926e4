/* schedule.c — learning-rate schedules as closed forms of torch.optim.lr_scheduler's
 * StepLR, CosineAnnealingLR and LinearLR (warmup) joined by SequentialLR. Closed forms
 * rather than torch's recursive updates: a schedule is then a pure function of the step,
 * so a resumed run needs to save only the step to continue on the same curve. */
#include "internal.h"
#include "mmc/optim.h"
#include <math.h>

mmc_schedule mmc_schedule_constant(float lr) {
    return (mmc_schedule){.kind = MMC_SCHED_CONSTANT, .base_lr = lr, .gamma = 1.0f, .warmup_start_factor = 1.0f};
}

mmc_schedule mmc_schedule_step(float lr, int64_t step_size, float gamma) {
    mmc_schedule s = mmc_schedule_constant(lr);
    s.kind = MMC_SCHED_STEP;
    s.step_size = step_size;
    s.gamma = gamma;
    return s;
}

mmc_schedule mmc_schedule_cosine(float lr, int64_t total_steps, float min_lr) {
    mmc_schedule s = mmc_schedule_constant(lr);
    s.kind = MMC_SCHED_COSINE;
    s.total_steps = total_steps;
    s.min_lr = min_lr;
    return s;
}

int mmc_schedule_check(const mmc_schedule *s, mmc_error *err) {
    if (!s) return mmc_error_set(err, MMC_ERR_USAGE, "schedule: NULL");
    /* Written as !(x >= 0) so NaN is refused too. */
    if (!(s->base_lr >= 0) || isinf(s->base_lr))
        return mmc_error_set(err, MMC_ERR_USAGE, "schedule: base_lr must be finite and >= 0 (got %g)", s->base_lr);
    if (s->warmup_steps < 0 || !(s->warmup_start_factor >= 0 && s->warmup_start_factor <= 1))
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "schedule: warmup_steps must be >= 0 (got %lld) and warmup_start_factor in [0, 1] (got %g)",
                             (long long)s->warmup_steps, s->warmup_start_factor);
    switch (s->kind) {
    case MMC_SCHED_CONSTANT: return MMC_OK;
    case MMC_SCHED_STEP:
        if (s->step_size <= 0 || !(s->gamma >= 0) || isinf(s->gamma))
            return mmc_error_set(err, MMC_ERR_USAGE, "schedule: step needs step_size > 0 (got %lld) and a finite gamma >= 0 (got %g)",
                                 (long long)s->step_size, s->gamma);
        return MMC_OK;
    case MMC_SCHED_COSINE:
        if (s->total_steps <= 0 || !(s->min_lr >= 0) || isinf(s->min_lr))
            return mmc_error_set(err, MMC_ERR_USAGE, "schedule: cosine needs total_steps > 0 (got %lld) and a finite min_lr >= 0 (got %g)",
                                 (long long)s->total_steps, s->min_lr);
        return MMC_OK;
    }
    return mmc_error_set(err, MMC_ERR_USAGE, "schedule: unknown kind %d", s->kind);
}

/* The main schedule t steps after the warmup. */
static double after_warmup(const mmc_schedule *s, int64_t t) {
    const double base = s->base_lr;
    switch (s->kind) {
    case MMC_SCHED_STEP:
        return s->step_size > 0 ? base * pow((double)s->gamma, (double)(t / s->step_size)) : base;
    case MMC_SCHED_COSINE: {
        if (s->total_steps <= 0) return base;
        const double eta_min = s->min_lr;
        /* pi * t / T with t reduced modulo the period 2T keeps cos's argument small. */
        const double c = cos(M_PI * (double)(t % (2 * s->total_steps)) / (double)s->total_steps);
        return eta_min + (base - eta_min) * (1.0 + c) / 2.0;
    }
    default: return base;
    }
}

float mmc_schedule_lr(const mmc_schedule *s, int64_t step) {
    if (!s) return 0.0f;
    if (step < 0) step = 0;
    const int64_t W = s->warmup_steps;
    if (W > 0 && step < W) {
        const double f = s->warmup_start_factor;
        return (float)((double)s->base_lr * (f + (1.0 - f) * (double)step / (double)W));
    }
    return (float)after_warmup(s, W > 0 ? step - W : step);
}
