/* driver.c: the libffi test driver of libsagsocket.
 *
 *   ffi-driver [--all | --scenarios | --sweep] [--manifest FILE] [-v] [LIBRARY]
 *
 * Loads LIBRARY (default: libsagsocket.so in `pkg-config --variable=libdir
 * sagsocket`) with dlopen, reads the signature manifest (default:
 * manifest.txt beside this executable, or $FFI_MANIFEST), resolves every
 * function with dlsym and calls each one only through ffi_call, with an
 * ffi_cif built at run time from the manifest line of the function.
 *
 *   --scenarios  loopback scenarios, and one baseline call of every function
 *   --sweep      the bad-input sweep, each function's cases in a child process
 *                under a watchdog (a crash or a hang is counted, not fatal)
 *   --all        both (the default)
 *   --only NAME  sweep only the function NAME
 *   --in-process run the sweep without child processes (for a debugger)
 *
 * Prints the calls per status and one summary line:
 *   ffi-driver: exercised E of D functions; C calls; K crashes; H hangs
 * and exits non-zero on an uncovered function, an unexpected status or
 * result, a crash or a hang.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

fn_t fns[MAXFN];
int nfns;
kind_t kinds[MAXKIND];
int nkinds;
sym_t syms[MAXSYM];
int nsyms;
shared_t *shm;
int verbose;

int ST_OK, ST_IO, ST_HOST_NOT_FOUND, ST_SOCKET, ST_CONNECTION, ST_CLOSED,
    ST_READ_TIMEOUT, ST_PORT, ST_INVALID, ST_MISUSE, ST_NOMEM, ST_WOULD_BLOCK,
    ST_INTERRUPTED;
int KIND_NONE;

__thread const char *sweep_context;  /* the current sweep case, for messages */
extern const char *sweep_only;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ffi-driver: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void failf(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    __atomic_fetch_add(&shm->unexpected, 1, __ATOMIC_RELAXED);
    if (sweep_context)
        fprintf(stderr, "FAIL [%s] %s\n", sweep_context, buf);
    else
        fprintf(stderr, "FAIL %s\n", buf);
}

