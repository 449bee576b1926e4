/* test_qgemm.c — int8 / int4 products (src/ops/qgemm.c): against a double-precision product
 * of the dequantised operands, against the float product within quantisation error, every
 * compiled kernel bit-identical to the portable one, any thread count, odd sizes and
 * padding, the stored form round trip and its hostile values, NaN rows, and mmc_linear's
 * use of an attached quantised copy. */
#include "test.h"
#include "internal.h"
#include "mmc.h"
#include "qgemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, int64_t n, uint32_t seed, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = lo + (hi - lo) * (float)(seed >> 8) / (float)(1u << 24);
    }
}

typedef struct qcase {
    int M, N, K;
} qcase;

static const qcase cases[] = {{1, 1, 1},    {3, 5, 7},     {6, 64, 4},    {7, 65, 33},   {13, 130, 20},
                              {50, 96, 72}, {5, 24, 32},   {17, 200, 129}, {64, 128, 768}};

static float *run_q(const mmc_qgemm_kernel *kn, int nt, const mmc_qweight *w, int M, const float *X,
                    const float *bias) {
    float *Y = malloc(sizeof(float) * (size_t)M * w->out + 4);
    void *scratch = mmc_aligned_malloc(64, mmc_qgemm_scratch_bytes(M, w->in));
    for (int64_t i = 0; i < (int64_t)M * w->out; i++) Y[i] = NAN;
    mmc_qgemm(kn, nt, w, M, X, w->in, bias, Y, w->out, scratch);
    mmc_free(scratch);
    return Y;
}

/* The dequantised activations as the kernels quantise them (generic row quantiser). */
static void dequant_rows(const float *X, int M, int K, float *Xd) {
    int kp = (K + 31) / 32 * 32;
    uint8_t *u = malloc((size_t)kp * M);
    float *sa = malloc(sizeof(float) * M);
    int32_t *za = malloc(sizeof(int32_t) * M);
    int n;
    const mmc_qgemm_kernel *ks = mmc_qgemm_kernels(&n);
    ks[n - 1].quantize_rows(X, K, M, K, kp, u, sa, za); /* the last is the generic one */
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) Xd[(size_t)i * K + k] = sa[i] * (float)((int)u[(size_t)i * kp + k] - za[i]);
    free(u), free(sa), free(za);
}

TEST(qgemm_matches_dequantised_reference) {
    for (int type = MMC_QTYPE_Q8; type <= MMC_QTYPE_Q4; type++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const qcase *q = &cases[c];
            float *W = malloc(sizeof(float) * q->N * q->K), *X = malloc(sizeof(float) * q->M * q->K);
            float *b = malloc(sizeof(float) * q->N), *Wd = malloc(sizeof(float) * q->N * q->K);
            float *Xd = malloc(sizeof(float) * q->M * q->K);
            fill(W, (int64_t)q->N * q->K, 11 + (uint32_t)c, -0.1f, 0.1f);
            fill(X, (int64_t)q->M * q->K, 23 + (uint32_t)c, -1.0f, 2.0f);
            fill(b, q->N, 5, -0.5f, 0.5f);
            mmc_error err = {0};
            mmc_qweight *w = mmc_qweight_quantize(W, q->N, q->K, type, &err);
            REQUIRE(w, "%s", err.msg);
            mmc_qweight_dequantize(w, Wd);
            dequant_rows(X, q->M, q->K, Xd);
            float *Y = run_q(mmc_qgemm_best_kernel(), 1, w, q->M, X, b);
            double worst = 0, worst_f = 0;
            for (int i = 0; i < q->M; i++)
                for (int n = 0; n < q->N; n++) {
                    double ref = b[n], exact = b[n], mag = fabs(b[n]);
                    for (int k = 0; k < q->K; k++) {
                        ref += (double)Xd[i * q->K + k] * Wd[n * q->K + k];
                        exact += (double)X[i * q->K + k] * W[n * q->K + k];
                        mag += fabs((double)X[i * q->K + k] * W[n * q->K + k]);
                    }
                    double e = fabs(Y[i * q->N + n] - ref) / (mag + 1e-6);
                    double ef = fabs(Y[i * q->N + n] - exact) / (mag + 1e-6);
                    if (e > worst) worst = e;
                    if (ef > worst_f) worst_f = ef;
                }
            /* the same numbers in another order: float rounding only */
            CHECK(worst < 1e-5, "type %d case %dx%dx%d: %g from the dequantised product", type, q->M, q->N, q->K,
                  worst);
            /* against the float product: q8 within ~1%, q4 within ~15% of Σ|x·w| */
            CHECK(worst_f < (type == MMC_QTYPE_Q8 ? 0.012 : 0.15), "type %d case %dx%dx%d: %g from the float product",
                  type, q->M, q->N, q->K, worst_f);
            free(Y);
            mmc_qweight_free(w);
            free(W), free(X), free(b), free(Wd), free(Xd);
        }
}

