/* optim_impl.h — the optimizer object shared by optim.c (lifecycle), sgd.c and adam.c
 * (the update rules). Not installed. */
#ifndef MMC_OPTIM_IMPL_H
#define MMC_OPTIM_IMPL_H

#include "internal.h"
#include "mmc/optim.h"

enum { MMC_OPTIM_KIND_SGD, MMC_OPTIM_KIND_ADAM, MMC_OPTIM_KIND_ADAMW };

struct mmc_optim {
    int kind;
    int n;
    mmc_tensor **params; /* copy of the caller's array; tensors not owned */
    mmc_tensor **slot[2]; /* per-parameter state tensors (owned), or NULL arrays */
    int64_t *steps;       /* updates each parameter has received */
    uint8_t *no_decay;    /* 1: weight decay off for this parameter (a param group) */
    float lr;
    mmc_sgd_opts sgd;
    mmc_adam_opts adam;
};

/* Below this many elements an update runs on the calling thread; from it up, on
 * mmc_get_threads() threads (mmc_par_threads(N, MMC_OPTIM_PARALLEL_MIN - 1)). The loops
 * use MMC_PARALLEL_FOR, so a serial update never enters OpenMP (see internal.h). */
#define MMC_OPTIM_PARALLEL_MIN 32768

/* Allocates the object and nslots zero-filled state tensors per parameter; validates
 * the parameter list. NULL + err on failure. */
mmc_optim *mmc_optim_create(int kind, const char *who, mmc_tensor *const *params, int n,
                            int nslots, mmc_error *err);

/* wd, or 0 when parameter i is in the no-decay group. */
float mmc_optim_decay_of(const mmc_optim *o, int i, float wd);

/* Updates parameter i (its grad is non-NULL) and advances its step count. */
void mmc_sgd_update(mmc_optim *o, int i);
void mmc_adam_update(mmc_optim *o, int i);

#endif
