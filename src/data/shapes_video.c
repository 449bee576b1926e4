/* shapes_video.c — the moving-shapes world: short clips of the image world's shapes that
 * move, grow, shrink, change colour, appear or disappear, written as lossless FFV1/Matroska
 * files, with captions in English and Chinese and balanced questions (docs/video.md).
 *
 * Sampling is organised around the answers, so that a blind model cannot score:
 *   - the number of movers m is uniform in {0, 1, 2} (count_moving), each mover's direction
 *     uniform in {left, right, up, down} (direction);
 *   - 1-3 objects: n uniform in [max(m, 1), 3]; when nothing moves, one other object has an
 *     event, so every clip has at least one; the other objects get an event (grow, shrink,
 *     recolour, appear, disappear, uniform) with probability 1/2 (m = 0) or 1/3, else stay
 *     still;
 *   - the new colour of a recolouring object is uniform among the other 7 (colour_change),
 *     grow and shrink are equally likely (size_change), what appears is any colour and
 *     shape (appear).
 * No two objects share a (shape, colour) pair at any time, so "the red circle" names one
 * object. Objects never overlap while visible (rejection sampling over every frame).
 *
 * Time symmetry: every event reversed is another event, positions and radii are
 * interpolated as (a * (T-1-f) + b * f) / (T-1) — the same floats for the clip and its
 * reverse — so mmc_shapes_clip_reverse renders exactly the frames backwards, and its first
 * caption differs from the clip's. */
#include "shapes_internal.h"
#include <math.h>
#include <stdarg.h>
#include <string.h>

#define LARGE_R 0.14f
#define SMALL_R 0.08f
#define GAP 0.03f

/* In double, where float x small-integer products are exact: the sum is then the same
 * whether or not the compiler fuses a multiply-add, and swapping (a, b, f) for
 * (b, a, T-1-f) gives the same bits. */
static float lerp_sym(float a, float b, int f, int T) {
    return T > 1 ? (float)(((double)a * (T - 1 - f) + (double)b * f) / (T - 1)) : a;
}
static int other_than(mmc_rng *rng, int n, int not) {
    int v = (int)mmc_rng_below(rng, (uint32_t)n - 1);
    return v >= not ? v + 1 : v;
}

/* ------------------------------------------------------------- sampling */

static int clash(const mmc_shape_track *a, const mmc_shape_track *b) {
    if (a->shape != b->shape) return 0;
    return a->colour0 == b->colour0 || a->colour0 == b->colour1 || a->colour1 == b->colour0 || a->colour1 == b->colour1;
}

static void sample_events(mmc_shapes_clip *c, mmc_rng *rng) {
    int m = (int)mmc_rng_below(rng, 3), lo = m > 1 ? m : 1;
    c->n = lo + (int)mmc_rng_below(rng, (uint32_t)(3 - lo + 1));
    int ev[MMC_SHAPES_CLIP_MAX_OBJECTS], order[MMC_SHAPES_CLIP_MAX_OBJECTS];
    for (int i = 0; i < c->n; i++) {
        if (i < m) ev[i] = MMC_EVENT_MOVE;
        else {
            int act = (m == 0 && i == 0) || mmc_rng_bernoulli(rng, m == 0 ? 0.5f : 1.0f / 3.0f);
            ev[i] = act ? MMC_EVENT_GROW + (int)mmc_rng_below(rng, 5) : MMC_EVENT_STILL;
        }
    }
    mmc_rng_permutation(rng, order, c->n);
    for (int i = 0; i < c->n; i++) {
        mmc_shape_track *o = &c->obj[order[i]];
        memset(o, 0, sizeof *o);
        o->event = ev[i];
        o->dir = ev[i] == MMC_EVENT_MOVE ? (int)mmc_rng_below(rng, 4) : 0;
    }
}

