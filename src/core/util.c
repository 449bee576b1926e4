/* util.c — whole-file reads with a size cap, atomic writes, a monotonic clock. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double mmc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int mmc_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *n, mmc_error *err) {
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: is a directory, expected a file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        close(fd);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: file is %lld bytes, more than the limit of %zu",
                             path, (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = mmc_malloc(size + 1);
    if (!buf) {
        close(fd);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            mmc_free(buf);
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: read failed after %zu of %zu bytes: %s", path,
                                 got, size, r < 0 ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *out = buf;
    *n = size;
    return MMC_OK;
}

int mmc_write_file_atomic(const char *path, const void *buf, size_t n, mmc_error *err) {
    size_t len = strlen(path);
    char *tmp = mmc_malloc(len + 32);
    if (!tmp) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    snprintf(tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int e = errno;
        mmc_free(tmp);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot create: %s", path, strerror(e));
    }
    const uint8_t *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            mmc_free(tmp);
            return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: write failed: %s", path,
                                 w < 0 ? strerror(e) : "no progress");
        }
        done += (size_t)w;
    }
    int sync_rc = fsync(fd);
    int sync_errno = errno;
    if (close(fd) != 0 && sync_rc == 0) {
        sync_rc = -1;
        sync_errno = errno;
    }
    if (sync_rc != 0) {
        int e = sync_errno;
        unlink(tmp);
        mmc_free(tmp);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: fsync/close failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        mmc_free(tmp);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: rename failed: %s", path, strerror(e));
    }
    mmc_free(tmp);
    return MMC_OK;
}
