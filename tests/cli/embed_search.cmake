# mmc embed / index build / search on the run made by search_setup.cmake: outputs parse,
# embeddings are unit length, searching with an indexed image finds that image first with
# score ~1, and --json prints nothing but JSON.
set(dir ${WORK}/search)
set(run ${dir}/run)
file(REAL_PATH ${dir}/data data_abs)

function(mmc_ok name)
  execute_process(COMMAND ${MMC} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mmc ${ARGN}: rc=${rc} out=${out} err=${err}")
  endif()
  set(${name} "${out}" PARENT_SCOPE)
endfunction()

# ---- embed, human: the norm of every embedding is 1.
mmc_ok(out embed --model ${run} --text "a large red circle" --image ${dir}/data/images/test-000001.png)
string(REGEX MATCHALL "norm [0-9.]+" norms "${out}")
list(LENGTH norms n)
if(NOT n EQUAL 2)
  message(FATAL_ERROR "embed: expected 2 norms: ${out}")
endif()
foreach(m ${norms})
  if(NOT m MATCHES "norm (1\\.0000|0\\.9999)")
    message(FATAL_ERROR "embed: not unit length (${m}): ${out}")
  endif()
endforeach()

# ---- embed --json: one object per input and line, in input order, dim values each.
mmc_ok(out embed --model ${run} --json --image ${dir}/data/images/test-000002.png --text "a small blue star"
       --text "一个红色圆形")
string(STRIP "${out}" out)
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "embed --json: expected 3 lines: ${out}")
endif()
list(GET lines 0 l0)
list(GET lines 1 l1)
list(GET lines 2 l2)
string(JSON p GET "${l0}" image)
string(JSON t GET "${l1}" text)
string(JSON t2 GET "${l2}" text)
string(JSON d0 LENGTH "${l0}" embedding)
string(JSON d1 LENGTH "${l1}" embedding)
if(NOT p STREQUAL "${dir}/data/images/test-000002.png" OR NOT t STREQUAL "a small blue star"
   OR NOT t2 STREQUAL "一个红色圆形" OR NOT d0 EQUAL 32 OR NOT d1 EQUAL 32)
  message(FATAL_ERROR "embed --json: ${out}")
endif()

# ---- index build from a manifest split and from a folder.
mmc_ok(out index build --model ${run} --data ${dir}/data --split test --out ${dir}/test.idx --batch 5)
if(NOT out MATCHES "wrote .*test.idx: 16 images, dim 32")
  message(FATAL_ERROR "index build --data: ${out}")
endif()
mmc_ok(out index build --model ${run} --images ${dir}/data/images --out ${dir}/all.idx)
if(NOT out MATCHES "96 images")
  message(FATAL_ERROR "index build --images: ${out}")
endif()

# ---- search --json with an indexed image: itself first, score ~1; k results, ranked.
set(self ${data_abs}/images/test-000005.png)
mmc_ok(out search ${dir}/test.idx --image ${self} -k 4 --json)
string(JSON n LENGTH "${out}" results)
string(JSON first GET "${out}" results 0 path)
string(JSON score GET "${out}" results 0 score)
string(JSON rank GET "${out}" results 3 rank)
string(JSON kind GET "${out}" kind)
if(NOT n EQUAL 4 OR NOT first STREQUAL "${self}" OR NOT score MATCHES "^(1|1\\.0+[0-9]*|0\\.9999[0-9]*)$"
   OR NOT rank EQUAL 4 OR NOT kind STREQUAL "image")
  message(FATAL_ERROR "search self-query: n=${n} first=${first} score=${score} out=${out}")
endif()
# The same in the folder index (96 images), int8 too.
mmc_ok(out search ${dir}/all.idx --image ${self} -k 1 --json)
string(JSON first GET "${out}" results 0 path)
if(NOT first STREQUAL "${self}")
  message(FATAL_ERROR "search all.idx self-query: ${out}")
endif()
mmc_ok(out index build --model ${run} --data ${dir}/data --out ${dir}/test8.idx --int8)
mmc_ok(out search ${dir}/test8.idx --image ${self} -k 1 --json)
string(JSON first GET "${out}" results 0 path)
string(JSON score GET "${out}" results 0 score)
if(NOT first STREQUAL "${self}" OR NOT score MATCHES "^(1|1\\.0[0-9]*|0\\.99[0-9]*)$")
  message(FATAL_ERROR "search int8 self-query: ${out}")
endif()

# Text query, human and JSON; k larger than the index is capped.
mmc_ok(out search ${dir}/test.idx --text "a large red circle" -k 50 --json)
string(JSON n LENGTH "${out}" results)
string(JSON q GET "${out}" query)
if(NOT n EQUAL 16 OR NOT q STREQUAL "a large red circle")
  message(FATAL_ERROR "search --text: ${out}")
endif()
mmc_ok(out search ${dir}/test.idx --text "a large red circle" -k 3)
if(NOT out MATCHES "   1  +[-0-9.]+  .*test-0000[0-9][0-9]\\.png")
  message(FATAL_ERROR "search human: ${out}")
endif()

# ---- mmc inspect on a retrieval run folder (the training loop's trainer.json).
execute_process(COMMAND ${MMC} inspect ${run} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "trainer.json: step [0-9]+" OR NOT out MATCHES "model.safetensors")
  message(FATAL_ERROR "inspect RUN: rc=${rc} out=${out} err=${err}")
endif()
