#!/bin/sh
# audio_decode.sh MMC WORK — mmc's audio loader against the tools that made the files.
# sox and ffmpeg write a tone in every format mmc promises (WAV 8/16/24/32-bit integer and
# 32/64-bit float, FLAC 16/24-bit, Ogg Vorbis, Ogg Opus, AIFF; mono, stereo and 6 channels;
# 8 to 48 kHz); for each, `mmc audio info --json` must report what ffprobe reports (rate,
# channels, duration) and the mono samples mmc makes must equal what sox (or ffmpeg, for
# Opus) decodes with the same mixdown, at the file's rate and resampled to 16 kHz (sox
# `rate -h`, the resampler mmc uses through libsoxr), within 1e-4. The sound tracks of
# video files (MKV with FLAC, Vorbis and Opus, MP4 with AAC, WebM with Opus, AVI with PCM;
# read through FFmpeg's libraries, not libsndfile) get the same check against ffmpeg. Then
# hostile files (bad header, a header claiming 4 GB, no frames, NaN samples, truncated
# FLAC and Ogg, random bytes, empty, 0 Hz, 100 channels; a video without sound, truncated
# videos with sound) must exit 2 naming the file, without a crash.
set -eu
MMC=$1
W=$2/audio-decode
rm -rf "$W"
mkdir -p "$W"
fail() { echo "audio_decode: FAIL: $*" >&2; exit 1; }
for t in sox ffmpeg ffprobe; do command -v $t >/dev/null || fail "$t is not installed (scripts/install-deps.sh installs it)"; done

# cmp_f32 A B TOL: two raw float32 files, same length (or one sample apart, for resamplers'
# rounding of the length), every sample within TOL. Prints the largest difference.
cmp_f32() {
  od -An -v -f -w4 "$1" >"$W/a.txt"
  od -An -v -f -w4 "$2" >"$W/b.txt"
  paste "$W/a.txt" "$W/b.txt" | awk -v tol="$3" -v na="$(wc -l <"$W/a.txt")" -v nb="$(wc -l <"$W/b.txt")" '
    NF == 2 { d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; n++ }
    END { if (na - nb > 1 || nb - na > 1) { print "lengths " na " vs " nb; exit 1 }
          printf "%d samples, max |diff| %.3g\n", n, m; exit (m <= tol ? 0 : 1) }'
}

check() { # check FILE REF_DECODER: info against ffprobe, samples against the reference
  f=$W/$1
  "$MMC" audio info "$f" --json --out "$W/mmc.f32" >"$W/info.json" || fail "$1: mmc audio info exited $?"
  rate=$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of csv=p=0 "$f")
  ch=$(ffprobe -v error -select_streams a:0 -show_entries stream=channels -of csv=p=0 "$f")
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
  got=$(jq -r '"\(.rate) \(.channels) \(.duration)"' "$W/info.json")
  echo "$got" | awk -v r="$rate" -v c="$ch" -v d="$dur" '{ exit !($1 == r && $2 == c && ($3 - d < 0.03 && d - $3 < 0.03)) }' ||
    fail "$1: mmc says rate/channels/duration $got, ffprobe $rate $ch $dur"
  if [ "$2" = sox ]; then
    sox "$f" -t f32 "$W/ref.f32" channels 1
    sox "$f" -t f32 "$W/ref16.f32" channels 1 rate -h 16000
  else # ffmpeg: the mean of the channels, then soxr at sox's high quality
    # -map 0:a:0: the first audio stream, as mmc takes it (a video's frames are not decoded)
    ffmpeg -v error -y -i "$f" -map 0:a:0 -af "pan=mono|c0=$(awk -v c="$ch" 'BEGIN { for (i = 0; i < c; i++) printf "%s%.17g*c%d", i ? "+" : "", 1 / c, i }')" \
      -f f32le "$W/ref.f32"
    ffmpeg -v error -y -i "$f" -map 0:a:0 -af "pan=mono|c0=$(awk -v c="$ch" 'BEGIN { for (i = 0; i < c; i++) printf "%s%.17g*c%d", i ? "+" : "", 1 / c, i }'),aresample=16000:resampler=soxr:precision=20" \
      -f f32le "$W/ref16.f32"
  fi
  r1=$(cmp_f32 "$W/mmc.f32" "$W/ref.f32" 1e-4) || fail "$1 at its own rate: $r1"
  "$MMC" audio info "$f" --rate 16000 --json --out "$W/mmc16.f32" >/dev/null || fail "$1: --rate 16000 exited $?"
  r2=$(cmp_f32 "$W/mmc16.f32" "$W/ref16.f32" 1e-4) || fail "$1 at 16 kHz: $r2"
  echo "audio_decode: ok: $1 ($(jq -r '"\(.format) \(.subtype), \(.rate) Hz, \(.channels) ch"' "$W/info.json")): $r1; 16 kHz: $r2"
}

