/* shapes.c — the shapes world: sampling scenes and drawing them.
 *
 * A scene is 1-4 objects (uniform), each a shape, a colour and a size, no two with the same
 * colour and shape (so "the red circle" always names one object). Objects do not touch, and
 * for every pair the horizontal and vertical distances differ clearly, so "left of" versus
 * "above" is never a coin toss. A lone object is put in one of the 3x3 cells uniformly,
 * because its caption says where it is.
 *
 * Drawing is anti-aliased by analytic coverage: each pixel takes the fraction
 * clamp(0.5 - d, 0, 1) of the object's colour, where d is the signed distance in pixels from
 * the pixel centre to the shape's outline — exact for straight edges, one evaluation per
 * pixel, so it costs less than supersampling and looks the same at 64 px. */
#include "shapes_internal.h"
#include <math.h>
#include <string.h>

static const char *SHAPE_EN[] = {"circle", "square", "triangle", "diamond", "star", "cross"};
static const char *SHAPE_ZH[] = {"圆形", "正方形", "三角形", "菱形", "星形", "十字形"};
static const char *COLOUR_EN[] = {"red", "orange", "yellow", "green", "cyan", "blue", "purple", "white"};
static const char *COLOUR_ZH[] = {"红色", "橙色", "黄色", "绿色", "青色", "蓝色", "紫色", "白色"};
/* Far apart in hue or lightness, and all far from the background. */
static const uint8_t COLOUR_RGB[][3] = {{225, 35, 35}, {250, 140, 20}, {245, 225, 40}, {40, 185, 60},
                                        {40, 215, 225}, {45, 85, 235}, {155, 65, 215}, {245, 245, 245}};
static const uint8_t BACKGROUND_RGB[3] = {32, 32, 32};

_Static_assert(sizeof SHAPE_EN / sizeof *SHAPE_EN == MMC_SHAPES_N_SHAPES, "shape names");
_Static_assert(sizeof COLOUR_RGB / sizeof *COLOUR_RGB == MMC_SHAPES_N_COLOURS, "colours");

const char *mmc_shapes_shape_name(int s) { return s >= 0 && s < MMC_SHAPES_N_SHAPES ? SHAPE_EN[s] : NULL; }
const char *mmc_shapes_shape_name_zh(int s) { return s >= 0 && s < MMC_SHAPES_N_SHAPES ? SHAPE_ZH[s] : NULL; }
const char *mmc_shapes_colour_name(int c) { return c >= 0 && c < MMC_SHAPES_N_COLOURS ? COLOUR_EN[c] : NULL; }
const char *mmc_shapes_colour_name_zh(int c) { return c >= 0 && c < MMC_SHAPES_N_COLOURS ? COLOUR_ZH[c] : NULL; }
void mmc_shapes_colour_rgb(int c, uint8_t rgb[3]) {
    memcpy(rgb, c >= 0 && c < MMC_SHAPES_N_COLOURS ? COLOUR_RGB[c] : BACKGROUND_RGB, 3);
}
void mmc_shapes_background_rgb(uint8_t rgb[3]) { memcpy(rgb, BACKGROUND_RGB, 3); }

/* ------------------------------------------------------------ geometry words */

int shapes_relation(const mmc_shape_obj *a, const mmc_shape_obj *b) {
    float dx = b->cx - a->cx, dy = b->cy - a->cy;
    if (fabsf(dx) >= fabsf(dy)) return dx > 0 ? REL_LEFT : REL_RIGHT;
    return dy > 0 ? REL_ABOVE : REL_BELOW; /* y grows downwards */
}

int shapes_region(const mmc_shape_obj *o, int size) {
    int col = (int)(o->cx * 3.0f / (float)size), row = (int)(o->cy * 3.0f / (float)size);
    col = col < 0 ? 0 : col > 2 ? 2 : col;
    row = row < 0 ? 0 : row > 2 ? 2 : row;
    return row * 3 + col;
}

/* ----------------------------------------------------------------- sampling */

#define LARGE_R 0.15f   /* outer radius as a fraction of the image side */
#define SMALL_R 0.085f
#define GAP 0.03f       /* minimum free space between two objects' outer circles */
#define AXIS_MARGIN 0.08f /* | |dx| - |dy| | at least this, so relations are clear */

