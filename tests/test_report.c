/* test_report.c — the HTML report writer (src/io/report.c): escaping, inline images that
 * decode back to their pixels, charts from metrics.jsonl, hostile text and ranges. */
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[256];
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/mmc-report-XXXXXX");
        if (!mkdtemp(g_dir)) return NULL;
    }
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Decodes standard base64 (stops at the first character outside the alphabet). */
static uint8_t *unbase64(const char *s, size_t *n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = 0;
    while (s[len] && (strchr(A, s[len]) || s[len] == '=')) len++;
    uint8_t *out = malloc(len / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        acc = acc << 6 | (uint32_t)(strchr(A, s[i]) - A);
        bits += 6;
        if (bits >= 8) { bits -= 8; out[o++] = (uint8_t)(acc >> bits); }
    }
    *n = o;
    return out;
}

/* The n-th data URI's payload in html (0-based), or NULL. */
static const char *nth_data_uri(const char *html, int n) {
    const char *p = html;
    for (int i = 0; i <= n; i++) {
        p = strstr(p, "data:image/png;base64,");
        if (!p) return NULL;
        p += strlen("data:image/png;base64,");
    }
    return p;
}

TEST(report_escapes_text_and_embeds_images) {
    mmc_error err = {0};
    mmc_report *r = mmc_report_new("<script>alert(1)</script> & \"q\"", &err);
    REQUIRE(r, "new: %s", err.msg);
    CHECK(mmc_report_heading(r, "Metrics <b>", &err) == MMC_OK, "heading: %s", err.msg);
    CHECK(mmc_report_text(r, "line one\nline <two> 'x'\x01", &err) == MMC_OK, "text: %s", err.msg);
    int t = mmc_report_table(r, "table & caption", 2, (const char *[]){"metric", "value"}, &err);
    REQUIRE(t >= 0, "table: %s", err.msg);
    CHECK(mmc_report_table_row(r, t, (const char *[]){"R@1 <img src=x>", "0.875"}, &err) == MMC_OK, "row: %s", err.msg);
    CHECK(mmc_report_table_row(r, t, (const char *[]){"中文 一个红色圆形", "97.5%"}, &err) == MMC_OK, "row zh: %s", err.msg);
    int c = mmc_report_chart(r, "loss", "step", "loss </text>", &err);
    REQUIRE(c >= 0, "chart: %s", err.msg);
    double x[5] = {1, 10, 20, 30, 40}, y[5] = {5, 3, NAN, 1.5, 1};
    CHECK(mmc_report_series(r, c, "en <s>", x, y, 5, &err) == MMC_OK, "series: %s", err.msg);
    int g = mmc_report_gallery(r, "examples", &err);
    REQUIRE(g >= 0, "gallery: %s", err.msg);
    uint8_t px[3 * 4 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 37 + 11);
    CHECK(mmc_report_example_pixels(r, g, 4, 3, 3, px, "a <caption>\nsecond line", 1, &err) == MMC_OK, "pixels: %s", err.msg);
    const char *png = tmp_path("img.png");
    REQUIRE(png, "mkdtemp");
    uint8_t px2[5 * 2 * 3];
    for (int i = 0; i < (int)sizeof px2; i++) px2[i] = (uint8_t)(255 - i * 7);
    REQUIRE(mmc_png_write(png, 5, 2, 3, px2, &err) == MMC_OK, "png write: %s", err.msg);
    CHECK(mmc_report_example_file(r, g, png, "from a file", -1, &err) == MMC_OK, "file: %s", err.msg);
    CHECK(mmc_report_example_file(r, g, NULL, "text only", 0, &err) == MMC_OK, "text only: %s", err.msg);
    /* a strip (a clip's frames side by side) keeps its size and is shown wide */
    static uint8_t strip[64 * 520 * 3];
    CHECK(mmc_report_example_pixels(r, g, 520, 64, 3, strip, "a strip", 0, &err) == MMC_OK, "strip: %s", err.msg);

    char *html = mmc_report_html(r, &err);
    REQUIRE(html, "html: %s", err.msg);
    CHECK(!strstr(html, "<script"), "a script tag got through");
    CHECK(!strstr(html, "<b>") && !strstr(html, "<img src=x>") && !strstr(html, "<s>") && !strstr(html, "<two>"), "markup got through");
    CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"), "title not escaped as expected");
    CHECK(strstr(html, "line one<br>line &lt;two&gt; &#39;x&#39; "), "paragraph: newline/escape/control char");
    CHECK(strstr(html, "中文 一个红色圆形"), "UTF-8 text lost");
    CHECK(strstr(html, "<td class=\"n\">97.5%</td>"), "numbers are right-aligned");
    CHECK(strstr(html, "<svg") && strstr(html, "<polyline") && strstr(html, "loss &lt;/text&gt;"), "chart missing");
    CHECK(strstr(html, "class=\"ex good\"") && strstr(html, "class=\"ex bad\""), "marks missing");
    {
        const char *w = strstr(html, "<div class=\"ex wide\" style=\"width:520px\">");
        int n_wide = 0;
        for (const char *q = html; (q = strstr(q, " wide\" style=")); q++) n_wide++;
        CHECK(w && n_wide == 1 && strstr(w, "a strip"), "the strip is not the one wide example (%d)", n_wide);
    }
    CHECK(!strstr(html, "http://") || strstr(html, "xmlns=\"http://www.w3.org/2000/svg\""), "external reference");
    CHECK(!strstr(html, "src=\"http") && !strstr(html, "href="), "external resource");
    /* the polyline has the 4 finite points only */
    const char *pl = strstr(html, "points=\"");
    if (pl) {
        int pts = 0;
        for (const char *q = pl + 8; *q && *q != '"'; q++) pts += *q == ',';
        CHECK(pts == 4, "polyline has %d points, want 4 (NaN skipped)", pts);
    }
    /* both images decode back to their pixels */
    for (int k = 0; k < 2; k++) {
        const char *b = nth_data_uri(html, k);
        REQUIRE(b, "data URI %d missing", k);
        size_t n = 0;
        uint8_t *bytes = unbase64(b, &n);
        mmc_image img = {0};
        CHECK(mmc_image_decode(&img, bytes, n, "uri", 3, &err) == MMC_OK, "decode %d: %s", k, err.msg);
        const uint8_t *want = k == 0 ? px : px2;
        int w = k == 0 ? 4 : 5, h = k == 0 ? 3 : 2;
        CHECK(img.w == w && img.h == h && img.data && !memcmp(img.data, want, (size_t)w * h * 3), "image %d differs", k);
        mmc_image_free(&img);
        free(bytes);
    }
    mmc_free(html);
    const char *out = tmp_path("r.html");
    CHECK(mmc_report_write(r, out, &err) == MMC_OK, "write: %s", err.msg);
    CHECK(access(out, R_OK) == 0, "no file written");
    mmc_report_free(r);
    unlink(out);
    unlink(png);
    rmdir(g_dir);
}