static void sample_attributes(mmc_shapes_clip *c, mmc_rng *rng) {
    float S = (float)c->size;
    for (int i = 0; i < c->n; i++) {
        mmc_shape_track *o = &c->obj[i];
        for (;;) {
            o->shape = (int)mmc_rng_below(rng, MMC_SHAPES_N_SHAPES);
            o->colour0 = (int)mmc_rng_below(rng, MMC_SHAPES_N_COLOURS);
            o->colour1 = o->event == MMC_EVENT_RECOLOUR ? other_than(rng, MMC_SHAPES_N_COLOURS, o->colour0) : o->colour0;
            int bad = 0;
            for (int j = 0; j < i; j++) bad |= clash(o, &c->obj[j]);
            if (!bad) break;
        }
        o->large = mmc_rng_bernoulli(rng, 0.5f);
        float jitter = 0.95f + 0.1f * mmc_rng_uniform(rng);
        float small = SMALL_R * jitter * S, large = LARGE_R * jitter * S;
        o->r0 = o->event == MMC_EVENT_GROW ? small : o->event == MMC_EVENT_SHRINK ? large : o->large ? large : small;
        o->r1 = o->event == MMC_EVENT_GROW ? large : o->event == MMC_EVENT_SHRINK ? small : o->r0;
        if (o->event == MMC_EVENT_GROW || o->event == MMC_EVENT_SHRINK) o->large = o->event == MMC_EVENT_SHRINK;
        o->visible0 = o->event != MMC_EVENT_APPEAR;
        o->visible1 = o->event != MMC_EVENT_DISAPPEAR;
        int discrete = o->event == MMC_EVENT_RECOLOUR || o->event == MMC_EVENT_APPEAR || o->event == MMC_EVENT_DISAPPEAR;
        o->change = discrete ? 1 + (int)mmc_rng_below(rng, (uint32_t)(c->frames - 1)) : c->frames / 2;
    }
}

static void sample_path(mmc_shape_track *o, float S, mmc_rng *rng) {
    float R = o->r0 > o->r1 ? o->r0 : o->r1, lo = R + 1.0f, span = S - 2.0f * R - 2.0f;
    if (span < 0) span = 0;
    if (o->event != MMC_EVENT_MOVE) {
        o->x0 = o->x1 = lo + span * mmc_rng_uniform(rng);
        o->y0 = o->y1 = lo + span * mmc_rng_uniform(rng);
        return;
    }
    float d = (0.35f + 0.15f * mmc_rng_uniform(rng)) * S;
    if (d > span) d = span;
    float along = lo + (span - d) * mmc_rng_uniform(rng), across = lo + span * mmc_rng_uniform(rng);
    float a0 = o->dir == MMC_DIR_RIGHT || o->dir == MMC_DIR_DOWN ? along : along + d;
    float a1 = o->dir == MMC_DIR_RIGHT || o->dir == MMC_DIR_DOWN ? along + d : along;
    if (o->dir == MMC_DIR_LEFT || o->dir == MMC_DIR_RIGHT) o->x0 = a0, o->x1 = a1, o->y0 = o->y1 = across;
    else o->y0 = a0, o->y1 = a1, o->x0 = o->x1 = across;
}

static int visible_at(const mmc_shape_track *o, int f) { return f < o->change ? o->visible0 : o->visible1; }

static int placement_ok(const mmc_shapes_clip *c) {
    float gap = GAP * (float)c->size;
    for (int f = 0; f < c->frames; f++)
        for (int i = 0; i < c->n; i++)
            for (int j = i + 1; j < c->n; j++) {
                const mmc_shape_track *a = &c->obj[i], *b = &c->obj[j];
                if (!visible_at(a, f) || !visible_at(b, f)) continue;
                float dx = lerp_sym(a->x0, a->x1, f, c->frames) - lerp_sym(b->x0, b->x1, f, c->frames);
                float dy = lerp_sym(a->y0, a->y1, f, c->frames) - lerp_sym(b->y0, b->y1, f, c->frames);
                float rr = lerp_sym(a->r0, a->r1, f, c->frames) + lerp_sym(b->r0, b->r1, f, c->frames) + gap;
                if (dx * dx + dy * dy < rr * rr) return 0;
            }
    return 1;
}

static void place(mmc_shapes_clip *c, mmc_rng *rng) {
    for (int round = 0; round < 3; round++) {
        for (int attempt = 0; attempt < 300; attempt++) {
            for (int i = 0; i < c->n; i++) sample_path(&c->obj[i], (float)c->size, rng);
            if (placement_ok(c)) return;
        }
        /* no room (tiny clips): drop a still object, never an event (the answers stay balanced) */
        int k = c->n - 1;
        while (k >= 0 && c->obj[k].event != MMC_EVENT_STILL) k--;
        if (k < 0) return;
        for (int i = k; i + 1 < c->n; i++) c->obj[i] = c->obj[i + 1];
        c->n--;
    }
}

