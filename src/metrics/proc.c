/* proc.c - process figures from /proc/self (Linux): CPU time, memory, threads, start time,
 * open and maximum file descriptors. Read at scrape time only; a figure that cannot be read
 * is NaN and left out of the exposition. */
#include "base/cf.h"
#include "metrics/metrics_int.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* The boot time (unix s) from /proc/stat's btime line; NaN if absent. */
static double boot_time(void)
{
    char line[256];
    double bt = NAN;
    FILE *f = fopen("/proc/stat", "re");

    if (!f)
        return NAN;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            bt = strtod(line + 6, NULL);
            break;
        }
    }
    fclose(f);
    return bt;
}

void m_proc_read(struct m_proc *p)
{
    char buf[1024];
    FILE *f;
    size_t n = 0;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    DIR *d;

    p->cpu_s = p->rss_bytes = p->vsize_bytes = p->threads = p->start_time_s = NAN;
    p->open_fds = p->max_fds = NAN;
    f = fopen("/proc/self/stat", "re");
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    /* Fields after the command name, which is in parentheses and may hold anything: start at
     * the last ')'. Field 3 (state) is the first after it. */
    char *q = strrchr(buf, ')');
    if (q && tick > 0) {
        unsigned long long v[23] = {0}; /* fields 4..26 as numbers */
        char *save = NULL, *t;
        int i = 0;
        q += 2;                      /* ") " */
        t = strtok_r(q, " ", &save); /* state */
        for (t = strtok_r(NULL, " ", &save); t && i < 23; t = strtok_r(NULL, " ", &save))
            v[i++] = strtoull(t, NULL, 10);
        if (i == 23) {
            /* field k is v[k - 4]: utime 14, stime 15, num_threads 20, starttime 22, vsize
             * 23, rss 24 (pages) */
            p->cpu_s = (double)(v[10] + v[11]) / (double)tick;
            p->threads = (double)v[16];
            p->vsize_bytes = (double)v[19];
            p->rss_bytes = (double)v[20] * (double)(page > 0 ? page : 4096);
            p->start_time_s = boot_time() + (double)v[18] / (double)tick;
        }
    }
    d = opendir("/proc/self/fd");
    if (d) {
        double cnt = 0;
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.')
                cnt++;
        closedir(d);
        p->open_fds = cnt - 1; /* the directory's own descriptor */
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}
