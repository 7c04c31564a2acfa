/* tz.h: IANA time zones: names checked against the system's zoneinfo, dates shown in them. */
#ifndef PORTALD_TZ_H
#define PORTALD_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* true when name is an IANA zone ("Europe/Paris", "UTC") with a zoneinfo file. */
bool	tz_valid(const char *name);
/* strftime of ts (Unix seconds) in zone (UTC when the zone is not valid). Uses the
 * process's TZ, so only for single-threaded processes (each worker is one). */
size_t	tz_format(char *out, size_t n, const char *fmt, long long ts, const char *zone);

/* The calendar fields of ts in zone (UTC when not valid); the same caveat. */
void	tz_localtime(long long ts, const char *zone, struct tm *out);

/* The moment a wall-clock time of a day begins in zone (UTC when not valid): the Unix time
 * of y-m-d hh:mm there. */
long long tz_mktime(int y, int m, int d, int hh, int mm, const char *zone);
/* Reads "YYYY-MM-DD" (a real date of years 1970-9999); 0, or -1 when it is not one. */
int	tz_parse_date(const char *s, int *y, int *m, int *d);

#endif
