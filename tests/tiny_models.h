/* tiny_models.h — the two small models the training-parity and no-allocation tests run:
 * the same layouts as tools/fixtures/train.py's MLP and CNN. Plain mmc API only (no test
 * harness), so the separate malloc-counting executable can use them too. */
#ifndef MMC_TINY_MODELS_H
#define MMC_TINY_MODELS_H
#include "mmc.h"

enum { TINY_MLP, TINY_CNN };
#define TINY_MAX 9

typedef struct tiny_model {
    int kind;
    int n;                  /* tensors in t[]: trainable parameters first, then buffers */
    int nparams;            /* how many of t[] the optimizer sees */
    mmc_tensor *t[TINY_MAX]; /* persistent, named as torch names them (fc1.weight, ...) */
} tiny_model;

/* The tensor names of a model kind, in torch's state_dict order; returns their count
 * and how many are parameters. */
int tiny_model_names(int kind, const char *const **names, int *nparams);
/* Parameters drawn from N(0, 0.1) (biases 0, BN weight 1 / running var 1); MMC_OK or err. */
int tiny_model_init(tiny_model *m, int kind, uint64_t seed, mmc_error *err);
/* Parameters and buffers read from a safetensors file by their torch names. */
int tiny_model_load(tiny_model *m, int kind, const mmc_safetensors *st, mmc_error *err);
void tiny_model_free(tiny_model *m);
/* Logits: MLP x (B, 8) -> (B, 4); CNN x (B, 3, H, W) -> (B, 3), BN in training mode.
 * NULL with ctx->err set on failure. */
mmc_tensor *tiny_model_forward(mmc_ctx *ctx, tiny_model *m, mmc_tensor *x);

#endif
