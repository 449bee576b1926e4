# mmc demo --quick: every stage end to end on tiny sizes (seconds), the report's parts (the
# audio stage's players: a data: URI that decodes to a sound file mmc reads), the
# usage errors, Ctrl-C during the demo's training (exit 130, a checkpoint that the printed
# command resumes to the very model an uninterrupted demo trains), --check-screenshot.
set(D ${WORK}/demo)
file(REMOVE_RECURSE ${D} ${D}-cut)
execute_process(COMMAND ${MMC} demo --quick --out ${D} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mmc demo --quick exited ${rc}: ${out} ${err}")
endif()
string(STRIP "${out}" out_s)
if(NOT out_s MATCHES "\nreport: (/[^\n]*/report.html)$")
  message(FATAL_ERROR "the last line is not the report's absolute path: ${out}")
endif()
set(report ${CMAKE_MATCH_1})
if(NOT EXISTS ${report} OR NOT EXISTS ${D}/report.html)
  message(FATAL_ERROR "no report at ${report}")
endif()
foreach(f data/manifest-test.jsonl retrieval-en/model.safetensors retrieval-zh/model.safetensors test-en.idx test-zh.idx
        caption/model.safetensors vqa/model.safetensors vdata/manifest-test.jsonl vdata/videos/test-000000.mkv
        video-retrieval/model.safetensors video-caption/model.safetensors video-vqa/model.safetensors
        adata/manifest-train.jsonl adata/manifest-test.jsonl adata/audio/test-000000-en-0.ogg
        audio-retrieval/model.safetensors audio-queries/test-000000.wav)
  if(NOT EXISTS ${D}/${f})
    message(FATAL_ERROR "demo did not write ${f}")
  endif()
endforeach()
foreach(want "text->image R@1 [0-9.]+ R@5" "query \"a large cyan circle\": [0-9] of the top 5 match"
        "query \"一个小的橙色圆形\"" "test \\([0-9]+ images, beam 3\\): BLEU-1 [0-9.]+ BLEU-4" "captions for a few test scenes"
        "test \\([0-9]+ questions\\): accuracy [0-9.]+" "answers to a few test questions"
        "test \\([0-9]+ clips, [0-9]+ captions\\): text->video R@1 [0-9.]+" "the top test clip for a few test captions"
        "summaries of a few test clips" "answers about a few test clips"
        "spoke 132 clips in" "test \\(32 images, 32 spoken captions\\): audio->image R@1 [0-9.]+ R@5 [0-9.]+ R@10 [0-9.]+"
        "spoken query test-000003 \\([^)]+\\): \"[a-z ,:]+\": its scene ranked [0-9]+ of 32" "The demo took"
        "audio [0-9.]+s\\.\n")
  if(NOT out MATCHES "${want}")
    message(FATAL_ERROR "demo output lacks '${want}': ${out}")
  endif()
endforeach()

file(READ ${report} html)
if(html MATCHES "<script" OR html MATCHES "src=\"http" OR html MATCHES "<link")
  message(FATAL_ERROR "the report loads something or runs a script")
endif()
foreach(want "<svg" "retrieval: training loss" "validation text→image R@1" "<td>text→image R@1</td>"
        "query matches in the top 5" "“蓝色星形和黄色圆形”" "The shapes world" "Image captioning"
        "captioner: training loss" "<td>BLEU-4</td>" "Captions for test scenes" "Visual question answering"
        "VQA: validation accuracy" "<td>accuracy (all questions)</td>" "Answers to test questions"
        "Video: text→video search" "Text→video: the top clip" "Video summaries of test clips" "Answers about test clips"
        "<td>text→video R@1</td>" "<td>accuracy: direction questions</td>" "Speech: spoken captions find their scene"
        "speech→image: training loss" "<td>audio→image R@1</td>" "<td>image→audio R@1</td>" "Spoken query 4: its scene (test-000003)"
        "<audio controls")
  string(FIND "${html}" "${want}" at)
  if(at LESS 0)
    message(FATAL_ERROR "the report lacks '${want}'")
  endif()
endforeach()
# two charts of two series each (20 steps: loss logged at 1, 10, 20), 6 training scenes +
# 5 queries x 5 results + 6 captioned test scenes + 8 questions inline; 14 retrieval, 4
# captioning and 6 VQA rows (overall + 5 question types); the video stage: 4 + 4 + 4 clips
# as frame strips, 2 rows each for video retrieval, captioning and QA; the audio stage: 4 spoken
# queries (a player each, beside 3 scenes) and 5 rows
string(REGEX MATCHALL "<polyline" lines "${html}")
list(LENGTH lines n_lines)
# (a match holds no ';': CMake would split it into two list items)
string(REGEX MATCHALL "<img alt=\"\" src=\"data:image/(png|jpeg)" imgs "${html}")
list(LENGTH imgs n_imgs)
string(REGEX MATCHALL "<tr><td>retrieval</td>" rows "${html}")
list(LENGTH rows n_rows)
string(REGEX MATCHALL "<tr><td>captioning</td>" crows "${html}")
list(LENGTH crows n_crows)
string(REGEX MATCHALL "<tr><td>VQA</td>" vrows "${html}")
list(LENGTH vrows n_vrows)
string(REGEX MATCHALL "<tr><td>video (retrieval|captioning|QA)</td>" vidrows "${html}")
list(LENGTH vidrows n_vidrows)
string(REGEX MATCHALL "<audio controls preload=\"metadata\" src=\"data:audio/(wav|ogg)" auds "${html}")
list(LENGTH auds n_auds)
string(REGEX MATCHALL "<tr><td>speech retrieval</td>" arows "${html}")
list(LENGTH arows n_arows)
if(n_lines LESS 9 OR NOT n_imgs EQUAL 69 OR NOT n_rows EQUAL 14 OR NOT n_crows EQUAL 4 OR NOT n_vrows EQUAL 6 OR NOT n_vidrows EQUAL 6
   OR NOT n_auds EQUAL 4 OR NOT n_arows EQUAL 5)
  message(FATAL_ERROR "report: ${n_lines} curves (want >= 9), ${n_imgs} inline images (want 69), ${n_rows} retrieval metric rows (want 14), ${n_crows} captioning rows (want 4), ${n_vrows} VQA rows (want 6), ${n_vidrows} video rows (want 6), ${n_auds} inline sound players (want 4), ${n_arows} speech retrieval rows (want 5)")
endif()
# the first player's data: URI decodes to the bytes of a sound file (RIFF/WAVE or OggS) that
# mmc reads back, as long as the query's clip (test-000000's first spoken caption)
string(FIND "${html}" "src=\"data:audio/" at)
string(SUBSTRING "${html}" ${at} 2000000 tail)
if(NOT tail MATCHES "^src=\"data:audio/(wav|ogg).base64,([A-Za-z0-9+/]+=*)\"")
  message(FATAL_ERROR "no base64 data: URI in the first <audio>")
endif()
file(WRITE ${D}/player.b64 "${CMAKE_MATCH_2}")
execute_process(COMMAND base64 -d ${D}/player.b64 OUTPUT_FILE ${D}/player.snd RESULT_VARIABLE rc)
file(READ ${D}/player.snd magic LIMIT 12 HEX)
if(NOT rc EQUAL 0 OR NOT (magic MATCHES "^52494646........57415645$" OR magic MATCHES "^4f676753"))
  message(FATAL_ERROR "the first <audio>'s data: URI is not a WAV or Ogg file (base64 -d: ${rc}, starts ${magic})")
endif()
execute_process(COMMAND ${MMC} audio info ${D}/player.snd --json OUTPUT_VARIABLE info RESULT_VARIABLE rc ERROR_VARIABLE err)
execute_process(COMMAND ${MMC} audio info ${D}/adata/audio/test-000000-en-0.ogg --json OUTPUT_VARIABLE info0 RESULT_VARIABLE rc0)
string(JSON frames ERROR_VARIABLE jerr GET "${info}" frames)
string(JSON frames0 ERROR_VARIABLE jerr0 GET "${info0}" frames)
if(NOT rc EQUAL 0 OR NOT rc0 EQUAL 0 OR jerr OR jerr0 OR frames LESS 8000 OR NOT frames STREQUAL frames0)
  message(FATAL_ERROR "the first player's sound: mmc audio info exit ${rc} (${info} ${err}), the clip's ${info0}")
endif()

# Ctrl-C in the middle of the English model: exit 130, its checkpoint, and a resume command
# that finishes it into the same bytes as the uninterrupted demo's model.
execute_process(COMMAND ${CMAKE_COMMAND} -E env MMC_TEST_SIGINT_AT_STEP=10 ${MMC} demo --quick --out ${D}-cut
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 130 OR NOT err MATCHES "interrupted; checkpoint saved in [^\n]*retrieval-en")
  message(FATAL_ERROR "demo interrupted: exit ${rc} (want 130): ${err}")
endif()
if(EXISTS ${D}-cut/report.html OR EXISTS ${D}-cut/retrieval-zh)
  message(FATAL_ERROR "the demo went on after Ctrl-C")
endif()
if(NOT err MATCHES "continue that model with: mmc (train retrieval [^\n]*--resume)")
  message(FATAL_ERROR "no resume command: ${err}")
endif()
separate_arguments(resume UNIX_COMMAND "${CMAKE_MATCH_1}")
execute_process(COMMAND ${MMC} ${resume} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "resume: ${rc} ${out} ${err}")
endif()
file(SHA256 ${D}/retrieval-en/model.safetensors a)
file(SHA256 ${D}-cut/retrieval-en/model.safetensors b)
if(NOT a STREQUAL b)
  message(FATAL_ERROR "interrupted + resumed demo model differs from the uninterrupted one")
endif()

# usage errors exit 1; an --out that is a file exits 2
foreach(args "--steps;0" "--steps;x" "--threads;0" "--bogus" "--out")
  execute_process(COMMAND ${MMC} demo ${args} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "mmc: error: demo:")
    message(FATAL_ERROR "demo ${args}: exit ${rc} (want 1): ${err}")
  endif()
endforeach()
execute_process(COMMAND ${MMC} demo --quick --out ${report} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "report.html")
  message(FATAL_ERROR "demo --out FILE: exit ${rc} (want 2): ${err}")
endif()

# --check-screenshot: not an image -> 2; a real but small image (a scene) -> 3
execute_process(COMMAND ${MMC} demo --check-screenshot ${report} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "--check-screenshot on HTML: exit ${rc} (want 2): ${err}")
endif()
execute_process(COMMAND ${MMC} demo --check-screenshot ${D}/data/images/test-000000.png RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 3 OR NOT err MATCHES "does not look like a rendered report")
  message(FATAL_ERROR "--check-screenshot on a scene: exit ${rc} (want 3): ${err}")
endif()
