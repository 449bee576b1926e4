#!/bin/sh
# make_models.sh DIR TASK RUN DATA — bad-input cases (the format of make.sh, run by run.sh)
# for the commands of one task's trained run: TASK is caption, vqa or retrieval, RUN a good
# run folder of it (`mmc train TASK`), DATA the dataset folder it was trained on.
#
# Generic over the run's files, so it follows the run format as it changes: every file of
# RUN that the commands read (all but metrics.jsonl and model-best.safetensors; the
# inference commands also skip optimizer.safetensors and trainer.json) is in turn empty,
# truncated, a directory, or missing; .json files are also deeply nested, invalid UTF-8 and
# enormous-valued; .safetensors files also of the wrong magic, NaN-filled and another
# model's weights. Each through the task's inference command, `mmc eval`, and
# `mmc train TASK --resume`; then broken manifests through eval and training, broken
# --config files, and broken images through the inference command. Every case wants exit 2
# naming the file; three intact-copy cases want exit 0, so the cases fail for their file.
# POSIX sh.
set -eu
[ $# -eq 4 ] || { echo "usage: make_models.sh DIR TASK RUN DATA" >&2; exit 1; }
D=$1 TASK=$2 RUN=$3 DATA=$4
case $D in *[[:space:]]*) echo "make_models.sh: DIR must have no blanks" >&2; exit 1;; esac
rm -rf "$D"
mkdir -p "$D"
D=$(cd "$D" && pwd) RUN=$(cd "$RUN" && pwd) DATA=$(cd "$DATA" && pwd)
C=$D/cases
: > "$C"
case_() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$C"; }
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
u64le() {
    i=0
    while [ $i -lt 8 ]; do printf "\\$(printf %o $(( ($1 >> (8 * i)) & 255 )))"; i=$((i + 1)); done
}
IMG=$(ls "$DATA"/images/*.png | head -n 1)

# the task's inference command on model folder $1 (its output must name the image: exit 0)
infer() {
    case $TASK in
        caption) echo "caption --model $1 $IMG --json";;
        vqa) echo "vqa --model $1 $IMG --question what --json";;
        retrieval) echo "embed --model $1 --image $IMG --json";;
        *) echo "make_models.sh: unknown task '$TASK'" >&2; exit 1;;
    esac
}
train() { echo "train $TASK --data $1 --out $2 $3"; }

runcopy() { mkdir -p "$D/$1"; cp "$RUN"/* "$D/$1/"; }
ls "$RUN"/model.safetensors "$RUN"/config.json > /dev/null
MODEL=$RUN/model.safetensors
n=0
for path in "$RUN"/*; do
    [ -f "$path" ] || continue
    f=$(basename "$path")
    case $f in metrics.jsonl | model-best.safetensors | *.next | *.tmp.*) continue;; esac
    resume_only=0
    case $f in optimizer.safetensors | trainer.json) resume_only=1;; esac
    n=$((n + 1))
    size=$(wc -c < "$path")
    kinds="empty trunc dir missing"
    case $f in
        *.json) kinds="$kinds deep utf8 huge";;
        *.safetensors) kinds="$kinds magic nan other";;
    esac
    for k in $kinds; do
        r=r$n-$k
        runcopy "$r"
        p=$D/$r/$f
        case $k in
            empty) : > "$p";;
            trunc) head -c $((size / 2)) "$path" > "$p";;
            dir) rm "$p"; mkdir "$p";;
            missing) rm "$p";;
            deep) rep '[' 200000 > "$p";;
            utf8) sed 's/"/"\xff/' "$path" > "$p";;
            # every number 10^12 times larger: sizes, dims, counts beyond any sane range
            huge) sed 's/\([0-9][0-9]*\)/\1000000000000/g' "$path" > "$p";;
            magic) { printf 'PK\003\004'; head -c 200 "$path"; } > "$p";;
            nan) hl=$(od -An -tu8 -N8 "$path" | tr -d ' ')
                 { head -c $((8 + hl)) "$path"; head -c $((size - 8 - hl)) /dev/zero | tr '\0' '\377'; } > "$p";;
            other) h='{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
                   { u64le ${#h}; printf '%s' "$h"; printf '\000\000\200\077'; } > "$p";;
        esac
        [ $resume_only = 1 ] || {
            case_ 2 "$r.*$f" "$(infer "$D/$r")"
            case_ 2 "$r.*$f" "eval $D/$r --data $DATA --json"
        }
        case_ 2 "$r.*$f" "$(train "$DATA" "$D/$r" "--resume --steps 1000000")"
    done
done
runcopy r-good
case_ 0 "." "$(infer "$D/r-good")"
case_ 0 "." "eval $D/r-good --data $DATA --json"
case_ 2 "r-missing" "$(infer "$D/r-missing")"

# ------------------------------------------------------------ manifests
mk_data() { mkdir -p "$D/$1"; ln -s "$DATA/images" "$D/$1/images"; }
L1=$(head -n 1 "$DATA/manifest-train.jsonl")
for s in empty trunc deep deepobj utf8 dir imgdir escape longline noqa nocap badimg; do
    mk_data d-$s
    m=$D/d-$s/manifest-train.jsonl
    case $s in
        empty) : > "$m";;
        trunc) printf '%s\n' "$L1" | head -c 60 > "$m";;
        deep) rep '[' 200000 > "$m";;
        deepobj) { printf '{"id": "a", "image": "images/x.png", "captions": '; rep '[' 100000; echo; } > "$m";;
        utf8) printf '%s\n' "$L1" | sed 's/"captions": *\["/&\xc3\x28/' > "$m";;
        dir) mkdir "$m";;
        imgdir) printf '{"id": "a", "image": "images", "captions": ["a circle"], "qa": [{"question": "what?", "answer": "a"}]}\n' > "$m";;
        escape) printf '{"id": "a", "image": "../../../../../../etc/passwd", "captions": ["a"], "qa": [{"question": "what?", "answer": "a"}]}\n' > "$m";;
        longline) { printf '{"id": "a", "image": "images/x.png", "captions": ["'; rep 'a' 3000000; printf '"]}\n'; } > "$m";;
        # a manifest with nothing for the task: no question/answer pairs, no captions
        noqa) printf '{"id": "a", "image": "%s"}\n{"id": "b", "image": "%s"}\n' "images/$(basename "$IMG")" "images/$(basename "$IMG")" > "$m";;
        nocap) printf '{"id": "a", "image": "%s", "captions": []}\n' "images/$(basename "$IMG")" > "$m";;
        badimg) mkdir -p "$D/d-$s-img"; head -c 100 "$IMG" > "$D/d-$s-img/t.png"
                rm "$D/d-$s/images"; ln -s "$D/d-$s-img" "$D/d-$s/images"
                printf '{"id": "a", "image": "images/t.png", "captions": ["a circle"], "qa": [{"question": "what?", "answer": "a"}]}\n{"id": "b", "image": "images/t.png", "captions": ["a square"], "qa": [{"question": "what?", "answer": "b"}]}\n' > "$m";;
    esac
    cp -r "$m" "$D/d-$s/manifest-test.jsonl" 2>/dev/null || true
    cp -r "$m" "$D/d-$s/manifest-val.jsonl" 2>/dev/null || true
    case $s in
        noqa) [ "$TASK" = vqa ] || continue;;
        nocap) [ "$TASK" = caption ] || continue;;
    esac
    case_ 2 "d-$s" "$(train "$D/d-$s" "$D/t-$s" "--steps 1")"
    case_ 2 "d-$s" "eval $RUN --data $D/d-$s --json"
done
case_ 2 "d-missing" "$(train "$D/d-missing" "$D/t-missing" "--steps 1")"
case_ 2 "d-missing" "eval $RUN --data $D/d-missing --json"

# ------------------------------------------------------------ --config
R=$D/config
mkdir -p "$R/dir.json"
: > "$R/empty.json"
rep '[' 200000 > "$R/deep.json"
printf '{"lr": "\377"}' > "$R/utf8.json"
printf '{"image_size": 2000000000, "embed_dim": 2147483647, "batch_size": 1000000000, "hidden": 2147483647, "max_len": 2147483647}' > "$R/huge.json"
printf '{"batch_size": -4, "image_size": -32, "max_len": -1}' > "$R/neg.json"
printf '{"lr": 1e999}' > "$R/inf.json"
printf '[1, 2]' > "$R/array.json"
printf '{"lr": 0.001' > "$R/trunc.json"
for c in empty deep utf8 huge neg inf array trunc dir missing; do
    case_ 2 "$c.json" "$(train "$DATA" "$D/c-$c" "--config $R/$c.json --steps 1")"
done

# ------------------------------------------------------------ images
I=$D/img
mkdir -p "$I/dir.png"
: > "$I/empty.png"
head -c 100 "$IMG" > "$I/trunc.png"
{ printf 'GIF89a'; head -c 100 /dev/zero; } > "$I/magic.png"
printf 'P6\n-5 -5\n255\n' > "$I/neg.ppm"
printf 'P6\n99999999999999999999 1\n255\n' > "$I/overflow.ppm"
printf 'P6\n65536 65536\n255\n\0\0\0' > "$I/huge.ppm"
for f in empty.png trunc.png magic.png neg.ppm overflow.ppm huge.ppm dir.png missing.png; do
    case_ 2 "$f" "$(IMG=$I/$f; infer "$RUN")"
done
echo "$(wc -l < "$C") cases in $C"
