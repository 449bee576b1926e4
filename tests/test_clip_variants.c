/* test_clip_variants.c — CLIP folders of other shapes, and broken ones.
 *
 * tests/fixtures/clip_variants/ (tools/fixtures/clip_variants.py, whose torch
 * re-implementation of transformers' CLIP is first proven on the shared fixtures):
 *   clip-f16                   widths 24/20, 3+2 layers, 2/4 heads, gelu text, 24 px images
 *                              in 6 px patches, first-eos pooling, F16 storage
 *   chinese-clip-bf16-sharded  BERT 16 wide, 3 layers, gelu_new; vision 28 px / 7 px, gelu;
 *                              BF16 in two shards with model.safetensors.index.json
 *   clip-f32-argmax            widths 48/40, 6/5 heads, argmax pooling (eos_token_id 2),
 *                              gelu_pytorch_tanh vision, defaults left out of config.json
 * Each must load and match its reference within 1e-4, compact (F16/BF16 kept) and in f32.
 *
 * clip_hostile_folders: every broken folder fails with MMC_ERR_INPUT naming the file and
 * the field or tensor, never a crash. */
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void test_clip_parity_folder(const char *dir, const char *ref_path, const mmc_clip_opts *opts, double tol);

static const char *VARIANTS[] = {"clip-f16", "chinese-clip-bf16-sharded", "clip-f32-argmax"};

TEST(clip_config_driven) {
    for (size_t v = 0; v < sizeof VARIANTS / sizeof VARIANTS[0]; v++) {
        char rel[256], dir[4096], ref[4200];
        snprintf(rel, sizeof rel, "tests/fixtures/clip_variants/%s", VARIANTS[v]);
        snprintf(dir, sizeof dir, "%s", test_path(rel));
        snprintf(ref, sizeof ref, "%s/reference.safetensors", dir);
        mmc_clip_opts f32 = {MMC_CLIP_STORAGE_F32, 0};
        test_clip_parity_folder(dir, ref, NULL, 1e-4); /* AUTO: compact for F16/BF16 */
        test_clip_parity_folder(dir, ref, &f32, 1e-4);
        /* storage and memory: compact keeps half the bytes of f32 for the layers */
        mmc_error err = {0};
        mmc_clip *a = mmc_clip_load(dir, &err), *b = mmc_clip_load_ex(dir, &f32, &err);
        REQUIRE(a && b, "%s: %s", dir, err.msg);
        int ca, cb;
        size_t ma = mmc_clip_memory_bytes(a, &ca), mb = mmc_clip_memory_bytes(b, &cb);
        int half = v < 2;
        CHECK(ca == half && cb == 0, "%s: compact %d / %d", VARIANTS[v], ca, cb);
        if (half) CHECK(ma < mb, "%s: compact storage takes %zu bytes, f32 %zu", VARIANTS[v], ma, mb);
        printf("%s: weights in memory: %s %zu bytes, f32 %zu bytes\n", VARIANTS[v], ca ? "compact" : "f32", ma, mb);
        mmc_clip_free(a);
        mmc_clip_free(b);
    }
}

/* ------------------------------------------------------------------ hostile folders */

static char g_dir[256];

static const char *tmp_folder(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    mkdir(p, 0700);
    return p;
}