TEST(qgemm_kernels_and_threads_agree) {
    int nk;
    const mmc_qgemm_kernel *ks = mmc_qgemm_kernels(&nk);
    const mmc_qgemm_kernel *gen = &ks[nk - 1];
    CHECK(!strcmp(gen->name, "generic"), "the last kernel is %s", gen->name);
    int ran = 0;
    for (int type = MMC_QTYPE_Q8; type <= MMC_QTYPE_Q4; type++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const qcase *q = &cases[c];
            float *W = malloc(sizeof(float) * q->N * q->K), *X = malloc(sizeof(float) * q->M * q->K);
            float *b = malloc(sizeof(float) * q->N);
            fill(W, (int64_t)q->N * q->K, 3 + (uint32_t)c, -1.0f, 1.0f);
            fill(X, (int64_t)q->M * q->K, 9 + (uint32_t)c, -3.0f, 1.0f);
            fill(b, q->N, 2, -1.0f, 1.0f);
            mmc_error err = {0};
            mmc_qweight *w = mmc_qweight_quantize(W, q->N, q->K, type, &err);
            REQUIRE(w, "%s", err.msg);
            for (int withb = 0; withb < 2; withb++) {
                float *ref = run_q(gen, 1, w, q->M, X, withb ? b : NULL);
                for (int k = 0; k < nk; k++) {
                    if (!ks[k].available()) continue;
                    for (int nt = 1; nt <= 3; nt++) {
                        float *Y = run_q(&ks[k], nt, w, q->M, X, withb ? b : NULL);
                        CHECK(!memcmp(Y, ref, sizeof(float) * q->M * q->N),
                              "kernel %s, %d threads, type %d, case %dx%dx%d: not bit-identical to generic", ks[k].name,
                              nt, type, q->M, q->N, q->K);
                        free(Y);
                        ran++;
                    }
                }
                free(ref);
            }
            mmc_qweight_free(w);
            free(W), free(X), free(b);
        }
    CHECK(ran > 0, "nothing ran");
    printf("    [qgemm] kernels here:");
    for (int k = 0; k < nk; k++) printf(" %s%s", ks[k].name, ks[k].available() ? "" : " (not on this CPU)");
    printf("\n");
}

TEST(qgemm_nan_rows_stay_in_their_row) {
    enum { M = 4, N = 70, K = 40 };
    float W[N * K], X[M * K];
    fill(W, N * K, 1, -1, 1);
    fill(X, M * K, 2, -1, 1);
    X[1 * K + 7] = NAN;
    X[2 * K + 3] = INFINITY;
    mmc_error err = {0};
    mmc_qweight *w = mmc_qweight_quantize(W, N, K, MMC_QTYPE_Q8, &err);
    REQUIRE(w, "%s", err.msg);
    int nk;
    const mmc_qgemm_kernel *ks = mmc_qgemm_kernels(&nk);
    for (int k = 0; k < nk; k++) {
        if (!ks[k].available()) continue;
        float *Y = run_q(&ks[k], 1, w, M, X, NULL);
        for (int i = 0; i < M; i++)
            for (int n = 0; n < N; n++)
                CHECK((i == 1 || i == 2) ? isnan(Y[i * N + n]) : isfinite(Y[i * N + n]), "%s: row %d col %d = %g",
                      ks[k].name, i, n, (double)Y[i * N + n]);
        free(Y);
    }
    mmc_qweight_free(w);
    float bad[4] = {1, NAN, 0, 0};
    CHECK(!mmc_qweight_quantize(bad, 2, 2, MMC_QTYPE_Q8, &err) && err.code == MMC_ERR_INPUT,
          "a NaN weight was accepted");
}

