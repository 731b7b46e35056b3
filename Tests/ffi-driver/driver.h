/* driver.h: the libffi test driver of libsagsocket (shared declarations).
 *
 * The driver includes no header of the library. Everything it knows about the
 * library comes from the signature manifest (gen_manifest.py) read at run
 * time: function names, C types of results and parameters, parameter
 * classes, and the values of the enums (statuses, kinds, constants). Every
 * call of a library function goes through ffi_call with an ffi_cif built
 * from the manifest.
 */
#ifndef FFI_DRIVER_H
#define FFI_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <ffi.h>

#define MAXP 16        /* parameters per function */
#define MAXFN 256      /* functions */
#define MAXSYM 512     /* enum members */
#define MAXKIND 16     /* handle kinds */

/* C types, as an FFI host sees them */
enum ctype { CT_VOID, CT_INT, CT_I64, CT_SIZE, CT_PTR };

/* parameter classes (see gen_manifest.py) */
enum pclass {
    PC_HANDLE, PC_HANDLE_OPT, PC_FREE, PC_ANYHANDLE, PC_ERR, PC_STR,
    PC_BUF_IN, PC_BUF_OUT, PC_TEXT_IN, PC_START, PC_LEN, PC_HARR, PC_N,
    PC_OUTARR_CAP, PC_OUTPAR, PC_CAP, PC_OUTARR_N, PC_OUT, PC_OUT_OPT, PC_INT,
    PC_TIMEOUT, PC_TAG, PC_COUNT, PC_IOV_IN, PC_IOV_OUT, PC_IOVLENS, PC_IOVN
};

/* what an out-parameter points to */
enum outtype { OT_INT, OT_SIZE, OT_I64, OT_STR, OT_BYTES, OT_I32, OT_HANDLE };

/* what a result must be */
enum retcheck {
    RC_VOID, RC_STATUS, RC_STATUS_VALUE, RC_VERSION, RC_COUNT, RC_BOOL, RC_KIND, RC_ERRNO,
    RC_STR_NONNULL, RC_STR_NULLABLE, RC_HANDLE_NONNULL, RC_HANDLE_NULLABLE,
    RC_TIMEOUT, RC_SIZE
};

typedef struct {
    char ctype[48], name[32], cls[48];
    int ct;          /* enum ctype */
    int pc;          /* enum pclass */
    int kind;        /* handle kind index (kinds[]), -1 */
    int text;        /* handle:port:text */
    int ot;          /* enum outtype for PC_OUT* and PC_OUTPAR */
    char role[24];   /* int role, string role */
} param_t;

typedef struct {
    char name[64], rettype[48];
    int rt;          /* enum ctype of the result */
    int rc;          /* enum retcheck */
    int retkind;     /* for RC_HANDLE_*: kind index */
    int closed_ok;   /* works on a closed socket or port (a "note" line) */
    int np;
    param_t p[MAXP];
    void *sym;
    ffi_cif cif;
    ffi_type *at[MAXP];
    ffi_type *rtype;
} fn_t;

typedef struct {
    char name[32];   /* socket, addrinfo, ... */
    char ctype[40];  /* sag_socket */
    int code;        /* SAG_KIND_* value, -1 */
    int free_fn;     /* index of its free function, -1 */
} kind_t;

typedef struct {
    char name[64];
    int value;
    int what;        /* 0 status, 1 kind, 2 constant, 3 other enum */
} sym_t;

typedef union {
    int i;
    int64_t l;
    size_t z;
    void *p;
} val_t;

typedef struct {
    int t;           /* enum ctype */
    val_t v;
} arg_t;

/* counters shared between the driver and its sweep processes */
typedef struct {
    unsigned long calls;
    unsigned long by_status[64];     /* index -status, for status results */
    unsigned long values;            /* calls of functions with other results */
    unsigned long undocumented;      /* results that break their check */
    unsigned long unexpected;        /* failed expectations (any kind) */
    unsigned long crashes, hangs;
    unsigned long cases;
    unsigned long fn_calls[MAXFN];
    volatile long cur_case, done_case;
} shared_t;

extern fn_t fns[MAXFN];
extern int nfns;
extern kind_t kinds[MAXKIND];
extern int nkinds;
extern sym_t syms[MAXSYM];
extern int nsyms;
extern shared_t *shm;
extern int verbose;

/* statuses and kinds looked up by name at start-up */
extern int ST_OK, ST_IO, ST_HOST_NOT_FOUND, ST_SOCKET, ST_CONNECTION, ST_CLOSED,
    ST_READ_TIMEOUT, ST_PORT, ST_INVALID, ST_MISUSE, ST_NOMEM, ST_WOULD_BLOCK,
    ST_INTERRUPTED;
extern int KIND_NONE;

/* ---- driver.c ---- */
int sym_value(const char *name);              /* fatal if missing */
int sym_lookup(const char *name, int *value); /* 1 when found */
int is_status(int v);
int is_kind_code(int v);
const char *status_name(int v);
int find_fn(const char *name);                /* -1 */
int kind_index(const char *name);             /* -1 */
val_t invoke(int fi, val_t *args);            /* one ffi_call, counted, result checked */
val_t call_named(const char *name, const arg_t *args, int nargs);
void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define A_I(x) ((arg_t){CT_INT, {.i = (int)(x)}})
#define A_L(x) ((arg_t){CT_I64, {.l = (int64_t)(x)}})
#define A_Z(x) ((arg_t){CT_SIZE, {.z = (size_t)(x)}})
#define A_P(x) ((arg_t){CT_PTR, {.p = (void *)(x)}})
#define CALL(name, ...) \
    call_named(name, (arg_t[]){__VA_ARGS__}, (int)(sizeof((arg_t[]){__VA_ARGS__}) / sizeof(arg_t)))
#define CALL0(name) call_named(name, NULL, 0)
#define CI(...) (CALL(__VA_ARGS__).i)

/* ---- world.c: fixtures ---- */
typedef struct world world_t;
world_t *world_new(void);
void world_free(world_t *w);
int world_ok(world_t *w);                     /* 0 when a fixture failed */
val_t fixture(world_t *w, const char *name);  /* a named baseline object */
void *world_handle(world_t *w, const char *name);
void world_own(world_t *w, void *h);          /* free it with the world */
void *world_alloc(world_t *w, size_t n);      /* freed with the world */
void *new_handle(world_t *w, int kind);       /* a fresh live handle, owned */
void *freed_handle(world_t *w, int kind);     /* a handle value already freed */
int free_handle(void *h);                     /* by its kind; status */
int fixture_port(world_t *w, const char *name);

/* ---- sweep.c ---- */
int sweep_run(int in_process);                /* returns 0 when every case passed */
int smoke_run(void);                          /* the baseline call of every function, in process */

/* ---- scenarios.c ---- */
int scenarios_run(void);

#endif
