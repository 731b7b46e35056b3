/* shims.h: the Linux calls that Swift's Glibc module hides behind
 * _GNU_SOURCE, declared here exactly as glibc declares them, and epoll's own
 * header, which the Glibc module leaves out. Nothing else. */
#ifndef SAGSOCKET_SHIMS_H
#define SAGSOCKET_SHIMS_H
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

extern int accept4(int fd, struct sockaddr *addr, socklen_t *addr_len, int flags);
extern int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
                 const sigset_t *sigmask);
extern int eventfd(unsigned int count, int flags);
#endif
