/* terms.c: calendar-correct billing periods and proration. */
#include <string.h>
#include <time.h>

#include "billing/terms.h"

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

long long
terms_add(long long ts, const char *unit, int count, int anchor_day)
{
	time_t t = (time_t)ts;
	struct tm tm;
	long months, total;
	int y, m, dim;

	if (strcmp(unit, "day") == 0)
		return ts + (long long)count * 86400;
	if (strcmp(unit, "week") == 0)
		return ts + (long long)count * 7 * 86400;
	months = strcmp(unit, "year") == 0 ? 12L * count : count;
	gmtime_r(&t, &tm);
	total = (long)(tm.tm_year + 1900) * 12 + tm.tm_mon + months;
	y = (int)(total / 12);
	m = (int)(total % 12) + 1;
	dim = days_in_month(y, m);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = anchor_day < dim ? anchor_day : dim;
	return (long long)timegm(&tm);
}

int
terms_anchor_day(long long ts)
{
	time_t t = (time_t)ts;
	struct tm tm;

	gmtime_r(&t, &tm);
	return tm.tm_mday;
}

long long
terms_prorate(long long amount, long long part, long long whole)
{
	__int128 num;

	if (whole <= 0 || part <= 0)
		return 0;
	if (part > whole)
		part = whole;
	num = (__int128)amount * part;
	if (num >= 0)
		return (long long)((num * 2 + whole) / (2 * (__int128)whole));
	return -(long long)((-num * 2 + whole) / (2 * (__int128)whole));
}

long long
terms_count_between(long long start, long long end, const char *unit, int count)
{
	long long n = 0, t = start;
	int anchor = terms_anchor_day(start);

	if (count <= 0)
		return 0;
	/* Days and weeks by division; months walk (at most 12 a year, bounded below). */
	if (strcmp(unit, "day") == 0 || strcmp(unit, "week") == 0) {
		long long len = (long long)count * 86400 * (strcmp(unit, "week") == 0 ? 7 : 1);

		return end > start ? (end - start + len - 1) / len : 0;
	}
	while (t < end && n < 1000000) {
		t = terms_add(t, unit, count, anchor);
		n++;
	}
	return n;
}
