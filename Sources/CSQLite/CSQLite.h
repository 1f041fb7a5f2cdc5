// The system's SQLite (Debian: libsqlite3-dev), with the few calls Swift cannot make itself.
#ifndef PLUGBOARD_CSQLITE_H
#define PLUGBOARD_CSQLITE_H

#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call.
// Double-quoted strings are identifiers only: "name" never silently becomes the text 'name'.
static inline int plugboard_sqlite3_forbid_double_quoted_strings(sqlite3 *db) {
    int status = sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)0);
    if (status != SQLITE_OK) return status;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)0);
}

#endif
