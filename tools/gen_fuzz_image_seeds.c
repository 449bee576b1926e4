/* gen_fuzz_image_seeds.c — writes the small PNG and JPEG files committed as seeds of the
 * fuzz_image target (fuzz/seeds/image/): one file per decoder branch mmc_image_decode
 * takes (PNG bit depths 1-16, gray, gray+alpha, RGB, RGBA, palette, tRNS, Adam7
 * interlacing; JPEG baseline, progressive, arithmetic, restart markers, gray, RGB-stored,
 * CMYK with and without the Adobe marker, YCCK). Sizes are odd and tiny on purpose: a
 * seed is mutated millions of times. Not part of the build; run by hand when the set
 * should change:
 *
 *   cc tools/gen_fuzz_image_seeds.c -lpng -ljpeg -o /tmp/gen && /tmp/gen fuzz/seeds/image
 */
#include <stdio.h> /* before jpeglib.h, which needs FILE and size_t */
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

static const char *dir;

/* A deterministic pattern value for (x, y, channel). */
static unsigned px(int x, int y, int c, unsigned maxv) { return (unsigned)((x * 37 + y * 91 + c * 53 + x * y * 7) % (maxv + 1)); }

static void png_file(const char *name, int w, int h, int depth, int type, int interlace, int trns) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) { fprintf(stderr, "%s: libpng error\n", name); exit(1); }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    int ch = type == PNG_COLOR_TYPE_GRAY ? 1 : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : type == PNG_COLOR_TYPE_RGB ? 3
           : type == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    unsigned maxv = (1u << depth) - 1;
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        int n = 1 << depth;
        for (int i = 0; i < n; i++) pal[i] = (png_color){(png_byte)(i * 53), (png_byte)(255 - i * 29), (png_byte)(i * 97)};
        png_set_PLTE(png, info, pal, n);
        if (trns) {
            png_byte a[2] = {0, 128};
            png_set_tRNS(png, info, a, 2, NULL);
        }
    } else if (trns) {
        png_color_16 c = {0, (png_uint_16)px(1, 0, 0, maxv), (png_uint_16)px(1, 0, 1, maxv), (png_uint_16)px(1, 0, 2, maxv),
                          (png_uint_16)px(1, 0, 0, maxv)};
        png_set_tRNS(png, info, NULL, 0, &c);
    }
    png_write_info(png, info);
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    png_bytep *rows = malloc(sizeof *rows * h);
    for (int y = 0; y < h; y++) {
        rows[y] = calloc(rowbytes, 1);
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = px(x, y, c, maxv);
                size_t bit = ((size_t)x * ch + c) * depth;
                if (depth == 16) { rows[y][bit / 8] = (png_byte)(v >> 8); rows[y][bit / 8 + 1] = (png_byte)v; }
                else if (depth == 8) rows[y][bit / 8] = (png_byte)v;
                else rows[y][bit / 8] |= (png_byte)(v << (8 - depth - bit % 8));
            }
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    for (int y = 0; y < h; y++) free(rows[y]);
    free(rows);
    fclose(f);
}

typedef struct { int comps, progressive, arith, restart, adobe, smooth; J_COLOR_SPACE in, out; } jspec;

