/* shapes_text.c — what is said about a shapes scene: captions in English and Chinese,
 * question–answer pairs, the label.
 *
 * Captions. The first one is the scene's fingerprint: every object with size, colour and
 * shape, left to right, each related to the next ("a large red circle to the left of a
 * small blue triangle, which is above a small green star"); a lone object gets its place
 * in a 3x3 grid ("in the top left corner"). The others vary the wording: a list, the chain
 * read right to left, colours and shapes only, each object's place.
 *
 * Questions. Five types; a blind model must not score by guessing, so
 *   - every yes/no question is built from a fair coin: "yes" asks about the truth, "no"
 *     about a changed attribute drawn like a true one, so the question text is equally
 *     likely either way;
 *   - open answers follow the scene's attributes, which are uniform (colour 1/8, shape 1/6,
 *     count 1/4, relations by symmetry);
 *   - an object is referred to without the attribute being asked ("what colour is the
 *     large circle?"), by the fewest words that single it out. */
#include "shapes_internal.h"
#include <stdarg.h>
#include <string.h>

static const char *SIZE_EN[] = {"small", "large"};
static const char *SIZE_ZH[] = {"小", "大"};
static const char *REL_EN[] = {"to the left of", "to the right of", "above", "below"};
static const char *REL_ZH[] = {"左边", "右边", "上面", "下面"};
static const char *REL_ANSWER[] = {"left", "right", "above", "below"};
static const char *REGION_EN[] = {"in the top left corner", "at the top", "in the top right corner",
                                  "on the left", "in the middle", "on the right",
                                  "in the bottom left corner", "at the bottom", "in the bottom right corner"};
static const char *REGION_ZH[] = {"左上角", "上方", "右上角", "左边", "中间", "右边", "左下角", "下方", "右下角"};
static const char *REGION_ANSWER[] = {"top left", "top", "top right", "left", "center",
                                      "right", "bottom left", "bottom", "bottom right"};
static const char *COUNT_EN[] = {"zero", "one", "two", "three", "four"};
static const char *COUNT_ZH[] = {"零", "一", "两", "三", "四"};

/* "an orange", "a red": the article goes with the next word's sound (vowel letters suffice
 * for our words). */
static const char *article(const char *word) { return strchr("aeiou", word[0]) ? "an" : "a"; }

#define SHAPE(o) mmc_shapes_shape_name((o)->shape)
#define COLOUR(o) mmc_shapes_colour_name((o)->colour)
#define SHAPE_ZH(o) mmc_shapes_shape_name_zh((o)->shape)
#define COLOUR_ZH(o) mmc_shapes_colour_name_zh((o)->colour)

/* ------------------------------------------------------------ string builder */

