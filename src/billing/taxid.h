/* taxid.h: tax ids typed as Stripe types them (eu_vat, gb_vat, au_abn, ...), checked for
 * format and check digits offline, and written in one canonical form. */
#ifndef PORTALD_TAXID_H
#define PORTALD_TAXID_H

#include <stdbool.h>
#include <stddef.h>

/* Room for any canonical form this module writes, NUL included. */
#define TAXID_MAX	72

/*
 * Checks value as a tax id of the given Stripe type and writes its canonical form.
 * Input as people type it is accepted: spaces, dots, dashes and slashes, lower case,
 * and the country prefix where the number is complete without it (GB for gb_vat, NO
 * and MVA for no_vat, CHE for ch_vat). eu_vat needs its prefix, since that names the
 * member state ("DE123456789"; GR is read as Greece's EL, XI is Northern Ireland).
 * Canonical forms follow Stripe's examples: "DE123456789", "GB123456789",
 * "CHE-123.456.789 MWST", "123456789MVA", "12-3456789", "01.234.456/5432-10", ...
 * Types whose format this module does not know ("de_stn", ...) and "other" are
 * accepted with bounds only: 1 to 64 bytes of valid UTF-8, no control characters,
 * outer spaces trimmed and inner runs of spaces made one.
 * Returns 0, or -1 with a message in err such as "eu_vat: the check digit does not
 * match" or "unknown tax id type 'xx'". normalized is "" on failure; it may be the
 * same buffer as value.
 */
int	taxid_validate(const char *type, const char *value, char *normalized, size_t n,
	    char *err, size_t errlen);

/*
 * The ISO 3166 country a canonical id belongs to, written to cc and returned; NULL
 * when the type names none (other, eu_oss_vat) or the id is not canonical. eu_vat
 * gives the member state, with EL as "GR" and XI (Northern Ireland) as "GB": Northern
 * Ireland is in the EU VAT area for goods only, and Portald bills services, so an XI
 * number is never an EU reverse-charge customer.
 */
const char *taxid_country(const char *type, const char *normalized, char cc[3]);

/* True for an eu_vat id of an EU member state (so false for XI), the one kind of id
 * the reverse charge applies to. normalized must be taxid_validate's output. */
bool	taxid_is_eu_vat(const char *type, const char *normalized);

/* True when cc (ISO 3166 alpha-2, upper case) is one of the 27 EU member states.
 * Greece is "GR" here, never the VAT prefix "EL". */
bool	taxid_eu_member(const char *cc);

/* True when type is a tax id type Stripe defines (checked or not) or "other". */
bool	taxid_type_known(const char *type);

#endif