# ------------------------------------------------------------------ sox-made files
tone() { sox -n -r "$1" -c "$2" $3 "$W/$4" synth 1.2 sine 440 sine 660 sine 1000 sine 1500 sine 2200 sine 3000 gain -3 2>/dev/null \
  || sox -n -r "$1" -c "$2" $3 "$W/$4" synth 1.2 sine 440 gain -3; }
tone 8000 1 "-b 8 -e unsigned-integer" u8.wav
tone 16000 1 "-b 16" s16-mono.wav
tone 44100 2 "-b 16" s16-stereo.wav
tone 48000 2 "-b 24" s24.wav
tone 22050 1 "-b 32 -e signed-integer" s32.wav
tone 32000 2 "-b 32 -e floating-point" f32.wav
tone 44100 1 "-b 64 -e floating-point" f64.wav
tone 44100 2 "-b 16" s16.flac
tone 96000 1 "-b 24" s24.flac
tone 22050 2 "-b 16" s16.aiff
tone 48000 6 "-b 16" six.wav
sox -n -r 44100 -c 2 "$W/vorbis.ogg" synth 1.2 sine 440 sine 880 gain -3
for f in u8.wav s16-mono.wav s16-stereo.wav s24.wav s32.wav f32.wav f64.wav s16.flac s24.flac s16.aiff six.wav vorbis.ogg; do
  check "$f" sox
done

# ------------------------------------------------------------------ ffmpeg-made files
ffmpeg -v error -f lavfi -i "sine=frequency=330:duration=1.1:sample_rate=48000" -ac 2 -c:a libopus -b:a 64k "$W/opus.ogg"
ffmpeg -v error -f lavfi -i "sine=frequency=500:duration=0.9:sample_rate=24000" -c:a pcm_s24le "$W/ff-s24.wav"
ffmpeg -v error -f lavfi -i "sine=frequency=700:duration=0.8:sample_rate=44100" -ac 2 -c:a flac "$W/ff.flac"
for f in opus.ogg ff-s24.wav ff.flac; do check "$f" ffmpeg; done

# ------------------------------------------------------------------ video files with sound
# mmc_audio_decode hands files that start like a video container to mmc_video_decode_sound
# (FFmpeg's demuxers and decoders: the same libraries as the ffmpeg tool, so even the lossy
# decoders should agree to the float rounding of the mixdown). A small video stream in each.
vid="-f lavfi -i testsrc=size=32x32:rate=8:duration=1"
av() { # av OUT AUDIO_RATE CHANNELS FREQ ARGS...: a 1 s clip with a sine sound track
  out=$1 r=$2 c=$3 hz=$4
  shift 4
  ffmpeg -v error -y $vid -f lavfi -i "sine=frequency=$hz:duration=1:sample_rate=$r" -ac "$c" "$@" -shortest "$W/$out"
}
av flac.mkv 44100 2 440 -c:v ffv1 -c:a flac
av vorbis.mkv 48000 1 550 -c:v ffv1 -c:a libvorbis
av opus.mkv 48000 2 600 -c:v ffv1 -c:a libopus -b:a 64k
av aac.mp4 44100 2 660 -c:v libx264 -threads 1 -pix_fmt yuv420p -c:a aac
av opus.webm 48000 1 330 -c:v libvpx-vp9 -threads 1 -c:a libopus
av pcm.avi 22050 2 770 -c:v mpeg4 -c:a pcm_s16le
for f in flac.mkv vorbis.mkv opus.mkv aac.mp4 opus.webm pcm.avi; do check "$f" ffmpeg; done
[ "$(jq -r '"\(.format) \(.subtype)"' "$W/info.json")" = "AVI PCM_S16LE" ] || fail "pcm.avi: $(cat "$W/info.json")"

