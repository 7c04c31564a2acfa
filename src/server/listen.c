/* listen.c: creates the Unix socket nginx connects to (mode, owner, group from the
 * config), or takes one inherited from systemd (fd 3 with LISTEN_FDS, or fd 0). A socket
 * systemd passes (portald.socket) is used whatever the config names: the socket unit owns
 * it, so a restart loses no connection. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/listen.h"
#include "core/log.h"

static bool
is_listening_socket(int fd)
{
	struct stat st;
	int acc = 0;
	socklen_t len = sizeof(acc);

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc;
}

/* True when systemd passed us a listening socket as fd 3 (sd_listen_fds(3)). The variables
 * are removed, as sd_listen_fds(1) does, so nothing we fork or exec takes them for its own. */
static bool
from_systemd(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	bool ours = fds != NULL && pid != NULL && atoi(fds) >= 1 && atoi(pid) == (int)getpid() &&
	    is_listening_socket(3);

	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return ours;
}

static int
inherited(struct listener *l, char *err, size_t errlen)
{
	if (from_systemd()) {
		l->fd = 3;
		return 0;
	}
	if (is_listening_socket(0)) {
		l->fd = 0;
		return 0;
	}
	snprintf(err, errlen, "socket = inherit, but neither fd 3 (LISTEN_FDS) nor fd 0 is a "
	    "listening socket");
	return -1;
}

/* An existing path: a socket nobody answers on is stale and may go; anything else stays. */
static int
check_existing(const char *path, char *err, size_t errlen)
{
	struct stat st;
	struct sockaddr_un sa;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not touching it", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another portald is listening there", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether it is in use: %s", path,
		    strerror(errno));
		return -1;
	}
	log_info("removing stale socket %s", path);
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
listen_open(const struct config *cfg, struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (strcmp(cfg->socket_path, "inherit") == 0)
		return inherited(l, err, errlen);
	if (from_systemd()) {
		log_info("using the socket systemd passed (fd 3), not creating %s",
		    cfg->socket_path);
		l->fd = 3;
		return 0;
	}
	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path is too long");
		return -1;
	}
	if (cfg->socket_owner[0] != '\0') {
		struct passwd *pw = getpwnam(cfg->socket_owner);
		if (pw == NULL) {
			snprintf(err, errlen, "socket_owner %s: no such user", cfg->socket_owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (cfg->socket_group[0] != '\0') {
		struct group *gr = getgrnam(cfg->socket_group);
		if (gr == NULL) {
			snprintf(err, errlen, "socket_group %s: no such group", cfg->socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (check_existing(cfg->socket_path, err, errlen) != 0)
		return -1;
	l->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->socket_path);
	/* Nobody may connect before the mode and owner are right. */
	old = umask(0177);
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		snprintf(err, errlen, "bind %s: %s", cfg->socket_path, strerror(errno));
		goto err;
	}
	umask(old);
	l->owned = true;
	snprintf(l->path, sizeof(l->path), "%s", cfg->socket_path);
	if (stat(l->path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(l->path, uid, gid) != 0) {
		snprintf(err, errlen, "chown %s: %s", l->path, strerror(errno));
		goto err;
	}
	if (chmod(l->path, cfg->socket_mode) != 0) {
		snprintf(err, errlen, "chmod %s: %s", l->path, strerror(errno));
		goto err;
	}
	if (listen(l->fd, 1024) != 0) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		goto err;
	}
	return 0;
err:
	listen_close(l);
	return -1;
}

void
listen_close(struct listener *l)
{
	struct stat st;

	if (l->fd >= 0 && l->fd > 2)
		close(l->fd);
	if (l->owned && stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	l->fd = -1;
	l->owned = false;
}
