# Ctrl-C then --resume ends with the same weights as a run never interrupted.
# A tiny retrieval run of 16 steps (4 an epoch) straight; the same run interrupted by a real
# SIGINT after step 10 (mid-epoch) must exit 130 with a checkpoint at step 10, and resuming
# it to 16 steps must give model.safetensors and optimizer.safetensors byte for byte equal
# to the straight run's. The same for a CLIP fine-tuning run (--init the shared CLIP
# fixture; 2 steps an epoch, so validation and checkpoints come between the steps), when
# ../shared is here. The signal is raised by the CLI itself at a known step through the
# test-only MMC_TEST_SIGINT_AT_STEP (src/cli/train.c), so the test does not depend on timing;
# the path it takes is the real one (signal handler, flag, checkpoint, exit code).
set(HF ${SRC}/../shared/fixtures/hf)
set(W ${WORK}/sigint-resume)
file(REMOVE_RECURSE ${W})
file(MAKE_DIRECTORY ${W})
execute_process(COMMAND ${MMC} data shapes --out ${W}/data --train 64 --val 8 --test 8 --size 32 --threads 1
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes: ${rc} ${err}")
endif()
file(WRITE ${W}/tiny.json [=[{"image_size": 32, "cnn_widths": [8, 16], "embed_dim": 32,
  "word_dim": 16, "text_hidden": 32, "batch_size": 16}]=])

function(check_sigint name)
  execute_process(COMMAND ${TRAIN} ${FIRST} --out ${W}/${name}-straight --steps 16
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "finished at step 16")
    message(FATAL_ERROR "${name}: straight run: rc=${rc} ${out} ${err}")
  endif()

  # Progress to a pipe reports step 1 and every 10th step; the hook fires at the first report
  # at or after its step, here step 10 (epoch 3, batch 2 of 4).
  execute_process(COMMAND ${CMAKE_COMMAND} -E env MMC_TEST_SIGINT_AT_STEP=10
                  ${TRAIN} ${FIRST} --out ${W}/${name}-cut --steps 16
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 130)
    message(FATAL_ERROR "${name}: interrupted run: exit ${rc}, want 130: ${out} ${err}")
  endif()
  if(NOT err MATCHES "interrupted; checkpoint saved in .*${name}-cut \\(continue with --resume\\)")
    message(FATAL_ERROR "${name}: interrupted run: no checkpoint message: ${err}")
  endif()
  file(READ ${W}/${name}-cut/trainer.json tj)
  string(JSON cut_step GET "${tj}" step)
  if(NOT cut_step EQUAL 10)
    message(FATAL_ERROR "${name}: interrupted run: checkpoint at step ${cut_step}, want 10")
  endif()
  file(SHA256 ${W}/${name}-cut/model.safetensors cut_hash)
  file(SHA256 ${W}/${name}-straight/model.safetensors straight_hash)
  if(cut_hash STREQUAL straight_hash)
    message(FATAL_ERROR "${name}: the interrupted checkpoint already equals the finished model: the test proves nothing")
  endif()

  execute_process(COMMAND ${TRAIN} --out ${W}/${name}-cut --steps 16 --resume
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "finished at step 16")
    message(FATAL_ERROR "${name}: resume: rc=${rc} ${out} ${err}")
  endif()
  foreach(f model.safetensors optimizer.safetensors)
    file(SHA256 ${W}/${name}-straight/${f} a)
    file(SHA256 ${W}/${name}-cut/${f} b)
    if(NOT a STREQUAL b)
      message(FATAL_ERROR "${name}: ${f} differs after interrupt at step ${cut_step} + resume (${b}) from the straight run (${a})")
    endif()
  endforeach()
  # trainer.json: the same position and rng state (train_seconds differs, of course)
  file(READ ${W}/${name}-straight/trainer.json tj_a)
  file(READ ${W}/${name}-cut/trainer.json tj_b)
  foreach(key step epoch batch_in_epoch rng best_metric)
    string(JSON a GET "${tj_a}" ${key})
    string(JSON b GET "${tj_b}" ${key})
    if(NOT a STREQUAL b)
      message(FATAL_ERROR "${name}: trainer.json ${key}: ${b} after interrupt + resume, ${a} straight")
    endif()
  endforeach()
  message(STATUS "${name}: SIGINT at step ${cut_step} + resume == straight 16 steps (model, optimizer, trainer state)")
endfunction()

set(TRAIN ${MMC} train retrieval --data ${W}/data --threads 2 --seed 5)
set(FIRST --config ${W}/tiny.json)
check_sigint(retrieval)
if(EXISTS ${HF}/clip/config.json)
  set(FIRST --init ${HF}/clip)
  check_sigint(clip-finetune)
else()
  message(STATUS "clip-finetune: skipped (${HF}/clip absent: ../shared is not here)")
endif()
