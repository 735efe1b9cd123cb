/* The machine's memory read bandwidth, the bar that decode speed is judged
 * against (qwenc bench --bandwidth). */
#ifndef QW_CLI_MEMBW_H
#define QW_CLI_MEMBW_H

/* GB/s of n_threads threads each summing its share of a 1 GiB array (best
 * of 5 passes), measured in a child process so the array never counts in
 * the caller's peak RSS; 0 when it could not be measured. */
double membw_read_gbps(int n_threads);

#endif
