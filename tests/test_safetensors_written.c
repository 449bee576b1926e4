/* test_safetensors_written.c — the mmc → PyTorch direction of safetensors interop.
 *
 * tests/fixtures/written_by_mmc.safetensors was written by mmc_safetensors_write from the
 * tensors below, and tools/check_mmc_safetensors.py has loaded it in PyTorch and checked
 * every value (make fixtures runs both). This test writes the same tensors again and
 * requires the same bytes, so a change to the writer that PyTorch was never shown fails
 * here. With MMC_REGENERATE_FIXTURES=1 in the environment it rewrites the committed file
 * instead (make fixtures). */
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

#define WRITTEN_FIXTURE "tests/fixtures/written_by_mmc.safetensors"
#define N_WRITTEN 5

/* The values tools/check_mmc_safetensors.py expects, formula for formula. */
static void fill_written(mmc_tensor **t, const char **names) {
    static const int s_w[2] = {2, 3}, s_b[1] = {3}, s_c[4] = {2, 1, 2, 2}, s_e[2] = {0, 4};
    names[0] = "weight";
    t[0] = mmc_tensor_new(2, s_w);
    for (int i = 0; i < 6; i++) t[0]->data[i] = (float)((i * 37) % 11 - 5) / 4.0f;
    names[1] = "bias"; /* negative zero, a subnormal, the largest float */
    t[1] = mmc_tensor_new(1, s_b);
    t[1]->data[0] = -0.0f;
    t[1]->data[1] = 1e-40f;
    t[1]->data[2] = 3.4028234663852886e38f;
    names[2] = "scalar"; /* 0-dim */
    t[2] = mmc_tensor_new(0, NULL);
    t[2]->data[0] = 3.14159265358979f;
    names[3] = "encoder.layer1.0.conv1.weight"; /* a dotted torch name */
    t[3] = mmc_tensor_new(4, s_c);
    for (int i = 0; i < 8; i++) t[3]->data[i] = (float)(i - 4) / 3.0f;
    names[4] = "empty"; /* no elements: begin == end */
    t[4] = mmc_tensor_new(2, s_e);
}

static const char *WRITTEN_META = "{\"format\":\"pt\",\"written_by\":\"mmc\"}";

static int write_written(const char *path, mmc_error *err) {
    mmc_tensor *t[N_WRITTEN];
    const char *names[N_WRITTEN];
    fill_written(t, names);
    int rc = mmc_safetensors_write(path, t, names, N_WRITTEN, WRITTEN_META, err);
    for (int i = 0; i < N_WRITTEN; i++) mmc_tensor_free(t[i]);
    return rc;
}

TEST(safetensors_written_file_is_stable) {
    mmc_error err = {0};
    const char *fixture = test_path(WRITTEN_FIXTURE);
    if (getenv("MMC_REGENERATE_FIXTURES")) {
        REQUIRE(write_written(fixture, &err) == MMC_OK, "regenerate: %s", err.msg);
        printf("wrote %s\n", fixture);
    }
    char tmp[] = "/tmp/mmc_written_XXXXXX";
    int fd = mkstemp(tmp);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    REQUIRE(write_written(tmp, &err) == MMC_OK, "write: %s", err.msg);
    uint8_t *now = NULL, *committed = NULL;
    size_t n_now = 0, n_committed = 0;
    CHECK(mmc_read_file(tmp, 1 << 20, &now, &n_now, &err) == MMC_OK, "%s", err.msg);
    CHECK(mmc_read_file(fixture, 1 << 20, &committed, &n_committed, &err) == MMC_OK, "%s", err.msg);
    unlink(tmp);
    if (now && committed) {
        size_t first = 0;
        while (first < n_now && first < n_committed && now[first] == committed[first]) first++;
        CHECK(n_now == n_committed && first == n_now,
              "the writer's bytes drifted from %s (%zu vs %zu bytes, first difference at byte %zu); if the change "
              "is meant, run make fixtures so PyTorch checks the new file",
              WRITTEN_FIXTURE, n_now, n_committed, first);
    }
    mmc_free(now);
    mmc_free(committed);
}

/* ... and mmc reads its own file back to the same values. */
TEST(safetensors_written_file_reads_back) {
    mmc_safetensors st;
    mmc_error err = {0};
    REQUIRE(mmc_safetensors_open(&st, test_path(WRITTEN_FIXTURE), &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *want[N_WRITTEN];
    const char *names[N_WRITTEN];
    fill_written(want, names);
    CHECK(st.count == N_WRITTEN, "%d tensors", st.count);
    for (int i = 0; i < N_WRITTEN; i++) {
        mmc_tensor *got = mmc_safetensors_get(&st, names[i], &err);
        CHECK(got && mmc_tensor_same_shape(got, want[i]), "%s: %s", names[i], got ? "shape" : err.msg);
        if (got && mmc_tensor_same_shape(got, want[i]))
            CHECK(!memcmp(got->data, want[i]->data, sizeof(float) * (size_t)got->numel), "%s: values", names[i]);
        mmc_tensor_free(got);
        mmc_tensor_free(want[i]);
    }
    CHECK(st.metadata_json && strstr(st.metadata_json, "\"written_by\":\"mmc\""), "metadata: %s",
          st.metadata_json ? st.metadata_json : "(none)");
    mmc_safetensors_close(&st);
}
