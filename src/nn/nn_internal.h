/* nn_internal.h — small helpers shared by the modules in src/nn: dotted names and error
 * plumbing. Not installed. */
#ifndef MMC_NN_INTERNAL_H
#define MMC_NN_INTERNAL_H

#include "internal.h"
#include "mmc/nn.h"
#include <stdio.h>

#define MMC_NAME_MAX 256

/* prefix + "." + name (or name alone for an empty prefix) into buf; returns buf. */
static inline const char *mmc_nn_join(char *buf, const char *prefix, const char *name) {
    if (prefix && prefix[0]) snprintf(buf, MMC_NAME_MAX, "%s.%s", prefix, name);
    else snprintf(buf, MMC_NAME_MAX, "%s", name);
    return buf;
}

/* The status to return after a call that filled err (which may be NULL). */
static inline int mmc_nn_status(const mmc_error *err) {
    return err && err->code ? err->code : MMC_ERR_RUNTIME;
}

/* xavier_uniform_ for a (fan_out, fan_in) matrix: U(±sqrt(6 / (fan_in + fan_out))). */
void mmc_nn_init_xavier_uniform(mmc_tensor *w, int fan_in, int fan_out, mmc_rng *rng);

#endif
