# Bad inputs to embed / index / search / zeroshot: a missing or broken model, image or index
# exits 2 naming it; bad arguments exit 1; with --json nothing reaches stdout on failure.
set(dir ${WORK}/search)
set(run ${dir}/run)
set(img ${dir}/data/images/test-000001.png)
file(MAKE_DIRECTORY ${dir}/empty ${dir}/hfclip ${dir}/notamodel)
file(WRITE ${dir}/hfclip/config.json [=[{"model_type": "clip", "projection_dim": 512}]=])
file(WRITE ${dir}/notamodel/config.json [=[{"model_type": "bert"}]=])
file(WRITE ${dir}/garbage.idx "not an index at all, just some bytes that are long enough")
file(WRITE ${dir}/broken.png "this is no png")
# An index of its own: the other tests may run at the same time.
execute_process(COMMAND ${MMC} index build --model ${run} --data ${dir}/data --out ${dir}/bad.idx
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "index build: rc=${rc} out=${out} err=${err}")
endif()

# name;expected exit;stderr must match;arguments...
set(cases
  "1|mmc: error|embed --text a"
  "1|nothing to embed|embed --model ${run}"
  "1|unknown argument|embed --model ${run} --text a --bogus"
  "2|no-such-run|embed --model ${dir}/no-such-run --text a --json"
  "2|config.json|embed --model ${dir}/empty --text a"
  "2|text_config must be a JSON object|embed --model ${dir}/hfclip --text a"
  "2|bert|embed --model ${dir}/notamodel --text a"
  "2|missing.png|embed --model ${run} --image ${dir}/missing.png --json"
  "2|broken.png|embed --model ${run} --image ${dir}/broken.png"
  "1|--out|index build --model ${run} --data ${dir}/data"
  "1|one of|index build --model ${run} --out ${dir}/x.idx"
  "1|unknown action|index frobnicate"
  "2|empty|index build --model ${run} --images ${dir}/empty --out ${dir}/x.idx"
  "2|no-such-data|index build --model ${run} --data ${dir}/no-such-data --out ${dir}/x.idx"
  "2|no-such-run|index build --model ${dir}/no-such-run --images ${dir}/data/images --out ${dir}/x.idx"
  "1|missing INDEX|search --text a"
  "1|one query|search ${dir}/bad.idx"
  "1|one query|search ${dir}/bad.idx --text a --image ${img}"
  "1|-k|search ${dir}/bad.idx --text a -k 0"
  "1|-k|search ${dir}/bad.idx --text a -k 3x"
  "2|missing.idx|search ${dir}/missing.idx --text a --json"
  "2|garbage.idx|search ${dir}/garbage.idx --text a --json"
  "2|missing.png|search ${dir}/bad.idx --image ${dir}/missing.png --json"
  "2|no-such-run|search ${dir}/bad.idx --text a --model ${dir}/no-such-run"
  "1|at least two|zeroshot --model ${run} ${img} --labels circle"
  "1|empty label|zeroshot --model ${run} ${img} --labels circle,,square"
  "1|twice|zeroshot --model ${run} ${img} --labels circle,circle"
  "1|\\{\\}|zeroshot --model ${run} ${img} --labels a,b --template nohole"
  "1|--labels|zeroshot --model ${run} ${img}"
  "1|not both|zeroshot --model ${run} ${img} --labels a,b --data ${dir}/data"
  "2|missing.png|zeroshot --model ${run} ${dir}/missing.png --labels a,b --json"
  "2|no-such-run|zeroshot --model ${dir}/no-such-run ${img} --labels a,b"
  "2|manifest-nope|zeroshot --model ${run} --data ${dir}/data --split nope --json"
  "2|distinct|zeroshot --model ${run} --data ${dir}/data --field nosuchfield --json"
)
foreach(c ${cases})
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 want)
  list(GET parts 1 pattern)
  list(GET parts 2 cmdline)
  separate_arguments(args UNIX_COMMAND "${cmdline}")
  execute_process(COMMAND ${MMC} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL want OR NOT err MATCHES "mmc: error: " OR NOT err MATCHES "${pattern}")
    message(FATAL_ERROR "mmc ${cmdline}: rc=${rc} (want ${want}), stderr must match '${pattern}': ${err}")
  endif()
  if(cmdline MATCHES "--json" AND NOT out STREQUAL "")
    message(FATAL_ERROR "mmc ${cmdline}: failed but printed to stdout: ${out}")
  endif()
endforeach()
