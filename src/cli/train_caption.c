/* train_caption.c — `mmc train caption`. (Being written: issue 6.) */
#include "cli.h"

int cmd_train_caption(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error(1, "train: task 'caption' is not built yet (issue 6)");
}
