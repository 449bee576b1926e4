# mmc data coco on a small Karpathy split JSON: manifests, the images link, restval -> train,
# a missing image skipped; hostile JSON exits 2 naming the file; bad arguments exit 1 (also
# for the other importers, checked here without the network).
set(src ${WORK}/coco_src)
set(out ${WORK}/coco_out)
file(REMOVE_RECURSE ${src} ${out})
file(WRITE ${src}/img/val2014/a.jpg "x")
file(WRITE ${src}/img/val2014/b.jpg "x")
file(WRITE ${src}/img/val2014/c.jpg "x")
file(WRITE ${src}/dataset_coco.json [=[
{"images": [
 {"filepath": "val2014", "filename": "a.jpg", "split": "restval", "sentences": [{"raw": "A man rides a horse. "}, {"raw": "一个人"}]},
 {"filepath": "val2014", "filename": "b.jpg", "split": "val", "sentences": [{"raw": "Two dogs."}]},
 {"filepath": "val2014", "filename": "c.jpg", "split": "test", "sentences": [{"raw": "A red bus."}]},
 {"filepath": "val2014", "filename": "missing.jpg", "split": "test", "sentences": [{"raw": "Gone."}]}
]}
]=])
execute_process(COMMAND ${MMC} data coco --annotations ${src}/dataset_coco.json --images ${src}/img --out ${out}
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT stdout MATCHES "wrote 1 train, 1 val, 1 test" OR NOT stdout MATCHES "skipped 1")
  message(FATAL_ERROR "data coco: rc=${rc} out=${stdout} err=${stderr}")
endif()
if(NOT IS_SYMLINK ${out}/images)
  message(FATAL_ERROR "${out}/images is not a link")
endif()
file(STRINGS ${out}/manifest-train.jsonl lines ENCODING UTF-8)
list(GET lines 0 first)
string(JSON image GET "${first}" image)
string(JSON cap GET "${first}" captions 0)
if(NOT image STREQUAL "images/val2014/a.jpg" OR NOT EXISTS ${out}/${image} OR NOT cap STREQUAL "A man rides a horse.")
  message(FATAL_ERROR "train record: ${first}")
endif()

# Hostile JSON: exit 2, the file named.
file(WRITE ${src}/bad.json [=[{"images": [{"filepath": "../../..", "filename": "passwd", "split": "train", "sentences": []}]}]=])
execute_process(COMMAND ${MMC} data coco --annotations ${src}/bad.json --images ${src}/img --out ${out}2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "mmc: error: .*bad.json.*filepath")
  message(FATAL_ERROR "hostile: rc=${rc} err=${stderr}")
endif()
file(WRITE ${src}/bad.json [=[{"images": [{"filename": "a.jpg", "split": ["train"], "sentences": []}]}]=])
execute_process(COMMAND ${MMC} data coco --annotations ${src}/bad.json --images ${src}/img --out ${out}2
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "bad.json.*split")
  message(FATAL_ERROR "wrong type: rc=${rc} err=${stderr}")
endif()
execute_process(COMMAND ${MMC} data fashion-mnist --out ${out}3 --from ${src}/no-such-folder
                OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT stderr MATCHES "no-such-folder/train-images-idx3-ubyte.gz")
  message(FATAL_ERROR "fashion-mnist missing files: rc=${rc} err=${stderr}")
endif()

# Bad arguments: exit 1 before anything is fetched or written.
set(bad_1 data coco --annotations ${src}/dataset_coco.json --out ${out})
set(bad_2 data coco --annotations ${src}/dataset_coco.json --images ${src}/img --out)
set(bad_3 data coco --annotations ${src}/dataset_coco.json --images ${src}/img --out ${out} --frob 1)
set(bad_4 data emoji --out ${out}4 --split sideways)
set(bad_5 data emoji --out ${out}4 --styles apple)
set(bad_6 data emoji --styles google)
set(bad_7 data fashion-mnist --out ${out}3 --val 70000)
set(bad_8 data fashion-mnist)
foreach(i RANGE 1 8)
  execute_process(COMMAND ${MMC} ${bad_${i}} OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 1 OR NOT stderr MATCHES "mmc: error: ")
    message(FATAL_ERROR "mmc ${bad_${i}}: rc=${rc} (want 1) err=${stderr}")
  endif()
endforeach()
if(EXISTS ${out}4)
  message(FATAL_ERROR "bad emoji arguments still made ${out}4")
endif()
file(REMOVE_RECURSE ${src} ${out} ${out}2 ${out}3)