void shapes_sb_add(sb *b, const char *fmt, ...) {
    if (b->n >= sizeof b->s - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (w > 0) b->n = b->n + (size_t)w < sizeof b->s ? b->n + (size_t)w : sizeof b->s - 1;
}

char *shapes_sb_dup(const sb *b) {
    char *d = mmc_malloc(b->n + 1);
    if (d) memcpy(d, b->s, b->n + 1);
    return d;
}

/* "a large red circle" / "一个大的红色圆形"; "the red circle" / "红色圆形" once introduced. */
static void phrase_en(sb *b, const mmc_shape_obj *o) { shapes_sb_add(b, "a %s %s %s", SIZE_EN[o->large], COLOUR(o), SHAPE(o)); }
static void phrase_zh(sb *b, const mmc_shape_obj *o) { shapes_sb_add(b, "一个%s的%s%s", SIZE_ZH[o->large], COLOUR_ZH(o), SHAPE_ZH(o)); }

/* ----------------------------------------------------------------- captions */

/* The fingerprint caption, or read from the right when reverse. */
static void chain_en(sb *b, const mmc_shapes_scene *sc, int reverse) {
    for (int k = 0; k < sc->n; k++) {
        int i = reverse ? sc->n - 1 - k : k, prev = reverse ? i + 1 : i - 1;
        if (k == 0) { phrase_en(b, &sc->obj[i]); continue; }
        shapes_sb_add(b, "%s %s ", k >= 2 ? ", which is" : "", REL_EN[shapes_relation(&sc->obj[prev], &sc->obj[i])]);
        phrase_en(b, &sc->obj[i]);
    }
}

static void chain_zh(sb *b, const mmc_shapes_scene *sc, int reverse) {
    for (int k = 1; k < sc->n; k++) {
        int i = reverse ? sc->n - 1 - k : k, prev = reverse ? i + 1 : i - 1;
        const mmc_shape_obj *p = &sc->obj[prev];
        if (k == 1) phrase_zh(b, p);
        else shapes_sb_add(b, "，%s%s", COLOUR_ZH(p), SHAPE_ZH(p));
        shapes_sb_add(b, "在");
        phrase_zh(b, &sc->obj[i]);
        shapes_sb_add(b, "的%s", REL_ZH[shapes_relation(p, &sc->obj[i])]);
    }
}

static void caption_fingerprint(const mmc_shapes_scene *sc, sb *en, sb *zh) {
    if (sc->n == 1) {
        int r = shapes_region(&sc->obj[0], sc->size);
        phrase_en(en, &sc->obj[0]);
        shapes_sb_add(en, " %s", REGION_EN[r]);
        phrase_zh(zh, &sc->obj[0]);
        shapes_sb_add(zh, "在图片的%s", REGION_ZH[r]);
        return;
    }
    chain_en(en, sc, 0);
    chain_zh(zh, sc, 0);
}

static void caption_reverse(const mmc_shapes_scene *sc, sb *en, sb *zh) {
    if (sc->n == 1) {
        int r = shapes_region(&sc->obj[0], sc->size);
        shapes_sb_add(en, "there is ");
        phrase_en(en, &sc->obj[0]);
        shapes_sb_add(en, " %s", REGION_EN[r]);
        shapes_sb_add(zh, "图片的%s有", REGION_ZH[r]);
        phrase_zh(zh, &sc->obj[0]);
        return;
    }
    chain_en(en, sc, 1);
    chain_zh(zh, sc, 1);
}

/* English "x, y and z" / Chinese "x、y和z" separators before item k of n. */
static const char *sep_en(int k, int n) { return k == 0 ? "" : k == n - 1 ? " and " : ", "; }
static const char *sep_zh(int k, int n) { return k == 0 ? "" : k == n - 1 ? "和" : "、"; }

static void caption_list(const mmc_shapes_scene *sc, const int *order, mmc_rng *rng, sb *en, sb *zh) {
    int v = (int)mmc_rng_below(rng, 3), n = sc->n;
    static const char *one_en[] = {"there is one shape: ", "a single shape: ", "a picture of one shape: "};
    static const char *many_en[] = {"there are %s shapes: ", "%s shapes: ", "a picture of %s shapes: "};
    static const char *one_zh[] = {"图中只有一个图形：", "画面里只有一个图形：", "一张只有一个图形的图片："};
    static const char *many_zh[] = {"图中有%s个图形：", "画面里有%s个图形：", "一张有%s个图形的图片："};
    if (n == 1) shapes_sb_add(en, "%s", one_en[v]), shapes_sb_add(zh, "%s", one_zh[v]);
    else shapes_sb_add(en, many_en[v], COUNT_EN[n]), shapes_sb_add(zh, many_zh[v], COUNT_ZH[n]);
    for (int k = 0; k < n; k++) {
        shapes_sb_add(en, "%s", sep_en(k, n));
        phrase_en(en, &sc->obj[order[k]]);
        shapes_sb_add(zh, "%s", sep_zh(k, n));
        phrase_zh(zh, &sc->obj[order[k]]);
    }
}

static void caption_short(const mmc_shapes_scene *sc, const int *order, sb *en, sb *zh) {
    for (int k = 0; k < sc->n; k++) {
        const mmc_shape_obj *o = &sc->obj[order[k]];
        shapes_sb_add(en, "%s%s %s %s", sep_en(k, sc->n), article(COLOUR(o)), COLOUR(o), SHAPE(o));
        shapes_sb_add(zh, "%s%s%s%s", sep_zh(k, sc->n), sc->n == 1 ? "一个" : "", COLOUR_ZH(o), SHAPE_ZH(o));
    }
}

static void caption_places(const mmc_shapes_scene *sc, const int *order, sb *en, sb *zh) {
    if (sc->n == 1) {
        phrase_en(en, &sc->obj[0]);
        shapes_sb_add(en, " on a dark background");
        shapes_sb_add(zh, "深色背景上的");
        phrase_zh(zh, &sc->obj[0]);
        return;
    }
    for (int k = 0; k < sc->n; k++) {
        const mmc_shape_obj *o = &sc->obj[order[k]];
        int r = shapes_region(o, sc->size);
        shapes_sb_add(en, "%s", sep_en(k, sc->n));
        phrase_en(en, o);
        shapes_sb_add(en, " %s", REGION_EN[r]);
        shapes_sb_add(zh, "%s%s有", k ? "，" : "", REGION_ZH[r]);
        phrase_zh(zh, o);
    }
}

#define N_CAPTIONS 5

static int make_captions(const mmc_shapes_scene *sc, mmc_rng *rng, mmc_sample *out) {
    out->captions = mmc_calloc(N_CAPTIONS, sizeof(char *));
    out->captions_zh = mmc_calloc(N_CAPTIONS, sizeof(char *));
    if (!out->captions || !out->captions_zh) return MMC_ERR_RUNTIME;
    int order[MMC_SHAPES_MAX_OBJECTS];
    for (int c = 0; c < N_CAPTIONS; c++) {
        sb en = {.n = 0}, zh = {.n = 0};
        mmc_rng_permutation(rng, order, sc->n);
        switch (c) {
        case 0: caption_fingerprint(sc, &en, &zh); break;
        case 1: caption_list(sc, order, rng, &en, &zh); break;
        case 2: caption_reverse(sc, &en, &zh); break;
        case 3: caption_short(sc, order, &en, &zh); break;
        default: caption_places(sc, order, &en, &zh); break;
        }
        if (!(out->captions[c] = shapes_sb_dup(&en)) || !(out->captions_zh[c] = shapes_sb_dup(&zh))) return MMC_ERR_RUNTIME;
        out->n_captions = out->n_captions_zh = c + 1;
    }
    return MMC_OK;
}

/* ---------------------------------------------------------------- questions */

#define MAX_QA 12

typedef struct qa_ctx {
    const mmc_shapes_scene *sc;
    mmc_rng *rng;
    mmc_sample *out;
    int oom;
} qa_ctx;

static void add_qa(qa_ctx *q, const char *type, const sb *question, const char *answer) {
    if (q->out->n_qa >= MAX_QA) return;
    mmc_qa *d = &q->out->qa[q->out->n_qa];
    size_t tl = strlen(type) + 1, al = strlen(answer) + 1;
    d->question = shapes_sb_dup(question);
    d->answer = mmc_malloc(al);
    d->type = mmc_malloc(tl);
    q->out->n_qa++; /* counted even when incomplete, so mmc_sample_free frees what exists */
    if (!d->question || !d->answer || !d->type) { q->oom = 1; return; }
    memcpy(d->answer, answer, al);
    memcpy(d->type, type, tl);
}

static int coin(qa_ctx *q) { return mmc_rng_bernoulli(q->rng, 0.5f); }

/* A value in [0, n) other than not. */
static int other_than(mmc_rng *rng, int n, int not) {
    int v = (int)mmc_rng_below(rng, (uint32_t)n - 1);
    return v >= not ? v + 1 : v;
}

/* How many objects share object i's attributes selected by mask (1 shape, 2 colour, 4 size). */
static int matches(const mmc_shapes_scene *sc, int i, int mask) {
    int m = 0;
    for (int j = 0; j < sc->n; j++) {
        const mmc_shape_obj *a = &sc->obj[i], *b = &sc->obj[j];
        m += (!(mask & 1) || a->shape == b->shape) && (!(mask & 2) || a->colour == b->colour) &&
             (!(mask & 4) || a->large == b->large);
    }
    return m;
}

/* "the circle" / "the large circle" (no colour) or "the red object" / "the large red
 * object" (no shape): the fewest words that single out object i; 0 if none does. */
static int refer_without(const mmc_shapes_scene *sc, int i, int without_colour, sb *b) {
    const mmc_shape_obj *o = &sc->obj[i];
    int base = without_colour ? 1 : 2;
    const char *noun = without_colour ? SHAPE(o) : "object";
    const char *adj = without_colour ? "" : COLOUR(o);
    const char *gap = without_colour ? "" : " ";
    if (matches(sc, i, base) == 1) return shapes_sb_add(b, "the %s%s%s", adj, gap, noun), 1;
    if (matches(sc, i, base | 4) == 1) return shapes_sb_add(b, "the %s %s%s%s", SIZE_EN[o->large], adj, gap, noun), 1;
    return 0;
}

/* A random object that refer_without can name; -1 if none. */
static int pick_referable(qa_ctx *q, int without_colour) {
    int start = (int)mmc_rng_below(q->rng, (uint32_t)q->sc->n);
    for (int k = 0; k < q->sc->n; k++) {
        int i = (start + k) % q->sc->n;
        sb tmp = {.n = 0};
        if (refer_without(q->sc, i, without_colour, &tmp)) return i;
    }
    return -1;
}

static void ask_colour(qa_ctx *q) {
    int i = pick_referable(q, 1);
    if (i < 0) return;
    const mmc_shape_obj *o = &q->sc->obj[i];
    sb ref = {.n = 0}, s = {.n = 0};
    refer_without(q->sc, i, 1, &ref);
    shapes_sb_add(&s, "what colour is %s?", ref.s);
    add_qa(q, "colour", &s, COLOUR(o));
    int yes = coin(q), c = yes ? o->colour : other_than(q->rng, MMC_SHAPES_N_COLOURS, o->colour);
    s.n = 0;
    shapes_sb_add(&s, "is %s %s?", ref.s, mmc_shapes_colour_name(c));
    add_qa(q, "colour", &s, yes ? "yes" : "no");
}

static void ask_shape(qa_ctx *q) {
    int i = pick_referable(q, 0);
    if (i < 0) return;
    const mmc_shape_obj *o = &q->sc->obj[i];
    sb ref = {.n = 0}, s = {.n = 0};
    refer_without(q->sc, i, 0, &ref);
    shapes_sb_add(&s, "what shape is %s?", ref.s);
    add_qa(q, "shape", &s, SHAPE(o));
    int yes = coin(q), sh = yes ? o->shape : other_than(q->rng, MMC_SHAPES_N_SHAPES, o->shape);
    s.n = 0;
    shapes_sb_add(&s, "is %s %s %s?", ref.s, article(mmc_shapes_shape_name(sh)), mmc_shapes_shape_name(sh));
    add_qa(q, "shape", &s, yes ? "yes" : "no");
}

static void ask_count(qa_ctx *q) {
    static const char *open[] = {"how many objects are there?", "how many shapes are in the picture?",
                                 "how many shapes are there?"};
    sb s = {.n = 0};
    shapes_sb_add(&s, "%s", open[mmc_rng_below(q->rng, 3)]);
    char ans[8];
    snprintf(ans, sizeof ans, "%d", q->sc->n);
    add_qa(q, "count", &s, ans);
    int yes = coin(q), k = yes ? q->sc->n : 1 + other_than(q->rng, MMC_SHAPES_MAX_OBJECTS, q->sc->n - 1);
    s.n = 0;
    if (k == 1) shapes_sb_add(&s, "is there exactly one object?");
    else shapes_sb_add(&s, "are there exactly %s objects?", COUNT_EN[k]);
    add_qa(q, "count", &s, yes ? "yes" : "no");
}

static int present(const mmc_shapes_scene *sc, const mmc_shape_obj *t, int with_size) {
    for (int j = 0; j < sc->n; j++)
        if (sc->obj[j].shape == t->shape && sc->obj[j].colour == t->colour && (!with_size || sc->obj[j].large == t->large))
            return 1;
    return 0;
}

/* "is there a (large) red circle?": yes names a real object; no changes one of its
 * attributes until nothing in the scene matches — a near miss, so binding matters. */
static void ask_existence(qa_ctx *q, int with_size) {
    mmc_shape_obj t = q->sc->obj[mmc_rng_below(q->rng, (uint32_t)q->sc->n)];
    int yes = coin(q);
    while (!yes && present(q->sc, &t, with_size)) {
        int which = (int)mmc_rng_below(q->rng, with_size ? 3 : 2);
        if (which == 0) t.colour = other_than(q->rng, MMC_SHAPES_N_COLOURS, t.colour);
        else if (which == 1) t.shape = other_than(q->rng, MMC_SHAPES_N_SHAPES, t.shape);
        else t.large = !t.large;
    }
    sb s = {.n = 0};
    if (with_size) shapes_sb_add(&s, "is there a %s %s %s?", SIZE_EN[t.large], COLOUR(&t), SHAPE(&t));
    else shapes_sb_add(&s, "is there %s %s %s?", article(COLOUR(&t)), COLOUR(&t), SHAPE(&t));
    add_qa(q, "existence", &s, yes ? "yes" : "no");
}

static void ask_spatial_alone(qa_ctx *q) {
    const mmc_shape_obj *o = &q->sc->obj[0];
    int r = shapes_region(o, q->sc->size);
    sb s = {.n = 0};
    shapes_sb_add(&s, "where is the %s %s?", COLOUR(o), SHAPE(o));
    add_qa(q, "spatial", &s, REGION_ANSWER[r]);
    int yes = coin(q), asked = yes ? r : other_than(q->rng, 9, r);
    s.n = 0;
    shapes_sb_add(&s, "is the %s %s %s?", COLOUR(o), SHAPE(o), REGION_EN[asked]);
    add_qa(q, "spatial", &s, yes ? "yes" : "no");
}

/* A random ordered pair (a, b), a != b. */
static void pick_pair(qa_ctx *q, int *a, int *b) {
    *a = (int)mmc_rng_below(q->rng, (uint32_t)q->sc->n);
    *b = other_than(q->rng, q->sc->n, *a);
}

static void ask_spatial(qa_ctx *q) {
    if (q->sc->n == 1) { ask_spatial_alone(q); return; }
    int a, b;
    pick_pair(q, &a, &b);
    const mmc_shape_obj *A = &q->sc->obj[a], *B = &q->sc->obj[b];
    sb s = {.n = 0};
    shapes_sb_add(&s, "where is the %s %s relative to the %s %s?", COLOUR(A), SHAPE(A), COLOUR(B), SHAPE(B));
    add_qa(q, "spatial", &s, REL_ANSWER[shapes_relation(A, B)]);
    pick_pair(q, &a, &b);
    A = &q->sc->obj[a], B = &q->sc->obj[b];
    int yes = coin(q), rel = shapes_relation(A, B);
    s.n = 0; /* the opposite relation (left<->right, above<->below) is the clear "no" */
    shapes_sb_add(&s, "is the %s %s %s the %s %s?", COLOUR(A), SHAPE(A), REL_EN[yes ? rel : rel ^ 1], COLOUR(B), SHAPE(B));
    add_qa(q, "spatial", &s, yes ? "yes" : "no");
}

static int make_qa(const mmc_shapes_scene *sc, mmc_rng *rng, mmc_sample *out) {
    out->qa = mmc_calloc(MAX_QA, sizeof(mmc_qa));
    if (!out->qa) return MMC_ERR_RUNTIME;
    qa_ctx q = {sc, rng, out, 0};
    ask_colour(&q);
    ask_shape(&q);
    ask_count(&q);
    ask_existence(&q, 1);
    ask_existence(&q, 0);
    ask_spatial(&q);
    return q.oom ? MMC_ERR_RUNTIME : MMC_OK;
}

int shapes_describe(const mmc_shapes_scene *sc, mmc_rng *rng, mmc_sample *out) {
    if (make_captions(sc, rng, out) != MMC_OK || make_qa(sc, rng, out) != MMC_OK) return MMC_ERR_RUNTIME;
    /* label: the shape of the leftmost object, the first one the first caption names */
    const char *label = SHAPE(&sc->obj[0]);
    out->label = mmc_malloc(strlen(label) + 1);
    if (!out->label) return MMC_ERR_RUNTIME;
    strcpy(out->label, label);
    return MMC_OK;
}