void mmc_shapes_clip_render(const mmc_shapes_clip *c, uint8_t *rgb) {
    size_t fb = (size_t)c->size * (size_t)c->size * 3;
    for (int f = 0; f < c->frames; f++) {
        mmc_shapes_scene sc;
        memset(&sc, 0, sizeof sc);
        sc.size = c->size;
        for (int i = 0; i < c->n; i++) {
            const mmc_shape_track *o = &c->obj[i];
            if (!visible_at(o, f)) continue;
            mmc_shape_obj *s = &sc.obj[sc.n++];
            s->shape = o->shape;
            s->colour = f < o->change ? o->colour0 : o->colour1;
            s->large = o->large;
            s->cx = lerp_sym(o->x0, o->x1, f, c->frames);
            s->cy = lerp_sym(o->y0, o->y1, f, c->frames);
            s->r = lerp_sym(o->r0, o->r1, f, c->frames);
        }
        shapes_render(&sc, rgb + (size_t)f * fb);
    }
}

void mmc_shapes_clip_reverse(mmc_shapes_clip *c) {
    for (int i = 0; i < c->n; i++) {
        mmc_shape_track *o = &c->obj[i];
        float t;
        int k;
        t = o->x0, o->x0 = o->x1, o->x1 = t;
        t = o->y0, o->y0 = o->y1, o->y1 = t;
        t = o->r0, o->r0 = o->r1, o->r1 = t;
        k = o->colour0, o->colour0 = o->colour1, o->colour1 = k;
        k = o->visible0, o->visible0 = o->visible1, o->visible1 = k;
        o->change = c->frames - o->change;
        switch (o->event) {
        case MMC_EVENT_MOVE: o->dir ^= 1; break; /* left <-> right, up <-> down */
        case MMC_EVENT_GROW: o->event = MMC_EVENT_SHRINK, o->large = 1; break;
        case MMC_EVENT_SHRINK: o->event = MMC_EVENT_GROW, o->large = 0; break;
        case MMC_EVENT_APPEAR: o->event = MMC_EVENT_DISAPPEAR; break;
        case MMC_EVENT_DISAPPEAR: o->event = MMC_EVENT_APPEAR; break;
        default: break;
        }
    }
}

/* ----------------------------------------------------------------- words */

static const char *SIZE_EN[] = {"small", "large"};
static const char *SIZE_ZH[] = {"小", "大"};
static const char *DIR_EN[] = {"moves from right to left", "moves from left to right", "moves up", "moves down"};
static const char *DIR_EN_SHORT[] = {"moves to the left", "moves to the right", "moves up", "moves down"};
static const char *DIR_ZH[] = {"从右向左移动", "从左向右移动", "向上移动", "向下移动"};
static const char *DIR_ZH_SHORT[] = {"向左移动", "向右移动", "向上移动", "向下移动"};
static const char *DIR_ANSWER[] = {"left", "right", "up", "down"};


static const char *article(const char *w) { return strchr("aeiou", w[0]) ? "an" : "a"; }
#define SHAPE(o) mmc_shapes_shape_name((o)->shape)
#define SHAPE_ZH(o) mmc_shapes_shape_name_zh((o)->shape)
#define C0(o) mmc_shapes_colour_name((o)->colour0)
#define C1(o) mmc_shapes_colour_name((o)->colour1)
#define C0_ZH(o) mmc_shapes_colour_name_zh((o)->colour0)
#define C1_ZH(o) mmc_shapes_colour_name_zh((o)->colour1)

/* "a large red circle"; the attribute that changes is left out (size of a grower, colour
 * of a recolouring object); sizes only when with_size. */
static void np_en(sb *b, const mmc_shape_track *o, int with_size) {
    int sized = with_size && o->event != MMC_EVENT_GROW && o->event != MMC_EVENT_SHRINK;
    int coloured = o->event != MMC_EVENT_RECOLOUR;
    const char *first = sized ? SIZE_EN[o->large] : coloured ? C0(o) : SHAPE(o);
    shapes_sb_add(b, "%s", article(first));
    if (sized) shapes_sb_add(b, " %s", SIZE_EN[o->large]);
    if (coloured) shapes_sb_add(b, " %s", C0(o));
    shapes_sb_add(b, " %s", SHAPE(o));
}