static void draw_attributes(mmc_shapes_scene *sc, mmc_rng *rng) {
    for (int i = 0; i < sc->n; i++) {
        mmc_shape_obj *o = &sc->obj[i];
        for (;;) { /* distinct (colour, shape): the pair is how text refers to an object */
            o->shape = (int)mmc_rng_below(rng, MMC_SHAPES_N_SHAPES);
            o->colour = (int)mmc_rng_below(rng, MMC_SHAPES_N_COLOURS);
            int clash = 0;
            for (int j = 0; j < i; j++) clash |= sc->obj[j].shape == o->shape && sc->obj[j].colour == o->colour;
            if (!clash) break;
        }
        o->large = mmc_rng_bernoulli(rng, 0.5f);
        float jitter = 0.95f + 0.1f * mmc_rng_uniform(rng);
        o->r = (o->large ? LARGE_R : SMALL_R) * jitter * (float)sc->size;
    }
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A lone object: a uniform 3x3 cell, then a jittered spot well inside it. */
static void place_alone(mmc_shapes_scene *sc, mmc_rng *rng) {
    mmc_shape_obj *o = &sc->obj[0];
    float S = (float)sc->size, cell = S / 3.0f;
    int region = (int)mmc_rng_below(rng, 9);
    float cx = cell * ((float)(region % 3) + 0.5f + 0.4f * (mmc_rng_uniform(rng) - 0.5f));
    float cy = cell * ((float)(region / 3) + 0.5f + 0.4f * (mmc_rng_uniform(rng) - 0.5f));
    o->cx = clampf(cx, o->r + 1.0f, S - o->r - 1.0f);
    o->cy = clampf(cy, o->r + 1.0f, S - o->r - 1.0f);
}

static int fits(const mmc_shapes_scene *sc, int i) {
    const mmc_shape_obj *o = &sc->obj[i];
    float S = (float)sc->size;
    for (int j = 0; j < i; j++) {
        const mmc_shape_obj *p = &sc->obj[j];
        float dx = fabsf(o->cx - p->cx), dy = fabsf(o->cy - p->cy);
        if (dx * dx + dy * dy < (o->r + p->r + GAP * S) * (o->r + p->r + GAP * S)) return 0;
        if (fabsf(dx - dy) < AXIS_MARGIN * S) return 0;
    }
    return 1;
}

/* Rejection sampling; start over when an object finds no room. Returns objects placed. */
static int place_many(mmc_shapes_scene *sc, mmc_rng *rng) {
    float S = (float)sc->size;
    for (int attempt = 0; attempt < 200; attempt++) {
        int i = 0;
        for (; i < sc->n; i++) {
            mmc_shape_obj *o = &sc->obj[i];
            int ok = 0;
            for (int t = 0; t < 100 && !ok; t++) {
                o->cx = o->r + 1.0f + (S - 2.0f * o->r - 2.0f) * mmc_rng_uniform(rng);
                o->cy = o->r + 1.0f + (S - 2.0f * o->r - 2.0f) * mmc_rng_uniform(rng);
                ok = fits(sc, i);
            }
            if (!ok) break;
        }
        if (i == sc->n) return i;
    }
    return 1; /* never seen in practice; a scene of one object is still a valid scene */
}

static void sort_left_to_right(mmc_shapes_scene *sc) {
    for (int i = 1; i < sc->n; i++)
        for (int j = i; j > 0 && sc->obj[j].cx < sc->obj[j - 1].cx; j--) {
            mmc_shape_obj t = sc->obj[j];
            sc->obj[j] = sc->obj[j - 1];
            sc->obj[j - 1] = t;
        }
}

static void sample_scene(mmc_shapes_scene *sc, int size, mmc_rng *rng) {
    memset(sc, 0, sizeof *sc);
    sc->size = size;
    sc->n = 1 + (int)mmc_rng_below(rng, MMC_SHAPES_MAX_OBJECTS);
    draw_attributes(sc, rng);
    if (sc->n == 1) place_alone(sc, rng);
    else sc->n = place_many(sc, rng);
    sort_left_to_right(sc);
}

/* ----------------------------------------------------------------- drawing */

typedef struct vec2 { float x, y; } vec2;

static float seg_dist2(vec2 p, vec2 a, vec2 b) {
    float ex = b.x - a.x, ey = b.y - a.y, wx = p.x - a.x, wy = p.y - a.y;
    float t = clampf((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0f, 1.0f);
    float dx = wx - t * ex, dy = wy - t * ey;
    return dx * dx + dy * dy;
}

/* Signed distance to a closed polygon (negative inside; even-odd rule). */
static float polygon_sd(vec2 p, const vec2 *v, int n) {
    float d2 = INFINITY;
    int inside = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        float d = seg_dist2(p, v[j], v[i]);
        if (d < d2) d2 = d;
        if ((v[i].y > p.y) != (v[j].y > p.y) &&
            p.x < (v[j].x - v[i].x) * (p.y - v[i].y) / (v[j].y - v[i].y) + v[i].x)
            inside = !inside;
    }
    return inside ? -sqrtf(d2) : sqrtf(d2);
}

static float box_sd(vec2 p, float hx, float hy) {
    float qx = fabsf(p.x) - hx, qy = fabsf(p.y) - hy;
    float ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0;
    float in = qx > qy ? qx : qy;
    return sqrtf(ox * ox + oy * oy) + (in < 0 ? in : 0);
}

/* Outline of a polygonal shape around the origin, radius r, y down. Returns vertex count. */
static int outline(int shape, float r, vec2 *v) {
    int n = 0;
    if (shape == MMC_SHAPE_TRIANGLE) {
        for (int k = 0; k < 3; k++) { /* apex up; vertices on the outer circle */
            float a = (float)(-M_PI / 2 + k * 2 * M_PI / 3);
            v[n++] = (vec2){r * cosf(a), r * sinf(a)};
        }
    } else if (shape == MMC_SHAPE_DIAMOND) {
        v[n++] = (vec2){0, -r}, v[n++] = (vec2){0.72f * r, 0}, v[n++] = (vec2){0, r}, v[n++] = (vec2){-0.72f * r, 0};
    } else if (shape == MMC_SHAPE_STAR) {
        for (int k = 0; k < 10; k++) { /* five points, inner radius 0.45 r */
            float a = (float)(-M_PI / 2 + k * M_PI / 5), rr = (k & 1) ? 0.45f * r : r;
            v[n++] = (vec2){rr * cosf(a), rr * sinf(a)};
        }
    }
    return n;
}

static float shape_sd(int shape, vec2 p, float r, const vec2 *v, int nv) {
    switch (shape) {
    case MMC_SHAPE_CIRCLE: return sqrtf(p.x * p.x + p.y * p.y) - 0.9f * r;
    case MMC_SHAPE_SQUARE: return box_sd(p, 0.68f * r, 0.68f * r);
    case MMC_SHAPE_CROSS: {
        float a = box_sd(p, 0.9f * r, 0.3f * r), b = box_sd(p, 0.3f * r, 0.9f * r);
        return a < b ? a : b;
    }
    default: return polygon_sd(p, v, nv);
    }
}

static void draw_object(const mmc_shape_obj *o, int size, uint8_t *rgb) {
    vec2 v[10];
    int nv = outline(o->shape, o->r, v);
    const uint8_t *c = COLOUR_RGB[o->colour];
    int x0 = (int)floorf(o->cx - o->r - 1), x1 = (int)ceilf(o->cx + o->r + 1);
    int y0 = (int)floorf(o->cy - o->r - 1), y1 = (int)ceilf(o->cy + o->r + 1);
    for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < size; y++)
        for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < size; x++) {
            vec2 p = {(float)x + 0.5f - o->cx, (float)y + 0.5f - o->cy};
            float cover = clampf(0.5f - shape_sd(o->shape, p, o->r, v, nv), 0.0f, 1.0f);
            if (cover <= 0.0f) continue;
            uint8_t *px = rgb + ((size_t)y * (size_t)size + (size_t)x) * 3;
            for (int k = 0; k < 3; k++) px[k] = (uint8_t)lrintf((float)px[k] + cover * ((float)c[k] - (float)px[k]));
        }
}

