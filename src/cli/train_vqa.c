/* train_vqa.c — `mmc train vqa` and `mmc train classify`. (Being written: issue 7.) */
#include "cli.h"

int cmd_train_vqa(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error(1, "train: task '%s' is not built yet (issue 7)", argv[0]);
}
