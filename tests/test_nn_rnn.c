/* test_nn_rnn.c — GRU and LSTM: PyTorch parity (modules and single-step cells), finite-
 * difference gradient checks, and argument checks. Fixtures: tools/fixtures/nn_rnn.py.
 *
 * A module fixture carries torch's state_dict under torch's names; the test builds the mmc
 * module, loads the fixture into its registry (so the names must match torch's), runs it
 * and compares the outputs, then backpropagates loss = Σ out·g_out + Σ h_n·g_h_n (+ Σ c_n·g_c_n)
 * and compares the gradient of x, h0, c0 and every parameter. */
#include "test.h"
#include <stdlib.h>

#define PARITY_TOL 1e-4
#define FD_EPS 1e-2f
#define FD_TOL 2e-2

/* Σ a·g as a one-element tensor (g a constant); NULL a gives NULL. */
static mmc_tensor *dot_with(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *g) {
    if (!a || !g) return NULL;
    return mmc_sum(ctx, mmc_mul(ctx, a, g), NULL, 0, 0);
}

static int same_shape_or_fail(const char *what, mmc_tensor *got, mmc_tensor *want) {
    if (got && want && mmc_tensor_same_shape(got, want)) return 1;
    char s1[64], s2[64];
    mmc_test_fail(__FILE__, __LINE__, "%s: shape %s, want %s", what, got ? mmc_shape_str(got, s1, sizeof s1) : "NULL",
                  want ? mmc_shape_str(want, s2, sizeof s2) : "(missing)");
    return 0;
}

/* Compares t->grad with the fixture's grad_<name>. */
static void check_grad(const mmc_safetensors *st, const char *fx, const char *name, mmc_tensor *t) {
    char gname[96], what[160];
    snprintf(gname, sizeof gname, "grad_%s", name);
    snprintf(what, sizeof what, "%s: %s", fx, gname);
    mmc_tensor *want = test_fixture_get(st, gname);
    if (!want) return;
    if (!t->grad) mmc_test_fail(__FILE__, __LINE__, "%s: no gradient arrived", what);
    else if (want->numel != t->numel) mmc_test_fail(__FILE__, __LINE__, "%s: size differs", what);
    else test_close(what, t->grad, want->data, want->numel, PARITY_TOL);
    mmc_tensor_free(want);
}

static mmc_tensor *fx_get_opt(const mmc_safetensors *st, const char *name) {
    return mmc_safetensors_find(st, name) ? test_fixture_get(st, name) : NULL;
}

