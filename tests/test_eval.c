/* test_eval.c — retrieval metrics and accuracy (src/eval/recall.c), worked by hand.
 *
 * Ranks are 1-based and ties pessimistic: rank = 1 + #(wrong items scoring >= the right one). */
#include "test.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-9)

TEST(eval_recall_hand_worked) {
    /* One caption per image, caption t describes image t.
     *          img0 img1 img2
     *   t0  [  0.9  0.1  0.3 ]  own 0.9, nothing >= it               -> rank 1
     *   t1  [  0.8  0.5  0.2 ]  own 0.5, 0.8 >= it                   -> rank 2
     *   t2  [  0.7  0.6  0.4 ]  own 0.4, 0.7 and 0.6 >= it           -> rank 3
     * text->image ranks 1 2 3: R@1 33.3, R@5 = R@10 = 100, medr 2, meanr 2.
     * image->text, by column:
     *   img0 [0.9 0.8 0.7] own t0 0.9                                -> rank 1
     *   img1 [0.1 0.5 0.6] own t1 0.5, t2's 0.6 >= it                -> rank 2
     *   img2 [0.3 0.2 0.4] own t2 0.4                                -> rank 1
     * image->text ranks 1 2 1: R@1 66.7, R@5 100, medr 1, meanr 4/3.
     * rsum = 33.3 + 100 + 100 + 66.7 + 100 + 100 = 500. */
    const float sim[9] = {0.9f, 0.1f, 0.3f, 0.8f, 0.5f, 0.2f, 0.7f, 0.6f, 0.4f};
    const int ti[3] = {0, 1, 2};
    int tr[3], ir[3];
    mmc_error err = {0};
    REQUIRE(mmc_eval_recall_ranks(sim, 3, 3, ti, tr, ir, &err) == MMC_OK, "%s", err.msg);
    CHECK(tr[0] == 1 && tr[1] == 2 && tr[2] == 3, "t2i ranks %d %d %d", tr[0], tr[1], tr[2]);
    CHECK(ir[0] == 1 && ir[1] == 2 && ir[2] == 1, "i2t ranks %d %d %d", ir[0], ir[1], ir[2]);
    mmc_recall_result r;
    REQUIRE(mmc_eval_recall(sim, 3, 3, ti, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.n_texts == 3 && r.n_images == 3, "counts %d %d", r.n_texts, r.n_images);
    CHECK(NEAR(r.t2i[0], 100.0 / 3) && NEAR(r.t2i[1], 100) && NEAR(r.t2i[2], 100), "t2i %g %g %g",
          r.t2i[0], r.t2i[1], r.t2i[2]);
    CHECK(NEAR(r.i2t[0], 200.0 / 3) && NEAR(r.i2t[1], 100) && NEAR(r.i2t[2], 100), "i2t %g %g %g",
          r.i2t[0], r.i2t[1], r.i2t[2]);
    CHECK(NEAR(r.t2i_medr, 2) && NEAR(r.t2i_meanr, 2), "t2i medr %g meanr %g", r.t2i_medr, r.t2i_meanr);
    CHECK(NEAR(r.i2t_medr, 1) && NEAR(r.i2t_meanr, 4.0 / 3), "i2t medr %g meanr %g", r.i2t_medr, r.i2t_meanr);
    CHECK(NEAR(r.rsum, 500), "rsum %g", r.rsum);

    /* R@5 against R@10: one caption, 12 images, six wrong images above the right one
     * (scores 1.0 .. 0.5 above 0.45) -> rank 7: R@1 = R@5 = 0, R@10 = 100. */
    float row[12];
    for (int j = 0; j < 12; j++) row[j] = j < 6 ? 1.0f - 0.1f * j : 0.1f;
    row[11] = 0.45f;
    const int ti1[1] = {11};
    REQUIRE(mmc_eval_recall(row, 1, 12, ti1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(NEAR(r.t2i[0], 0) && NEAR(r.t2i[1], 0) && NEAR(r.t2i[2], 100) && NEAR(r.t2i_medr, 7),
          "rank 7: R@ %g %g %g medr %g", r.t2i[0], r.t2i[1], r.t2i[2], r.t2i_medr);
    /* Image 11 is the only one with a caption; it is its own caption's only candidate. */
    CHECK(r.n_images == 1 && NEAR(r.i2t[0], 100), "i2t over captioned images: n %d R@1 %g", r.n_images, r.i2t[0]);

    /* From embeddings: identical unit rows on both sides give perfect recall; swapping two
     * captions' images makes exactly those two miss. */
    float emb[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0.6f, 0.8f, 0};
    int ti4[4] = {0, 1, 2, 3};
    REQUIRE(mmc_eval_recall_embeddings(emb, 4, emb, 4, 3, ti4, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(NEAR(r.rsum, 600), "identical embeddings rsum %g", r.rsum);
    ti4[0] = 1, ti4[1] = 0;
    REQUIRE(mmc_eval_recall_embeddings(emb, 4, emb, 4, 3, ti4, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(NEAR(r.t2i[0], 50), "swapped captions: t2i R@1 %g", r.t2i[0]);

    /* Helpers on their own: entries <= 0 do not count. */
    const int ranks[5] = {4, 0, 1, 2, -1};
    CHECK(NEAR(mmc_eval_recall_at(ranks, 5, 1), 100.0 / 3), "recall_at skips 0");
    CHECK(NEAR(mmc_eval_rank_median(ranks, 5), 2), "median of 1 2 4");
}

TEST(eval_recall_multi_caption) {
    /* Three images; captions t0 t1 t2 describe img0, t3 t4 describe img1, img2 has none.
     *          img0  img1  img2
     *   t0  [  0.9   0.2   0.1 ]  own img0 0.9                     -> rank 1
     *   t1  [  0.3   0.6   0.1 ]  own img0 0.3, 0.6 above          -> rank 2
     *   t2  [  0.1   0.2   0.5 ]  own img0 0.1, 0.2 and 0.5 above  -> rank 3
     *   t3  [  0.4   0.5   0.0 ]  own img1 0.5                     -> rank 1
     *   t4  [  0.95  0.65  0.9 ]  own img1 0.65, 0.95 and 0.9     -> rank 3
     * text->image ranks 1 2 3 1 3: R@1 40, R@5 100, medr 2, meanr 2.
     * image->text, best own caption against the other images' captions:
     *   img0 column [0.9 0.3 0.1 0.4 0.95]: best own 0.9 (t0); wrong t3 0.4, t4 0.95 -> rank 2
     *   img1 column [0.2 0.6 0.2 0.5 0.65]: best own 0.65 (t4, not the first caption t3,
     *        which alone would rank 2 behind t1's 0.6); wrong 0.2 0.6 0.2         -> rank 1
     *   img2: no caption, not a query
     * image->text ranks 2 1: R@1 50, R@5 100, medr 1.5, meanr 1.5, over 2 images.
     * rsum = 40 + 100 + 100 + 50 + 100 + 100 = 490. */
    const float sim[15] = {0.9f, 0.2f,  0.1f, 0.3f, 0.6f, 0.1f, 0.1f, 0.2f,
                           0.5f, 0.4f,  0.5f, 0.0f, 0.95f, 0.65f, 0.9f};
    const int ti[5] = {0, 0, 0, 1, 1};
    int tr[5], ir[3];
    mmc_error err = {0};
    REQUIRE(mmc_eval_recall_ranks(sim, 5, 3, ti, tr, ir, &err) == MMC_OK, "%s", err.msg);
    CHECK(tr[0] == 1 && tr[1] == 2 && tr[2] == 3 && tr[3] == 1 && tr[4] == 3, "t2i ranks %d %d %d %d %d",
          tr[0], tr[1], tr[2], tr[3], tr[4]);
    CHECK(ir[0] == 2 && ir[1] == 1 && ir[2] == 0, "i2t ranks %d %d %d", ir[0], ir[1], ir[2]);
    mmc_recall_result r;
    REQUIRE(mmc_eval_recall(sim, 5, 3, ti, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.n_texts == 5 && r.n_images == 2, "counts %d %d", r.n_texts, r.n_images);
    CHECK(NEAR(r.t2i[0], 40) && NEAR(r.t2i[1], 100), "t2i %g %g", r.t2i[0], r.t2i[1]);
    CHECK(NEAR(r.i2t[0], 50) && NEAR(r.i2t[1], 100), "i2t %g %g", r.i2t[0], r.i2t[1]);
    CHECK(NEAR(r.t2i_medr, 2) && NEAR(r.t2i_meanr, 2), "t2i medr %g meanr %g", r.t2i_medr, r.t2i_meanr);
    CHECK(NEAR(r.i2t_medr, 1.5) && NEAR(r.i2t_meanr, 1.5), "i2t medr %g meanr %g", r.i2t_medr, r.i2t_meanr);
    CHECK(NEAR(r.rsum, 490), "rsum %g", r.rsum);

    /* Bad arguments. */
    int bad[5] = {0, 0, 3, 1, 1};
    CHECK(mmc_eval_recall(sim, 5, 3, bad, &r, &err) == MMC_ERR_USAGE && strstr(err.msg, "text 2"),
          "image out of range: %s", err.msg);
    float nan_sim[15];
    memcpy(nan_sim, sim, sizeof sim);
    nan_sim[7] = NAN;
    CHECK(mmc_eval_recall(nan_sim, 5, 3, ti, &r, &err) == MMC_ERR_INPUT && strstr(err.msg, "(2, 1)"),
          "NaN: %s", err.msg);
    CHECK(mmc_eval_recall(sim, 0, 3, ti, &r, &err) == MMC_ERR_USAGE, "no texts");
}

TEST(eval_recall_ties) {
    mmc_error err = {0};
    mmc_recall_result r;
    int tr[3], ir[3];
    /* All scores equal (a collapsed model): pessimistic ties put every wrong item first, so
     * every rank is the last one, never a flattering 1. */
    const float flat[9] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    const int ti[3] = {0, 1, 2};
    REQUIRE(mmc_eval_recall_ranks(flat, 3, 3, ti, tr, ir, &err) == MMC_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) CHECK(tr[i] == 3 && ir[i] == 3, "flat: ranks %d %d", tr[i], ir[i]);
    REQUIRE(mmc_eval_recall(flat, 3, 3, ti, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(NEAR(r.rsum, 400) && NEAR(r.t2i[0], 0), "flat 3x3: R@1 %g rsum %g (0 + 100 + 100 twice)", r.t2i[0], r.rsum);

    /* A tie with one wrong item costs one place; the order of the columns does not matter.
     *          img0 img1 img2
     *   t0  [  0.5  0.5  0.2 ]  own img0 ties img1       -> rank 2
     *   t1  [  0.5  0.5  0.2 ]  own img1 ties img0       -> rank 2
     *   t2  [  0.1  0.3  0.3 ]  own img2 ties img1       -> rank 2 */
    const float part[9] = {0.5f, 0.5f, 0.2f, 0.5f, 0.5f, 0.2f, 0.1f, 0.3f, 0.3f};
    REQUIRE(mmc_eval_recall_ranks(part, 3, 3, ti, tr, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(tr[0] == 2 && tr[1] == 2 && tr[2] == 2, "partial ties %d %d %d", tr[0], tr[1], tr[2]);

    /* Image -> text with ties among its own captions: t0 and t1 (img0) both score 0.7, t2
     * (img1) also 0.7. Own captions never push each other down; the wrong one does.
     *          img0 img1
     *   t0  [  0.7  0.1 ]
     *   t1  [  0.7  0.2 ]
     *   t2  [  0.7  0.9 ]
     * img0: best own 0.7, wrong t2 0.7 >= it -> rank 2. img1: own t2 0.9 -> rank 1. */
    const float own[6] = {0.7f, 0.1f, 0.7f, 0.2f, 0.7f, 0.9f};
    const int ti2[3] = {0, 0, 1};
    REQUIRE(mmc_eval_recall_ranks(own, 3, 2, ti2, NULL, ir, &err) == MMC_OK, "%s", err.msg);
    CHECK(ir[0] == 2 && ir[1] == 1, "own-caption ties: %d %d", ir[0], ir[1]);

    /* Duplicate images from embeddings: two identical image rows tie for every caption. */
    const float img[2 * 2] = {1, 0, 1, 0};
    const float txt[2 * 2] = {1, 0, 1, 0};
    const int ti3[2] = {0, 1};
    REQUIRE(mmc_eval_recall_embeddings(txt, 2, img, 2, 2, ti3, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(NEAR(r.t2i[0], 0) && NEAR(r.i2t[0], 0) && NEAR(r.t2i_medr, 2), "duplicates: %g %g %g", r.t2i[0],
          r.i2t[0], r.t2i_medr);
}

TEST(eval_accuracy) {
    /* truth 0 0 1 1 1 2, pred 0 1 1 1 0 2: correct 4/6; per class 1/2, 2/3, 1/1; class 3
     * has no samples and does not enter the mean (1/2 + 2/3 + 1) / 3 = 13/18. */
    const int truth[6] = {0, 0, 1, 1, 1, 2}, pred[6] = {0, 1, 1, 1, 0, 2};
    int cc[4], ct[4];
    mmc_accuracy a;
    mmc_error err = {0};
    REQUIRE(mmc_eval_accuracy(pred, truth, 6, 4, &a, cc, ct, &err) == MMC_OK, "%s", err.msg);
    CHECK(a.n == 6 && a.correct == 4 && NEAR(a.overall, 4.0 / 6), "overall %d/%d", a.correct, a.n);
    CHECK(cc[0] == 1 && ct[0] == 2 && cc[1] == 2 && ct[1] == 3 && cc[2] == 1 && ct[2] == 1 && ct[3] == 0,
          "per class");
    CHECK(a.classes_present == 3 && NEAR(a.mean_per_class, 13.0 / 18), "mean per class %g", a.mean_per_class);
    REQUIRE(mmc_eval_accuracy(pred, truth, 6, 3, &a, NULL, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(NEAR(a.mean_per_class, 13.0 / 18), "without per-class arrays");
    CHECK(mmc_eval_accuracy(pred, truth, 6, 2, &a, NULL, NULL, &err) == MMC_ERR_USAGE, "class out of range");
    const float x[4] = {0.1f, 0.7f, 0.7f, -1};
    CHECK(mmc_eval_argmax(x, 4) == 1, "argmax ties keep the lowest index");
}
