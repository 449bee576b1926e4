/* demo.c — mmc demo (placeholder until implemented). */
#include "cli.h"
int cmd_demo(int argc, char **argv) { (void)argc; (void)argv; return cli_error(3, "demo: not implemented yet"); }
