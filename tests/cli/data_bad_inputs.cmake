# Hostile data files through the commands that read them (Data issue's catalogue at the CLI):
# a truncated PNG, a PPM header claiming 100000x100000 pixels, a malformed JSONL line,
# invalid UTF-8 in a manifest, a manifest naming a missing image. Each exits 2 and the
# message names the file (and the manifest line). Uses the tiny run of cli_search_setup.
set(dir ${WORK}/search)
set(run ${dir}/run)
set(bad ${WORK}/bad-data)
file(REMOVE_RECURSE ${bad})
file(MAKE_DIRECTORY ${bad}/images)
set(good ${dir}/data/images/test-000001.png)
file(COPY ${good} DESTINATION ${bad}/images)
execute_process(COMMAND sh -c "head -c 200 '${good}' > '${bad}/images/truncated.png' &&
                              printf 'P6\\n100000 100000\\n255\\n' > '${bad}/images/huge.ppm' &&
                              printf '{\"id\": \"a\", \"image\": \"images/test-000001.png\"}\\n{\"id\": \"b\", \"image\": \\n' > '${bad}/manifest-malformed.jsonl' &&
                              printf '{\"id\": \"a\", \"image\": \"images/test-000001.png\", \"captions\": [\"caf\\351\"]}\\n' > '${bad}/manifest-utf8.jsonl' &&
                              printf '{\"id\": \"a\", \"image\": \"images/test-000001.png\"}\\n{\"id\": \"b\", \"image\": \"images/gone.png\"}\\n' > '${bad}/manifest-missing.jsonl' &&
                              printf '{\"id\": \"a\", \"image\": \"images/truncated.png\"}\\n' > '${bad}/manifest-trunc.jsonl'"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not write the bad files")
endif()

# expected exit | stderr must match | arguments
set(cases
  "2|truncated.png|embed --model ${run} --image ${bad}/images/truncated.png"
  "2|huge.ppm.*pixel|embed --model ${run} --image ${bad}/images/huge.ppm"
  "2|manifest-malformed.jsonl:2|index build --model ${run} --data ${bad} --split malformed --out ${bad}/x.idx"
  "2|manifest-utf8.jsonl:1.*UTF-8|index build --model ${run} --data ${bad} --split utf8 --out ${bad}/x.idx"
  "2|gone.png|index build --model ${run} --data ${bad} --split missing --out ${bad}/x.idx"
  "2|truncated.png|index build --model ${run} --data ${bad} --split trunc --out ${bad}/x.idx"
  "2|manifest-malformed.jsonl:2|eval ${run} --data ${bad} --split malformed --json"
)
foreach(c ${cases})
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 want)
  list(GET parts 1 pattern)
  list(GET parts 2 cmdline)
  separate_arguments(args UNIX_COMMAND "${cmdline}")
  execute_process(COMMAND ${MMC} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL want OR NOT err MATCHES "${pattern}")
    message(FATAL_ERROR "mmc ${cmdline}: rc=${rc} (want ${want}), stderr must match '${pattern}': ${err}")
  endif()
endforeach()
if(EXISTS ${bad}/x.idx)
  message(FATAL_ERROR "a failed index build left an index behind")
endif()
