/*
 * stock-csv — stock levels from a CSV file, as an ERP exports them. Written in plain C on purpose: it is the proof
 * that the Wharf plugin ABI (wharf_plugin.h) is C for real, with no Swift and no host library involved.
 *
 * Config (from the manifest's connector `config`):
 *   path        required  the CSV file (a relative path is resolved by the host, against the manifest's folder)
 *   delimiter   optional  one character (default ","; "tab" or "\t" for tab)
 *   source      optional  a fixed source (warehouse) code, used when the file has no source column
 *   force       optional  true to read the file even when it is unchanged since the last run
 *   batch_size  optional  records per emit, 1..10000 (default 1000)
 * Mapping (a flat JSON object of strings, all optional): {"sku": "Item", "source": "Warehouse", "quantity": "Qty"}
 *   names the header columns of the three stock fields (defaults "sku", "source", "quantity").
 *
 * The first non-empty row is the header. Fields may be quoted ("a ""quoted"" field", with delimiters and line
 * breaks inside); lines may end in LF or CRLF; a UTF-8 byte order mark is skipped; spaces around unquoted fields are
 * trimmed. A row with the wrong number of columns (or a broken quote) is rejected with its line number; blank lines
 * are skipped. Records go to the host in batches via `emit`; `is_cancelled` is checked before each batch; the cursor
 * (a fingerprint of the file: size, modification time, inode, path) moves with the final batch, and a file whose
 * fingerprint equals the stored cursor is skipped with a log line unless `force` is true.
 *
 * Memory: the instance owns copies of its configuration; ingest frees everything it allocates on every path.
 * No global mutable state: the descriptor is the only global and it is const.
 */
#define _GNU_SOURCE
#include "wharf_plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STOCK_CSV_DEFAULT_BATCH 1000
#define STOCK_CSV_MAX_BATCH 10000
#define STOCK_CSV_RAW_LIMIT 1024
#define STOCK_CSV_READ_CHUNK 65536
#define STOCK_CSV_MESSAGE 1024

/* ============================================================================================================= */
/* Small helpers                                                                                                 */
/* ============================================================================================================= */

/* A growable byte buffer. */
typedef struct byte_buffer {
    char *data;
    size_t len;
    size_t cap;
} byte_buffer;

static int buffer_reserve(byte_buffer *b, size_t extra) {
    if (b->len + extra <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) return 0;
    b->data = data;
    b->cap = cap;
    return 1;
}

static int buffer_append(byte_buffer *b, const char *bytes, size_t count) {
    if (!buffer_reserve(b, count)) return 0;
    if (count) memcpy(b->data + b->len, bytes, count);
    b->len += count;
    return 1;
}

static int buffer_push(byte_buffer *b, char c) {
    if (b->len == b->cap && !buffer_reserve(b, 1)) return 0;
    b->data[b->len++] = c;
    return 1;
}

static void buffer_free(byte_buffer *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Explains a failure through the host, printf-style. */
static void fail(const wharf_host_api *host, wharf_context *ctx, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(const wharf_host_api *host, wharf_context *ctx, const char *format, ...) {
    char message[STOCK_CSV_MESSAGE];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    host->set_error(ctx, message);
}

static void logf_(const wharf_host_api *host, wharf_context *ctx, wharf_log_level level, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static void logf_(const wharf_host_api *host, wharf_context *ctx, wharf_log_level level, const char *format, ...) {
    char message[STOCK_CSV_MESSAGE];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    host->log(ctx, level, message);
}

static char *copy_string(const char *text) {
    if (!text) return NULL;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy) memcpy(copy, text, len + 1);
    return copy;
}

/* ============================================================================================================= */
/* The mapping: a strict parser for a flat JSON object of strings                                                */
/* ============================================================================================================= */

static const char *skip_json_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *p, unsigned *out) {
    unsigned value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(p[i]);
        if (digit < 0) return 0;
        value = value << 4 | (unsigned)digit;
    }
    *out = value;
    return 1;
}

