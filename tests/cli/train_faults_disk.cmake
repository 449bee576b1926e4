# Training faults that train_faults.cmake does not reach, for `mmc train retrieval`:
# (d) a full output disk, simulated without root by a file-size limit (RLIMIT_FSIZE via
#     `ulimit -f`, SIGXFSZ ignored so a write past it fails with EFBIG as on a full disk):
#     exit 3 naming the file, and the previous checkpoint byte for byte as it was — whether
#     the model or the optimizer file is the one that no longer fits;
# (e) the same limit with SIGXFSZ left at its default: the process is killed in the middle
#     of writing the model (or optimizer) file, at a byte offset rather than a moment, so
#     "killed mid-checkpoint" happens every time; the previous checkpoint stays whole;
# (f) an infinite loss or gradient (MMC_FAULT_VALUE=inf with the test-only
#     MMC_FAULT_NAN_AT_STEP / MMC_FAULT_NAN_GRAD_AT_STEP) stops the run with exit 3 like a
#     NaN, keeping the last checkpoint;
# (g) SIGKILL between the renames of a commit (the state made by hand): with
#     trainer.json.next left, resume finishes the commit and continues exactly as an
#     uninterrupted run would (same weights); with an optimizer file newer than trainer.json
#     and nothing staged, resume refuses (exit 2) instead of mixing two steps.
# After each fault the run must load (inspect, eval) and resume to the end.
set(W ${WORK}/train-faults-disk)
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
set(TRAIN ${MMC} train retrieval --data ${W}/data --threads 2 --config ${W}/tiny.json)
set(RESUME ${MMC} train retrieval --data ${W}/data --threads 2 --resume)
string(REPLACE ";" " " resume_sh "${RESUME}")

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

# the checkpoint files of RUN unchanged since the base run
function(check_unchanged run what)
  foreach(f model.safetensors optimizer.safetensors trainer.json)
    file(SHA256 ${W}/base/${f} want)
    file(SHA256 ${run}/${f} have)
    if(NOT have STREQUAL want)
      message(FATAL_ERROR "${what}: ${f} changed: the step-4 checkpoint was overwritten by a failed save")
    endif()
  endforeach()
endfunction()

function(check_resumes run what)
  execute_process(COMMAND ${RESUME} --out ${run} --steps 8 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "finished at step 8")
    message(FATAL_ERROR "${what}: resume: rc=${rc} ${out} ${err}")
  endif()
endfunction()

# the step-4 checkpoint every case starts from
execute_process(COMMAND ${TRAIN} --out ${W}/base --steps 4 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "base run: ${rc} ${err}")
endif()
file(SIZE ${W}/base/model.safetensors model_bytes)
file(SIZE ${W}/base/optimizer.safetensors opt_bytes)
# `ulimit -f` counts 512-byte blocks: half the model (the model write fails), and half-way
# between the model and the optimizer (the model fits, the optimizer does not)
math(EXPR lim_model "${model_bytes} / 2 / 512")
math(EXPR lim_opt "(${model_bytes} + ${opt_bytes}) / 2 / 512")
if(NOT lim_opt GREATER lim_model OR lim_model LESS 8)
  message(FATAL_ERROR "model ${model_bytes} B, optimizer ${opt_bytes} B: no file-size limit separates them")
endif()

