// SQLite's C API for the host: the library sqlite-nio vendors (its symbols prefixed
// sqlite_nio_), re-exported here because sqlite-nio declares no product for it, plus a memory
// budget for the SQLite statements a plugin sends, counted per thread.
//
// SQLite has no per-statement memory limit, and its compiler copies expressions while it
// flattens subqueries, where neither interrupts nor progress handlers reach: 800 bytes of nested
// CTEs can compile into gigabytes. A process-wide heap limit would make every other owner's
// query fail while one such statement holds it. Instead SQLite's allocator is wrapped: while a
// budget is open on a thread, what SQLite allocates there is counted, and an allocation past the
// budget fails (the statement fails with SQLITE_NOMEM). A connection is used by one thread at a
// time (SQLiteExecutor), so the thread's count is the statement's.
#ifndef PLUGBOARD_CSQLITE_H
#define PLUGBOARD_CSQLITE_H

#include <stdint.h>
#include "sqlite_nio_sqlite3.h"

/// Wraps SQLite's allocator. Call once, before SQLite opens its first connection; returns 0, or
/// SQLite's error code (SQLITE_MISUSE when SQLite was already initialized).
int plugboard_sqlite_budget_install(void);

/// Opens a budget of `bytes` on this thread (replacing any open one).
void plugboard_sqlite_budget_begin(int64_t bytes);

/// Closes this thread's budget; returns the most it held at once.
int64_t plugboard_sqlite_budget_end(void);

#endif