/* "一个蓝色小正方形" */
static void np_zh(sb *b, const mmc_shape_track *o, int with_size) {
    int sized = with_size && o->event != MMC_EVENT_GROW && o->event != MMC_EVENT_SHRINK;
    shapes_sb_add(b, "一个%s%s%s", o->event != MMC_EVENT_RECOLOUR ? C0_ZH(o) : "", sized ? SIZE_ZH[o->large] : "", SHAPE_ZH(o));
}

static void clause_en(sb *b, const mmc_shape_track *o, int with_size, int short_form) {
    np_en(b, o, with_size);
    switch (o->event) {
    case MMC_EVENT_MOVE: shapes_sb_add(b, " %s", (short_form ? DIR_EN_SHORT : DIR_EN)[o->dir]); break;
    case MMC_EVENT_GROW: shapes_sb_add(b, " grows"); break;
    case MMC_EVENT_SHRINK: shapes_sb_add(b, " shrinks"); break;
    case MMC_EVENT_RECOLOUR: shapes_sb_add(b, " turns from %s to %s", C0(o), C1(o)); break;
    case MMC_EVENT_APPEAR: shapes_sb_add(b, " appears"); break;
    case MMC_EVENT_DISAPPEAR: shapes_sb_add(b, " disappears"); break;
    default: shapes_sb_add(b, " stays still"); break;
    }
}

static void clause_zh(sb *b, const mmc_shape_track *o, int with_size, int short_form) {
    if (o->event == MMC_EVENT_APPEAR) {
        shapes_sb_add(b, "出现了");
        np_zh(b, o, with_size);
        return;
    }
    np_zh(b, o, with_size);
    switch (o->event) {
    case MMC_EVENT_MOVE: shapes_sb_add(b, "%s", (short_form ? DIR_ZH_SHORT : DIR_ZH)[o->dir]); break;
    case MMC_EVENT_GROW: shapes_sb_add(b, "变大"); break;
    case MMC_EVENT_SHRINK: shapes_sb_add(b, "变小"); break;
    case MMC_EVENT_RECOLOUR: shapes_sb_add(b, "从%s变成%s", C0_ZH(o), C1_ZH(o)); break;
    case MMC_EVENT_DISAPPEAR: shapes_sb_add(b, "消失了"); break;
    default: shapes_sb_add(b, "保持不动"); break;
    }
}

static const char *sep_en(int k, int n) { return k == 0 ? "" : k == n - 1 ? " and " : ", "; }
static const char *sep_zh(int k, int n) { return k == 0 ? "" : k == n - 1 ? "和" : "、"; }

/* The events in the given order ("A, B and C" / "A，B，C"). */
static void actors(sb *en, sb *zh, const mmc_shapes_clip *c, const int *idx, int k, int with_size, int short_form) {
    for (int i = 0; i < k; i++) {
        shapes_sb_add(en, "%s", sep_en(i, k));
        clause_en(en, &c->obj[idx[i]], with_size, short_form);
        if (i) shapes_sb_add(zh, "，");
        clause_zh(zh, &c->obj[idx[i]], with_size, short_form);
    }
}

/* "a small blue square stays still" / "... and ... stay still"; "一个蓝色小正方形保持不动". */
static void stills(sb *en, sb *zh, const mmc_shapes_clip *c, const int *idx, int k) {
    for (int i = 0; i < k; i++) {
        shapes_sb_add(en, "%s", sep_en(i, k));
        np_en(en, &c->obj[idx[i]], 1);
        shapes_sb_add(zh, "%s", sep_zh(i, k));
        np_zh(zh, &c->obj[idx[i]], 1);
    }
    shapes_sb_add(en, k > 1 ? " stay still" : " stays still");
    shapes_sb_add(zh, "保持不动");
}

#define N_CAPTIONS 3

