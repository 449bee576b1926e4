# Fixture for the embed/index/search/zeroshot CLI tests: a tiny shapes dataset and a
# retrieval run trained on it for 10 steps (small encoders, so it takes seconds even under
# AddressSanitizer). The run is barely trained; the tests check plumbing and invariants
# (unit norms, self-query first with score 1), not quality.
set(dir ${WORK}/search)
file(REMOVE_RECURSE ${dir})
file(MAKE_DIRECTORY ${dir})
execute_process(COMMAND ${MMC} data shapes --out ${dir}/data --train 64 --val 16 --test 16 --size 32
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "data shapes: rc=${rc} out=${out} err=${err}")
endif()
file(WRITE ${dir}/tiny.json [=[{"image_size": 32, "cnn_widths": [8, 16], "embed_dim": 32,
  "word_dim": 16, "text_hidden": 32, "batch_size": 16}]=])
execute_process(COMMAND ${MMC} train retrieval --data ${dir}/data --out ${dir}/run --config ${dir}/tiny.json
                --steps 10 --threads 2
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT EXISTS ${dir}/run/model.safetensors)
  message(FATAL_ERROR "train retrieval: rc=${rc} out=${out} err=${err}")
endif()
