/*
 * mmc/optim.h — optimizers (SGD, Adam, AdamW), gradient clipping, parameter groups and
 * learning-rate schedules (src/optim).
 */
#ifndef MMC_OPTIM_H
#define MMC_OPTIM_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- optim */

/* Optimizers that follow PyTorch 1.13's torch.optim.SGD, Adam and AdamW step for step:
 * the same formulas in the same order, in f32, with the scalar coefficients (bias
 * corrections, 1 - beta, ...) computed in double as Python does. Their state (momentum,
 * exp_avg, exp_avg_sq, a step count per parameter) is allocated once at creation, so a
 * step never allocates. A parameter whose .grad is NULL is skipped, as torch skips
 * `p.grad is None`: its state and step count do not move. */
typedef struct mmc_sgd_opts {
    float lr, momentum, dampening, weight_decay;
    int nesterov; /* needs momentum > 0 and dampening 0, as in torch */
} mmc_sgd_opts;
typedef struct mmc_adam_opts {
    float lr, beta1, beta2, eps, weight_decay;
} mmc_adam_opts;
mmc_sgd_opts mmc_sgd_defaults(float lr);    /* momentum 0, dampening 0, decay 0 */
mmc_adam_opts mmc_adam_defaults(float lr);  /* betas (0.9, 0.999), eps 1e-8, decay 0 */
mmc_adam_opts mmc_adamw_defaults(float lr); /* the same with decay 0.01 (torch's AdamW) */

typedef struct mmc_optim mmc_optim;
/* params[n]: persistent tensors (the array is copied; the tensors must outlive the
 * optimizer). NULL + err on bad options (negative lr, beta outside [0, 1), ...) or OOM.
 *   sgd:   v = momentum*v + (1-dampening)*(g + wd*p)  (v = g + wd*p on the first step);
 *          p -= lr * (nesterov ? g + wd*p + momentum*v : v)
 *   adam:  L2 decay: g += wd*p, then the Adam update with bias correction
 *   adamw: decoupled decay: p *= 1 - lr*wd, then the Adam update on the raw gradient */
mmc_optim *mmc_optim_sgd(mmc_tensor *const *params, int n, mmc_sgd_opts o, mmc_error *err);
mmc_optim *mmc_optim_adam(mmc_tensor *const *params, int n, mmc_adam_opts o, mmc_error *err);
mmc_optim *mmc_optim_adamw(mmc_tensor *const *params, int n, mmc_adam_opts o, mmc_error *err);
void mmc_optim_free(mmc_optim *opt);
/* One update of every parameter that has a gradient. */
void mmc_optim_step(mmc_optim *opt);
/* Zeroes every parameter's gradient (torch's zero_grad(set_to_none=False)). */
void mmc_optim_zero_grad(mmc_optim *opt);
/* The learning rate used by the next step (for schedules). */
void mmc_optim_set_lr(mmc_optim *opt, float lr);
float mmc_optim_get_lr(const mmc_optim *opt);
/* State, for checkpoints: slot 0 is SGD's momentum buffer or Adam's exp_avg, slot 1
 * Adam's exp_avg_sq (persistent tensors shaped like param i; NULL if the optimizer has
 * no such slot). steps: updates param i has received (SGD: > 0 once its buffer holds a
 * value). Both may be written to restore a checkpoint. */
mmc_tensor *mmc_optim_state(mmc_optim *opt, int i, int slot);
int64_t mmc_optim_get_steps(const mmc_optim *opt, int i);
void mmc_optim_set_steps(mmc_optim *opt, int i, int64_t steps);

/* torch.nn.utils.clip_grad_norm_ (L2): the global norm of all gradients (params with a
 * NULL grad are skipped); if it exceeds max_norm every gradient is scaled by
 * max_norm / (norm + 1e-6). Returns the norm before clipping (NaN/inf propagate into
 * the gradients, as in torch with error_if_nonfinite=False). */
float mmc_clip_grad_norm(mmc_tensor *const *params, int n, float max_norm);

/* Parameter groups, as torch's [{"params": decay}, {"params": no_decay, "weight_decay": 0}]:
 * no_decay[i] != 0 turns weight decay off for parameter i (indices as in the params array
 * given at creation; NULL turns it back on everywhere). Every other option is shared. */
void mmc_optim_set_decay_mask(mmc_optim *opt, const uint8_t *no_decay);
/* The same, from a registry's no_decay flags (biases and norm weights), matched by tensor:
 * a parameter that P does not hold keeps its weight decay. */
struct mmc_params;
void mmc_optim_no_decay_from_params(mmc_optim *opt, const struct mmc_params *P);
/* For checkpoints and tools: how many parameters, parameter i, and the update rule's name
 * ("sgd", "adam" or "adamw"); number of state slots per parameter (0, 1 or 2) and their
 * torch names (slot 0 "momentum_buffer" or "exp_avg", slot 1 "exp_avg_sq"). */
int mmc_optim_count(const mmc_optim *opt);
mmc_tensor *mmc_optim_param(const mmc_optim *opt, int i);
const char *mmc_optim_kind(const mmc_optim *opt);
int mmc_optim_slots(const mmc_optim *opt);
const char *mmc_optim_slot_name(const mmc_optim *opt, int slot);

/* ---- schedules (src/optim/schedule.c) ---- */

/* Learning-rate schedules, the closed forms of torch.optim.lr_scheduler (torch updates
 * recursively; the two agree to rounding). `step` counts optimizer steps already taken:
 * the lr of update k (0-based) is mmc_schedule_lr(s, k), torch's get_last_lr() after k
 * calls of scheduler.step().
 *   constant  base_lr
 *   step      base_lr * gamma^floor(t / step_size)                          (StepLR)
 *   cosine    min_lr + (base_lr - min_lr) * (1 + cos(pi t / total_steps)) / 2
 *             (CosineAnnealingLR with T_max = total_steps, eta_min = min_lr; as in torch it
 *             climbs back up after total_steps, so size total_steps to the run)
 * warmup_steps W > 0 puts a linear warmup in front, torch's SequentialLR([LinearLR(
 * start_factor = f, total_iters = W), schedule], milestones = [W]): for step < W the lr is
 * base_lr * (f + (1 - f) * step / W); after it the schedule runs with t = step - W. Without
 * warmup t = step. The lr is computed in double and rounded once to float. */
enum { MMC_SCHED_CONSTANT = 0, MMC_SCHED_STEP = 1, MMC_SCHED_COSINE = 2 };
typedef struct mmc_schedule {
    int kind;                  /* MMC_SCHED_* */
    float base_lr;
    int64_t step_size;         /* step: > 0 */
    float gamma;               /* step: the factor every step_size steps */
    int64_t total_steps;       /* cosine: T_max > 0, counted after the warmup */
    float min_lr;              /* cosine: eta_min */
    int64_t warmup_steps;      /* 0: none */
    float warmup_start_factor; /* f in [0, 1] */
} mmc_schedule;
mmc_schedule mmc_schedule_constant(float lr);
mmc_schedule mmc_schedule_step(float lr, int64_t step_size, float gamma);
mmc_schedule mmc_schedule_cosine(float lr, int64_t total_steps, float min_lr);
/* MMC_OK, or MMC_ERR_USAGE naming the bad field (negative lr, step_size 0, ...). */
int mmc_schedule_check(const mmc_schedule *s, mmc_error *err);
/* The lr for the update after `step` steps (step < 0 counts as 0). */
float mmc_schedule_lr(const mmc_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif /* MMC_OPTIM_H */
