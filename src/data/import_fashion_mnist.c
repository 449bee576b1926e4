/* import_fashion_mnist.c — Fashion-MNIST IDX files into a dataset folder.
 *
 * Images stay 28x28 grayscale (1-channel PNG): the decoders give them back as gray or
 * RGB on request, and nothing is invented. File names keep the official index
 * (images/train-000123.png), so a sample can be traced to the original. */
#include "import_internal.h"
#include <string.h>

#define N_CLASSES 10
#define SIDE 28
#define MAX_IMAGES 1000000

static const char *const CLASS[N_CLASSES] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                                             "sandal", "shirt", "sneaker", "bag", "ankle boot"};
/* The noun phrase a caption uses ("a photo of a pair of trousers"). */
static const char *const PHRASE[N_CLASSES] = {"a t-shirt", "a pair of trousers", "a pullover", "a dress", "a coat",
                                              "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"};
static const char *const CLASS_ZH[N_CLASSES] = {"T恤", "裤子", "套头衫", "连衣裙", "外套",
                                                "凉鞋", "衬衫", "运动鞋", "包", "短靴"};

const char *mmc_fashion_mnist_class(int k) { return k >= 0 && k < N_CLASSES ? CLASS[k] : NULL; }
const char *mmc_fashion_mnist_class_zh(int k) { return k >= 0 && k < N_CLASSES ? CLASS_ZH[k] : NULL; }

typedef struct fm_part {
    mmc_idx images, labels;
} fm_part;

/* Reads NAME-images-idx3-ubyte.gz and NAME-labels-idx1-ubyte.gz and checks they agree. */
static int read_part(const char *dir, const char *name, fm_part *p, mmc_error *err) {
    char ip[4200], lp[4200];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, name);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, name);
    int rc = mmc_idx_read(ip, (int64_t)MAX_IMAGES * SIDE * SIDE, &p->images, err);
    if (!rc) rc = mmc_idx_read(lp, MAX_IMAGES, &p->labels, err);
    if (rc) return rc;
    const mmc_idx *im = &p->images, *lb = &p->labels;
    if (im->ndim != 3 || im->dims[1] != SIDE || im->dims[2] != SIDE) {
        char dims[80] = "";
        for (int d = 0; d < im->ndim; d++)
            snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%lld", d ? " x " : "", (long long)im->dims[d]);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: expected N x 28 x 28 images, found %s", ip, dims);
    }
    if (lb->ndim != 1 || lb->dims[0] != im->dims[0])
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %lld labels for %lld images", lp,
                             (long long)(lb->ndim == 1 ? lb->dims[0] : -1), (long long)im->dims[0]);
    for (int64_t i = 0; i < lb->size; i++)
        if (lb->data[i] >= N_CLASSES)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: label %d of item %lld is not a class 0-9", lp, lb->data[i],
                                 (long long)i);
    return MMC_OK;
}

static int fill_sample(mmc_sample *s, const char *part, int64_t i, int k) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s-%06lld", part, (long long)i);
    s->id = import_strdup(buf);
    snprintf(buf, sizeof buf, "images/%s-%06lld.png", part, (long long)i);
    s->image = import_strdup(buf);
    s->label = import_strdup(CLASS[k]);
    static const char *const EN[] = {"a photo of %s", "a black and white photo of %s", "a low resolution photo of %s",
                                     "%s on a black background"};
    static const char *const ZH[] = {"一张%s的照片", "一张%s的黑白照片", "黑色背景上的%s"};
    int bad = !s->id || !s->image || !s->label;
    for (int t = 0; t < 4 && !bad; t++) {
        snprintf(buf, sizeof buf, EN[t], PHRASE[k]);
        bad = import_add_caption(&s->captions, &s->n_captions, buf) != 0;
    }
    for (int t = 0; t < 3 && !bad; t++) {
        snprintf(buf, sizeof buf, ZH[t], CLASS_ZH[k]);
        bad = import_add_caption(&s->captions_zh, &s->n_captions_zh, buf) != 0;
    }
    return bad ? -1 : 0;
}

