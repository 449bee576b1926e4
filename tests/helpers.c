/* helpers.c — numeric comparison, finite-difference gradient checks, fixture loading. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double test_rel_err(const float *got, const float *want, int64_t n) {
    double scale = 1.0, worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d != d) return INFINITY; /* NaN */
        if (d > worst) worst = d;
    }
    return worst / scale;
}

int test_close(const char *what, const float *got, const float *want, int64_t n, double tol) {
    double err = test_rel_err(got, want, n);
    if (err <= tol) return 1;
    int64_t wi = 0;
    double wd = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d != d || d > wd) { wd = d != d ? INFINITY : d; wi = i; }
    }
    mmc_test_fail(__FILE__, __LINE__,
                  "%s: relative error %.3g > %.3g (worst at [%lld]: got %.7g, want %.7g; n=%lld)",
                  what, err, tol, (long long)wi, got[wi], want[wi], (long long)n);
    return 0;
}

static double weighted(mmc_tensor *out, const float *w) {
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++) s += (double)out->data[i] * w[i];
    return s;
}

int test_gradcheck(const char *what, test_graph_fn f, mmc_tensor **in, int n_in, void *user,
                   float eps, double tol, int max_elems) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_rng rng;
    mmc_rng_seed(&rng, 1234, 7);
    for (int i = 0; i < n_in; i++) mmc_tensor_zero_grad(in[i]);
    mmc_tensor *out = f(ctx, in, user);
    if (!out) {
        mmc_test_fail(__FILE__, __LINE__, "%s: forward failed: %s", what, ctx->err.msg);
        mmc_ctx_free(ctx);
        return 0;
    }
    int64_t nout = out->numel;
    float *w = malloc(sizeof(float) * (size_t)(nout ? nout : 1));
    mmc_rng_fill_uniform(&rng, w, nout, -1.0f, 1.0f);
    if (mmc_backward_with(ctx, out, w) != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "%s: backward failed: %s", what, ctx->err.msg);
        free(w);
        mmc_ctx_free(ctx);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < n_in && ok; i++) {
        mmc_tensor *x = in[i];
        if (!x->requires_grad) continue;
        if (!x->grad) {
            mmc_test_fail(__FILE__, __LINE__, "%s: input %d got no gradient", what, i);
            ok = 0;
            break;
        }
        int64_t n = x->numel, step = 1;
        if (max_elems > 0 && n > max_elems) step = (n + max_elems - 1) / max_elems;
        for (int64_t j = 0; j < n; j += step) {
            float orig = x->data[j];
            int prev = mmc_grad_mode(ctx, 0);
            x->data[j] = orig + eps;
            mmc_ctx_reset(ctx);
            mmc_tensor *op = f(ctx, in, user);
            double lp = op ? weighted(op, w) : NAN;
            x->data[j] = orig - eps;
            mmc_ctx_reset(ctx);
            mmc_tensor *om = f(ctx, in, user);
            double lm = om ? weighted(om, w) : NAN;
            x->data[j] = orig;
            mmc_grad_mode(ctx, prev);
            double num = (lp - lm) / (2.0 * eps);
            double ana = x->grad[j];
            double scale = fabs(num) > 1.0 ? fabs(num) : 1.0;
            if (!(fabs(ana - num) <= tol * scale)) {
                mmc_test_fail(__FILE__, __LINE__,
                              "%s: d/d input%d[%lld]: analytic %.6g vs numeric %.6g (tol %.2g)", what,
                              i, (long long)j, ana, num, tol);
                ok = 0;
                break;
            }
        }
    }
    free(w);
    mmc_ctx_free(ctx);
    return ok;
}

int test_fixture_open(mmc_safetensors *st, const char *name) {
    char rel[512];
    snprintf(rel, sizeof rel, "tests/fixtures/%s.safetensors", name);
    mmc_error err = {0};
    if (mmc_safetensors_open(st, test_path(rel), &err) != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "fixture %s: %s", name, err.msg);
        return 0;
    }
    return 1;
}

mmc_tensor *test_fixture_get(const mmc_safetensors *st, const char *name) {
    mmc_error err = {0};
    mmc_tensor *t = mmc_safetensors_get(st, name, &err);
    if (!t) mmc_test_fail(__FILE__, __LINE__, "fixture tensor %s: %s", name, err.msg);
    return t;
}

int *test_fixture_ints(const mmc_safetensors *st, const char *name, int64_t *count) {
    mmc_error err = {0};
    int64_t n = 0;
    int64_t *v = mmc_safetensors_get_i64(st, name, &n, &err);
    if (!v) {
        mmc_test_fail(__FILE__, __LINE__, "fixture ints %s: %s", name, err.msg);
        return NULL;
    }
    int *out = malloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) out[i] = (int)v[i];
    mmc_free(v);
    if (count) *count = n;
    return out;
}

