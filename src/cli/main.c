/* main.c — `mmc COMMAND ...`: dispatches to one file per subcommand. */
#include "cli.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const cli_command cli_commands[] = {
    {"demo", cmd_demo, "train and evaluate the built-in examples end to end",
     "usage: mmc demo [--out DIR] [--threads T] [--steps N] [--quick]\n"
     "       mmc demo --check-screenshot PNG\n"
     "\n"
     "The main job, nothing downloaded: generates the shapes world (4000/200/200 scenes of\n"
     "64 px) into DIR/data, trains and evaluates on it for a fixed number of steps each\n"
     "(progress bars on a terminal): English and Chinese text->image retrieval, a captioner,\n"
     "VQA, the video stage (text->video search, video summaries, video QA) and the audio\n"
     "stage (spoken captions that find their scene, 以声搜图), and writes DIR/report.html\n"
     "(metrics table, training curves, example images, playable clips; self-contained), whose\n"
     "path it prints last. About 5-6 minutes on 2 cores. Ctrl-C saves the model being trained\n"
     "and exits 130. Deterministic for a thread count. Guide: docs/demo.md.\n"
     "  --out DIR     work folder (default demo; created if missing, contents overwritten)\n"
     "  --threads T   kernel threads (default: $MMC_THREADS, else all cores)\n"
     "  --steps N     training steps per model (default: retrieval 300 English, 450 Chinese;\n"
     "                captioner 400, VQA 400, speech 300)\n"
     "  --quick       tiny data and models, a few seconds (a smoke test; they learn little)\n"
     "  --check-screenshot PNG  check that a browser screenshot of a report shows its curves\n"
     "                and images (scripts/demo-check.sh); exit 3 when it looks blank\n"},
    {"bench", cmd_bench, "time a workload (matrix products, convolution, retrieval and caption training, CLIP inference, the HTTP service)",
     "usage: mmc bench WORKLOAD [--threads T] [--steps N] [--dtype f32|int8|q4] [--json]\n"
     "\n"
     "Workloads:\n"
     "  gemm-1024     1024x1024x1024 sgemm through mmc_matmul       (3 warm-up + 20 steps)\n"
     "  gemm-2048     2048x2048x2048 sgemm through mmc_matmul       (1 warm-up + 5 steps)\n"
     "  conv2d-train  conv2d forward+backward: batch 32, 64x64, 64->64 channels, 3x3,\n"
     "                pad 1, bias; GFLOP/s over forward, dW and dX    (1 warm-up + 3 steps)\n"
     "  retrieval-train  one AdamW step of the dual encoder (DESIGN 7): ResNet-18 layout\n"
     "                32-64-128-256 on 64x64 + GRU 512 text (vocab 5000, 16 tokens), InfoNCE,\n"
     "                batch 128; pairs/s                                (1 warm-up + 3 steps)\n"
     "  caption-train  one AdamW step of a captioner (DESIGN 7): the same ResNet + linear to\n"
     "                512 as step 0 of an LSTM 512 over embeddings 512, vocab 5000, 20 target\n"
     "                tokens, cross-entropy, batch 64; tokens/s         (1 warm-up + 3 steps)\n"
     "  video-retrieval-train  one AdamW step of the default text:video dual encoder: 8 frames\n"
     "                of 64x64 stacked into the 16-32-64-128 cnn, GRU 128 text (64 words, 16\n"
     "                tokens), InfoNCE, batch 128; clips/s              (1 warm-up + 3 steps)\n"
     "  audio-retrieval-train  one AdamW step of the default audio:image dual encoder: 4 s\n"
     "                log-mel clips (80x400) through 3 strided Conv1d 128 + BiGRU 128, the\n"
     "                64x64 cnn, GRU 128 transcripts (64 words, 16 tokens), three InfoNCE\n"
     "                terms, batch 128; clips/s                         (1 warm-up + 3 steps)\n"
     "  clip-vit-b32-image  CLIP ViT-B/32 image tower (DESIGN 7), random weights: 224x224,\n"
     "                patch 32, width 768, 12 layers, 12 heads, MLP 3072, projection 512;\n"
     "                inference on batch 8 through mmc_clip_vision_forward; images/s\n"
     "                                                                (1 warm-up + 3 steps)\n"     "  clip-text-b32  CLIP ViT-B/32 text tower, random weights: width 512, 12 layers, 8 heads,\n"
     "                MLP 2048, causal, vocab 49408; inference on 32 texts of 77 tokens\n"
     "                through mmc_clip_text_forward; texts/s         (1 warm-up + 3 steps)\n"
     "  serve-search  the HTTP service under load: `mmc serve` started as a child process\n"
     "                with --threads T workers, C keep-alive clients POSTing text searches\n"
     "                (/v1/search) for S seconds against an index of N shapes images;\n"
     "                requests/s, latency p50/p90/p99/max, errors, the server's resident\n"
     "                memory before and after. Own options: --model RUN (default: the\n"
     "                demo's demo/retrieval-en; without one it trains that model once into\n"
     "                --work, about a minute), --images N (10000), --clients C (16),\n"
     "                --seconds S (30), --threads T (2), --work DIR (the images and index,\n"
     "                kept for the next run; default bench-serve/ beside the binary).\n"
     "                --json adds \"clients\", \"seconds\", \"images\", \"requests\",\n"
     "                \"errors\", \"p50_ms\", \"p90_ms\", \"p99_ms\", \"max_ms\",\n"
     "                \"rss_before_mb\", \"rss_after_mb\", \"rss_change_pct\"\n"
     "  --threads T   kernel threads (default: $MMC_THREADS, else all cores)\n"
     "  --steps N     timed steps after the warm-up\n"     "  --dtype T     gemm-* and clip-*: weights f32 (default), int8 (= q8) or q4, as `mmc\n"
     "                quantize` makes them (gemm-2048 --dtype int8: the int8 limit of make bench;\n"
     "                the CLIP towers are quantised, written and loaded again in a child\n"
     "                process, so peak RSS is the quantised model's)\n"
     "  --json        one JSON object: {\"workload\", \"dtype\", \"rate\", \"unit\", \"threads\", \"peak_rss_mb\"}\n"
     "                (+ \"gflops\", matrix products only, for the training and CLIP workloads,\n"
     "                and \"params\", trainable parameters, for the training workloads)\n"
     "\n"
     "bench/run.sh (make bench) runs each beside PyTorch (bench/torch/).\n"},
    {"data", cmd_data, "make or import a dataset folder (images + manifest JSONL)",
     "usage: mmc data shapes --out DIR [--train N] [--val N] [--test N] [--seed S] [--size PX]\n"
     "                       [--threads T] [--video [--frames N] [--fps F]]\n"
     "                       [--audio [--audio-scenes N] [--audio-per-scene K] [--audio-langs L]\n"
     "                        [--audio-format F]]\n"
     "       mmc data emoji --out DIR [--styles google,twitter] [--split style|within] [--cache DIR]\n"
     "       mmc data fashion-mnist --out DIR [--from DIR] [--val N]\n"
     "       mmc data coco --annotations FILE --images DIR --out DIR\n"
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
     "  --threads T   threads (default: $MMC_THREADS, else all cores)\n"
     "  --video       the moving-shapes world instead (docs/video.md): clips of 1-3 shapes that\n"
     "                move, grow, shrink, change colour, appear or disappear, written as\n"
     "                lossless FFV1 in DIR/videos/SPLIT-NNNNNN.mkv, the first frame as\n"
     "                DIR/images/SPLIT-NNNNNN.png; captions say what happens (a clip played\n"
     "                backwards needs another caption); QA types count_moving, direction,\n"
     "                appear, colour_change, size_change. --size 16 or more\n"
     "  --frames N    frames per clip, 2 to 64 (default 8)\n"
     "  --fps F       frames per second of the files (default 8)\n"
     "  --audio       also spoken captions (docs/audio.md): eSpeak NG reads K captions per\n"
     "                scene and language aloud (voice, speed and pitch drawn per utterance;\n"
     "                val and test use voices train never hears) into DIR/audio/ at 16 kHz;\n"
     "                the manifest gains \"audio\": [{\"path\", \"lang\", \"text\", \"voice\"}]\n"
     "  --audio-scenes N  spoken scenes per split, the first N (default 4000; 0: all)\n"
     "  --audio-per-scene K  spoken captions per scene and language, 1 to 5 (default 1)\n"
     "  --audio-langs L  en, zh or en,zh (default)\n"
     "  --audio-format F  ogg (Vorbis, default: ~30 KB an utterance), flac or wav\n"     "\n"
     "emoji: 64 px emoji images from the npm packages emoji-datasource-google@16.0.0 and\n"
     "emoji-datasource-twitter@16.0.0, names from emojibase-data@17.0.0, fetched with `npm pack`\n"
     "and checked against pinned sha512 values. captions = the English CLDR name, then its\n"
     "keywords; captions_zh = the Chinese name, then its keywords; label = the emoji category.\n"
     "Writes DIR/images/STYLE/CODE.png. Emoji a style lacks are skipped and counted.\n"
     "  --styles S,T  drawing styles, first is the training style (default google,twitter)\n"
     "  --split style train on the first style (val: 1 emoji in 20, held out), test on the\n"
     "                others: the same emoji drawn differently (default)\n"
     "  --split within  each emoji to train/val/test (80/10/10 by a hash), in every style\n"
     "  --cache DIR   where tarballs are kept (default $XDG_CACHE_HOME/mmc/npm or ~/.cache/mmc/npm)\n"
     "\n"
     "fashion-mnist: Debian's dataset-fashion-mnist (installed with apt-get, through sudo when\n"
     "not root, if missing). 28x28 grayscale PNGs, label = class name (t-shirt/top, trouser,\n"
     "...), captions \"a photo of a ...\" in English and Chinese. train = the official 60000\n"
     "minus the last N (val), test = the official 10000.\n"
     "  --from DIR    IDX files {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (default\n"
     "                /usr/share/datasets/fashion-mnist; nothing is installed when given)\n"
     "  --val N       validation images taken from the end of train (default 5000)\n"
     "\n"
     "coco: Karpathy's split JSON (dataset_coco.json, dataset_flickr8k.json, ...): images[] with\n"
     "filepath, filename, split, sentences[].raw. restval joins train. DIR/images becomes a\n"
     "symbolic link to the images folder (nothing is copied); images not found are skipped.\n"
     "  --annotations FILE  the split JSON\n"
     "  --images DIR  the folder FILEPATH/FILENAME are relative to\n"
     "\n"
     "Exit codes: 1 bad arguments, 2 bad input data (named), 3 download, disk or memory failure.\n"},
    {"tokenize", cmd_tokenize, "show the token ids a model gives each text",
     "usage: mmc tokenize --model M TEXT... [--json]\n"
     "\n"
     "Tokenizes each TEXT as the model M does, with its special tokens (<|startoftext|> ...\n"
     "<|endoftext|> for CLIP, [CLS] ... [SEP] for Chinese-CLIP/BERT) and without truncation,\n"
     "so a text longer than the model's context shows its full length.\n"
     "  --model M     a Hugging Face CLIP or Chinese-CLIP folder (config.json + tokenizer files),\n"
     "                or a folder holding only tokenizer files (vocab.txt, tokenizer.json, or\n"
     "                vocab.json + merges.txt). Run folders are not supported yet.\n"
     "  --json        one line per text: the JSON array of its token ids, nothing else\n"
     "  --            the arguments after it are texts, even if they start with --\n"
     "Human output: the text, its token count, the ids and the tokens.\n"
     "\n"
     "Exit codes: 1 bad arguments, 2 a missing or malformed model folder, or text that is not UTF-8.\n"},
    {"train", cmd_train, "train a model on a dataset folder (mmc help train lists the tasks)",
     "usage: mmc train TASK --data DIR --out RUN [--config FILE] [--epochs N | --steps N | --minutes M]\n"
     "                 [--seed S] [--threads T] [--val-max N] [--resume] [the task's flags]\n"
     "Trains TASK on DIR/manifest-train.jsonl and validates after each epoch on\n"
     "manifest-val.jsonl. Writes RUN/config.json (settings + the vocabulary built from the\n"
     "training data), model.safetensors (last checkpoint), model-best.safetensors (best\n"
     "validation), optimizer.safetensors, trainer.json, metrics.jsonl.\n"
     "Ctrl-C saves a resumable checkpoint and exits 130.\n"
     "  --data DIR     dataset folder (manifest-train/val.jsonl + images)\n"
     "  --out RUN      run folder (created)\n"
     "  --config FILE  JSON object of config keys; the task's flags override it\n"
     "  --epochs N     passes over the training set (default: the config's epochs, 10)\n"
     "  --steps N      optimizer steps instead\n"
     "  --minutes M    stop after M minutes of training steps (validation not counted),\n"
     "                 then validate and save; the learning rate decays over the M minutes\n"
     "  --seed S       random seed (default 1): init, order, captions, augmentation\n"
     "  --threads T    kernel threads (default: $MMC_THREADS, else all cores)\n"
     "  --resume       continue RUN from its last checkpoint, bit-exactly (same seed)\n"
     "  --val-max N    validate on the first N val images only (vqa/classify: 500)\n"
     "\n"
     "tasks:\n"},
    {"eval", cmd_eval, "evaluate a trained run on a dataset split (retrieval recall)",
     "usage: mmc eval RUN --data DIR [--split test] [--json] [--best] [--first-caption] [--dtype T]\n"
     "       (caption runs: [--beam K] [--length-penalty A] [--no-repeat-ngram N] [--max-images N];\n"
     "        BLEU-1..4, CIDEr-D, exact match; --json keys BLEU-1..BLEU-4, CIDEr-D, exact_match)\n"
     "\n"
     "vqa/classify runs: accuracy overall and by question type (--json: {\"accuracy\", \"n\",\n"
     "\"by_type\": {TYPE: {\"accuracy\", \"n\"}}, \"split\", \"fusion\", \"checkpoint\"}).\n"
     "Retrieval runs:\n"
     "Embeds every image and every caption (of the run's language) of DIR/manifest-SPLIT.jsonl\n"
     "and reports retrieval recall:\n"
     "  text->image: for each caption, the rank of its image among all images;\n"
     "  image->text: for each image, the rank of the best-ranked of its captions among\n"
     "               all captions;\n"
     "  R@K = fraction of queries ranked within K; median_rank (1 = first); rsum = the sum\n"
     "  of the six recalls in percent (0..600).\n"
     "  --split S   split name (default test)\n"
     "  --dtype T   f32 (default), int8 (= q8): the Linear products in int8 with the\n"
     "              activations quantised per row (a retrieval run keeps its floats beside;\n"
     "              a CLIP folder is quantised at load, q4 too), to measure what it costs\n"
     "  --json      one JSON object: {\"text_to_image\": {\"R@1\", \"R@5\", \"R@10\",\n"
     "              \"median_rank\", \"mean_rank\"}, \"image_to_text\": {...}, \"rsum\", ...}\n"
     "              (recalls as fractions in [0, 1], rsum in percent)\n"
     "  --best      use model-best.safetensors instead of the last checkpoint\n"
     "  --first-caption  only each sample's first caption (e.g. an emoji's name, not its\n"
     "              keywords) as query and candidate (retrieval run folders)\n"},
    {"embed", cmd_embed, "embed texts, images, videos and sound with a model (L2-normalised vectors)",
     "usage: mmc embed --model M (--text S | --image P | --video V | --audio F)... [--window SECONDS]\n"
     "                 [--frames T] [--dtype f32|int8|q4] [--json]\n"
     "\n"
     "Embeds each text and image with the model M, a run folder from `mmc train retrieval`\n"
     "or a Hugging Face CLIP / Chinese-CLIP folder. Outputs are L2-normalised, in the order given.\n"
     "  --model M     the model folder\n"
     "  --text S      a text to embed (repeatable)\n"
     "  --image P     an image file to embed: PNG, JPEG or PPM (repeatable)\n"
     "  --video V     a video file (MP4, MKV, WebM, AVI): one embedding per segment of\n"
     "                --window seconds (default: the whole file), T frames each, uniform in\n"
     "                it; a text:video run embeds them as a clip (its own T), CLIP and\n"
"                image runs average the frames' embeddings (meanP; --frames T, 8)\n"
     "  --audio F     a sound file (WAV, FLAC, Ogg, AIFF; resampled to 16 kHz, log-mel):\n"
     "                a run of `mmc train retrieval --pair audio:image|audio:text`\n"
     "  --dtype D     f32 (default: the weights as stored), int8 (= q8) or q4: run the model\n"
     "                with int8 / int4 weights, quantised as it loads (CLIP / Chinese-CLIP\n"
     "                as `mmc quantize --type` does; a retrieval run: int8 only, each Linear\n"
     "                weight gets an int8 copy). A folder from `mmc quantize` is quantised\n"
     "                whatever D says\n"
     "  --json        one JSON object per input and line: {\"text\": S, \"embedding\": [...]}\n"
     "                or {\"image\": P, \"embedding\": [...]} or {\"video\": V, \"start\",\n"
     "                \"end\", \"embedding\"} (seconds) or {\"audio\": F, ...}; values\n"
     "                round-trip as float32\n"
     "Without --json: the first values of each embedding and its norm.\n"
     "Exit codes: 1 bad arguments or an input the model does not embed, 2 a missing or\n"
     "unreadable model, image, video or sound file.\n"},
    {"index", cmd_index, "build a search index of image, video or text embeddings",
     "usage: mmc index build --model M (--data DIR [--split S] | --images DIR) --out INDEX\n"
     "                       [--batch N] [--int8] [--dtype f32|int8|q4]\n"
     "       mmc index build --model M --videos DIR [--window SECONDS] [--frames T] --out INDEX\n"
     "       mmc index build --model M --texts FILE --out INDEX [--batch N] [--int8]\n"
     "\n"
     "Embeds images with the model M and writes an index file for `mmc search`: every image\n"
     "of DIR/manifest-S.jsonl (in manifest order), or every image file (.png, .jpg, .jpeg,\n"
     ".ppm, .pgm) directly in the folder, sorted by name. The index records each image's\n"
     "absolute path and the model's absolute path (its id), so search needs only the index.\n"
     "  --model M     the model folder\n"
     "  --data DIR    a dataset folder (images + manifest JSONL)\n"
     "  --split S     the manifest split with --data (default test)\n"
     "  --images DIR  a folder of image files\n"
     "  --videos DIR  a folder of video files (.mp4, .mkv, .webm, .avi, .mov, .m4v), each cut\n"
     "                into segments of --window seconds (default: one per file), each an\n"
     "                item PATH#t=START,END embedded as `mmc embed --video` does (以文搜视频)\n"
     "  --texts FILE  texts, one per line (UTF-8; blank lines skipped), or JSON lines\n"
     "                {\"id\": ID, \"text\": TEXT} (id optional; no tab or newline in it) when\n"
     "                FILE ends in .jsonl or every line starts with '{': a text index, which\n"
     "                `mmc search` answers by text or by image (以图搜文). At most 1 GiB,\n"
     "                lines of 1 MiB, 10,000,000 texts\n"
     "  --out INDEX   the index file to write (atomically)\n"
     "  --batch N     images or texts per embedding batch (default 64)\n"
     "  --int8        store rows as int8 with a scale per row (4x smaller and ~2.5x faster\n"
     "                to search one query, scores a little less exact)\n"
     "  --dtype T     the model's weights: f32 (default), int8 (= q8) or q4, quantised at load\n"
     "                as `mmc quantize` does (a quantised folder needs none); not the index's rows\n"
     "The images are decoded one batch ahead on a second thread while the model embeds the\n"
     "current batch (MMC_INDEX_OVERLAP=0: in turn); the end line gives images/s.\n"},
    {"search", cmd_search, "search an index by text, by image or by sound",
     "usage: mmc search INDEX (--text S | --image P | --audio F) [-k K] [--model M]\n"
     "                  [--dtype f32|int8|q4] [--json]\n"
     "\n"
     "Opens the model the index was built with, embeds the query and prints the K indexed\n"
     "items (images, video segments or texts) closest to it by cosine similarity (1 = same\n"
     "direction), best first; equal scores keep index order.\n"
     "  --text S      find the images that match a text (on a text index: similar texts)\n"
     "  --image P     find the images that look like an image file (on a text index: the\n"
     "                texts that describe it, 以图搜文)\n"
     "  --audio F     find the images a spoken sound file describes (以声搜图: an index built\n"
     "                with an audio:image run), or the texts it says (audio:text)\n"
     "  -k K          results to show (default 10)\n"
     "  --model M     use this model folder instead of the one recorded (if it moved); it\n"
     "                must be the same model for the scores to mean anything\n"
     "  --dtype D     embed the query with int8 / int4 weights (as `mmc embed --dtype`); the\n"
     "                index keeps the vectors it was built with\n"
     "  --json        one JSON document: {\"query\", \"kind\", \"index\", \"model\",\n"
     "                \"results\": [{\"rank\", \"row\", \"path\", \"score\"}]} (row: the item's\n"
     "                0-based row in the index); a video segment's result also has \"start\",\n"
     "                \"end\" (seconds) and \"item\" (PATH#t=START,END); a text index's has\n"
     "                \"text\" in place of \"path\", and \"id\" before it when it has ids\n"
     "A video index (`mmc index build --videos`) returns the video and the span of the\n"
     "segment that matches best.\n"
     "Exit codes: 1 bad arguments, 2 a missing or broken index, model or query image.\n"},
    {"zeroshot", cmd_zeroshot, "classify images by label names, no training (CLIP-style)",
     "usage: mmc zeroshot --model M IMAGE... --labels \"a,b,c\" [--template T] [-k K]\n"
     "                    [--dtype f32|int8|q4] [--json]\n"
     "       mmc zeroshot --model M --data DIR [--split S] [--field F] [--labels ...]\n"
     "                    [--template T] [--dtype f32|int8|q4] [--json]\n"
     "\n"
     "Each label becomes a text through the template, and each image is scored against every\n"
     "such text: p(label) = softmax(scale * cosine). scale is the model's learned logit scale\n"
     "when it has one (a run trained with the infonce loss; at most 100), else 100 (CLIP's\n"
     "trained value). The scale changes the probabilities, not the ranking. A video file\n"
     "(.mp4 .mkv .webm .avi .mov .m4v) is scored as a whole: 8 frames' embeddings averaged\n"
     "(meanP), or a text:video run's clip.\n"
     "  --model M     the model folder\n"
     "  --labels L    comma-separated label names (spaces around a name are dropped)\n"
     "  --template T  the text for a label, {} standing for it (default \"a photo of a {}\")\n"
     "  -k K          labels shown per image (default 5)\n"
     "  --dtype D     run the model with int8 / int4 weights (as `mmc embed --dtype`)\n"
     "  --json        one JSON object per image and line: {\"image\", \"label\" (the best),\n"
     "                \"labels\": [{\"label\", \"prob\", \"cosine\"}]} best first\n"
     "With --data: scores every image of DIR/manifest-S.jsonl (default split test) whose\n"
     "field F (default label; any string or integer field of the manifest lines) names a\n"
     "class, the classes being --labels or else every distinct value of F in the split\n"
     "(sorted), and reports accuracy overall and per class (with --json: one document\n"
     "{\"n\", \"correct\", \"accuracy\", \"mean_per_class\", \"classes\": [{\"label\", \"n\",\n"
     "\"correct\", \"accuracy\"}], ...}; accuracies are fractions).\n"},
    {"caption", cmd_caption, "describe images (or video clips) in words with a trained captioning run",
     "usage: mmc caption --model RUN IMAGE... [--beam K] [--json] [--best]\n"
     "                   [--length-penalty A] [--no-repeat-ngram N] [--max-len N]\n"
     "       mmc caption --model VIDEO_RUN CLIP... [--keyframes K [--keyframes-dir DIR]] [...]\n"
     "\n"
     "Captions each image with a run from `mmc train caption` (model.safetensors, or\n"
     "model-best.safetensors with --best): greedy by default, beam search of width K with\n"
     "--beam K (GNMT length penalty A, default the run's; n-gram blocking; at most N tokens).\n"
     "--json: one object per image per line: {\"image\", \"caption\", \"score\"} and, with\n"
     "K > 1, \"beams\": [{\"caption\", \"score\"}, ...] best first.\n"
     "A run of `mmc train caption --video` takes video files (MP4, MKV, WebM, AVI; its\n"
     "video_frames frames uniformly over each) and writes a summary sentence. --keyframes K:\n"
     "also the K frames the summary leans on most (the largest drops in its log-probability\n"
     "when a frame is replaced by its neighbour), in time order, as DIR/CLIP-kfI.png at the\n"
     "video's own size (DIR: keyframes/); --json adds \"keyframes\": [{\"frame\", \"time\",\n"
     "\"drop\", \"png\"}].\n"
     "Exit codes: 1 bad arguments, 2 a missing or malformed run folder, image or video.\n"},
    {"vqa", cmd_vqa, "answer a question about an image or a video clip with a trained VQA run",
     "usage: mmc vqa --model RUN IMAGE|CLIP --question Q [--json] [--best] [--top K]\n"
     "\n"
     "Answers Q about IMAGE with a run of `mmc train vqa` (or classify: Q is then the text);\n"
     "a run of `mmc train vqa --video` answers about a video file (CLIP) instead.\n"
     "Prints the answer and the next most probable ones; --json prints one object\n"
     "{\"image\", \"question\", \"answer\", \"probability\", \"top\": [{\"answer\", \"probability\"}]}\n"
     "(K = 5 entries by default). --best uses model-best.safetensors.\n"
     "Exit codes: 1 bad arguments or an empty question, 2 a missing or malformed run folder or\n"
     "image, or a question that is not UTF-8.\n"},
    {"serve", cmd_serve, "an HTTP API and a web page for search, captions, answers and labels",
     "usage: mmc serve --model M [--model M2]... [--index [NAME=]FILE]... [--host H] [--port P]\n"
     "                 [--threads T] [--api-key K | --insecure] [--log FILE] [--dtype D] [limits]\n"
     "\n"
     "Answers HTTP on H:P (default 127.0.0.1:8080) until SIGINT or SIGTERM, then finishes the\n"
     "requests in flight. Open http://H:P/ for the web page: search the indexes by text\n"
     "(English or Chinese), or drop an image to find similar images and texts (以图搜文), a\n"
     "caption, zero-shot labels or an answer. JSON endpoints (docs/serve.md has examples):\n"
     "  GET  /health, /v1/models, /v1/files/INDEX/ROW (an image the index records)\n"
     "  POST /v1/embeddings  OpenAI-style {\"input\": S | [S...] | [{\"image\": B64}]}\n"
     "  POST /v1/search      {\"text\": S | \"image\": B64, \"index\": NAME, \"k\": K}: what\n"
     "                       `mmc search --json` prints\n"
     "  POST /v1/zeroshot    {\"image\": B64, \"labels\": [...], \"template\": T}\n"
     "  POST /v1/caption     {\"image\": B64, \"beam\": K}        (a caption run among --model)\n"
     "  POST /v1/vqa         {\"image\": B64, \"question\": Q}    (a VQA run among --model)\n"
     "Images are base64 or data URLs (data:image/png;base64,...).\n"
     "  --model M       a retrieval run or CLIP / Chinese-CLIP folder (embeddings, search,\n"
     "                  zero-shot), a caption run, a VQA run; repeat for several\n"
     "  --index FILE    an index from `mmc index build` (images, video segments or texts),\n"
     "                  named by its file name or NAME=FILE; repeat for several\n"
     "  --port P        0 picks a free port (printed; --port-file F also writes it to F)\n"
     "  --threads T     worker threads, each answering one request at a time on one core\n"
     "                  (default 2)\n"
     "  --api-key K     /v1/ wants \"Authorization: Bearer K\" (or X-API-Key: K); required\n"
     "                  for a --host that is not loopback, unless --insecure\n"
     "  --log FILE      the access log, one line a request (default: stderr)\n"
     "  --dtype D       f32 (default), int8 or q4: the embedding models (retrieval runs: int8\n"
     "                  only; CLIP folders) run with int8 / int4 weights (as `mmc embed\n"
     "                  --dtype`); caption and VQA runs stay f32\n"
     "Limits: --max-body BYTES (16 MiB; 413 beyond), --max-k K (100), --queue N requests in\n"
     "flight (64; 503 beyond), --timeout S idle seconds before a connection is dropped (30),\n"
     "--rate R requests a second per client address (off; 429 beyond).\n"
     "Exit codes: 1 bad arguments or an address it cannot listen on, 2 a missing or broken\n"
     "model or index, 3 runtime.\n"},
    {"video", cmd_video, "look at a video file: the frames and timestamps mmc samples",
     "usage: mmc video frames FILE [--frames T | --fps F | --all] [--size S] [--out DIR] [--json]\n"
     "\n"
     "Decodes FILE (MP4/MOV, MKV/WebM or AVI; H.264, VP9, MPEG-4, MJPEG, FFV1 or any video\n"
     "codec the system's libavcodec decodes) as mmc's video loader does, and prints the container,\n"
     "codec, size, frame count and duration, then each sampled frame's timestamp (seconds,\n"
     "from the stream's own timestamps, so variable frame rates are right), size and mean.\n"
     "Frames are RGB, turned as the file's rotation metadata says (as players show them).\n"
     "  --frames T    T frames spread uniformly over the duration (default 8)\n"
     "  --fps F       the frame shown every 1/F seconds instead\n"
     "  --all         every frame (at most 10000)\n"
     "  --size S      S x S frames as the image loader makes them: the short side resized\n"
     "                to S (bilinear), then the centre square\n"
     "  --out DIR     also write DIR/frame-NNNN.png\n"
     "  --json        one JSON object instead of lines\n"
     "Exit codes: 1 bad arguments, 2 a file that is missing, not a video, audio only, has\n"
     "no frames, is truncated or corrupt, or is over the limits (docs/video.md), 3 disk.\n"},
    {"audio", cmd_audio, "look at a sound file: what mmc hears in it",
     "usage: mmc audio info FILE [--rate R] [--out F.f32] [--json]\n"
     "       mmc audio mel FILE --out F.png [--n-mels N] [--json]\n"
     "\n"
     "Decodes FILE (WAV 8/16/24/32-bit or float, FLAC, Ogg Vorbis/Opus, AIFF, and whatever\n"
     "else the system's libsndfile reads) as mmc's audio loader does and prints the container,\n"
     "encoding, sample rate, channels, frames and duration, then the mono signal mmc makes\n"
     "of it (the mean of the channels): its length, peak and RMS level.\n"
     "  --rate R      resample the mono signal to R Hz (libsoxr, high quality; speech models\n"
     "                use 16000)\n"
     "  --out F.f32   also write the mono samples as raw float32 little-endian\n"
     "  --json        one JSON object\n"
     "mel: the log-mel spectrogram a speech model sees (Whisper's front end: 16 kHz, 25 ms\n"
     "windows every 10 ms, N = 80 mel bands) as a PNG: one pixel a frame, low frequencies\n"
     "at the bottom, dark blue (quiet) to yellow (loud).\n"
     "Exit codes: 1 bad arguments, 2 a file that is missing, not a sound file, truncated,\n"
     "empty, over the limits, or holds NaN or infinite samples (docs/audio.md), 3 disk.\n"},
    {"quantize", cmd_quantize, "write an int8 / int4 copy of a CLIP or Chinese-CLIP folder",
     "usage: mmc quantize MODEL --out DIR [--type q8|q4] [--force]\n"
     "\n"
     "Loads the Hugging Face CLIP / Chinese-CLIP folder MODEL with its Linear weights\n"
     "quantised and writes DIR, a folder every command that takes a CLIP folder opens (embed,\n"
     "index build, search, zeroshot, serve, eval; inference only, it cannot be fine-tuned):\n"
     "DIR/model.safetensors holds those weights as I8 (q8) or U8 (q4, two 4-bit values a\n"
     "byte) with a NAME_scale F32 tensor each (docs/formats.md), the other tensors as F32;\n"
     "config.json, the tokenizer files and preprocessor_config.json are copied. Its\n"
     "embeddings equal those of `--dtype q8|q4` on MODEL bit for bit.\n"
     "  --out DIR     the folder to write (created; not MODEL itself)\n"
     "  --type q8     every encoder-layer Linear and both projections int8, one scale per\n"
     "                output channel (default; int8 is the same)\n"
     "  --type q4     the MLP weights (fc1, fc2; BERT's intermediate and output dense) 4-bit\n"
     "                with a scale per output channel and group of 32 inputs, the other\n"
     "                Linears int8\n"
     "  --force       write into a DIR that already holds a model.safetensors\n"
     "Prints the type, the tensors quantised, the checkpoint's bytes before and after, and\n"
     "the time taken. A retrieval run folder is not supported yet: run it int8 with\n"
     "`--dtype int8` (embed, search, zeroshot, serve), which quantises it as it loads.\n"
     "Exit codes: 1 bad arguments (an unknown type, DIR = MODEL or already holding a model,\n"
     "a model that is already quantised or not CLIP), 2 a missing or malformed model folder\n"
     "(the file named), 3 a disk failure.\n"},
    {"inspect", cmd_inspect, "list the tensors of a .safetensors file or summarise a run folder",
     "usage: mmc inspect FILE.safetensors | RUN [--json]\n"
     "\n"
     "FILE.safetensors: each tensor's name, dtype, shape and statistics (min, max, mean,\n"
     "std), and the file's metadata.\n"
     "RUN (a run folder): config.json's top-level settings, trainer.json (step, epoch, data\n"
     "position, best metric), the optimizer state (kind, tensors, step counts) and the\n"
     "tensors of model.safetensors as above.\n"
     "--json prints one JSON document instead.\n"},
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

