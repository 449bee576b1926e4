/* fuzz_safetensors.c — libFuzzer target for the safetensors reader.
 *
 * The input is a whole file image. We parse it from memory (the same code path as
 * mmc_safetensors_open after the read), then convert every tensor both ways (f32 and
 * int64), because the conversions read the data section at offsets taken from the header:
 * a validation hole there shows up as an out-of-bounds read under ASan.
 *
 * MMC_FUZZ_MAX_LEN 65536
 * (read by fuzz/run.sh: big enough for a header with a few dozen entries plus data,
 * small enough that mutations stay fast.) */
#include "mmc.h"
#include <stdlib.h> /* abort */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mmc_safetensors st;
    mmc_error err = {0};
    if (mmc_safetensors_parse(&st, "fuzz.safetensors", data, size, &err) != MMC_OK) return 0;
    for (int i = 0; i < st.count; i++) {
        const char *name = st.entries[i].name;
        /* find must agree with the entry list, or lookups by name are broken */
        if (mmc_safetensors_find(&st, name) == NULL) abort();
        mmc_tensor *t = mmc_safetensors_get(&st, name, &err);
        mmc_tensor_free(t);
        int64_t n = 0;
        int64_t *v = mmc_safetensors_get_i64(&st, name, &n, &err);
        mmc_free(v);
    }
    mmc_safetensors_close(&st);
    return 0;
}
