/* json.c — reading a JSON file as untrusted input (mmc_json_load, io.h). */
#include "internal.h"
#include <cjson/cJSON.h>
#include <string.h>

int mmc_json_load(const char *path, size_t max_bytes, int object, cJSON **root, mmc_error *err) {
    *root = NULL;
    uint8_t *buf = NULL;
    size_t n = 0, bad = 0;
    int rc = mmc_read_file(path, max_bytes, &buf, &n, err);
    if (rc) return rc;
    if (mmc_utf8_validate((const char *)buf, n, &bad) != MMC_OK)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: not valid UTF-8 at byte %zu", path, bad);
    else if (memchr(buf, 0, n))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: contains a NUL byte at %zu", path,
                           (size_t)((uint8_t *)memchr(buf, 0, n) - buf));
    if (!rc) {
        const char *end = NULL;
        *root = cJSON_ParseWithLengthOpts((const char *)buf, n, &end, 0);
        long long at = end ? (long long)(end - (const char *)buf) : -1LL;
        if (!*root)
            rc = mmc_error_set(err, MMC_ERR_INPUT, object ? "%s: not a JSON object (not valid JSON near byte %lld)"
                                                          : "%s: not valid JSON near byte %lld", path, at);
        else if (object && !cJSON_IsObject(*root))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", path);
    }
    mmc_free(buf);
    if (rc) {
        cJSON_Delete(*root);
        *root = NULL;
    }
    return rc;
}
