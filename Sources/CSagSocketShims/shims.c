/* shims.c: the one variable the shims keep (see include/shims.h). */
#include "shims.h"

static __thread int thread_waker;

int sag_thread_waker_get(void) { return thread_waker; }

void sag_thread_waker_set(int value) { thread_waker = value; }