static size_t put_utf8(char *out, unsigned scalar) {
    if (scalar < 0x80) {
        out[0] = (char)scalar;
        return 1;
    }
    if (scalar < 0x800) {
        out[0] = (char)(0xC0 | scalar >> 6);
        out[1] = (char)(0x80 | (scalar & 0x3F));
        return 2;
    }
    if (scalar < 0x10000) {
        out[0] = (char)(0xE0 | scalar >> 12);
        out[1] = (char)(0x80 | (scalar >> 6 & 0x3F));
        out[2] = (char)(0x80 | (scalar & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | scalar >> 18);
    out[1] = (char)(0x80 | (scalar >> 12 & 0x3F));
    out[2] = (char)(0x80 | (scalar >> 6 & 0x3F));
    out[3] = (char)(0x80 | (scalar & 0x3F));
    return 4;
}

/* Reads a JSON string at *p (which points at the opening quote) into a new allocation; advances *p past it.
 * Returns NULL with *error set on malformed input (or NULL with *error NULL when out of memory). */
static char *read_json_string(const char **p, const char **error) {
    const char *s = *p + 1;
    const char *end = s;
    while (*end && *end != '"') {
        if (*end == '\\' && end[1]) end++;
        end++;
    }
    if (*end != '"') {
        *error = "a string is not closed";
        return NULL;
    }
    /* Escapes only shrink text (\uXXXX is 6 bytes for at most 3; a surrogate pair is 12 for 4). */
    char *out = malloc((size_t)(end - s) + 1);
    if (!out) {
        *error = NULL;
        return NULL;
    }
    size_t n = 0;
    while (s < end) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20) {
            *error = "a string contains a control character";
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            s++;
            continue;
        }
        s++;
        switch (*s) {
        case '"': out[n++] = '"'; s++; break;
        case '\\': out[n++] = '\\'; s++; break;
        case '/': out[n++] = '/'; s++; break;
        case 'b': out[n++] = '\b'; s++; break;
        case 'f': out[n++] = '\f'; s++; break;
        case 'n': out[n++] = '\n'; s++; break;
        case 'r': out[n++] = '\r'; s++; break;
        case 't': out[n++] = '\t'; s++; break;
        case 'u': {
            unsigned scalar, low;
            if (end - s < 5 || !read_hex4(s + 1, &scalar)) {
                *error = "a \\u escape needs four hex digits";
                free(out);
                return NULL;
            }
            s += 5;
            if (scalar >= 0xD800 && scalar <= 0xDBFF) {
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || !read_hex4(s + 2, &low) || low < 0xDC00 ||
                    low > 0xDFFF) {
                    *error = "a \\u escape has an unpaired surrogate";
                    free(out);
                    return NULL;
                }
                s += 6;
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00);
            } else if (scalar >= 0xDC00 && scalar <= 0xDFFF) {
                *error = "a \\u escape has an unpaired surrogate";
                free(out);
                return NULL;
            }
            n += put_utf8(out + n, scalar);
            break;
        }
        default:
            *error = "a string has an invalid escape";
            free(out);
            return NULL;
        }
    }
    out[n] = '\0';
    *p = end + 1;
    return out;
}

typedef struct column_mapping {
    char *sku;
    char *source;
    char *quantity;
} column_mapping;

static void mapping_free(column_mapping *m) {
    free(m->sku);
    free(m->source);
    free(m->quantity);
    m->sku = m->source = m->quantity = NULL;
}

