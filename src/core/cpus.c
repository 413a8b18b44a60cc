/*
 * cpus.c - affinity mask and cgroup quota; see cpus.h.
 */
#define _GNU_SOURCE
#include "cpus.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPUS_PATH_MAX 4096
#define CPUS_LINE_MAX 4096

/* A path that does not fit is treated as absent, never silently cut. */
static bool join_path(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size;
}

static bool read_small_file(const char *path, char *buf, size_t size)
{
    FILE *file = fopen(path, "re");
    if (file == NULL) {
        return false;
    }
    bool ok = fgets(buf, (int)size, file) != NULL;
    fclose(file);
    return ok;
}

static unsigned ceil_div(unsigned long long quota, unsigned long long period)
{
    if (period == 0) {
        return 0;
    }
    unsigned long long cpus = (quota + period - 1) / period;
    return cpus == 0 ? 1 : (unsigned)cpus;
}

/* cgroup v2: "max 100000" (no limit) or "<quota> <period>". */
static unsigned v2_limit_in(const char *dir)
{
    char path[CPUS_PATH_MAX];
    char line[128];
    unsigned long long quota, period;
    if (!join_path(path, sizeof(path), dir, "cpu.max") ||
        !read_small_file(path, line, sizeof(line)) ||
        sscanf(line, "%llu %llu", &quota, &period) != 2) {
        return 0;
    }
    return ceil_div(quota, period);
}

/* cgroup v1: cpu.cfs_quota_us is -1 when there is no limit. */
static unsigned v1_limit_in(const char *dir)
{
    char path[CPUS_PATH_MAX];
    char line[128];
    long long quota;
    unsigned long long period;
    if (!join_path(path, sizeof(path), dir, "cpu.cfs_quota_us") ||
        !read_small_file(path, line, sizeof(line)) || sscanf(line, "%lld", &quota) != 1 ||
        quota <= 0) {
        return 0;
    }
    if (!join_path(path, sizeof(path), dir, "cpu.cfs_period_us") ||
        !read_small_file(path, line, sizeof(line)) || sscanf(line, "%llu", &period) != 1) {
        return 0;
    }
    return ceil_div((unsigned long long)quota, period);
}

static unsigned tighter(unsigned current, unsigned candidate)
{
    if (candidate == 0) {
        return current;
    }
    return current == 0 || candidate < current ? candidate : current;
}

/* Walks from mount/relative up to mount itself. When the process's cgroup
 * path is not visible (a container without a cgroup namespace sees the
 * host's path), the missing levels simply yield nothing and the walk still
 * reaches the mount point, which is then the container's own cgroup. */
static unsigned walk_up(const char *mount, const char *relative, unsigned (*limit_in)(const char *))
{
    char rel[CPUS_PATH_MAX];
    char dir[CPUS_PATH_MAX];
    unsigned limit = 0;
    snprintf(rel, sizeof(rel), "%s", relative);
    for (;;) {
        size_t len = strlen(rel);
        while (len > 0 && rel[len - 1] == '/') {
            rel[--len] = '\0';
        }
        int n = snprintf(dir, sizeof(dir), "%s%s", mount, rel);
        if (n > 0 && (size_t)n < sizeof(dir)) {
            limit = tighter(limit, limit_in(dir));
        }
        char *slash = strrchr(rel, '/');
        if (slash == NULL) {
            return limit;
        }
        *slash = '\0';
    }
}

static bool has_cpu_controller(const char *controllers)
{
    char list[256];
    snprintf(list, sizeof(list), "%s", controllers);
    char *saveptr = NULL;
    for (char *tok = strtok_r(list, ",", &saveptr); tok != NULL;
         tok = strtok_r(NULL, ",", &saveptr)) {
        if (strcmp(tok, "cpu") == 0) {
            return true;
        }
    }
    return false;
}

unsigned cpus_cgroup_limit(const char *proc_cgroup, const char *cgroup_root)
{
    FILE *file = fopen(proc_cgroup, "re");
    if (file == NULL) {
        return 0;
    }
    char line[CPUS_LINE_MAX];
    char mount[CPUS_PATH_MAX];
    unsigned limit = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        /* "hierarchy-id:controllers:path"; the path itself may contain ':' */
        char *first = strchr(line, ':');
        char *second = first != NULL ? strchr(first + 1, ':') : NULL;
        if (second == NULL) {
            continue;
        }
        *first = '\0';
        *second = '\0';
        const char *controllers = first + 1;
        const char *path = second + 1;
        if (strcmp(line, "0") == 0 && *controllers == '\0') {
            limit = tighter(limit, walk_up(cgroup_root, path, v2_limit_in));
        } else if (has_cpu_controller(controllers)) {
            snprintf(mount, sizeof(mount), "%s/cpu,cpuacct", cgroup_root);
            limit = tighter(limit, walk_up(mount, path, v1_limit_in));
            snprintf(mount, sizeof(mount), "%s/cpu", cgroup_root);
            limit = tighter(limit, walk_up(mount, path, v1_limit_in));
        }
    }
    fclose(file);
    return limit;
}

unsigned cpus_available(void)
{
    unsigned cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        cpus = (unsigned)CPU_COUNT(&set);
    }
    if (cpus == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        cpus = online > 0 ? (unsigned)online : 1;
    }
    unsigned quota = cpus_cgroup_limit("/proc/self/cgroup", "/sys/fs/cgroup");
    if (quota != 0 && quota < cpus) {
        cpus = quota;
    }
    return cpus;
}
