/*
 * mws_plugin.h: the mws plugin ABI, version 1.
 *
 * A plugin is a shared library that exports one symbol, `mws_plugin_entry`,
 * returning a pointer to a static, immutable `mws_plugin` descriptor. Data
 * crosses the boundary as bytes (UTF-8 JSON in, bytes out) with explicit
 * lengths. Whoever allocates a buffer frees it: buffers a plugin returns are
 * released by the host through the plugin's own `free_buffer`.
 *
 * See docs/plugins.md for the lifecycle, the JSON documents and the rules.
 */
#ifndef MWS_PLUGIN_H
#define MWS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define MWS_PLUGIN_ABI_VERSION 1u

/* The name of the one exported entry symbol. */
#define MWS_PLUGIN_ENTRY "mws_plugin_entry"

/* Status codes returned by render / on_event. */
#define MWS_OK 0      /* *output holds the result */
#define MWS_ERROR 1   /* *output holds a one-line UTF-8 error message (or NULL) */
#define MWS_PANIC 2   /* the plugin caught a crash of its own; *output: message */

/*
 * A call into the plugin.
 *   name/name_len:   the format (render) or event (on_event) asked for, UTF-8,
 *                    not NUL-terminated.
 *   input/input_len: a UTF-8 JSON document, not NUL-terminated.
 *   output/output_len: set by the plugin to a buffer it allocated (or NULL
 *                    and 0); the host hands it back to free_buffer.
 * Returns MWS_OK, MWS_ERROR or MWS_PANIC.
 */
typedef int32_t (*mws_call_fn)(const uint8_t *name, size_t name_len,
                               const uint8_t *input, size_t input_len,
                               uint8_t **output, size_t *output_len);

/* Frees a buffer this plugin returned, given its pointer and length. */
typedef void (*mws_free_fn)(uint8_t *ptr, size_t len);

typedef struct mws_plugin {
    uint32_t abi_version;    /* MWS_PLUGIN_ABI_VERSION */
    uint32_t struct_size;    /* sizeof(mws_plugin) */
    const char *name;        /* NUL-terminated: [a-z0-9_-], 1 to 64 bytes */
    const char *version;     /* NUL-terminated UTF-8, e.g. "1.0.0" */
    const char *formats;     /* NUL-terminated, comma-separated output formats ("" = none) */
    const char *events;      /* NUL-terminated, comma-separated events wanted ("" = none) */
    mws_call_fn render;      /* renders a format; NULL when formats is "" */
    mws_call_fn on_event;    /* handles an event; NULL when events is "" */
    mws_free_fn free_buffer; /* never NULL */
} mws_plugin;

/* The entry symbol every plugin exports. Called once, right after loading. */
const mws_plugin *mws_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* MWS_PLUGIN_H */
