/* Private to the control socket's server (control.c) and its console
 * attach (control_console.c). */
#ifndef VMM_CONTROL_INTERNAL_H
#define VMM_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"

struct client {
	int fd;			/* -1: free slot */
	size_t len;		/* bytes of an unfinished request in buf; attached:
				 * input the guest has not taken yet */
	uint64_t last_us;	/* last time it sent something */
	uint32_t events;	/* what epoll watches on fd */
	bool console;		/* attached to the serial console: a byte stream */
	uint64_t pos;		/* attached: the next console output position */
	size_t note_len, note_off; /* attached: a notice being sent, and how far */
	char note[128];
	char buf[CONTROL_LINE_MAX];
};

struct control {
	int epfd;		/* what control_fd hands to the main loop */
	int lfd;		/* listening socket */
	int lockfd;		/* PATH.lock, flock()ed while we live */
	int timerfd;		/* idle clients; re-arming a paused listener */
	int consfd;		/* eventfd: console output or input room */
	int console_cl;		/* the attached client's slot; -1: none */
	bool listen_paused;	/* accept failed for lack of fds */
	bool bound;		/* we made the socket at `path`: dev/ino say which */
	dev_t dev;
	ino_t ino;
	char *path;
	struct client clients[CONTROL_CLIENTS_MAX];
};

/* control.c: closes the client's connection and frees its slot. */
void control_drop(struct client *cl);
/* control.c: one line sent whole, or the client dropped. */
void control_reply(struct client *cl, const char *text);
/* control.c: changes what epoll watches on the client's fd; 0 or -errno. */
int control_watch(struct control *c, struct client *cl, uint32_t events);

/* control_console.c, the server's side of `console`, main thread:
 * attaches `cl` (which just asked) or refuses it with a reply line, then
 * hands the console input it sent after the request line (cl->buf, len) to
 * the guest. */
void control_console_attach(struct control *c, struct client *cl,
			    const struct control_vm_ops *ops, void *vm);
/* epoll reported `events` on the attached client. */
void control_console_event(struct control *c, struct client *cl, uint32_t events,
			   const struct control_vm_ops *ops, void *vm);
/* c->consfd is readable: more output, or the guest took input. */
void control_console_kick(struct control *c, const struct control_vm_ops *ops, void *vm);
/* After any event: tells the VM when the attached client went away. */
void control_console_reap(struct control *c, const struct control_vm_ops *ops, void *vm);

#endif
