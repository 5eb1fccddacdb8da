/*
 * wharf_plugin.h — the Wharf connector plugin ABI.
 *
 * This header is the whole contract between the Wharf host and a connector plugin. A plugin author needs nothing
 * else: no host library to link, no Swift, no generated code. A plugin is a shared library (.so) that exports one
 * unmangled C function, `wharf_plugin_entry`, which returns a pointer to a const `wharf_plugin_descriptor`.
 *
 * ---------------------------------------------------------------------------------------------------------------
 * How a plugin is used
 * ---------------------------------------------------------------------------------------------------------------
 *   1. The host dlopen()s the library with RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE. It is never unloaded.
 *   2. The host calls `wharf_plugin_entry(WHARF_ABI_MAJOR, WHARF_ABI_MINOR, &host_api)` once per process.
 *   3. The host checks the descriptor's leading header (struct_size, abi_major, abi_minor) BEFORE it calls any other
 *      plugin function. A plugin whose abi_major differs from the host's is refused; a plugin with a smaller minor
 *      works (the host treats fields past its struct_size as absent).
 *   4. For each connector in the deployment's manifest that names this plugin, the host calls `create` to make an
 *      instance. The instance is configured from the manifest (config + mapping, read through the host API).
 *   5. The host calls `ingest`, `export_data` or `call` on the instance, one operation at a time per instance.
 *   6. At shutdown the host calls `destroy` for each instance.
 *
 * ---------------------------------------------------------------------------------------------------------------
 * Rules (see DESIGN.md, "The plugin ABI")
 * ---------------------------------------------------------------------------------------------------------------
 *   - Structs grow only by appending fields. Every struct passed across the boundary starts with `struct_size`,
 *     set by whoever filled it in to sizeof() as that side was compiled. A reader never touches a field that lies
 *     beyond the struct_size it was given.
 *   - Optional features are looked up by string id (`get_extension`) and may be absent (NULL).
 *   - Errors are a status code plus a message. Nothing unwinds across the boundary: no C++ exceptions, no Swift
 *     errors, no longjmp. A plugin catches every error at its edge and returns a status.
 *   - Every pointer says who owns it and how long it lives; every function says on which thread it may be called.
 *     Strings are UTF-8, NUL-terminated unless a length is given. A receiver that wants to keep a string or a
 *     buffer past the stated lifetime copies it.
 *   - Only C types cross the boundary.
 *
 * ---------------------------------------------------------------------------------------------------------------
 * Threads
 * ---------------------------------------------------------------------------------------------------------------
 *   The host calls plugin operations on host worker threads. It never runs two operations on the same instance at
 *   the same time, but consecutive operations on one instance may come from different threads, and different
 *   instances of one plugin may run concurrently on different threads. A plugin must therefore keep its state in
 *   the instance, not in globals (or guard globals itself).
 *
 *   Host API functions that take a `wharf_context *` may only be called on the thread that is running the
 *   operation that received that context, and only while that operation is running — except `log`,
 *   `is_cancelled` and the functions of extensions that say so, which may be called from any thread a plugin
 *   starts, while the operation runs.
 */
#ifndef WHARF_PLUGIN_H
#define WHARF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================================= */
/* Versions                                                                                                      */
/* ============================================================================================================= */

/** The ABI major version. Changed only for incompatible changes; host and plugin majors must be equal. */
#define WHARF_ABI_MAJOR 1
/** The ABI minor version. Grows when fields or functions are appended; older plugins keep working. */
#define WHARF_ABI_MINOR 1

/** The name of the one symbol a plugin exports. */
#define WHARF_PLUGIN_ENTRY_SYMBOL "wharf_plugin_entry"

/* ============================================================================================================= */
/* Status codes                                                                                                  */
/* ============================================================================================================= */

/**
 * Every fallible function returns a `wharf_status`. 0 is success; anything else is a failure, and the failing side
 * explains it in a message (plugins through `wharf_host_api.set_error`). Codes may be added in later minors:
 * treat an unknown non-zero code as WHARF_ERR_INTERNAL.
 */
typedef int32_t wharf_status;

