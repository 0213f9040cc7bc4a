/*
 * Example filter in C: drops records whose message contains a configured text.
 *
 *   [[filter]]
 *   plugin = "example-drop"
 *   contains = "healthcheck"
 *
 * Build it against the header and put the library in plugin_dir:
 *
 *   cc -shared -fPIC -O2 -I include plugins/examples/c-filter/drop_filter.c \
 *      -o libsyslane_plugin_example_drop.so
 *
 * EXAMPLE_ABI_MAJOR exists for the conformance tests, which build this file for a
 * wrong ABI major to check that the agent refuses it.
 */
#include "syslane_plugin.h"

#include <stdlib.h>
#include <string.h>

#ifndef EXAMPLE_ABI_MAJOR
#define EXAMPLE_ABI_MAJOR SL_ABI_MAJOR
#endif

typedef struct {
    const SlHostApi *host;
    char *needle;
    size_t needle_len;
} DropFilter;

static void fail(const SlHostApi *host, const char *message) {
    SlStr text = {(const uint8_t *)message, strlen(message)};
    host->set_error(host->host_ctx, text);
}

/* Finds "contains": "<text>" in the JSON object the host passes. The value may not
 * contain escaped characters; a real plugin would use a JSON library. */
static int read_needle(const SlHostApi *host, SlStr config, DropFilter *f) {
    const char *key = "\"contains\"";
    size_t key_len = strlen(key);
    const char *json = (const char *)config.ptr;
    for (size_t i = 0; config.ptr && i + key_len <= config.len; i++) {
        if (memcmp(json + i, key, key_len) != 0) continue;
        size_t j = i + key_len;
        while (j < config.len && (json[j] == ' ' || json[j] == ':')) j++;
        if (j >= config.len || json[j] != '"') break;
        size_t start = ++j;
        while (j < config.len && json[j] != '"' && json[j] != '\\') j++;
        if (j >= config.len || json[j] != '"' || j == start) break;
        f->needle_len = j - start;
        f->needle = malloc(f->needle_len);
        if (!f->needle) return 0;
        memcpy(f->needle, json + start, f->needle_len);
        return 1;
    }
    fail(host, "example-drop: set contains = \"text\" (a non-empty string without escapes)");
    return 0;
}

static SlStatus drop_create(const SlHostApi *host, SlStr config, void **out) {
    DropFilter *f = calloc(1, sizeof *f);
    if (!f) {
        fail(host, "example-drop: out of memory");
        return SL_ERROR;
    }
    f->host = host;
    if (!read_needle(host, config, f)) {
        free(f);
        return SL_ERROR;
    }
    *out = f;
    return SL_OK;
}

static void drop_destroy(void *instance) {
    DropFilter *f = instance;
    free(f->needle);
    free(f);
}

static int contains(SlStr hay, const char *needle, size_t n) {
    if (!hay.ptr || hay.len < n) return 0;
    for (size_t i = 0; i + n <= hay.len; i++)
        if (memcmp(hay.ptr + i, needle, n) == 0) return 1;
    return 0;
}

static SlStatus drop_filter(void *instance, const SlRecord *records, size_t count, const SlEditApi *edits) {
    DropFilter *f = instance;
    for (size_t i = 0; i < count; i++)
        if (contains(records[i].message, f->needle, f->needle_len))
            edits->drop_record(edits->edit_ctx, i);
    return SL_OK;
}

static const SlFilterVtable VTABLE = {
    sizeof(SlFilterVtable), drop_create, drop_destroy, drop_filter,
};

static const SlPluginDescriptor DESCRIPTOR = {
    SL_MAGIC,
    EXAMPLE_ABI_MAJOR,
    SL_ABI_MINOR,
    sizeof(SlPluginDescriptor),
    SL_KIND_FILTER,
    "example-drop",
    "0.1.0",
    "Drops records whose message contains a text (example in C)",
    SL_CAP_NONE,
    &VTABLE,
};

const SlPluginDescriptor *syslane_plugin_descriptor(void) {
    return &DESCRIPTOR;
}
