# mmc bench retrieval-train and caption-train, shrunk to 4 images of 16x16 by MMC_BENCH_SMALL=1
# (set by the test's environment; the models are the full DESIGN §7 ones): one timed step
# each; --json prints one object with the documented keys, positive rates, and the models'
# trainable parameter counts, which must equal what PyTorch counts for the reference models
# in bench/torch/retrieval_train.py and caption_train.py (sum of p.numel() over
# model.parameters(), printed by those scripts): 5454881 and 10152872. video-retrieval-train
# at 16 px ends its cnn at 1×1, so its projection is 128 -> 128: 212321, as
# VideoDualEncoder(64, size=16) of bench/torch/video_retrieval.py counts (458081 at 64 px).
# audio-retrieval-train (three towers: audio, image, transcripts) at 16 px: 569745, as
# bench/torch/audio_retrieval.py counts (815505 at 64 px).
foreach(case "retrieval-train;pairs/s;5454881" "caption-train;tokens/s;10152872" "video-retrieval-train;clips/s;212321"
        "audio-retrieval-train;clips/s;569745")
  list(GET case 0 w)
  list(GET case 1 unit)
  list(GET case 2 want)
  execute_process(COMMAND ${MMC} bench ${w} --steps 1 --threads 2 --json
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT out MATCHES
     "^{\"workload\": \"${w}\", \"dtype\": \"f32\", \"rate\": [0-9.]+, \"unit\": \"${unit}\", \"threads\": 2, \"peak_rss_mb\": [0-9.]+, \"gflops\": [0-9.]+, \"params\": [0-9]+}\n$")
    message(FATAL_ERROR "mmc bench ${w} --json: rc=${rc} out=${out} err=${err}")
  endif()
  string(JSON rate GET "${out}" rate)
  string(JSON params GET "${out}" params)
  string(JSON rss GET "${out}" peak_rss_mb)
  if(NOT rate GREATER 0 OR NOT rss GREATER 0)
    message(FATAL_ERROR "mmc bench ${w}: rate ${rate}, peak_rss_mb ${rss} (want > 0)")
  endif()
  if(NOT params EQUAL want)
    message(FATAL_ERROR "mmc bench ${w}: ${params} trainable parameters, PyTorch's model has ${want}")
  endif()
endforeach()
