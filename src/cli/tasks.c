/* tasks.c — the task table of `mmc train TASK` and `mmc eval RUN`: one row per task.
 * Adding a task to the command line is one row here (with the declarations of its
 * commands) and its file src/cli/train_TASK.c (flags -> config -> cli_train_run);
 * `mmc eval` dispatches on the "task" a run's config.json names, `mmc train` on argv[1],
 * `mmc help train` prints each row's lines, and all three list the names from this table. */
#include "cli.h"
#include <string.h>

/* Each task's commands, defined in its own file. */
int cmd_train_retrieval(int argc, char **argv); /* train.c (and CLIP fine-tuning, --init) */
int cmd_train_caption(int argc, char **argv);   /* train_caption.c */
int cmd_train_vqa(int argc, char **argv);       /* train_vqa.c (vqa and classify) */
int cmd_eval_caption(int argc, char **argv);    /* caption.c */
int cmd_eval_vqa(int argc, char **argv);        /* vqa.c */

const cli_task CLI_TASKS[] = {
    /* name, train, eval (NULL: retrieval's recall), its lines in `mmc help train` */
    {"retrieval", cmd_train_retrieval, NULL,
     "  retrieval [--lang en|zh]: a dual encoder (image encoder + text encoder into one\n"
     "    embedding space), InfoNCE by default; validation text->image and image->text R@1/5/10,\n"
     "    model-best by text->image R@1+R@5+R@10. --lang zh: captions_zh, char tokenizer.\n"
     "    Config keys (encoders, sizes, loss, optimiser) and defaults: docs/retrieval.md.\n"
     "    --pair text:video: captions against the manifest's clips (\"target\": \"video\"; a\n"
     "    video encoder: video_encoder gru|mean|transformer|early, docs/video.md).\n"
     "    --pair audio:image: spoken captions (the manifests' \"audio\") find their scene\n"
     "    (以声搜图; \"query\": \"audio\"); --pair audio:text: a clip finds what it says\n"
     "    (\"target\": \"text\"). An audio encoder: audio_encoder gru|transformer|mean over\n"
     "    log-mel frames, docs/audio.md.\n"
     "  retrieval --init HF_FOLDER [--lang en|zh]: fine-tune a pretrained Hugging Face CLIP /\n"
     "    Chinese-CLIP folder (all weights, InfoNCE with its logit_scale, AdamW lr 1e-5, 1 epoch\n"
     "    by default); RUN becomes a Hugging Face folder that embed, index, search, zeroshot\n"
     "    and eval take; --lang defaults to zh for Chinese-CLIP; no --config; continue it with\n"
     "    --resume without --init (docs/clip.md, Fine-tuning).\n"},
    {"caption", cmd_train_caption, cmd_eval_caption,
     "  caption [--lang en|zh] [--decoder transformer|attention|lstm|gru] [--video]: image\n"
     "    encoder + text decoder (cross-entropy, teacher forcing); validation BLEU-4 (greedy)\n"
     "    each epoch (docs/captioning.md). --video: a summary sentence per clip of the\n"
     "    manifests' \"video\" (\"target\": \"video\"; docs/video.md).\n"},
    {"vqa", cmd_train_vqa, cmd_eval_vqa,
     "  vqa|classify [--fusion early|late|hybrid|joint|none] [--blind]\n"
     "    [--combine concat|sum|product|bilinear|logits|attention] [--task label|match]:\n"
     "    vqa: question -> answer from the manifests' qa pairs; classify: caption -> the\n"
     "    manifest's label, or --task match: does the caption describe the scene? Both\n"
     "    validate accuracy each epoch; docs/vqa.md lists the fusions and config keys.\n"
     "    classify --inputs video,audio|video|audio: a clip's frames and its sound track\n"
     "    -> its label (data: mmc data shapes --video --audio), fused early, late or\n"
     "    hybrid; video = the frames alone, audio = the sound alone (docs/audio.md).\n"},
    {"classify", cmd_train_vqa, cmd_eval_vqa, ""},
    {NULL, NULL, NULL, NULL},
};

const cli_task *cli_task_find(const char *name) {
    for (const cli_task *t = CLI_TASKS; name && t->name; t++)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

const char *cli_task_names(void) {
    static char buf[512];
    if (!buf[0])
        for (const cli_task *t = CLI_TASKS; t->name; t++) {
            size_t n = strlen(buf);
            snprintf(buf + n, sizeof buf - n, "%s%s", n ? ", " : "", t->name);
        }
    return buf;
}
