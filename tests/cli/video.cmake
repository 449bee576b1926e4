# mmc data shapes --video and mmc video frames: clips are written as real video files
# (deterministic, any thread count), the manifest names them, the answer balance is
# printed; `mmc video frames` reads them back (text and JSON, PNGs with --out, --fps);
# bad arguments exit 1; a missing, truncated or non-video file exits 2 naming the file.
set(out ${WORK}/shapes-video)
file(REMOVE_RECURSE ${out} ${out}2)
execute_process(COMMAND ${MMC} data shapes --video --out ${out} --train 20 --val 0 --test 12 --size 32 --frames 6 --fps 12
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "count_moving" OR NOT stdout MATCHES "direction" OR NOT stdout MATCHES "unique")
  message(FATAL_ERROR "data shapes --video: rc=${rc} out=${stdout} err=${stderr}")
endif()
file(STRINGS ${out}/manifest-test.jsonl lines ENCODING UTF-8)
list(LENGTH lines n)
list(GET lines 3 rec)
string(JSON video GET "${rec}" video)
string(JSON image GET "${rec}" image)
string(JSON zh GET "${rec}" captions_zh 0)
string(JSON q0 GET "${rec}" qa 0 type)
if(NOT n EQUAL 12 OR NOT video STREQUAL "videos/test-000003.mkv" OR NOT image STREQUAL "images/test-000003.png"
   OR NOT EXISTS ${out}/${video} OR NOT EXISTS ${out}/${image} OR NOT zh MATCHES "一个" OR NOT q0 STREQUAL "count_moving")
  message(FATAL_ERROR "test record 3: ${rec}")
endif()
file(READ ${out}/${video} head LIMIT 4 HEX)
if(NOT head STREQUAL "1a45dfa3")
  message(FATAL_ERROR "${video} is not Matroska (EBML magic): ${head}")
endif()

# same bytes with one thread
execute_process(COMMAND ${MMC} data shapes --video --out ${out}2 --train 0 --val 0 --test 12 --size 32 --frames 6 --fps 12
                --threads 1 OUTPUT_QUIET RESULT_VARIABLE rc)
file(SHA256 ${out}/manifest-test.jsonl a)
file(SHA256 ${out}2/manifest-test.jsonl b)
file(SHA256 ${out}/videos/test-000007.mkv c)
file(SHA256 ${out}2/videos/test-000007.mkv d)
if(NOT rc EQUAL 0 OR NOT a STREQUAL b OR NOT c STREQUAL d)
  message(FATAL_ERROR "data shapes --video is not deterministic: rc=${rc}")
endif()

# mmc video frames: every frame, as JSON
execute_process(COMMAND ${MMC} video frames ${out}/${video} --all --json
                OUTPUT_VARIABLE js ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "video frames --json: rc=${rc} err=${stderr}")
endif()
string(JSON codec GET "${js}" codec)
string(JSON nframes LENGTH "${js}" frames)
string(JSON decoded GET "${js}" decoded)
string(JSON w GET "${js}" width)
string(JSON t5 GET "${js}" frames 5 t)
if(NOT codec STREQUAL "ffv1" OR NOT nframes EQUAL 6 OR NOT decoded EQUAL 6 OR NOT w EQUAL 32 OR NOT t5 MATCHES "^0\\.41(7|69)")  # Matroska keeps ms
  message(FATAL_ERROR "video frames --json: codec=${codec} n=${nframes} decoded=${decoded} w=${w} t5=${t5}: ${js}")
endif()
# --fps 4 over 0.5 s: frames at 0, 0.25 s; --out writes PNGs of --size
file(REMOVE_RECURSE ${WORK}/frames)
execute_process(COMMAND ${MMC} video frames ${out}/${video} --fps 4 --size 16 --out ${WORK}/frames
                OUTPUT_VARIABLE txt ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT txt MATCHES "frame +1  t +0\\.2500 s  16x16" OR NOT EXISTS ${WORK}/frames/frame-0001.png
   OR EXISTS ${WORK}/frames/frame-0002.png)
  message(FATAL_ERROR "video frames --fps 4: rc=${rc} out=${txt} err=${stderr}")
endif()

# bad arguments: 1
set(bad_1 video)
set(bad_2 video nosuch ${out}/${video})
set(bad_3 video frames)
set(bad_4 video frames ${out}/${video} --frames 0)
set(bad_5 video frames ${out}/${video} --fps -2)
set(bad_6 video frames ${out}/${video} --frames 3 --fps 2)
set(bad_7 video frames ${out}/${video} --size)
set(bad_8 video frames ${out}/${video} --frobnicate)
set(bad_9 data shapes --video --out ${out}3 --frames 1)
set(bad_10 data shapes --video --out ${out}3 --size 8)
foreach(i RANGE 1 10)
  execute_process(COMMAND ${MMC} ${bad_${i}} OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 1 OR NOT stderr MATCHES "mmc: error: ")
    message(FATAL_ERROR "mmc ${bad_${i}}: rc=${rc} (want 1) err=${stderr}")
  endif()
endforeach()

# bad files: 2, naming the file
file(SIZE ${out}/${video} size)
math(EXPR half "${size} / 2")
execute_process(COMMAND head -c ${half} ${out}/${video} OUTPUT_FILE ${WORK}/half.mkv)
file(WRITE ${WORK}/text.mp4 "this is not a video\n")
foreach(f ${WORK}/half.mkv ${WORK}/text.mp4 ${WORK}/missing.webm ${out}/${image})
  execute_process(COMMAND ${MMC} video frames ${f} OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  string(REPLACE "+" "\\+" fre "${f}")
  if(NOT rc EQUAL 2 OR NOT stderr MATCHES "mmc: error: .*${fre}")
    message(FATAL_ERROR "video frames ${f}: rc=${rc} (want 2) err=${stderr}")
  endif()
endforeach()
file(REMOVE_RECURSE ${out} ${out}2 ${WORK}/frames)
