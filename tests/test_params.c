/* test_params.c — the parameter registry and checkpoint round trip. */
#include "test.h"
#include <unistd.h>

TEST(params_registry_and_checkpoint) {
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_rng r;
    mmc_rng_seed(&r, 5, 0);
    mmc_tensor *w = mmc_params_new(&P, "enc.fc", "weight", MMC_PARAM, 2, (int[]){4, 3}, &err);
    mmc_tensor *b = mmc_params_new(&P, "enc.fc", "bias", MMC_PARAM, 1, (int[]){4}, &err);
    mmc_tensor *rm = mmc_params_new(&P, "enc.bn", "running_mean", MMC_BUFFER, 1, (int[]){3}, &err);
    REQUIRE(w && b && rm, "%s", err.msg);
    CHECK(!mmc_params_new(&P, "enc.fc", "weight", MMC_PARAM, 1, (int[]){1}, &err) && err.code == MMC_ERR_USAGE, "duplicate refused");
    CHECK(strcmp(w->name, "enc.fc.weight") == 0, "dotted name");
    CHECK(w->requires_grad && !rm->requires_grad, "buffers need no grad");
    CHECK(!P.no_decay[0] && P.no_decay[1], "biases get no decay");
    CHECK(mmc_params_count(&P, MMC_PARAM) == 16 && mmc_params_count(&P, MMC_BUFFER) == 3, "counts");
    mmc_tensor *tr[3];
    CHECK(mmc_params_trainable(&P, tr) == 2 && tr[0] == w && tr[1] == b, "trainable");
    mmc_init_uniform(w, 0.5f, &r);
    mmc_init_normal(rm, 0, 1, &r);
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmc_params_%d.safetensors", (int)getpid());
    REQUIRE(mmc_params_save(&P, path, NULL, &err) == MMC_OK, "%s", err.msg);
    mmc_params Q = {0};
    mmc_tensor *w2 = mmc_params_new(&Q, "enc.fc", "weight", MMC_PARAM, 2, (int[]){4, 3}, &err);
    mmc_params_new(&Q, "enc.fc", "bias", MMC_PARAM, 1, (int[]){4}, &err);
    mmc_tensor *rm2 = mmc_params_new(&Q, "enc.bn", "running_mean", MMC_BUFFER, 1, (int[]){3}, &err);
    REQUIRE(mmc_params_load(&Q, path, 1, &err) == MMC_OK, "%s", err.msg);
    CHECK(memcmp(w->data, w2->data, 12 * 4) == 0 && memcmp(rm->data, rm2->data, 12) == 0, "round trip");
    /* strict load refuses a model with an extra tensor, and a wrong shape */
    mmc_params_new(&Q, "", "extra", MMC_PARAM, 1, (int[]){2}, &err);
    CHECK(mmc_params_load(&Q, path, 1, &err) == MMC_ERR_INPUT && strstr(err.msg, "extra"), "%s", err.msg);
    CHECK(mmc_params_load(&Q, path, 0, &err) == MMC_OK, "non-strict accepts: %s", err.msg);
    mmc_params R = {0};
    mmc_params_new(&R, "enc.fc", "weight", MMC_PARAM, 2, (int[]){3, 4}, &err);
    CHECK(mmc_params_load(&R, path, 0, &err) == MMC_ERR_INPUT && strstr(err.msg, "wrong shape"), "%s", err.msg);
    remove(path);
    mmc_params_free(&P);
    mmc_params_free(&Q);
    mmc_params_free(&R);
}
