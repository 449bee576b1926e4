/* demo_vqa.c — the demo's visual question answering stage (issue 7). Declared in demo.h
 * with what it should do, listed in STAGES (demo.c) but not enabled until the VQA model
 * lands; the retrieval stage (demo_retrieval.c) is the model to follow. */
#include "demo.h"

int demo_stage_vqa(demo_ctx *d) {
    (void)d;
    return 0;
}