TEST(qgemm_stored_form_round_trip) {
    enum { N = 37, K = 45, M = 5 };
    float W[N * K], X[M * K];
    fill(W, N * K, 7, -2, 2);
    fill(X, M * K, 8, -1, 1);
    for (int type = MMC_QTYPE_Q8; type <= MMC_QTYPE_Q4; type++) {
        mmc_error err = {0};
        mmc_qweight *w = mmc_qweight_quantize(W, N, K, type, &err);
        REQUIRE(w, "%s", err.msg);
        size_t nb = mmc_qweight_stored_bytes(type, N, K);
        int ng = mmc_qweight_stored_groups(type, K);
        CHECK(nb == (type == MMC_QTYPE_Q8 ? (size_t)N * K : (size_t)N * 23), "stored bytes %zu", nb);
        CHECK(ng == (type == MMC_QTYPE_Q8 ? 1 : 2), "groups %d", ng);
        uint8_t *q = malloc(nb);
        float *s = malloc(sizeof(float) * N * ng);
        mmc_qweight_to_stored(w, q, s);
        mmc_qweight *w2 = mmc_qweight_from_stored(type, N, K, q, s, "test", &err);
        REQUIRE(w2, "%s", err.msg);
        float *Y1 = run_q(mmc_qgemm_best_kernel(), 1, w, M, X, NULL), *Y2 = run_q(mmc_qgemm_best_kernel(), 1, w2, M, X, NULL);
        CHECK(!memcmp(Y1, Y2, sizeof(float) * M * N), "type %d: the stored form changes the product", type);
        free(Y1), free(Y2);
        mmc_qweight_free(w2);
        /* hostile stored values */
        if (type == MMC_QTYPE_Q8) {
            uint8_t keep = q[3];
            q[3] = 0x80; /* -128 */
            CHECK(!mmc_qweight_from_stored(type, N, K, q, s, "test", &err) && err.code == MMC_ERR_INPUT &&
                      strstr(err.msg, "test"), "-128 accepted: %s", err.msg);
            q[3] = keep;
        } else {
            uint8_t keep = q[3]; /* every nibble is a value: 0 is -8 */
            q[3] = 0x00;
            mmc_qweight *w3 = mmc_qweight_from_stored(type, N, K, q, s, "test", &err);
            CHECK(w3, "a q4 value of -8 was refused: %s", err.msg);
            mmc_qweight_free(w3);
            q[3] = keep;
        }
        float keep = s[1];
        s[1] = NAN;
        CHECK(!mmc_qweight_from_stored(type, N, K, q, s, "test", &err) && err.code == MMC_ERR_INPUT, "NaN scale accepted");
        s[1] = -1.0f;
        CHECK(!mmc_qweight_from_stored(type, N, K, q, s, "test", &err) && err.code == MMC_ERR_INPUT,
              "negative scale accepted");
        s[1] = keep;
        free(q), free(s);
        mmc_qweight_free(w);
    }
}

