/* Secrets test fixture "UsesSecret": a well-behaved plugin that signs in to a remote system with a password from
 * the manifest (config "password": "env:NAME", resolved through the host's `secret` service) and then fails the
 * way real connectors do — the remote refuses the sign-in — after logging and rejecting a record. The tests check
 * that the host never lets the resolved value out: not in logs, run errors, run logs, rejects or the REST API.
 * It logs the password's LENGTH, so a test can tell the secret was resolved without the value appearing; and then,
 * like a careless connector, it also puts the value itself in a log line, a reject and its error message, which
 * the host must mask. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_plugin.h"

static const wharf_host_api *secret_host;

typedef struct {
    char *password; /* owned; a real connector would send it to the remote system */
} secret_instance;

static wharf_status secret_create(const wharf_host_api *host, wharf_context *ctx, void **out_instance) {
    secret_host = host;
    const char *reference = host->config_string(ctx, "password");
    if (reference == NULL) {
        host->set_error(ctx, "config key \"password\" is required: write it as \"env:NAME\"");
        return WHARF_ERR_INVALID;
    }
    const char *value = host->secret(ctx, reference);
    if (value == NULL) return WHARF_ERR_INVALID; /* the host has set the error: it names the variable */
    secret_instance *instance = calloc(1, sizeof(secret_instance));
    if (instance == NULL) return WHARF_ERR_INTERNAL;
    instance->password = strdup(value);
    *out_instance = instance;
    return WHARF_OK;
}

static void secret_destroy(void *raw) {
    secret_instance *instance = raw;
    if (instance == NULL) return;
    free(instance->password);
    free(instance);
}

static wharf_status secret_ingest(void *raw, wharf_context *ctx) {
    secret_instance *instance = raw;
    char line[160];
    secret_host->log(ctx, WHARF_LOG_INFO, "signing in to the remote system as user 'wharf'");
    snprintf(line, sizeof line, "sending credentials (a password of %zu bytes)", strlen(instance->password));
    secret_host->log(ctx, WHARF_LOG_DEBUG, line);
    snprintf(line, sizeof line, "careless debug line: password=%s", instance->password);
    secret_host->log(ctx, WHARF_LOG_DEBUG, line);
    char raw_response[200];
    snprintf(raw_response, sizeof raw_response, "<login user='wharf' password='%s' status='refused'/>", instance->password);
    char reason[200];
    snprintf(reason, sizeof reason, "the sign-in response to password %s could not be read", instance->password);
    wharf_reject reject = {
        .struct_size = sizeof(wharf_reject),
        .location = {.struct_size = sizeof(wharf_location), .source = "remote", .line = 1},
        .field = "login", .reason = reason,
        .raw = raw_response, .raw_len = strlen(raw_response),
    };
    secret_host->reject(ctx, &reject);
    char error[300];
    snprintf(error, sizeof error, "the remote system refused the credentials (HTTP 401) for password %s; check the "
                                  "password in the environment variable that config \"password\" names", instance->password);
    secret_host->set_error(ctx, error);
    return WHARF_ERR_REMOTE;
}

static const wharf_plugin_descriptor descriptor = {
    .struct_size = sizeof(wharf_plugin_descriptor), .abi_major = WHARF_ABI_MAJOR, .abi_minor = WHARF_ABI_MINOR,
    .id = "fixture-uses-secret", .system_kind = "erp", .version = "1.0.0",
    .description = "test fixture: signs in with a secret from the environment, then fails", .capabilities = WHARF_CAP_INGEST,
    .create = secret_create, .destroy = secret_destroy, .ingest = secret_ingest,
};
FIXTURE_ENTRY(descriptor)
