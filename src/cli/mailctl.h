/* mailctl.h: portalctl mail: a site's outbox (list, show, resend), its mail settings, a
 * test send, and the table of which event or schedule sends which message. */
#ifndef PORTALD_MAILCTL_H
#define PORTALD_MAILCTL_H

#include "core/config.h"
#include "db/db.h"

/* argv[0] is the subcommand (after "mail"). Prints JSON; returns the exit status. */
int	mailctl_main(struct db *db, const struct config *cfg, int argc, char **argv);
/* The usage lines of "portalctl mail ...". */
extern const char mailctl_usage[];

#endif
