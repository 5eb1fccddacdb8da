#ifndef WHARF_CSYSTEM_H
#define WHARF_CSYSTEM_H
/*
 * Small shims over Linux system calls that Swift cannot import cleanly: `struct epoll_event` is packed on x86-64,
 * `fcntl`/`ioctl` are variadic, socket addresses need casting, and errno is easier to return than to read back.
 *
 * Conventions: every function that can fail returns a negative errno value (-EAGAIN, -EADDRINUSE, ...) instead of
 * -1 + errno, so callers never race on the thread-local errno. All descriptors are created close-on-exec and
 * (for sockets) non-blocking. Threading: every function is safe to call from any thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- epoll ---------------------------------------------------------------------------------------------- */

/** One readiness report: a non-packed copy of `struct epoll_event`. */
typedef struct {
    uint32_t events; /* EPOLLIN, EPOLLOUT, ... (the wharf_EPOLL* constants below) */
    uint64_t data;   /* the value given to wharf_epoll_add */
} wharf_epoll_event;

/* Event bits, mirrored so Swift sees plain integer constants. */
extern const uint32_t wharf_EPOLLIN;
extern const uint32_t wharf_EPOLLOUT;
extern const uint32_t wharf_EPOLLERR;
extern const uint32_t wharf_EPOLLHUP;
extern const uint32_t wharf_EPOLLRDHUP;
extern const uint32_t wharf_EPOLLET;

/** epoll_create1(EPOLL_CLOEXEC). Returns the descriptor or -errno. */
int wharf_epoll_create(void);
/** Registers `fd` for `events`; `data` comes back in each report. Returns 0 or -errno. */
int wharf_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
/** Changes the interest set of a registered `fd`. Returns 0 or -errno. */
int wharf_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data);
/** Unregisters `fd`. Returns 0 or -errno. */
int wharf_epoll_remove(int epfd, int fd);
/**
 * Waits up to `timeout_ms` (-1 = forever) and copies at most `max_events` (<= 1024) reports into `events`
 * (owned by the caller). Returns the count (0 on timeout or EINTR) or -errno.
 */
int wharf_epoll_wait(int epfd, wharf_epoll_event *events, int max_events, int timeout_ms);

/* ---- eventfd (cross-thread wake-ups) -------------------------------------------------------------------- */

/** A non-blocking, close-on-exec eventfd with counter 0. Returns the descriptor or -errno. */
int wharf_eventfd_create(void);
/** Adds 1 to the counter, waking an epoll waiter. Returns 0 or -errno. */
int wharf_eventfd_signal(int fd);
/** Resets the counter to 0 (reads it). Returns 0 or -errno (-EAGAIN when it was already 0). */
int wharf_eventfd_drain(int fd);

/* ---- sockets -------------------------------------------------------------------------------------------- */

/** Failure of name resolution in wharf_tcp_listen (not an errno; errnos are small positive numbers). */
#define WHARF_ERR_RESOLVE 100000

/**
 * Resolves `host` (numeric or a name such as "localhost"), then socket + SO_REUSEADDR + bind + listen(`backlog`),
 * non-blocking and close-on-exec. `port` 0 picks an ephemeral port. On success returns the descriptor and stores
 * the bound port in `*bound_port`. On failure returns -errno, or -WHARF_ERR_RESOLVE when `host` does not resolve.
 */
int wharf_tcp_listen(const char *host, int port, int backlog, int *bound_port);

/**
 * accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) and TCP_NODELAY on the new socket. Writes the peer as "1.2.3.4:5678" or
 * "[::1]:5678" (NUL-terminated, truncated to `address_capacity`) into `address` (owned by the caller).
 * Returns the descriptor or -errno (-EAGAIN when no connection is pending).
 */
int wharf_accept(int listen_fd, char *address, size_t address_capacity);

/** recv(2). Returns bytes read (0 = orderly shutdown by the peer) or -errno. */
ssize_t wharf_recv(int fd, void *buffer, size_t length);
/** send(2) with MSG_NOSIGNAL, so a vanished peer yields -EPIPE instead of SIGPIPE. Returns bytes sent or -errno. */
ssize_t wharf_send(int fd, const void *buffer, size_t length);
/** shutdown(fd, SHUT_WR): sends FIN after queued data. Returns 0 or -errno. */
int wharf_shutdown_write(int fd);
/** close(2). Returns 0 or -errno. */
int wharf_close(int fd);

/* ---- process and time ----------------------------------------------------------------------------------- */

/** Names the calling thread (first 15 bytes shown by ps/top/gdb). */
void wharf_set_thread_name(const char *name);
/** Sets SIGPIPE to SIG_IGN for the whole process (idempotent). */
void wharf_ignore_sigpipe(void);
/** CLOCK_MONOTONIC in milliseconds. */
uint64_t wharf_monotonic_ms(void);
/** Wall-clock seconds since the Unix epoch. */
int64_t wharf_wall_seconds(void);
/** Formats `seconds` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"): exactly 29 bytes, no NUL, into `out`. */
void wharf_http_date(int64_t seconds, char out[29]);

#endif