TEST(report_refuses_bad_text_ids_and_images) {
    mmc_error err = {0};
    CHECK(!mmc_report_new("bad \xff utf-8", &err) && err.code == MMC_ERR_INPUT, "invalid UTF-8 title accepted");
    mmc_report *r = mmc_report_new("t", &err);
    REQUIRE(r, "new");
    CHECK(mmc_report_text(r, "\xc3\x28", &err) == MMC_ERR_INPUT, "invalid UTF-8 text accepted");
    int c = mmc_report_chart(r, "c", "x", "y", &err);
    int g = mmc_report_gallery(r, "g", &err);
    double v = 1;
    CHECK(mmc_report_series(r, g, "s", &v, &v, 1, &err) == MMC_ERR_USAGE, "series into a gallery accepted");
    CHECK(mmc_report_series(r, 99, "s", &v, &v, 1, &err) == MMC_ERR_USAGE, "unknown chart accepted");
    CHECK(mmc_report_example_pixels(r, c, 1, 1, 3, (uint8_t[3]){0}, "x", 0, &err) == MMC_ERR_USAGE, "example into a chart accepted");
    CHECK(mmc_report_table(r, "t", 0, NULL, &err) < 0, "a table without columns accepted");
    const char *bad = tmp_path("broken.png");
    REQUIRE(bad, "mkdtemp");
    write_text(bad, "\x89PNG\r\n\x1a\n truncated");
    CHECK(mmc_report_example_file(r, g, bad, "x", 0, &err) == MMC_ERR_INPUT && strstr(err.msg, "broken.png"),
          "a broken image was embedded: %d %s", err.code, err.msg);
    CHECK(mmc_report_example_file(r, g, tmp_path("missing.png"), "x", 0, &err) != MMC_OK, "a missing image was embedded");
    /* degenerate ranges draw without hanging: one point, a constant, extremes, denormals */
    double xs[3] = {0, 1e-310, 2e-310}, ys[3] = {1e308, -1e308, 1e308}, cs[3] = {2, 2, 2};
    CHECK(mmc_report_series(r, c, "one", xs, cs, 1, &err) == MMC_OK, "one point");
    CHECK(mmc_report_series(r, c, "const", xs, cs, 3, &err) == MMC_OK, "const");
    CHECK(mmc_report_series(r, c, "extreme", xs, ys, 3, &err) == MMC_OK, "extreme");
    CHECK(mmc_report_series(r, c, "empty", NULL, NULL, 0, &err) == MMC_OK, "empty");
    int c2 = mmc_report_chart(r, "nothing", "x", "y", &err);
    CHECK(c2 >= 0, "chart");
    char *html = mmc_report_html(r, &err);
    CHECK(html && strstr(html, "no data"), "an empty chart should say so");
    CHECK(html && !strstr(html, "nan") && !strstr(html, "inf"), "non-finite coordinates in the SVG");
    mmc_free(html);
    mmc_report_free(r);
    unlink(bad);
    rmdir(g_dir);
}

