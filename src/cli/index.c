/* index.c — `mmc index build --model M (--data DIR [--split S] | --images DIR | --videos DIR
 * [--window SECONDS] [--frames T] | --texts FILE) --out INDEX`: embeds every image of a
 * manifest split (in manifest order) or every image file of a folder (sorted by name, not
 * recursive), in batches, and writes an index file (src/index) recording each image's
 * absolute path and the model's id, so `mmc search` can reopen the model and show paths
 * that work from any directory. --videos: every video file of the folder, cut into segments
 * of --window seconds (default: a whole file is one), each an item named PATH#t=START,END (a
 * W3C media fragment: `mmc search` shows which clip and when). --texts: the texts of a file
 * (index_texts.c), an index of kind texts (with ids when the file gives them), which `mmc
 * search` answers by text or by image (以图搜文). Images are decoded on a second thread a
 * batch ahead of the model (the image pipeline, below; MMC_INDEX_OVERLAP=0 turns it off).
 * Progress goes to stdout; the closing line on stderr gives the rate end to end. */
#include "cli.h"
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_DEFAULT_BATCH 64

typedef struct path_list {
    char **v;
    int n, cap;
} path_list;

static void paths_free(path_list *p) {
    for (int i = 0; i < p->n; i++) mmc_free(p->v[i]);
    mmc_free(p->v);
    memset(p, 0, sizeof *p);
}

static int paths_add(path_list *p, const char *dir, const char *name) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        char **v = mmc_realloc(p->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        p->v = v;
        p->cap = cap;
    }
    size_t a = strlen(dir), b = strlen(name);
    char *s = mmc_malloc(a + b + 2);
    if (!s) return -1;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    p->v[p->n++] = s;
    return 0;
}

/* The decoders find the format from the bytes; the extension only picks candidates so that
 * a README or a manifest in the folder is not mistaken for a broken image (cli_is_image_name). */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_folder(const char *dir, int videos, path_list *out) {
    char *abs = realpath(dir, NULL);
    struct stat sb;
    if (!abs || stat(abs, &sb) || !S_ISDIR(sb.st_mode)) {
        free(abs);
        return cli_error(2, "index build: %s: no such folder", dir);
    }
    DIR *d = opendir(abs);
    if (!d) {
        free(abs);
        return cli_error(2, "index build: %s: cannot read the folder", dir);
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !(videos ? cli_is_video_name(de->d_name) : cli_is_image_name(de->d_name))) continue;
        if (paths_add(out, abs, de->d_name)) rc = cli_error(3, "index build: out of memory");
        else if (stat(out->v[out->n - 1], &sb) || !S_ISREG(sb.st_mode)) mmc_free(out->v[--out->n]);
    }
    closedir(d);
    free(abs);
    if (rc) return rc;
    if (!out->n)
        return cli_error(2, videos ? "index build: %s: no video files (.mp4, .mkv, .webm, .avi, .mov, .m4v)"
                                   : "index build: %s: no image files (.png, .jpg, .jpeg, .ppm, .pgm)", dir);
    qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return 0;
}

static int list_manifest(const char *dir, const char *split, path_list *out) {
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_load(dir, split, &err);
    if (!m) return cli_error_from(&err);
    int rc = mmc_manifest_check_images(m, &err) ? cli_error_from(&err) : 0;
    char *abs = rc ? NULL : realpath(m->dir, NULL);
    if (!rc && !abs) rc = cli_error(2, "index build: %s: cannot resolve the folder", dir);
    for (int i = 0; !rc && i < m->count; i++)
        if (paths_add(out, abs, m->samples[i].image)) rc = cli_error(3, "index build: out of memory");
    free(abs);
    mmc_manifest_free(m);
    return rc;
}

