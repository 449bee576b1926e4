/* bench.c — mmc bench (placeholder until implemented). */
#include "cli.h"
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return cli_error(3, "bench: not implemented yet"); }
