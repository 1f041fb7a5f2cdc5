#include "CSQLite.h"

static sqlite3_mem_methods base;

// Only this thread's counts: SQLite calls the allocator on the thread that runs the statement.
static _Thread_local int64_t limit;  // 0: no budget open
static _Thread_local int64_t used;
static _Thread_local int64_t peak;

static int64_t size_of(void *pointer) { return pointer ? base.xSize(pointer) : 0; }

static void count(int64_t change) {
    used += change;
    if (used > peak) peak = used;
}

static void *budget_malloc(int bytes) {
    if (limit == 0) return base.xMalloc(bytes);
    if (used + base.xRoundup(bytes) > limit) return 0;
    void *pointer = base.xMalloc(bytes);
    count(size_of(pointer));
    return pointer;
}

static void budget_free(void *pointer) {
    // Memory allocated before the budget opened makes `used` go below zero when freed inside it:
    // that only lends the statement what it gave back.
    if (limit != 0) count(-size_of(pointer));
    base.xFree(pointer);
}

static void *budget_realloc(void *pointer, int bytes) {
    if (limit == 0) return base.xRealloc(pointer, bytes);
    int64_t before = size_of(pointer);
    if (used - before + base.xRoundup(bytes) > limit) return 0;
    void *moved = base.xRealloc(pointer, bytes);
    if (moved) count(size_of(moved) - before);
    return moved;
}

static int budget_size(void *pointer) { return base.xSize(pointer); }
static int budget_roundup(int bytes) { return base.xRoundup(bytes); }
static int budget_init(void *data) { return base.xInit(data); }
static void budget_shutdown(void *data) { base.xShutdown(data); }

int plugboard_sqlite_budget_install(void) {
    int status = sqlite_nio_sqlite3_config(SQLITE_CONFIG_GETMALLOC, &base);
    if (status != SQLITE_OK) return status;
    static sqlite3_mem_methods wrapped;
    wrapped = base;
    wrapped.xMalloc = budget_malloc;
    wrapped.xFree = budget_free;
    wrapped.xRealloc = budget_realloc;
    wrapped.xSize = budget_size;
    wrapped.xRoundup = budget_roundup;
    wrapped.xInit = budget_init;
    wrapped.xShutdown = budget_shutdown;
    return sqlite_nio_sqlite3_config(SQLITE_CONFIG_MALLOC, &wrapped);
}

void plugboard_sqlite_budget_begin(int64_t bytes) {
    limit = bytes > 0 ? bytes : 1;
    used = 0;
    peak = 0;
}

int64_t plugboard_sqlite_budget_end(void) {
    limit = 0;
    return peak;
}
