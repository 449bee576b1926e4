# Training faults: (a) a non-finite loss or gradient stops `mmc train retrieval` with exit 3
# and a message, the last checkpoint still loadable; (b) an unwritable output exits 2/3
# naming the path, the earlier checkpoint of the run still loadable; (c) SIGKILL at any
# moment (mid-checkpoint included) leaves a loadable, resumable run.
# NaNs are injected with the test-only MMC_FAULT_NAN_AT_STEP / MMC_FAULT_NAN_GRAD_AT_STEP.
set(W ${WORK}/train-faults)
file(REMOVE_RECURSE ${W})
file(MAKE_DIRECTORY ${W})
execute_process(COMMAND ${MMC} data shapes --out ${W}/data --train 32 --val 8 --test 8 --size 32 --threads 1
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes: ${rc} ${err}")
endif()
# 32 pairs, batch 8: 4 steps an epoch, a checkpoint after each
file(WRITE ${W}/tiny.json [=[{"image_size": 32, "cnn_widths": [8, 16], "embed_dim": 32,
  "word_dim": 16, "text_hidden": 32, "batch_size": 8}]=])
set(RESUME ${MMC} train retrieval --data ${W}/data --threads 2 --resume)
set(TRAIN ${MMC} train retrieval --data ${W}/data --threads 2 --config ${W}/tiny.json)

# the run folder RUN must load: inspect its weights, eval it
function(check_loadable run what)
  execute_process(COMMAND ${MMC} inspect ${run}/model.safetensors RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: inspect ${run}/model.safetensors exited ${rc}: ${err}")
  endif()
  execute_process(COMMAND ${MMC} eval ${run} --data ${W}/data --json RESULT_VARIABLE rc OUTPUT_VARIABLE js ERROR_VARIABLE err)
  string(JSON v ERROR_VARIABLE jerr GET "${js}" rsum)
  if(NOT rc EQUAL 0 OR jerr)
    message(FATAL_ERROR "${what}: eval ${run} exited ${rc}: ${err} ${js}")
  endif()
endfunction()

# (a) NaN loss, then NaN gradient, at step 6: exit 3, the step-4 checkpoint stands
foreach(kind loss grad)
  if(kind STREQUAL "loss")
    set(var MMC_FAULT_NAN_AT_STEP)
    set(msg "loss is nan at step 6")
  else()
    set(var MMC_FAULT_NAN_GRAD_AT_STEP)
    set(msg "gradient norm is nan at step 6")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${var}=6 ${TRAIN} --out ${W}/nan-${kind} --steps 12
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 3 OR NOT err MATCHES "mmc: error: train: ${msg}")
    message(FATAL_ERROR "NaN ${kind}: rc=${rc} (want 3): ${err}")
  endif()
  file(READ ${W}/nan-${kind}/trainer.json tj)
  string(JSON step GET "${tj}" step)
  if(NOT step EQUAL 4)
    message(FATAL_ERROR "NaN ${kind}: trainer.json is at step ${step}, want 4")
  endif()
  check_loadable(${W}/nan-${kind} "NaN ${kind}")
  # and it resumes past the fault
  execute_process(COMMAND ${RESUME} --out ${W}/nan-${kind} --steps 8 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "finished at step 8")
    message(FATAL_ERROR "NaN ${kind}: resume: rc=${rc} ${out} ${err}")
  endif()
endforeach()

# (b) --out below a file: exit 2 or 3 naming it
file(WRITE ${W}/afile "in the way")
execute_process(COMMAND ${TRAIN} --out ${W}/afile/run --steps 4 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT (rc EQUAL 2 OR rc EQUAL 3) OR NOT err MATCHES "afile")
  message(FATAL_ERROR "--out under a file: rc=${rc}: ${err}")
endif()
# --out is itself a file
execute_process(COMMAND ${TRAIN} --out ${W}/afile --steps 4 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT (rc EQUAL 2 OR rc EQUAL 3) OR NOT err MATCHES "afile")
  message(FATAL_ERROR "--out is a file: rc=${rc}: ${err}")
endif()
# a checkpoint target that is a directory: the step-4 save of model-best.safetensors fails;
# the model written at the start stays loadable
file(MAKE_DIRECTORY ${W}/blocked/model-best.safetensors/x)
execute_process(COMMAND ${TRAIN} --out ${W}/blocked --steps 8 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT (rc EQUAL 2 OR rc EQUAL 3) OR NOT err MATCHES "model-best.safetensors")
  message(FATAL_ERROR "model-best.safetensors is a directory: rc=${rc}: ${err}")
endif()
check_loadable(${W}/blocked "blocked model-best")
# the same with the optimizer state, on resume: the step-4 checkpoint stays loadable
execute_process(COMMAND ${TRAIN} --out ${W}/blocked2 --steps 4 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "blocked2: ${rc} ${err}")
endif()
file(REMOVE ${W}/blocked2/trainer.json)
file(MAKE_DIRECTORY ${W}/blocked2/trainer.json/x)
execute_process(COMMAND ${RESUME} --out ${W}/blocked2 --steps 8 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT (rc EQUAL 2 OR rc EQUAL 3) OR NOT err MATCHES "trainer.json")
  message(FATAL_ERROR "trainer.json is a directory: rc=${rc}: ${err}")
endif()
check_loadable(${W}/blocked2 "blocked trainer.json")

# (c) SIGKILL at several moments of a run that checkpoints every 4 steps (every few ms)
execute_process(COMMAND ${TRAIN} --out ${W}/killed --steps 4 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "killed: first run: ${rc} ${err}")
endif()
string(REPLACE ";" " " train_sh "${RESUME}")
foreach(s 0.05 0.15 0.3 0.45 0.6 0.8 1.1)
  execute_process(COMMAND sh -c "${train_sh} --out ${W}/killed --steps 1000000 >/dev/null 2>&1 & p=$!; sleep ${s}; kill -9 $p; wait $p"
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 137)
    message(FATAL_ERROR "killed after ${s} s: the trainer exited ${rc}, not by SIGKILL")
  endif()
  check_loadable(${W}/killed "SIGKILL after ${s} s")
endforeach()
# and the run still resumes
execute_process(COMMAND ${RESUME} --out ${W}/killed --minutes 0.001 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "resume after SIGKILLs: rc=${rc} ${out} ${err}")
endif()