mmc_tensor *test_randn(int ndim, const int *shape, uint64_t seed, float std) {
    mmc_tensor *t = mmc_tensor_new(ndim, shape);
    mmc_rng r;
    mmc_rng_seed(&r, seed, 1);
    mmc_rng_fill_normal(&r, t->data, t->numel, 0.0f, std);
    return t;
}

mmc_tensor *test_rand(int ndim, const int *shape, uint64_t seed, float lo, float hi) {
    mmc_tensor *t = mmc_tensor_new(ndim, shape);
    mmc_rng r;
    mmc_rng_seed(&r, seed, 1);
    mmc_rng_fill_uniform(&r, t->data, t->numel, lo, hi);
    return t;
}

int test_shapes_dir_at(char *dir, size_t n, const char *prefix, int n_train, int n_val, uint64_t seed, int size) {
    snprintf(dir, n, "/tmp/mmc-%s-XXXXXX", prefix);
    if (!mkdtemp(dir)) return 0;
    mmc_error err = {0};
    if (mmc_shapes_write_split(dir, "train", n_train, seed, size, NULL, NULL, &err)) return 0;
    if (n_val && mmc_shapes_write_split(dir, "val", n_val, seed, size, NULL, NULL, &err)) return 0;
    return 1;
}

int test_shapes_dir(char *dir, size_t n, const char *prefix, int n_train, int n_val) {
    return test_shapes_dir_at(dir, n, prefix, n_train, n_val, 11, 32);
}

void test_rm_tmpdir(const char *dir) {
    char cmd[4200];
    if (strncmp(dir, "/tmp/mmc-", 9) || strchr(dir, '\'') || strlen(dir) > 4000) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
}

int test_same_tensors_file(const char *pa, const char *pb, char *why, size_t n) {
    mmc_safetensors a, b;
    mmc_error err = {0};
    if (mmc_safetensors_open(&a, pa, &err)) { snprintf(why, n, "%s", err.msg); return 0; }
    if (mmc_safetensors_open(&b, pb, &err)) { mmc_safetensors_close(&a); snprintf(why, n, "%s", err.msg); return 0; }
    int ok = a.count == b.count && a.count > 0;
    for (int i = 0; ok && i < a.count; i++) {
        const mmc_st_entry *ea = &a.entries[i], *eb = mmc_safetensors_find(&b, ea->name);
        ok = eb && ea->end - ea->begin == eb->end - eb->begin && !memcmp(a.data + ea->begin, b.data + eb->begin, ea->end - ea->begin);
        if (!ok) snprintf(why, n, "tensor %s differs", ea->name);
    }
    mmc_safetensors_close(&a);
    mmc_safetensors_close(&b);
    return ok;
}

int test_close_tensors_file(const char *pa, const char *pb, double tol, char *why, size_t n) {
    mmc_safetensors a, b;
    mmc_error err = {0};
    if (mmc_safetensors_open(&a, pa, &err)) { snprintf(why, n, "%s", err.msg); return 0; }
    if (mmc_safetensors_open(&b, pb, &err)) { mmc_safetensors_close(&a); snprintf(why, n, "%s", err.msg); return 0; }
    int ok = a.count == b.count && a.count > 0;
    for (int i = 0; ok && i < a.count; i++) {
        const mmc_st_entry *ea = &a.entries[i], *eb = mmc_safetensors_find(&b, ea->name);
        ok = eb && ea->end - ea->begin == eb->end - eb->begin && !strcmp(ea->dtype, eb->dtype);
        if (ok && strcmp(ea->dtype, "F32") != 0) ok = !memcmp(a.data + ea->begin, b.data + eb->begin, ea->end - ea->begin);
        for (uint64_t k = 0; ok && !strcmp(ea->dtype, "F32") && k < (ea->end - ea->begin) / 4; k++) {
            float x, y;
            memcpy(&x, a.data + ea->begin + 4 * k, 4);
            memcpy(&y, b.data + eb->begin + 4 * k, 4);
            ok = fabs((double)x - y) <= tol * (1 + fabs((double)y));
            if (!ok) snprintf(why, n, "tensor %s element %llu: %.9g vs %.9g", ea->name, (unsigned long long)k, x, y);
        }
        if (!ok && !why[0]) snprintf(why, n, "tensor %s differs", ea->name);
    }
    mmc_safetensors_close(&a);
    mmc_safetensors_close(&b);
    return ok;
}

double test_min_cosine(const float *a, const float *b, int n, int d) {
    double worst = 1;
    for (int i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < d; k++) {
            ab += (double)a[i * d + k] * b[i * d + k];
            aa += (double)a[i * d + k] * a[i * d + k];
            bb += (double)b[i * d + k] * b[i * d + k];
        }
        double c = ab / sqrt(aa * bb + 1e-30);
        if (!(c >= worst)) worst = c;
    }
    return worst;
}
