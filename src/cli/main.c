/* main.c — `mmc COMMAND ...`: dispatches to one file per subcommand. */
#include "cli.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cli_command cli_commands[] = {
    {"demo", cmd_demo, "train and evaluate the built-in examples end to end",
     "usage: mmc demo [--out DIR] [--steps N] [--threads T] [--seed S]\n"
     "\n"
     "Trains a small CNN on a synthetic task generated in memory (which way does a bar\n"
     "point?), nothing downloaded; prints progress, held-out accuracy and a confusion\n"
     "table, saves OUT/model.safetensors and checks that the reloaded model agrees.\n"
     "  --out DIR     output folder (default demo)\n"
     "  --steps N     optimizer steps (default 300)\n"
     "  --threads T   kernel threads (default: $MMC_THREADS, else all cores)\n"
     "  --seed S      random seed (default 1)\n"},
    {"bench", cmd_bench, "time a workload (matrix products, convolution)",
     "usage: mmc bench WORKLOAD [--threads T] [--steps N] [--json]\n"
     "\n"
     "Workloads:\n"
     "  gemm-1024     1024x1024x1024 sgemm through mmc_matmul       (3 warm-up + 20 steps)\n"
     "  gemm-2048     2048x2048x2048 sgemm through mmc_matmul       (1 warm-up + 5 steps)\n"
     "  conv2d-train  conv2d forward+backward: batch 32, 64x64, 64->64 channels, 3x3,\n"
     "                pad 1, bias; GFLOP/s over forward, dW and dX    (1 warm-up + 3 steps)\n"
     "  --threads T   kernel threads (default: $MMC_THREADS, else all cores)\n"
     "  --steps N     timed steps after the warm-up\n"
     "  --json        one JSON object: {\"workload\", \"rate\", \"unit\", \"threads\", \"peak_rss_mb\"}\n"
     "\n"
     "bench/run.sh (make bench) runs each beside PyTorch (bench/torch/ops.py).\n"},
    {"data", cmd_data, "make or import a dataset folder (images + manifest JSONL)",
     "usage: mmc data shapes --out DIR [--train N] [--val N] [--test N] [--seed S] [--size PX]\n"
     "                       [--threads T]\n"
     "\n"
     "shapes: the built-in synthetic world. Scenes of 1-4 objects (circle, square, triangle,\n"
     "diamond, star, cross; 8 colours; small or large) with captions in English and Chinese\n"
     "and question-answer pairs (colour, shape, count, existence, spatial; yes/no answers\n"
     "50/50). label = the shape of the leftmost object. Deterministic for a seed.\n"
     "Writes DIR/images/SPLIT-NNNNNN.png and DIR/manifest-{train,val,test}.jsonl, then\n"
     "reports how often a first caption is unique and the answer balance per question type.\n"
     "  --out DIR     output folder (created if missing)\n"
     "  --train N     training scenes (default 20000; 0 skips the split)\n"
     "  --val N       validation scenes (default 1000)\n"
     "  --test N      test scenes (default 1000)\n"
     "  --seed S      random seed (default 7)\n"
     "  --size PX     image side in pixels, 8 to 1024 (default 64)\n"
     "  --threads T   threads (default: $MMC_THREADS, else all cores)\n"},
    {"train", cmd_train, "train a model on a dataset folder (retrieval)",
     "usage: mmc train retrieval --data DIR --out RUN [--lang en|zh] [--config FILE]\n"
     "                 [--epochs N | --steps N | --minutes M] [--seed S] [--threads T] [--resume]\n"
     "\n"
     "retrieval: a dual encoder (image encoder + text encoder into one embedding space)\n"
     "trained on DIR/manifest-train.jsonl, validated each epoch on manifest-val.jsonl\n"
     "(text->image and image->text R@1/5/10). Tasks caption, vqa and classify come later.\n"
     "Writes RUN/config.json (settings + the vocabulary built from the training captions),\n"
     "model.safetensors (last checkpoint), model-best.safetensors (best validation\n"
     "text->image R@1+R@5+R@10), optimizer.safetensors, trainer.json, metrics.jsonl.\n"
     "Ctrl-C saves a resumable checkpoint and exits 130. docs/retrieval.md lists the\n"
     "config keys (encoders, sizes, loss, optimiser) and their defaults.\n"
     "  --data DIR     dataset folder (manifest-train/val.jsonl + images)\n"
     "  --out RUN      run folder (created)\n"
     "  --lang L       en: captions, word tokenizer (default); zh: captions_zh, char tokenizer\n"
     "  --config FILE  JSON object of config keys; the flags above override it\n"
     "  --epochs N     passes over the training set (default: the config's epochs, 10)\n"
     "  --steps N      optimizer steps instead\n"
     "  --minutes M    stop after M minutes of training steps (validation not counted),\n"
     "                 then validate and save; the learning rate decays over the M minutes\n"
     "  --seed S       random seed (default 1): init, order, captions, augmentation\n"
     "  --threads T    kernel threads (default: $MMC_THREADS, else all cores)\n"
     "  --resume       continue RUN from its last checkpoint, bit-exactly (same seed)\n"
     "  --val-max N    validate on the first N val images only\n"},
    {"eval", cmd_eval, "evaluate a trained run on a dataset split (retrieval recall)",
     "usage: mmc eval RUN --data DIR [--split test] [--json] [--best]\n"
     "\n"
     "Embeds every image and every caption (of the run's language) of DIR/manifest-SPLIT.jsonl\n"
     "and reports retrieval recall:\n"
     "  text->image: for each caption, the rank of its image among all images;\n"
     "  image->text: for each image, the rank of the best-ranked of its captions among\n"
     "               all captions;\n"
     "  R@K = fraction of queries ranked within K; median_rank (1 = first); rsum = the sum\n"
     "  of the six recalls in percent (0..600).\n"
     "  --split S   split name (default test)\n"
     "  --json      one JSON object: {\"text_to_image\": {\"R@1\", \"R@5\", \"R@10\",\n"
     "              \"median_rank\", \"mean_rank\"}, \"image_to_text\": {...}, \"rsum\", ...}\n"
     "              (recalls as fractions in [0, 1], rsum in percent)\n"
     "  --best      use model-best.safetensors instead of the last checkpoint\n"},
    {"inspect", cmd_inspect, "list the tensors of a .safetensors file",
     "usage: mmc inspect FILE.safetensors [--json]\n"
     "\n"
     "Lists each tensor's name, dtype, shape and statistics (min, max, mean, std), and the\n"
     "file's metadata. --json prints one JSON document instead.\n"},
};
const int cli_ncommands = (int)(sizeof cli_commands / sizeof cli_commands[0]);

