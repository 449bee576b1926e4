/*
 * test.h — the test harness. Every TEST(name) in tests/ *.c is registered at start-up and
 * becomes a ctest test of the same name (CMake scans for "^TEST(name)"), run as
 * `mmc_tests NAME`. Names say what they check: grad_conv2d, parity_layernorm, ...
 *
 *   CHECK(cond, fmt, ...)  records a failure and goes on
 *   REQUIRE(cond, fmt, ...) records a failure and returns from the test
 *   SKIP(fmt, ...)         marks the test skipped (ctest sees exit code 77) and returns
 */
#ifndef MMC_TEST_H
#define MMC_TEST_H

#include "mmc.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*mmc_test_fn)(void);
void mmc_test_register(const char *name, mmc_test_fn fn);
void mmc_test_fail(const char *file, int line, const char *fmt, ...);
void mmc_test_skip(const char *fmt, ...);

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void register_##name(void) {           \
        mmc_test_register(#name, test_##name);                                  \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) mmc_test_fail(__FILE__, __LINE__, __VA_ARGS__);            \
    } while (0)
#define REQUIRE(cond, ...)                                                      \
    do {                                                                        \
        if (!(cond)) {                                                          \
            mmc_test_fail(__FILE__, __LINE__, __VA_ARGS__);                     \
            return;                                                             \
        }                                                                       \
    } while (0)
#define SKIP(...)                                                               \
    do {                                                                        \
        mmc_test_skip(__VA_ARGS__);                                             \
        return;                                                                 \
    } while (0)

/* Path of a file in the source tree (tests/fixtures/...), in a static buffer. */
const char *test_path(const char *rel);

/* ---- numerical checks ---- */

/* max |got - want| / max(1, max |want|) — the error relative to the tensor's scale. */
double test_rel_err(const float *got, const float *want, int64_t n);
/* A fresh folder /tmp/mmc-PREFIX-XXXXXX (name into dir) holding a shapes dataset at 32 px,
 * seed 11: train n_train scenes, val n_val (none if 0). 1 on success. */
int test_shapes_dir(char *dir, size_t n, const char *prefix, int n_train, int n_val);
/* The same with the scenes' seed and pixel size given. */
int test_shapes_dir_at(char *dir, size_t n, const char *prefix, int n_train, int n_val, uint64_t seed, int size);
/* rm -rf dir, but only a folder under /tmp/mmc- (what the tests made). */
void test_rm_tmpdir(const char *dir);
/* 1 when the safetensors files pa and pb hold the same tensors byte for byte (and at least
 * one); else 0 with the reason in why. */
int test_same_tensors_file(const char *pa, const char *pb, char *why, size_t n);
/* The same tensors, float32 ones equal to tol relative (|a - b| <= tol (1 + |b|)). */
int test_close_tensors_file(const char *pa, const char *pb, double tol, char *why, size_t n);
/* The smallest cosine between row i of a and row i of b, over n rows of d values (NaN
 * counts as the smallest). */
double test_min_cosine(const float *a, const float *b, int n, int d);
/* CHECKs that test_rel_err <= tol; prints the worst element on failure. Returns ok. */
int test_close(const char *what, const float *got, const float *want, int64_t n, double tol);

/* ---- finite-difference gradient check ----
 * f builds an output from inputs (persistent tensors; those with requires_grad are checked).
 * The check seeds the backward with fixed random weights w, so the scalar is sum(w * out),
 * and compares each input's analytic gradient with central differences (step eps) on up to
 * max_elems elements per input. Passes when |analytic - numeric| <= tol * max(1, |numeric|)
 * for every checked element. */
typedef mmc_tensor *(*test_graph_fn)(mmc_ctx *ctx, mmc_tensor **in, void *user);
int test_gradcheck(const char *what, test_graph_fn f, mmc_tensor **in, int n_in, void *user,
                   float eps, double tol, int max_elems);

/* ---- fixtures (tests/fixtures/NAME.safetensors, written by tools/gen_fixtures.py) ---- */

/* Opens tests/fixtures/<name>.safetensors; on failure REQUIREs in the caller (returns 0). */
int test_fixture_open(mmc_safetensors *st, const char *name);
/* A fixture tensor as a new persistent tensor (NULL + failure recorded if missing). */
mmc_tensor *test_fixture_get(const mmc_safetensors *st, const char *name);
/* Fixture tensor as ints (class ids, token ids); malloc'd. */
int *test_fixture_ints(const mmc_safetensors *st, const char *name, int64_t *count);

/* Persistent tensor filled from a seeded N(0, std) (or uniform in [lo, hi)). */
mmc_tensor *test_randn(int ndim, const int *shape, uint64_t seed, float std);
mmc_tensor *test_rand(int ndim, const int *shape, uint64_t seed, float lo, float hi);

#endif
