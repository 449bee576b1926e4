/* fuzz_image.c — libFuzzer target for image decoding (PNG, JPEG, PPM/PGM) and for the
 * resampling, crop and augmentation code run on whatever came out.
 *
 * The input is a whole image file, decoded from memory by mmc_image_decode. The last byte
 * of the input also steers what happens next (a PNG or JPEG ignores what follows its end
 * marker, and a PPM's trailing byte is one sample, so this costs the decoders little):
 * gray or RGB output, the resampling filter and flavour, and the small target size, so
 * resize runs on every odd source size the decoders can produce and on odd target sizes.
 * A crash here is an out-of-bounds read of the file, a bad row stride, a size overflow or
 * a filter-window bug.
 *
 * The pixel cap is lowered to 2^22 pixels (a 2048x2048 image): compression lets a 256 KB
 * file claim far more, and decoding those would only slow the fuzzer down; the cap check
 * itself is still exercised. libpng and libjpeg-turbo are the system's, not instrumented,
 * so coverage feedback sees only mmc's side of them.
 *
 * MMC_FUZZ_MAX_LEN 262144 */
#include "mmc.h"
#include <stdlib.h> /* abort */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        mmc_image_set_max_pixels((int64_t)1 << 22);
        init = 1;
    }
    mmc_error err = {0};
    uint8_t k = size ? data[size - 1] : 0, k2 = size > 1 ? data[size - 2] : 0;
    int channels = (k & 1) ? 1 : 3;
    mmc_image img;
    if (mmc_image_decode(&img, data, size, "fuzz.img", channels, &err) != MMC_OK) return 0;
    if (img.w <= 0 || img.h <= 0 || img.c != channels || !img.data) abort();

    /* resize to 1..8 x 1..8 with one of the six filters, either flavour (torchvision has
     * only bilinear and bicubic; the others are a USAGE error, also worth reaching) */
    int w = 1 + (k2 & 7), h = 1 + ((k2 >> 3) & 7);
    int filter = (k >> 1) % 6, flavour = (k >> 4) & 1;
    mmc_image small;
    if (mmc_image_resize_ex(&img, &small, w, h, filter, flavour, &err) == MMC_OK) {
        if (small.w != w || small.h != h || small.c != img.c) abort();
        mmc_image_free(&small);
    }
    /* upscale too when the source is tiny: support windows wider than the image */
    if ((int64_t)img.w * img.h <= 64 &&
        mmc_image_resize_ex(&img, &small, img.w * 3 + 1, img.h * 2 + 1, filter, MMC_IMAGE_PIL, &err) == MMC_OK)
        mmc_image_free(&small);

    /* crops that hang over the edges, both flavours */
    if (mmc_image_center_crop_ex(&img, &small, w + 1, h + 2, flavour, &err) == MMC_OK) mmc_image_free(&small);
    if (mmc_image_crop(&img, &small, -1, img.h - 1, 3, 3, &err) == MMC_OK) mmc_image_free(&small);

    /* augmentation, seeded from the input so runs are reproducible */
    mmc_rng rng;
    mmc_rng_seed(&rng, (uint64_t)size * 31u + k, k2);
    if (mmc_image_random_resized_crop(&img, &small, w, h, 0.08f, 1.0f, 0.75f, 1.3333f, filter, &rng, &err) == MMC_OK) {
        mmc_image_random_hflip(&small, 0.5f, &rng);
        if (small.c == 3) mmc_image_color_jitter(&small, 0.4f, 0.4f, 0.4f, &rng);
        mmc_image_free(&small);
    }

    /* the CLIP recipe: shortest edge, bicubic, centre crop, normalised CHW floats */
    if (img.c == 3) {
        mmc_image_preprocess p = mmc_image_preprocess_clip(1 + (k2 & 7), 1 + (k2 & 3));
        p.flavour = flavour;
        mmc_tensor *t = NULL;
        if (mmc_image_preprocess_run(&p, &img, &t, &err) == MMC_OK) mmc_tensor_free(t);
    }
    mmc_image_free(&img);
    return 0;
}