#define WHARF_OK                 0  /**< Success. */
#define WHARF_ERR_INVALID        1  /**< An argument, configuration value or record is invalid. */
#define WHARF_ERR_IO             2  /**< Reading or writing a file, socket or database failed. */
#define WHARF_ERR_CANCELLED      3  /**< The run was cancelled (see `is_cancelled`); the plugin stopped early. */
#define WHARF_ERR_UNSUPPORTED    4  /**< The operation or entity is not supported by this side. */
#define WHARF_ERR_REMOTE         5  /**< The external system answered with an error. */
#define WHARF_ERR_TIMEOUT        6  /**< The external system did not answer in time. */
#define WHARF_ERR_STATE          7  /**< The function was called in a state where it is not allowed. */
#define WHARF_ERR_INTERNAL       8  /**< A bug or an unexpected condition. */

/* ============================================================================================================= */
/* Capabilities and kinds                                                                                        */
/* ============================================================================================================= */

/** The plugin implements `ingest`: it reads an external system and emits records into Wharf. */
#define WHARF_CAP_INGEST  (UINT64_C(1) << 0)
/** The plugin implements `export_data`: it reads records from Wharf and writes them to an external system. */
#define WHARF_CAP_EXPORT  (UINT64_C(1) << 1)
/** The plugin implements `call`: one real-time request/response (e.g. "verify or create this company"). */
#define WHARF_CAP_CALL    (UINT64_C(1) << 2)

/** Log levels for `wharf_host_api.log`. */
typedef enum wharf_log_level {
    WHARF_LOG_TRACE = 0,
    WHARF_LOG_DEBUG = 1,
    WHARF_LOG_INFO = 2,
    WHARF_LOG_WARNING = 3,
    WHARF_LOG_ERROR = 4
} wharf_log_level;

/* ============================================================================================================= */
/* Records                                                                                                       */
/* ============================================================================================================= */

/*
 * A record is one entity as a flat list of named string fields. The host owns the commerce model: it validates
 * each record, converts values (decimals, money, quantities, times) and upserts it. A record that fails validation
 * is rejected with its location, field and reason, stored, and counted; it never aborts the batch.
 *
 * Entities and fields in ABI 1.0 (field names are case-sensitive; unknown fields are rejected):
 *
 *   "source"   a stock source (warehouse)
 *       code         required  [A-Za-z0-9._-], 1..64
 *       name         optional  display name (defaults to code)
 *       enabled      optional  "true" / "false" (default "true")
 *
 *   "product"
 *       sku          required  1..64 characters, no control characters, no "/"
 *       name         required  1..512 characters (the default-language name)
 *       description  optional
 *       status       optional  "active" (default) or "inactive"
 *       attr.<name>  optional, repeatable: one product attribute each (e.g. "attr.color" = "red")
 *       category     optional, repeatable: the code of a category the product is in
 *       media        optional, repeatable: an image or document URL, in order
 *       name.<lang>, description.<lang>
 *                    optional: texts in a language (<lang> is a BCP 47 tag: "de", "en-GB")
 *
 *   "category" a node of the category tree (PIM)
 *       code         required  1..128 characters, no control characters
 *       name         required
 *       parent       optional  the parent category's code (absent: a root)
 *       position     optional  integer order among siblings
 *       name.<lang>  optional  the name in a language
 *
 *   "price"    a base price
 *       sku          required
 *       currency     required  ISO 4217 code ("EUR")
 *       amount       required  decimal in major units with "." ("12.50"); more fraction digits than the currency
 *                              has minor units is an error, never a silent rounding
 *       min_quantity optional  integer >= 1 (default 1): the price applies from this quantity on (a tier)
 *
 *   "stock"    an inventory source item: the quantity of a SKU at one source
 *       sku          required
 *       source       required  a source code; an unknown source is created with its code as name
 *       quantity     required  integer >= 0, may be written with a zero fraction ("10.000"). When the connector's
 *                              manifest says `inventory: { mode: "delta", delta: "relative" }` it is a signed
 *                              adjustment instead ("-3"). Whether a run is a full snapshot or a delta is the
 *                              manifest's business, not the plugin's: the same records serve both.
 *       status       optional  "in_stock" / "out_of_stock" (default: in_stock when quantity > 0)
 *
 * Later minors add entities; a host that does not know an entity rejects those records with a clear reason.
 */