static int make_captions(const mmc_shapes_clip *c, mmc_sample *out) {
    int act[MMC_SHAPES_CLIP_MAX_OBJECTS], still[MMC_SHAPES_CLIP_MAX_OBJECTS], na = 0, ns = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->obj[i].event == MMC_EVENT_STILL) still[ns++] = i;
        else act[na++] = i;
    }
    int rev[MMC_SHAPES_CLIP_MAX_OBJECTS];
    for (int i = 0; i < na; i++) rev[i] = act[na - 1 - i];
    out->captions = mmc_calloc(N_CAPTIONS, sizeof(char *));
    out->captions_zh = mmc_calloc(N_CAPTIONS, sizeof(char *));
    if (!out->captions || !out->captions_zh) return MMC_ERR_RUNTIME;
    for (int k = 0; k < N_CAPTIONS; k++) {
        sb en = {.n = 0}, zh = {.n = 0};
        if (k == 0) { /* the fingerprint: every event, then what stays still */
            actors(&en, &zh, c, act, na, 1, 0);
            if (ns) shapes_sb_add(&en, " while "), shapes_sb_add(&zh, "，"), stills(&en, &zh, c, still, ns);
        } else if (k == 1) { /* what stays still first, events in the other order */
            if (ns) stills(&en, &zh, c, still, ns), shapes_sb_add(&en, " while "), shapes_sb_add(&zh, "，");
            actors(&en, &zh, c, rev, na, 1, 0);
        } else { /* the events only, fewer words */
            actors(&en, &zh, c, act, na, 0, 1);
        }
        if (!(out->captions[k] = shapes_sb_dup(&en)) || !(out->captions_zh[k] = shapes_sb_dup(&zh))) return MMC_ERR_RUNTIME;
        out->n_captions = out->n_captions_zh = k + 1;
    }
    return MMC_OK;
}

#define MAX_QA 6

static int add_qa(mmc_sample *out, const char *type, const sb *q, const char *answer) {
    if (out->n_qa >= MAX_QA) return MMC_OK;
    mmc_qa *d = &out->qa[out->n_qa++]; /* counted first, so mmc_sample_free frees a partial one */
    size_t tl = strlen(type) + 1, al = strlen(answer) + 1;
    d->question = shapes_sb_dup(q);
    d->answer = mmc_malloc(al);
    d->type = mmc_malloc(tl);
    if (!d->question || !d->answer || !d->type) return MMC_ERR_RUNTIME;
    memcpy(d->answer, answer, al);
    memcpy(d->type, type, tl);
    return MMC_OK;
}

/* One object among those with event ev (either of ev and ev2), drawn uniformly; -1 if none
 * (or more than one when unique). */
static int pick(const mmc_shapes_clip *c, int ev, int ev2, int unique, mmc_rng *rng) {
    int idx[MMC_SHAPES_CLIP_MAX_OBJECTS], k = 0;
    for (int i = 0; i < c->n; i++)
        if (c->obj[i].event == ev || c->obj[i].event == ev2) idx[k++] = i;
    if (!k || (unique && k > 1)) return -1;
    return idx[mmc_rng_below(rng, (uint32_t)k)];
}

