/*
 * test_caption_metrics.c — BLEU, CIDEr-D and exact match on captions given as token ids.
 *
 * Expected values are worked by hand in the comments; the less hand-friendly ones (CIDEr-D's
 * logs, fractional roots) come from tools/caption_metrics_reference.py, an independent
 * plain-Python implementation of the coco-caption / NLTK conventions.
 */
#include "test.h"
#include <stdlib.h>

/* Words -> ids through a tiny per-test vocabulary. Ids start at 1000 on purpose: the
 * metrics treat ids as opaque symbols (English words or Chinese characters alike). */
static char g_words[256][32];
static int g_nwords;
static int32_t g_pool[8192];
static int g_pool_used;

static void reset_words(void) { g_nwords = 0, g_pool_used = 0; }

static int32_t word_id(const char *w, size_t n) {
    for (int i = 0; i < g_nwords; i++)
        if (strlen(g_words[i]) == n && memcmp(g_words[i], w, n) == 0) return 1000 + i;
    memcpy(g_words[g_nwords], w, n);
    g_words[g_nwords][n] = 0;
    return 1000 + g_nwords++;
}

/* "the cat sat" -> a sequence of ids living in g_pool until reset_words() */
static mmc_token_seq S(const char *s) {
    mmc_token_seq q = {g_pool + g_pool_used, 0};
    while (*s) {
        while (*s == ' ') s++;
        const char *e = s;
        while (*e && *e != ' ') e++;
        if (e > s) g_pool[g_pool_used + q.n++] = word_id(s, (size_t)(e - s));
        s = e;
    }
    g_pool_used += q.n;
    return q;
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

TEST(bleu_hand_worked) {
    reset_words();
    mmc_error err = {0};
    mmc_bleu_result r;

    /* Papineni et al.'s classic: hypothesis "the" x 7, reference "the cat is on the mat".
     * Unigrams: "the" occurs 7 times but at most 2 times in the reference, so the clipped
     * precision is 2/7 (unclipped it would be 7/7). No hypothesis bigram ("the the") is in
     * the reference: p_2 = 0/6, so BLEU-2..4 are 0 (no smoothing). c = 7 >= r = 6: BP = 1. */
    mmc_token_seq ref1[] = {S("the cat is on the mat")};
    mmc_caption_item classic = {S("the the the the the the the"), ref1, 1};
    REQUIRE(mmc_bleu_corpus(&classic, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.matched[0] == 2 && r.total[0] == 7, "unigrams %lld/%lld, want 2/7", (long long)r.matched[0],
          (long long)r.total[0]);
    CHECK(r.matched[1] == 0 && r.total[1] == 6, "bigrams %lld/%lld", (long long)r.matched[1], (long long)r.total[1]);
    CHECK(r.total[2] == 5 && r.total[3] == 4, "trigram/4-gram totals %lld %lld", (long long)r.total[2],
          (long long)r.total[3]);
    CHECK(near(r.bleu[0], 2.0 / 7.0, 1e-12), "BLEU-1 %.12f, want 2/7", r.bleu[0]);
    CHECK(r.bleu[1] == 0 && r.bleu[2] == 0 && r.bleu[3] == 0, "BLEU-2..4 %g %g %g, want 0", r.bleu[1],
          r.bleu[2], r.bleu[3]);
    CHECK(r.brevity_penalty == 1.0 && r.hyp_len == 7 && r.ref_len == 6, "BP %g c %lld r %lld", r.brevity_penalty,
          (long long)r.hyp_len, (long long)r.ref_len);

    /* "the cat sat on the mat" vs "the cat is on the mat":
     *   unigrams the(2, clipped 2) cat on mat match, sat does not      -> p1 = 5/6
     *   bigrams  the-cat on-the the-mat match; cat-sat sat-on do not   -> p2 = 3/5
     *   trigrams only on-the-mat                                        -> p3 = 1/4
     *   4-grams  none of the 3                                          -> p4 = 0/3
     * c = r = 6, BP = 1. BLEU-1 = 5/6, BLEU-2 = sqrt(5/6 * 3/5) = sqrt(1/2),
     * BLEU-3 = cbrt(5/6 * 3/5 * 1/4) = cbrt(1/8) = 1/2, BLEU-4 = 0. */
    mmc_caption_item sat = {S("the cat sat on the mat"), ref1, 1};
    REQUIRE(mmc_bleu_corpus(&sat, 1, &r, &err) == MMC_OK, "%s", err.msg);
    const int64_t want_m[4] = {5, 3, 1, 0}, want_t[4] = {6, 5, 4, 3};
    for (int k = 0; k < 4; k++)
        CHECK(r.matched[k] == want_m[k] && r.total[k] == want_t[k], "order %d: %lld/%lld, want %lld/%lld", k + 1,
              (long long)r.matched[k], (long long)r.total[k], (long long)want_m[k], (long long)want_t[k]);
    CHECK(near(r.bleu[0], 5.0 / 6.0, 1e-12), "BLEU-1 %.12f", r.bleu[0]);
    CHECK(near(r.bleu[1], sqrt(0.5), 1e-12), "BLEU-2 %.12f", r.bleu[1]);
    CHECK(near(r.bleu[2], 0.5, 1e-12), "BLEU-3 %.12f", r.bleu[2]);
    CHECK(r.bleu[3] == 0.0, "BLEU-4 %.12f", r.bleu[3]);

    /* Sentence level: unsmoothed it is the corpus formula on one item; smoothed (add one to
     * matches and totals of orders >= 2) p2 = 4/6, p3 = 2/5, p4 = 1/4, so
     * BLEU-4 = (5/6 * 4/6 * 2/5 * 1/4)^(1/4) = (1/18)^(1/4) = 0.48549177170732344. */
    REQUIRE(mmc_bleu_sentence(&sat, 0, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(r.bleu[2], 0.5, 1e-12) && r.bleu[3] == 0.0, "sentence BLEU-3/4 %.12f %.12f", r.bleu[2], r.bleu[3]);
    REQUIRE(mmc_bleu_sentence(&sat, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(r.bleu[0], 5.0 / 6.0, 1e-12), "smoothed BLEU-1 %.12f (unigrams are not smoothed)", r.bleu[0]);
    CHECK(near(r.bleu[3], pow(1.0 / 18.0, 0.25), 1e-12), "smoothed BLEU-4 %.12f, want %.12f", r.bleu[3],
          pow(1.0 / 18.0, 0.25));

    /* Corpus vs sentence. Adding "a dog runs in the park" with references "a dog runs in a
     * park" / "the dog is running in the park" (6 tokens; both references 6 and 7 long, the
     * closest is 6; matches 6/6, 5/5, 3/4, 1/3) gives summed statistics 11/12, 8/10, 4/8,
     * 1/6, c = r = 12: corpus BLEU-4 = (11/12 * 8/10 * 4/8 * 1/6)^(1/4) = 0.49719876934333024
     * although the first sentence alone has BLEU-4 = 0: the corpus score is not a mean of
     * sentence scores. */
    mmc_token_seq ref2[] = {S("a dog runs in a park"), S("the dog is running in the park")};
    mmc_caption_item corpus[2] = {sat, {S("a dog runs in the park"), ref2, 2}};
    REQUIRE(mmc_bleu_corpus(corpus, 2, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.matched[3] == 1 && r.total[3] == 6 && r.hyp_len == 12 && r.ref_len == 12, "corpus stats");
    CHECK(near(r.bleu[3], pow(11.0 / 12 * 8.0 / 10 * 4.0 / 8 * 1.0 / 6, 0.25), 1e-12), "corpus BLEU-4 %.12f",
          r.bleu[3]);
    CHECK(near(r.bleu[3], 0.49719876934333024, 1e-12), "corpus BLEU-4 vs the Python reference");
    REQUIRE(mmc_bleu_sentence(&corpus[1], 0, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(r.bleu[3], pow(1.0 * 1.0 * 3.0 / 4 * 1.0 / 3, 0.25), 1e-12), "sentence 2 BLEU-4 %.12f", r.bleu[3]);

    /* bad input is a usage error, not a crash */
    CHECK(mmc_bleu_corpus(corpus, 0, &r, &err) == MMC_ERR_USAGE, "n = 0 accepted");
    mmc_caption_item norefs = {S("a"), NULL, 0};
    CHECK(mmc_bleu_corpus(&norefs, 1, &r, &err) == MMC_ERR_USAGE, "no references accepted");
    CHECK(strstr(err.msg, "item 0") != NULL, "message does not name the item: %s", err.msg);
    mmc_token_seq badref[] = {{NULL, 3}};
    mmc_caption_item bad = {S("a"), badref, 1};
    CHECK(mmc_bleu_corpus(&bad, 1, &r, &err) == MMC_ERR_USAGE, "NULL ids accepted");
}

TEST(bleu_brevity_penalty) {
    reset_words();
    mmc_error err = {0};
    mmc_bleu_result r;

    /* Too short: "the cat" vs "the cat is on the mat". p1 = 2/2, p2 = 1/1, but c = 2 < r = 6:
     * BP = exp(1 - 6/2) = exp(-2), so BLEU-1 = BLEU-2 = exp(-2); BLEU-3 = 0 (no trigram). */
    mmc_token_seq ref1[] = {S("the cat is on the mat")};
    mmc_caption_item shortie = {S("the cat"), ref1, 1};
    REQUIRE(mmc_bleu_corpus(&shortie, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(r.brevity_penalty, exp(-2.0), 1e-15), "BP %.15f, want exp(-2)", r.brevity_penalty);
    CHECK(near(r.bleu[0], exp(-2.0), 1e-15) && near(r.bleu[1], exp(-2.0), 1e-15), "BLEU-1/2 %g %g", r.bleu[0],
          r.bleu[1]);
    CHECK(r.bleu[2] == 0.0, "BLEU-3 %g", r.bleu[2]);

    /* Longer than the reference: no penalty (precision already pays for extra words). */
    mmc_token_seq ref2[] = {S("the cat")};
    mmc_caption_item longer = {S("the cat is on the mat"), ref2, 1};
    REQUIRE(mmc_bleu_corpus(&longer, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.brevity_penalty == 1.0, "BP %g for a long hypothesis", r.brevity_penalty);
    CHECK(near(r.bleu[0], 2.0 / 6.0, 1e-12), "BLEU-1 %g, want 2/6", r.bleu[0]);

    /* Tie rule: hypothesis of 4 tokens, references of 3 and 5 are equally close; the shorter
     * (3) counts, as in coco-caption and NLTK, so c = 4 >= r = 3 and BP = 1. (Taking the
     * longer would give exp(1 - 5/4) = 0.7788.) The reference order must not matter. */
    mmc_token_seq tie_a[] = {S("a b c d e"), S("a b c")};
    mmc_token_seq tie_b[] = {S("a b c"), S("a b c d e")};
    mmc_caption_item t1 = {S("a b c d"), tie_a, 2}, t2 = {S("a b c d"), tie_b, 2};
    REQUIRE(mmc_bleu_corpus(&t1, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.ref_len == 3 && r.brevity_penalty == 1.0, "tie: r = %lld, BP %g (want 3, 1)", (long long)r.ref_len,
          r.brevity_penalty);
    REQUIRE(mmc_bleu_corpus(&t2, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.ref_len == 3, "tie, references swapped: r = %lld", (long long)r.ref_len);
    /* closest, not shortest: a 4-token hypothesis against 1- and 5-token references uses 5 */
    mmc_token_seq far_short[] = {S("a"), S("a b c d e")};
    mmc_caption_item t3 = {S("a b c d"), far_short, 2};
    REQUIRE(mmc_bleu_corpus(&t3, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.ref_len == 5 && near(r.brevity_penalty, exp(1.0 - 5.0 / 4.0), 1e-15), "closest: r %lld BP %g",
          (long long)r.ref_len, r.brevity_penalty);

    /* The corpus penalty uses summed lengths: one hypothesis 2 tokens too long ("a b c d e f"
     * vs "a b c d") and one 2 too short ("g h" vs "g h i j") make c = r = 8, BP = 1, although
     * the short one alone has BP = exp(1 - 4/2) = exp(-1). */
    mmc_token_seq r3[] = {S("a b c d")}, r4[] = {S("g h i j")};
    mmc_caption_item two[2] = {{S("a b c d e f"), r3, 1}, {S("g h"), r4, 1}};
    REQUIRE(mmc_bleu_corpus(two, 2, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.hyp_len == 8 && r.ref_len == 8 && r.brevity_penalty == 1.0, "corpus BP %g", r.brevity_penalty);
    REQUIRE(mmc_bleu_sentence(&two[1], 0, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(r.brevity_penalty, exp(-1.0), 1e-15), "sentence BP %g, want exp(-1)", r.brevity_penalty);

    /* An empty hypothesis says nothing: BP 0, every BLEU 0 (and no division by zero). */
    mmc_caption_item empty = {{NULL, 0}, ref1, 1};
    REQUIRE(mmc_bleu_corpus(&empty, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.brevity_penalty == 0.0 && r.bleu[0] == 0.0 && r.bleu[3] == 0.0, "empty: BP %g BLEU-1 %g",
          r.brevity_penalty, r.bleu[0]);
}

TEST(bleu_multi_reference) {
    reset_words();
    mmc_error err = {0};
    mmc_bleu_result r;

    /* Clipping takes each n-gram's largest count in any single reference: hypothesis
     * "the the cat", references "the cat" and "the the dog". "the" is clipped at
     * max(1, 2) = 2 and "cat" at 1: p1 = 3/3 (with only the first reference it would be 2/3).
     * Bigrams "the the" (second reference) and "the cat" (first) both match: p2 = 2/2. The
     * trigram matches neither: p3 = 0/1. Lengths 2 and 3 vs c = 3: r = 3, BP = 1. */
    mmc_token_seq both[] = {S("the cat"), S("the the dog")};
    mmc_caption_item it = {S("the the cat"), both, 2};
    REQUIRE(mmc_bleu_corpus(&it, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.matched[0] == 3 && r.matched[1] == 2 && r.matched[2] == 0, "matches %lld %lld %lld, want 3 2 0",
          (long long)r.matched[0], (long long)r.matched[1], (long long)r.matched[2]);
    CHECK(r.bleu[0] == 1.0 && r.bleu[1] == 1.0 && r.bleu[2] == 0.0, "BLEU %g %g %g", r.bleu[0], r.bleu[1],
          r.bleu[2]);
    mmc_caption_item first_only = {it.hyp, both, 1};
    REQUIRE(mmc_bleu_corpus(&first_only, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.matched[0] == 2 && r.matched[1] == 1, "one reference: %lld %lld, want 2 1", (long long)r.matched[0],
          (long long)r.matched[1]);

    /* Counts are not pooled across references: "the" twice in the hypothesis against two
     * references with one "the" each is still clipped at 1. */
    mmc_token_seq ones[] = {S("the cat"), S("the dog")};
    mmc_caption_item it2 = {S("the the"), ones, 2};
    REQUIRE(mmc_bleu_corpus(&it2, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.matched[0] == 1, "pooled clipping: %lld, want 1", (long long)r.matched[0]);

    /* Chinese, character by character, through the CHAR tokenizer: "一个红色的圆形" vs the
     * references "一个红色的方形" and "红色的圆形". Characters 一 个 红 色 的 圆 形 (7);
     * unigrams all match (圆 from the second reference): 7/7; bigrams: 一个 个红 红色 色的
     * 的圆 圆形 all occur in one reference or the other: 6/6; trigrams: 一个红 个红色 红色的
     * (first) 色的圆 的圆形 (second) -> 5/5; 4-grams: 一个红色 个红色的 (first) 红色的圆
     * 色的圆形 (second) -> 4/4. Closest reference length 7 (vs 5): BP 1, BLEU-4 = 1. */
    const char *texts[] = {"一个红色的方形", "红色的圆形", "一个红色的圆形"};
    mmc_tokenizer *tok = mmc_tokenizer_build_char(texts, 3, 1, 0, &err);
    REQUIRE(tok, "%s", err.msg);
    int32_t *ids[3] = {0};
    int n[3] = {0};
    for (int i = 0; i < 3; i++)
        REQUIRE(mmc_tokenizer_encode(tok, texts[i], (size_t)-1, 0, 0, &ids[i], &n[i], &err) == MMC_OK, "%s",
                err.msg);
    CHECK(n[0] == 7 && n[1] == 5 && n[2] == 7, "character counts %d %d %d", n[0], n[1], n[2]);
    mmc_token_seq zr[] = {{ids[0], n[0]}, {ids[1], n[1]}};
    mmc_caption_item zh = {{ids[2], n[2]}, zr, 2};
    CHECK(mmc_bleu_corpus(&zh, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.bleu[3] == 1.0, "Chinese BLEU-4 %g, want 1", r.bleu[3]);
    /* with the first reference only, 圆 and the n-grams through it are lost: p1 = 6/7,
     * p2 = 4/6, p3 = 3/5, p4 = 2/4 */
    zh.n_refs = 1;
    CHECK(mmc_bleu_corpus(&zh, 1, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(r.bleu[3], pow(6.0 / 7 * 4.0 / 6 * 3.0 / 5 * 2.0 / 4, 0.25), 1e-12), "Chinese, one reference: %g",
          r.bleu[3]);
    for (int i = 0; i < 3; i++) mmc_free(ids[i]);
    mmc_tokenizer_free(tok);
}

TEST(cider_d_hand_worked) {
    reset_words();
    mmc_error err = {0};
    /* Three items, N = 3, so idf(g) = log 3 - log df(g):
     *   1: "a red circle"     refs "a red circle", "a big red circle"
     *   2: "a blue square"    refs "a small blue square"
     *   3: "two green stars"  refs "three green stars", "green stars"
     * Item 2 by hand. df("a") = 2 (items 1 and 2), every other n-gram of item 2 has df 1
     * (or 0 for "a blue", which no reference has: log max(1, 0) = 0), so
     *   unigrams  hyp a: log 3/2 = 0.405465, blue: log 3, square: log 3
     *             ref a: 0.405465, small, blue, square: log 3 = 1.098612 each
     *             sum min(h,r) r = 0.405465^2 + 2 (log 3)^2 = 2.578300
     *             |h| = sqrt(2.578300) = 1.605708, |r| = sqrt(0.164402 + 3 * 1.206949) = 1.945572
     *             -> 2.578300 / (1.605708 * 1.945572) = 0.825314
     *   bigrams   hyp "a blue", "blue square"; ref "a small", "small blue", "blue square";
     *             all weigh log 3: one shared -> 1 / (sqrt 2 sqrt 3) = 0.408248
     *   trigrams  "a blue square" is not in the reference -> 0
     *   4-grams   the hypothesis has none: norm 0 -> 0
     *   length    2 bigrams vs 3: exp(-1/72) = 0.986207
     *   score     10 * (0.825314 + 0.408248 + 0 + 0) / 4 * 0.986207 / 1 ref = 3.041371
     * Items 1 and 3 and the mean from tools/caption_metrics_reference.py. */
    mmc_token_seq r1[] = {S("a red circle"), S("a big red circle")};
    mmc_token_seq r2[] = {S("a small blue square")};
    mmc_token_seq r3[] = {S("three green stars"), S("green stars")};
    mmc_caption_item items[3] = {
        {S("a red circle"), r1, 2}, {S("a blue square"), r2, 1}, {S("two green stars"), r3, 2}};
    double mean = -1, per[3] = {-1, -1, -1};
    REQUIRE(mmc_cider_d(items, 3, &mean, per, &err) == MMC_OK, "%s", err.msg);
    const double want[3] = {5.270685553281, 3.041371106563, 3.336568931848};
    for (int i = 0; i < 3; i++) CHECK(near(per[i], want[i], 1e-9), "item %d: %.12f, want %.12f", i, per[i], want[i]);
    CHECK(near(mean, 3.882875197231, 1e-9), "mean %.12f, want 3.882875197231", mean);

    /* The idf comes from the items scored together: one item alone has log N = log 1 = 0,
     * every weight is 0, and even a perfect caption scores 0 (coco-caption does the same). */
    mmc_caption_item lone = {S("a red circle"), r1, 1};
    REQUIRE(mmc_cider_d(&lone, 1, &mean, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(mean == 0.0, "a lone item scored %g", mean);

    /* An empty hypothesis scores 0, without NaN. */
    mmc_caption_item with_empty[2] = {{{NULL, 0}, r1, 2}, items[1]};
    REQUIRE(mmc_cider_d(with_empty, 2, &mean, per, &err) == MMC_OK, "%s", err.msg);
    CHECK(per[0] == 0.0 && isfinite(per[1]), "empty hypothesis: %g, other %g", per[0], per[1]);

    CHECK(mmc_cider_d(items, 0, &mean, NULL, &err) == MMC_ERR_USAGE, "n = 0 accepted");
}

TEST(cider_d_identical_is_high) {
    reset_words();
    mmc_error err = {0};
    /* A hypothesis equal to its only reference has cosine 1 in every order it has n-grams of,
     * and no length penalty, so it scores 10 * (orders present) / 4: 10 for a sentence of 4+
     * tokens, 7.5 for 3 tokens (no 4-gram: that order's norm is 0). */
    mmc_token_seq r1[] = {S("a red circle left of a blue square")};
    mmc_token_seq r2[] = {S("a green star above a small triangle")};
    mmc_token_seq r3[] = {S("two yellow circles")};
    mmc_caption_item items[3] = {{r1[0], r1, 1}, {r2[0], r2, 1}, {r3[0], r3, 1}};
    double mean, per[3];
    REQUIRE(mmc_cider_d(items, 3, &mean, per, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(per[0], 10.0, 1e-9) && near(per[1], 10.0, 1e-9), "identical: %.12f %.12f, want 10", per[0], per[1]);
    CHECK(near(per[2], 7.5, 1e-9), "identical 3-token caption: %.12f, want 7.5", per[2]);
    CHECK(near(mean, 27.5 / 3, 1e-9), "mean %.12f", mean);

    /* Anything else scores lower: a caption with one word changed, and one repeating a
     * correct phrase (CIDEr-D's clipping: the repeat earns nothing, the length costs). */
    mmc_caption_item worse[3] = {{S("a red circle left of a green square"), r1, 1}, items[1], items[2]};
    double m2, per2[3];
    REQUIRE(mmc_cider_d(worse, 3, &m2, per2, &err) == MMC_OK, "%s", err.msg);
    CHECK(per2[0] < per[0] && per2[0] > 0, "one word off: %.6f vs %.6f", per2[0], per[0]);
    worse[0].hyp = S("a red circle a red circle left of a blue square");
    REQUIRE(mmc_cider_d(worse, 3, &m2, per2, &err) == MMC_OK, "%s", err.msg);
    CHECK(per2[0] < per[0], "repeated phrase: %.6f vs %.6f", per2[0], per[0]);

    /* exact match on the same data: 3 of 3, then 2 of 3 */
    double rate = -1;
    REQUIRE(mmc_exact_match(items, 3, &rate, &err) == MMC_OK, "%s", err.msg);
    CHECK(rate == 1.0, "exact match %g", rate);
    REQUIRE(mmc_exact_match(worse, 3, &rate, &err) == MMC_OK, "%s", err.msg);
    CHECK(near(rate, 2.0 / 3.0, 1e-15), "exact match %g, want 2/3", rate);
    /* any reference will do; a prefix is not a match */
    mmc_token_seq two_refs[] = {S("a blue square"), S("a red circle")};
    mmc_caption_item em[2] = {{S("a red circle"), two_refs, 2}, {S("a red"), two_refs, 2}};
    REQUIRE(mmc_exact_match(em, 2, &rate, &err) == MMC_OK, "%s", err.msg);
    CHECK(rate == 0.5, "exact match %g, want 0.5", rate);
}

TEST(cider_d_length_penalty) {
    reset_words();
    mmc_error err = {0};
    /* The same 8-token reference; the hypothesis is that reference plus 0, 3 or 6 more tokens
     * ("and a star" repeated). All n-grams of the reference stay matched, so the loss comes
     * from the larger norms and from the Gaussian exp(-d^2 / 72) on the bigram-count
     * difference d = 0, 3, 6 (factor 1, 0.8825, 0.6065). Values from the Python reference. */
    mmc_token_seq base[] = {S("a red circle left of a blue square")};
    mmc_token_seq o1[] = {S("three green stars")}, o2[] = {S("a small triangle")};
    const char *hyps[3] = {"a red circle left of a blue square",
                           "a red circle left of a blue square and a star",
                           "a red circle left of a blue square and a star and a star"};
    const double want[3] = {10.0, 7.249676851155, 3.952395360407};
    double prev = INFINITY;
    for (int i = 0; i < 3; i++) {
        mmc_caption_item items[3] = {{S(hyps[i]), base, 1}, {S("two green stars"), o1, 1}, {S("a big triangle"), o2, 1}};
        double mean, per[3];
        REQUIRE(mmc_cider_d(items, 3, &mean, per, &err) == MMC_OK, "%s", err.msg);
        CHECK(near(per[0], want[i], 1e-9), "+%d tokens: %.12f, want %.12f", 3 * i, per[0], want[i]);
        CHECK(per[0] < prev, "score did not fall with length");
        prev = per[0];
    }

    /* The penalty is symmetric: a hypothesis shorter than its reference by d bigrams loses
     * exactly what one longer by d loses, and the factor is exp(-d^2 / 72). */
    mmc_token_seq long_ref[] = {S("p q r s t u v w")}, short_ref[] = {S("p q r s")};
    mmc_token_seq filler[] = {S("k l m")};
    mmc_caption_item a[2] = {{S("p q r s"), long_ref, 1}, {S("k l m"), filler, 1}};
    mmc_caption_item b[2] = {{S("p q r s t u v w"), short_ref, 1}, {S("k l m"), filler, 1}};
    double pa[2], pb[2], m;
    REQUIRE(mmc_cider_d(a, 2, &m, pa, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_cider_d(b, 2, &m, pb, &err) == MMC_OK, "%s", err.msg);
    /* In a every n-gram has df 1: weight log 2 each. Hypothesis "p q r s" against the 8-token
     * reference: per order k the hypothesis has 5-k n-grams all in the reference (9-k), so the
     * cosine is sqrt((5-k)/(9-k)): sqrt(4/8), sqrt(3/7), sqrt(2/6), sqrt(1/5); d = 3 - 7 = -4.
     * b is the mirror image (hypothesis 8 tokens, reference 4): the same cosines, d = +4. */
    double cos_sum = sqrt(4.0 / 8) + sqrt(3.0 / 7) + sqrt(2.0 / 6) + sqrt(1.0 / 5);
    double want_ab = 10.0 * cos_sum / 4.0 * exp(-16.0 / 72.0);
    CHECK(near(pa[0], want_ab, 1e-9), "shorter by 4 bigrams: %.12f, want %.12f", pa[0], want_ab);
    CHECK(near(pb[0], want_ab, 1e-9), "longer by 4 bigrams: %.12f, want %.12f", pb[0], want_ab);
}
