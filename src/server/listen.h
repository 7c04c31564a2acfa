/* listen.h: the FastCGI listening socket: a Unix socket of our own, or an inherited one. */
#ifndef PORTALD_LISTEN_H
#define PORTALD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"

struct listener {
	int	fd;
	bool	owned;		/* we created the path and may unlink it */
	dev_t	dev;
	ino_t	ino;
	char	path[CONFIG_STR_MAX];
};

/* Opens the socket named in cfg. Refuses to take a path a live instance listens on and
 * never unlinks anything that is not a stale socket. */
int	listen_open(const struct config *cfg, struct listener *l, char *err, size_t errlen);
/* Closes; unlinks the path only if it is still the socket we created. */
void	listen_close(struct listener *l);

#endif
