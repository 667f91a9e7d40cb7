/* Time for durations and rates: one definition so every "seconds" and
 * "img/s" in logs, bench JSON and checkpoint intervals is measured alike. */
#ifndef QS_CLOCK_H
#define QS_CLOCK_H

/* Monotonic seconds (never jumps with the wall clock): for durations. */
double qs_now_s(void);
/* Unix seconds by the wall clock: for timestamps stored in the database and
 * compared between processes and hosts (started, finished, heartbeats). */
double qs_wall_s(void);
/* CPU seconds of this process (all threads). */
double qs_cpu_s(void);

#endif