/* Runs the module fixture `name` (opts say GRU/LSTM, layers, direction, h0). */
static void parity_module(const char *name) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, name)) return;
    int64_t no = 0, nl = 0;
    int *opts = test_fixture_ints(&st, "opts", &no);
    int *lengths = test_fixture_ints(&st, "lengths", &nl);
    mmc_tensor *x = test_fixture_get(&st, "x"), *want_out = test_fixture_get(&st, "out");
    mmc_tensor *want_hn = test_fixture_get(&st, "h_n"), *g_out = test_fixture_get(&st, "g_out");
    mmc_tensor *g_hn = test_fixture_get(&st, "g_h_n");
    mmc_tensor *h0 = fx_get_opt(&st, "h0"), *c0 = fx_get_opt(&st, "c0");
    mmc_tensor *want_cn = fx_get_opt(&st, "c_n"), *g_cn = fx_get_opt(&st, "g_c_n");
    mmc_params P = {0};
    mmc_ctx *ctx = mmc_ctx_new();
    if (!opts || no != 4 || !lengths || !x || !want_out || !want_hn || !g_out || !g_hn) {
        mmc_test_fail(__FILE__, __LINE__, "%s: fixture incomplete", name);
        goto done;
    }
    const int is_lstm = opts[0], H = want_hn->shape[2];
    if (is_lstm && (!want_cn || !g_cn)) {
        mmc_test_fail(__FILE__, __LINE__, "%s: LSTM fixture without c_n", name);
        goto done;
    }
    mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
    o.num_layers = opts[1];
    o.bidirectional = opts[2];
    mmc_nn_rnn m;
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 0);
    mmc_error err = {0};
    int rc = is_lstm ? mmc_nn_lstm_init(&m, &P, NULL, x->shape[2], H, o, &rng, &err)
                     : mmc_nn_gru_init(&m, &P, NULL, x->shape[2], H, o, &rng, &err);
    if (rc != MMC_OK) { mmc_test_fail(__FILE__, __LINE__, "%s: init: %s", name, err.msg); goto done; }
    /* every registered name must be in torch's state_dict (and have a reference grad) */
    for (int i = 0; i < P.n; i++)
        CHECK(mmc_safetensors_find(&st, P.names[i]), "%s: torch has no parameter '%s'", name, P.names[i]);
    CHECK(P.n == 4 * o.num_layers * (o.bidirectional + 1), "%s: %d parameters registered", name, P.n);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/%s.safetensors", name);
    if (mmc_params_load(&P, test_path(rel), 0, &err) != MMC_OK) { /* non-strict: x, out... are extra */
        mmc_test_fail(__FILE__, __LINE__, "%s: load: %s", name, err.msg);
        goto done;
    }
    x->requires_grad = 1;
    if (h0) h0->requires_grad = 1;
    if (c0) c0->requires_grad = 1;
    mmc_tensor *hn = NULL, *cn = NULL;
    mmc_tensor *out = is_lstm ? mmc_nn_lstm_forward(ctx, &m, x, h0, c0, lengths, 0, NULL, &hn, &cn)
                              : mmc_nn_gru_forward(ctx, &m, x, h0, lengths, 0, NULL, &hn);
    if (!out) { mmc_test_fail(__FILE__, __LINE__, "%s: forward: %s", name, ctx->err.msg); goto done; }
    char what[160];
    if (same_shape_or_fail("out", out, want_out)) {
        snprintf(what, sizeof what, "%s: out", name);
        test_close(what, out->data, want_out->data, want_out->numel, PARITY_TOL);
    }
    if (same_shape_or_fail("h_n", hn, want_hn)) {
        snprintf(what, sizeof what, "%s: h_n", name);
        test_close(what, hn->data, want_hn->data, want_hn->numel, PARITY_TOL);
    }
    if (is_lstm && same_shape_or_fail("c_n", cn, want_cn)) {
        snprintf(what, sizeof what, "%s: c_n", name);
        test_close(what, cn->data, want_cn->data, want_cn->numel, PARITY_TOL);
    }
    mmc_tensor *loss = mmc_add(ctx, dot_with(ctx, out, g_out), dot_with(ctx, hn, g_hn));
    if (is_lstm) loss = mmc_add(ctx, loss, dot_with(ctx, cn, g_cn));
    if (mmc_backward(ctx, loss) != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "%s: backward: %s", name, ctx->err.msg);
        goto done;
    }
    check_grad(&st, name, "x", x);
    if (h0) check_grad(&st, name, "h0", h0);
    if (c0) check_grad(&st, name, "c0", c0);
    for (int i = 0; i < P.n; i++) check_grad(&st, name, P.names[i], P.tensors[i]);
done:
    mmc_ctx_free(ctx);
    mmc_params_free(&P);
    mmc_tensor *ts[] = {x, want_out, want_hn, g_out, g_hn, h0, c0, want_cn, g_cn};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) mmc_tensor_free(ts[i]);
    free(opts);
    free(lengths);
    mmc_safetensors_close(&st);
}

TEST(parity_gru) { parity_module("rnn_gru"); }
TEST(parity_gru_bidirectional_padded) { parity_module("rnn_gru_bidir_padded"); }
TEST(parity_lstm) { parity_module("rnn_lstm"); }
TEST(parity_lstm_bidirectional_padded) { parity_module("rnn_lstm_bidir_padded"); }
TEST(parity_lstm_two_layers) { parity_module("rnn_lstm_two_layers"); }

/* ------------------------------------------------------------------- cells */

