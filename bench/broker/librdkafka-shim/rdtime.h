/* See rd.h: rd_ts_t and rd_clock() are defined there. */
#include "rd.h"