foreach(case model opt)
  set(lim ${lim_${case}})
  if(case STREQUAL "model")
    set(file_re "model(-best)?\\.safetensors")
  else()
    set(file_re "optimizer\\.safetensors")
  endif()
  # (d) full disk: EFBIG
  set(run ${W}/full-${case})
  file(COPY ${W}/base/ DESTINATION ${run})
  execute_process(COMMAND sh -c "trap '' XFSZ; ulimit -f ${lim}; exec ${resume_sh} --out ${run} --steps 8"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 3 OR NOT err MATCHES "mmc: error: [^\n]*${file_re}[^\n]*File too large")
    message(FATAL_ERROR "full disk at the ${case} file (limit ${lim} blocks): rc=${rc} (want 3), stderr: ${err}")
  endif()
  check_unchanged(${run} "full disk at the ${case} file")
  check_loadable(${run} "full disk at the ${case} file")
  check_resumes(${run} "full disk at the ${case} file")

  # (e) killed by SIGXFSZ in the middle of that write (sh reports 128 + 25)
  set(run ${W}/killed-${case})
  file(COPY ${W}/base/ DESTINATION ${run})
  execute_process(COMMAND sh -c "ulimit -f ${lim}; ${resume_sh} --out ${run} --steps 8 >/dev/null 2>&1; exit $?"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 153)
    message(FATAL_ERROR "killed writing the ${case} file: exit ${rc}, want 153 (SIGXFSZ)")
  endif()
  check_unchanged(${run} "killed writing the ${case} file")
  check_loadable(${run} "killed writing the ${case} file")
  check_resumes(${run} "killed writing the ${case} file")
endforeach()

# (f) an infinite loss, then an infinite gradient, at step 6: exit 3, the step-4 checkpoint kept
foreach(kind loss grad)
  if(kind STREQUAL "loss")
    set(var MMC_FAULT_NAN_AT_STEP)
    set(msg "loss is inf at step 6")
  else()
    set(var MMC_FAULT_NAN_GRAD_AT_STEP)
    set(msg "gradient norm is inf at step 6")
  endif()
  set(run ${W}/inf-${kind})
  file(COPY ${W}/base/ DESTINATION ${run})
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${var}=6 MMC_FAULT_VALUE=inf ${RESUME} --out ${run} --steps 12
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 3 OR NOT err MATCHES "mmc: error: train: ${msg}")
    message(FATAL_ERROR "Inf ${kind}: rc=${rc} (want 3): ${err}")
  endif()
  check_unchanged(${run} "Inf ${kind}")
  check_loadable(${run} "Inf ${kind}")
  check_resumes(${run} "Inf ${kind}")
endforeach()

# (g) a commit cut between its renames. s8: the step-8 checkpoint, made from the base.
file(COPY ${W}/base/ DESTINATION ${W}/s8)
check_resumes(${W}/s8 "step-8 checkpoint")
# the optimizer renamed, model and trainer.json still staged
set(run ${W}/mid-commit)
file(COPY ${W}/base/ DESTINATION ${run})
file(COPY_FILE ${W}/s8/optimizer.safetensors ${run}/optimizer.safetensors)
file(COPY_FILE ${W}/s8/model.safetensors ${run}/model.safetensors.next)
file(COPY_FILE ${W}/s8/trainer.json ${run}/trainer.json.next)
file(COPY ${W}/s8/ DESTINATION ${W}/s8-straight)
foreach(r ${run} ${W}/s8-straight)
  execute_process(COMMAND ${RESUME} --out ${r} --steps 12 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "resuming.*finished at step 12")
    message(FATAL_ERROR "resume ${r} to step 12: rc=${rc} ${out} ${err}")
  endif()
endforeach()
file(SHA256 ${run}/model.safetensors a)
file(SHA256 ${W}/s8-straight/model.safetensors b)
if(NOT a STREQUAL b OR EXISTS ${run}/trainer.json.next OR EXISTS ${run}/model.safetensors.next)
  message(FATAL_ERROR "a finished interrupted commit does not continue like the uninterrupted run")
endif()
# a newer optimizer beside an older trainer.json, nothing staged: refused, the model loads
set(run ${W}/torn)
file(COPY ${W}/base/ DESTINATION ${run})
file(COPY_FILE ${W}/s8/optimizer.safetensors ${run}/optimizer.safetensors)
execute_process(COMMAND ${RESUME} --out ${run} --steps 12 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "optimizer.safetensors: written at step 8 but trainer.json is at step 4")
  message(FATAL_ERROR "torn checkpoint: rc=${rc} (want 2): ${err}")
endif()
check_loadable(${run} "torn checkpoint")
