/* ptyrun: runs a command on a new pseudo-terminal, as someone at a terminal
 * would, for the integration tests that need one (console_attach.sh; the
 * test host has no tmux, and socat only on x86_64). What ptyrun reads on
 * stdin is typed into the terminal, what the terminal shows goes to stdout.
 * When the command has exited, ptyrun prints
 *   ptyrun: exit STATUS icanon=0|1 echo=0|1
 * to stderr (the terminal modes the command left behind: a program that
 * set raw mode must have restored them) and exits with STATUS: the
 * command's exit status, or 128 + N after signal N.
 *
 * Usage: ptyrun COMMAND [ARG...]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies what the terminal has for us to stdout; false at its end. */
static int drain(int master)
{
	char buf[4096];
	ssize_t n = read(master, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0)
		return 0;
	return write_all(STDOUT_FILENO, buf, (size_t)n) == 0;
}

int main(int argc, char **argv)
{
	struct termios t;
	int master, slave, status, in_open = 1, exited = 0, code;
	const char *name;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "Usage: ptyrun COMMAND [ARG...]\n");
		return 2;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
	    !(name = ptsname(master))) {
		perror("ptyrun: pseudo-terminal");
		return 125;
	}
	/* Kept open here: the terminal outlives the command, so its modes can
	 * be read after it exited. */
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		perror("ptyrun: open the terminal");
		return 125;
	}
	pid = fork();
	if (pid < 0) {
		perror("ptyrun: fork");
		return 125;
	}
	if (pid == 0) {
		int fd;

		/* A session of its own, the terminal its controlling one. */
		setsid();
		fd = open(name, O_RDWR);
		if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			perror("ptyrun: terminal as stdio");
			_exit(125);
		}
		if (fd > 2)
			close(fd);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "ptyrun: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	fcntl(master, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p[2] = { { .fd = master, .events = POLLIN },
				       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };

		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			break;
		}
		if (poll(p, 2, 50) < 0 && errno != EINTR)
			break;
		if ((p[0].revents & POLLIN) && !drain(master))
			break;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[1024];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n <= 0 && !(n < 0 && errno == EINTR))
				in_open = 0;	/* the end of our input: type no more */
			else if (n > 0 && write_all(master, buf, (size_t)n) < 0)
				in_open = 0;
		}
	}
	if (!exited && waitpid(pid, &status, 0) != pid)
		return 125;
	while (drain(master)) {
		struct pollfd p = { .fd = master, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			break;
	}
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (tcgetattr(slave, &t) < 0) {
		perror("ptyrun: terminal modes");
		return 125;
	}
	fprintf(stderr, "ptyrun: exit %d icanon=%d echo=%d\n", code,
		!!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO));
	return code;
}