# ------------------------------------------------------------------ hostile files
# le32 N / le16 N: little-endian bytes (octal escapes: POSIX printf has no \x)
le16() { printf "\\$(printf %o $(($1 & 255)))\\$(printf %o $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
wav_header() { # wav_header FORMAT CHANNELS RATE BITS DATA_BYTES RIFF_BYTES
  printf 'RIFF'; le32 "$6"; printf 'WAVEfmt '; le32 16; le16 "$1"; le16 "$2"; le32 "$3"
  le32 $(($3 * $2 * $4 / 8)); le16 $(($2 * $4 / 8)); le16 "$4"; printf 'data'; le32 "$5"
}
H=$W/hostile
mkdir -p "$H"
{ printf 'RIFF'; le32 100; printf 'WAVEjunkjunkjunkjunk'; } >"$H/bad-header.wav"
{ wav_header 1 1 16000 16 4294967040 4294967290; head -c 64 /dev/urandom; } >"$H/huge-claim.wav"
wav_header 1 1 16000 16 0 36 >"$H/no-frames.wav"
{ wav_header 3 1 16000 32 16 52; printf '\000\000\300\177'; printf '\000\000\200\077'; printf '\000\000\300\177'; printf '\000\000\000\000'; } >"$H/nan.wav"
{ wav_header 3 1 16000 32 8 44; printf '\000\000\200\177'; printf '\000\000\000\000'; } >"$H/inf.wav"
# 1.7e38: finite, but the resampler's sums overflow (found by fuzz/fuzz_audio.c)
{ wav_header 3 1 8000 32 8 44; printf '\000\000\200\077'; printf '\377\377\177\177'; } >"$H/huge-float.wav"
head -c 3000 "$W/s16.flac" >"$H/truncated.flac"
head -c 2000 "$W/vorbis.ogg" >"$H/truncated.ogg" # cut inside its headers (fuzz/lsan.supp: libvorbis leaks on it)
head -c 4096 /dev/urandom >"$H/random.wav"
: >"$H/empty.wav"
{ wav_header 1 1 0 16 8 44; printf '\001\000\002\000\003\000\004\000'; } >"$H/zero-rate.wav"
{ wav_header 1 100 16000 16 200 236; head -c 200 /dev/zero; } >"$H/hundred-channels.wav"
# 9 frames at 768 kHz: a fifth of a sample at 16 kHz (found by fuzz/fuzz_audio.c); refused
# only when resampling, so this one runs with --rate 16000 below
{ wav_header 1 1 767999 8 9 45; printf 'abcdefghi'; } >"$H/too-short-to-resample.wav"
# videos: one without a sound track; ones with sound cut short (Matroska: the file's
# duration, then the track's DURATION tag, against what decodes; AVI: the PCM track's
# length in its header); a RIFF that claims to be an AVI and is not
ffmpeg -v error -y $vid -c:v ffv1 "$H/no-sound.mkv"
head -c $(($(wc -c <"$W/flac.mkv") / 2)) "$W/flac.mkv" >"$H/truncated-half.mkv"
# the last kilobyte: inside or before the last FLAC packet (~800 bytes, then ~30 of index)
head -c $(($(wc -c <"$W/flac.mkv") - 1000)) "$W/flac.mkv" >"$H/truncated-end.mkv"
head -c $(($(wc -c <"$W/pcm.avi") * 3 / 10)) "$W/pcm.avi" >"$H/truncated.avi"
printf 'RIFF\020\000\000\000AVI LIST hello' >"$H/not-a-video.avi"
n=0
for f in "$H"/*; do
  set +e
  "$MMC" audio info "$f" --rate 16000 >"$W/out.txt" 2>"$W/err.txt"
  rc=$?
  set -e
  case $f in
    *huge-claim.wav) # libsndfile reads the 32 frames that are there; the claim is only a hint
      [ $rc = 0 ] && grep -q "32 frames" "$W/out.txt" || [ $rc = 2 ] || fail "$f: exit $rc: $(cat "$W/err.txt")" ;;
    *) [ $rc = 2 ] || fail "$f: exit $rc (want 2): $(cat "$W/out.txt" "$W/err.txt")"
       grep -qF "$f" "$W/err.txt" || fail "$f: the message does not name the file: $(cat "$W/err.txt")" ;;
  esac
  case $f in
    *no-sound.mkv) grep -q "no audio stream (a video without sound)" "$W/err.txt" || fail "$f: $(cat "$W/err.txt")" ;;
    *truncated-*.mkv|*truncated.avi) grep -q "truncated" "$W/err.txt" || fail "$f: $(cat "$W/err.txt")" ;;
  esac
  n=$((n + 1))
  echo "audio_decode: ok: hostile $(basename "$f"): exit $rc $(head -c 160 "$W/err.txt")"
done
# mmc audio mel: the features as a picture, one column a 10 ms frame, 80 rows
"$MMC" audio mel "$W/s16-stereo.wav" --out "$W/mel.png" --json >"$W/mel.json" || fail "audio mel exited $?"
[ "$(jq -r '"\(.frames) \(.n_mels)"' "$W/mel.json")" = "120 80" ] || fail "audio mel of 1.2 s: $(cat "$W/mel.json")"
[ "$(head -c 8 "$W/mel.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "audio mel wrote no PNG"
set +e
"$MMC" audio mel "$H/nan.wav" --out "$W/bad.png" 2>"$W/err.txt"
rc=$?
set -e
[ $rc = 2 ] && grep -qF "$H/nan.wav" "$W/err.txt" && [ ! -e "$W/bad.png" ] || fail "audio mel of nan.wav: exit $rc, $(cat "$W/err.txt")"
echo "audio_decode: ok: audio mel (120 frames x 80 bands for 1.2 s; a hostile file exits 2, no PNG)"
echo "audio_decode: all passed ($n hostile files)"
