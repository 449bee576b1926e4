/* vqa.c — `mmc vqa` and `mmc eval` for vqa/classify runs. (Being written: issue 7.) */
#include "cli.h"

int cmd_vqa(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error(1, "vqa: not built yet (issue 7)");
}

int cmd_eval_vqa(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error(1, "eval: vqa runs are not supported yet (issue 7)");
}
