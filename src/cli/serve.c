/* serve.c — `mmc serve --model M [--model M2]... [--index [NAME=]FILE]... [--host H]
 * [--port P] [--threads T] [--api-key K | --insecure] [limits]`: parses the command line
 * and hands over to the service (src/serve/serve.c), which answers until SIGINT/SIGTERM.
 * docs/serve.md has the endpoints. */
#include "cli.h"
#include "serve.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_serve(int argc, char **argv) {
    serve_opts o = serve_opts_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int n;
        if (!strcmp(a, "--insecure")) {
            o.insecure = 1;
            continue;
        }
        if (a[0] != '-' || !a[1]) return cli_error(1, "serve: unexpected argument '%s' (see: mmc help serve)", a);
        if (!v) return cli_error(1, "serve: %s needs a value", a);
        i++;
        if (!strcmp(a, "--model")) {
            if (o.n_models == SERVE_MAX_MODELS) return cli_error(1, "serve: at most %d models", SERVE_MAX_MODELS);
            o.models[o.n_models++] = v;
        } else if (!strcmp(a, "--index")) {
            if (o.n_indexes == SERVE_MAX_INDEXES) return cli_error(1, "serve: at most %d indexes", SERVE_MAX_INDEXES);
            o.indexes[o.n_indexes++] = v;
        } else if (!strcmp(a, "--dtype")) {
            if (cli_parse_dtype("serve", v, &o.quantize)) return 1;
        } else if (!strcmp(a, "--host")) {
            o.host = v;
        } else if (!strcmp(a, "--api-key")) {
            if (strlen(v) < 8) return cli_error(1, "serve: --api-key wants at least 8 characters");
            o.api_key = v;
        } else if (!strcmp(a, "--log")) {
            o.log = v;
        } else if (!strcmp(a, "--port-file")) {
            o.port_file = v;
        } else if (!strcmp(a, "--port")) {
            if (cli_parse_int(v, 0, 65535, &o.port)) return cli_error(1, "serve: --port needs 0..65535 (0: any free port), got '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(v, 1, 256, &o.threads)) return cli_error(1, "serve: --threads needs 1..256, got '%s'", v);
        } else if (!strcmp(a, "--queue")) {
            if (cli_parse_int(v, 1, 100000, &o.queue)) return cli_error(1, "serve: --queue needs 1..100000, got '%s'", v);
        } else if (!strcmp(a, "--timeout")) {
            if (cli_parse_int(v, 1, 3600, &o.timeout_s)) return cli_error(1, "serve: --timeout needs 1..3600 seconds, got '%s'", v);
        } else if (!strcmp(a, "--max-k")) {
            if (cli_parse_int(v, 1, 100000, &o.max_k)) return cli_error(1, "serve: --max-k needs 1..100000, got '%s'", v);
        } else if (!strcmp(a, "--max-body")) {
            if (cli_parse_int(v, 1024, 1 << 30, &n)) return cli_error(1, "serve: --max-body needs 1024..1073741824 bytes, got '%s'", v);
            o.max_body = (size_t)n;
        } else if (!strcmp(a, "--rate")) {
            char *end;
            double r = strtod(v, &end);
            if (*end || !(r >= 0 && r <= 1e6)) return cli_error(1, "serve: --rate needs requests a second per client (0: no limit), got '%s'", v);
            o.rate = r;
        } else {
            return cli_error(1, "serve: unknown option '%s' (see: mmc help serve)", a);
        }
    }
    return serve_run(&o);
}