static int make_qa(const mmc_shapes_clip *c, mmc_rng *rng, mmc_sample *out) {
    out->qa = mmc_calloc(MAX_QA, sizeof(mmc_qa));
    if (!out->qa) return MMC_ERR_RUNTIME;
    int rc = MMC_OK, movers = 0;
    for (int i = 0; i < c->n; i++) movers += c->obj[i].event == MMC_EVENT_MOVE;
    static const char *count_q[] = {"how many shapes move?", "how many shapes are moving?", "how many objects move?"};
    sb q = {.n = 0};
    char ans[64];
    shapes_sb_add(&q, "%s", count_q[mmc_rng_below(rng, 3)]);
    snprintf(ans, sizeof ans, "%d", movers);
    rc |= add_qa(out, "count_moving", &q, ans);
    int i = pick(c, MMC_EVENT_MOVE, MMC_EVENT_MOVE, 0, rng);
    if (i >= 0) {
        const mmc_shape_track *o = &c->obj[i];
        q.n = 0;
        shapes_sb_add(&q, "which way does the %s %s move?", C0(o), SHAPE(o));
        rc |= add_qa(out, "direction", &q, DIR_ANSWER[o->dir]);
    }
    for (int k = 0; k < 2; k++) { /* "what appears?" / "what disappears?" when one object does */
        int ev = k ? MMC_EVENT_DISAPPEAR : MMC_EVENT_APPEAR;
        if ((i = pick(c, ev, ev, 1, rng)) < 0) continue;
        q.n = 0;
        shapes_sb_add(&q, "what %s?", k ? "disappears" : "appears");
        snprintf(ans, sizeof ans, "%s %s", C0(&c->obj[i]), SHAPE(&c->obj[i]));
        rc |= add_qa(out, "appear", &q, ans);
    }
    if ((i = pick(c, MMC_EVENT_RECOLOUR, MMC_EVENT_RECOLOUR, 0, rng)) >= 0) {
        const mmc_shape_track *o = &c->obj[i];
        int same_shape = 0;
        for (int j = 0; j < c->n; j++) same_shape += c->obj[j].shape == o->shape;
        q.n = 0;
        if (same_shape == 1) shapes_sb_add(&q, "what colour does the %s become?", SHAPE(o));
        else shapes_sb_add(&q, "what colour does the %s %s become?", C0(o), SHAPE(o));
        rc |= add_qa(out, "colour_change", &q, C1(o));
    }
    if ((i = pick(c, MMC_EVENT_GROW, MMC_EVENT_SHRINK, 0, rng)) >= 0) {
        const mmc_shape_track *o = &c->obj[i];
        q.n = 0;
        shapes_sb_add(&q, "does the %s %s grow or shrink?", C0(o), SHAPE(o));
        rc |= add_qa(out, "size_change", &q, o->event == MMC_EVENT_GROW ? "grow" : "shrink");
    }
    return rc ? MMC_ERR_RUNTIME : MMC_OK;
}

int mmc_shapes_clip_describe(const mmc_shapes_clip *c, mmc_rng *rng, mmc_sample *out) {
    if (make_captions(c, out) != MMC_OK || make_qa(c, rng, out) != MMC_OK) return MMC_ERR_RUNTIME;
    return MMC_OK;
}

/* ----------------------------------------------------------------- clips */

/* Video clips draw from their own streams, apart from the image world's scenes. */
static uint64_t clip_stream(const char *split, int64_t index) { return shapes_stream(split, index) ^ 0x9E3779B97F4A7C15ull; }

int mmc_shapes_clip_make(uint64_t seed, const char *split, int64_t index, int size, int frames, mmc_shapes_clip *clip,
                         uint8_t *rgb, mmc_sample *sample, mmc_error *err) {
    if (!shapes_valid_split(split))
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: split name must be 1-64 of [a-z0-9_-]");
    if (index < 0 || index > 0xFFFFFFFFLL)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: clip index %lld out of range", (long long)index);
    if (size < 16 || size > 1024)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: clip size %d out of range (16 to 1024)", size);
    if (frames < 2 || frames > MMC_SHAPES_CLIP_MAX_FRAMES)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: %d frames per clip (2 to %d)", frames, MMC_SHAPES_CLIP_MAX_FRAMES);
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, clip_stream(split, index));
    mmc_shapes_clip c;
    memset(&c, 0, sizeof c);
    c.size = size, c.frames = frames;
    sample_events(&c, &rng);
    sample_attributes(&c, &rng);
    place(&c, &rng);
    if (clip) *clip = c;
    if (rgb) mmc_shapes_clip_render(&c, rgb);
    if (!sample) return MMC_OK;
    memset(sample, 0, sizeof *sample);
    char name[128];
    snprintf(name, sizeof name, "%s-%06lld", split, (long long)index);
    size_t n = strlen(name);
    sample->id = mmc_malloc(n + 1);
    sample->image = mmc_malloc(n + 12);
    sample->video = mmc_malloc(n + 12);
    if (sample->id && sample->image && sample->video) {
        memcpy(sample->id, name, n + 1);
        snprintf(sample->image, n + 12, "images/%s.png", name);
        snprintf(sample->video, n + 12, "videos/%s.mkv", name);
        if (mmc_shapes_clip_describe(&c, &rng, sample) == MMC_OK) return MMC_OK;
    }
    mmc_sample_free(sample);
    return mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory describing clip %s", name);
}

typedef struct video_ctx {
    const char *dir, *split;
    uint64_t seed;
    int size, frames, fps;
} video_ctx;

