/* The systemd notification protocol (sd_notify(3)) without libsystemd: one
 * datagram per message to the socket in $NOTIFY_SOCKET. Everything here is a
 * no-op when vmm was not started by a Type=notify unit. */
#ifndef VMM_NOTIFY_H
#define VMM_NOTIFY_H

/* Reads and unsets $NOTIFY_SOCKET (children must not notify in vmm's name)
 * and connects to it. Call once, single-threaded, before dropping
 * privileges: the socket may be reachable only by root. Returns 0, also
 * when there is nothing to notify, or -errno (logged; vmm carries on). */
int notify_init(void);

/* Sends `msg`, newline-separated VAR=value assignments ("READY=1",
 * "STATUS=..."). Safe from any thread; failures are logged once. */
void notify_send(const char *msg);

/* notify_send of a printf-formatted message. */
void notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void notify_close(void);

#endif