static void parity_cell(const char *name, int is_lstm) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, name)) return;
    const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    mmc_tensor *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = test_fixture_get(&st, pn[i]);
        if (p[i]) p[i]->requires_grad = 1;
    }
    mmc_tensor *x = test_fixture_get(&st, "x"), *h = test_fixture_get(&st, "h");
    mmc_tensor *want_h = test_fixture_get(&st, "h_out"), *g_h = test_fixture_get(&st, "g_h_out");
    mmc_tensor *c = is_lstm ? test_fixture_get(&st, "c") : NULL;
    mmc_tensor *want_c = is_lstm ? test_fixture_get(&st, "c_out") : NULL;
    mmc_tensor *g_c = is_lstm ? test_fixture_get(&st, "g_c_out") : NULL;
    mmc_ctx *ctx = mmc_ctx_new();
    if (!p[0] || !p[1] || !p[2] || !p[3] || !x || !h || !want_h || !g_h || (is_lstm && (!c || !want_c || !g_c)))
        goto done;
    x->requires_grad = h->requires_grad = 1;
    if (c) c->requires_grad = 1;
    mmc_rnn_weights w = {p[0], p[1], p[2], p[3]};
    mmc_tensor *ho = NULL, *co = NULL;
    if (is_lstm) {
        int rc = mmc_nn_lstm_step(ctx, &w, x, h, c, &ho, &co);
        CHECK(rc == MMC_OK, "%s: %s", name, ctx->err.msg);
    } else {
        ho = mmc_nn_gru_step(ctx, &w, x, h);
    }
    if (!ho) { mmc_test_fail(__FILE__, __LINE__, "%s: step: %s", name, ctx->err.msg); goto done; }
    char what[160];
    if (same_shape_or_fail("h_out", ho, want_h)) {
        snprintf(what, sizeof what, "%s: h_out", name);
        test_close(what, ho->data, want_h->data, want_h->numel, PARITY_TOL);
    }
    if (is_lstm && same_shape_or_fail("c_out", co, want_c)) {
        snprintf(what, sizeof what, "%s: c_out", name);
        test_close(what, co->data, want_c->data, want_c->numel, PARITY_TOL);
    }
    mmc_tensor *loss = dot_with(ctx, ho, g_h);
    if (is_lstm) loss = mmc_add(ctx, loss, dot_with(ctx, co, g_c));
    if (mmc_backward(ctx, loss) != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "%s: backward: %s", name, ctx->err.msg);
        goto done;
    }
    check_grad(&st, name, "x", x);
    check_grad(&st, name, "h", h);
    if (c) check_grad(&st, name, "c", c);
    for (int i = 0; i < 4; i++) check_grad(&st, name, pn[i], p[i]);
done:
    mmc_ctx_free(ctx);
    mmc_tensor *ts[] = {p[0], p[1], p[2], p[3], x, h, want_h, g_h, c, want_c, g_c};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) mmc_tensor_free(ts[i]);
    mmc_safetensors_close(&st);
}

TEST(parity_lstm_step) { parity_cell("cell_lstm", 1); }
TEST(parity_gru_step) { parity_cell("cell_gru", 0); }

/* ---------------------------------------------------------- gradient checks */

typedef struct gc_case {
    mmc_nn_rnn m;
    const int *lengths;
    int h_n_only; /* check the path where only the final state receives a gradient */
} gc_case;

/* in[0] = x, in[1] = h0, in[2] = c0 (LSTM); the module's parameters follow (same tensors). */
static mmc_tensor *g_rnn(mmc_ctx *ctx, mmc_tensor **in, void *user) {
    gc_case *g = user;
    mmc_tensor *hn = NULL, *cn = NULL, *out;
    if (g->m.is_lstm) out = mmc_nn_lstm_forward(ctx, &g->m, in[0], in[1], in[2], g->lengths, 0, NULL, &hn, &cn);
    else out = mmc_nn_gru_forward(ctx, &g->m, in[0], in[1], g->lengths, 0, NULL, &hn);
    if (!out) return NULL;
    mmc_tensor *parts[3] = {mmc_reshape(ctx, hn, 1, (int[]){-1}), mmc_reshape(ctx, out, 1, (int[]){-1}),
                            cn ? mmc_reshape(ctx, cn, 1, (int[]){-1}) : NULL};
    if (g->h_n_only) return parts[0];
    return mmc_concat(ctx, parts, cn ? 3 : 2, 0);
}

