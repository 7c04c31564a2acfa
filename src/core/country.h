/* country.h: the ISO 3166-1 country list (code and English name) for address forms. */
#ifndef PORTALD_COUNTRY_H
#define PORTALD_COUNTRY_H

struct country {
	const char	*code;	/* alpha-2, upper case */
	const char	*name;
};

/* Sorted by name; terminated by an entry whose code is NULL. */
extern const struct country countries[];

/* The English short name of an alpha-2 code, or NULL when there is no such country. */
const char *country_name(const char *code);

#endif