/* Parses `{"sku": "Item", ...}` into `m` (unset keys keep their defaults). Returns WHARF_OK or sets the error. */
static wharf_status parse_mapping(const wharf_host_api *host, wharf_context *ctx, const char *json, column_mapping *m) {
    const char *p = skip_json_space(json);
    const char *error = NULL;
    char *key = NULL, *value = NULL;
    if (*p != '{') {
        error = "it must be a JSON object";
        goto bad;
    }
    p = skip_json_space(p + 1);
    if (*p == '}') {
        p = skip_json_space(p + 1);
        if (*p) {
            error = "there is text after the object";
            goto bad;
        }
        return WHARF_OK;
    }
    for (;;) {
        if (*p != '"') {
            error = "expected a quoted key";
            goto bad;
        }
        key = read_json_string(&p, &error);
        if (!key) goto bad;
        p = skip_json_space(p);
        if (*p != ':') {
            error = "expected ':' after a key";
            goto bad;
        }
        p = skip_json_space(p + 1);
        if (*p != '"') {
            fail(host, ctx,
                 "mapping.%s must be a column name string (stock-csv maps sku, source and quantity to CSV header "
                 "columns, e.g. {\"sku\": \"Item\", \"source\": \"Warehouse\", \"quantity\": \"Qty\"})",
                 key);
            free(key);
            return WHARF_ERR_INVALID;
        }
        value = read_json_string(&p, &error);
        if (!value) goto bad;
        char **slot = NULL;
        if (strcmp(key, "sku") == 0) slot = &m->sku;
        else if (strcmp(key, "source") == 0) slot = &m->source;
        else if (strcmp(key, "quantity") == 0) slot = &m->quantity;
        if (!slot) {
            fail(host, ctx, "mapping.%s is not known to stock-csv; use sku, source and quantity", key);
            free(key);
            free(value);
            return WHARF_ERR_INVALID;
        }
        if (value[0] == '\0') {
            fail(host, ctx, "mapping.%s is empty; give the name of a CSV header column", key);
            free(key);
            free(value);
            return WHARF_ERR_INVALID;
        }
        free(*slot);
        *slot = value;
        value = NULL;
        free(key);
        key = NULL;
        p = skip_json_space(p);
        if (*p == ',') {
            p = skip_json_space(p + 1);
            continue;
        }
        if (*p == '}') {
            p = skip_json_space(p + 1);
            if (*p) {
                error = "there is text after the object";
                goto bad;
            }
            return WHARF_OK;
        }
        error = "expected ',' or '}' after a value";
        goto bad;
    }
bad:
    free(key);
    free(value);
    if (!error) {
        fail(host, ctx, "out of memory while reading the mapping");
        return WHARF_ERR_INTERNAL;
    }
    fail(host, ctx, "the mapping is not a flat JSON object of column names (%s, at byte %ld); write it like "
                    "{\"sku\": \"Item\", \"source\": \"Warehouse\", \"quantity\": \"Qty\"}",
         error, (long)(p - json) + 1);
    return WHARF_ERR_INVALID;
}

/* ============================================================================================================= */
/* The instance                                                                                                  */
/* ============================================================================================================= */

typedef struct stock_csv {
    const wharf_host_api *host;
    char *path;
    char delimiter;
    char *fixed_source; /* NULL when the file must have a source column */
    int force;
    size_t batch_size;
    column_mapping columns;
} stock_csv;

static void stock_csv_destroy(void *instance) {
    stock_csv *self = instance;
    if (!self) return;
    free(self->path);
    free(self->fixed_source);
    mapping_free(&self->columns);
    free(self);
}

static wharf_status stock_csv_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    *out_instance = NULL;
    stock_csv *self = calloc(1, sizeof *self);
    if (!self) {
        fail(host, ctx, "out of memory");
        return WHARF_ERR_INTERNAL;
    }
    self->host = host;
    self->delimiter = ',';
    self->batch_size = STOCK_CSV_DEFAULT_BATCH;

    const char *path = host->config_string(ctx, "path");
    if (!path || !path[0]) {
        fail(host, ctx, "config key \"path\" is required: set it to the stock CSV file to read");
        goto invalid;
    }
    const char *delimiter = host->config_string(ctx, "delimiter");
    if (delimiter) {
        if (strcmp(delimiter, "tab") == 0 || strcmp(delimiter, "\\t") == 0) {
            self->delimiter = '\t';
        } else if (strlen(delimiter) == 1 && delimiter[0] != '"' && delimiter[0] != '\n' && delimiter[0] != '\r') {
            self->delimiter = delimiter[0];
        } else {
            fail(host, ctx, "config key \"delimiter\" must be one character such as \",\", \";\" or \"tab\", not \"%s\"",
                 delimiter);
            goto invalid;
        }
    }
    const char *force = host->config_string(ctx, "force");
    if (force) {
        if (strcmp(force, "true") == 0) self->force = 1;
        else if (strcmp(force, "false") != 0) {
            fail(host, ctx, "config key \"force\" must be true or false, not \"%s\"", force);
            goto invalid;
        }
    }
    const char *batch = host->config_string(ctx, "batch_size");
    if (batch) {
        char *end = NULL;
        errno = 0;
        long value = strtol(batch, &end, 10);
        if (errno || !end || *end || value < 1 || value > STOCK_CSV_MAX_BATCH) {
            fail(host, ctx, "config key \"batch_size\" must be a whole number from 1 to %d, not \"%s\"",
                 STOCK_CSV_MAX_BATCH, batch);
            goto invalid;
        }
        self->batch_size = (size_t)value;
    }
    const char *source = host->config_string(ctx, "source");
    if (source && !source[0]) {
        fail(host, ctx, "config key \"source\" is empty; give a source (warehouse) code or leave it out");
        goto invalid;
    }
    /* resolve_path was appended to the host table after get_extension: use it only when this host has it. */
    if (host->struct_size >= offsetof(wharf_host_api, resolve_path) + sizeof host->resolve_path && host->resolve_path) {
        const char *resolved = host->resolve_path(ctx, path);
        if (resolved) path = resolved;
    }
    self->path = copy_string(path);
    self->fixed_source = source ? copy_string(source) : NULL;
    if (!self->path || (source && !self->fixed_source)) goto oom;

    wharf_status status = parse_mapping(host, ctx, host->mapping_json(ctx), &self->columns);
    if (status != WHARF_OK) {
        stock_csv_destroy(self);
        return status;
    }
    if (!self->columns.sku) self->columns.sku = copy_string("sku");
    if (!self->columns.source) self->columns.source = copy_string("source");
    if (!self->columns.quantity) self->columns.quantity = copy_string("quantity");
    if (!self->columns.sku || !self->columns.source || !self->columns.quantity) goto oom;

    *out_instance = self;
    return WHARF_OK;

