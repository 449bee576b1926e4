/* test_safetensors.c — round trips and a catalogue of hostile headers. */
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

/* Builds a file image: 8-byte length + header + data bytes. */
static size_t build(uint8_t *buf, const char *header, const uint8_t *data, size_t ndata) {
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (ndata) memcpy(buf + 8 + hl, data, ndata);
    return 8 + hl + ndata;
}

static int parse_rc(const char *header, size_t ndata, char *msg, size_t nmsg) {
    static uint8_t buf[1 << 18];
    uint8_t data[256] = {0};
    size_t n = build(buf, header, data, ndata);
    mmc_safetensors st;
    mmc_error err = {0};
    int rc = mmc_safetensors_parse(&st, "hostile.safetensors", buf, n, &err);
    if (rc == MMC_OK) mmc_safetensors_close(&st);
    snprintf(msg, nmsg, "%s", err.msg);
    return rc;
}

TEST(safetensors_roundtrip) {
    mmc_tensor *a = test_randn(2, (int[]){3, 5}, 1, 1.0f), *b = test_randn(1, (int[]){7}, 2, 1.0f);
    mmc_tensor *z = mmc_tensor_new(2, (int[]){0, 4});
    char path[256];
    snprintf(path, sizeof path, "/tmp/mmc_st_roundtrip_%d.safetensors", (int)getpid());
    mmc_error err = {0};
    REQUIRE(mmc_safetensors_write(path, (mmc_tensor *[]){a, b, z}, (const char *[]){"layer.weight", "layer.bias", "empty"}, 3,
                                  "{\"format\":\"pt\"}", &err) == MMC_OK, "write: %s", err.msg);
    mmc_safetensors st;
    REQUIRE(mmc_safetensors_open(&st, path, &err) == MMC_OK, "open: %s", err.msg);
    CHECK(st.count == 3, "count %d", st.count);
    CHECK(st.metadata_json && strstr(st.metadata_json, "\"format\":\"pt\""), "metadata");
    mmc_tensor *a2 = mmc_safetensors_get(&st, "layer.weight", &err), *b2 = mmc_safetensors_get(&st, "layer.bias", &err);
    REQUIRE(a2 && b2, "get: %s", err.msg);
    CHECK(mmc_tensor_same_shape(a, a2) && memcmp(a->data, a2->data, 15 * 4) == 0, "weight round trip");
    CHECK(mmc_tensor_same_shape(b, b2) && memcmp(b->data, b2->data, 7 * 4) == 0, "bias round trip");
    CHECK(mmc_safetensors_get(&st, "nope", &err) == NULL && err.code == MMC_ERR_INPUT && strstr(err.msg, "nope"), "missing name");
    mmc_tensor_free(a2); mmc_tensor_free(b2);
    mmc_safetensors_close(&st);
    /* Duplicate names on write are refused and leave the earlier file intact. */
    CHECK(mmc_safetensors_write(path, (mmc_tensor *[]){a, b}, (const char *[]){"x", "x"}, 2, NULL, &err) == MMC_ERR_USAGE, "dup write");
    REQUIRE(mmc_safetensors_open(&st, path, &err) == MMC_OK, "still readable: %s", err.msg);
    CHECK(st.count == 3, "old file kept");
    mmc_safetensors_close(&st);
    remove(path);
    mmc_tensor_free(a); mmc_tensor_free(b); mmc_tensor_free(z);
}

TEST(safetensors_reads_pytorch_file) {
    /* tests/fixtures/ew_add_0 was written by tools/gen_fixtures.py from torch tensors. */
    mmc_safetensors st;
    if (!test_fixture_open(&st, "ew_add_0")) return;
    mmc_tensor *a = test_fixture_get(&st, "a"), *b = test_fixture_get(&st, "b"), *o = test_fixture_get(&st, "out");
    REQUIRE(a && b && o, "tensors");
    for (int i = 0; i < 12; i++) CHECK(fabsf(a->data[i] + b->data[i] - o->data[i]) < 1e-6f, "a+b=out at %d", i);
    mmc_tensor_free(a); mmc_tensor_free(b); mmc_tensor_free(o);
    mmc_safetensors_close(&st);
}

