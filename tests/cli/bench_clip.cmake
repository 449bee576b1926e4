# mmc bench clip-vit-b32-image and clip-text-b32 on the small towers (MMC_BENCH_SMALL=1, set
# by the test's environment), float32 and quantised (--dtype int8 / q4): one timed step each;
# --json prints one object with the documented keys, a positive rate and a positive GFLOP/s
# figure. --dtype is refused (exit 1) by a workload without quantised weights and for an
# unknown type.
foreach(w clip-vit-b32-image clip-text-b32)
  if(w STREQUAL clip-vit-b32-image)
    set(unit "images/s")
  else()
    set(unit "texts/s")
  endif()
  foreach(d f32 int8 q4)
    execute_process(COMMAND ${MMC} bench ${w} --steps 1 --threads 2 --dtype ${d} --json
                    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(d STREQUAL f32)
      set(dn f32)
    elseif(d STREQUAL int8)
      set(dn int8)
    else()
      set(dn q4)
    endif()
    if(NOT rc EQUAL 0 OR NOT out MATCHES
       "^{\"workload\": \"${w}\", \"dtype\": \"${dn}\", \"rate\": [0-9.]+, \"unit\": \"${unit}\", \"threads\": 2, \"peak_rss_mb\": [0-9.]+, \"gflops\": [0-9.]+}\n$")
      message(FATAL_ERROR "mmc bench ${w} --dtype ${d} --json: rc=${rc} out=${out} err=${err}")
    endif()
    string(JSON rate GET "${out}" rate)
    string(JSON gflops GET "${out}" gflops)
    if(NOT rate GREATER 0 OR NOT gflops GREATER 0)
      message(FATAL_ERROR "mmc bench ${w} --dtype ${d}: rate ${rate}, gflops ${gflops} (want > 0)")
    endif()
  endforeach()
endforeach()
execute_process(COMMAND ${MMC} bench retrieval-train --dtype int8 --steps 1
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT err MATCHES "--dtype applies to")
  message(FATAL_ERROR "bench retrieval-train --dtype int8: rc=${rc} err=${err} (want exit 1)")
endif()
execute_process(COMMAND ${MMC} bench clip-text-b32 --dtype int3 --steps 1
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT err MATCHES "int3")
  message(FATAL_ERROR "bench --dtype int3: rc=${rc} err=${err} (want exit 1)")
endif()
