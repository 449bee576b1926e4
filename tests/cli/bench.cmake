# mmc bench: bad arguments exit 1 with "mmc: error: ..."; --json prints exactly one
# JSON object with the documented keys (a one-step gemm-1024 keeps this fast).
foreach(args "" "no-such-workload" "gemm-1024;--threads;0" "gemm-1024;--steps;x"
        "gemm-1024;--steps" "gemm-1024;--bogus" "gemm-1024;gemm-2048")
  execute_process(COMMAND ${MMC} bench ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "^mmc: error: bench: ")
    message(FATAL_ERROR "mmc bench ${args}: rc=${rc} err=${err}")
  endif()
endforeach()
execute_process(COMMAND ${MMC} bench gemm-1024 --steps 1 --threads 1 --json
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES
   "^{\"workload\": \"gemm-1024\", \"dtype\": \"f32\", \"rate\": [0-9.]+, \"unit\": \"GFLOP/s\", \"threads\": 1, \"peak_rss_mb\": [0-9.]+}\n$")
  message(FATAL_ERROR "mmc bench --json: rc=${rc} out=${out} err=${err}")
endif()
# the int8 product (u8 x s8 -> int32): GFLOP/s counted the same way, 2 per multiply-add
execute_process(COMMAND ${MMC} bench gemm-1024 --steps 1 --threads 2 --dtype int8 --json
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES
   "^{\"workload\": \"gemm-1024\", \"dtype\": \"int8\", \"rate\": [0-9.]+, \"unit\": \"GFLOP/s\", \"threads\": 2, \"peak_rss_mb\": [0-9.]+}\n$")
  message(FATAL_ERROR "mmc bench gemm-1024 --dtype int8 --json: rc=${rc} out=${out} err=${err}")
endif()
