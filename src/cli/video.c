/* video.c — `mmc video frames FILE`: what mmc sees in a video file (docs/video.md). */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A JSON string body: quotes, backslashes and control characters escaped (the path is
 * the user's and may hold anything but NUL). */
static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmd_video_frames(int argc, char **argv) {
    const char *file = NULL, *out = NULL;
    int json = 0;
    mmc_video_opts o = mmc_video_opts_default();
    o.frames = 8;
    int have_frames = 0, have_fps = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--frames")) {
            if (!v || cli_parse_int(v, 1, MMC_VIDEO_MAX_FRAMES, &o.frames))
                return cli_error(1, "video frames: --frames needs an integer from 1 to %d", MMC_VIDEO_MAX_FRAMES);
            have_frames = 1, i++;
        } else if (!strcmp(a, "--all")) {
            o.frames = 0, have_frames = 1;
        } else if (!strcmp(a, "--fps")) {
            char *end = NULL;
            errno = 0;
            o.fps = v ? strtod(v, &end) : 0;
            if (!v || errno || !end || *end || !(o.fps > 0 && o.fps <= 1000))
                return cli_error(1, "video frames: --fps needs a number above 0, at most 1000");
            have_fps = 1, i++;
        } else if (!strcmp(a, "--size")) {
            if (!v || cli_parse_int(v, 1, 4096, &o.size)) return cli_error(1, "video frames: --size needs 1 to 4096");
            i++;
        } else if (!strcmp(a, "--out")) {
            if (!v || !*v) return cli_error(1, "video frames: --out needs a folder");
            out = v, i++;
        } else if (a[0] == '-' && a[1]) return cli_error(1, "video frames: unknown option '%s' (see: mmc help video)", a);
        else if (file) return cli_error(1, "video frames: one FILE at a time (got '%s' and '%s')", file, a);
        else file = a;
    }
    if (!file) return cli_error(1, "video frames: missing FILE (see: mmc help video)");
    if (have_frames && have_fps) return cli_error(1, "video frames: give --frames, --all or --fps, not several");
    if (have_fps) o.frames = 0;
    mmc_video v;
    mmc_error err = {0};
    if (mmc_video_load(&v, file, &o, &err)) return cli_error_from(&err);
    int rc = 0;
    if (out && mkdir(out, 0755) != 0 && errno != EEXIST) {
        rc = cli_error(3, "video frames: cannot create %s: %s", out, strerror(errno));
        out = NULL;
    }
    const mmc_video_info *in = &v.info;
    if (json) {
        printf("{\"file\": ");
        json_str(file);
        printf(", \"container\": \"%s\", \"codec\": \"%s\", \"width\": %d, \"height\": %d, \"rotation\": %d, "
               "\"decoded\": %lld, \"start\": %.6f, \"duration\": %.6f, \"fps\": %.6f, \"frames\": [",
               in->container, in->codec, in->out_w, in->out_h, in->rotation, (long long)in->decoded, in->start,
               in->duration, in->fps);
    } else {
        printf("%s: %s, %s, %dx%d%s, %lld frames, %.3f s from %.3f s (%.3f fps on average)\n", file, in->container,
               in->codec, in->out_w, in->out_h, in->rotation ? " (rotated)" : "", (long long)in->decoded, in->duration,
               in->start, in->fps);
        if (in->rotation) printf("  rotation %d degrees clockwise (display matrix); coded %dx%d\n", in->rotation, in->w, in->h);
    }
    for (int i = 0; i < v.n && !rc; i++) {
        char path[4200] = "";
        if (out) {
            snprintf(path, sizeof path, "%s/frame-%04d.png", out, i);
            const mmc_image *f = &v.frames[i];
            if (mmc_png_write(path, f->w, f->h, 3, f->data, &err)) rc = cli_error_from(&err);
        }
        double mean = 0;
        size_t np = (size_t)v.frames[i].w * v.frames[i].h * 3;
        for (size_t k = 0; k < np; k++) mean += v.frames[i].data[k];
        mean /= (double)(np ? np : 1);
        if (json) {
            printf("%s{\"index\": %d, \"t\": %.6f, \"width\": %d, \"height\": %d, \"mean\": %.4f", i ? ", " : "", i, v.t[i],
                   v.frames[i].w, v.frames[i].h, mean);
            if (out) printf(", \"png\": "), json_str(path);
            printf("}");
        } else {
            printf("  frame %3d  t %9.4f s  %dx%d  mean %.1f%s%s\n", i, v.t[i], v.frames[i].w, v.frames[i].h, mean,
                   out ? "  " : "", path);
        }
    }
    if (json) printf("]}\n");
    mmc_video_free(&v);
    return rc;
}

int cmd_video(int argc, char **argv) {
    if (argc < 2) return cli_error(1, "video: what to do? (see: mmc help video)");
    if (!strcmp(argv[1], "frames")) return cmd_video_frames(argc - 1, argv + 1);
    return cli_error(1, "video: unknown action '%s' (see: mmc help video)", argv[1]);
}