TEST(qgemm_linear_uses_the_quantised_copy) {
    enum { B = 3, T = 5, IN = 48, OUT = 80 };
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 4, 1);
    mmc_nn_linear lin;
    REQUIRE(mmc_nn_linear_init(&lin, &P, "l", IN, OUT, 1, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *x = mmc_tensor_empty(ctx, 3, (int[]){B, T, IN});
    fill(x->data, x->numel, 3, -1, 1);
    mmc_tensor *yf = mmc_linear(ctx, x, lin.weight, lin.bias);
    mmc_qweight *q = mmc_qweight_quantize(lin.weight->data, OUT, IN, MMC_QTYPE_Q8, &err);
    REQUIRE(q && mmc_tensor_set_quant(lin.weight, q, &err) == MMC_OK, "%s", err.msg);
    mmc_grad_mode(ctx, 0);
    mmc_tensor *yq = mmc_linear(ctx, x, lin.weight, lin.bias);
    REQUIRE(yq && yq->ndim == 3 && yq->shape[2] == OUT, "int8 linear failed: %s", ctx->err.msg);
    float *direct = run_q(mmc_qgemm_best_kernel(), mmc_get_threads(), q, B * T, x->data, lin.bias->data);
    CHECK(!memcmp(direct, yq->data, sizeof(float) * B * T * OUT), "mmc_linear's int8 path differs from mmc_qgemm");
    free(direct);
    double num = 0, den = 0;
    for (int64_t i = 0; i < yf->numel; i++) num += (yq->data[i] - yf->data[i]) * (double)(yq->data[i] - yf->data[i]),
                                         den += (double)yf->data[i] * yf->data[i];
    CHECK(sqrt(num / den) < 0.01, "int8 linear relative error %g", sqrt(num / den));
    /* recording gradients: the float path, exactly */
    mmc_grad_mode(ctx, 1);
    mmc_tensor *yg = mmc_linear(ctx, x, lin.weight, lin.bias);
    REQUIRE(yg, "%s", ctx->err.msg);
    CHECK(!memcmp(yg->data, yf->data, sizeof(float) * yf->numel), "training must use the float weights");
    /* float data dropped: inference still runs, training is refused */
    mmc_tensor_drop_data(lin.weight);
    CHECK(lin.weight->data == NULL, "data kept");
    mmc_tensor *yg2 = mmc_linear(ctx, x, lin.weight, lin.bias); /* the bias still trains */
    CHECK(!yg2 && ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "inference"), "training accepted: %s",
          ctx->err.msg);
    mmc_error_clear(&ctx->err);
    mmc_grad_mode(ctx, 0);
    mmc_tensor *yi = mmc_linear(ctx, x, lin.weight, lin.bias);
    CHECK(yi && !memcmp(yi->data, yq->data, sizeof(float) * yq->numel), "inference after drop differs");
    mmc_params_free(&P);
    mmc_ctx_free(ctx);
}

/* q, k and v stacked into one product give bit for bit what the three products give (the
 * rows are the same and X is quantised the same way once as three times). */
TEST(qgemm_stacked_attention_is_identical) {
    enum { E = 128, H = 4, B = 2, T = 9 };
    mmc_params P = {0};
    mmc_error err = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 9, 1);
    mmc_nn_mha m;
    REQUIRE(mmc_nn_mha_init(&m, &P, "a", E, H, 1, 0.0f, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_nn_linear *l[4] = {&m.q_proj, &m.k_proj, &m.v_proj, &m.out_proj};
    for (int i = 0; i < 4; i++) {
        mmc_init_uniform(l[i]->bias, 0.1f, &rng);
        mmc_qweight *q = mmc_qweight_quantize(l[i]->weight->data, E, E, MMC_QTYPE_Q8, &err);
        REQUIRE(q && mmc_tensor_set_quant(l[i]->weight, q, &err) == MMC_OK, "%s", err.msg);
        mmc_tensor_drop_data(l[i]->weight);
    }
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_grad_mode(ctx, 0);
    mmc_tensor *x = mmc_tensor_empty(ctx, 3, (int[]){B, T, E});
    fill(x->data, x->numel, 5, -2, 2);
    mmc_tensor *y1 = mmc_nn_mha_forward(ctx, &m, x, NULL, 1, NULL, 0, NULL);
    REQUIRE(y1, "%s", ctx->err.msg);
    REQUIRE(mmc_nn_mha_stack_quantized(&m, &P, "a.stacked", &err) == MMC_OK && m.qkv_weight, "not stacked: %s", err.msg);
    CHECK(m.q_proj.weight->quant->view && m.v_proj.weight->quant->view, "q/v are not views");
    mmc_tensor *y2 = mmc_nn_mha_forward(ctx, &m, x, NULL, 1, NULL, 0, NULL);
    REQUIRE(y2, "%s", ctx->err.msg);
    CHECK(!memcmp(y1->data, y2->data, sizeof(float) * y1->numel), "stacked attention differs");
    /* the views still serve a product of their own */
    mmc_tensor *k1 = mmc_linear(ctx, x, m.k_proj.weight, m.k_proj.bias);
    REQUIRE(k1, "%s", ctx->err.msg);
    mmc_tensor *all = mmc_linear(ctx, x, m.qkv_weight, m.qkv_bias);
    int ok = 1;
    for (int r = 0; r < B * T; r++) ok &= !memcmp(k1->data + r * E, all->data + r * 3 * E + E, sizeof(float) * E);
    CHECK(ok, "k through its view differs from the stacked product's k rows");
    mmc_ctx_free(ctx);
    mmc_params_free(&P);
}
