/* shapes_sound.c — the sounds of the sounding-shapes world (mmc_shapes_av_clip_make,
 * docs/audio.md): one event of a clip is heard, each kind of event with its own sound.
 *
 *   move       white noise through a band-pass (a two-pole resonator at 3-6 times the
 *              base pitch), swelling and fading over the clip: a whoosh
 *   grow       a tone gliding up an octave from the base pitch over the clip
 *   shrink     the same gliding down an octave to the base pitch
 *   recolour   the base note, then a fifth higher from the frame the colour changes
 *   appear     silence, then a plucked note (sharp attack, decay ~0.15 s) from the frame
 *              the object appears
 *   disappear  a steady note from the start, cut with a short click at the frame it goes
 *
 * A tone is its fundamental and a second harmonic at 0.3; the base pitch is log-uniform
 * over two octaves (220-880 Hz), the loudness uniform in [0.2, 0.45], and a background of
 * white noise at 0.003-0.015 runs under everything. Nothing depends on the object's
 * colour or shape: the sound says which kind of event, never which object. The noise of
 * "move" is scaled so its middle half's RMS is 0.45 of the loudness. Onsets and
 * ends are ramped over 5 ms except the cut of "disappear" (its click is the point). */
#include "shapes_internal.h"
#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static double ramp(double t, double t0, double t1) { /* 5 ms fades at both ends of [t0, t1) */
    const double r = 0.005;
    if (t < t0 || t >= t1) return 0.0;
    double a = (t - t0) / r, b = (t1 - t) / r;
    double g = a < 1.0 ? a : 1.0;
    return b < g ? b : g;
}

void mmc_shapes_clip_sound(const mmc_shapes_clip *c, int who, int fps, int rate, mmc_rng *rng, float *out, int64_t n) {
    memset(out, 0, sizeof(float) * (size_t)n);
    if (who < 0 || who >= c->n || fps < 1 || rate < 1 || n < 1) return;
    const mmc_shape_track *o = &c->obj[who];
    const double D = (double)n / rate, f0 = 220.0 * pow(2.0, 2.0 * mmc_rng_uniform(rng));
    const double amp = 0.2 + 0.25 * mmc_rng_uniform(rng), noise = 0.003 + 0.012 * mmc_rng_uniform(rng);
    const double tc = (double)o->change / fps; /* when a discrete change shows first */
    /* the band-pass of "move": y = x - a1 y1 - a2 y2 at centre fc, pole radius 0.98 */
    const double fc = f0 * (3.0 + 3.0 * mmc_rng_uniform(rng)), rr = 0.98;
    const double a1 = -2.0 * rr * cos(2.0 * PI * fc / rate), a2 = rr * rr, gain = (1.0 - rr) * 2.0;
    double y1 = 0, y2 = 0, phase = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate, s = 0.0, f = f0, env = 0.0;
        switch (o->event) {
        case MMC_EVENT_MOVE: {
            double x = 2.0 * mmc_rng_uniform(rng) - 1.0, y = gain * x - a1 * y1 - a2 * y2;
            y2 = y1, y1 = y;
            double w = sin(PI * t / D);
            s = y * w * w * ramp(t, 0, D); /* scaled below */
            break;
        }
        case MMC_EVENT_GROW: f = f0 * pow(2.0, t / D), env = ramp(t, 0, D); break;
        case MMC_EVENT_SHRINK: f = f0 * pow(2.0, 1.0 - t / D), env = ramp(t, 0, D); break;
        case MMC_EVENT_RECOLOUR: f = t < tc ? f0 : f0 * 1.5, env = t < tc ? ramp(t, 0, tc) : ramp(t, tc, D); break;
        case MMC_EVENT_APPEAR: env = t < tc ? 0.0 : exp(-(t - tc) / 0.15) * ramp(t, tc, D); break;
        case MMC_EVENT_DISAPPEAR:
            env = t < tc ? ramp(t, 0, D) : 0.0;
            if (t >= tc && t < tc + 0.004) s = 0.8 * (2.0 * mmc_rng_uniform(rng) - 1.0); /* the click */
            break;
        default: break;
        }
        phase += 2.0 * PI * f / rate;
        if (phase > 2.0 * PI) phase -= 2.0 * PI;
        if (o->event != MMC_EVENT_MOVE) s += env * (sin(phase) + 0.3 * sin(2.0 * phase));
        out[i] = (float)s;
    }
    /* the whoosh's level depends on where its band sits: set its middle half's RMS to
     * 0.45 of the loudness (a tone's is ~0.74) */
    double scale = amp;
    if (o->event == MMC_EVENT_MOVE) {
        double ss = 0;
        for (int64_t i = n / 4; i < n - n / 4; i++) ss += (double)out[i] * out[i];
        double r = sqrt(ss / (double)(n - n / 4 - n / 4 > 0 ? n - n / 4 - n / 4 : 1));
        scale = r > 0 ? amp * 0.45 / r : 0.0;
    }
    for (int64_t i = 0; i < n; i++) out[i] = (float)(scale * out[i] + noise * (2.0 * mmc_rng_uniform(rng) - 1.0));
}
