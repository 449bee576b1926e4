/* train_common.c — see train_common.h. */
#include "train_common.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void train_emit(const mmc_retrieval_train_opts *o, const mmc_train_event *ev) {
    if (o->callback) o->callback(o->user, ev);
}

void train_emitf(const mmc_retrieval_train_opts *o, int kind, int64_t step, int64_t total, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mmc_train_event ev = {0};
    ev.kind = kind;
    ev.step = step;
    ev.total_steps = total;
    ev.message = buf;
    train_emit(o, &ev);
}

int train_mkdir_p(const char *dir, mmc_error *err) {
    char tmp[4096];
    if (strlen(dir) >= sizeof tmp) return mmc_error_set(err, MMC_ERR_INPUT, "%.64s...: run folder path too long", dir);
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) /* parents first, as mkdir -p */
        if (*p == '/') { *p = 0; mkdir(tmp, 0755); *p = '/'; }
    if (mkdir(dir, 0755) == 0) return MMC_OK;
    struct stat st;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return MMC_OK;
    return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot create the run folder: %s", dir, strerror(errno));
}