static char *one_clip(void *ctx, int64_t index, uint8_t *rgb, mmc_error *err) {
    const video_ctx *c = ctx;
    mmc_sample s;
    if (mmc_shapes_clip_make(c->seed, c->split, index, c->size, c->frames, NULL, rgb, &s, err) != MMC_OK) return NULL;
    char path[4200];
    char *line = NULL;
    snprintf(path, sizeof path, "%s/%s", c->dir, s.video);
    int rc = mmc_video_write_mkv(path, rgb, c->frames, c->size, c->size, c->fps, err);
    snprintf(path, sizeof path, "%s/%s", c->dir, s.image);
    if (!rc) rc = mmc_png_write(path, c->size, c->size, 3, rgb, err);
    if (!rc && !(line = mmc_sample_to_json(&s)))
        mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory writing the manifest line of %s", s.id);
    mmc_sample_free(&s);
    return line;
}

int mmc_shapes_write_video_split(const char *dir, const char *split, int64_t n, uint64_t seed, int size, int frames,
                                 int fps, mmc_progress_fn progress, void *user, mmc_error *err) {
    if (fps < 1 || fps > 1000) return mmc_error_set(err, MMC_ERR_USAGE, "shapes: %d frames per second (1 to 1000)", fps);
    if (mmc_shapes_clip_make(seed, split, 0, size, frames, NULL, NULL, NULL, err) != MMC_OK)
        return err ? err->code : MMC_ERR_USAGE;
    static const char *const subdirs[] = {"images", "videos", NULL};
    video_ctx c = {dir, split, seed, size, frames, fps};
    size_t scratch = (size_t)frames * (size_t)size * (size_t)size * 3;
    return shapes_write_lines(dir, split, n, subdirs, scratch, one_clip, &c, progress, user, err);
}

/* ------------------------------------------------------- sounding clips */

/* Audio-visual clips draw from their own streams again: the silent world stays as it was. */
static uint64_t av_stream(const char *split, int64_t index) { return shapes_stream(split, index) ^ 0x5A17C0DE0A7D10ull; }

/* 2 or 3 objects with events of different kinds (and, with 2, a still object half the
 * time), every object a different colour: the colour of the heard one is the label, and
 * the frames alone leave it one of 2 or 3. */
static int sample_av(mmc_shapes_clip *c, mmc_rng *rng) {
    int active = 2 + (int)mmc_rng_below(rng, 2), kinds[6];
    c->n = active + (active == 2 && mmc_rng_bernoulli(rng, 0.5f));
    mmc_rng_permutation(rng, kinds, 6);
    for (int i = 0; i < c->n; i++) {
        mmc_shape_track *o = &c->obj[i];
        memset(o, 0, sizeof *o);
        o->event = i < active ? MMC_EVENT_MOVE + kinds[i] : MMC_EVENT_STILL;
        o->dir = o->event == MMC_EVENT_MOVE ? (int)mmc_rng_below(rng, 4) : 0;
    }
    for (int tries = 0; tries < 200; tries++) {
        sample_attributes(c, rng);
        int ok = 1;
        for (int i = 0; i < c->n && ok; i++)
            for (int j = 0; j < i && ok; j++) ok = c->obj[i].colour0 != c->obj[j].colour0;
        if (ok) return active;
    }
    return -1; /* 200 draws of 3 colours out of 8 all clashing: does not happen */
}

