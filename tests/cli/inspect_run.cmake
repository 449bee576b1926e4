# mmc inspect RUN: a run folder (written by the C test run_folder_example_for_cli) is
# summarised for people and as JSON; a run folder with a broken trainer.json exits 2
# naming the file.
set(RUN ${WORK}/run_example)
execute_process(COMMAND ${MMC} inspect ${RUN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "trainer.json: step 3, epoch 1"
   OR NOT out MATCHES "best val_accuracy = 0.75"
   OR NOT out MATCHES "config.json:.*task=\"classify\".*vocab=\\[2 items\\]"
   OR NOT out MATCHES "optimizer.safetensors: adamw, 4 state tensors \\(32 values\\) for 2 parameters, steps 3 to 3"
   OR NOT out MATCHES "encoder.weight +F32 +\\(4, 3\\)")
  message(FATAL_ERROR "inspect run: rc=${rc} out=${out} err=${err}")
endif()
execute_process(COMMAND ${MMC} inspect --json ${RUN} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
string(JSON step GET "${out}" trainer step)
string(JSON kind GET "${out}" optimizer kind)
string(JSON n LENGTH "${out}" model tensors)
string(JSON task GET "${out}" config task)
string(JSON state GET "${out}" trainer rng state)
if(NOT rc EQUAL 0 OR NOT step EQUAL 3 OR NOT kind STREQUAL "adamw" OR NOT n EQUAL 2 OR NOT task STREQUAL "classify"
   OR NOT state MATCHES "^[0-9]+$")
  message(FATAL_ERROR "inspect --json run: rc=${rc} out=${out}")
endif()
set(BROKEN ${WORK}/run_broken)
file(REMOVE_RECURSE ${BROKEN})
file(COPY ${RUN}/ DESTINATION ${BROKEN})
file(WRITE ${BROKEN}/trainer.json "{\"step\": \"many\"}")
execute_process(COMMAND ${MMC} inspect ${BROKEN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "run_broken/trainer.json")
  message(FATAL_ERROR "inspect broken run: rc=${rc} err=${err}")
endif()
file(READ ${RUN}/trainer.json good)
file(WRITE ${BROKEN}/trainer.json "${good}")
file(WRITE ${BROKEN}/model.safetensors "truncated")
execute_process(COMMAND ${MMC} inspect --json ${BROKEN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "run_broken/model.safetensors" OR NOT out STREQUAL "")
  message(FATAL_ERROR "inspect run with a broken model: rc=${rc} err=${err} out=${out}")
endif()
