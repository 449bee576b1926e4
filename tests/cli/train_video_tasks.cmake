# mmc train caption --video and mmc train vqa --video on a tiny moving-shapes world: a few
# steps, a resume (the target comes from config.json), `mmc eval` on clips, `mmc caption`
# and `mmc vqa` on a clip file; a broken clip, an image given to a video model and a video
# config vqa cannot take exit 2 naming the file or the key; --video on a resume exits 1.
set(data ${WORK}/vidtask-data)
set(cap ${WORK}/vidtask-cap)
set(vqa ${WORK}/vidtask-vqa)
file(REMOVE_RECURSE ${data} ${cap} ${vqa} ${vqa}-bad)
execute_process(COMMAND ${MMC} data shapes --video --out ${data} --train 48 --val 8 --test 8 --size 32
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes --video: rc=${rc} err=${stderr}")
endif()

# captioning: a summary sentence per clip
file(WRITE ${WORK}/vidtask-cap.json "{\"image_size\": 32, \"batch_size\": 8, \"video_frames\": 4, \"cnn_widths\": [8, 16, 16, 16], \"hidden\": 16, \"dec_layers\": 1}")
execute_process(COMMAND ${MMC} train caption --video --data ${data} --out ${cap} --config ${WORK}/vidtask-cap.json --steps 4 --threads 2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "48 en training clips" OR NOT stdout MATCHES "video early over frames of cnn")
  message(FATAL_ERROR "train caption --video: rc=${rc} out=${stdout} err=${stderr}")
endif()
file(READ ${cap}/config.json cfg)
string(JSON target GET "${cfg}" target)
string(JSON frames GET "${cfg}" video_frames)
if(NOT target STREQUAL "video" OR NOT frames EQUAL 4)
  message(FATAL_ERROR "caption config.json: target ${target}, video_frames ${frames}")
endif()
execute_process(COMMAND ${MMC} train caption --data ${data} --out ${cap} --resume --video --steps 6
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT stderr MATCHES "--video")
  message(FATAL_ERROR "resume with --video: rc=${rc} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} train caption --data ${data} --out ${cap} --resume --steps 6 --threads 2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "finished at step 6")
  message(FATAL_ERROR "caption resume: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} eval ${cap} --data ${data} OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "8 clips" OR NOT stdout MATCHES "BLEU-4")
  message(FATAL_ERROR "caption eval: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} caption --model ${cap} ${data}/videos/test-000002.mkv --json
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "test-000002.mkv" OR NOT stdout MATCHES "\"caption\"")
  message(FATAL_ERROR "caption a clip: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} caption --model ${cap} ${data}/images/test-000002.png
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "test-000002.png")
  message(FATAL_ERROR "an image to a video captioner: rc=${rc} err=${stderr}")
endif()

# video QA: the frames stacked as channels, hybrid fusion (the default)
file(WRITE ${WORK}/vidtask-vqa.json "{\"image_size\": 32, \"batch_images\": 8, \"video_frames\": 4, \"cnn_widths\": [8, 16, 16, 16], \"image_dim\": 16, \"hidden\": 16}")
execute_process(COMMAND ${MMC} train vqa --video --data ${data} --out ${vqa} --config ${WORK}/vidtask-vqa.json --steps 4 --threads 2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "48 training clips")
  message(FATAL_ERROR "train vqa --video: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} train vqa --data ${data} --out ${vqa} --resume --steps 6 --threads 2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "finished at step 6")
  message(FATAL_ERROR "vqa resume: rc=${rc} out=${stdout} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} eval ${vqa} --data ${data} --json OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vqa eval: rc=${rc} err=${stderr}")
endif()
string(JSON acc GET "${stdout}" accuracy)
string(JSON dirn GET "${stdout}" by_type direction n)
if(acc LESS 0 OR NOT dirn GREATER 0)
  message(FATAL_ERROR "vqa eval --json: ${stdout}")
endif()
execute_process(COMMAND ${MMC} vqa --model ${vqa} ${data}/videos/test-000001.mkv --question "how many shapes move?" --json
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "\"answer\"")
  message(FATAL_ERROR "vqa on a clip: rc=${rc} out=${stdout} err=${stderr}")
endif()
file(WRITE ${WORK}/vidtask-broken.mkv "not a video at all")
execute_process(COMMAND ${MMC} vqa --model ${vqa} ${WORK}/vidtask-broken.mkv --question "how many shapes move?"
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "vidtask-broken.mkv")
  message(FATAL_ERROR "vqa on a broken clip: rc=${rc} err=${stderr}")
endif()
file(WRITE ${WORK}/vidtask-bad.json "{\"video_encoder\": \"gru\"}")
execute_process(COMMAND ${MMC} train vqa --video --data ${data} --out ${vqa}-bad --config ${WORK}/vidtask-bad.json --steps 1
                OUTPUT_QUIET ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "video_encoder")
  message(FATAL_ERROR "vqa --video with video_encoder gru: rc=${rc} err=${stderr}")
endif()
file(REMOVE_RECURSE ${data} ${cap} ${vqa} ${vqa}-bad)
