/* inspect.c — mmc inspect (placeholder until implemented). */
#include "cli.h"
int cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; return cli_error(3, "inspect: not implemented yet"); }