int cli_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mmc: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_error_from(const mmc_error *e) {
    fprintf(stderr, "mmc: error: %s\n", e->msg[0] ? e->msg : "unknown error");
    return e->code ? e->code : MMC_ERR_RUNTIME;
}

static void usage(FILE *f) {
    fprintf(f, "mmc %s — multimodal deep learning in C\n\nusage: mmc COMMAND [ARGS...]\n\ncommands:\n",
            MMC_VERSION);
    for (int i = 0; i < cli_ncommands; i++)
        fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "show help for a command: mmc help COMMAND");
    fprintf(f, "\n  --version  print the version\n");
}

static const cli_command *find(const char *name) {
    for (int i = 0; i < cli_ncommands; i++)
        if (strcmp(cli_commands[i].name, name) == 0) return &cli_commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    cli_tune_blas(argv);
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("mmc %s\n", MMC_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2) {
            const cli_command *c = find(argv[2]);
            if (!c) return cli_error(1, "no command '%s' (see: mmc help)", argv[2]);
            fputs(c->usage, stdout);
            return 0;
        }
        usage(stdout);
        return 0;
    }
    const cli_command *c = find(cmd);
    if (!c) {
        usage(stderr);
        return cli_error(1, "unknown command '%s'", cmd);
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(c->usage, stdout);
            return 0;
        }
    mmc_set_threads(0);
    return c->run(argc - 1, argv + 1);
}
