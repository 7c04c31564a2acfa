/* embedded.h: templates, migrations and data files compiled into the binaries. */
#ifndef PORTALD_EMBEDDED_H
#define PORTALD_EMBEDDED_H

struct embedded_file {
	const char *path;	/* e.g. "templates/layout.html", "sql/001_init.sql", "data/..." */
	const char *text;
};

/* Terminated by an entry whose path is NULL; in the order given to the build. */
extern const struct embedded_file embedded_files[];

/* Returns the text of the file at path, or NULL. */
const char *embedded_get(const char *path);

#endif
