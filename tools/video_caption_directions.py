#!/usr/bin/python3
"""video_caption_directions.py — does a video captioner say which way each shape moves?

Usage: /usr/bin/python3 tools/video_caption_directions.py MMC DATA RUN...

Captions every test clip of DATA (manifest-test.jsonl of a moving-shapes world) with each
RUN (`MMC caption --model RUN --json`, greedy) and counts the clips with at least one mover
whose summary names exactly the movers and directions the references name: the set of
(colour, shape, direction) read from "COLOUR SHAPE moves up|down|from left to right|to the
right|from right to left|to the left" (sizes and order ignored; the references of a clip
describe the same events, their union is the truth). A model blind to frame order (meanP)
can tell the axis of a motion from where a shape has been, not its sense."""
import json
import re
import subprocess
import sys

PAT = re.compile(r"(\w+) (circle|square|triangle|diamond|star|cross) moves "
                 r"(up|down|from left to right|from right to left|to the right|to the left)")
SENSE = {"up": "up", "down": "down", "from left to right": "right", "to the right": "right",
         "from right to left": "left", "to the left": "left"}


def moves(text):
    return {(c, s, SENSE[d]) for c, s, d in PAT.findall(text)}


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.split("\n\n")[1])
    mmc, data, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(f"{data}/manifest-test.jsonl", encoding="utf-8") as f:
        clips = [json.loads(l) for l in f if l.strip()]
    for run in runs:
        out = subprocess.run([mmc, "caption", "--model", run, "--json"] + [f"{data}/{c['video']}" for c in clips],
                             capture_output=True, text=True, check=True).stdout
        caps = [json.loads(l)["caption"] for l in out.splitlines()]
        n = right = 0
        for c, cap in zip(clips, caps):
            truth = set().union(*[moves(r) for r in c["captions"]])
            if truth:
                n += 1
                right += moves(cap) == truth
        print(json.dumps({"run": run, "clips_with_movers": n, "directions_right": right, "fraction": round(right / max(n, 1), 4)}))


if __name__ == "__main__":
    main()
