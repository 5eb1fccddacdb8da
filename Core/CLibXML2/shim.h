#ifndef WHARF_CLIBXML2_SHIM_H
#define WHARF_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian's libxml2 is built with ICU, so its encoding.h pulls in the system's <unicode/ucnv.h>. Foundation brings
 * its own copy of ICU's headers (module _FoundationICU) whose enum UErrorCode has other members, and a Swift module
 * that sees both (a plugin using libxml2 and FoundationNetworking) fails to build. Wharf never touches libxml2's
 * ICU converters (the only members this hides are two pointers at the end of xmlCharEncodingHandler, which Wharf
 * neither allocates nor reads), so the ICU part of the headers is left out. */
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#endif
