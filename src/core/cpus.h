/*
 * cpus.h - how many CPUs this process may really use.
 *
 * "Available parallelism" as the published benchmark defines it: the CPUs
 * in the process's affinity mask, further limited by a cgroup CPU quota
 * when one is set. So `docker run --cpus=2` on a 64-core host gives 2, not
 * 64, and the default thread counts follow what the container may use.
 */
#ifndef TINYSERVER_CPUS_H
#define TINYSERVER_CPUS_H

/* Returns at least 1. Reads /proc/self/cgroup and /sys/fs/cgroup. */
unsigned cpus_available(void);

/* The CPU limit implied by the cgroup quota, rounded up, or 0 when no
 * quota applies. `proc_cgroup` is the path of a /proc/self/cgroup file and
 * `cgroup_root` the cgroup filesystem's mount point; both are parameters
 * so the tests can point them at fake trees. Handles cgroup v2 (cpu.max)
 * and v1 (cpu.cfs_quota_us / cpu.cfs_period_us), walking from the
 * process's own cgroup up to the root and keeping the tightest limit. */
unsigned cpus_cgroup_limit(const char *proc_cgroup, const char *cgroup_root);

#endif