void shapes_render(const mmc_shapes_scene *sc, uint8_t *rgb) {
    size_t npx = (size_t)sc->size * (size_t)sc->size;
    for (size_t i = 0; i < npx; i++) memcpy(rgb + 3 * i, BACKGROUND_RGB, 3);
    for (int i = 0; i < sc->n; i++) draw_object(&sc->obj[i], sc->size, rgb);
}

/* ------------------------------------------------------------------ a scene */

/* Scene streams: the split name's hash in the high bits, the index in the low 32, so
 * every (split, index) has its own stream and no scene depends on another. */
uint64_t shapes_stream(const char *split, int64_t index) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *s = split; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return ((uint64_t)h << 32) | (uint64_t)(uint32_t)index;
}

/* The split names a file (manifest-SPLIT.jsonl) and image names: keep it plain. */
int shapes_valid_split(const char *s) {
    if (!s || !*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')) return 0;
    return 1;
}

int mmc_shapes_make(uint64_t seed, const char *split, int64_t index, int size, mmc_shapes_scene *scene,
                    uint8_t *rgb, mmc_sample *sample, mmc_error *err) {
    if (!shapes_valid_split(split))
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: split name must be 1-64 of [a-z0-9_-]");
    if (index < 0 || index > 0xFFFFFFFFLL)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: scene index %lld out of range", (long long)index);
    if (size < 8 || size > 1024)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: image size %d out of range (8 to 1024)", size);
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, shapes_stream(split, index));
    mmc_shapes_scene sc;
    sample_scene(&sc, size, &rng);
    if (scene) *scene = sc;
    if (rgb) shapes_render(&sc, rgb);
    if (!sample) return MMC_OK;
    memset(sample, 0, sizeof *sample);
    char name[128];
    snprintf(name, sizeof name, "%s-%06lld", split, (long long)index);
    size_t n = strlen(name);
    sample->id = mmc_malloc(n + 1);
    sample->image = mmc_malloc(n + 12);
    if (sample->id && sample->image) {
        memcpy(sample->id, name, n + 1);
        snprintf(sample->image, n + 12, "images/%s.png", name);
        if (shapes_describe(&sc, &rng, sample) == MMC_OK) return MMC_OK;
    }
    mmc_sample_free(sample);
    return mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory describing scene %s", name);
}
