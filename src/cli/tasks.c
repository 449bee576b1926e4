/* tasks.c — the task table of `mmc train TASK` and `mmc eval RUN`: one row per task.
 * Adding a task to the command line is one row here and its file src/cli/train_TASK.c
 * (flags -> config -> cli_train_run); `mmc eval` dispatches on the "task" a run's
 * config.json names, `mmc train` on argv[1], and both list the names from this table. */
#include "cli.h"
#include <string.h>

const cli_task CLI_TASKS[] = {
    /* name        train                 eval (NULL: retrieval's recall) */
    {"retrieval", cmd_train_retrieval, NULL},
    {"caption", cmd_train_caption, cmd_eval_caption},
    {"vqa", cmd_train_vqa, cmd_eval_vqa},
    {"classify", cmd_train_vqa, cmd_eval_vqa},
    {NULL, NULL, NULL},
};

const cli_task *cli_task_find(const char *name) {
    for (const cli_task *t = CLI_TASKS; name && t->name; t++)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

const char *cli_task_names(void) {
    static char buf[512];
    if (!buf[0])
        for (const cli_task *t = CLI_TASKS; t->name; t++) {
            size_t n = strlen(buf);
            snprintf(buf + n, sizeof buf - n, "%s%s", n ? ", " : "", t->name);
        }
    return buf;
}
