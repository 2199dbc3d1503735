/* gesta — how many threads the CPU backend's kernels use.
 *
 * The CPU kernels split their work across one pool of gesta's own threads
 * (the calling thread and count - 1 workers, started at the first kernel
 * that needs them) and run every matrix product on OpenBLAS with one
 * thread each, so the two never compete for the cores. Idle workers spin
 * for a few tens of microseconds, then sleep until the next kernel, so they
 * leave the cores to other processes between runs. The count is
 * process-wide, as the pool and OpenBLAS' threads are: it applies to every
 * CPU backend, and to the layers an OpenCL device leaves to the CPU. The
 * workers are joined when the process exits. Two threads may run models at
 * once: while one's kernel uses the pool, the other's runs on its own
 * thread alone.
 *
 * Results are bit-identical from run to run for a given count: work is
 * split statically and partial sums are combined in a fixed order. A
 * different count may change the last bits of sums (gradients of convolution
 * kernels and biases, batch statistics). */
#ifndef GESTA_CPU_H
#define GESTA_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the thread count of the CPU kernels to n; n <= 0 restores the
 * default, the number of CPUs this process may run on (its affinity mask
 * when first asked). Keeps OpenBLAS at one thread. Takes effect at the next
 * kernel, which starts or stops workers to match; call it between runs, not
 * while another thread runs a model. */
void gesta_cpu_set_threads(int n);

/* The thread count the CPU kernels use now (at least 1). */
int gesta_cpu_threads(void);

#ifdef __cplusplus
}
#endif

#endif
