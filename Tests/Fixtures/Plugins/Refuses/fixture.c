/* Loader test fixture "Refuses": its entry returns NULL, as a plugin does when it cannot work with the host's ABI. */
#include "wharf_plugin.h"

const wharf_plugin_descriptor *wharf_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                  const wharf_host_api *host) {
    (void)host_abi_major;
    (void)host_abi_minor;
    (void)host;
    return NULL;
}
