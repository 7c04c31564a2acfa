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

size_t
tz_format(char *out, size_t n, const char *fmt, long long ts, const char *zone)
{
	static char current[72];
	time_t t = (time_t)ts;
	struct tm tm;
	size_t len;

	if (zone == NULL)
		zone = "UTC";
	if (strcmp(current, zone) != 0) {
		if (!tz_valid(zone))
			zone = "UTC";
		setenv("TZ", zone, 1);
		tzset();
		snprintf(current, sizeof(current), "%s", zone);
	}
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