invalid:
    stock_csv_destroy(self);
    return WHARF_ERR_INVALID;
oom:
    stock_csv_destroy(self);
    fail(host, ctx, "out of memory");
    return WHARF_ERR_INTERNAL;
}

/* ============================================================================================================= */
/* CSV reading                                                                                                   */
/* ============================================================================================================= */

typedef struct csv_reader {
    int fd;
    char delimiter;
    unsigned char *chunk;
    size_t chunk_len;
    size_t chunk_pos;
    int eof;
    int started;      /* the BOM check ran */
    uint64_t line;    /* current physical line, 1-based */
    int read_errno;   /* set when read(2) failed */

    /* The current record. */
    uint64_t record_line;
    byte_buffer fields;  /* each field's bytes followed by NUL */
    size_t *starts;      /* offsets of the fields in `fields` */
    size_t field_count;
    size_t starts_cap;
    byte_buffer raw;     /* up to STOCK_CSV_RAW_LIMIT bytes of the record's text */
    const char *malformed;  /* why the record is broken, or NULL */
} csv_reader;

/* The next input byte, or -1 at the end of the file (or on a read error: see read_errno). */
static int csv_peek(csv_reader *r) {
    if (r->chunk_pos < r->chunk_len) return r->chunk[r->chunk_pos];
    if (r->eof) return -1;
    for (;;) {
        ssize_t n = read(r->fd, r->chunk, STOCK_CSV_READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r->read_errno = errno;
            r->eof = 1;
            return -1;
        }
        if (n == 0) {
            r->eof = 1;
            return -1;
        }
        r->chunk_len = (size_t)n;
        r->chunk_pos = 0;
        return r->chunk[0];
    }
}

static int csv_next(csv_reader *r) {
    int c = csv_peek(r);
    if (c >= 0) {
        r->chunk_pos++;
        /* A failed push only shortens the excerpt. */
        if (r->raw.len < STOCK_CSV_RAW_LIMIT) (void)buffer_push(&r->raw, (char)c);
        if (c == '\n') r->line++;
    }
    return c;
}

static int csv_end_field(csv_reader *r, size_t start, int quoted) {
    /* Trim spaces after an unquoted field (leading ones were skipped before it began). */
    if (!quoted && r->delimiter != ' ') {
        while (r->fields.len > start && r->fields.data[r->fields.len - 1] == ' ') r->fields.len--;
    }
    if (!buffer_push(&r->fields, '\0')) return 0;
    if (r->field_count == r->starts_cap) {
        size_t cap = r->starts_cap ? r->starts_cap * 2 : 16;
        size_t *starts = realloc(r->starts, cap * sizeof *starts);
        if (!starts) return 0;
        r->starts = starts;
        r->starts_cap = cap;
    }
    r->starts[r->field_count++] = start;
    return 1;
}

