# 以文搜视频: `mmc index build --videos` over a folder of clips and one longer video made by
# the ffmpeg tool from six of them, `mmc search --text` returning videos with the span of the
# segment, `mmc embed --video` (one embedding per --window segment); CLIP (the shared
# fixture, meanP over frames) when ../shared is here; bad folders, files and flags.
set(HF ${SRC}/../shared/fixtures/hf)
set(W ${WORK}/video-search)
file(REMOVE_RECURSE ${W})
file(MAKE_DIRECTORY ${W}/long)
execute_process(COMMAND ${MMC} data shapes --video --out ${W}/data --train 32 --val 4 --test 8 --size 32
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes --video: rc=${rc} err=${stderr}")
endif()
file(WRITE ${W}/cfg.json "{\"image_size\": 32, \"batch_size\": 8, \"video_frames\": 4, \"cnn_widths\": [8, 16, 16], \"embed_dim\": 16}")
execute_process(COMMAND ${MMC} train retrieval --pair text:video --data ${W}/data --out ${W}/run --config ${W}/cfg.json --steps 4 --threads 2
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "train: rc=${rc} err=${stderr}")
endif()

# a folder of clips: one segment each
execute_process(COMMAND ${MMC} index build --model ${W}/run --videos ${W}/data/videos --out ${W}/clips.idx
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "wrote [^\n]*clips.idx: 44 segments of 44 videos, dim 16")
  message(FATAL_ERROR "index build --videos: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} search ${W}/clips.idx --text "a red circle moves up" -k 3 --json
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "search: rc=${rc} err=${stderr}")
endif()
string(JSON p GET "${stdout}" results 0 path)
string(JSON t0 GET "${stdout}" results 0 start)
string(JSON t1 GET "${stdout}" results 0 end)
string(JSON item GET "${stdout}" results 0 item)
if(NOT p MATCHES "/videos/[a-z]+-[0-9]+\\.mkv$" OR NOT t0 EQUAL 0 OR NOT t1 EQUAL 1 OR NOT item STREQUAL "${p}#t=0.000,1.000")
  message(FATAL_ERROR "search --json: ${stdout}")
endif()

# one longer video (6 clips of 1 s, by the ffmpeg tool) cut into 1 s segments
set(list "")
foreach(i 0 1 2 3 4 5)
  string(APPEND list "file '${W}/data/videos/test-00000${i}.mkv'\n")
endforeach()
file(WRITE ${W}/list.txt "${list}")
execute_process(COMMAND ffmpeg -v error -f concat -safe 0 -i ${W}/list.txt -c:v ffv1 ${W}/long/six.mkv RESULT_VARIABLE rc ERROR_VARIABLE stderr)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ffmpeg concat: ${stderr}")
endif()
execute_process(COMMAND ${MMC} index build --model ${W}/run --videos ${W}/long --window 1 --out ${W}/long.idx
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "6 segments of 1 videos")
  message(FATAL_ERROR "index build --window 1: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} search ${W}/long.idx --text "a blue square moves left" -k 6
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
foreach(s "0.000-1.000" "2.000-3.000" "5.000-6.000")
  if(NOT rc EQUAL 0 OR NOT stdout MATCHES "six.mkv  at ${s} s")
    message(FATAL_ERROR "search long: rc=${rc} out=${stdout} err=${stderr}")
  endif()
endforeach()
execute_process(COMMAND ${MMC} embed --model ${W}/run --video ${W}/long/six.mkv --window 4 --json
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
string(REGEX MATCHALL "\"video\"" segs "${stdout}")
list(LENGTH segs n)
if(NOT rc EQUAL 0 OR NOT n EQUAL 2 OR NOT stdout MATCHES "\"start\":4,\"end\":6")
  message(FATAL_ERROR "embed --video --window 4: rc=${rc} out=${stdout} err=${stderr}")
endif()

# CLIP on video, no training: the frames' embeddings averaged
if(EXISTS ${HF}/clip/config.json)
  execute_process(COMMAND ${MMC} index build --model ${HF}/clip --videos ${W}/long --window 2 --frames 3 --out ${W}/clip.idx
                  OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT stdout MATCHES "meanP over the image tower, 3 frames" OR NOT stdout MATCHES "3 segments of 1 videos")
    message(FATAL_ERROR "CLIP index --videos: rc=${rc} out=${stdout} err=${stderr}")
  endif()
  execute_process(COMMAND ${MMC} search ${W}/clip.idx --text "a square" -k 1 OUTPUT_VARIABLE stdout RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT stdout MATCHES "six.mkv  at [024].000-[246].000 s")
    message(FATAL_ERROR "CLIP search: rc=${rc} out=${stdout}")
  endif()
  execute_process(COMMAND ${MMC} zeroshot --model ${HF}/clip ${W}/long/six.mkv ${W}/data/images/test-000000.png
                          --labels "circle,square" --json OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT stdout MATCHES "six.mkv\",\"label\":\"(circle|square)\"" OR NOT stdout MATCHES "test-000000.png\",\"label\":")
    message(FATAL_ERROR "CLIP zeroshot on a video: rc=${rc} out=${stdout} err=${stderr}")
  endif()
else()
  message(STATUS "CLIP on video: skipped (${HF}/clip absent: ../shared is not here)")
endif()

# a text:video run takes its own frame count; bad flags; a broken video names the file
execute_process(COMMAND ${MMC} index build --model ${W}/run --videos ${W}/long --frames 3 --out ${W}/x.idx
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT stderr MATCHES "4 frames")
  message(FATAL_ERROR "--frames on a video run: rc=${rc} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} index build --model ${W}/run --images ${W}/data/images --window 2 --out ${W}/x.idx
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT stderr MATCHES "--videos")
  message(FATAL_ERROR "--window without --videos: rc=${rc} err=${stderr}")
endif()
file(WRITE ${W}/long/broken.mp4 "not a video")
execute_process(COMMAND ${MMC} index build --model ${W}/run --videos ${W}/long --out ${W}/x.idx
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "broken.mp4" OR EXISTS ${W}/x.idx)
  message(FATAL_ERROR "a broken video: rc=${rc} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} index build --model ${W}/run --videos ${W}/data/images --out ${W}/x.idx
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "no video files")
  message(FATAL_ERROR "a folder without videos: rc=${rc} err=${stderr}")
endif()
file(REMOVE_RECURSE ${W})