int mmc_shapes_av_clip_make(uint64_t seed, const char *split, int64_t index, int size, int frames, int fps,
                            mmc_shapes_clip *clip, uint8_t *rgb, float **sound, int64_t *n_sound, int *who,
                            mmc_sample *sample, mmc_error *err) {
    if (sound) *sound = NULL;
    if (n_sound) *n_sound = 0;
    if (fps < 1 || fps > 1000) return mmc_error_set(err, MMC_ERR_USAGE, "shapes: %d frames per second (1 to 1000)", fps);
    if (mmc_shapes_clip_make(seed, split, 0, size, frames, NULL, NULL, NULL, err) != MMC_OK) return err ? err->code : MMC_ERR_USAGE;
    if (index < 0 || index > 0xFFFFFFFFLL)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: clip index %lld out of range", (long long)index);
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, av_stream(split, index));
    mmc_shapes_clip c;
    memset(&c, 0, sizeof c);
    c.size = size, c.frames = frames;
    int active = sample_av(&c, &rng);
    if (active < 2) return mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: no colours for clip %lld", (long long)index);
    place(&c, &rng); /* drops only the still object when there is no room */
    int idx[MMC_SHAPES_CLIP_MAX_OBJECTS], k = 0;
    for (int i = 0; i < c.n; i++)
        if (c.obj[i].event != MMC_EVENT_STILL) idx[k++] = i;
    int w = idx[mmc_rng_below(&rng, (uint32_t)k)];
    if (clip) *clip = c;
    if (who) *who = w;
    if (rgb) mmc_shapes_clip_render(&c, rgb);
    mmc_rng srng; /* the sound's own stream: its noise does not move the words' draws */
    mmc_rng_seed(&srng, seed, av_stream(split, index) ^ 0x50D);
    if (sound) {
        int64_t n = (int64_t)frames * MMC_SHAPES_SOUND_RATE / fps;
        if (!(*sound = mmc_malloc(sizeof(float) * (size_t)(n ? n : 1))))
            return mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory for a sound track");
        mmc_shapes_clip_sound(&c, w, fps, MMC_SHAPES_SOUND_RATE, &srng, *sound, n);
        if (n_sound) *n_sound = n;
    }
    if (!sample) return MMC_OK;
    memset(sample, 0, sizeof *sample);
    char name[128];
    snprintf(name, sizeof name, "%s-%06lld", split, (long long)index);
    size_t n = strlen(name);
    const char *label = mmc_shapes_colour_name(c.obj[w].colour0);
    sample->id = mmc_malloc(n + 1);
    sample->image = mmc_malloc(n + 12);
    sample->video = mmc_malloc(n + 12);
    sample->label = mmc_malloc(strlen(label) + 1);
    if (sample->id && sample->image && sample->video && sample->label) {
        memcpy(sample->id, name, n + 1);
        snprintf(sample->image, n + 12, "images/%s.png", name);
        snprintf(sample->video, n + 12, "videos/%s.mkv", name);
        memcpy(sample->label, label, strlen(label) + 1);
        if (mmc_shapes_clip_describe(&c, &rng, sample) == MMC_OK) return MMC_OK;
    }
    mmc_sample_free(sample);
    if (sound) mmc_free(*sound), *sound = NULL;
    return mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory describing clip %s", name);
}

static char *one_av_clip(void *ctx, int64_t index, uint8_t *rgb, mmc_error *err) {
    const video_ctx *c = ctx;
    mmc_sample s;
    float *sound = NULL;
    int64_t ns = 0;
    if (mmc_shapes_av_clip_make(c->seed, c->split, index, c->size, c->frames, c->fps, NULL, rgb, &sound, &ns, NULL, &s, err))
        return NULL;
    char path[4200];
    char *line = NULL;
    snprintf(path, sizeof path, "%s/%s", c->dir, s.video);
    int rc = mmc_video_write_mkv_sound(path, rgb, c->frames, c->size, c->size, c->fps, sound, ns, MMC_SHAPES_SOUND_RATE, err);
    snprintf(path, sizeof path, "%s/%s", c->dir, s.image);
    if (!rc) rc = mmc_png_write(path, c->size, c->size, 3, rgb, err);
    if (!rc && !(line = mmc_sample_to_json(&s)))
        mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory writing the manifest line of %s", s.id);
    mmc_sample_free(&s);
    mmc_free(sound);
    return line;
}

int mmc_shapes_write_av_split(const char *dir, const char *split, int64_t n, uint64_t seed, int size, int frames, int fps,
                              mmc_progress_fn progress, void *user, mmc_error *err) {
    if (mmc_shapes_av_clip_make(seed, split, 0, size, frames, fps, NULL, NULL, NULL, NULL, NULL, NULL, err) != MMC_OK)
        return err ? err->code : MMC_ERR_USAGE;
    static const char *const subdirs[] = {"images", "videos", NULL};
    video_ctx c = {dir, split, seed, size, frames, fps};
    size_t scratch = (size_t)frames * (size_t)size * (size_t)size * 3;
    return shapes_write_lines(dir, split, n, subdirs, scratch, one_av_clip, &c, progress, user, err);
}
