# mmc --version prints "mmc X.Y.Z" and exits 0.
execute_process(COMMAND ${MMC} --version OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mmc --version exited ${rc}")
endif()
if(NOT out MATCHES "^mmc [0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "unexpected --version output: ${out}")
endif()
