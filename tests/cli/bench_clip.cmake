# mmc bench clip-vit-b32-image on the small tower (MMC_BENCH_SMALL=1, set by the test's
# environment): one timed step; --json prints one object with the documented keys, a
# positive images/s rate and a positive GFLOP/s figure.
execute_process(COMMAND ${MMC} bench clip-vit-b32-image --steps 1 --threads 2 --json
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES
   "^{\"workload\": \"clip-vit-b32-image\", \"rate\": [0-9.]+, \"unit\": \"images/s\", \"threads\": 2, \"peak_rss_mb\": [0-9.]+, \"gflops\": [0-9.]+}\n$")
  message(FATAL_ERROR "mmc bench clip-vit-b32-image --json: rc=${rc} out=${out} err=${err}")
endif()
string(JSON rate GET "${out}" rate)
string(JSON gflops GET "${out}" gflops)
if(NOT rate GREATER 0 OR NOT gflops GREATER 0)
  message(FATAL_ERROR "mmc bench clip-vit-b32-image: rate ${rate}, gflops ${gflops} (want > 0)")
endif()