static void put(const char *dir, const char *file, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *slurp(const char *path, size_t *n) {
    uint8_t *b = NULL;
    mmc_error e = {0};
    if (mmc_read_file(path, 1 << 26, &b, n, &e)) return NULL;
    return (char *)b;
}

static void copy_file(const char *from_dir, const char *to_dir, const char *file) {
    char a[1024], b[1024];
    size_t n = 0;
    snprintf(a, sizeof a, "%s/%s", from_dir, file);
    snprintf(b, sizeof b, "%s/%s", to_dir, file);
    char *s = slurp(a, &n);
    FILE *f = fopen(b, "wb");
    if (s && f) fwrite(s, 1, n, f);
    if (f) fclose(f);
    mmc_free(s);
}

/* The base model's tensors as f32, to be written back with one change. */
typedef struct tensors {
    int n;
    mmc_tensor *t[256];
    char *names[256];
} tensors;

static void load_tensors(tensors *T, const char *path) {
    mmc_safetensors st;
    mmc_error e = {0};
    memset(T, 0, sizeof *T);
    if (mmc_safetensors_open(&st, path, &e)) return;
    for (int i = 0; i < st.count && i < 256; i++) {
        T->t[T->n] = mmc_safetensors_get(&st, st.entries[i].name, &e);
        T->names[T->n] = strdup(st.entries[i].name);
        T->n++;
    }
    mmc_safetensors_close(&st);
}

static void free_tensors(tensors *T) {
    for (int i = 0; i < T->n; i++) mmc_tensor_free(T->t[i]), free(T->names[i]);
}

/* Writes dir/file with T's tensors, skipping `drop` and giving `reshape` the shape (n). */
static void write_tensors(const tensors *T, const char *dir, const char *file, const char *drop, const char *flat) {
    mmc_tensor *ts[256];
    const char *ns[256];
    mmc_tensor *extra = NULL;
    int n = 0;
    for (int i = 0; i < T->n; i++) {
        if (drop && !strcmp(T->names[i], drop)) continue;
        ts[n] = T->t[i], ns[n] = T->names[i];
        if (flat && !strcmp(T->names[i], flat)) { /* the same data, flattened: wrong shape */
            extra = mmc_tensor_new(1, (int[]){(int)T->t[i]->numel});
            memcpy(extra->data, T->t[i]->data, sizeof(float) * (size_t)T->t[i]->numel);
            ts[n] = extra;
        }
        n++;
    }
    char p[1024];
    mmc_error e = {0};
    snprintf(p, sizeof p, "%s/%s", dir, file);
    if (mmc_safetensors_write(p, ts, ns, n, NULL, &e)) mmc_test_fail(__FILE__, __LINE__, "write %s: %s", p, e.msg);
    mmc_tensor_free(extra);
}

/* Loading dir fails with MMC_ERR_INPUT and a message holding each of the needles. */
static void expect_fail(const char *what, const char *dir, const char *n1, const char *n2) {
    mmc_error err = {0};
    mmc_clip *m = mmc_clip_load(dir, &err);
    CHECK(!m, "%s: loaded", what);
    mmc_clip_free(m);
    CHECK(err.code == MMC_ERR_INPUT, "%s: code %d (%s)", what, err.code, err.msg);
    CHECK(!n1 || strstr(err.msg, n1), "%s: message does not name '%s': %s", what, n1, err.msg);
    CHECK(!n2 || strstr(err.msg, n2), "%s: message does not name '%s': %s", what, n2, err.msg);
}

/* A folder = base config (with `from` replaced by `to`, when given) + the base weights. */
static const char *config_case(const char *name, const char *base_cfg, const char *from, const char *to,
                               const char *base_dir) {
    const char *d = tmp_folder(name);
    char *cfg = strdup(base_cfg);
    if (from) {
        char *at = strstr(cfg, from);
        if (!at) mmc_test_fail(__FILE__, __LINE__, "%s: '%s' not in the base config", name, from);
        else {
            size_t n = strlen(cfg) + strlen(to) + 1;
            char *c2 = malloc(n);
            snprintf(c2, n, "%.*s%s%s", (int)(at - cfg), cfg, to, at + strlen(from));
            free(cfg);
            cfg = c2;
        }
    }
    put(d, "config.json", cfg);
    free(cfg);
    copy_file(base_dir, d, "model.safetensors");
    return d;
}

TEST(clip_hostile_folders) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mmc_clip_hostile_XXXXXX");
    REQUIRE(mkdtemp(g_dir), "mkdtemp failed");
    char base[4096], path[4200];
    snprintf(base, sizeof base, "%s", test_path("tests/fixtures/clip_variants/clip-f32-argmax"));
    snprintf(path, sizeof path, "%s/config.json", base);
    size_t n = 0;
    char *cfg = slurp(path, &n);
    REQUIRE(cfg, "%s missing", path);
    mmc_error err = {0};

    /* the base loads: the breakage below is what fails */
    const char *d = config_case("ok", cfg, NULL, NULL, base);
    mmc_clip *m = mmc_clip_load(d, &err);
    CHECK(m, "base copy: %s", err.msg);
    mmc_clip_free(m);

    expect_fail("not a folder", "/nonexistent/clip", "/nonexistent/clip", NULL);
    d = tmp_folder("no-config");
    copy_file(base, d, "model.safetensors");
    expect_fail("missing config.json", d, "config.json", "missing");
    put(d, "config.json", "{\"model_type\": \"clip\", ");
    expect_fail("truncated config.json", d, "config.json", "JSON");
    put(d, "config.json", "[1, 2]");
    expect_fail("config.json an array", d, "config.json", "JSON object");

    expect_fail("wrong model_type", config_case("bert", cfg, "\"model_type\": \"clip\"", "\"model_type\": \"bert\"", base),
                "config.json", "model_type");
    expect_fail("hidden_size a string", config_case("str", cfg, "\"hidden_size\": 48", "\"hidden_size\": \"48\"", base),
                "config.json", "text_config.hidden_size");
    expect_fail("fractional layers", config_case("frac", cfg, "\"num_hidden_layers\": 1", "\"num_hidden_layers\": 1.5", base),
                "config.json", "text_config.num_hidden_layers");
    expect_fail("negative patch", config_case("neg", cfg, "\"patch_size\": 10", "\"patch_size\": -10", base),
                "config.json", "vision_config.patch_size");
    expect_fail("huge layers", config_case("huge", cfg, "\"num_hidden_layers\": 1", "\"num_hidden_layers\": 1e300", base),
                "config.json", "num_hidden_layers");
    expect_fail("heads do not divide", config_case("heads", cfg, "\"num_attention_heads\": 6", "\"num_attention_heads\": 7", base),
                "config.json", "num_attention_heads");
    expect_fail("unknown activation", config_case("act", cfg, "\"gelu_pytorch_tanh\"", "\"swish\"", base),
                "config.json", "hidden_act");
    expect_fail("text_config missing", config_case("notext", cfg, "\"text_config\"", "\"txt_config\"", base),
                "config.json", "text_config");
    /* a size that disagrees with the weights: the tensor is named with both shapes */
    expect_fail("intermediate size mismatch", config_case("inter", cfg, "\"intermediate_size\": 64", "\"intermediate_size\": 65", base),
                "text_model.encoder.layers.0.mlp.fc1.weight", "model.safetensors");
    expect_fail("image size mismatch", config_case("img", cfg, "\"image_size\": 40", "\"image_size\": 50", base),
                "vision_model.embeddings.position_embedding.weight", "(17, 40)");

    /* weights */
    tensors T;
    snprintf(path, sizeof path, "%s/model.safetensors", base);
    load_tensors(&T, path);
    REQUIRE(T.n > 10, "base tensors");
    d = tmp_folder("missing-tensor");
    put(d, "config.json", cfg);
    write_tensors(&T, d, "model.safetensors", "visual_projection.weight", NULL);
    expect_fail("missing tensor", d, "visual_projection.weight", "model.safetensors");
    d = tmp_folder("wrong-shape");
    put(d, "config.json", cfg);
    write_tensors(&T, d, "model.safetensors", NULL, "text_model.encoder.layers.0.self_attn.k_proj.weight");
    expect_fail("wrong shape", d, "text_model.encoder.layers.0.self_attn.k_proj.weight", "(2304)");
    d = tmp_folder("no-weights");
    put(d, "config.json", cfg);
    expect_fail("no weights", d, "model.safetensors", NULL);
    d = tmp_folder("garbage-weights");
    put(d, "config.json", cfg);
    put(d, "model.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}");
    expect_fail("garbage weights", d, "model.safetensors", NULL);

    /* integer weights */
    d = tmp_folder("int-dtype");
    put(d, "config.json", cfg);
    {
        char p[4200];
        snprintf(p, sizeof p, "%s/model.safetensors", base);
        size_t nb = 0;
        char *bytes = slurp(p, &nb);
        /* the header is JSON: turn logit_scale's "F32" into "I32" (same size) */
        char *at = bytes ? strstr(bytes + 8, "\"logit_scale\":{\"dtype\":\"F32\"") : NULL;
        if (at) {
            memcpy(strstr(at, "F32"), "I32", 3);
            snprintf(p, sizeof p, "%s/model.safetensors", d);
            FILE *f = fopen(p, "wb");
            fwrite(bytes, 1, nb, f);
            fclose(f);
            expect_fail("I32 weight", d, "logit_scale", "dtype I32");
        } else mmc_test_fail(__FILE__, __LINE__, "logit_scale entry not found in the header");
        mmc_free(bytes);
    }

    /* sharded: a good split first, then each way an index can be hostile */
    char sharded[512];
    snprintf(sharded, sizeof sharded, "%s", tmp_folder("sharded")); /* tmp_folder's buffer is reused */
    d = sharded;
    put(d, "config.json", cfg);
    {
        tensors A = T, B = T; /* borrowed pointers: A holds the first half, B the rest */
        A.n = T.n / 2;
        B.n = T.n - A.n;
        memmove(B.t, T.t + A.n, sizeof(mmc_tensor *) * (size_t)B.n);
        memmove(B.names, T.names + A.n, sizeof(char *) * (size_t)B.n);
        write_tensors(&A, d, "model-00001-of-00002.safetensors", NULL, NULL);
        write_tensors(&B, d, "model-00002-of-00002.safetensors", NULL, NULL);
        size_t cap = 64 << 10, off = 0;
        char *idx = malloc(cap);
        off += (size_t)snprintf(idx + off, cap - off, "{\"weight_map\": {");
        for (int i = 0; i < T.n; i++)
            off += (size_t)snprintf(idx + off, cap - off, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "",
                                    T.names[i], i < A.n ? 1 : 2);
        snprintf(idx + off, cap - off, "}}");
        put(d, "model.safetensors.index.json", idx);
        m = mmc_clip_load(d, &err);
        CHECK(m, "sharded copy: %s", err.msg);
        mmc_clip_free(m);

        const char *escapes[][2] = {
            {"../evil.safetensors", "../evil.safetensors"},
            {"/etc/evil.safetensors", "/etc/evil.safetensors"},
            {"sub/dir.safetensors", "sub/dir.safetensors"},
            {"model.bin", "model.bin"},
        };
        /* a real shard where "../evil.safetensors" points, so only the name check stops it */
        copy_file(d, g_dir, "model-00001-of-00002.safetensors");
        char evil_from[600], evil_to[600];
        snprintf(evil_from, sizeof evil_from, "%s/model-00001-of-00002.safetensors", g_dir);
        snprintf(evil_to, sizeof evil_to, "%s/evil.safetensors", g_dir);
        CHECK(rename(evil_from, evil_to) == 0, "rename");
        for (int k = 0; k < 4; k++) {
            const char *e = tmp_folder(k == 0 ? "esc0" : k == 1 ? "esc1" : k == 2 ? "esc2" : "esc3");
            put(e, "config.json", cfg);
            char j[512];
            snprintf(j, sizeof j, "{\"weight_map\": {\"logit_scale\": \"%s\"}}", escapes[k][0]);
            put(e, "model.safetensors.index.json", j);
            expect_fail("shard path escaping the folder", e, escapes[k][1], "not a plain");
        }
        /* a symbolic link out of the folder */
        const char *e = tmp_folder("esc-link");
        put(e, "config.json", cfg);
        char target[1200], link[1200];
        snprintf(target, sizeof target, "%s/model-00001-of-00002.safetensors", d);
        snprintf(link, sizeof link, "%s/model-00001-of-00001.safetensors", e);
        CHECK(symlink(target, link) == 0, "symlink");
        put(e, "model.safetensors.index.json", "{\"weight_map\": {\"logit_scale\": \"model-00001-of-00001.safetensors\"}}");
        expect_fail("shard linked outside the folder", e, "model-00001-of-00001.safetensors", "outside the model folder");
        /* the map points at the wrong shard for a tensor */
        e = tmp_folder("wrong-shard");
        put(e, "config.json", cfg);
        copy_file(d, e, "model-00001-of-00002.safetensors");
        copy_file(d, e, "model-00002-of-00002.safetensors");
        char j[512];
        snprintf(j, sizeof j, "{\"weight_map\": {\"%s\": \"model-00001-of-00002.safetensors\", "
                              "\"%s\": \"model-00001-of-00002.safetensors\"}}", T.names[0], T.names[T.n - 1]);
        put(e, "model.safetensors.index.json", j);
        expect_fail("tensor not in its shard", e, T.names[T.n - 1], "model-00001-of-00002.safetensors");
        /* a shard the map names but that is absent */
        e = tmp_folder("absent-shard");
        put(e, "config.json", cfg);
        put(e, "model.safetensors.index.json", "{\"weight_map\": {\"logit_scale\": \"model-00009-of-00009.safetensors\"}}");
        expect_fail("absent shard", e, "model-00009-of-00009.safetensors", "missing");
        /* weight_map of the wrong type, and a value that is not a string */
        put(e, "model.safetensors.index.json", "{\"weight_map\": [\"a\"]}");
        expect_fail("weight_map an array", e, "model.safetensors.index.json", "weight_map");
        put(e, "model.safetensors.index.json", "{\"weight_map\": {\"logit_scale\": 3}}");
        expect_fail("weight_map value a number", e, "model.safetensors.index.json", "logit_scale");
        /* the same tensor in two shards */
        e = tmp_folder("dup-shard");
        put(e, "config.json", cfg);
        copy_file(d, e, "model-00001-of-00002.safetensors");
        write_tensors(&T, e, "model-00002-of-00002.safetensors", NULL, NULL); /* all of them again */
        put(e, "model.safetensors.index.json", idx);
        expect_fail("tensor in two shards", e, "two shards", NULL);
        free(idx);
    }
    /* a broken preprocessor config or tokenizer file is an error too */
    d = config_case("pre", cfg, NULL, NULL, base);
    put(d, "preprocessor_config.json", "{\"do_resize\": \"yes\"}");
    expect_fail("preprocessor wrong type", d, "preprocessor_config.json", "do_resize");
    put(d, "preprocessor_config.json", "{\"crop_size\": {\"height\": 41, \"width\": 40}}");
    expect_fail("preprocessor crop size", d, "preprocessor_config.json", "41");
    unlink(strcat(strcpy(path, d), "/preprocessor_config.json"));
    put(d, "vocab.txt", "");
    expect_fail("empty vocab.txt", d, "vocab.txt", NULL);

    free_tensors(&T);
    mmc_free(cfg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0, "cleanup");
}
