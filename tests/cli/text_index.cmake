# Text indexes and 以图搜文 on the run made by search_setup.cmake: `mmc index build --texts`
# from captions of the tiny dataset (English, plus Chinese lines that must pass through as
# they are), a text query finding its own caption first with score ~1, an image query
# (--image) returning k texts whose scores are the dot products of what `mmc embed --json`
# gives the image and each text, the JSON-lines form with ids, the "row" of media results,
# and bad text files exiting 2 with the file (and line) named.
cmake_minimum_required(VERSION 3.20) # today's policies: lists keep empty elements, if() knows booleans
set(dir ${WORK}/search)
set(run ${dir}/run)
set(w ${dir}/texts) # files of its own: the other tests may run at the same time
file(REMOVE_RECURSE ${w})
file(MAKE_DIRECTORY ${w})

function(mmc_ok name)
  execute_process(COMMAND ${MMC} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mmc ${ARGN}: rc=${rc} out=${out} err=${err}")
  endif()
  set(${name} "${out}" PARENT_SCOPE)
endfunction()

# A "%.9g" float as an integer in units of 1e-9 (truncated): CMake's math is integer only,
# and for unit vectors every value and every product stays far inside 64 bits.
function(to_nano s out)
  if(NOT s MATCHES "^(-?)([0-9]+)(\\.([0-9]+))?([eE]([-+]?[0-9]+))?$")
    message(FATAL_ERROR "not a number: '${s}'")
  endif()
  set(sign "${CMAKE_MATCH_1}")
  set(digits "${CMAKE_MATCH_2}${CMAKE_MATCH_4}")
  string(LENGTH "${CMAKE_MATCH_4}" nfrac)
  set(e "${CMAKE_MATCH_6}")
  if(e STREQUAL "")
    set(e 0)
  endif()
  string(REGEX REPLACE "^\\+" "" e "${e}")
  math(EXPR p "${e} - ${nfrac} + 9")
  if(p GREATER_EQUAL 0)
    string(REPEAT "0" ${p} zeros)
    string(APPEND digits "${zeros}")
  else()
    string(LENGTH "${digits}" nd)
    math(EXPR keep "${nd} + ${p}")
    if(keep LESS_EQUAL 0)
      set(digits 0)
    else()
      string(SUBSTRING "${digits}" 0 ${keep} digits)
    endif()
  endif()
  math(EXPR v "${sign}${digits}") # math reads leading zeros as decimal
  set(${out} "${v}" PARENT_SCOPE)
endfunction()

# ---- the captions: the first caption of each test scene (English), two Chinese ones; a
# blank line and a CRLF line, which the reader must take in its stride.
file(STRINGS ${dir}/data/manifest-test.jsonl lines ENCODING UTF-8)
set(caps "")
set(ids_jsonl "")
set(i 0)
foreach(l ${lines})
  string(JSON c GET "${l}" captions 0)
  string(JSON id GET "${l}" id)
  list(FIND caps "${c}" seen)
  if(seen EQUAL -1) # one line per distinct caption, so the text finds itself unambiguously
    list(APPEND caps "${c}")
    list(APPEND capids "${id}")
    string(APPEND ids_jsonl "{\"id\": \"${id}\", \"text\": \"${c}\"}\n")
  endif()
  if(i LESS 2)
    string(JSON z GET "${l}" captions_zh 0)
    list(APPEND zh "${z}")
  endif()
  math(EXPR i "${i} + 1")
endforeach()
list(GET zh 0 zh0)
list(GET zh 1 zh1)
list(LENGTH caps ncaps)
list(GET caps 3 cap3)
set(txt "")
foreach(c ${caps})
  string(APPEND txt "${c}\n")
  if(c STREQUAL cap3)
    string(APPEND txt "\n   \n") # blank lines are skipped
  endif()
endforeach()
string(APPEND txt "${zh0}\r\n${zh1}") # CRLF, and no newline at the end
file(WRITE ${w}/captions.txt "${txt}")
math(EXPR n "${ncaps} + 2")

mmc_ok(out index build --model ${run} --texts ${w}/captions.txt --out ${w}/caps.idx --batch 3)
if(NOT out MATCHES "wrote [^\n]*caps.idx: ${n} texts, dim 32, float32")
  message(FATAL_ERROR "index build --texts: ${out}")
endif()

# ---- text -> texts: the caption finds itself first, score ~1, at its row.
mmc_ok(out search ${w}/caps.idx --text "${cap3}" -k 3 --json)
string(JSON t GET "${out}" results 0 text)
string(JSON row GET "${out}" results 0 row)
string(JSON score GET "${out}" results 0 score)
string(JSON nres LENGTH "${out}" results)
string(JSON kind GET "${out}" kind)
if(NOT t STREQUAL cap3 OR NOT row EQUAL 3 OR NOT score MATCHES "^(1|1\\.0+[0-9]*|0\\.9999[0-9]*)$"
   OR NOT nres EQUAL 3 OR NOT kind STREQUAL "text")
  message(FATAL_ERROR "search --text on a text index: ${out}")
endif()
string(JSON r ERROR_VARIABLE path_err GET "${out}" results 0 path)
string(JSON r ERROR_VARIABLE id_err GET "${out}" results 0 id)
if(NOT path_err OR NOT id_err) # each lookup failed: the fields are absent
  message(FATAL_ERROR "a text index without ids has neither path nor id: ${out}")
endif()
# Chinese passes through byte for byte (CRLF dropped): the first line is at row ncaps.
mmc_ok(out search ${w}/caps.idx --text "${zh0}" -k 2 --json)
string(JSON t GET "${out}" results 0 text)
string(JSON row GET "${out}" results 0 row)
if(NOT t STREQUAL zh0 OR NOT row EQUAL ncaps)
  message(FATAL_ERROR "search --text (Chinese): want '${zh0}' at row ${ncaps}: ${out}")
endif()
mmc_ok(out search ${w}/caps.idx --text "${zh1}" -k ${n} --json)
string(FIND "${out}" "\"text\":\t\"${zh1}\"" at)
if(at EQUAL -1 OR out MATCHES "\\\\r")
  message(FATAL_ERROR "search: the CRLF line does not come back as '${zh1}': ${out}")
endif()
# human output: rank, score, text
mmc_ok(out search ${w}/caps.idx --text "${cap3}" -k 2)
if(NOT out MATCHES "rank +score +text\n +1 +(1\\.0000|0\\.9999)  ${cap3}\n")
  message(FATAL_ERROR "search human (text index): ${out}")
endif()

# ---- image -> texts (以图搜文): k results, best first, each score the dot product of the
# embeddings `mmc embed --json` gives the image and the text.
set(img ${dir}/data/images/test-000003.png)
set(k 5)
mmc_ok(out search ${w}/caps.idx --image ${img} -k ${k} --json)
string(JSON nres LENGTH "${out}" results)
string(JSON kind GET "${out}" kind)
if(NOT nres EQUAL k OR NOT kind STREQUAL "image")
  message(FATAL_ERROR "search --image on a text index: ${out}")
endif()
set(embed_args embed --model ${run} --json --image ${img})
math(EXPR last "${k} - 1")
foreach(r RANGE ${last})
  string(JSON t GET "${out}" results ${r} text)
  string(JSON s GET "${out}" results ${r} score)
  list(APPEND texts "${t}")
  list(APPEND scores "${s}")
  list(APPEND embed_args --text "${t}")
endforeach()
mmc_ok(emb ${embed_args})
string(REPLACE "\n" ";" emb_lines "${emb}")
list(GET emb_lines 0 img_line)
string(JSON dim LENGTH "${img_line}" embedding)
math(EXPR dlast "${dim} - 1")
foreach(j RANGE ${dlast})
  string(JSON v GET "${img_line}" embedding ${j})
  to_nano("${v}" x${j})
endforeach()
set(prev "")
foreach(r RANGE ${last})
  math(EXPR li "${r} + 1")
  list(GET emb_lines ${li} tl)
  list(GET scores ${r} s)
  string(JSON t GET "${tl}" text)
  list(GET texts ${r} want)
  if(NOT t STREQUAL want)
    message(FATAL_ERROR "embed --json line ${li}: '${t}' vs '${want}'")
  endif()
  set(dot 0)
  foreach(j RANGE ${dlast})
    string(JSON v GET "${tl}" embedding ${j})
    to_nano("${v}" y)
    math(EXPR dot "${dot} + ${x${j}} * ${y}")
  endforeach()
  math(EXPR dot "${dot} / 1000000000") # nano units again
  to_nano("${s}" sn)
  math(EXPR diff "${dot} - ${sn}")
  if(diff LESS -10000 OR diff GREATER 10000) # 1e-5
    message(FATAL_ERROR "result ${r} ('${t}'): score ${s} but the embeddings' dot product is ${dot}e-9")
  endif()
  if(NOT prev STREQUAL "" AND sn GREATER prev)
    message(FATAL_ERROR "results not sorted by score: ${scores}")
  endif()
  set(prev ${sn})
endforeach()

# ---- int8 text index: the same caption still comes first.
mmc_ok(out index build --model ${run} --texts ${w}/captions.txt --out ${w}/caps8.idx --int8)
mmc_ok(out search ${w}/caps8.idx --text "${cap3}" -k 1 --json)
string(JSON t GET "${out}" results 0 text)
if(NOT t STREQUAL cap3)
  message(FATAL_ERROR "search int8 text index: ${out}")
endif()

# ---- JSON lines with ids (scene ids; one more line whose text holds a newline and a tab,
# which the JSON keeps and the human table shows escaped).
string(APPEND ids_jsonl "{\"text\": \"two\\nlines\\tand a tab\", \"id\": \"x-1\", \"extra\": [1, 2]}\r\n")
file(WRITE ${w}/caps.jsonl "${ids_jsonl}")
mmc_ok(out index build --model ${run} --texts ${w}/caps.jsonl --out ${w}/ids.idx)
math(EXPR n1 "${ncaps} + 1")
if(NOT out MATCHES "wrote [^\n]*ids.idx: ${n1} texts with ids, dim 32")
  message(FATAL_ERROR "index build --texts (jsonl): ${out}")
endif()
list(GET capids 3 id3)
mmc_ok(out search ${w}/ids.idx --text "${cap3}" -k 2 --json)
string(JSON id GET "${out}" results 0 id)
string(JSON t GET "${out}" results 0 text)
string(JSON row GET "${out}" results 0 row)
if(NOT id STREQUAL id3 OR NOT t STREQUAL cap3 OR NOT row EQUAL 3)
  message(FATAL_ERROR "search ids.idx: want id ${id3}: ${out}")
endif()
if(NOT out MATCHES "\"rank\":\t1,\n\t+\"row\":\t3,\n\t+\"id\":\t\"${id3}\",\n\t+\"text\":")
  message(FATAL_ERROR "search ids.idx: fields not in the order rank, row, id, text, score: ${out}")
endif()
mmc_ok(out search ${w}/ids.idx --text "two lines" -k ${n1} --json)
string(FIND "${out}" "\"id\":\t\"x-1\",\n\t\t\t\"text\":\t\"two\\nlines\\tand a tab\"" at)
if(at EQUAL -1)
  message(FATAL_ERROR "search ids.idx: the text with a newline and a tab: ${out}")
endif()
mmc_ok(out search ${w}/ids.idx --image ${img} -k ${n1})
if(NOT out MATCHES "rank +score +id  text\n" OR NOT out MATCHES "  ${id3}  ${cap3}\n"
   OR NOT out MATCHES "  x-1  two\\\\nlines\\\\tand a tab\n")
  message(FATAL_ERROR "search human (ids): ${out}")
endif()

# ---- a media index's results carry their row too (test-000005 is row 5 of the split).
mmc_ok(out index build --model ${run} --data ${dir}/data --out ${w}/media.idx)
file(REAL_PATH ${dir}/data/images/test-000005.png self)
mmc_ok(out search ${w}/media.idx --image ${self} -k 2 --json)
string(JSON p GET "${out}" results 0 path)
string(JSON row GET "${out}" results 0 row)
if(NOT p STREQUAL self OR NOT row EQUAL 5 OR NOT out MATCHES "\"rank\":\t1,\n\t+\"row\":\t5,\n\t+\"path\":")
  message(FATAL_ERROR "search media row: ${out}")
endif()

# ---- bad text files: exit 2, the file (and line) named, no index written.
file(WRITE ${w}/empty.txt "")
file(WRITE ${w}/blank.txt "\n  \r\n\t\n")
string(ASCII 195 40 bad_utf8) # 0xC3 then '(': a lead byte without its continuation
file(WRITE ${w}/utf8.txt "a red circle\nbad ${bad_utf8} line\n")
file(WRITE ${w}/badjson.jsonl "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\", \"text\": \n")
file(WRITE ${w}/tabid.jsonl "{\"id\": \"a\\tb\", \"text\": \"x\"}\n")
file(WRITE ${w}/noid.jsonl "{\"id\": \"a\", \"text\": \"x\"}\n{\"text\": \"y\"}\n")
file(WRITE ${w}/notext.jsonl "{\"id\": \"a\", \"text\": \"x\"}\n\n{\"id\": \"b\", \"txt\": \"y\"}\n")
file(WRITE ${w}/nul.jsonl "{\"text\": \"a\\u0000b\"}\n")
file(WRITE ${w}/braces.txt "{a set}\n{another}\n") # every line opens an object: read as JSON lines
set(cases
  "empty.txt|empty.txt: no texts"
  "blank.txt|blank.txt: no texts"
  "utf8.txt|utf8.txt:2: not valid UTF-8"
  "badjson.jsonl|badjson.jsonl:2: not valid JSON"
  "tabid.jsonl|tabid.jsonl:1: \"id\" holds a tab"
  "noid.jsonl|noid.jsonl:2: has no \"id\", but line 1 has one"
  "notext.jsonl|notext.jsonl:3: \"text\" is missing"
  "nul.jsonl|nul.jsonl:1: .*NUL"
  "braces.txt|braces.txt:1: not valid JSON.*read as JSON lines"
  "missing.txt|missing.txt: cannot open")
foreach(c ${cases})
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 f)
  list(GET parts 1 want)
  file(REMOVE ${w}/x.idx)
  execute_process(COMMAND ${MMC} index build --model ${run} --texts ${w}/${f} --out ${w}/x.idx
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "^mmc: error: [^\n]*${want}" OR EXISTS ${w}/x.idx)
    message(FATAL_ERROR "index build --texts ${f}: rc=${rc} (want 2) err=${err} (want '${want}')")
  endif()
endforeach()
# --texts with another source, or with --window: usage errors
execute_process(COMMAND ${MMC} index build --model ${run} --texts ${w}/captions.txt --images ${dir}/data/images
                --out ${w}/x.idx OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT err MATCHES "--texts FILE")
  message(FATAL_ERROR "--texts with --images: rc=${rc} err=${err}")
endif()
