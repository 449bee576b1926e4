#!/bin/sh
# make.sh DIR RUN DATA — the bad-input catalogue: writes into DIR (emptied first) broken
# files for every mmc command that reads a file, and DIR/cases, one case a line:
#   EXIT<tab>PATTERN<tab>ARGUMENTS
# EXIT is the exit code wanted; PATTERN an extended regex that stderr must match (with
# EXIT 0: stdout); ARGUMENTS the mmc command line (split on blanks: no blank in DIR).
# RUN is a good run folder (`mmc train retrieval`), DATA a good dataset folder whose
# manifest-test.jsonl it was trained for; broken copies of them are made here.
# Run the cases with run.sh. POSIX sh: no Python, no bash.
set -eu
[ $# -eq 3 ] || { echo "usage: make.sh DIR RUN DATA" >&2; exit 1; }
D=$1 RUN=$2 DATA=$3
case $D in *[[:space:]]*) echo "make.sh: DIR must have no blanks" >&2; exit 1;; esac
rm -rf "$D"
mkdir -p "$D"
D=$(cd "$D" && pwd)
C=$D/cases
: > "$C"
case_() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$C"; }

# N bytes of one character: deeply nested JSON etc.
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
# little-endian u64
u64le() {
    n=$1 i=0
    while [ $i -lt 8 ]; do
        printf "\\$(printf %o $(( (n >> (8 * i)) & 255 )))"
        i=$((i + 1))
    done
}
# safetensors FILE HEADER_JSON DATA_BYTES(printf format)
st() { { u64le ${#2}; printf '%s' "$2"; printf "$3"; } > "$1"; }
# a copy of the good run with one file replaced: runcopy NAME FILE -> $D/NAME
runcopy() { mkdir -p "$D/$1"; cp "$RUN"/* "$D/$1/"; rm -rf "$D/$1/$2"; }

IMG=$(ls "$DATA"/images/*.png | head -n 1)
MODEL=$RUN/model.safetensors
HLEN=$(od -An -tu8 -N8 "$MODEL" | tr -d ' ')

# ------------------------------------------------------------ safetensors (inspect)
S=$D/st
mkdir -p "$S"
: > "$S/empty.safetensors"
head -c 5 "$MODEL" > "$S/short.safetensors"
head -c $((8 + HLEN / 2)) "$MODEL" > "$S/trunc-header.safetensors"
head -c $((8 + HLEN + 40)) "$MODEL" > "$S/trunc-data.safetensors"
{ printf 'PK\003\004'; head -c 200 "$MODEL"; } > "$S/magic.safetensors"
{ u64le 9223372036854775807; printf '{}'; } > "$S/hugelen.safetensors"
st "$S/notjson.safetensors" 'this is not json at all' ''
st "$S/dims.safetensors" '{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}' '\0\0\0\0\0\0\0\0'
st "$S/negshape.safetensors" '{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}' '\0\0\0\0\0\0\0\0'
st "$S/overflow.safetensors" '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}' '\0\0\0\0\0\0\0\0'
st "$S/negoffs.safetensors" '{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}' '\0\0\0\0\0\0\0\0'
st "$S/dtype.safetensors" '{"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}' '\0\0\0\0\0\0\0\0'
st "$S/deep.safetensors" "$(rep '[' 100000)" ''
st "$S/deepobj.safetensors" "{\"__metadata__\":$(rep '[' 50000)" ''
st "$S/utf8.safetensors" "$(printf '{"w\377\376":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')" '\0\0\0\0\0\0\0\0'
mkdir -p "$S/dir.safetensors"
for f in empty short trunc-header trunc-data magic hugelen notjson dims negshape overflow negoffs dtype deep deepobj utf8 dir; do
    case_ 2 "$f.safetensors" "inspect $S/$f.safetensors"
done
case_ 2 "missing.safetensors" "inspect $S/missing.safetensors"
# NaN and Inf weights: inspect reports them (its statistics say nan / inf)
st "$S/nan.safetensors" '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' '\0\0\300\177\0\0\200\177'
case_ 0 "nan|inf" "inspect $S/nan.safetensors"

# ------------------------------------------------------------ model folders
# embed, index build, zeroshot, eval read RUN/config.json and RUN/model.safetensors
runcopy m-noconfig config.json
runcopy m-emptyconfig config.json; : > "$D/m-emptyconfig/config.json"
runcopy m-truncconfig config.json; head -c 100 "$RUN/config.json" > "$D/m-truncconfig/config.json"
runcopy m-deepconfig config.json; rep '[' 200000 > "$D/m-deepconfig/config.json"
runcopy m-utf8config config.json; sed 's/"cnn"/"c\xffnn"/' "$RUN/config.json" > "$D/m-utf8config/config.json"
runcopy m-dirconfig config.json; mkdir "$D/m-dirconfig/config.json"
runcopy m-hugeconfig config.json; sed 's/"embed_dim":[^,]*/"embed_dim": 2147483647/; s/"image_size":[^,]*/"image_size": 1000000000/' "$RUN/config.json" > "$D/m-hugeconfig/config.json"
runcopy m-negconfig config.json; sed 's/"embed_dim":[^,]*/"embed_dim": -32/' "$RUN/config.json" > "$D/m-negconfig/config.json"
runcopy m-nomodel model.safetensors
runcopy m-emptymodel model.safetensors; : > "$D/m-emptymodel/model.safetensors"
runcopy m-truncmodel model.safetensors; head -c $((8 + HLEN + 100)) "$MODEL" > "$D/m-truncmodel/model.safetensors"
runcopy m-dirmodel model.safetensors; mkdir "$D/m-dirmodel/model.safetensors"
runcopy m-magicmodel model.safetensors; cp "$S/magic.safetensors" "$D/m-magicmodel/model.safetensors"
runcopy m-othermodel model.safetensors; cp "$S/nan.safetensors" "$D/m-othermodel/model.safetensors"
# NaN in a model tensor: the first 4 bytes of the data
runcopy m-nanmodel model.safetensors; cp "$MODEL" "$D/m-nanmodel/model.safetensors"
printf '\0\0\300\177\0\0\300\177' | dd of="$D/m-nanmodel/model.safetensors" bs=1 seek=$((8 + HLEN)) conv=notrunc 2>/dev/null
for m in noconfig:config.json emptyconfig:config.json truncconfig:config.json deepconfig:config.json \
         utf8config:config.json dirconfig:config.json hugeconfig:config.json negconfig:config.json \
         nomodel:model.safetensors emptymodel:model.safetensors truncmodel:model.safetensors \
         dirmodel:model.safetensors magicmodel:model.safetensors othermodel:model.safetensors \
         nanmodel:model.safetensors; do
    n=${m%%:*} f=${m#*:}
    P="m-$n/$f"
    case_ 2 "$P" "embed --model $D/m-$n --text a"
    case_ 2 "$P" "zeroshot --model $D/m-$n $IMG --labels circle,square"
    case_ 2 "$P" "index build --model $D/m-$n --images $DATA/images --out $D/x.idx"
    case_ 2 "$P" "eval $D/m-$n --data $DATA --json"
done
case_ 2 "m-missing" "embed --model $D/m-missing --text a"
# a run folder through inspect: each file broken
runcopy r-trainer trainer.json; head -c 20 "$RUN/trainer.json" > "$D/r-trainer/trainer.json"
runcopy r-trainerdir trainer.json; mkdir "$D/r-trainerdir/trainer.json"
case_ 2 "r-trainer/trainer.json" "inspect $D/r-trainer"
case_ 2 "r-trainerdir/trainer.json" "inspect $D/r-trainerdir"
case_ 2 "m-dirmodel" "inspect $D/m-dirmodel"

# ------------------------------------------------------------ images
I=$D/img
mkdir -p "$I"
: > "$I/empty.png"
head -c 100 "$IMG" > "$I/trunc.png"
{ printf 'GIF89a'; head -c 100 /dev/zero; } > "$I/magic.png"
printf 'P6\n-5 -5\n255\n' > "$I/neg.ppm"
printf 'P6\n99999999999999999999 1\n255\n' > "$I/overflow.ppm"
printf 'P6\n65536 65536\n255\n\0\0\0' > "$I/huge.ppm"
printf 'P6\n2 2\n0\n' > "$I/maxval.ppm"
mkdir -p "$I/dir.png"
for f in empty.png trunc.png magic.png neg.ppm overflow.ppm huge.ppm maxval.ppm dir.png missing.png; do
    case_ 2 "$f" "embed --model $RUN --image $I/$f"
    case_ 2 "$f" "zeroshot --model $RUN $I/$f --labels circle,square"
done

# ------------------------------------------------------------ manifests (dataset folders)
mk_data() { mkdir -p "$D/$1"; ln -s "$DATA/images" "$D/$1/images"; }
L1=$(head -n 1 "$DATA/manifest-test.jsonl")
mk_data d-empty; : > "$D/d-empty/manifest-test.jsonl"
mk_data d-trunc; printf '%s\n' "$L1" | head -c 60 > "$D/d-trunc/manifest-test.jsonl"
mk_data d-deep; rep '[' 200000 > "$D/d-deep/manifest-test.jsonl"
mk_data d-deepobj; { printf '{"id": "a", "image": "images/x.png", "captions": '; rep '[' 100000; echo; } > "$D/d-deepobj/manifest-test.jsonl"
mk_data d-utf8; printf '%s\n' "$L1" | sed 's/"captions":\["/"captions":["\xc3\x28/' > "$D/d-utf8/manifest-test.jsonl"
mk_data d-dir; mkdir "$D/d-dir/manifest-test.jsonl"
mk_data d-imgdir; printf '{"id": "a", "image": "images", "captions": ["a circle"]}\n' > "$D/d-imgdir/manifest-test.jsonl"
mk_data d-escape; printf '{"id": "a", "image": "../../../../../../etc/passwd", "captions": ["a circle"]}\n' > "$D/d-escape/manifest-test.jsonl"
mk_data d-longline; { printf '{"id": "a", "image": "images/x.png", "captions": ["'; rep 'a' 3000000; printf '"]}\n'; } > "$D/d-longline/manifest-test.jsonl"
for d in empty trunc deep deepobj utf8 dir imgdir escape longline; do
    case_ 2 "d-$d" "index build --model $RUN --data $D/d-$d --out $D/x.idx"
    case_ 2 "d-$d" "eval $RUN --data $D/d-$d --json"
    case_ 2 "d-$d" "zeroshot --model $RUN --data $D/d-$d --field label --json"
done
case_ 2 "d-missing" "eval $RUN --data $D/d-missing"

# ------------------------------------------------------------ index files (search)
X=$D/idx
mkdir -p "$X"
: > "$X/empty.idx"
printf 'MMCIDX' > "$X/short.idx"
rep '\377' 4096 > "$X/ff.idx"
mkdir -p "$X/dir.idx"
for f in empty short ff dir missing; do
    case_ 2 "$f.idx" "search $X/$f.idx --text a --json"
done

# ------------------------------------------------------------ text files (index build --texts)
TX=$D/texts
mkdir -p "$TX" "$TX/dir.txt"
: > "$TX/empty.txt"
printf '\n  \r\n\t\n' > "$TX/blank.txt"
printf 'a red circle\nbad \303\050 line\n' > "$TX/utf8.txt"
printf 'a red circle\na\000b\n' > "$TX/nul.txt"
{ echo 'a red circle'; rep a 1048577; echo; } > "$TX/longline.txt"
printf '{"id": "a", "text": "x"}\n{"id": "b", "text": \n' > "$TX/badjson.jsonl"
printf '{"id": "a\\tb", "text": "x"}\n' > "$TX/tabid.jsonl"
printf '{"id": "a\\nb", "text": "x"}\n' > "$TX/nlid.jsonl"
printf '{"id": 7, "text": "x"}\n' > "$TX/numid.jsonl"
printf '{"id": "a", "text": "x"}\n{"text": "y"}\n' > "$TX/mixed.jsonl"
printf '{"id": "a", "text": ""}\n' > "$TX/emptytext.jsonl"
printf '{"text": "a\\u0000b"}\n' > "$TX/nul.jsonl"
printf '{"text": "\\ud800"}\n' > "$TX/surrogate.jsonl"
printf '[{"text": "x"}]\n' > "$TX/array.jsonl"
printf '{"text": "x"} {"text": "y"}\n' > "$TX/two.jsonl"
{ printf '{"text": '; rep '[' 100000; echo; } > "$TX/deep.jsonl"
printf '{a set}\n{another}\n' > "$TX/braces.txt"
yes a | head -n 10000001 > "$TX/many.txt"                               # one text over the limit
dd if=/dev/zero of="$TX/huge.txt" bs=1 count=0 seek=1073741825 2>/dev/null # 1 GiB + 1, sparse
for c in "empty.txt:" "blank.txt:" "utf8.txt:2" "nul.txt:2" "longline.txt:2" "badjson.jsonl:2" "tabid.jsonl:1" \
         "nlid.jsonl:1" "numid.jsonl:1" "mixed.jsonl:2" "emptytext.jsonl:1" "nul.jsonl:1" "surrogate.jsonl:1" \
         "array.jsonl:1" "two.jsonl:1" "deep.jsonl:1" "braces.txt:1" "many.txt:10000001" "huge.txt:" "dir.txt:" \
         "missing.txt:"; do
    case_ 2 "texts/$c" "index build --model $RUN --texts $TX/${c%%:*} --out $D/x.idx"
done

# ------------------------------------------------------------ tokenize --model
T=$D/tok
mkdir -p "$T/empty" "$T/deep" "$T/utf8" "$T/vocabdir" "$T/bpe" "$T/trunc"
rep '{' 200000 > "$T/deep/tokenizer.json"
printf '{"model": {"type": "WordPiece", "vocab": {"a\377": 0}}}' > "$T/utf8/tokenizer.json"
printf '{"model": {"type": "WordPiece", "vo' > "$T/trunc/tokenizer.json"
mkdir "$T/vocabdir/vocab.txt"
printf '{"a": 0, "b": -7, "c": 99999999999}' > "$T/bpe/vocab.json"
printf '#version: 0.2\na b c d e\n' > "$T/bpe/merges.txt"
case_ 2 "tok/empty" "tokenize --model $T/empty a"
case_ 2 "tok/missing" "tokenize --model $T/missing a"
for t in deep utf8 trunc; do case_ 2 "tok/$t/tokenizer.json" "tokenize --model $T/$t a"; done
case_ 2 "tok/vocabdir/vocab.txt" "tokenize --model $T/vocabdir a"
case_ 2 "tok/bpe/(vocab.json|merges.txt)" "tokenize --model $T/bpe a"
case_ 2 "m-deepconfig" "tokenize --model $D/m-deepconfig a"

# ------------------------------------------------------------ train retrieval
R=$D/train
mkdir -p "$R"
: > "$R/empty.json"
rep '[' 200000 > "$R/deep.json"
printf '{"lr": "\377"}' > "$R/utf8.json"
printf '{"image_size": 2000000000, "embed_dim": 2147483647, "batch_size": 1000000000}' > "$R/huge.json"
printf '{"batch_size": -4, "cnn_widths": [-8]}' > "$R/neg.json"
printf '{"lr": 1e999}' > "$R/inf.json"
mkdir -p "$R/dir.json"
for c in empty deep utf8 huge neg inf dir missing; do
    case_ 2 "$c.json" "train retrieval --data $DATA --out $D/train-out-$c --config $R/$c.json --steps 1"
done
for d in empty trunc deep utf8 dir; do
    mkdir -p "$D/t-$d"
    ln -s "$DATA/images" "$D/t-$d/images"
    cp "$D/d-$d/manifest-test.jsonl" "$D/t-$d/manifest-train.jsonl" 2>/dev/null || cp -r "$D/d-$d/manifest-test.jsonl" "$D/t-$d/manifest-train.jsonl"
    case_ 2 "t-$d" "train retrieval --data $D/t-$d --out $D/train-out-d$d --steps 1"
done
# --init: a Hugging Face folder that is broken
for m in emptyconfig deepconfig dirconfig; do
    case_ 2 "m-$m" "train retrieval --init $D/m-$m --data $DATA --out $D/train-out-i$m --steps 1"
done
case_ 2 "init-missing" "train retrieval --init $D/init-missing --data $DATA --out $D/train-out-im --steps 1"
# --resume: each file of the checkpoint broken in turn
OPT=$RUN/optimizer.safetensors
OHLEN=$(od -An -tu8 -N8 "$OPT" | tr -d ' ')
runcopy r-notrainer trainer.json
runcopy r-trainerneg trainer.json; sed -E 's/"step":[[:space:]]*[0-9]+/"step": -5/' "$RUN/trainer.json" > "$D/r-trainerneg/trainer.json"
runcopy r-optempty optimizer.safetensors; : > "$D/r-optempty/optimizer.safetensors"
runcopy r-opttrunc optimizer.safetensors; head -c $((8 + OHLEN + 100)) "$OPT" > "$D/r-opttrunc/optimizer.safetensors"
runcopy r-optdir optimizer.safetensors; mkdir "$D/r-optdir/optimizer.safetensors"
runcopy r-optmissing optimizer.safetensors
runcopy r-optmodel optimizer.safetensors; cp "$MODEL" "$D/r-optmodel/optimizer.safetensors"
# every value NaN (0xffffffff): the first moment read is refused
runcopy r-optnan optimizer.safetensors
{ head -c $((8 + OHLEN)) "$OPT"; head -c $(( $(wc -c < "$OPT") - 8 - OHLEN )) /dev/zero | tr '\0' '\377'; } > "$D/r-optnan/optimizer.safetensors"
# a trainer.json newer than the model and optimizer files (a save cut between renames):
# the first file of another step is named (the model; train_faults_disk.cmake pins the
# optimizer's own check)
runcopy r-opttorn trainer.json; sed -E 's/"step":[[:space:]]*([0-9]+)/"step": 1\1/' "$RUN/trainer.json" > "$D/r-opttorn/trainer.json"
for r in r-trainer:trainer.json r-trainerdir:trainer.json r-notrainer:trainer.json r-trainerneg:trainer.json \
         r-optempty:optimizer.safetensors r-opttrunc:optimizer.safetensors r-optdir:optimizer.safetensors \
         r-optmissing:optimizer.safetensors r-optmodel:optimizer.safetensors r-optnan:optimizer.safetensors \
         r-opttorn:model.safetensors m-nanmodel:model.safetensors m-truncmodel:model.safetensors \
         m-deepconfig:config.json m-noconfig:config.json; do
    n=${r%%:*} f=${r#*:}
    case_ 2 "$n.*$f" "train retrieval --data $DATA --out $D/$n --resume --steps 1000"
done
case_ 2 "r-missing" "train retrieval --data $DATA --out $D/r-missing --resume --steps 1000"
# the intact copy resumes (the cases above fail for their file, not for the copy)
runcopy r-good none
case_ 0 "finished at step" "train retrieval --data $DATA --out $D/r-good --resume --minutes 0.001"

# ------------------------------------------------------------ data coco --annotations
A=$D/coco
mkdir -p "$A/images" "$A/dir.json"
: > "$A/empty.json"
printf '{"images": [{"filepath": "x", "filename": "a.jpg", "split": "train", "sentences": [{"raw": "a' > "$A/trunc.json"
rep '[' 200000 > "$A/deep.json"
printf '{"images": [{"filepath": "x", "filename": "a.jpg", "split": "train", "sentences": [{"raw": "caf\351"}]}]}' > "$A/utf8.json"
printf '{"images": [{"filepath": 5, "filename": null, "split": [], "sentences": 7}]}' > "$A/types.json"
printf '{"images": [{"filepath": "../../..", "filename": "../../etc/passwd", "split": "train", "sentences": [{"raw": "x"}]}]}' > "$A/escape.json"
printf '[1, 2, 3]' > "$A/array.json"
printf '{"images": [{"filename": "a.jpg", "split": "train", "sentences": []}]}\000' > "$A/nul.json"
printf '{"images": [{"filename": "a.jpg", "split": "train", "sentences": [{"raw": "%s"}]}]}' "$(rep x 100)" > "$A/ok.json"
printf '{"images": [{"filename": "%s", "split": "train", "sentences": []}]}' "$(rep a 5000)" > "$A/longname.json"
printf '{"images": [{"filename": "a.jpg", "split": "train", "sentences": [], "cocoid": 1e999}], "x": -1e999}' > "$A/inf.json"
printf '{"images": []}' > "$A/noimages.json"
: > "$A/images/a.jpg"
for a in empty trunc deep utf8 types escape array nul longname noimages dir missing; do
    case_ 2 "$a.json" "data coco --annotations $A/$a.json --images $A/images --out $D/coco-out-$a"
done
# numbers past double are cJSON's inf: ignored keys, so the import goes through
case_ 0 "wrote 1 train" "data coco --annotations $A/inf.json --images $A/images --out $D/coco-out-inf"
# the images folder wrong: missing, a file, holding none of the images
case_ 2 "coco/nothere" "data coco --annotations $A/ok.json --images $A/nothere --out $D/coco-out-ni"
case_ 2 "coco/ok.json" "data coco --annotations $A/ok.json --images $A/ok.json --out $D/coco-out-fi"
case_ 2 "coco/ok.json" "data coco --annotations $A/ok.json --images $A/dir.json --out $D/coco-out-di"
case_ 0 "wrote 1 train" "data coco --annotations $A/ok.json --images $A/images --out $D/coco-out-ok"

# ------------------------------------------------------------ data fashion-mnist --from
# IDX files (docs/formats.md): magic 00 00 08 NDIM, NDIM big-endian u32 dims, the bytes.
u32be() { printf "\\$(printf %o $(( ($1 >> 24) & 255 )))\\$(printf %o $(( ($1 >> 16) & 255 )))\\$(printf %o $(( ($1 >> 8) & 255 )))\\$(printf %o $(( $1 & 255 )))"; }
idx3() { printf '\0\0\10\3'; u32be "$1"; u32be "$2"; u32be "$3"; head -c $(( $1 * $2 * $3 )) /dev/zero; }
idx1() { printf '\0\0\10\1'; u32be $#; for l in "$@"; do printf "\\$(printf %o "$l")"; done; }
F=$D/fm
fm() { # fm NAME: a copy of the good set in $F/NAME
    mkdir -p "$F/$1"
    cp "$F/good"/* "$F/$1/"
}
mkdir -p "$F/good"
idx3 3 28 28 > "$F/good/train-images-idx3-ubyte.gz"
idx1 0 9 4 > "$F/good/train-labels-idx1-ubyte.gz"
idx3 2 28 28 > "$F/good/t10k-images-idx3-ubyte.gz"
idx1 1 8 > "$F/good/t10k-labels-idx1-ubyte.gz"
TI=train-images-idx3-ubyte.gz TL=train-labels-idx1-ubyte.gz KI=t10k-images-idx3-ubyte.gz KL=t10k-labels-idx1-ubyte.gz
fm empty; : > "$F/empty/$TI"
fm short; printf '\0\0\10' > "$F/short/$TI"
fm truncdims; printf '\0\0\10\3\0\0\0\3\0\0' > "$F/truncdims/$TI"
fm truncdata; head -c 1000 "$F/good/$TI" > "$F/truncdata/$TI"
fm trailing; { cat "$F/good/$TL"; printf 'x'; } > "$F/trailing/$TL"
fm magic; { printf 'PK\3\4'; head -c 100 /dev/zero; } > "$F/magic/$TI"
fm float; { printf '\0\0\15\3'; u32be 1; u32be 28; u32be 28; head -c 3136 /dev/zero; } > "$F/float/$TI"
fm ndim0; printf '\0\0\10\0' > "$F/ndim0/$TL"
fm ndim9; { printf '\0\0\10\11'; head -c 36 /dev/zero; } > "$F/ndim9/$TL"
fm zerodim; { printf '\0\0\10\3'; u32be 0; u32be 28; u32be 28; } > "$F/zerodim/$TI"
fm huge; { printf '\0\0\10\3'; u32be 2147483647; u32be 28; u32be 28; head -c 784 /dev/zero; } > "$F/huge/$TI"
fm overflow; { printf '\0\0\10\3'; u32be 4294967295; u32be 4294967295; u32be 4294967295; } > "$F/overflow/$TI"
fm side; idx3 3 5 5 > "$F/side/$TI"
fm count; idx1 0 9 > "$F/count/$TL"
fm label; idx1 0 10 4 > "$F/label/$TL"
fm label255; idx1 1 255 > "$F/label255/$KL"
fm gzip; { printf '\37\213\10\0\0\0\0\0\0\3'; head -c 200 /dev/zero | tr '\0' 'Z'; } > "$F/gzip/$TI"
fm gztrunc; gzip -n -c "$F/good/$TI" | head -c 30 > "$F/gztrunc/$TI"
fm dir; rm "$F/dir/$KL"; mkdir "$F/dir/$KL"
fm missing; rm "$F/missing/$KL"
# NAME:FILE:PROBLEM — the message names the file and (a regex of) the problem
for c in empty:$TI:short short:$TI:short truncdims:$TI:truncated truncdata:$TI:truncated trailing:$TL:past \
         magic:$TI:magic float:$TI:magic ndim0:$TL:dims ndim9:$TL:dims zerodim:$TI:'is 0' huge:$TI:claim \
         overflow:$TI:claim side:$TI:'28 x 28.*3 x 5 x 5' count:$TL:'2 labels for 3' label:$TL:'label 10' \
         label255:$KL:'label 255' gzip:$TI:'magic|gzip' gztrunc:$TI:'gzip|truncated' dir:$KL:'not a regular file' \
         missing:$KL:'No such file'; do
    n=${c%%:*} r=${c#*:} f=${r%%:*} why=${r#*:}
    case_ 2 "fm/$n/$f: .*($why)" "data fashion-mnist --from $F/$n --out $D/fm-out-$n"
done
case_ 2 "fm/nothere/$TI" "data fashion-mnist --from $F/nothere --out $D/fm-out-nothere"
case_ 2 "fm/good/$TI" "data fashion-mnist --from $F/good/$TI --out $D/fm-out-file"
# the good set imports (so the cases above fail for their fault, not for the set)
case_ 0 "wrote 3 train, 0 val, 2 test" "data fashion-mnist --from $F/good --val 0 --out $D/fm-out-good"

# ------------------------------------------------------------ data emoji --cache
# The npm tarballs are pinned by SHA-512: a cached one that is broken, or a registry that
# serves other bytes (a fake npm on PATH writing what it is told), must be refused naming
# the file. Nothing from the network: the fake npm answers every fetch.
E=$D/emoji
mkdir -p "$E/bin" "$E/cache-empty" "$E/cache-trunc" "$E/cache-dir/emojibase-data-17.0.0.tgz" "$E/cache-junk"
for kind in junk empty none; do
    mkdir -p "$E/npm-$kind"
    {   echo '#!/bin/sh'
        echo '# a fake `npm pack --pack-destination DIR NAME@VERSION` (tests/bad-input/make.sh)'
        echo 'while [ $# -gt 0 ]; do case $1 in --pack-destination) dest=$2; shift 2;; -*) shift;; *) spec=$1; shift;; esac; done'
        echo 'out="$dest/${spec%@*}-${spec##*@}.tgz"'
        case $kind in
            junk) echo 'printf "not the pinned tarball" > "$out"';;
            empty) echo ': > "$out"';;
            none) echo 'exit 0';;
        esac
    } > "$E/npm-$kind/npm"
    chmod +x "$E/npm-$kind/npm"
done
: > "$E/cache-empty/emojibase-data-17.0.0.tgz"
printf '\37\213\10\0' > "$E/cache-trunc/emojibase-data-17.0.0.tgz"
P=/usr/local/bin:/usr/bin:/bin
case_ 2 "emojibase-data-17.0.0.tgz.*integrity" "PATH=$E/npm-junk:$P data emoji --cache $E/cache-junk --out $D/emoji-out-junk"
case_ 2 "emojibase-data-17.0.0.tgz.*integrity" "PATH=$E/npm-empty:$P data emoji --cache $E/cache-empty --out $D/emoji-out-empty"
case_ 2 "emojibase-data-17.0.0.tgz.*integrity" "PATH=$E/npm-junk:$P data emoji --cache $E/cache-trunc --out $D/emoji-out-trunc"
case_ 2 "emojibase-data-17.0.0.tgz" "PATH=$E/npm-none:$P data emoji --cache $E/cache-empty --out $D/emoji-out-none"
case_ 2 "emojibase-data-17.0.0.tgz" "PATH=$E/npm-junk:$P data emoji --cache $E/cache-dir --out $D/emoji-out-dir"
# ------------------------------------------------------------ video files (video frames)
V=$D/video
mkdir -p "$V" "$V/dir.mkv"
SEEDS=$(cd "$(dirname "$0")/../../fuzz/seeds/video" && pwd)
for f in ffv1_8x8.mkv h264_8x8.mp4 vp9_8x8.webm mpeg4_8x8.avi mjpeg_8x8.avi av_7x5.mkv; do
    n=$(wc -c < "$SEEDS/$f")
    head -c $((n / 2)) "$SEEDS/$f" > "$V/half-$f"
    case_ 2 "half-$f" "video frames $V/half-$f"
done
# FFV1 version 3 has slice CRCs: flipped bytes in a frame are caught
n=$(wc -c < "$SEEDS/ffv1_8x8.mkv")
cp "$SEEDS/ffv1_8x8.mkv" "$V/flip-ffv1.mkv"
printf '\377\000\377\000\377\000\377\000' | dd of="$V/flip-ffv1.mkv" bs=1 seek=$((n * 6 / 10)) conv=notrunc 2>/dev/null
case_ 2 "flip-ffv1.mkv.*corrupt" "video frames $V/flip-ffv1.mkv"
: > "$V/empty.mp4"
printf 'RIFF\000\000\000\000AVI LIST' > "$V/riff.avi"
printf '\032\105\337\243\237\102\206\201\001' > "$V/ebml.mkv"
head -c 2000 /dev/zero > "$V/zeros.webm"
for f in empty.mp4 riff.avi ebml.mkv zeros.webm dir.mkv missing.mp4; do case_ 2 "$f" "video frames $V/$f"; done
case_ 2 "$(basename "$IMG")" "video frames $IMG"
# zeros named .wav (no demuxer of ours takes it)
head -c 44 /dev/zero > "$V/a.wav"
case_ 2 "a.wav" "video frames $V/a.wav"

echo "$(wc -l < "$C") cases in $C"
