/* demo_check.c — `mmc demo --check-screenshot PNG`: does a browser's screenshot of
 * report.html show a real page (scripts/demo-check.sh, make demo-check)?
 *
 * A blank or broken rendering (an empty page, an error page, a page whose SVG or images
 * failed) is told apart from the report by what only the report draws:
 *   - curves: pixels of the first two chart colours (the English and Chinese series) with
 *     the chart's white background 3 px away, i.e. thin lines on white. Scene objects can
 *     have nearly those colours (the shapes world's red is close to the second one) but
 *     they lie on the scenes' dark background;
 *   - scene images: 8x8 blocks entirely of the shapes world's background colour (the
 *     inlined 64 px scenes are shown at 128 px). Text in the report's dark grey has pixels
 *     of about that colour, but never a solid 8x8 block. */
#include "demo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int near(const uint8_t *p, const uint8_t c[3], int tol) {
    return abs(p[0] - c[0]) <= tol && abs(p[1] - c[1]) <= tol && abs(p[2] - c[2]) <= tol;
}

static int light(const uint8_t *p) { return p[0] >= 200 && p[1] >= 200 && p[2] >= 200; }

/* Pixels of colour c (within 8) with a light pixel 3 px left, right, above or below. */
static int64_t line_pixels(const mmc_image *img, const uint8_t c[3]) {
    int64_t n = 0;
    for (int y = 3; y < img->h - 3; y++)
        for (int x = 3; x < img->w - 3; x++) {
            const uint8_t *p = img->data + ((size_t)y * img->w + x) * 3;
            size_t row = (size_t)img->w * 3;
            if (near(p, c, 8) && (light(p - 9) || light(p + 9) || light(p - 3 * row) || light(p + 3 * row))) n++;
        }
    return n;
}

/* Aligned 8x8 blocks whose every pixel is within 3 of c. */
static int64_t solid_blocks(const mmc_image *img, const uint8_t c[3]) {
    int64_t n = 0;
    for (int by = 0; by + 8 <= img->h; by += 8)
        for (int bx = 0; bx + 8 <= img->w; bx += 8) {
            int all = 1;
            for (int y = by; y < by + 8 && all; y++)
                for (int x = bx; x < bx + 8 && all; x++) all = near(img->data + ((size_t)y * img->w + x) * 3, c, 3);
            n += all;
        }
    return n;
}

int demo_check_screenshot(const char *png) {
    mmc_error err = {0};
    mmc_image img = {0};
    if (mmc_image_load(&img, png, 3, &err)) return cli_error_from(&err);
    int64_t n = (int64_t)img.w * img.h;
    static const uint8_t blue[3] = {0x1f, 0x77, 0xb4}, red[3] = {0xd6, 0x27, 0x28}; /* report.c's palette */
    uint8_t bg[3];
    mmc_shapes_background_rgb(bg);
    /* the commonest colour is the page's background; "ink" is everything else */
    int *hist = calloc(4096, sizeof(int));
    if (!hist) { mmc_image_free(&img); return cli_error(3, "demo: out of memory"); }
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *p = img.data + i * 3;
        hist[(p[0] >> 4) << 8 | (p[1] >> 4) << 4 | p[2] >> 4]++;
    }
    int colours = 0, top = 0;
    for (int i = 0; i < 4096; i++) {
        colours += hist[i] > 0;
        if (hist[i] > hist[top]) top = i;
    }
    double ink = n ? 1.0 - (double)hist[top] / n : 0;
    free(hist);
    int64_t l_blue = line_pixels(&img, blue), l_red = line_pixels(&img, red), scene = solid_blocks(&img, bg);
    printf("screenshot %s: %dx%d, %d colour bins, %.1f%% ink, curve pixels %lld (English) / %lld (Chinese), "
           "scene-background 8x8 blocks %lld\n", png, img.w, img.h, colours, 100 * ink, (long long)l_blue, (long long)l_red,
           (long long)scene);
    mmc_image_free(&img);
    const char *why = NULL;
    if (n < 400 * 300) why = "the image is smaller than 400x300";
    else if (ink < 0.02) why = "the page is nearly uniform (under 2% ink)";
    else if (colours < 64) why = "too few colours for charts and images";
    else if (l_blue < 600 || l_red < 600) why = "the training curves are not visible";
    else if (scene < 600) why = "the scene images are not visible"; /* a 128 px scene holds up to 256 blocks */
    if (why) return cli_error(3, "demo: %s does not look like a rendered report: %s", png, why);
    printf("screenshot looks like a rendered report (curves and scene images visible)\n");
    return 0;
}
