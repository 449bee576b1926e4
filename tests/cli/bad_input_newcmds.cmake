# The bad-input catalogue for the caption and VQA commands (`mmc train caption`,
# `mmc caption`, `mmc train vqa`, `mmc vqa`, and `mmc eval` of their runs): trains a tiny
# run of each on a small shapes set, then tests/bad-input/make_models.sh writes hostile
# copies of every file the commands read (run folder files, manifests, --config files,
# images) and tests/bad-input/run.sh checks each exits 2 naming the file, within 20 s, with
# no crash and no sanitizer report (the Asan build runs this too).
# Arguments: -DMMC=the CLI -DSRC=source tree -DWORK=scratch folder [-DTASKS=caption|vqa, default
# both].
if(NOT DEFINED TASKS)
  set(TASKS caption vqa)
endif()
set(W ${WORK}/bad-input-newcmds)
file(REMOVE_RECURSE ${W})
file(MAKE_DIRECTORY ${W})
execute_process(COMMAND ${MMC} data shapes --out ${W}/data --train 32 --val 8 --test 8 --size 32 --threads 1
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes: ${rc} ${err}")
endif()
# tiny models: a few seconds of training each, under ASan too
file(WRITE ${W}/caption.json [=[{"image_size": 32, "cnn_widths": [8, 16], "word_dim": 16, "hidden": 32,
  "batch_size": 8}]=])
file(WRITE ${W}/vqa.json [=[{"image_size": 32, "cnn_widths": [8, 16], "film_from": 1, "word_dim": 16, "text_hidden": 16,
  "hidden": 32, "batch_images": 8}]=])
foreach(task ${TASKS})
  execute_process(COMMAND ${MMC} train ${task} --data ${W}/data --out ${W}/${task}-run --config ${W}/${task}.json
                          --steps 8 --threads 2
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "train ${task} (the good run every case breaks a copy of): rc=${rc}\n${out}\n${err}\n"
                        "(if a config key was renamed, update ${W}/${task}.json in this script)")
  endif()
  execute_process(COMMAND sh ${SRC}/tests/bad-input/make_models.sh ${W}/${task} ${task} ${W}/${task}-run ${W}/data
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "make_models.sh ${task}: rc=${rc} ${out} ${err}")
  endif()
  execute_process(COMMAND sh ${SRC}/tests/bad-input/run.sh ${MMC} ${W}/${task}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${task}: ${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bad-input cases of ${task} failed:\n${out}${err}")
  endif()
endforeach()