void notef(const char *fmt, ...)
{
    if (!verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("     ", stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

/* ---- symbols (enum members) --------------------------------------------- */

int sym_lookup(const char *name, int *value)
{
    for (int i = 0; i < nsyms; i++)
        if (strcmp(syms[i].name, name) == 0) {
            *value = syms[i].value;
            return 1;
        }
    return 0;
}

int sym_value(const char *name)
{
    int v;
    if (!sym_lookup(name, &v))
        die("the manifest has no %s (the driver needs it)", name);
    return v;
}

int is_status(int v)
{
    for (int i = 0; i < nsyms; i++)
        if (syms[i].what == 0 && syms[i].value == v)
            return 1;
    return 0;
}

int is_kind_code(int v)
{
    for (int i = 0; i < nsyms; i++)
        if (syms[i].what == 1 && syms[i].value == v)
            return 1;
    return 0;
}

const char *status_name(int v)
{
    for (int i = 0; i < nsyms; i++)
        if (syms[i].what == 0 && syms[i].value == v)
            return syms[i].name;
    return "(not a status)";
}

int find_fn(const char *name)
{
    for (int i = 0; i < nfns; i++)
        if (strcmp(fns[i].name, name) == 0)
            return i;
    return -1;
}

int kind_index(const char *name)
{
    for (int i = 0; i < nkinds; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- the manifest -------------------------------------------------------- */

static int split(char *line, char **fields, int max)
{
    int n = 0;
    char *s = line;
    while (n < max) {
        fields[n++] = s;
        char *t = strchr(s, '\t');
        if (!t)
            break;
        *t = 0;
        s = t + 1;
    }
    return n;
}

static int ctype_of(const char *t, const char *where)
{
    if (strchr(t, '*'))
        return CT_PTR;
    if (strcmp(t, "int") == 0 || strcmp(t, "int32_t") == 0)
        return CT_INT;
    if (strcmp(t, "int64_t") == 0)
        return CT_I64;
    if (strcmp(t, "size_t") == 0)
        return CT_SIZE;
    if (strcmp(t, "void") == 0)
        return CT_VOID;
    die("%s: the driver cannot map the C type '%s' to an ffi_type", where, t);
}

static ffi_type *ffi_of(int ct)
{
    switch (ct) {
    case CT_VOID: return &ffi_type_void;
    case CT_INT: return &ffi_type_sint32;
    case CT_I64: return &ffi_type_sint64;
    case CT_SIZE: return sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    default: return &ffi_type_pointer;
    }
}

static int retcheck_of(const char *s, int *kind, const char *fn)
{
    *kind = -1;
    if (strcmp(s, "void") == 0) return RC_VOID;
    if (strcmp(s, "status") == 0) return RC_STATUS;
    if (strcmp(s, "status-value") == 0) return RC_STATUS_VALUE;
    if (strcmp(s, "version") == 0) return RC_VERSION;
    if (strcmp(s, "count") == 0) return RC_COUNT;
    if (strcmp(s, "bool") == 0) return RC_BOOL;
    if (strcmp(s, "kind") == 0) return RC_KIND;
    if (strcmp(s, "errno") == 0) return RC_ERRNO;
    if (strcmp(s, "str!") == 0) return RC_STR_NONNULL;
    if (strcmp(s, "str?") == 0) return RC_STR_NULLABLE;
    if (strcmp(s, "timeout") == 0) return RC_TIMEOUT;
    if (strcmp(s, "size") == 0) return RC_SIZE;
    if (strncmp(s, "handle!:", 8) == 0 || strncmp(s, "handle?:", 8) == 0) {
        *kind = kind_index(s + 8);
        if (*kind < 0)
            die("%s: result check %s names an unknown handle kind", fn, s);
        return s[6] == '!' ? RC_HANDLE_NONNULL : RC_HANDLE_NULLABLE;
    }
    die("%s: unknown result check '%s' (teach driver.c)", fn, s);
}

static int need_kind(const char *k, const char *fn)
{
    int i = kind_index(k);
    if (i < 0)
        die("%s: unknown handle kind '%s'", fn, k);
    return i;
}

static void parse_class(param_t *p, const char *fn)
{
    char c[48];
    snprintf(c, sizeof c, "%s", p->cls);
    p->kind = -1;
    p->text = 0;
    p->role[0] = 0;
    if (strncmp(c, "handle:", 7) == 0 || strncmp(c, "handle?:", 8) == 0) {
        p->pc = c[6] == '?' ? PC_HANDLE_OPT : PC_HANDLE;
        char *k = strchr(c, ':') + 1;
        char *flavour = strchr(k, ':');
        if (flavour) {
            *flavour++ = 0;
            if (strcmp(flavour, "text") != 0)
                die("%s: unknown handle flavour in %s", fn, p->cls);
            p->text = 1;
        }
        p->kind = need_kind(k, fn);
    } else if (strncmp(c, "free:", 5) == 0) {
        p->pc = PC_FREE;
        p->kind = need_kind(c + 5, fn);
    } else if (strcmp(c, "anyhandle") == 0) {
        p->pc = PC_ANYHANDLE;
    } else if (strcmp(c, "err") == 0) {
        p->pc = PC_ERR;
    } else if (strncmp(c, "str:", 4) == 0) {
        p->pc = PC_STR;
        snprintf(p->role, sizeof p->role, "%s", c + 4);
    } else if (strcmp(c, "buf:in") == 0) {
        p->pc = PC_BUF_IN;
    } else if (strcmp(c, "buf:out") == 0) {
        p->pc = PC_BUF_OUT;
    } else if (strcmp(c, "text:in") == 0) {
        p->pc = PC_TEXT_IN;
    } else if (strcmp(c, "start") == 0) {
        p->pc = PC_START;
    } else if (strcmp(c, "len") == 0) {
        p->pc = PC_LEN;
    } else if (strncmp(c, "harr:", 5) == 0) {
        p->pc = PC_HARR;
        p->kind = need_kind(c + 5, fn);
    } else if (strcmp(c, "n") == 0) {
        p->pc = PC_N;
    } else if (strncmp(c, "outarr:", 7) == 0) {
        char *k = c + 7;
        char *how = strchr(k, ':');
        if (!how)
            die("%s: bad class %s", fn, p->cls);
        *how++ = 0;
        p->kind = need_kind(k, fn);
        if (strcmp(how, "cap") == 0)
            p->pc = PC_OUTARR_CAP;
        else if (strcmp(how, "n") == 0)
            p->pc = PC_OUTARR_N;
        else
            die("%s: bad class %s", fn, p->cls);
    } else if (strncmp(c, "outpar:", 7) == 0) {
        p->pc = PC_OUTPAR;
        if (strcmp(c + 7, "i64") == 0) p->ot = OT_I64;
        else if (strcmp(c + 7, "int") == 0) p->ot = OT_INT;
        else die("%s: unknown parallel array type in %s (teach driver.c)", fn, p->cls);
    } else if (strcmp(c, "cap") == 0) {
        p->pc = PC_CAP;
    } else if (strncmp(c, "out:", 4) == 0 || strncmp(c, "out?:", 5) == 0) {
        p->pc = c[3] == '?' ? PC_OUT_OPT : PC_OUT;
        const char *t = strchr(c, ':') + 1;
        if (strcmp(t, "int") == 0) p->ot = OT_INT;
        else if (strcmp(t, "size") == 0) p->ot = OT_SIZE;
        else if (strcmp(t, "i64") == 0) p->ot = OT_I64;
        else if (strcmp(t, "str") == 0) p->ot = OT_STR;
        else if (strcmp(t, "bytes") == 0) p->ot = OT_BYTES;
        else if (strcmp(t, "i32") == 0) p->ot = OT_I32;
        else if (strncmp(t, "handle.", 7) == 0) {
            p->ot = OT_HANDLE;
            p->kind = need_kind(t + 7, fn);
        } else
            die("%s: unknown out-parameter type in %s (teach driver.c)", fn, p->cls);
    } else if (strncmp(c, "int:", 4) == 0) {
        p->pc = PC_INT;
        snprintf(p->role, sizeof p->role, "%s", c + 4);
    } else if (strcmp(c, "timeout") == 0) {
        p->pc = PC_TIMEOUT;
    } else if (strcmp(c, "tag") == 0) {
        p->pc = PC_TAG;
    } else if (strcmp(c, "count") == 0) {
        p->pc = PC_COUNT;
    } else if (strcmp(c, "iov:in") == 0) {
        p->pc = PC_IOV_IN;
    } else if (strcmp(c, "iov:out") == 0) {
        p->pc = PC_IOV_OUT;
    } else if (strcmp(c, "iovlens") == 0) {
        p->pc = PC_IOVLENS;
    } else if (strcmp(c, "iovn") == 0) {
        p->pc = PC_IOVN;
    } else {
        die("%s: unknown parameter class '%s' (teach driver.c and sweep.c)", fn, p->cls);
    }
}

static void load_manifest(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open the manifest %s: %s", path, strerror(errno));
    char line[4096];
    int declared = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        char *fld[MAXP + 8];
        int n = split(line, fld, MAXP + 8);
        if (strcmp(fld[0], "status") == 0 || strcmp(fld[0], "kind") == 0 ||
            strcmp(fld[0], "constant") == 0 || strcmp(fld[0], "enum") == 0) {
            if (nsyms >= MAXSYM)
                die("too many enum members");
            int is_enum = strcmp(fld[0], "enum") == 0;
            if (n != (is_enum ? 4 : 3))
                die("bad manifest line: %s", fld[0]);
            sym_t *s = &syms[nsyms++];
            snprintf(s->name, sizeof s->name, "%s", fld[is_enum ? 2 : 1]);
            s->value = atoi(fld[is_enum ? 3 : 2]);
            s->what = fld[0][0] == 's' ? 0 : fld[0][0] == 'k' ? 1 : fld[0][0] == 'c' ? 2 : 3;
        } else if (strcmp(fld[0], "handle") == 0) {
            if (n != 4 || nkinds >= MAXKIND)
                die("bad manifest line: handle");
            kind_t *k = &kinds[nkinds++];
            snprintf(k->ctype, sizeof k->ctype, "%s", fld[1]);
            snprintf(k->name, sizeof k->name, "%s", fld[2]);
            k->code = atoi(fld[3]);
            k->free_fn = -1;
        } else if (strcmp(fld[0], "fn") == 0) {
            if (nfns >= MAXFN)
                die("too many functions");
            if (n < 4 || n - 4 > MAXP)
                die("bad manifest line for %s", n > 1 ? fld[1] : "?");
            fn_t *fn = &fns[nfns++];
            memset(fn, 0, sizeof *fn);
            snprintf(fn->name, sizeof fn->name, "%s", fld[1]);
            snprintf(fn->rettype, sizeof fn->rettype, "%s", fld[2]);
            fn->rt = ctype_of(fld[2], fn->name);
            fn->rc = retcheck_of(fld[3], &fn->retkind, fn->name);
            fn->np = n - 4;
            for (int i = 0; i < fn->np; i++) {
                param_t *p = &fn->p[i];
                char tmp[160];
                snprintf(tmp, sizeof tmp, "%s", fld[4 + i]);
                char *cls = strrchr(tmp, ' ');
                if (!cls)
                    die("%s: bad parameter %s", fn->name, fld[4 + i]);
                *cls++ = 0;
                char *name = strrchr(tmp, ' ');
                if (!name)
                    die("%s: bad parameter %s", fn->name, fld[4 + i]);
                *name++ = 0;
                snprintf(p->cls, sizeof p->cls, "%s", cls);
                snprintf(p->name, sizeof p->name, "%s", name);
                snprintf(p->ctype, sizeof p->ctype, "%s", tmp);
                p->ct = ctype_of(p->ctype, fn->name);
                parse_class(p, fn->name);
                fn->at[i] = ffi_of(p->ct);
                if (p->pc == PC_FREE)
                    kinds[p->kind].free_fn = nfns - 1;
            }
            fn->rtype = ffi_of(fn->rt);
        } else if (strcmp(fld[0], "note") == 0) {
            int fi = n == 3 ? find_fn(fld[1]) : -1;
            if (fi < 0)
                die("bad manifest line: note %s", n > 1 ? fld[1] : "");
            if (strcmp(fld[2], "closed-ok") == 0)
                fns[fi].closed_ok = 1;
            else
                die("unknown note %s (teach driver.c)", fld[2]);
        } else if (strcmp(fld[0], "end") == 0) {
            declared = atoi(fld[1]);
        } else {
            die("unknown manifest line '%s'", fld[0]);
        }
    }
    fclose(f);
    if (declared != nfns)
        die("the manifest is truncated (%d functions read, 'end' says %d)", nfns, declared);
}

/* ---- calling ------------------------------------------------------------ */

val_t invoke(int fi, val_t *args)
{
    fn_t *f = &fns[fi];
    void *avals[MAXP];
    for (int i = 0; i < f->np; i++)
        avals[i] = &args[i];  /* every member of val_t starts at its address */
    union {
        ffi_arg a;
        ffi_sarg s;
        int64_t l;
        void *p;
        char pad[16];
    } r;
    memset(&r, 0, sizeof r);
    static int trace = -1;
    if (trace < 0)
        trace = getenv("FFI_DRIVER_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "trace: %s\n", f->name);
    ffi_call(&f->cif, FFI_FN(f->sym), &r, f->np ? avals : NULL);
    __atomic_fetch_add(&shm->calls, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&shm->fn_calls[fi], 1, __ATOMIC_RELAXED);
    val_t v;
    memset(&v, 0, sizeof v);
    switch (f->rt) {
    case CT_INT: v.i = (int)r.s; break;
    case CT_I64: v.l = r.l; break;
    case CT_SIZE: v.z = (size_t)r.a; break;
    case CT_PTR: v.p = r.p; break;
    default: break;
    }
    const char *bad = NULL;
    char msg[160];
    switch (f->rc) {
    case RC_STATUS:
        if (is_status(v.i)) {
            __atomic_fetch_add(&shm->by_status[-v.i], 1, __ATOMIC_RELAXED);
        } else {
            snprintf(msg, sizeof msg, "returned %d, which is not a sag_status", v.i);
            bad = msg;
        }
        break;
    case RC_STATUS_VALUE:
        if (!is_status(v.i)) {
            snprintf(msg, sizeof msg, "returned %d, which is not a sag_status", v.i);
            bad = msg;
        }
        break;
    case RC_VERSION:
        if (v.i <= 0) bad = "returned a version <= 0";
        break;
    case RC_COUNT:
        if (v.i < 0) bad = "returned a negative count";
        break;
    case RC_BOOL:
        if (v.i != 0 && v.i != 1) {
            snprintf(msg, sizeof msg, "returned %d, not 0 or 1", v.i);
            bad = msg;
        }
        break;
    case RC_KIND:
        if (!is_kind_code(v.i)) {
            snprintf(msg, sizeof msg, "returned %d, which is not a sag_kind", v.i);
            bad = msg;
        }
        break;
    case RC_ERRNO:
        if (v.i < 0) {
            snprintf(msg, sizeof msg, "returned errno %d < 0", v.i);
            bad = msg;
        }
        break;
    case RC_STR_NONNULL:
        if (!v.p) bad = "returned NULL where the header says never NULL";
        else (void)strlen((const char *)v.p);
        break;
    case RC_STR_NULLABLE:
        if (v.p) (void)strlen((const char *)v.p);
        break;
    case RC_HANDLE_NONNULL:
        if (!v.p) bad = "returned NULL where the header says never NULL";
        break;
    case RC_TIMEOUT:
        if (v.l < -1) {
            snprintf(msg, sizeof msg, "returned timeout %lld < -1", (long long)v.l);
            bad = msg;
        }
        break;
    default:
        break;
    }
    if (f->rc != RC_STATUS)
        __atomic_fetch_add(&shm->values, 1, __ATOMIC_RELAXED);
    if (bad) {
        __atomic_fetch_add(&shm->undocumented, 1, __ATOMIC_RELAXED);
        failf("%s %s", f->name, bad);
    }
    return v;
}

val_t call_named(const char *name, const arg_t *args, int nargs)
{
    int fi = find_fn(name);
    val_t v[MAXP];
    memset(&v, 0, sizeof v);
    if (fi < 0) {
        failf("the driver calls %s, which the manifest does not declare", name);
        val_t z;
        z.l = 0;
        z.i = ST_MISUSE;
        return z;
    }
    fn_t *f = &fns[fi];
    if (nargs != f->np)
        die("driver bug or changed signature: %s takes %d parameters, the driver passes %d",
            name, f->np, nargs);
    for (int i = 0; i < nargs; i++) {
        if (args[i].t != f->p[i].ct)
            die("driver bug or changed signature: %s parameter %d (%s %s) given another C type",
                name, i, f->p[i].ctype, f->p[i].name);
        v[i] = args[i].v;
    }
    return invoke(fi, v);
}

/* ---- main --------------------------------------------------------------- */

static char *library_from_pkg_config(void)
{
    FILE *p = popen("pkg-config --variable=libdir sagsocket 2>/dev/null", "r");
    if (!p)
        return NULL;
    char dir[PATH_MAX];
    char *r = fgets(dir, sizeof dir, p);
    pclose(p);
    if (!r)
        return NULL;
    dir[strcspn(dir, "\n")] = 0;
    if (!dir[0])
        return NULL;
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/libsagsocket.so", dir);
    return path;
}

static char *default_manifest(void)
{
    const char *env = getenv("FFI_MANIFEST");
    if (env && *env)
        return strdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (n <= 0)
        return strdup("manifest.txt");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        strcpy(slash + 1, "manifest.txt");
    return strdup(exe);
}

int main(int argc, char **argv)
{
    int do_scen = 1, do_sweep = 1, in_process = 0;
    const char *lib = NULL;
    char *manifest = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scenarios") == 0) { do_scen = 1; do_sweep = 0; }
        else if (strcmp(argv[i], "--sweep") == 0) { do_scen = 0; do_sweep = 1; }
        else if (strcmp(argv[i], "--all") == 0) { do_scen = 1; do_sweep = 1; }
        else if (strcmp(argv[i], "-v") == 0) verbose = 1;
        else if (strcmp(argv[i], "--in-process") == 0) in_process = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) sweep_only = argv[++i];
        else if (strcmp(argv[i], "--manifest") == 0 && i + 1 < argc) manifest = strdup(argv[++i]);
        else if (argv[i][0] == '-') die("unknown option %s", argv[i]);
        else lib = argv[i];
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!manifest)
        manifest = default_manifest();
    char *libpath = lib ? strdup(lib) : library_from_pkg_config();
    if (!libpath)
        die("no library given and pkg-config does not know sagsocket");

    shm = mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    memset(shm, 0, sizeof *shm);

    load_manifest(manifest);
    ST_OK = sym_value("SAG_OK");
    ST_IO = sym_value("SAG_E_IO");
    ST_HOST_NOT_FOUND = sym_value("SAG_E_HOST_NOT_FOUND");
    ST_SOCKET = sym_value("SAG_E_SOCKET");
    ST_CONNECTION = sym_value("SAG_E_CONNECTION");
    ST_CLOSED = sym_value("SAG_E_CLOSED");
    ST_READ_TIMEOUT = sym_value("SAG_E_READ_TIMEOUT");
    ST_PORT = sym_value("SAG_E_PORT");
    ST_INVALID = sym_value("SAG_E_INVALID");
    ST_MISUSE = sym_value("SAG_E_MISUSE");
    ST_NOMEM = sym_value("SAG_E_NOMEM");
    ST_WOULD_BLOCK = sym_value("SAG_E_WOULD_BLOCK");
    ST_INTERRUPTED = sym_value("SAG_E_INTERRUPTED");
    KIND_NONE = sym_value("SAG_KIND_NONE");
    for (int i = 0; i < nsyms; i++)
        if (syms[i].what == 0 && (syms[i].value > 0 || syms[i].value <= -64))
            die("status %s = %d is outside the range the driver counts", syms[i].name, syms[i].value);

    void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        die("dlopen %s: %s", libpath, dlerror());
    printf("ffi-driver: %s, %d functions in %s\n", libpath, nfns, manifest);
    int missing = 0;
    for (int i = 0; i < nfns; i++) {
        fn_t *f = &fns[i];
        dlerror();
        f->sym = dlsym(h, f->name);
        if (!f->sym) {
            failf("%s is declared but the library does not export it", f->name);
            missing++;
            continue;
        }
        if (ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, (unsigned)f->np, f->rtype, f->np ? f->at : NULL) != FFI_OK)
            die("ffi_prep_cif failed for %s", f->name);
    }
    if (missing)
        die("%d declared function(s) are not exported", missing);

    int rc = 0;
    if (do_sweep)
        rc |= sweep_run(in_process);
    if (do_scen) {
        rc |= scenarios_run();
        rc |= smoke_run();
    }

    int exercised = 0;
    for (int i = 0; i < nfns; i++) {
        if (shm->fn_calls[i])
            exercised++;
        else if (!sweep_only)
            fprintf(stderr, "FAIL %s was not exercised\n", fns[i].name);
    }
    printf("ffi-driver: calls per status:\n");
    for (int s = 0; s > -64; s--) {
        if (!is_status(s))
            continue;
        printf("  %-22s %8lu\n", status_name(s), shm->by_status[-s]);
    }
    printf("  %-22s %8lu\n", "(other results)", shm->values);
    printf("  %-22s %8lu\n", "(undocumented)", shm->undocumented);
    if (do_sweep)
        printf("ffi-driver: %lu sweep cases; %lu unexpected results\n", shm->cases, shm->unexpected);
    else
        printf("ffi-driver: %lu unexpected results\n", shm->unexpected);
    printf("ffi-driver: exercised %d of %d functions; %lu calls; %lu crashes; %lu hangs\n",
           exercised, nfns, shm->calls, shm->crashes, shm->hangs);
    if ((exercised != nfns && !sweep_only) || shm->unexpected || shm->undocumented || shm->crashes || shm->hangs)
        rc = 1;
    fflush(stdout);
    free(manifest);
    free(libpath);
    return rc;
}