/* Reads one record (see csv_read_record). */
static int csv_read_record_text(csv_reader *r) {
    r->fields.len = 0;
    r->field_count = 0;
    r->raw.len = 0;
    r->malformed = NULL;
    if (!r->started) {
        r->started = 1;
        /* Skip a UTF-8 byte order mark. The first chunk holds at least 3 bytes unless the file is shorter. */
        if (csv_peek(r) == 0xEF && r->chunk_len - r->chunk_pos >= 3 && r->chunk[r->chunk_pos + 1] == 0xBB &&
            r->chunk[r->chunk_pos + 2] == 0xBF) {
            r->chunk_pos += 3;
        }
    }
    if (csv_peek(r) < 0) return r->read_errno ? -1 : 0;
    r->record_line = r->line;

    for (;;) {
        /* Start of a field. */
        size_t start = r->fields.len;
        int c = csv_peek(r);
        while (c == ' ' && r->delimiter != ' ') {
            csv_next(r);
            c = csv_peek(r);
        }
        if (c == '"') {
            csv_next(r);
            for (;;) {
                c = csv_next(r);
                if (c < 0) {
                    if (r->read_errno) return -1;
                    r->malformed = "a quoted field is not closed before the end of the file";
                    break;
                }
                if (c == '"') {
                    if (csv_peek(r) == '"') {
                        csv_next(r);
                        if (!buffer_push(&r->fields, '"')) return -1;
                        continue;
                    }
                    break;
                }
                if (!buffer_push(&r->fields, (char)c)) return -1;
            }
            if (!csv_end_field(r, start, 1)) return -1;
            if (r->malformed) return 1;
            /* After the closing quote: spaces, then a delimiter or the end of the record. */
            c = csv_peek(r);
            while (c == ' ' && r->delimiter != ' ') {
                csv_next(r);
                c = csv_peek(r);
            }
            if (c == r->delimiter) {
                csv_next(r);
                continue;
            }
            if (c == '\r') {
                csv_next(r);
                c = csv_peek(r);
            }
            if (c == '\n' || c < 0) {
                if (c == '\n') csv_next(r);
                if (c < 0 && r->read_errno) return -1;
                return 1;
            }
            r->malformed = "unexpected text after a closing quote (a quote inside a quoted field is written \"\")";
            /* Skip the rest of the line. */
            while ((c = csv_next(r)) >= 0 && c != '\n') {
            }
            if (c < 0 && r->read_errno) return -1;
            return 1;
        }
        /* An unquoted field: up to the delimiter or the end of the line. */
        for (;;) {
            c = csv_peek(r);
            if (c < 0) {
                if (r->read_errno) return -1;
                if (!csv_end_field(r, start, 0)) return -1;
                return 1;
            }
            if (c == r->delimiter) {
                csv_next(r);
                if (!csv_end_field(r, start, 0)) return -1;
                break;
            }
            if (c == '\n' || c == '\r') {
                csv_next(r);
                if (c == '\r' && csv_peek(r) == '\n') csv_next(r);
                if (!csv_end_field(r, start, 0)) return -1;
                return 1;
            }
            csv_next(r);
            if (!buffer_push(&r->fields, (char)c)) return -1;
        }
    }
}

/* Reads one record. Returns 1 (a record; check r->malformed), 0 at the end of the file, -1 on a read error or when
 * out of memory (read_errno tells which). `raw` holds the record's text without its final line ending. */
static int csv_read_record(csv_reader *r) {
    int got = csv_read_record_text(r);
    if (got == 1) {
        while (r->raw.len && (r->raw.data[r->raw.len - 1] == '\n' || r->raw.data[r->raw.len - 1] == '\r')) r->raw.len--;
    }
    return got;
}

static const char *csv_field(const csv_reader *r, size_t index) { return r->fields.data + r->starts[index]; }

/* A blank line: nothing but spaces or tabs. */
static int csv_blank(const csv_reader *r) {
    if (r->field_count != 1 || csv_field(r, 0)[0] != '\0') return 0;
    for (size_t i = 0; i < r->raw.len; i++) {
        if (r->raw.data[i] != ' ' && r->raw.data[i] != '\t') return 0;
    }
    return 1;
}

static void csv_free(csv_reader *r) {
    free(r->chunk);
    buffer_free(&r->fields);
    buffer_free(&r->raw);
    free(r->starts);
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
}

/* ============================================================================================================= */
/* Batching and ingest                                                                                           */
/* ============================================================================================================= */

/* One stock row waiting in the batch: offsets into the batch arena (pointers are made at emit time, because the
 * arena may move while it grows). */
