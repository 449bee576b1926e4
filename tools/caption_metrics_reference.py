#!/usr/bin/env python3
"""Expected numbers for tests/test_caption_metrics.c, computed independently of the C code.

Plain Python (no numpy, no nltk: neither is a dependency), written from the conventions of
coco-caption (pycocoevalcap) and NLTK, not copied from them:

BLEU (coco-caption Bleu / NLTK corpus_bleu): clipped n-gram matches and hypothesis n-gram
counts summed over the corpus; c = summed hypothesis lengths, r = summed closest reference
lengths (shorter on a tie); BP = 1 if c >= r else exp(1 - r/c); BLEU-n = BP * geometric
mean of p_1..p_n, 0 if any p_k is 0 (no smoothing).

CIDEr-D (coco-caption CiderScorer): tf = raw n-gram count, idf = log(N) - log(max(1, df)),
df = number of items whose reference set contains the n-gram; per order
sum(min(h, r) * r) / (|h| |r|) (0 if a norm is 0) * exp(-(lh - lr)^2 / 72), l = number of
bigrams; item = 10 * mean over orders of sum over refs / n_refs.

Run: python3 tools/caption_metrics_reference.py   (prints the numbers pasted in the tests)
"""
import math
from collections import Counter


def ngrams(words, n_max=4):
    c = Counter()
    for k in range(1, n_max + 1):
        for i in range(len(words) - k + 1):
            c[tuple(words[i:i + k])] += 1
    return c


def bleu(items, smooth=False):
    """items: [(hyp_words, [ref_words, ...])] -> (bleu[4], matched[4], total[4], c, r, bp)"""
    matched, total = [0] * 4, [0] * 4
    c = r = 0
    for hyp, refs in items:
        h = ngrams(hyp)
        best = Counter()
        for ref in refs:
            for g, n in ngrams(ref).items():
                best[g] = max(best[g], n)
        for g, n in h.items():
            matched[len(g) - 1] += min(n, best[g])
        for k in range(4):
            total[k] += max(len(hyp) - k, 0)
        c += len(hyp)
        r += min((abs(len(x) - len(hyp)), len(x)) for x in refs)[1]
    bp = 1.0 if c >= r else (math.exp(1 - r / c) if c > 0 else 0.0)
    out, logs = [], 0.0
    zero = False
    for k in range(4):
        m, t = matched[k], total[k]
        if smooth and k > 0:
            m, t = m + 1, t + 1
        p = m / t if t else 0.0
        if p == 0:
            zero = True
        else:
            logs += math.log(p)
        out.append(0.0 if zero else bp * math.exp(logs / (k + 1)))
    return out, matched, total, c, r, bp


def cider_d(items, sigma=6.0):
    """items: [(hyp_words, [ref_words, ...])] -> (mean, [per item])"""
    N = len(items)
    df = Counter()
    for _, refs in items:
        seen = set()
        for ref in refs:
            seen.update(ngrams(ref).keys())
        for g in seen:
            df[g] += 1
    log_n = math.log(N)

    def vec(words):
        v, norm, length = {}, [0.0] * 4, 0
        for g, tf in ngrams(words).items():
            v[g] = tf * (log_n - math.log(max(1.0, df[g])))
            norm[len(g) - 1] += v[g] ** 2
            if len(g) == 2:
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    scores = []
    for hyp, refs in items:
        vh, nh, lh = vec(hyp)
        acc = [0.0] * 4
        for ref in refs:
            vr, nr, lr = vec(ref)
            val = [0.0] * 4
            for g, x in vh.items():
                val[len(g) - 1] += min(x, vr.get(g, 0.0)) * vr.get(g, 0.0)
            pen = math.exp(-((lh - lr) ** 2) / (2 * sigma ** 2))
            for k in range(4):
                d = nh[k] * nr[k]
                acc[k] += (val[k] / d if d != 0 else 0.0) * pen
        scores.append(10.0 * (sum(acc) / 4) / len(refs))
    return sum(scores) / N, scores


def w(s):
    return s.split()


if __name__ == "__main__":
    # --- the CIDEr-D cases of test_caption_metrics.c ---
    hand = [
        (w("a red circle"), [w("a red circle"), w("a big red circle")]),
        (w("a blue square"), [w("a small blue square")]),
        (w("two green stars"), [w("three green stars"), w("green stars")]),
    ]
    mean, per = cider_d(hand)
    print("cider_d_hand_worked: mean %.12f per item %s" % (mean, ["%.12f" % x for x in per]))
    # item 2 in detail (explained in the test's comment)
    N = 3
    print("  log N = %.12f, log 2 = %.12f" % (math.log(N), math.log(2)))

    ident = [
        (w("a red circle left of a blue square"), [w("a red circle left of a blue square")]),
        (w("a green star above a small triangle"), [w("a green star above a small triangle")]),
        (w("two yellow circles"), [w("two yellow circles")]),
    ]
    mean, per = cider_d(ident)
    print("cider_d_identical_is_high: mean %.12f per item %s" % (mean, ["%.12f" % x for x in per]))

    base = w("a red circle left of a blue square")
    for extra in (0, 3, 6):
        hyp = base + w("and a star") * (extra // 3)
        lp = [(hyp, [base]), (w("two green stars"), [w("three green stars")]),
              (w("a big triangle"), [w("a small triangle")])]
        mean, per = cider_d(lp)
        print("cider_d_length_penalty extra %d: item0 %.12f" % (len(hyp) - len(base), per[0]))

    # --- BLEU cases ---
    print("bleu classic:", bleu([(w("the the the the the the the"), [w("the cat is on the mat")])]))
    print("bleu classic 2 refs:", bleu([(w("the the the the the the the"),
                                          [w("the cat is on the mat"), w("there is a cat on the mat")])]))
    corpus = [
        (w("the cat sat on the mat"), [w("the cat sat on the mat today"), w("a cat sat on a mat")]),
        (w("a dog runs"), [w("a dog runs in the park"), w("the dog is running")]),
    ]
    print("bleu corpus:", bleu(corpus))
    for it in corpus:
        print("bleu sentence:", bleu([it]), "smoothed:", bleu([it], smooth=True)[0])