static void gradcheck_rnn(int is_lstm) {
    const int B = 3, T = 4, IN = 3, H = 4, L = 2, D = 2;
    static const int lengths[3] = {3, 4, 1};
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 42, 0);
    mmc_error err = {0};
    gc_case g = {.lengths = lengths};
    mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
    o.num_layers = L;
    o.bidirectional = 1;
    int rc = is_lstm ? mmc_nn_lstm_init(&g.m, &P, "enc", IN, H, o, &rng, &err)
                     : mmc_nn_gru_init(&g.m, &P, "enc", IN, H, o, &rng, &err);
    REQUIRE(rc == MMC_OK, "init: %s", err.msg);
    /* larger weights than the default init, so gates are not all near their linear range */
    for (int i = 0; i < P.n; i++) mmc_init_uniform(P.tensors[i], 0.8f, &rng);
    mmc_tensor *in[3 + 4 * 2 * 2];
    in[0] = test_randn(3, (int[]){B, T, IN}, 1, 1.0f);
    in[1] = test_randn(3, (int[]){L * D, B, H}, 2, 0.5f);
    in[2] = test_randn(3, (int[]){L * D, B, H}, 3, 0.5f);
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    in[2]->requires_grad = is_lstm;
    for (int i = 0; i < P.n; i++) in[3 + i] = P.tensors[i];
    const char *what = is_lstm ? "lstm" : "gru";
    test_gradcheck(what, g_rnn, in, 3 + P.n, &g, FD_EPS, FD_TOL, 24);
    g.h_n_only = 1;
    test_gradcheck(what, g_rnn, in, 3 + P.n, &g, FD_EPS, FD_TOL, 8);
    for (int i = 0; i < 3; i++) mmc_tensor_free(in[i]);
    mmc_params_free(&P);
}

TEST(grad_gru) { gradcheck_rnn(0); }
TEST(grad_lstm) { gradcheck_rnn(1); }

/* ------------------------------------------------------------------- misc */

/* PyTorch's names and init bounds; dropout acts only in training and needs an rng. */
TEST(rnn_init_and_dropout) {
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 3, 0);
    mmc_error err = {0};
    mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
    o.num_layers = 2;
    o.bidirectional = 1;
    o.dropout = 0.5f;
    mmc_nn_lstm m;
    REQUIRE(mmc_nn_lstm_init(&m, &P, "text.rnn", 5, 8, o, &rng, &err) == MMC_OK, "%s", err.msg);
    static const char *names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                  "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                  "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1",
                                  "bias_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
                                  "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
    REQUIRE(P.n == 16, "%d tensors", P.n);
    for (int i = 0; i < 16; i++) {
        char full[96];
        snprintf(full, sizeof full, "text.rnn.%s", names[i]);
        CHECK(strcmp(P.names[i], full) == 0, "name %d: %s, want %s", i, P.names[i], full);
        float mx = 0;
        for (int64_t j = 0; j < P.tensors[i]->numel; j++)
            mx = fabsf(P.tensors[i]->data[j]) > mx ? fabsf(P.tensors[i]->data[j]) : mx;
        CHECK(mx <= 1.0f / sqrtf(8.0f) && mx > 0.5f / sqrtf(8.0f), "%s: max |w| %g", full, mx);
    }
    CHECK(P.tensors[8]->shape[1] == 16, "layer 1 input is both directions: %d", P.tensors[8]->shape[1]);
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = test_randn(3, (int[]){2, 5, 5}, 9, 1.0f);
    mmc_tensor *e1 = mmc_nn_lstm_forward(ctx, &m, x, NULL, NULL, NULL, 0, NULL, NULL, NULL);
    mmc_tensor *e2 = mmc_nn_lstm_forward(ctx, &m, x, NULL, NULL, NULL, 0, NULL, NULL, NULL);
    mmc_tensor *t1 = mmc_nn_lstm_forward(ctx, &m, x, NULL, NULL, NULL, 1, &rng, NULL, NULL);
    REQUIRE(e1 && e2 && t1, "%s", ctx->err.msg);
    CHECK(e1->shape[2] == 16, "out width %d", e1->shape[2]);
    CHECK(memcmp(e1->data, e2->data, sizeof(float) * (size_t)e1->numel) == 0, "eval is deterministic");
    CHECK(memcmp(e1->data, t1->data, sizeof(float) * (size_t)e1->numel) != 0, "training drops");
    CHECK(!mmc_nn_lstm_forward(ctx, &m, x, NULL, NULL, NULL, 1, NULL, NULL, NULL) &&
              strstr(ctx->err.msg, "rng"), "dropout without rng: %s", ctx->err.msg);
    mmc_tensor_free(x);
    mmc_ctx_free(ctx);
    mmc_params_free(&P);
}