/**
 * One source element (an XML record element, a line, a JSON object) a plugin maps into records, named by a digest
 * of everything its records depend on. Used with the "wharf.element-digests.v1" extension, which lets a plugin skip
 * the elements the host already holds unchanged.
 */
typedef struct wharf_element_digest {
    /** A 128-bit digest (two halves) of the element's content AND of everything else that shapes its records: the
     *  mapping, the plugin's version, document-level values the records take. Equal digests must mean equal
     *  records. Both halves zero means "no element". */
    uint64_t digest_high;
    uint64_t digest_low;
    /** 1-based position of the element in the operation (across all its files), strictly increasing. */
    uint64_t sequence;
} wharf_element_digest;

/** One named field of a record. Frozen: this struct never grows (records hold arrays of it). */
typedef struct wharf_field {
    /** Field name, NUL-terminated. Owner: the caller of `emit`; valid until `emit` returns. */
    const char *name;
    /** Field value, UTF-8, `value_len` bytes, need not be NUL-terminated. NULL with value_len 0 means "absent".
     *  Owner: the caller of `emit`; valid until `emit` returns. */
    const char *value;
    /** Length of `value` in bytes. */
    size_t value_len;
} wharf_field;

/**
 * Where a record came from, for rejects and for people reading them. All members are optional (NULL / 0).
 * Frozen: it is embedded in `wharf_record` and `wharf_reject`, so it never grows; new location details will be
 * appended to those structs instead.
 */
typedef struct wharf_location {
    /** Set to sizeof(wharf_location) by the side that filled it in (0 is accepted and means "no location"). */
    uint32_t struct_size;
    uint32_t reserved;
    /** File name, URL or other source name. Owner: caller; valid for the call it is passed to. */
    const char *source;
    /** 1-based line in the source, 0 if unknown. */
    uint64_t line;
    /** 1-based column in the source, 0 if unknown. */
    uint64_t column;
    /** 1-based number of the record in the source, 0 if unknown. */
    uint64_t record_number;
} wharf_location;

/**
 * One record handed to the host. In an array of records every element has the same `struct_size`, and the reader
 * steps through the array by that size (not by its own sizeof), so arrays stay readable across minors.
 */
typedef struct wharf_record {
    /** Set to sizeof(wharf_record) by the side that filled it in. */
    uint32_t struct_size;
    /** Number of elements in `fields`. */
    uint32_t field_count;
    /** Entity name ("product", "price", "stock", "source"). Owner: caller; valid for the call. */
    const char *entity;
    /** The fields. Owner: caller; valid for the call. */
    const wharf_field *fields;
    /** Where the record came from. Its own struct_size tells which members are present. */
    wharf_location location;
    /** An excerpt of the raw input (a line, an element), stored with a reject. Optional (NULL, 0).
     *  Owner: caller; valid for the call. The host keeps at most 1 KiB of it. */
    const char *raw;
    size_t raw_len;
    /* Appended in ABI 1.1 (a record whose struct_size ends before it has no element). */
    /** The source element this record was mapped from, when the plugin asked the host about it with the
     *  "wharf.element-digests.v1" extension (all zero otherwise): see `wharf_element_digest`. */
    wharf_element_digest element;
} wharf_record;

/** Counts of what one `emit` did. Filled in by the host. */
typedef struct wharf_emit_counts {
    /** Set by the CALLER to sizeof(wharf_emit_counts); the host fills only members that fit. */
    uint32_t struct_size;
    uint32_t reserved;
    uint64_t inserted;   /**< records that created a new row */
    uint64_t updated;    /**< records that changed an existing row */
    uint64_t unchanged;  /**< records identical to what was stored */
    uint64_t rejected;   /**< records the host refused (each stored as a reject with its reason) */
} wharf_emit_counts;