typedef struct pending_row {
    size_t sku, sku_len;
    size_t source, source_len; /* source == SIZE_MAX: the configured fixed source */
    size_t quantity, quantity_len;
    size_t raw, raw_len;
    uint64_t line, record_number;
} pending_row;

typedef struct batch {
    byte_buffer arena;
    pending_row *rows;
    size_t count;
    wharf_record *records;
    wharf_field *fields;
    uint64_t emitted;
    wharf_emit_counts totals;
} batch;

static void batch_free(batch *b) {
    buffer_free(&b->arena);
    free(b->rows);
    free(b->records);
    free(b->fields);
}

static size_t arena_add(batch *b, const char *text, size_t len, int *ok) {
    size_t at = b->arena.len;
    if (!buffer_append(&b->arena, text, len) || !buffer_push(&b->arena, '\0')) *ok = 0;
    return at;
}

/* Emits the pending rows (possibly none) with `cursor` (NULL for an intermediate batch). */
static wharf_status batch_flush(const stock_csv *self, wharf_context *ctx, batch *b, const char *cursor) {
    const wharf_host_api *host = self->host;
    if (host->is_cancelled(ctx)) {
        fail(host, ctx, "the run was cancelled after %llu stock records had been handed over",
             (unsigned long long)b->emitted);
        return WHARF_ERR_CANCELLED;
    }
    for (size_t i = 0; i < b->count; i++) {
        const pending_row *row = &b->rows[i];
        wharf_field *f = &b->fields[i * 3];
        f[0] = (wharf_field){"sku", b->arena.data + row->sku, row->sku_len};
        if (row->source == SIZE_MAX) f[1] = (wharf_field){"source", self->fixed_source, strlen(self->fixed_source)};
        else f[1] = (wharf_field){"source", b->arena.data + row->source, row->source_len};
        f[2] = (wharf_field){"quantity", b->arena.data + row->quantity, row->quantity_len};
        wharf_record *record = &b->records[i];
        memset(record, 0, sizeof *record);
        record->struct_size = sizeof(wharf_record);
        record->field_count = 3;
        record->entity = "stock";
        record->fields = f;
        record->location.struct_size = sizeof(wharf_location);
        record->location.source = self->path;
        record->location.line = row->line;
        record->location.record_number = row->record_number;
        record->raw = b->arena.data + row->raw;
        record->raw_len = row->raw_len;
    }
    wharf_emit_counts counts;
    memset(&counts, 0, sizeof counts);
    counts.struct_size = sizeof counts;
    wharf_status status = host->emit(ctx, b->records, b->count, cursor, &counts);
    if (status != WHARF_OK) {
        if (status == WHARF_ERR_CANCELLED)
            fail(host, ctx, "the run was cancelled; the last batch of %zu stock records was not kept", b->count);
        else
            fail(host, ctx, "the host could not store a batch of %zu stock records from %s (status %d)", b->count,
                 self->path, (int)status);
        return status;
    }
    b->emitted += b->count;
    b->totals.inserted += counts.inserted;
    b->totals.updated += counts.updated;
    b->totals.unchanged += counts.unchanged;
    b->totals.rejected += counts.rejected;
    b->count = 0;
    b->arena.len = 0;
    return WHARF_OK;
}

static wharf_status reject_row(const stock_csv *self, wharf_context *ctx, const csv_reader *r,
                               uint64_t record_number, const char *reason) {
    wharf_reject reject;
    memset(&reject, 0, sizeof reject);
    reject.struct_size = sizeof reject;
    reject.location.struct_size = sizeof reject.location;
    reject.location.source = self->path;
    reject.location.line = r->record_line;
    reject.location.record_number = record_number;
    reject.field = NULL;
    reject.reason = reason;
    reject.raw = r->raw.data;
    reject.raw_len = r->raw.len;
    return self->host->reject(ctx, &reject);
}

static long find_column(const csv_reader *r, const char *name) {
    for (size_t i = 0; i < r->field_count; i++) {
        if (strcmp(csv_field(r, i), name) == 0) return (long)i;
    }
    return -1;
}

/* "Item, Warehouse, Qty" for messages. */
static void describe_header(const csv_reader *r, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->field_count && used + 1 < size; i++) {
        int n = snprintf(out + used, size - used, "%s\"%s\"", i ? ", " : "", csv_field(r, i));
        if (n < 0) break;
        used += (size_t)n;
    }
}