TEST(safetensors_half_types) {
    /* F16 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, smallest subnormal 0x0001 = 2^-24;
     * BF16 1.5 = 0x3FC0; I64 ints. */
    const uint8_t data[] = {0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00, 0xC0, 0x3F,
                            5, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    const char *h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]},"
                    "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[10,26]}}";
    uint8_t buf[512];
    size_t n = build(buf, h, data, sizeof data);
    mmc_safetensors st;
    mmc_error err = {0};
    REQUIRE(mmc_safetensors_parse(&st, "half", buf, n, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *t = mmc_safetensors_get(&st, "h", &err), *bf = mmc_safetensors_get(&st, "b", &err);
    REQUIRE(t && bf, "%s", err.msg);
    CHECK(t->data[0] == 1.0f && t->data[1] == -2.0f && t->data[2] == 65504.0f && t->data[3] == ldexpf(1.0f, -24),
          "f16: %g %g %g %g", t->data[0], t->data[1], t->data[2], t->data[3]);
    CHECK(bf->data[0] == 1.5f, "bf16 %g", bf->data[0]);
    int64_t cnt = 0;
    int64_t *iv = mmc_safetensors_get_i64(&st, "i", &cnt, &err);
    CHECK(iv && cnt == 2 && iv[0] == 5 && iv[1] == -1, "i64");
    mmc_free(iv);
    mmc_tensor_free(t); mmc_tensor_free(bf);
    mmc_safetensors_close(&st);
}

TEST(safetensors_hostile_headers) {
    static const struct { const char *header; size_t ndata; const char *expect; } cases[] = {
        {"[1,2]", 0, "does not start with '{'"},
        {"{\"a\":", 0, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12"},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, "non-negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "[begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"k\":1}}", 4, "not a string"},
        {"{\"\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "UTF-8"},
        {"{\"\xc0\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "UTF-8"},
        {"{\"a\":7}", 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "needs string dtype"},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "empty name"},
    };
    char msg[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_rc(cases[i].header, cases[i].ndata, msg, sizeof msg);
        CHECK(rc == MMC_ERR_INPUT, "case %zu: rc %d (%s)", i, rc, msg);
        CHECK(strstr(msg, cases[i].expect) != NULL, "case %zu: message '%s' lacks '%s'", i, msg, cases[i].expect);
        CHECK(strstr(msg, "hostile.safetensors") != NULL, "case %zu: message names the file", i);
    }
    /* Deeply nested JSON must not blow the stack. */
    char *deep = malloc(200020);
    strcpy(deep, "{\"a\":");
    size_t k = strlen(deep);
    for (int i = 0; i < 100000; i++) deep[k++] = '[';
    deep[k++] = '}';
    deep[k] = 0;
    CHECK(parse_rc(deep, 0, msg, sizeof msg) == MMC_ERR_INPUT, "deep nesting: %s", msg);
    free(deep);
    /* Length field problems. */
    uint8_t buf[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    mmc_safetensors st;
    mmc_error err = {0};
    CHECK(mmc_safetensors_parse(&st, "big.safetensors", buf, 10, &err) == MMC_ERR_INPUT && strstr(err.msg, "limit"), "%s", err.msg);
    buf[0] = 100; memset(buf + 1, 0, 7);
    CHECK(mmc_safetensors_parse(&st, "short.safetensors", buf, 10, &err) == MMC_ERR_INPUT && strstr(err.msg, "past the end"), "%s", err.msg);
    CHECK(mmc_safetensors_parse(&st, "tiny.safetensors", buf, 5, &err) == MMC_ERR_INPUT && strstr(err.msg, "too short"), "%s", err.msg);
    /* Files: missing, directory. */
    CHECK(mmc_safetensors_open(&st, "/nonexistent/x.safetensors", &err) == MMC_ERR_INPUT && strstr(err.msg, "/nonexistent/x.safetensors"), "%s", err.msg);
    CHECK(mmc_safetensors_open(&st, "/tmp", &err) == MMC_ERR_INPUT && strstr(err.msg, "directory"), "%s", err.msg);
}