/* Bad arguments give NULL and a message that says what was wrong, never a crash. */
TEST(rnn_bad_args) {
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 4, 0);
    mmc_error err = {0};
    mmc_nn_gru gru;
    mmc_nn_lstm lstm;
    mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
    REQUIRE(mmc_nn_gru_init(&gru, &P, "g", 4, 6, o, &rng, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_nn_lstm_init(&lstm, &P, "l", 4, 6, o, &rng, &err) == MMC_OK, "%s", err.msg);
    CHECK(mmc_nn_gru_init(&gru, &P, "g", 4, 6, o, &rng, &err) == MMC_ERR_USAGE && strstr(err.msg, "twice"),
          "duplicate: %s", err.msg);
    o.num_layers = 0;
    CHECK(mmc_nn_gru_init(&gru, &P, "h", 4, 6, o, &rng, &err) == MMC_ERR_USAGE && strstr(err.msg, "num_layers"),
          "layers: %s", err.msg);
    o = mmc_nn_rnn_defaults();
    CHECK(mmc_nn_gru_init(&gru, &P, "h", 4, 0, o, &rng, &err) == MMC_ERR_USAGE, "hidden 0: %s", err.msg);
    REQUIRE(mmc_nn_gru_init(&gru, &P, "g2", 4, 6, o, &rng, &err) == MMC_OK, "%s", err.msg);

    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = test_randn(3, (int[]){2, 3, 4}, 1, 1.0f), *hn = NULL, *cn = NULL;
    mmc_tensor *xw = test_randn(3, (int[]){2, 3, 5}, 1, 1.0f);
    mmc_tensor *x2 = test_randn(2, (int[]){2, 4}, 1, 1.0f);
    mmc_tensor *h0bad = test_randn(3, (int[]){1, 3, 6}, 1, 1.0f);
    struct { int len[2]; } bad[] = {{{0, 3}}, {{3, 4}}, {{-1, 1}}};
    for (int i = 0; i < 3; i++) {
        mmc_ctx_reset(ctx);
        CHECK(!mmc_nn_gru_forward(ctx, &gru, x, NULL, bad[i].len, 0, NULL, &hn) && !hn &&
                  ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "lengths["),
              "gru lengths %d: %s", i, ctx->err.msg);
        mmc_ctx_reset(ctx);
        CHECK(!mmc_nn_lstm_forward(ctx, &lstm, x, NULL, NULL, bad[i].len, 0, NULL, &hn, &cn) && !hn && !cn &&
                  strstr(ctx->err.msg, "outside 1..T"),
              "lstm lengths %d: %s", i, ctx->err.msg);
    }
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_gru_forward(ctx, &gru, xw, NULL, NULL, 0, NULL, &hn) && strstr(ctx->err.msg, "input_size 4"),
          "width: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_lstm_forward(ctx, &lstm, x2, NULL, NULL, NULL, 0, NULL, &hn, &cn) && strstr(ctx->err.msg, "(B, T, 4)"),
          "2-D x: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_gru_forward(ctx, &gru, x, h0bad, NULL, 0, NULL, &hn) && strstr(ctx->err.msg, "h0"),
          "h0: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_gru_forward(ctx, &lstm, x, NULL, NULL, 0, NULL, &hn) && strstr(ctx->err.msg, "LSTM"),
          "kind: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_gru_forward(ctx, &gru, NULL, NULL, NULL, 0, NULL, &hn) && strstr(ctx->err.msg, "NULL"),
          "NULL x: %s", ctx->err.msg);
    /* the ops directly: input width against weight_ih, and the step cells */
    mmc_ctx_reset(ctx);
    CHECK(!mmc_gru_layer(ctx, xw, NULL, &gru.w[0][0], NULL, 0, &hn) && strstr(ctx->err.msg, "weight_ih"),
          "layer width: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    mmc_rnn_weights swapped = {lstm.w[0][0].w_ih, gru.w[0][0].w_hh, NULL, NULL};
    CHECK(!mmc_lstm_layer(ctx, x, NULL, NULL, &swapped, NULL, 0, &hn, &cn) && strstr(ctx->err.msg, "weight_hh"),
          "gru weights in lstm: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_nn_gru_step(ctx, &gru.w[0][0], x, NULL) && strstr(ctx->err.msg, "(B, IN)"), "step x: %s",
          ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(mmc_nn_lstm_step(ctx, &lstm.w[0][0], x2, h0bad, NULL, &hn, &cn) == MMC_ERR_USAGE && !hn && !cn &&
              strstr(ctx->err.msg, "h0"), "step h: %s", ctx->err.msg);
    /* and a good call still works afterwards */
    mmc_ctx_reset(ctx);
    CHECK(mmc_nn_lstm_step(ctx, &lstm.w[0][0], x2, NULL, NULL, &hn, &cn) == MMC_OK && hn && cn, "step: %s",
          ctx->err.msg);
    mmc_tensor *ts[] = {x, xw, x2, h0bad};
    for (int i = 0; i < 4; i++) mmc_tensor_free(ts[i]);
    mmc_ctx_free(ctx);
    mmc_params_free(&P);
}

/* Huge pre-activations saturate the gates (the vectorised exp clamps its argument): the
 * outputs stay finite and in [-1, 1], and the gradients stay finite. */
TEST(rnn_saturated_gates) {
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 8, 0);
    mmc_error err = {0};
    mmc_nn_gru gru;
    mmc_nn_lstm lstm;
    REQUIRE(mmc_nn_gru_init(&gru, &P, "g", 3, 5, mmc_nn_rnn_defaults(), &rng, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_nn_lstm_init(&lstm, &P, "l", 3, 5, mmc_nn_rnn_defaults(), &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *x = test_randn(3, (int[]){2, 4, 3}, 5, 1000.0f);
    x->requires_grad = 1;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *hn = NULL, *cn = NULL;
    mmc_tensor *a = mmc_nn_gru_forward(ctx, &gru, x, NULL, NULL, 0, NULL, &hn);
    mmc_tensor *b = mmc_nn_lstm_forward(ctx, &lstm, x, NULL, NULL, NULL, 0, NULL, NULL, &cn);
    REQUIRE(a && b && hn && cn, "%s", ctx->err.msg);
    for (int64_t i = 0; i < a->numel; i++)
        CHECK(fabsf(a->data[i]) <= 1.0f && fabsf(b->data[i]) <= 1.0f, "out[%lld] = %g, %g", (long long)i,
              a->data[i], b->data[i]);
    mmc_tensor *loss = mmc_add(ctx, mmc_sum(ctx, a, NULL, 0, 0), mmc_sum(ctx, mmc_add(ctx, b, b), NULL, 0, 0));
    REQUIRE(mmc_backward(ctx, loss) == MMC_OK, "%s", ctx->err.msg);
    for (int64_t i = 0; i < x->numel; i++) CHECK(isfinite(x->grad[i]), "grad x[%lld] = %g", (long long)i, x->grad[i]);
    for (int i = 0; i < P.n; i++)
        for (int64_t j = 0; j < P.tensors[i]->numel; j++)
            CHECK(isfinite(P.tensors[i]->grad[j]), "%s[%lld] = %g", P.names[i], (long long)j, P.tensors[i]->grad[j]);
    mmc_tensor_free(x);
    mmc_ctx_free(ctx);
    mmc_params_free(&P);
}
