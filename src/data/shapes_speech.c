/* shapes_speech.c — spoken captions for the shapes world: `mmc data shapes --audio`.
 *
 * eSpeak NG (Debian's libespeak-ng) reads each chosen caption aloud: English captions in
 * an English voice, Chinese ones in its Mandarin voice ("cmn"). A formant synthesiser is
 * robotic, but it is small, fast (hundreds of times real time), offline and deterministic,
 * and its voice variants (+m1 ... +f5: other pitch, formants and breathiness) together with
 * the speed and pitch drawn for each utterance give speakers a model has to generalise
 * across. The variants are split by purpose: train uses some, val and test others, so a
 * recall measured on test is a recall on unheard voices.
 *
 * The synthesiser keeps global state, so utterances are made one after another (a mutex
 * guards it in case two callers share a process). Its 22,050 Hz output is resampled to
 * 16 kHz (libsoxr, as every sound file is) and written as Ogg Vorbis by default: a spoken
 * caption of ~5 s is ~20 KB, where 16-bit WAV would be ~160 KB. */
#include "shapes_internal.h"
#include <espeak-ng/speak_lib.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define SPEECH_RATE 16000
#define SPEECH_MAX_SAMPLES (22050 * 60) /* one utterance: a minute at most */
#define SPEECH_BATCH 256                /* scenes between progress reports */

/* Voice variants by split: train hears these ... */
static const char *const TRAIN_VARIANTS[] = {"m1", "m2", "m3", "m4", "f1", "f2", "f3"};
/* ... val and test only these (never used in training) */
static const char *const HELD_OUT_VARIANTS[] = {"m5", "m6", "m7", "f4", "f5"};
static const char *const EN_TRAIN_VOICES[] = {"en-us", "en" /* British: gmw/en */};
static const char *const EN_HELD_OUT_VOICES[] = {"en-us", "en", "en-029", "en-gb-scotland"};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

mmc_speech_opts mmc_speech_opts_default(void) {
    mmc_speech_opts o;
    memset(&o, 0, sizeof o);
    o.per_scene = 1;
    o.en = o.zh = 1;
    snprintf(o.format, sizeof o.format, "ogg");
    return o;
}

/* ------------------------------------------------------------------ the synthesiser */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_rate; /* the synthesiser's output rate once it started; -1 if it cannot */
static struct {
    short *buf;
    int64_t n, cap;
    int overflow;
} g_acc;

static int on_samples(short *wav, int n, espeak_EVENT *ev) {
    (void)ev;
    if (!wav || n <= 0) return 0;
    if (g_acc.n + n > SPEECH_MAX_SAMPLES) {
        g_acc.overflow = 1;
        return 1; /* stop */
    }
    if (g_acc.n + n > g_acc.cap) {
        int64_t cap = g_acc.cap ? g_acc.cap * 2 : 65536;
        while (cap < g_acc.n + n) cap *= 2;
        short *b = mmc_realloc(g_acc.buf, sizeof(short) * (size_t)cap);
        if (!b) {
            g_acc.overflow = 1;
            return 1;
        }
        g_acc.buf = b;
        g_acc.cap = cap;
    }
    memcpy(g_acc.buf + g_acc.n, wav, sizeof(short) * (size_t)n);
    g_acc.n += n;
    return 0;
}

int mmc_speech_synth(const char *text, const char *voice, int rate, int pitch, float **out, int64_t *n, mmc_error *err) {
    *out = NULL;
    *n = 0;
    if (!text || !voice || !*text) return mmc_error_set(err, MMC_ERR_USAGE, "speech: nothing to say");
    if (rate < espeakRATE_MINIMUM || rate > espeakRATE_MAXIMUM || pitch < 0 || pitch > 100)
        return mmc_error_set(err, MMC_ERR_USAGE, "speech: rate %d (80..450 words a minute) or pitch %d (0..100)", rate, pitch);
    pthread_mutex_lock(&g_mu);
    if (!g_rate) {
        g_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
        if (g_rate <= 0) g_rate = -1;
        else espeak_SetSynthCallback(on_samples);
    }
    int rc = MMC_OK;
    if (g_rate < 0)
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: eSpeak NG did not start (is espeak-ng-data installed? "
                                                 "sh scripts/install-deps.sh)");
    else if (espeak_SetVoiceByName(voice) != EE_OK)
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: eSpeak NG has no voice \"%s\"", voice);
    if (!rc) {
        espeak_SetParameter(espeakRATE, rate, 0);
        espeak_SetParameter(espeakPITCH, pitch, 0);
        g_acc.n = 0;
        g_acc.overflow = 0;
        if (espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL) != EE_OK ||
            espeak_Synchronize() != EE_OK)
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: eSpeak NG failed on \"%.80s\"", text);
        else if (g_acc.overflow)
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: \"%.80s\" is longer than a minute (or out of memory)", text);
        else if (g_acc.n == 0)
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: eSpeak NG made no sound for \"%.80s\"", text);
    }
    float *f = NULL;
    int64_t nf = g_acc.n;
    if (!rc && !(f = mmc_malloc(sizeof(float) * (size_t)nf))) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: out of memory");
    for (int64_t i = 0; !rc && i < nf; i++) f[i] = g_acc.buf[i] / 32768.0f;
    int in_rate = g_rate;
    pthread_mutex_unlock(&g_mu);
    if (!rc) rc = mmc_audio_resample(f, nf, in_rate, SPEECH_RATE, out, n, err);
    mmc_free(f);
    return rc;
}