static wharf_status stock_csv_ingest(void *instance, wharf_context *ctx) {
    stock_csv *self = instance;
    const wharf_host_api *host = self->host;
    wharf_status status = WHARF_OK;
    csv_reader r;
    batch b;
    memset(&r, 0, sizeof r);
    memset(&b, 0, sizeof b);
    r.fd = -1;
    r.line = 1;
    r.delimiter = self->delimiter;

    r.fd = open(self->path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) {
        fail(host, ctx, "cannot open stock file %s (config key \"path\"): %s; check that the file exists and is readable",
             self->path, strerror(errno));
        return WHARF_ERR_IO;
    }
    struct stat st;
    if (fstat(r.fd, &st) != 0) {
        fail(host, ctx, "cannot read stock file %s (config key \"path\"): %s", self->path, strerror(errno));
        csv_free(&r);
        return WHARF_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(host, ctx, "stock file %s (config key \"path\") is %s; point \"path\" at a CSV file", self->path,
             S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        csv_free(&r);
        return WHARF_ERR_IO;
    }

    /* The cursor: a fingerprint of the exact file opened (same format as WharfPluginKit's FileFacts). */
    char *cursor = NULL;
    if (asprintf(&cursor, "file:v1 size=%lld mtime_ns=%lld inode=%llu path=%s", (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec * 1000000000LL + (long long)st.st_mtim.tv_nsec,
                 (unsigned long long)st.st_ino, self->path) < 0) {
        cursor = NULL;
        fail(host, ctx, "out of memory");
        csv_free(&r);
        return WHARF_ERR_INTERNAL;
    }
    const char *stored = host->cursor_get(ctx);
    if (!self->force && stored && strcmp(stored, cursor) == 0) {
        logf_(host, ctx, WHARF_LOG_INFO,
              "stock file %s is unchanged since the last run; skipped (set config \"force\": true to read it again)",
              self->path);
        free(cursor);
        csv_free(&r);
        return WHARF_OK;
    }

    r.chunk = malloc(STOCK_CSV_READ_CHUNK);
    b.rows = malloc(self->batch_size * sizeof *b.rows);
    b.records = malloc(self->batch_size * sizeof *b.records);
    b.fields = malloc(self->batch_size * 3 * sizeof *b.fields);
    if (!r.chunk || !b.rows || !b.records || !b.fields) goto oom;

    /* The header: the first non-blank record. */
    int got;
    do {
        got = csv_read_record(&r);
    } while (got == 1 && csv_blank(&r) && !r.malformed);
    if (got < 0) goto read_failed;
    if (got == 0) {
        fail(host, ctx, "stock file %s is empty; it needs a header row naming the columns %s and %s", self->path,
             self->columns.sku, self->columns.quantity);
        status = WHARF_ERR_INVALID;
        goto done;
    }
    if (r.malformed) {
        fail(host, ctx, "the header row of %s (line %llu) is malformed: %s", self->path,
             (unsigned long long)r.record_line, r.malformed);
        status = WHARF_ERR_INVALID;
        goto done;
    }
    size_t columns = r.field_count;
    long sku_column = find_column(&r, self->columns.sku);
    long quantity_column = find_column(&r, self->columns.quantity);
    long source_column = find_column(&r, self->columns.source);
    const char *missing = sku_column < 0 ? self->columns.sku : quantity_column < 0 ? self->columns.quantity : NULL;
    const char *missing_key = sku_column < 0 ? "mapping.sku" : "mapping.quantity";
    if (!missing && source_column < 0 && !self->fixed_source) {
        missing = self->columns.source;
        missing_key = "mapping.source";
    }
    if (missing) {
        char header[512];
        describe_header(&r, header, sizeof header);
        fail(host, ctx, "the header of %s (line %llu) has no column \"%s\" (%s); its columns are %s%s; fix %s%s",
             self->path, (unsigned long long)r.record_line, missing, missing_key, header,
             r.field_count == 1 ? " (a single column: check config \"delimiter\")" : "", missing_key,
             strcmp(missing_key, "mapping.source") == 0 ? " or set config \"source\" to a fixed source code" : "");
        status = WHARF_ERR_INVALID;
        goto done;
    }

    uint64_t record_number = 0, rows = 0, rejected = 0;
    for (;;) {
        got = csv_read_record(&r);
        if (got < 0) goto read_failed;
        if (got == 0) break;
        if (csv_blank(&r) && !r.malformed) continue;
        record_number++;
        char reason[256];
        if (r.malformed) {
            snprintf(reason, sizeof reason, "line %llu: %s", (unsigned long long)r.record_line, r.malformed);
        } else if (r.field_count != columns) {
            snprintf(reason, sizeof reason,
                     "line %llu has %zu columns but the header has %zu; check the delimiter and the quoting",
                     (unsigned long long)r.record_line, r.field_count, columns);
        } else {
            reason[0] = '\0';
        }
        if (reason[0]) {
            rejected++;
            status = reject_row(self, ctx, &r, record_number, reason);
            if (status != WHARF_OK) {
                fail(host, ctx, "the host could not store a reject for line %llu of %s (status %d)",
                     (unsigned long long)r.record_line, self->path, (int)status);
                goto done;
            }
            continue;
        }
        if (b.count == self->batch_size) {
            status = batch_flush(self, ctx, &b, NULL);
            if (status != WHARF_OK) goto done;
        }
        int ok = 1;
        pending_row *row = &b.rows[b.count];
        const char *sku = csv_field(&r, (size_t)sku_column);
        const char *quantity = csv_field(&r, (size_t)quantity_column);
        row->sku_len = strlen(sku);
        row->sku = arena_add(&b, sku, row->sku_len, &ok);
        if (source_column >= 0) {
            const char *source = csv_field(&r, (size_t)source_column);
            row->source_len = strlen(source);
            row->source = arena_add(&b, source, row->source_len, &ok);
        } else {
            row->source = SIZE_MAX;
            row->source_len = 0;
        }
        row->quantity_len = strlen(quantity);
        row->quantity = arena_add(&b, quantity, row->quantity_len, &ok);
        row->raw_len = r.raw.len;
        row->raw = arena_add(&b, r.raw.data ? r.raw.data : "", r.raw.len, &ok);
        row->line = r.record_line;
        row->record_number = record_number;
        if (!ok) goto oom;
        b.count++;
        rows++;
    }
    /* The final batch carries the cursor, so the cursor never runs ahead of the data it covers. */
    status = batch_flush(self, ctx, &b, cursor);
    if (status != WHARF_OK) goto done;
    logf_(host, ctx, WHARF_LOG_INFO,
          "read %llu rows from %s: %llu stock records, %llu rejected by the plugin; host: %llu inserted, %llu updated, "
          "%llu unchanged, %llu rejected",
          (unsigned long long)record_number, self->path, (unsigned long long)rows, (unsigned long long)rejected,
          (unsigned long long)b.totals.inserted, (unsigned long long)b.totals.updated,
          (unsigned long long)b.totals.unchanged, (unsigned long long)b.totals.rejected);
    goto done;

read_failed:
    if (r.read_errno) {
        fail(host, ctx, "cannot read stock file %s after line %llu: %s", self->path, (unsigned long long)r.line,
             strerror(r.read_errno));
        status = WHARF_ERR_IO;
        goto done;
    }
oom:
    fail(host, ctx, "out of memory while reading %s", self->path);
    status = WHARF_ERR_INTERNAL;
done:
    free(cursor);
    batch_free(&b);
    csv_free(&r);
    return status;
}

/* ============================================================================================================= */
/* The descriptor and the entry point                                                                            */
/* ============================================================================================================= */

static const wharf_plugin_descriptor stock_csv_descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor),
    .abi_major = WHARF_ABI_MAJOR,
    .abi_minor = WHARF_ABI_MINOR,
    .id = "stock-csv",
    .system_kind = "erp",
    .version = "1.0.0",
    .description = "Stock levels per source from a CSV file",
    .capabilities = WHARF_CAP_INGEST,
    .create = stock_csv_create,
    .destroy = stock_csv_destroy,
    .ingest = stock_csv_ingest,
    .export_data = NULL,
    .call = NULL,
    .get_extension = NULL,
};

const wharf_plugin_descriptor *wharf_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                  const wharf_host_api *host) {
    (void)host_abi_minor; /* any 1.x host: this plugin uses only ABI 1.0 host functions */
    /* Every host function up to get_extension is used unconditionally; later ones are checked where used. */
    if (host_abi_major != WHARF_ABI_MAJOR || !host ||
        host->struct_size < offsetof(wharf_host_api, get_extension) + sizeof host->get_extension)
        return NULL;
    return &stock_csv_descriptor;
}
