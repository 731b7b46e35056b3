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

/* The version of this header. sag_version_number() gives the library's. */
#define SAG_VERSION_MAJOR 1
#define SAG_VERSION_MINOR 0
#define SAG_VERSION_PATCH 0
#define SAG_VERSION_NUMBER 10000
#define SAG_VERSION_STRING "1.0.0"
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