/** A rejected record reported by the plugin itself (e.g. a row it could not parse). */
typedef struct wharf_reject {
    /** Set to sizeof(wharf_reject) by the plugin. */
    uint32_t struct_size;
    uint32_t reserved;
    /** Where the bad record is. */
    wharf_location location;
    /** Field (or mapping path) at fault; NULL if the whole record is at fault. Owner: plugin; valid for the call. */
    const char *field;
    /** Why it was rejected, a sentence a person can act on. Required. Owner: plugin; valid for the call. */
    const char *reason;
    /** Raw excerpt, optional (NULL, 0). Owner: plugin; valid for the call. The host keeps at most 1 KiB. */
    const char *raw;
    size_t raw_len;
} wharf_reject;

/* ============================================================================================================= */
/* Reading records from Wharf (for exports)                                                                      */
/* ============================================================================================================= */

/** What `read_records` should read. */
typedef struct wharf_read_request {
    /** Set to sizeof(wharf_read_request) by the plugin. */
    uint32_t struct_size;
    /** Records per callback, 1..10000; 0 means the host's default (500). */
    uint32_t batch_size;
    /** Entity to read ("product", "price", "stock", "source"). Owner: plugin; valid for the call. */
    const char *entity;
    /** Read only rows changed at or after this instant (RFC 3339 UTC), or NULL for all rows.
     *  Owner: plugin; valid for the call. */
    const char *changed_since;
} wharf_read_request;

/**
 * Receives one batch of records from `read_records`. The records, their fields and all strings are owned by the
 * host and valid only until the callback returns. Each record carries the same fields as the entity's emit form
 * plus "updated_at" (RFC 3339 UTC). Called on the thread that called `read_records`. Return WHARF_OK to continue,
 * anything else to stop reading (that status is then returned by `read_records`).
 */
typedef wharf_status (*wharf_read_callback)(void *user, const wharf_record *records, size_t count);

/* ============================================================================================================= */
/* The host API                                                                                                  */
/* ============================================================================================================= */

/**
 * Opaque host context handed to `create` and to every operation. It identifies the connector (and, during an
 * operation, the run). Owner: host. Valid only for the duration of the call it was passed to: never keep it.
 */
typedef struct wharf_context wharf_context;

/**
 * The services the host offers to plugins, as a vtable. Owner: host. The pointer given to `wharf_plugin_entry`
 * stays valid for the life of the process; a plugin may keep it. All function pointers are non-NULL for the
 * members that fit in `struct_size`.
 */
