/* tz.c: time zones through the C library: TZ set to the zone's name, then localtime_r.
 * glibc reads /usr/share/zoneinfo (tzdata) and caches the last zone it loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tz.h"

#define ZONEINFO "/usr/share/zoneinfo/"

bool
tz_valid(const char *name)
{
	char path[128], magic[4];
	size_t n = strlen(name);
	FILE *f;
	bool ok;

	if (n == 0 || n > 64 || name[0] == '/' || name[0] == '.' || strstr(name, "..") ||
	    strstr(name, "//") || name[n - 1] == '/')
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return false;
	snprintf(path, sizeof(path), ZONEINFO "%s", name);
	if ((f = fopen(path, "rb")) == NULL)
		return false;
	ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok;
}

/* Makes zone the process's time zone, once per change (glibc caches the loaded zone). */
static void
use_zone(const char *zone)
{
	static char current[72];

	if (zone == NULL)
		zone = "UTC";
	if (strcmp(current, zone) != 0) {
		if (!tz_valid(zone))
			zone = "UTC";
		setenv("TZ", zone, 1);
		tzset();
		snprintf(current, sizeof(current), "%s", zone);
	}
}

long long
tz_mktime(int y, int m, int d, int hh, int mm, const char *zone)
{
	struct tm tm;

	use_zone(zone);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_isdst = -1;	/* the zone's rule for that day */
	return (long long)mktime(&tm);
}

int
tz_parse_date(const char *s, int *y, int *m, int *d)
{
	static const int days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	*y = atoi(s);
	*m = atoi(s + 5);
	*d = atoi(s + 8);
	if (*y < 1970 || *m < 1 || *m > 12 || *d < 1 || *d > days[*m - 1])
		return -1;
	if (*m == 2 && *d == 29 && !((*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0))
		return -1;
	return 0;
}

void
tz_localtime(long long ts, const char *zone, struct tm *out)
{
	time_t t = (time_t)ts;

	use_zone(zone);
	localtime_r(&t, out);
}

size_t
tz_format(char *out, size_t n, const char *fmt, long long ts, const char *zone)
{
	time_t t = (time_t)ts;
	struct tm tm;
	size_t len;

	use_zone(zone);
	localtime_r(&t, &tm);
	/* fmt comes from the program, never from input. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	len = strftime(out, n, fmt, &tm);
#pragma GCC diagnostic pop
	if (len == 0 && n > 0)
		out[0] = '\0';
	return len;
}
