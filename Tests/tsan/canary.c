/* canary.c: a deliberate data race, built and run like races.c, so the
 * ThreadSanitizer run proves it is on and its reports are counted (the
 * script expects exactly one report from this program). */
#include <pthread.h>
#include <stdio.h>

static int shared; /* written by two threads, no synchronization */

static void *bump(void *arg) {
    (void)arg;
    shared++;
    return NULL;
}

int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("canary: %d\n", shared);
    return 0;
}
