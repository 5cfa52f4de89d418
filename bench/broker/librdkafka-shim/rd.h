/*
 * The few internals of librdkafka's source tree that examples/rdkafka_performance.c uses
 * (it includes "../src/rd.h", "rd.h" and "rdtime.h"), so that it builds against the
 * installed headers and library: gcc -O2 -I<dir of this file> ... -lrdkafka.
 * Used by `npm run bench:broker` (bench/broker.ts), which builds the tool from
 * /usr/share/doc/librdkafka-dev/examples (Debian package librdkafka-dev).
 */
#ifndef FERRY_RD_SHIM_H
#define FERRY_RD_SHIM_H
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int64_t rd_ts_t;

/* Monotonic clock in microseconds, as librdkafka's rd_clock(). */
static inline rd_ts_t rd_clock(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (rd_ts_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define rd_snprintf snprintf
#endif