typedef struct wharf_host_api {
    /** sizeof(wharf_host_api) as the host was compiled. A plugin built against a newer minor checks this before
     *  using a member appended later. */
    uint32_t struct_size;
    /** The host's ABI version. */
    uint16_t abi_major;
    uint16_t abi_minor;

    /**
     * Writes one log line for the connector (and run, during an operation). `message` is copied. Thread: any thread,
     * while the call that received `ctx` runs.
     */
    void (*log)(wharf_context *ctx, wharf_log_level level, const char *message);

    /**
     * The connector's `config` object from the manifest, as JSON text (never NULL; "{}" when absent). Secret
     * references (strings "env:NAME") appear as written: resolve them with `secret`. Owner: host; valid until the
     * call that received `ctx` returns. Thread: the calling thread.
     */
    const char *(*config_json)(wharf_context *ctx);

    /**
     * The connector's `mapping` object from the manifest, as JSON text (never NULL; "{}" when absent). Owner: host;
     * valid until the call that received `ctx` returns. Thread: the calling thread.
     */
    const char *(*mapping_json)(wharf_context *ctx);

    /**
     * One scalar value of the connector's config, by a dotted path ("files.delimiter"), rendered as text (numbers
     * and booleans as in JSON), or NULL when absent or not a scalar. Owner: host; valid until the call that
     * received `ctx` returns. Thread: the calling thread.
     */
    const char *(*config_string)(wharf_context *ctx, const char *path);

    /**
     * Resolves a secret reference ("env:NAME") to its value, or returns NULL and sets the context's error when it
     * cannot be resolved. The value must never be logged. Owner: host; valid until the call that received `ctx`
     * returns. Thread: the calling thread.
     */
    const char *(*secret)(wharf_context *ctx, const char *reference);

    /**
     * The connector's stored cursor (watermark), or NULL if none was ever stored. Owner: host; valid until the
     * operation returns. Thread: the calling thread. Only during `ingest` and `export_data`.
     */
    const char *(*cursor_get)(wharf_context *ctx);

    /**
     * Hands `count` records to the host, which validates them and upserts the valid ones in ONE transaction,
     * together with the new cursor when `cursor` is non-NULL (so a cursor never runs ahead of its data). Records
     * that fail validation are stored as rejects and counted; they do not fail the call. `count` may be 0 to move
     * only the cursor. `records` and everything they point to are owned by the plugin and only read during the call
     * (a large batch possibly by a host thread other than the caller's), so they must not change until it returns.
     * `counts` may be NULL; if not, the plugin sets counts->struct_size and the host fills it in.
     * Returns WHARF_OK, WHARF_ERR_IO (the store failed; nothing of this batch was kept), WHARF_ERR_CANCELLED (the
     * run was cancelled; nothing of this batch was kept), or WHARF_ERR_STATE (not during `ingest`).
     * Thread: the calling thread, during `ingest`.
     */
    wharf_status (*emit)(wharf_context *ctx, const wharf_record *records, size_t count, const char *cursor,
                         wharf_emit_counts *counts);

    /**
     * Reports a record the plugin itself could not use (unparseable line, missing element). It is stored with the
     * run and counted as rejected. Thread: the calling thread, during `ingest`.
     */
    wharf_status (*reject)(wharf_context *ctx, const wharf_reject *reject);

    /**
     * Non-zero when the run has been cancelled (or the host is shutting down). A plugin checks it between batches
     * and returns WHARF_ERR_CANCELLED soon after it turns non-zero. Thread: any thread, while the operation runs.
     */
    int (*is_cancelled)(wharf_context *ctx);

    /**
     * Explains the failure the plugin is about to return. `message` is copied; the last call wins. Thread: the
     * calling thread, during any call that received `ctx`.
     */
    void (*set_error)(wharf_context *ctx, const char *message);

    /**
     * Reads records of one entity from Wharf's store in batches, ordered by key, calling `callback` for each batch.
     * Returns WHARF_OK when all were read, the callback's status if it stopped early, WHARF_ERR_UNSUPPORTED for an
     * unknown entity, WHARF_ERR_IO if the store failed. Thread: the calling thread, during `export_data` or `call`.
     */
    wharf_status (*read_records)(wharf_context *ctx, const wharf_read_request *request, wharf_read_callback callback,
                                 void *user);

    /**
     * Sets the response body of a `call` (usually JSON). The bytes are copied; the last call wins. Thread: the
     * calling thread, during `call`.
     */
    wharf_status (*set_response)(wharf_context *ctx, const char *data, size_t len);

    /**
     * Looks up an optional host service by string id (e.g. "wharf.http-client.v1"). Returns NULL when the host has
     * no such service. Owner: host; the returned table lives as long as the process. Thread: any.
     */
    const void *(*get_extension)(const char *id);

    /**
     * Resolves a file path taken from the connector's config: an absolute path comes back as it is; a relative one
     * is taken relative to the folder of the deployment's manifest, so a manifest and its data files move together.
     * Returns NULL only for a NULL or empty path. Owner: host; valid until the call that received `ctx` returns.
     * Thread: the calling thread.
     */
    const char *(*resolve_path)(wharf_context *ctx, const char *path);

    /**
     * Tells the host how far the operation has come through its source, in bytes (or any unit, as long as `done`
     * and `total` agree): `done` so far of `total` (0 when the total is unknown). The host shows it as progress and
     * an estimate of the time left; calling it is optional and cheap (call it per batch, not per record).
     * Thread: the calling thread, during `ingest` or `export_data`.
     */
    void (*report_progress)(wharf_context *ctx, uint64_t done, uint64_t total);

    /* Appended for exports (ABI 1.0 hosts built before this have a smaller struct_size: check it first). */

    /**
     * Stores the connector's cursor (watermark) during `export_data`, at once and on its own. An export calls it only
     * after every file the new watermark covers is complete and renamed into place. `cursor` is copied.
     * Returns WHARF_OK, WHARF_ERR_IO, or WHARF_ERR_STATE (not during `export_data`). Thread: the calling thread.
     */
    wharf_status (*cursor_set)(wharf_context *ctx, const char *cursor);

    /**
     * Records a file the export completed (renamed into place under its final name) with the run, for the host's
     * exports API: `name` relative to the run's output, `path` absolute, its data `rows`, `bytes` and `sha256` (64
     * lower-case hex digits). Strings are copied. Returns WHARF_OK, WHARF_ERR_INVALID, WHARF_ERR_IO or
     * WHARF_ERR_STATE (not during `export_data`). Thread: the calling thread.
     */
    wharf_status (*export_file)(wharf_context *ctx, const char *name, const char *path, uint64_t rows, uint64_t bytes,
                                const char *sha256);

    /**
     * One parameter of this run as the caller asked for it (e.g. `POST /v1/exports/{connector}` with
     * {"full": true} gives "full" = "true"; "from"/"to" give a fixed range), or NULL when not given. Owner: host;
     * valid until the operation returns. Thread: the calling thread, during `ingest` or `export_data`.
     */
    const char *(*run_parameter)(wharf_context *ctx, const char *name);
} wharf_host_api;

