/* vmm's passt for a mode = "user" NIC: its command line, start through the
 * sandbox's launcher, and supervision (see passt.h). The options are those
 * of Debian 12's passt (0.0~git20230309): --fd takes a connected socket and
 * implies --one-off, so passt exits when vmm closes its end. */
#include "passt.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

struct passt {
	const struct net_config *nc;
	char name[64];
	int op;			/* the sandbox launcher's handle */
	pid_t pid;		/* the running passt, or -1 */
	unsigned restarts;	/* within the window that began at window_s */
	time_t window_s;
};

/* In the new process (a fork of vmm before its threads, or of its
 * single-threaded launcher): async-signal-safe calls only, and strings
 * built here, since only `nc` was there when the launcher forked. `lfd` is
 * the listening socket vmm's end is already queued on. */
static void exec_passt(const void *arg, int lfd)
{
	const struct net_config *nc = arg;
	static char spec[VM_FORWARD_MAX][64];	/* ADDRESS/HOST:GUEST */
	char *argv[16 + 2 * VM_FORWARD_MAX];
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int n = 0, c;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* vmm blocks SIGTERM in its threads */
	sigaction(SIGPIPE, &dfl, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	setpgid(0, 0);				/* the terminal's ^C is for vmm */
	c = accept(lfd, NULL, NULL);		/* vmm's connection, queued */
	if (c < 0)
		_exit(126);
	if (c != 3 && dup2(c, 3) < 0)
		_exit(126);
	argv[n++] = nc->passt;
	argv[n++] = "--foreground";	/* vmm supervises this very process */
	argv[n++] = "--stderr";		/* messages go where vmm's go */
	argv[n++] = "--quiet";
	argv[n++] = "--fd";
	argv[n++] = "3";
	/* The MTU vmm's virtio-net advertises: DHCP gives the guest the same. */
	argv[n++] = "--mtu";
	argv[n++] = "1500";
	for (size_t i = 0; i < nc->n_forward; i++) {
		const struct net_forward *f = &nc->forward[i];

		snprintf(spec[i], sizeof(spec[i]), "%s/%u:%u", nc->forward_address,
			 f->host_port, f->guest_port);
		argv[n++] = f->proto == NET_PROTO_UDP ? "--udp-ports" : "--tcp-ports";
		argv[n++] = spec[i];
	}
	argv[n] = NULL;
	execv(argv[0], argv);
	_exit(127);
}

/* Reaps passt, waiting up to `ms` for it to end; true when it did. */
static bool reap(struct passt *p, unsigned ms)
{
	pid_t r;
	int st;

	for (unsigned i = 0;; i++) {
		r = waitpid(p->pid, &st, WNOHANG);
		if (r != 0 || i * 10 >= ms)
			break;
		usleep(10000);
	}
	if (r == 0)
		return false;
	if (r < 0)
		log_warn("%s: waiting for passt (pid %d): %m", p->name, (int)p->pid);
	else if (WIFSIGNALED(st))
		log_warn("%s: passt (pid %d) was killed by signal %d (%s)", p->name,
			 (int)p->pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st))
		log_warn("%s: passt (pid %d) exited with status %d%s", p->name, (int)p->pid,
			 WEXITSTATUS(st), WEXITSTATUS(st) == 127 ? " (cannot run it)" : "");
	else
		log_info("%s: passt (pid %d) exited", p->name, (int)p->pid);
	p->pid = -1;
	return true;
}

/* Ends passt, which may have ended already. The signals go through the
 * sandbox's launcher, which holds a pidfd of it. */
static void stop(struct passt *p, unsigned grace_ms)
{
	if (p->pid <= 0)
		return;
	if (reap(p, grace_ms))
		return;
	sandbox_signal(p->op, SIGTERM);
	if (reap(p, 1000))
		return;
	if (sandbox_signal(p->op, SIGKILL) == 0 && reap(p, 1000))
		return;
	log_warn("%s: cannot stop passt (pid %d)", p->name, (int)p->pid);
	p->pid = -1;
}

static int start(struct passt *p, int *fd)
{
	int ret = sandbox_start(p->op, fd, &p->pid);

	if (ret < 0) {
		p->pid = -1;
		log_err("%s: starting %s: %s", p->name, p->nc->passt, strerror(-ret));
		return ret;
	}
	log_info("%s: started %s (pid %d), %zu port forward(s) on %s", p->name, p->nc->passt,
		 (int)p->pid, p->nc->n_forward, p->nc->forward_address);
	return 0;
}

int passt_new(const struct net_config *nc, const char *name, struct passt **out, int *fd)
{
	struct passt *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	p->nc = nc;
	p->pid = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	/* All the launcher will do for this NIC: start this passt, with this
	 * (never changing) config. */
	p->op = sandbox_register(p->name, exec_passt, nc);
	if (p->op < 0) {
		ret = p->op;
		log_err("%s: registering passt with the sandbox's launcher: %s", name,
			strerror(-ret));
		free(p);
		return ret;
	}
	ret = start(p, fd);
	if (ret < 0) {
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

int passt_restart(struct passt *p, int *fd)
{
	struct timespec now;

	/* Its end of the socket is closed: it is ending, or ended. */
	stop(p, 500);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - p->window_s >= PASST_RESTART_WINDOW_S) {
		p->window_s = now.tv_sec;
		p->restarts = 0;
	}
	if (p->restarts >= PASST_MAX_RESTARTS) {
		log_err("%s: passt ended %d times within %d s; not restarting it: the guest's "
			"link is down", p->name, PASST_MAX_RESTARTS, PASST_RESTART_WINDOW_S);
		return -EIO;
	}
	p->restarts++;
	return start(p, fd);
}

void passt_free(struct passt *p)
{
	if (!p)
		return;
	stop(p, 1000);
	free(p);
}
