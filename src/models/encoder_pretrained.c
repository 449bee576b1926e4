/* encoder_pretrained.c — the pretrained towers' names in the registry: "clip-vision",
 * "clip-text" (CLIPModel / ChineseCLIPModel, src/models/clip*.c) and "bert" (Chinese-CLIP's
 * BERT text tower). They are built from a Hugging Face folder's config.json and weights,
 * not from a task's keys, so they have no init here: a task config naming them is refused
 * with where they can be used (mmc embed / index / zeroshot / serve with --model HF_DIR,
 * and fine-tuned by mmc train clip). */
#include "encoder.h"

#define CLIP_WHERE "a CLIPModel folder's tower: --model HF_DIR with mmc embed/index/zeroshot/serve, fine-tuned by mmc train clip"
#define BERT_WHERE "a ChineseCLIPModel folder's text tower: --model HF_DIR, fine-tuned by mmc train clip"

const enc_image_vt enc_clip_vision = {"clip-vision", NULL, 0, ENC_CAP_POOLED, CLIP_WHERE, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
const enc_text_vt enc_clip_text = {"clip-text", NULL, 0, CLIP_WHERE, NULL, NULL, NULL, NULL, NULL};
const enc_text_vt enc_bert = {"bert", NULL, 0, BERT_WHERE, NULL, NULL, NULL, NULL, NULL};
