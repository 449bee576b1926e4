/* fuzz_audio.c — libFuzzer target for sound files from memory (mmc_audio_decode: any format
 * the system's libsndfile reads, through mmc's memory I/O, the mixdown to mono, the
 * finiteness check, the limits, and libsoxr's resampling), i.e. the path every sound file
 * a user hands mmc takes.
 *
 * The input is a whole file. Its last byte picks the rate asked for: the file's own, or
 * 8, 16 or 22.05 kHz. What must hold: a failure says why; a success gives n >= 1 finite
 * samples at the rate asked for, and info that agrees with them. libsndfile and libsoxr are
 * the system's, not instrumented: coverage feedback sees mmc's side.
 * Seeds: fuzz/seeds/audio (tiny files made with the sox tool).
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "mmc.h"
#include <math.h>
#include <stdlib.h> /* abort */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int rates[4] = {0, 8000, 16000, 22050};
    int rate = rates[(size ? data[size - 1] : 0) & 3];
    mmc_audio a;
    mmc_error err = {0};
    if (mmc_audio_decode(&a, data, size, "fuzz.audio", rate, &err) != MMC_OK) {
        if (err.code == MMC_OK || !err.msg[0]) abort(); /* a failure must say why */
        if (a.samples || a.n) abort();                  /* and leaves nothing behind */
        return 0;
    }
    if (a.n < 1 || !a.samples) abort();
    if (a.rate != (rate ? rate : a.info.rate) || a.info.channels < 1 || a.info.frames < 1) abort();
    if (!rate && a.n != a.info.frames) abort();
    for (int64_t i = 0; i < a.n; i++)
        if (!isfinite(a.samples[i])) abort();
    mmc_audio_free(&a);
    return 0;
}
