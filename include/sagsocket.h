/* sagsocket.h: the C interface of libsagsocket, the socket library of
 * Sagittarius Scheme, (sagittarius socket), as a shared library.
 *
 *   cc prog.c $(pkg-config --cflags --libs sagsocket)
 *
 * Every declaration is in sagsocket_decls.h, which this header includes and
 * which FFI hosts without a C preprocessor (LuaJIT ffi.cdef, cffi cdef) read
 * directly. Read its opening comment for the conventions every function
 * follows: statuses, error objects, handles, buffers, strings, timeouts,
 * threads and interruption.
 */
#ifndef SAGSOCKET_H
#define SAGSOCKET_H

#include <stddef.h>
#include <stdint.h>

/* The version of this header: the one place it is written (the library, the
 * Makefile and the tests all read it from here). sag_version_number() and
 * sag_version_string() give the library's. What each version added is in
 * CHANGES.md. */
#define SAG_VERSION_MAJOR 1
#define SAG_VERSION_MINOR 6
#define SAG_VERSION_PATCH 0
#define SAG_VERSION_NUMBER \
    (SAG_VERSION_MAJOR * 10000 + SAG_VERSION_MINOR * 100 + SAG_VERSION_PATCH)
#define SAG_VERSION_STR_(x) #x
#define SAG_VERSION_XSTR_(x) SAG_VERSION_STR_(x)
#define SAG_VERSION_STRING                                                    \
    SAG_VERSION_XSTR_(SAG_VERSION_MAJOR) "." SAG_VERSION_XSTR_(               \
        SAG_VERSION_MINOR) "." SAG_VERSION_XSTR_(SAG_VERSION_PATCH)
/* The ABI version: the SONAME is libsagsocket.so.SAG_ABI_VERSION. */
#define SAG_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

#include "sagsocket_decls.h"

#ifdef __cplusplus
}
#endif

#endif /* SAGSOCKET_H */
