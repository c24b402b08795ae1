/* sqlite_baseline.c - the durable-write baseline for `make bench`: SQLite in WAL mode with
 * synchronous=FULL committing one transaction per write (what a store without group commit
 * pays), and the same writes batched 64 per transaction. Rows are about the size of a sealed
 * secret version. Usage: bench_sqlite DBFILE [SECONDS [BATCHED_SECONDS]] (batched defaults to
 * SECONDS). Prints JSON. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(sqlite3 *db, double seconds, int batch)
{
    sqlite3_stmt *st;
    unsigned char blob[120];
    long n = 0;
    double t0 = now_s(), t;

    memset(blob, 0xab, sizeof(blob));
    sqlite3_prepare_v2(db, "INSERT INTO v(name, version, sealed) VALUES (?, ?, ?)", -1, &st,
                       NULL);
    do {
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        for (int i = 0; i < batch; i++, n++) {
            char name[32], ver[33];
            snprintf(name, sizeof(name), "bench-%ld", n % 1000);
            snprintf(ver, sizeof(ver), "%032lx", n);
            sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, ver, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(st, 3, blob, sizeof(blob), SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        t = now_s();
    } while (t - t0 < seconds);
    sqlite3_finalize(st);
    return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
    sqlite3 *db;
    double secs = argc > 2 ? strtod(argv[2], NULL) : 5.0, single, batched;
    double bsecs = argc > 3 ? strtod(argv[3], NULL) : secs;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_sqlite DBFILE [SECONDS]\n");
        return 2;
    }
    unlink(argv[1]);
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE v(id INTEGER PRIMARY KEY, name TEXT, version TEXT, sealed BLOB);"
                     "CREATE INDEX v_name ON v(name, version);",
                 NULL, NULL, NULL);
    single = run(db, secs, 1);
    batched = run(db, bsecs, 64);
    printf("{\"sqlite_commit_per_write_per_s\": %.1f, \"sqlite_batched64_per_s\": %.1f}\n", single,
           batched);
    sqlite3_close(db);
    return 0;
}