TEST(report_series_from_metrics_jsonl) {
    mmc_error err = {0};
    const char *path = tmp_path("metrics.jsonl");
    REQUIRE(path, "mkdtemp");
    write_text(path,
               "{\"step\": 1, \"loss\": 5.0}\n"
               "{\"step\": 10, \"loss\": 4.0}\n"
               "\n"
               "{\"step\": 10, \"val\": {\"text_to_image\": {\"R@1\": 0.25}}}\n"
               "{\"step\": 20, \"loss\": \"x\"}\n"
               "{\"step\": 20, \"loss\": 3.0}\n"
               "{\"step\": 30, \"lo");
    mmc_report *r = mmc_report_new("t", &err);
    int c = mmc_report_chart(r, "c", "step", "loss", &err);
    int n = -1;
    CHECK(mmc_report_series_jsonl(r, c, "loss", path, "step", "loss", &n, &err) == MMC_OK, "loss: %s", err.msg);
    CHECK(n == 3, "loss points %d, want 3 (a string value and a torn last line skipped)", n);
    CHECK(mmc_report_series_jsonl(r, c, "R@1", path, "step", "val.text_to_image.R@1", &n, &err) == MMC_OK, "R@1: %s", err.msg);
    CHECK(n == 1, "R@1 points %d, want 1", n);
    CHECK(mmc_report_series_jsonl(r, c, "x", path, "step", "val.", &n, &err) == MMC_OK && n == 0, "a key ending in a dot matches nothing");
    write_text(path, "{\"step\": 1, \"loss\": 5.0}\nnot json\n{\"step\": 2, \"loss\": 4.0}\n");
    CHECK(mmc_report_series_jsonl(r, c, "bad", path, "step", "loss", &n, &err) == MMC_ERR_INPUT && strstr(err.msg, "metrics.jsonl:2"),
          "a bad middle line: %d %s", err.code, err.msg);
    CHECK(mmc_report_series_jsonl(r, c, "missing", tmp_path("nope.jsonl"), "step", "loss", &n, &err) != MMC_OK, "a missing file");
    mmc_report_free(r);
    unlink(path);
    rmdir(g_dir);
}

TEST(png_encode_roundtrip) {
    mmc_error err = {0};
    for (int ch = 1; ch <= 4; ch++) {
        int w = 7, h = 5;
        uint8_t px[7 * 5 * 4];
        for (int i = 0; i < w * h * ch; i++) px[i] = (uint8_t)(i * 29 + ch);
        uint8_t *png = NULL;
        size_t n = 0;
        REQUIRE(mmc_png_encode(w, h, ch, px, &png, &n, &err) == MMC_OK, "encode %d: %s", ch, err.msg);
        mmc_image img = {0};
        int want_c = ch <= 2 ? 1 : 3;
        CHECK(mmc_image_decode(&img, png, n, "mem", want_c, &err) == MMC_OK, "decode %d: %s", ch, err.msg);
        int ok = img.w == w && img.h == h;
        for (int i = 0; ok && i < w * h; i++)
            for (int k = 0; k < want_c; k++) ok &= img.data[i * want_c + k] == px[i * ch + k];
        CHECK(ok, "%d channels: pixels differ after the round trip", ch);
        mmc_image_free(&img);
        mmc_free(png);
    }
    uint8_t *png = NULL;
    size_t n = 0;
    CHECK(mmc_png_encode(0, 3, 3, (uint8_t[3]){0}, &png, &n, &err) == MMC_ERR_USAGE, "zero width accepted");
    CHECK(mmc_png_encode(1, 1, 5, (uint8_t[5]){0}, &png, &n, &err) == MMC_ERR_USAGE, "5 channels accepted");
}
