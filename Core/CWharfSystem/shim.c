#define _GNU_SOURCE
#include "CWharfSystem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const uint32_t wharf_EPOLLIN = EPOLLIN;
const uint32_t wharf_EPOLLOUT = EPOLLOUT;
const uint32_t wharf_EPOLLERR = EPOLLERR;
const uint32_t wharf_EPOLLHUP = EPOLLHUP;
const uint32_t wharf_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t wharf_EPOLLET = EPOLLET;

int wharf_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int epoll_control(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int wharf_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    return epoll_control(epfd, EPOLL_CTL_ADD, fd, events, data);
}

int wharf_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data) {
    return epoll_control(epfd, EPOLL_CTL_MOD, fd, events, data);
}

int wharf_epoll_remove(int epfd, int fd) {
    struct epoll_event ev; /* non-NULL for kernels before 2.6.9 */
    memset(&ev, 0, sizeof ev);
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

int wharf_epoll_wait(int epfd, wharf_epoll_event *events, int max_events, int timeout_ms) {
    struct epoll_event raw[1024];
    if (max_events > 1024) max_events = 1024;
    if (max_events < 1) return -EINVAL;
    int n = epoll_wait(epfd, raw, max_events, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return n;
}

int wharf_eventfd_create(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int wharf_eventfd_signal(int fd) {
    uint64_t one = 1;
    for (;;) {
        ssize_t n = write(fd, &one, sizeof one);
        if (n == (ssize_t)sizeof one) return 0;
        if (n < 0 && errno == EINTR) continue;
        /* EAGAIN means the counter is saturated: a wake-up is pending anyway. */
        return n < 0 ? (errno == EAGAIN ? 0 : -errno) : -EIO;
    }
}

int wharf_eventfd_drain(int fd) {
    uint64_t value;
    for (;;) {
        ssize_t n = read(fd, &value, sizeof value);
        if (n == (ssize_t)sizeof value) return 0;
        if (n < 0 && errno == EINTR) continue;
        return n < 0 ? -errno : -EIO;
    }
}

int wharf_tcp_listen(const char *host, int port, int backlog, int *bound_port) {
    struct addrinfo hints, *result = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    const char *node = (host == NULL || host[0] == '\0') ? NULL : host;
    if (getaddrinfo(node, service, &hints, &result) != 0 || result == NULL) return -WHARF_ERR_RESOLVE;

    int last_error = EADDRNOTAVAIL;
    for (struct addrinfo *ai = result; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { last_error = errno; continue; }
        int one = 1;
        /* SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT; on Linux it never
           lets two live listeners share a port (SO_REUSEPORT would, which is why it is not used). */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
            last_error = errno;
            close(fd);
            continue;
        }
        struct sockaddr_storage bound;
        socklen_t len = sizeof bound;
        if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0) {
            if (bound.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
            else if (bound.ss_family == AF_INET6) *bound_port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
            else *bound_port = port;
        }
        freeaddrinfo(result);
        return fd;
    }
    freeaddrinfo(result);
    return -last_error;
}

int wharf_accept(int listen_fd, char *address, size_t address_capacity) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd;
    do {
        fd = accept4(listen_fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    int one = 1;
    /* Responses are written in one call; Nagle would only delay them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (address != NULL && address_capacity > 0) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (peer.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&peer;
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
            snprintf(address, address_capacity, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
        } else if (peer.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
            snprintf(address, address_capacity, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
        } else {
            snprintf(address, address_capacity, "unknown");
        }
    }
    return fd;
}

ssize_t wharf_recv(int fd, void *buffer, size_t length) {
    for (;;) {
        ssize_t n = recv(fd, buffer, length, 0);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

ssize_t wharf_send(int fd, const void *buffer, size_t length) {
    for (;;) {
        ssize_t n = send(fd, buffer, length, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

int wharf_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }

int wharf_close(int fd) { return close(fd) < 0 ? -errno : 0; }

void wharf_set_thread_name(const char *name) {
    char short_name[16];
    snprintf(short_name, sizeof short_name, "%s", name);
    pthread_setname_np(pthread_self(), short_name);
}

void wharf_ignore_sigpipe(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

uint64_t wharf_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t wharf_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void wharf_http_date(int64_t seconds, char out[29]) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buffer[40];
    snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buffer, 29);
}