/* Writes the PNGs of one part in parallel (each image its own file), then its samples. */
static int write_part(const char *out, const char *part, const fm_part *p, mmc_error *err) {
    int64_t n = p->images.dims[0];
    int failed = 0;
    mmc_error first = {0};
#pragma omp parallel for schedule(dynamic, 256) num_threads(mmc_get_threads())
    for (int64_t i = 0; i < n; i++) {
        if (failed) continue;
        char path[4300];
        mmc_error e = {0};
        snprintf(path, sizeof path, "%s/images/%s-%06lld.png", out, part, (long long)i);
        if (mmc_png_write(path, SIDE, SIDE, 1, p->images.data + i * SIDE * SIDE, &e) != MMC_OK) {
#pragma omp critical(mmc_fmnist_error)
            if (!failed) failed = 1, first = e;
        }
    }
    if (failed) return mmc_error_set(err, first.code ? first.code : MMC_ERR_RUNTIME, "%s", first.msg);
    return MMC_OK;
}

static int add_samples(const char *part, const fm_part *p, int64_t from, int64_t to, import_samples *dst,
                       mmc_error *err) {
    for (int64_t i = from; i < to; i++) {
        mmc_sample *s = import_samples_push(dst, err);
        if (!s) return MMC_ERR_RUNTIME;
        if (fill_sample(s, part, i, p->labels.data[i]))
            return mmc_error_set(err, MMC_ERR_RUNTIME, "fashion-mnist: out of memory");
    }
    return MMC_OK;
}

static int import_parts(const char *out, fm_part parts[2], int val_count, mmc_log_fn log, void *user,
                        import_samples sp[3], mmc_error *err) {
    int64_t ntrain = parts[0].images.dims[0];
    if (val_count < 0 || val_count >= ntrain)
        return mmc_error_set(err, MMC_ERR_USAGE, "fashion-mnist: val %d must leave training images (of %lld)",
                             val_count, (long long)ntrain);
    const char *names[2] = {"train", "test"};
    for (int k = 0; k < 2; k++) {
        double t0 = mmc_now();
        int rc = write_part(out, names[k], &parts[k], err);
        if (rc) return rc;
        import_log(log, user, "%s: %lld PNGs in %.1f s", names[k], (long long)parts[k].images.dims[0], mmc_now() - t0);
    }
    int rc = add_samples("train", &parts[0], 0, ntrain - val_count, &sp[0], err);
    if (!rc) rc = add_samples("train", &parts[0], ntrain - val_count, ntrain, &sp[1], err);
    if (!rc) rc = add_samples("test", &parts[1], 0, parts[1].images.dims[0], &sp[2], err);
    return rc;
}

int mmc_import_fashion_mnist(const char *src_dir, const char *out, int val_count, mmc_log_fn log, void *user,
                             mmc_import_stats *st, mmc_error *err) {
    memset(st, 0, sizeof *st);
    fm_part parts[2] = {0};
    import_samples sp[3] = {0};
    char images[4200];
    snprintf(images, sizeof images, "%s/images", out);
    int rc = read_part(src_dir, "train", &parts[0], err);
    if (!rc) rc = read_part(src_dir, "t10k", &parts[1], err);
    if (!rc) import_log(log, user, "read %lld train and %lld test images from %s", (long long)parts[0].images.dims[0],
                        (long long)parts[1].images.dims[0], src_dir);
    if (!rc) rc = import_mkdirs(images, err);
    if (!rc) rc = import_parts(out, parts, val_count, log, user, sp, err);
    if (!rc) rc = import_write_manifests(out, sp, err);
    for (int s = 0; s < 3; s++) st->n[s] = rc ? 0 : sp[s].n, import_samples_free(&sp[s]);
    for (int k = 0; k < 2; k++) mmc_idx_free(&parts[k].images), mmc_idx_free(&parts[k].labels);
    return rc;
}
