/*
 * Example output in C: appends batches to a file, and rejects for good any batch
 * holding a configured text. A conformance fixture of the output ABI (payload,
 * release callback, REJECT with a reason) and of dead-lettering.
 *
 *   [output]
 *   plugin = "example-reject"
 *   path   = "/var/tmp/out.jsonl"     (absolute)
 *   reject = "poison"
 *
 *   cc -shared -fPIC -O2 -I include plugins/examples/c-output/reject_output.c \
 *      -o libsyslane_plugin_example_reject.so
 */
#include <stddef.h>
#include "syslane_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const SlHostApi *host;
    char *path;
    char *reject;
} RejectOutput;

static void say(const SlHostApi *host, const char *message) {
    SlStr text = {(const uint8_t *)message, strlen(message)};
    host->set_error(host->host_ctx, text);
}

/* Copies the string value of "key" from a flat JSON object (no escapes). */
static char *json_string(SlStr config, const char *key) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    size_t key_len = strlen(quoted);
    const char *json = (const char *)config.ptr;
    for (size_t i = 0; config.ptr && i + key_len <= config.len; i++) {
        if (memcmp(json + i, quoted, key_len) != 0) continue;
        size_t j = i + key_len;
        while (j < config.len && (json[j] == ' ' || json[j] == ':')) j++;
        if (j >= config.len || json[j] != '"') return NULL;
        size_t start = ++j;
        while (j < config.len && json[j] != '"' && json[j] != '\\') j++;
        if (j >= config.len || json[j] != '"' || j == start) return NULL;
        char *out = malloc(j - start + 1);
        if (!out) return NULL;
        memcpy(out, json + start, j - start);
        out[j - start] = 0;
        return out;
    }
    return NULL;
}

static void reject_destroy(void *instance) {
    RejectOutput *o = instance;
    free(o->path);
    free(o->reject);
    free(o);
}

static SlStatus reject_create(const SlHostApi *host, SlStr config, void **out) {
    RejectOutput *o = calloc(1, sizeof *o);
    if (!o) {
        say(host, "example-reject: out of memory");
        return SL_ERROR;
    }
    o->host = host;
    o->path = json_string(config, "path");
    o->reject = json_string(config, "reject");
    if (!o->path || o->path[0] != '/' || !o->reject) {
        reject_destroy(o);
        say(host, "example-reject: set path = \"/absolute/file\" and reject = \"text\"");
        return SL_ERROR;
    }
    *out = o;
    return SL_OK;
}

static int contains(SlStr hay, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; hay.ptr && i + n <= hay.len; i++)
        if (memcmp(hay.ptr + i, needle, n) == 0) return 1;
    return 0;
}

static SlStatus reject_send(void *instance, const SlPayload *payload, uint64_t *retry_after_ms) {
    RejectOutput *o = instance;
    SlStatus status = SL_OK;
    (void)retry_after_ms;
    if (contains(payload->data, o->reject)) {
        say(o->host, "example-reject: the batch holds the configured reject text");
        status = SL_REJECT;
    } else {
        FILE *f = fopen(o->path, "ab");
        if (!f || fwrite(payload->data.ptr, 1, payload->data.len, f) != payload->data.len) {
            say(o->host, "example-reject: cannot append to the file; retrying");
            status = SL_RETRY;
        }
        if (f) fclose(f);
    }
    payload->release(payload->release_ctx);
    return status;
}

/* Built with -DEXAMPLE_ABI_1_0 it presents itself as a plugin of ABI 1.0, whose
 * output vtable ended before `check`: a fixture proving that older plugins load. */
#ifdef EXAMPLE_ABI_1_0
#define EXAMPLE_VTABLE_SIZE offsetof(SlOutputVtable, check)
#define EXAMPLE_MINOR 0
#else
#define EXAMPLE_VTABLE_SIZE sizeof(SlOutputVtable)
#define EXAMPLE_MINOR SL_ABI_MINOR
#endif

/* `check` (ABI 1.1) is optional: NULL means check-config has nothing more to ask.
 * So is `preferences` (ABI 1.2): NULL takes the host's batch size, with no linger. */
static const SlOutputVtable VTABLE = {
    EXAMPLE_VTABLE_SIZE, reject_create, reject_destroy, reject_send, NULL, NULL,
};

static const SlPluginDescriptor DESCRIPTOR = {
    SL_MAGIC, SL_ABI_MAJOR, EXAMPLE_MINOR, sizeof(SlPluginDescriptor), SL_KIND_OUTPUT,
    "example-reject", "0.1.0", "Appends batches to a file, rejecting those with a text (example in C)",
    SL_CAP_NONE, &VTABLE,
};

const SlPluginDescriptor *syslane_plugin_descriptor(void) {
    return &DESCRIPTOR;
}