static void jpeg_file(const char *name, int w, int h, int quality, jspec s) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = s.comps;
    ci.in_color_space = s.in;
    jpeg_set_defaults(&ci);
    jpeg_set_colorspace(&ci, s.out);
    ci.write_Adobe_marker = s.adobe;
    jpeg_set_quality(&ci, quality, TRUE);
    if (s.progressive) jpeg_simple_progression(&ci);
    ci.arith_code = s.arith;
    ci.restart_in_rows = s.restart;
    ci.smoothing_factor = s.smooth;
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * s.comps);
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < s.comps; c++) row[x * s.comps + c] = (unsigned char)px(x, (int)ci.next_scanline, c, 255);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR\n", argv[0]); return 2; }
    dir = argv[1];
    png_file("png_gray1_5x3.png", 5, 3, 1, PNG_COLOR_TYPE_GRAY, 0, 0);
    png_file("png_gray2_3x2.png", 3, 2, 2, PNG_COLOR_TYPE_GRAY, 0, 0);
    png_file("png_gray4_trns_5x2.png", 5, 2, 4, PNG_COLOR_TYPE_GRAY, 0, 1);
    png_file("png_gray8_1x1.png", 1, 1, 8, PNG_COLOR_TYPE_GRAY, 0, 0);
    png_file("png_gray16_3x3.png", 3, 3, 16, PNG_COLOR_TYPE_GRAY, 0, 0);
    png_file("png_graya8_3x2.png", 3, 2, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0, 0);
    png_file("png_graya16_2x3.png", 2, 3, 16, PNG_COLOR_TYPE_GRAY_ALPHA, 0, 0);
    png_file("png_rgb8_7x5.png", 7, 5, 8, PNG_COLOR_TYPE_RGB, 0, 0);
    png_file("png_rgb8_trns_4x3.png", 4, 3, 8, PNG_COLOR_TYPE_RGB, 0, 1);
    png_file("png_rgb16_3x2.png", 3, 2, 16, PNG_COLOR_TYPE_RGB, 0, 0);
    png_file("png_rgba8_5x4.png", 5, 4, 8, PNG_COLOR_TYPE_RGBA, 0, 0);
    png_file("png_rgba16_2x2.png", 2, 2, 16, PNG_COLOR_TYPE_RGBA, 0, 0);
    png_file("png_pal1_9x2.png", 9, 2, 1, PNG_COLOR_TYPE_PALETTE, 0, 0);
    png_file("png_pal2_trns_5x3.png", 5, 3, 2, PNG_COLOR_TYPE_PALETTE, 0, 1);
    png_file("png_pal4_3x3.png", 3, 3, 4, PNG_COLOR_TYPE_PALETTE, 0, 0);
    png_file("png_pal8_trns_6x5.png", 6, 5, 8, PNG_COLOR_TYPE_PALETTE, 0, 1);
    png_file("png_adam7_rgb8_9x7.png", 9, 7, 8, PNG_COLOR_TYPE_RGB, 1, 0);
    png_file("png_adam7_pal4_5x5.png", 5, 5, 4, PNG_COLOR_TYPE_PALETTE, 1, 0);
    png_file("png_adam7_gray16_3x5.png", 3, 5, 16, PNG_COLOR_TYPE_GRAY, 1, 0);
    jpeg_file("jpeg_baseline_17x13.jpg", 17, 13, 75, (jspec){3, 0, 0, 0, 0, 0, JCS_RGB, JCS_YCbCr});
    jpeg_file("jpeg_progressive_17x9.jpg", 17, 9, 80, (jspec){3, 1, 0, 0, 0, 0, JCS_RGB, JCS_YCbCr});
    jpeg_file("jpeg_arith_9x9.jpg", 9, 9, 70, (jspec){3, 0, 1, 0, 0, 0, JCS_RGB, JCS_YCbCr});
    jpeg_file("jpeg_restart_17x17.jpg", 17, 17, 60, (jspec){3, 0, 0, 1, 0, 10, JCS_RGB, JCS_YCbCr});
    jpeg_file("jpeg_gray_9x7.jpg", 9, 7, 90, (jspec){1, 0, 0, 0, 0, 0, JCS_GRAYSCALE, JCS_GRAYSCALE});
    jpeg_file("jpeg_gray_progressive_5x11.jpg", 5, 11, 90, (jspec){1, 1, 0, 0, 0, 0, JCS_GRAYSCALE, JCS_GRAYSCALE});
    jpeg_file("jpeg_rgb_stored_8x8.jpg", 8, 8, 95, (jspec){3, 0, 0, 0, 0, 0, JCS_RGB, JCS_RGB});
    jpeg_file("jpeg_cmyk_adobe_7x3.jpg", 7, 3, 90, (jspec){4, 0, 0, 0, 1, 0, JCS_CMYK, JCS_CMYK});
    jpeg_file("jpeg_cmyk_no_marker_3x7.jpg", 3, 7, 90, (jspec){4, 0, 0, 0, 0, 0, JCS_CMYK, JCS_CMYK});
    jpeg_file("jpeg_ycck_9x5.jpg", 9, 5, 90, (jspec){4, 1, 0, 0, 1, 0, JCS_CMYK, JCS_YCCK});
    jpeg_file("jpeg_1x1.jpg", 1, 1, 50, (jspec){3, 0, 0, 0, 0, 0, JCS_RGB, JCS_YCbCr});
    return 0;
}