/* --videos: each file's segments as items PATH#t=START,END; the embeddings in *emb. */
static int embed_videos(mmc_embedder *e, const path_list *files, double window, int frames, path_list *items, float **emb) {
    int dim = mmc_embedder_dim(e), rc = 0, cap = 0;
    *emb = NULL;
    mmc_error err = {0};
    cli_progress_state pr = {stdout, mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
    for (int i = 0; i < files->n && !rc; i++) {
        mmc_video_segments sg;
        if (mmc_embedder_video_file(e, files->v[i], window, frames, &sg, &err)) { rc = cli_error_from(&err); break; }
        if (items->n + sg.n > cap) {
            int nc = cap ? 2 * cap : 256;
            while (nc < items->n + sg.n) nc *= 2;
            float *ne = mmc_realloc(*emb, sizeof(float) * (size_t)nc * dim);
            if (!ne) rc = cli_error(3, "index build: out of memory");
            else *emb = ne, cap = nc;
        }
        for (int j = 0; j < sg.n && !rc; j++) {
            char frag[64];
            snprintf(frag, sizeof frag, "#t=%.3f,%.3f", sg.t0[j], sg.t1[j]);
            if (paths_add(items, files->v[i], "") ) { rc = cli_error(3, "index build: out of memory"); break; }
            char **last = &items->v[items->n - 1];
            size_t l = strlen(*last) - 1; /* paths_add joined with a '/' */
            char *s = mmc_realloc(*last, l + strlen(frag) + 1);
            if (!s) { rc = cli_error(3, "index build: out of memory"); break; }
            strcpy(s + l, frag);
            *last = s;
            memcpy(*emb + (size_t)(items->n - 1) * dim, sg.emb + (size_t)j * dim, sizeof(float) * (size_t)dim);
        }
        mmc_video_segments_free(&sg);
        if (!rc) cli_progress(&pr, "videos", i + 1, files->n);
    }
    return rc;
}

/* --texts: the file's texts embedded in batches into a texts (or texts-with-ids) index. The
 * file is read and checked before the model opens, so a bad line is reported at once. */
static int index_texts(const char *model, const mmc_embedder_opts *eo, const char *file, const char *out, int batch,
                       int dtype) {
    double t0 = mmc_now();
    cli_texts t;
    int rc = cli_texts_read(file, &t);
    if (rc) return rc;
    mmc_error err = {0};
    mmc_embedder *e = mmc_embedder_open_ex(model, eo, &err);
    if (!e) {
        cli_texts_free(&t);
        return cli_error_from(&err);
    }
    int dim = mmc_embedder_dim(e);
    float *emb = mmc_malloc(sizeof(float) * (size_t)dim * (size_t)t.n);
    if (!emb) rc = cli_error(3, "index build: out of memory for %d embeddings", t.n);
    else printf("indexing %d texts%s with %s (dim %d)\n", t.n, t.with_ids ? " (with ids)" : "", mmc_embedder_id(e), dim);
    cli_progress_state pr = {stdout, mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
    for (int at = 0; !rc && at < t.n; at += batch) {
        int b = t.n - at < batch ? t.n - at : batch;
        if (mmc_embedder_texts(e, t.texts + at, b, emb + (size_t)at * dim, &err)) rc = cli_error_from(&err);
        else cli_progress(&pr, "texts", at + b, t.n);
    }
    if (!rc) {
        int kind = t.with_ids ? MMC_INDEX_TEXTS_IDS : MMC_INDEX_TEXTS;
        mmc_index *ix = mmc_index_build_kind(emb, t.n, dim, (const char *const *)t.items, mmc_embedder_id(e), dtype, kind, &err);
        if (!ix || mmc_index_save(ix, out, &err)) rc = cli_error_from(&err);
        else printf("wrote %s: %d texts%s, dim %d, %s\n", out, t.n, t.with_ids ? " with ids" : "", dim, dtype == MMC_INDEX_I8 ? "int8" : "float32");
        mmc_index_close(ix);
        if (!rc) cli_report_rate("indexed", t.n, "texts", mmc_now() - t0, NULL);
    }
    mmc_free(emb);
    mmc_embedder_close(e);
    cli_texts_free(&t);
    return rc;
}

/* ------------------------------------------------------------------ the image pipeline
 *
 * --images and --data embed the images batch by batch, and each batch has two stages:
 * making the model's inputs — decoding the files (libjpeg / libpng) and resizing, cropping
 * and normalising each (mmc_embedder_image_to_chw), one core — and the forward pass on the
 * OpenMP threads (mmc_embedder_embed_chw). Run one after the other, the forward pass waits
 * for every file and the decoder for every forward pass. So a decoder thread prepares
 * batch i+1 into one of two slots while the main thread embeds batch i from the other
 * (double buffering):
 *
 *     decoder thread:  [prepare 0][prepare 1]   [prepare 2]   [prepare 3] ...
 *     main thread:                [embed 0   ][embed 1   ][embed 2   ] ...
 *
 * A slot goes EMPTY -> (decoder fills it) FULL -> (main embeds it) EMPTY; the two threads
 * meet only at those changes, under one mutex, so the inputs a decoder wrote are the
 * main thread's once it sees FULL and the decoder's again once it sees EMPTY. A slot holds
 * the batch's model inputs (3·S·S floats an image: 38 MB for 64 images at 224 px), each
 * photo freed once it is converted.
 *
 * The index is the same to the byte as the sequential code's (MMC_INDEX_OVERLAP=0, below):
 * image_to_chw then embed_chw is mmc_embedder_images in two halves, which embeds images
 * decoded as mmc_image_load decodes them with 3 channels exactly as
 * mmc_embedder_image_files embeds the files, and the model sees the same batches in the
 * same order. A batch the decoder cannot hand over whole — a file that does not decode or
 * convert, out of memory — is marked, and the main thread embeds it from its files with
 * mmc_embedder_image_files: the sequential code itself, so a hostile file stops the build
 * with the same message and exit code after the same batches as before, and nothing is
 * written. */

enum { SLOT_EMPTY, SLOT_FULL };

typedef struct image_slot {
    int state;         /* SLOT_EMPTY or SLOT_FULL (under the mutex) */
    int n;             /* images decoded and made model inputs in chw */
    int from_files;    /* 1: not decoded here (see above); chw is not used */
    float *chw;        /* the batch's model inputs, 3·S·S floats each (room for a whole batch) */
} image_slot;

typedef struct image_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a slot changed state, or stop was set */
    image_slot slot[2];      /* batch k goes through slot[k % 2] */
    int stop;                /* the main thread gave up: the decoder returns */
    const char *const *paths;
    int n, batch;
    const mmc_embedder *e;   /* image_to_chw only: the model's constant settings */
    size_t one;              /* floats per model input, 3·S·S */
    double decode_s;         /* the decoder thread's time decoding and resizing (its own) */
} image_pipe;

static void slot_clear(image_slot *s) {
    s->n = 0;
    s->from_files = 0;
}

static int pipe_stopped(image_pipe *p) {
    pthread_mutex_lock(&p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    return stop;
}

/* The decoder thread: every batch in order, each into the next slot once it is EMPTY. */
static void *decode_ahead(void *arg) {
    image_pipe *p = arg;
    for (int k = 0, at = 0; at < p->n; k++, at += p->batch) {
        image_slot *s = &p->slot[k % 2];
        pthread_mutex_lock(&p->mu);
        while (s->state != SLOT_EMPTY && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        int b = p->n - at < p->batch ? p->n - at : p->batch, whole = 1;
        double t0 = mmc_now();
        for (int i = 0; i < b && whole; i++) {
            mmc_error err = {0}; /* the main thread reports it, from mmc_embedder_image_files */
            mmc_image img = {0};
            if (pipe_stopped(p) || mmc_image_load(&img, p->paths[at + i], 3, &err) ||
                mmc_embedder_image_to_chw(p->e, &img, s->chw + (size_t)i * p->one, &err))
                whole = 0;
            else s->n = i + 1;
            mmc_image_free(&img); /* one decoded photo at a time: the slot holds model inputs */
        }
        if (!whole) {
            slot_clear(s);
            s->from_files = 1;
        }
        p->decode_s += mmc_now() - t0;
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_FULL;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

typedef struct image_stats {
    int overlapped;     /* 1: through the pipeline; 0: sequential */
    int from_files;     /* batches the main thread embedded from their files */
    double decode_s;    /* the decoder thread's time decoding */
    double wait_s;      /* the main thread's time waiting for it (decoding not hidden) */
} image_stats;

/* The sequential code: each batch decoded and embedded by mmc_embedder_image_files. */
static int embed_images_sequential(mmc_embedder *e, const path_list *paths, int batch, float *emb) {
    int dim = mmc_embedder_dim(e), rc = 0;
    mmc_error err = {0};
    cli_progress_state pr = {stdout, mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
    for (int at = 0; !rc && at < paths->n; at += batch) {
        int b = paths->n - at < batch ? paths->n - at : batch;
        if (mmc_embedder_image_files(e, (const char *const *)paths->v + at, b, emb + (size_t)at * dim, &err))
            rc = cli_error_from(&err);
        else cli_progress(&pr, "images", at + b, paths->n);
    }
    return rc;
}

/* The main thread's side of the pipeline: batch k from slot[k % 2], in order. Falls back
 * to the sequential code when the decoder thread cannot start. */
static int embed_images_overlapped(mmc_embedder *e, const path_list *paths, int batch, float *emb, image_stats *st) {
    int dim = mmc_embedder_dim(e), rc = 0;
    int S = mmc_embedder_image_size(e);
    image_pipe p = {.paths = (const char *const *)paths->v, .n = paths->n, .batch = batch, .e = e,
                    .one = (size_t)3 * S * S};
    pthread_t th;
    int started = 0;
    if (S > 0) {
        p.slot[0].chw = mmc_malloc(sizeof(float) * p.one * (size_t)batch);
        p.slot[1].chw = mmc_malloc(sizeof(float) * p.one * (size_t)batch);
    }
    if (p.slot[0].chw && p.slot[1].chw && !pthread_mutex_init(&p.mu, NULL)) {
        if (!pthread_cond_init(&p.cv, NULL)) {
            started = !pthread_create(&th, NULL, decode_ahead, &p);
            if (!started) pthread_cond_destroy(&p.cv);
        }
        if (!started) pthread_mutex_destroy(&p.mu);
    }
    if (!started) {
        mmc_free(p.slot[0].chw);
        mmc_free(p.slot[1].chw);
        return embed_images_sequential(e, paths, batch, emb);
    }
    st->overlapped = 1;
    mmc_error err = {0};
    cli_progress_state pr = {stdout, mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
    for (int k = 0, at = 0; !rc && at < paths->n; k++, at += batch) {
        image_slot *s = &p.slot[k % 2];
        int b = paths->n - at < batch ? paths->n - at : batch;
        double t0 = mmc_now();
        pthread_mutex_lock(&p.mu);
        while (s->state != SLOT_FULL) pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        st->wait_s += mmc_now() - t0;
        /* s is this thread's until it is handed back EMPTY */
        if (s->from_files) {
            st->from_files++;
            rc = mmc_embedder_image_files(e, p.paths + at, b, emb + (size_t)at * dim, &err);
        } else {
            rc = mmc_embedder_embed_chw(e, s->chw, b, emb + (size_t)at * dim, &err);
        }
        slot_clear(s);
        pthread_mutex_lock(&p.mu);
        s->state = SLOT_EMPTY;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (rc) rc = cli_error_from(&err);
        else cli_progress(&pr, "images", at + b, paths->n);
    }
    pthread_mutex_lock(&p.mu); /* done, or failed: the decoder stops at its next image */
    p.stop = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    pthread_join(th, NULL);
    st->decode_s = p.decode_s;
    mmc_free(p.slot[0].chw);
    mmc_free(p.slot[1].chw);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

static int index_build(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *images = NULL, *videos = NULL, *texts = NULL, *out = NULL, *split = "test";
    int batch = INDEX_DEFAULT_BATCH, dtype = MMC_INDEX_F32, frames = 0;
    mmc_embedder_opts eo = {0}; /* --dtype: the model's weights (--int8 is the index's rows) */
    double window = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dst = !strcmp(o, "--model") ? &model : !strcmp(o, "--data") ? &data
                         : !strcmp(o, "--images") ? &images : !strcmp(o, "--videos") ? &videos : !strcmp(o, "--texts") ? &texts
                         : !strcmp(o, "--out") ? &out : !strcmp(o, "--split") ? &split : NULL;
        if (!strcmp(o, "--int8")) {
            dtype = MMC_INDEX_I8;
            continue;
        }
        if (!strcmp(o, "--dtype")) {
            if (!v) return cli_error(1, "index build: --dtype needs a value (f32, int8, q8 or q4)");
            if (cli_parse_dtype("index build", v, &eo.quantize)) return 1;
            i++;
            continue;
        }
        if (!strcmp(o, "--window")) {
            char *end = NULL;
            window = v ? strtod(v, &end) : 0;
            if (!v || !end || *end || end == v || !(window > 0 && window <= 86400))
                return cli_error(1, "index build: --window needs seconds in (0, 86400] (got '%s')", v ? v : "");
            i++;
            continue;
        }
        if (!strcmp(o, "--frames")) {
            if (!v || cli_parse_int(v, 1, 64, &frames)) return cli_error(1, "index build: --frames needs an integer from 1 to 64 (got '%s')", v ? v : "");
            i++;
            continue;
        }
        if (!strcmp(o, "--batch")) {
            if (!v || cli_parse_int(v, 1, 4096, &batch))
                return cli_error(1, "index build: --batch needs an integer from 1 to 4096 (got '%s')", v ? v : "");
            i++;
            continue;
        }
        if (!dst) return cli_error(1, "index build: unknown argument '%s' (see: mmc help index)", o);
        if (!v || !*v) return cli_error(1, "index build: %s needs a value", o);
        *dst = v;
        i++;
    }
    if (!model) return cli_error(1, "index build: missing --model M (see: mmc help index)");
    if (!out) return cli_error(1, "index build: missing --out INDEX (see: mmc help index)");
    if (!!data + !!images + !!videos + !!texts != 1)
        return cli_error(1, "index build: give one of --data DIR, --images DIR, --videos DIR or --texts FILE");
    if (!videos && (window > 0 || frames > 0)) return cli_error(1, "index build: --window and --frames are for --videos");
    if (texts) return index_texts(model, &eo, texts, out, batch, dtype);

    /* MMC_INDEX_OVERLAP=0: images decoded and embedded in turn (the pipeline above is the default) */
    const char *ov = getenv("MMC_INDEX_OVERLAP");
    if (ov && *ov && strcmp(ov, "0") && strcmp(ov, "1")) return cli_error(1, "index build: MMC_INDEX_OVERLAP must be 0 or 1 (got '%s')", ov);
    int overlap = !ov || strcmp(ov, "0");
    double t0 = mmc_now();
    path_list paths = {0};
    int rc = data ? list_manifest(data, split, &paths) : list_folder(images ? images : videos, videos != NULL, &paths);
    if (rc) return rc;
    mmc_error err = {0};
    mmc_embedder *e = mmc_embedder_open_ex(model, &eo, &err);
    if (!e) {
        paths_free(&paths);
        return cli_error_from(&err);
    }
    int dim = mmc_embedder_dim(e);
    if (videos) {
        int vt = mmc_embedder_video_frames(e);
        if (vt > 0 && frames > 0 && frames != vt) rc = cli_error(1, "index build: %s embeds clips of %d frames; drop --frames %d", model, vt, frames);
        path_list items = {0};
        float *vemb = NULL;
        if (!rc) {
            printf("indexing %d videos with %s (dim %d; %s, %d frames per segment, %s)\n", paths.n, mmc_embedder_id(e), dim,
                   vt > 0 ? "a text:video model" : "meanP over the image tower", vt > 0 ? vt : frames > 0 ? frames : 8,
                   window > 0 ? "segments of --window seconds" : "one segment per file");
            rc = embed_videos(e, &paths, window, frames, &items, &vemb);
        }
        if (!rc) {
            mmc_index *ix = mmc_index_build(vemb, items.n, dim, (const char *const *)items.v, mmc_embedder_id(e), dtype, &err);
            if (!ix || mmc_index_save(ix, out, &err)) rc = cli_error_from(&err);
            else printf("wrote %s: %d segments of %d videos, dim %d, %s\n", out, items.n, paths.n, dim, dtype == MMC_INDEX_I8 ? "int8" : "float32");
            mmc_index_close(ix);
            if (!rc) {
                char note[64];
                snprintf(note, sizeof note, "%d segments", items.n);
                cli_report_rate("indexed", paths.n, "videos", mmc_now() - t0, note);
            }
        }
        mmc_free(vemb);
        paths_free(&items);
        mmc_embedder_close(e);
        paths_free(&paths);
        return rc;
    }
    float *emb = mmc_malloc(sizeof(float) * (size_t)dim * (size_t)paths.n);
    if (!emb) rc = cli_error(3, "index build: out of memory for %d embeddings", paths.n);
    printf("indexing %d images with %s (dim %d)\n", paths.n, mmc_embedder_id(e), dim);
    image_stats st = {0};
    if (!rc) rc = overlap ? embed_images_overlapped(e, &paths, batch, emb, &st) : embed_images_sequential(e, &paths, batch, emb);
    if (!rc) {
        mmc_index *ix = mmc_index_build(emb, paths.n, dim, (const char *const *)paths.v, mmc_embedder_id(e), dtype, &err);
        if (!ix || mmc_index_save(ix, out, &err)) rc = cli_error_from(&err);
        else printf("wrote %s: %d images, dim %d, %s\n", out, paths.n, dim, dtype == MMC_INDEX_I8 ? "int8" : "float32");
        mmc_index_close(ix);
    }
    if (!rc) { /* the rate end to end: listing, model, decoding, embedding, the index file */
        char note[192];
        double wall = mmc_now() - t0;
        if (!st.overlapped)
            snprintf(note, sizeof note, "decoding not overlapped%s", overlap ? ": no decoder thread" : ": MMC_INDEX_OVERLAP=0");
        else
            snprintf(note, sizeof note, "decoding overlapped with the forward pass: %.1f s of decoding, the model waited %.1f s (%.0f%%) for it%s",
                     st.decode_s, st.wait_s, 100.0 * st.wait_s / (wall > 0 ? wall : 1), st.from_files ? "; " : "");
        if (st.from_files) {
            size_t l = strlen(note);
            snprintf(note + l, sizeof note - l, "%d batch%s too large to decode ahead", st.from_files, st.from_files > 1 ? "es" : "");
        }
        cli_report_rate("indexed", paths.n, "images", wall, note);
    }
    mmc_free(emb);
    mmc_embedder_close(e);
    paths_free(&paths);
    return rc;
}

int cmd_index(int argc, char **argv) {
    if (argc < 2) return cli_error(1, "index: missing action (mmc index build ...; see: mmc help index)");
    if (!strcmp(argv[1], "build")) return index_build(argc - 1, argv + 1);
    return cli_error(1, "index: unknown action '%s' (see: mmc help index)", argv[1]);
}
