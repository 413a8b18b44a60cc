/* Unit tests for cpus.c's cgroup quota reading, on fake cgroup trees. */
#define _GNU_SOURCE
#include "cpus.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void write_file(const char *relative, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, relative);
    /* create parent directories */
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    if (file != NULL) {
        fputs(text, file);
        fclose(file);
    }
}

static unsigned limit(void)
{
    char proc[300], mount[300];
    snprintf(proc, sizeof(proc), "%s/proc_self_cgroup", root);
    snprintf(mount, sizeof(mount), "%s/sys", root);
    return cpus_cgroup_limit(proc, mount);
}

static void fresh_root(const char *name)
{
    snprintf(root, sizeof(root), "/tmp/tinyserver-test-cpus-%d-%s", (int)getpid(), name);
    mkdir(root, 0755);
}

int main(void)
{
    fresh_root("none");
    write_file("proc_self_cgroup", "0::/app.slice/x.scope\n");
    CHECK(limit() == 0); /* no cpu.max anywhere */

    fresh_root("v2");
    write_file("proc_self_cgroup", "0::/app.slice/x.scope\n");
    write_file("sys/app.slice/x.scope/cpu.max", "max 100000\n");
    CHECK(limit() == 0);
    write_file("sys/app.slice/x.scope/cpu.max", "200000 100000\n");
    CHECK(limit() == 2);
    write_file("sys/app.slice/x.scope/cpu.max", "150000 100000\n");
    CHECK(limit() == 2); /* rounded up: 1.5 CPUs may run on 2 */
    write_file("sys/app.slice/x.scope/cpu.max", "50000 100000\n");
    CHECK(limit() == 1);
    write_file("sys/app.slice/cpu.max", "100000 100000\n");
    write_file("sys/app.slice/x.scope/cpu.max", "400000 100000\n");
    CHECK(limit() == 1); /* a parent's tighter quota wins */

    fresh_root("container");
    /* no cgroup namespace: the host path is not visible, the mount is ours */
    write_file("proc_self_cgroup", "0::/machine.slice/libpod-abc.scope\n");
    write_file("sys/cpu.max", "300000 100000\n");
    CHECK(limit() == 3);

    fresh_root("v1");
    write_file("proc_self_cgroup", "12:memory:/x\n4:cpu,cpuacct:/docker/abc\n0::/\n");
    write_file("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
    write_file("sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    CHECK(limit() == 0);
    write_file("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n");
    CHECK(limit() == 3);

    CHECK(cpus_cgroup_limit("/nonexistent/cgroup", "/nonexistent") == 0);
    CHECK(cpus_available() >= 1);
    char cleanup[300];
    snprintf(cleanup, sizeof(cleanup), "rm -rf /tmp/tinyserver-test-cpus-%d-*", (int)getpid());
    CHECK(system(cleanup) == 0);
    return check_finish("cpus");
}
