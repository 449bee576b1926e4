# mmc train retrieval --pair text:video: a tiny moving-shapes world, 4 steps of text<->video
# retrieval, a resume to step 6 (the target comes from config.json), `mmc eval` reporting
# text->video and video->text; bad pairs exit 1, bad video configs exit 2 naming the key,
# an image world (no clips) exits 2 naming the sample.
set(data ${WORK}/vidret-data)
set(run ${WORK}/vidret-run)
file(REMOVE_RECURSE ${data} ${run} ${run}-bad)
execute_process(COMMAND ${MMC} data shapes --video --out ${data} --train 64 --val 16 --test 16
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes --video: rc=${rc} err=${stderr}")
endif()
file(WRITE ${WORK}/vidret.json "{\"batch_size\": 16, \"video_frames\": 4, \"cnn_widths\": [8, 16, 16, 16], \"temporal_hidden\": 16, \"embed_dim\": 16}")
execute_process(COMMAND ${MMC} train retrieval --data ${data} --out ${run} --pair text:video --config ${WORK}/vidret.json
                        --steps 4 --threads 2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "video early over 4 frames of cnn")
  message(FATAL_ERROR "train --pair text:video: rc=${rc} out=${stdout} err=${stderr}")
endif()
file(READ ${run}/config.json cfg)
string(JSON target GET "${cfg}" target)
string(JSON venc GET "${cfg}" video_encoder)
string(JSON frames GET "${cfg}" video_frames)
if(NOT target STREQUAL "video" OR NOT venc STREQUAL "early" OR NOT frames EQUAL 4)
  message(FATAL_ERROR "config.json: target ${target}, video_encoder ${venc}, video_frames ${frames}")
endif()
execute_process(COMMAND ${MMC} train retrieval --data ${data} --out ${run} --resume --steps 6 --threads 2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "finished at step 6")
  message(FATAL_ERROR "resume: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} eval ${run} --data ${data} --json
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "eval: rc=${rc} err=${stderr}")
endif()
string(JSON r1 GET "${stdout}" text_to_video R@1)
string(JSON v1 GET "${stdout}" video_to_text R@10)
string(JSON nv GET "${stdout}" n_videos)
if(NOT nv EQUAL 16 OR r1 LESS 0 OR v1 LESS 0)
  message(FATAL_ERROR "eval --json: ${stdout}")
endif()
execute_process(COMMAND ${MMC} eval ${run} --data ${data} OUTPUT_VARIABLE stdout RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "text->video" OR NOT stdout MATCHES "video->text" OR NOT stdout MATCHES "16 videos")
  message(FATAL_ERROR "eval: rc=${rc} out=${stdout}")
endif()

file(STRINGS ${run}/metrics.jsonl mlines REGEX "\"val\"")
list(GET mlines 0 mval)
string(JSON mr1 GET "${mval}" val text_to_video R@1)
string(JSON mv1 GET "${mval}" val video_to_text R@1)

if(NOT mr1 GREATER_EQUAL 0 OR NOT mv1 GREATER_EQUAL 0)
  message(FATAL_ERROR "metrics.jsonl: ${mval}")
endif()

# a clip of the val split that is not a video: exit 2 naming it
file(WRITE ${data}/videos/val-000003.mkv "not a video")
execute_process(COMMAND ${MMC} train retrieval --data ${data} --out ${run} --resume --steps 8 --threads 2
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "val-000003.mkv")
  message(FATAL_ERROR "missing clip: rc=${rc} err=${stderr}")
endif()

# bad arguments: exit 1; bad video configs: exit 2 naming the key
execute_process(COMMAND ${MMC} train retrieval --data ${data} --out ${run}-bad --pair video:text --steps 1
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT stderr MATCHES "--pair")
  message(FATAL_ERROR "--pair video:text: rc=${rc} err=${stderr}")
endif()
foreach(bad "{\"video_encoder\": \"lstm\"}|video_encoder" "{\"video_frames\": 0}|video_frames"
            "{\"video_encoder\": \"early\", \"video_frame_encoder\": \"vit\"}|video_frame_encoder")
  string(REPLACE "|" ";" parts "${bad}")
  list(GET parts 0 json)
  list(GET parts 1 key)
  file(WRITE ${WORK}/vidret-bad.json "${json}")
  execute_process(COMMAND ${MMC} train retrieval --data ${data} --out ${run}-bad --pair text:video --config ${WORK}/vidret-bad.json --steps 1
                  OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 2 OR NOT stderr MATCHES "${key}")
    message(FATAL_ERROR "${json}: rc=${rc} err=${stderr}")
  endif()
endforeach()
# an image-only world has no clips
set(img ${WORK}/vidret-img)
file(REMOVE_RECURSE ${img})
execute_process(COMMAND ${MMC} data shapes --out ${img} --train 8 --val 0 --test 0 OUTPUT_QUIET RESULT_VARIABLE rc)
execute_process(COMMAND ${MMC} train retrieval --data ${img} --out ${run}-bad --pair text:video --steps 1
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "has no video")
  message(FATAL_ERROR "image world with --pair text:video: rc=${rc} err=${stderr}")
endif()
file(REMOVE_RECURSE ${data} ${run} ${run}-bad ${img})