/* `mmc help train` ends with each task's own lines, from the task table (tasks.c). */
static void print_usage(const cli_command *c) {
    fputs(c->usage, stdout);
    if (!strcmp(c->name, "train"))
        for (const cli_task *t = CLI_TASKS; t->name; t++) fputs(t->usage, stdout);
}

static const cli_command *find(const char *name) {
    for (int i = 0; i < cli_ncommands; i++)
        if (strcmp(cli_commands[i].name, name) == 0) return &cli_commands[i];
    return NULL;
}

/* OpenMP threads that finish a parallel region spin for a while before sleeping (libgomp's
 * default wait policy). Our kernels interleave OpenMP regions with OpenBLAS calls, which
 * run on OpenBLAS's own threads, so the spinning threads steal the cores the GEMM needs:
 * on a 2-core machine a training step measured 10x slower. libgomp reads its policy once,
 * when it is loaded, so the CLI sets OMP_WAIT_POLICY=passive and re-executes itself when
 * the user has not chosen a policy. MMC_NO_REEXEC=1 turns this off. */
static void tune_openmp_and_reexec(char **argv) {
    if (getenv("MMC_NO_REEXEC")) return;
    if (getenv("OMP_WAIT_POLICY") || setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    setenv("MMC_NO_REEXEC", "1", 1); /* never loop */
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the default policy */
}

int main(int argc, char **argv) {
    tune_openmp_and_reexec(argv);
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
            print_usage(c);
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
            print_usage(c);
            return 0;
        }
    mmc_set_threads(0);
    return c->run(argc - 1, argv + 1);
}
