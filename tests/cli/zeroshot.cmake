# mmc zeroshot on the run made by search_setup.cmake: per-image JSON lines with labels best
# first; accuracy over a labelled split (overall + per class) as one JSON document.
set(dir ${WORK}/search)
set(run ${dir}/run)
set(img1 ${dir}/data/images/test-000001.png)
set(img2 ${dir}/data/images/test-000002.png)
execute_process(COMMAND ${MMC} zeroshot --model ${run} ${img1} ${img2} --labels "circle, square,triangle"
                --template "a large red {}" --json -k 2
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(STRIP "${out}" out)
string(REPLACE "\n" ";" lines "${out}")
list(LENGTH lines n)
if(NOT rc EQUAL 0 OR NOT n EQUAL 2)
  message(FATAL_ERROR "zeroshot --json: rc=${rc} out=${out} err=${err}")
endif()
foreach(line ${lines})
  string(JSON best GET "${line}" label)
  string(JSON k LENGTH "${line}" labels)
  string(JSON top GET "${line}" labels 0 label)
  string(JSON p0 GET "${line}" labels 0 prob)
  string(JSON p1 GET "${line}" labels 1 prob)
  if(NOT best MATCHES "^(circle|square|triangle)$" OR NOT top STREQUAL best OR NOT k EQUAL 2
     OR p0 LESS p1 OR NOT p0 MATCHES "^(0\\.[0-9]+|1|[0-9.]+e-[0-9]+)$")
    message(FATAL_ERROR "zeroshot line: ${line}")
  endif()
endforeach()
list(GET lines 0 l0)
string(JSON p GET "${l0}" image)
if(NOT p STREQUAL img1)
  message(FATAL_ERROR "zeroshot: first line is not the first image: ${l0}")
endif()

# Human output: percentages for every label by default (3 < k = 5).
execute_process(COMMAND ${MMC} zeroshot --model ${run} ${img1} --labels "circle,square,triangle"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REGEX MATCHALL "[0-9.]+%" pct "${out}")
list(LENGTH pct n)
if(NOT rc EQUAL 0 OR NOT n EQUAL 3 OR NOT out MATCHES "scale")
  message(FATAL_ERROR "zeroshot human: rc=${rc} out=${out} err=${err}")
endif()

# Accuracy on the labelled test split.
execute_process(COMMAND ${MMC} zeroshot --model ${run} --data ${dir}/data --split test --json
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "zeroshot --data: rc=${rc} out=${out} err=${err}")
endif()
string(JSON n GET "${out}" n)
string(JSON acc GET "${out}" accuracy)
string(JSON nc LENGTH "${out}" classes)
string(JSON c0 GET "${out}" classes 0 label)
set(sum 0)
math(EXPR last "${nc} - 1")
foreach(i RANGE ${last})
  string(JSON ci GET "${out}" classes ${i} n)
  math(EXPR sum "${sum} + ${ci}")
endforeach()
if(NOT n EQUAL 16 OR NOT sum EQUAL 16 OR nc LESS 2 OR acc GREATER 1 OR acc LESS 0
   OR NOT c0 MATCHES "^(circle|cross|diamond|square|star|triangle)$")
  message(FATAL_ERROR "zeroshot --data: ${out}")
endif()
# Human form, and a field read from the raw lines (id: 16 classes of one sample each).
execute_process(COMMAND ${MMC} zeroshot --model ${run} --data ${dir}/data --field id
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "16 images, 16 classes" OR NOT out MATCHES "test-000015")
  message(FATAL_ERROR "zeroshot --field id: rc=${rc} out=${out} err=${err}")
endif()