/* ============================================================================================================= */
/* Extension "wharf.element-digests.v1": skipping unchanged source elements                                       */
/* ============================================================================================================= */
/** The id to pass to `get_extension`. */
#define WHARF_EXT_ELEMENT_DIGESTS_V1 "wharf.element-digests.v1"

/**
 * Lets an ingest skip the source elements whose records the host already holds exactly (a re-import of an
 * unchanged feed, or the unchanged part of a daily full feed) without mapping or emitting them.
 *
 * The protocol, per element, in the element order of the source:
 *   1. The plugin computes the element's `wharf_element_digest` and asks `skip_unchanged`.
 *   2. Skip: the plugin neither maps nor emits the element. The host counts the records it produced last time as
 *      unchanged and, in a full inventory snapshot, as present.
 *   3. No skip: the plugin maps the element and emits its records as usual, each with the digest in
 *      `wharf_record.element`. The host stores them and remembers the digest when all of them were stored without a
 *      reject. A plugin that rejects part of an element itself leaves `element` zero in its other records.
 *
 * The host answers "skip" only when its rows still hold exactly what that element's records wrote: any later write
 * to those rows (the REST API, another connector, another element, a snapshot's zeroing, a delete) revokes the
 * digest, as does a change of the connector's host-side settings. Never for relative inventory deltas, which must
 * apply again. Owner: host; the table lives as long as the process.
 */
typedef struct wharf_element_digests_v1 {
    /** sizeof(wharf_element_digests_v1) as the host was compiled. */
    uint32_t struct_size;
    uint32_t reserved;
    /**
     * For each of `count` elements, sets `skip[i]` to 1 when the plugin may skip it, 0 when it must map and emit
     * it. Elements are asked about in increasing `sequence`, in the order their records would be emitted.
     * Returns WHARF_OK, WHARF_ERR_INVALID (a NULL array, a zero digest, a sequence not increasing) or
     * WHARF_ERR_STATE (not during `ingest`); on an error every `skip[i]` is 0.
     * Thread: any thread, while the `ingest` that received `ctx` runs.
     */
    wharf_status (*skip_unchanged)(wharf_context *ctx, const wharf_element_digest *elements, size_t count,
                                   uint8_t *skip);
} wharf_element_digests_v1;

/* ============================================================================================================= */
/* The plugin descriptor                                                                                         */
/* ============================================================================================================= */

/**
 * What a plugin is and what it can do. Returned by `wharf_plugin_entry`. Owner: plugin; it must be static (or
 * otherwise live for the life of the process), and must not change after it is returned.
 *
 * The first three members are the version header. The host checks them before calling anything else.
 */
