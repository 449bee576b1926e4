/* caption.c — `mmc caption` and `mmc eval` for caption runs. (Being written: issue 6.) */
#include "cli.h"

int cmd_caption(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error(1, "caption: not built yet (issue 6)");
}

int cmd_eval_caption(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error(1, "eval: caption runs are not supported yet (issue 6)");
}
