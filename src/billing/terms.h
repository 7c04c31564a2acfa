/* terms.h: billing periods on the calendar and the proration rule. Pure functions. */
#ifndef PORTALD_TERMS_H
#define PORTALD_TERMS_H

/* ts plus count units (day, week, month, year). Months and years are calendar months: the
 * day of month is the anchor day, clamped to the month's length (Jan 31 + 1 month = Feb 28
 * or 29; + 2 months = Mar 31). Time of day is kept. UTC. */
long long terms_add(long long ts, const char *unit, int count, int anchor_day);
/* The day of month of ts (UTC): the anchor of a term that starts at ts. */
int	terms_anchor_day(long long ts);
/* amount * part / whole, rounded half up (half away from zero): the proration rule.
 * 0 when part or whole is not positive; part is capped at whole. */
long long terms_prorate(long long amount, long long part, long long whole);
/* How many terms of (unit, count) from start fit before end: bounds the time machine. */
long long terms_count_between(long long start, long long end, const char *unit, int count);

#endif