/* ------------------------------------------------------------------ a split */

static int held_out(const char *split) { return strcmp(split, "train") != 0; }

/* The voice for one utterance: base voice + variant, drawn from the split's set. */
static void pick_voice(mmc_rng *rng, const char *split, int zh, char *voice, size_t n) {
    int h = held_out(split);
    const char *base = zh ? "cmn" : h ? EN_HELD_OUT_VOICES[mmc_rng_below(rng, N_OF(EN_HELD_OUT_VOICES))]
                                      : EN_TRAIN_VOICES[mmc_rng_below(rng, N_OF(EN_TRAIN_VOICES))];
    const char *var = h ? HELD_OUT_VARIANTS[mmc_rng_below(rng, N_OF(HELD_OUT_VARIANTS))]
                        : TRAIN_VARIANTS[mmc_rng_below(rng, N_OF(TRAIN_VARIANTS))];
    snprintf(voice, n, "%s+%s", base, var);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = mmc_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* One utterance of a batch: what to say, how, and (after synthesis) its samples. */
typedef struct utterance {
    mmc_sample *s;
    const char *text;
    char voice[64];
    int zh, j, wpm, pitch;
    float *x;
    int64_t nx;
} utterance;

/* The utterances of scene i: its captions, voices, speeds and pitches, drawn from the
 * scene's own rng stream (so they do not depend on the other scenes). Appends to u. */
static int plan_scene(const mmc_speech_opts *o, const char *split, uint64_t seed, mmc_sample *s, int i, utterance *u) {
    mmc_rng rng;
    mmc_rng_seed(&rng, seed ^ 0x5350454543480000ull /* "SPEECH" */, shapes_stream(split, i));
    int k = 0;
    for (int zh = 0; zh < 2; zh++) {
        char **caps = zh ? s->captions_zh : s->captions;
        int nc = zh ? s->n_captions_zh : s->n_captions;
        if ((zh ? !o->zh : !o->en) || nc < 1) continue;
        uint32_t c0 = mmc_rng_below(&rng, (uint32_t)nc);
        for (int j = 0; j < o->per_scene; j++, k++) {
            utterance *t = &u[k];
            memset(t, 0, sizeof *t);
            t->s = s, t->zh = zh, t->j = j;
            t->text = caps[(c0 + (uint32_t)j) % (uint32_t)nc]; /* distinct captions while there are enough */
            pick_voice(&rng, split, zh, t->voice, sizeof t->voice);
            /* eSpeak counts a Chinese character as a word: 240-300 is 4-5 syllables a second,
             * natural Mandarin (at 130-190 a caption took 10-20 s, 3x the English one) */
            t->wpm = (zh ? 240 : 140) + (int)mmc_rng_below(&rng, 61);
            t->pitch = 30 + (int)mmc_rng_below(&rng, 41);
        }
    }
    return k;
}

/* Writes an utterance's sound file and its entry in the sample's audio list (slot k). */
static int write_utterance(const char *dir, const mmc_speech_opts *o, utterance *t, int k, mmc_error *err) {
    char rel[256], path[4400];
    snprintf(rel, sizeof rel, "audio/%s-%s-%d.%s", t->s->id, t->zh ? "zh" : "en", t->j, o->format);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int rc = mmc_audio_write(path, t->x, t->nx, SPEECH_RATE, o->format, err);
    if (rc) return rc;
    mmc_audio_ref *r = &t->s->audio[k];
    r->path = dup_str(rel);
    r->lang = dup_str(t->zh ? "zh" : "en");
    r->text = dup_str(t->text);
    r->voice = dup_str(t->voice);
    if (!r->path || !r->lang || !r->text || !r->voice) return mmc_error_set(err, MMC_ERR_RUNTIME, "speech: out of memory");
    return MMC_OK;
}

int mmc_shapes_speak_split(const char *dir, const char *split, uint64_t seed, const mmc_speech_opts *o,
                           void (*progress)(void *user, int64_t done, int64_t total), void *user, mmc_error *err) {
    mmc_speech_opts def = mmc_speech_opts_default();
    if (!o) o = &def;
    if (!dir || !shapes_valid_split(split)) return mmc_error_set(err, MMC_ERR_USAGE, "speech: bad folder or split");
    if (o->per_scene < 1 || o->per_scene > 5 || (!o->en && !o->zh))
        return mmc_error_set(err, MMC_ERR_USAGE, "speech: 1 to 5 spoken captions per scene, in English or Chinese or both");
    if (strcmp(o->format, "ogg") && strcmp(o->format, "flac") && strcmp(o->format, "wav"))
        return mmc_error_set(err, MMC_ERR_USAGE, "speech: format \"%s\" (ogg, flac or wav)", o->format);
    mmc_manifest *m = mmc_manifest_load(dir, split, err);
    if (!m) return err ? err->code : MMC_ERR_INPUT;
    char path[4200];
    snprintf(path, sizeof path, "%s/audio", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        mmc_manifest_free(m);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "cannot create %s: %s", path, strerror(errno));
    }
    int todo = o->max_scenes > 0 && o->max_scenes < m->count ? (int)o->max_scenes : m->count, rc = MMC_OK;
    int per = (o->en + o->zh) * o->per_scene;
    utterance *u = mmc_calloc((size_t)SPEECH_BATCH * per, sizeof *u);
    int *slot = mmc_calloc((size_t)SPEECH_BATCH * per, sizeof *slot);
    if (!u || !slot) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: out of memory");
    for (int at = 0; at < todo && !rc; at += SPEECH_BATCH) {
        int nb = todo - at < SPEECH_BATCH ? todo - at : SPEECH_BATCH, nu = 0;
        for (int b = 0; b < nb && !rc; b++) {
            mmc_sample *s = &m->samples[at + b];
            int k = plan_scene(o, split, seed, s, at + b, u + nu);
            if (!(s->audio = mmc_calloc((size_t)(k ? k : 1), sizeof(mmc_audio_ref))))
                rc = mmc_error_set(err, MMC_ERR_RUNTIME, "speech: out of memory");
            for (int q = 0; q < k; q++) slot[nu + q] = q;
            nu += k;
        }
        /* synthesis in order, one utterance after another: eSpeak NG carries state from
         * one utterance to the next (the same text twice differs by a few samples), so the
         * order is what makes a run repeatable */
        for (int q = 0; q < nu && !rc; q++) rc = mmc_speech_synth(u[q].text, u[q].voice, u[q].wpm, u[q].pitch, &u[q].x, &u[q].nx, err);
        /* encoding (most of the time, for Ogg) in parallel */
        int bad = -1;
        mmc_error first = {0};
        if (!rc) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(mmc_get_threads())
            for (int q = 0; q < nu; q++) {
                mmc_error e = {0};
                if (write_utterance(dir, o, &u[q], slot[q], &e)) {
#pragma omp critical(mmc_speech_error)
                    if (bad < 0 || q < bad) bad = q, first = e;
                }
            }
        }
        for (int q = 0; q < nu; q++) {
            if (bad < 0 && !rc) u[q].s->n_audio = slot[q] + 1;
            mmc_free(u[q].x);
            u[q].x = NULL;
        }
        if (bad >= 0) {
            if (err) *err = first;
            rc = first.code ? first.code : MMC_ERR_RUNTIME;
        }
        if (progress && !rc) progress(user, at + nb, todo);
    }
    mmc_free(u);
    mmc_free(slot);
    if (!rc) { /* the manifest last: a manifest that lists audio has all of it */
        snprintf(path, sizeof path, "%s/manifest-%s.jsonl", dir, split);
        rc = mmc_manifest_write(path, m->samples, m->count, err);
    }
    mmc_manifest_free(m);
    return rc;
}