typedef struct wharf_plugin_descriptor {
    /** sizeof(wharf_plugin_descriptor) as the plugin was compiled. Must be at least the size of ABI 1.0's
     *  descriptor (WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE). */
    uint32_t struct_size;
    /** The ABI the plugin was built against: WHARF_ABI_MAJOR / WHARF_ABI_MINOR from this header. */
    uint16_t abi_major;
    uint16_t abi_minor;

    /** Unique plugin id: 1..64 characters of [a-z0-9-], starting with a letter ("stock-csv"). Static. */
    const char *id;
    /** The kind of system the plugin serves: "erp", "pim", "cpq", "crm", "oms", "wms", "edm", "bi", "file" or
     *  "other". Static. */
    const char *system_kind;
    /** The plugin's own version, semantic versioning ("1.2.0"). Static. */
    const char *version;
    /** One line for people ("Stock levels from CSV files"). Static; may be NULL. */
    const char *description;
    /** WHARF_CAP_* bits. Each bit set requires the matching operation below to be non-NULL. */
    uint64_t capabilities;

    /**
     * Creates an instance for one connector. The plugin reads and validates its configuration through the host
     * API (config_json, mapping_json, config_string) and stores what it needs in the instance; a bad configuration
     * is refused here with WHARF_ERR_INVALID and a message naming the config key. On success `*out_instance` is
     * set (it may be NULL if the plugin keeps no state); it is owned by the plugin until `destroy`.
     * Thread: any host thread.
     */
    wharf_status (*create)(const wharf_host_api *host, wharf_context *ctx, void **out_instance);

    /** Frees an instance made by `create`. Never called while an operation on the instance runs. Thread: any. */
    void (*destroy)(void *instance);

    /**
     * External system -> Wharf. Reads the source (files, an API) and hands records to the host with `emit`,
     * usually in batches of hundreds to thousands, moving the cursor with the batch it covers. Returns WHARF_OK,
     * or a failure explained with `set_error`. What was emitted before a failure stays committed.
     * NULL unless WHARF_CAP_INGEST. Thread: one host worker thread for the whole call.
     */
    wharf_status (*ingest)(void *instance, wharf_context *ctx);

    /**
     * Wharf -> external system. Reads from Wharf with `read_records` and writes to the destination. NULL unless
     * WHARF_CAP_EXPORT. Thread: one host worker thread for the whole call.
     */
    wharf_status (*export_data)(void *instance, wharf_context *ctx);

    /**
     * One real-time request/response. `operation` names it ("company.verify-or-create"); `request` is
     * `request_len` bytes (usually JSON). The plugin answers with `set_response`. Owner of `operation` and
     * `request`: host; valid until `call` returns. NULL unless WHARF_CAP_CALL. Thread: one host worker thread.
     */
    wharf_status (*call)(void *instance, wharf_context *ctx, const char *operation, const char *request,
                         size_t request_len);

    /**
     * Looks up an optional plugin feature by string id. May itself be NULL; may return NULL. Owner of the result:
     * plugin; lives as long as the process. Thread: any.
     */
    const void *(*get_extension)(const char *id);
} wharf_plugin_descriptor;

/** The size of ABI 1.0's descriptor: the smallest `struct_size` a host accepts. */
#define WHARF_PLUGIN_DESCRIPTOR_MIN_SIZE \
    (offsetof(wharf_plugin_descriptor, get_extension) + sizeof(((wharf_plugin_descriptor *)0)->get_extension))

/* ============================================================================================================= */
/* The entry point                                                                                               */
/* ============================================================================================================= */

/**
 * The one function a plugin exports (as "wharf_plugin_entry", unmangled, default visibility).
 *
 * `host_abi_major` / `host_abi_minor` are the host's ABI version; `host` is the host's service table (owner: host,
 * valid for the life of the process). The plugin returns its static descriptor, or NULL if it cannot work with this
 * host (for instance a major version it does not support); the host then refuses the plugin and says so.
 * The function must not do any other work: no I/O, no threads, no allocation that must be freed.
 * Called once per process, before any other function of the plugin, on one host thread (the host serializes
 * plugin loading, so no two entries run at once).
 */
typedef const wharf_plugin_descriptor *(*wharf_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                                 const wharf_host_api *host);

/** Declaration for plugins written in C: define this function in exactly one file of the plugin. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((visibility("default")))
#endif
const wharf_plugin_descriptor *wharf_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                  const wharf_host_api *host);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_PLUGIN_H */
