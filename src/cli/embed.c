/* embed.c — `mmc embed --model M (--text S | --image P | --video V | --audio F)...
 * [--window SECONDS] [--frames T] [--dtype f32|int8|q4] [--json]`: embeddings in input
 * order. Texts, images and sound files (a model trained with --pair audio:image /
 * audio:text) are embedded in one batch each (a batch is faster than one call per input),
 * then printed in the order they were given; a video gives one embedding per segment
 * (mmc_embedder_video_file). --dtype quantises the model as it loads (mmc_embedder_open_ex). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_PREVIEW 6 /* values shown per embedding in human output */

typedef struct embed_input {
    int is_image; /* 0 text, 1 image, 2 video, 3 sound */
    const char *value;
    int slot; /* row in the text or the image batch */
} embed_input;

int cmd_embed(int argc, char **argv) {
    const char *model = NULL;
    int json = 0, n_in = 0, n_text = 0, n_image = 0, n_audio = 0, frames = 0;
    mmc_embedder_opts eo = {0};
    double window = 0;
    embed_input *in = mmc_calloc((size_t)argc, sizeof *in);
    const char **texts = mmc_calloc((size_t)argc, sizeof *texts), **images = mmc_calloc((size_t)argc, sizeof *images);
    const char **audios = mmc_calloc((size_t)argc, sizeof *audios);
    float *temb = NULL, *iemb = NULL, *aemb = NULL;
    mmc_embedder *e = NULL;
    int rc = 0;
    if (!in || !texts || !images || !audios) {
        rc = cli_error(3, "embed: out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            json = 1;
        } else if (!strcmp(o, "--dtype")) {
            if ((rc = cli_parse_dtype("embed", v, &eo.quantize))) goto done;
            i++;
        } else if (!strcmp(o, "--window") || !strcmp(o, "--frames")) {
            char *end = NULL;
            double x = v ? strtod(v, &end) : 0;
            int bad = !v || !end || *end || end == v || !(x > 0 && x <= 86400) || (o[2] == 'f' && (x != (int)x || x > 64));
            if (bad) {
                rc = cli_error(1, o[2] == 'w' ? "embed: --window needs seconds in (0, 86400] (got '%s')"
                                              : "embed: --frames needs an integer from 1 to 64 (got '%s')", v ? v : "");
                goto done;
            }
            if (o[2] == 'w') window = x;
            else frames = (int)x;
            i++;
        } else if (!strcmp(o, "--audio")) {
            if (!v || !*v) {
                rc = cli_error(1, "embed: --audio needs a sound file (see: mmc help embed)");
                goto done;
            }
            i++;
            if ((rc = cli_check_utf8("embed: --audio path", v))) goto done;
            in[n_in++] = (embed_input){3, v, n_audio};
            audios[n_audio++] = v;
        } else if (!strcmp(o, "--video")) {
            if (!v || !*v) {
                rc = cli_error(1, "embed: --video needs a value (see: mmc help embed)");
                goto done;
            }
            i++;
            if ((rc = cli_check_utf8("embed: --video path", v))) goto done;
            in[n_in++] = (embed_input){2, v, 0};
        } else if (!strcmp(o, "--model") || !strcmp(o, "--text") || !strcmp(o, "--image")) {
            if (!v || (!*v && strcmp(o, "--text"))) {
                rc = cli_error(1, "embed: %s needs a value (see: mmc help embed)", o);
                goto done;
            }
            i++;
            if (!strcmp(o, "--model")) {
                model = v;
                continue;
            }
            int img = !strcmp(o, "--image");
            if ((rc = cli_check_utf8(img ? "embed: --image path" : "embed: --text", v))) goto done;
            in[n_in] = (embed_input){img, v, img ? n_image : n_text};
            if (img) images[n_image++] = v;
            else texts[n_text++] = v;
            n_in++;
        } else {
            rc = cli_error(1, "embed: unknown argument '%s' (see: mmc help embed)", o);
            goto done;
        }
    }
    if (!model) {
        rc = cli_error(1, "embed: missing --model M (see: mmc help embed)");
        goto done;
    }
    if (!n_in) {
        rc = cli_error(1, "embed: nothing to embed: give --text S, --image P, --video V or --audio F (see: mmc help embed)");
        goto done;
    }
    mmc_error err = {0};
    e = mmc_embedder_open_ex(model, &eo, &err);
    if (!e) {
        rc = cli_error_from(&err);
        goto done;
    }
    int dim = mmc_embedder_dim(e), vt = mmc_embedder_video_frames(e);
    if (vt > 0 && frames > 0 && frames != vt) {
        rc = cli_error(1, "embed: %s embeds clips of %d frames; drop --frames %d", model, vt, frames);
        goto done;
    }
    temb = mmc_malloc(sizeof(float) * (size_t)dim * (n_text ? n_text : 1));
    iemb = mmc_malloc(sizeof(float) * (size_t)dim * (n_image ? n_image : 1));
    aemb = mmc_malloc(sizeof(float) * (size_t)dim * (n_audio ? n_audio : 1));
    if (!temb || !iemb || !aemb) {
        rc = cli_error(3, "embed: out of memory");
        goto done;
    }
    if (n_text && mmc_embedder_texts(e, texts, n_text, temb, &err)) {
        rc = cli_error_from(&err);
        goto done;
    }
    if (n_image && mmc_embedder_image_files(e, images, n_image, iemb, &err)) {
        rc = cli_error_from(&err);
        goto done;
    }
    if (n_audio && mmc_embedder_audio_files(e, audios, n_audio, aemb, &err)) {
        rc = cli_error_from(&err);
        goto done;
    }
    if (!json) printf("model %s (%s, dim %d)\n", mmc_embedder_id(e), mmc_embedder_kind(e), dim);
    for (int k = 0; k < n_in; k++) {
        if (in[k].is_image == 2) { /* a video: one embedding per segment */
            mmc_video_segments sg;
            if (mmc_embedder_video_file(e, in[k].value, window, frames, &sg, &err)) {
                rc = cli_error_from(&err);
                goto done;
            }
            for (int j = 0; j < sg.n; j++) {
                const float *x = sg.emb + (size_t)j * dim;
                if (json) {
                    char *arr = cli_json_floats(x, dim);
                    cJSON *o = cJSON_CreateObject();
                    char *line = NULL;
                    if (arr && o && cJSON_AddStringToObject(o, "video", in[k].value) && cJSON_AddNumberToObject(o, "start", sg.t0[j]) &&
                        cJSON_AddNumberToObject(o, "end", sg.t1[j]) && cJSON_AddItemToObject(o, "embedding", cJSON_CreateRaw(arr)))
                        line = cJSON_PrintUnformatted(o);
                    mmc_free(arr);
                    cJSON_Delete(o);
                    if (!line) {
                        mmc_video_segments_free(&sg);
                        rc = cli_error(3, "embed: out of memory");
                        goto done;
                    }
                    printf("%s\n", line);
                    cJSON_free(line);
                } else {
                    printf("video %s  %.3f-%.3f s\n  [", in[k].value, sg.t0[j], sg.t1[j]);
                    for (int d = 0; d < dim && d < EMBED_PREVIEW; d++) printf(d ? ", %.4f" : "%.4f", x[d]);
                    printf("%s]  norm %.4f\n", dim > EMBED_PREVIEW ? ", ..." : "", cli_norm(x, dim));
                }
            }
            mmc_video_segments_free(&sg);
            continue;
        }
        const float *x = (in[k].is_image == 3 ? aemb : in[k].is_image ? iemb : temb) + (size_t)in[k].slot * dim;
        const char *what = in[k].is_image == 3 ? "audio" : in[k].is_image ? "image" : "text";
        if (json) {
            char *arr = cli_json_floats(x, dim);
            cJSON *o = cJSON_CreateObject();
            char *line = NULL;
            if (arr && o && cJSON_AddStringToObject(o, what, in[k].value) &&
                cJSON_AddItemToObject(o, "embedding", cJSON_CreateRaw(arr)))
                line = cJSON_PrintUnformatted(o);
            mmc_free(arr);
            cJSON_Delete(o);
            if (!line) {
                rc = cli_error(3, "embed: out of memory");
                goto done;
            }
            printf("%s\n", line);
            cJSON_free(line);
        } else {
            printf("%-5s %s\n  [", what, in[k].value);
            for (int d = 0; d < dim && d < EMBED_PREVIEW; d++) printf(d ? ", %.4f" : "%.4f", x[d]);
            printf("%s]  norm %.4f\n", dim > EMBED_PREVIEW ? ", ..." : "", cli_norm(x, dim));
        }
    }
done:
    mmc_embedder_close(e);
    mmc_free(temb);
    mmc_free(iemb);
    mmc_free(aemb);
    mmc_free(audios);
    mmc_free(in);
    mmc_free(texts);
    mmc_free(images);
    return rc;
}
