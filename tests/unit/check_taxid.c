/* check_taxid.c: tax id validation by Stripe type, with published example numbers
 * (authorities' and python-stdnum's documented examples), each good one beside the
 * same number with a wrong check digit, length or prefix. */
#include <string.h>

#include "billing/taxid.h"
#include "check_main.h"

struct good {
	const char	*type, *in, *want;
};

struct bad {
	const char	*type, *in, *why;	/* why: part of the expected message */
};

static void
is_good(const struct good *g)
{
	char out[TAXID_MAX], err[200] = "";

	ck_assert_msg(taxid_validate(g->type, g->in, out, sizeof(out), err, sizeof(err)) == 0,
	    "%s '%s': %s", g->type, g->in, err);
	ck_assert_msg(strcmp(out, g->want) == 0, "%s '%s' gave '%s', want '%s'", g->type,
	    g->in, out, g->want);
	/* The canonical form is a fixed point. */
	ck_assert_int_eq(taxid_validate(g->type, out, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, g->want);
}

static void
is_bad(const struct bad *b)
{
	char out[TAXID_MAX] = "junk", err[200] = "";

	ck_assert_msg(taxid_validate(b->type, b->in, out, sizeof(out), err, sizeof(err)) == -1,
	    "%s '%s' was accepted as '%s'", b->type, b->in, out);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, b->why) != NULL, "%s '%s': '%s' lacks '%s'", b->type, b->in,
	    err, b->why);
	ck_assert_msg(strncmp(err, b->type, strlen(b->type)) == 0, "'%s' does not name %s",
	    err, b->type);
}

#define CHECK "the check digit does not match"

/* Every member state, XI, and the variants each one has (old and new formats). */
static const struct good eu_good[] = {
	{ "eu_vat", "AT U13585627", "ATU13585627" },
	{ "eu_vat", "BE 428759497", "BE0428759497" },		/* old 9 digits */
	{ "eu_vat", "be0428759497", "BE0428759497" },
	{ "eu_vat", "BG 175 074 752", "BG175074752" },
	{ "eu_vat", "CY-10259033P", "CY10259033P" },
	{ "eu_vat", "CZ 25123891", "CZ25123891" },		/* legal entity */
	{ "eu_vat", "CZ 710319/2745", "CZ7103192745" },		/* birth number */
	{ "eu_vat", "CZ640903926", "CZ640903926" },		/* special 9 digits */
	{ "eu_vat", "DE 136,695 976", "DE136695976" },
	{ "eu_vat", "DK 13585628", "DK13585628" },
	{ "eu_vat", "EE100594102", "EE100594102" },
	{ "eu_vat", "EL 094259216 ", "EL094259216" },
	{ "eu_vat", "GR094259216", "EL094259216" },		/* ISO code read as EL */
	{ "eu_vat", "ES B-58378431", "ESB58378431" },		/* CIF, digit */
	{ "eu_vat", "ESJ99216582", "ESJ99216582" },
	{ "eu_vat", "ES54362315K", "ES54362315K" },		/* DNI */
	{ "eu_vat", "ES X-5253868-R", "ESX5253868R" },		/* NIE */
	{ "eu_vat", "ES M-1234567-L", "ESM1234567L" },
	{ "eu_vat", "FI 20774740", "FI20774740" },
	{ "eu_vat", "Fr 40 303 265 045", "FR40303265045" },	/* numeric key */
	{ "eu_vat", "FR23334175221", "FR23334175221" },
	{ "eu_vat", "FRK7399859412", "FRK7399859412" },		/* letter keys */
	{ "eu_vat", "FR4Z123456782", "FR4Z123456782" },
	{ "eu_vat", "HR 33392005961", "HR33392005961" },
	{ "eu_vat", "HU-12892312", "HU12892312" },
	{ "eu_vat", "IE 6433435F", "IE6433435F" },
	{ "eu_vat", "IE 6433435OA", "IE6433435OA" },		/* 2013 format */
	{ "eu_vat", "IE8D79739I", "IE8D79739I" },		/* old format */
	{ "eu_vat", "IT 00743110157", "IT00743110157" },
	{ "eu_vat", "LT119511515", "LT119511515" },
	{ "eu_vat", "LT 100001919017", "LT100001919017" },
	{ "eu_vat", "LT100004801610", "LT100004801610" },	/* second weight set */
	{ "eu_vat", "LU 150 274 42", "LU15027442" },
	{ "eu_vat", "LV 4000 3521 600", "LV40003521600" },	/* legal entity */
	{ "eu_vat", "LV161175-19997", "LV16117519997" },	/* personal code */
	{ "eu_vat", "MT 1167-9112", "MT11679112" },
	{ "eu_vat", "NL004495445B01", "NL004495445B01" },	/* mod 11 */
	{ "eu_vat", "nl 0024.55.799.b.11", "NL002455799B11" },	/* 2020 sole trader, mod 97 */
	{ "eu_vat", "PL 8567346215", "PL8567346215" },
	{ "eu_vat", "PT 501 964 843", "PT501964843" },
	{ "eu_vat", "RO 185 472 90", "RO18547290" },
	{ "eu_vat", "SE 123456789701", "SE123456789701" },
	{ "eu_vat", "SI 5022 3054", "SI50223054" },
	{ "eu_vat", "SK 202 274 96 19", "SK2022749619" },
	{ "eu_vat", "XI 980 7806 84", "XI980780684" },
	{ "eu_vat", "XIGD001", "XIGD001" },
};

static const struct bad eu_bad[] = {
	{ "eu_vat", "ATU13585626", CHECK },
	{ "eu_vat", "AT13585627", "ATU followed by 8 digits" },
	{ "eu_vat", "BE0431150351", CHECK },
	{ "eu_vat", "BE2428759497", "starting with 0 or 1" },
	{ "eu_vat", "BG175074751", CHECK },
	{ "eu_vat", "CY10259033Z", CHECK },
	{ "eu_vat", "CY12000000C", "8 digits and a letter" },
	{ "eu_vat", "CZ25123890", CHECK },
	{ "eu_vat", "DE136695978", CHECK },
	{ "eu_vat", "DE13669597", "9 digits" },
	{ "eu_vat", "DE036695976", "9 digits" },
	{ "eu_vat", "DK13585627", CHECK },
	{ "eu_vat", "EE100594103", CHECK },
	{ "eu_vat", "EL123456781", CHECK },
	{ "eu_vat", "ESB64717839", CHECK },
	{ "eu_vat", "ESO1234567L", "NIF, NIE or CIF" },
	{ "eu_vat", "FI20774741", CHECK },
	{ "eu_vat", "FR84323140391", CHECK },
	{ "eu_vat", "FRIO334175221", "SIREN" },
	{ "eu_vat", "HR33392005962", CHECK },
	{ "eu_vat", "HU12892313", CHECK },
	{ "eu_vat", "IE6433435E", CHECK },
	{ "eu_vat", "IT00743110158", CHECK },
	{ "eu_vat", "IT00743112007", "11 digits" },		/* office 200 */
	{ "eu_vat", "LT100001919018", CHECK },
	{ "eu_vat", "LU15027443", CHECK },
	{ "eu_vat", "LV40003521601", CHECK },
	{ "eu_vat", "LV16137519997", "11 digits" },		/* month 13 */
	{ "eu_vat", "MT11679113", CHECK },
	{ "eu_vat", "NL123456789B90", CHECK },
	{ "eu_vat", "NL004495445C01", "B and 2 digits" },
	{ "eu_vat", "PL8567346216", CHECK },
	{ "eu_vat", "PT501964842", CHECK },
	{ "eu_vat", "RO18547291", CHECK },
	{ "eu_vat", "SE123456789101", CHECK },
	{ "eu_vat", "SE123456789702", "ending in 01" },
	{ "eu_vat", "SI50223055", CHECK },
	{ "eu_vat", "SK2022749618", CHECK },
	{ "eu_vat", "XI802311781", CHECK },
	{ "eu_vat", "136695976", "start with the member state's prefix" },
	{ "eu_vat", "GB980780684", "not an EU member state prefix" },
	{ "eu_vat", "CH123456789", "not an EU member state prefix" },
	{ "eu_vat", "DE136695976!", "'!' does not belong" },
	{ "eu_vat", "", "empty" },
	{ "eu_vat", " - . ", "empty" },
};

static const struct good other_good[] = {
	{ "gb_vat", "GB 980 7806 84", "GB980780684" },
	{ "gb_vat", "980780684", "GB980780684" },
	{ "gb_vat", "GB980780684001", "GB980780684001" },	/* branch */
	{ "gb_vat", "GB100000034", "GB100000034" },		/* 9755; constructed, computed */
	{ "gb_vat", "gbgd001", "GBGD001" },
	{ "gb_vat", "GBHA500", "GBHA500" },
	{ "ch_vat", "che-107.787.577 iva", "CHE-107.787.577 IVA" },
	{ "ch_vat", "CHE107787577MWST", "CHE-107.787.577 MWST" },
	{ "ch_vat", "107 787 577 TVA", "CHE-107.787.577 TVA" },
	{ "ch_uid", "CHE-100.155.212", "CHE-100.155.212" },
	{ "ch_uid", "100155212", "CHE-100.155.212" },
	{ "no_vat", "NO 995 525 828 MVA", "995525828MVA" },
	{ "no_vat", "995525828", "995525828MVA" },
	{ "au_abn", "83 914 571 673", "83914571673" },
	{ "au_abn", "51 824 753 556", "51824753556" },		/* the ATO's example */
	{ "ca_bn", "12302 6635", "123026635" },
	{ "ca_gst_hst", "123026635 RT 0001", "123026635RT0001" },
	{ "ca_qst", "1234567890 TQ 1234", "1234567890TQ1234" },
	{ "us_ein", "91-1144442", "91-1144442" },
	{ "us_ein", "911144442", "91-1144442" },
	{ "us_ein", "04-2103594", "04-2103594" },
	{ "in_gst", "27aapfu0939f1zv", "27AAPFU0939F1ZV" },
	{ "br_cnpj", "16.727.230/0001-97", "16.727.230/0001-97" },
	{ "br_cnpj", "16727230000197", "16.727.230/0001-97" },
	{ "br_cnpj", "12.ABC.345/01DE-35", "12.ABC.345/01DE-35" },	/* RFB's 2026 example */
	{ "br_cpf", "390.533.447-05", "390.533.447-05" },
	{ "jp_cn", "5-8356-7825-6246", "5835678256246" },
	{ "jp_trn", "T5835678256246", "T5835678256246" },
	{ "nz_gst", "4909185-0", "49091850" },
	{ "nz_gst", "NZ 49-098-576", "49098576" },
	{ "nz_gst", "136410132", "136410132" },
	{ "sg_uen", "00192200M", "00192200M" },			/* business */
	{ "sg_uen", "197401143C", "197401143C" },		/* local company */
	{ "sg_uen", "S16FC0121D", "S16FC0121D" },		/* other entity */
	{ "sg_uen", "T01FC6132D", "T01FC6132D" },
	{ "sg_gst", "M12345678X", "M12345678X" },
	{ "sg_gst", "197401143C", "197401143C" },
	{ "za_vat", "4123456789", "4123456789" },
	{ "mx_rfc", "MAB-930714-8T4", "MAB9307148T4" },
	{ "mx_rfc", "GODE 561231 GR8", "GODE561231GR8" },
	{ "mx_rfc", "ñab930714 8t4", "\xc3\x91" "AB9307148T4" },
	{ "mx_rfc", "A&B930714AB1", "A&B930714AB1" },
	{ "kr_brn", "116-82-00276", "116-82-00276" },
	{ "kr_brn", "1168200276", "116-82-00276" },
	{ "th_vat", "0-99-4-000-61772-1", "0994000617721" },
	{ "th_vat", "3100600445635", "3100600445635" },
	{ "tw_vat", "00501503", "00501503" },
	{ "il_vat", "3933742-3", "039337423" },
	{ "il_vat", "516179157", "516179157" },
	{ "ru_inn", "123456789047", "123456789047" },
	{ "ru_inn", "1234567894", "1234567894" },
	{ "sa_vat", "310122393500003", "310122393500003" },
	{ "ae_trn", "100 1234 5670 0003", "100123456700003" },
	{ "es_cif", "ES B-58378431", "B58378431" },
	{ "hr_oib", "33392005961", "33392005961" },
	{ "is_vat", "123456", "123456" },
	{ "eu_oss_vat", "EU372000041", "EU372000041" },
};

static const struct bad other_bad[] = {
	{ "gb_vat", "802311781", CHECK },
	{ "gb_vat", "GB980780685", CHECK },
	{ "gb_vat", "GBHA499", "GD or HA" },			/* HA starts at 500 */
	{ "gb_vat", "GBGD500", "GD or HA" },
	{ "gb_vat", "GB12345", "9 or 12 digits" },
	{ "gb_vat", "XI980780684", "9 or 12 digits" },
	{ "ch_vat", "CHE-107.787.578 IVA", CHECK },
	{ "ch_vat", "CHE-107.787.577", "MWST, TVA or IVA" },
	{ "ch_vat", "CHE-107.787.57 MWST", "9 digits" },
	{ "ch_uid", "CHE-100.155.213", CHECK },
	{ "no_vat", "NO 995 525 829 MVA", CHECK },
	{ "no_vat", "99552582 MVA", "9 digits" },
	{ "au_abn", "99 999 999 999", CHECK },
	{ "au_abn", "8391457167", "11 digits" },
	{ "ca_bn", "123456783", CHECK },
	{ "ca_bn", "12345678", "9 digits" },
	{ "ca_gst_hst", "123026635RC0001", "RT and 4 digits" },
	{ "ca_gst_hst", "123456783RT0001", CHECK },
	{ "ca_qst", "1234567890RT1234", "TQ" },
	{ "us_ein", "07-1144442", "does not issue EINs starting with 07" },
	{ "us_ein", "00-1144442", "starting with 00" },
	{ "us_ein", "91-114444", "9 digits" },
	{ "in_gst", "27AAPFU0939F1ZO", CHECK },
	{ "in_gst", "27AAPFU0939F1Z", "15 characters" },
	{ "in_gst", "40AAPFU0939F1ZV", "not a GST state code" },
	{ "in_gst", "27AAPFU0000F1ZV", "PAN" },
	{ "in_gst", "27AAPDU0939F1ZV", "PAN" },			/* D: no holder type */
	{ "br_cnpj", "16.727.230/0001-98", CHECK },
	{ "br_cnpj", "12ABC34501DE36", CHECK },
	{ "br_cnpj", "00000000000000", "cannot be zero" },
	{ "br_cnpj", "1672723000019", "14 characters" },
	{ "br_cpf", "231.002.999-00", CHECK },
	{ "br_cpf", "111.111.111-11", "repeat" },
	{ "jp_cn", "2-8356-7825-6246", CHECK },
	{ "jp_cn", "835678256246", "13 digits" },
	{ "jp_trn", "T2835678256246", CHECK },
	{ "jp_trn", "5835678256246", "T followed by 13 digits" },
	{ "nz_gst", "136410133", CHECK },
	{ "nz_gst", "9125568", "8 or 9 digits" },
	{ "nz_gst", "150000001", "between" },
	{ "sg_uen", "197401143D", CHECK },
	{ "sg_uen", "00192200N", CHECK },
	{ "sg_uen", "123456", "9 or 10 characters" },
	{ "sg_gst", "M1234567X", "M, 8 digits and a letter" },
	{ "za_vat", "5123456789", "starting with 4" },
	{ "mx_rfc", "MAB-931314-8T4", "date" },
	{ "mx_rfc", "MAB-930230-8T4", "date" },
	{ "mx_rfc", "COMG-600703", "12 (companies) or 13 (persons)" },
	{ "kr_brn", "123456789", "10 digits" },
	{ "kr_brn", "100-82-00276", "not a number Korea issues" },
	{ "th_vat", "0-99-4-000-61772-3", CHECK },
	{ "tw_vat", "00501502", CHECK },
	{ "il_vat", "516179150", CHECK },
	{ "ru_inn", "123456789037", CHECK },
	{ "ru_inn", "1234567895", CHECK },
	{ "sa_vat", "123456789012345", "starting and ending with 3" },
	{ "ae_trn", "10012345670000", "15 digits" },
	{ "es_cif", "B64717839", CHECK },
	{ "hr_oib", "33392005962", CHECK },
	{ "is_vat", "1234", "5 to 6 digits" },
	{ "eu_oss_vat", "EU37200004", "EU followed by 9 digits" },
};

START_TEST(eu_vat_published_examples_pass)
{
	for (size_t i = 0; i < sizeof(eu_good) / sizeof(eu_good[0]); i++)
		is_good(&eu_good[i]);
}
END_TEST

START_TEST(eu_vat_wrong_check_digits_lengths_and_prefixes_fail)
{
	for (size_t i = 0; i < sizeof(eu_bad) / sizeof(eu_bad[0]); i++)
		is_bad(&eu_bad[i]);
}
END_TEST

START_TEST(other_types_published_examples_pass)
{
	for (size_t i = 0; i < sizeof(other_good) / sizeof(other_good[0]); i++)
		is_good(&other_good[i]);
}
END_TEST

START_TEST(other_types_wrong_numbers_fail)
{
	for (size_t i = 0; i < sizeof(other_bad) / sizeof(other_bad[0]); i++)
		is_bad(&other_bad[i]);
}
END_TEST

START_TEST(every_state_has_a_good_and_a_bad_example)
{
	static const char *prefixes[] = { "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL",
	    "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT",
	    "RO", "SE", "SI", "SK", "XI" };

	for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		bool good = false, bad = false;

		for (size_t i = 0; i < sizeof(eu_good) / sizeof(eu_good[0]); i++)
			good |= strncmp(eu_good[i].want, prefixes[p], 2) == 0;
		for (size_t i = 0; i < sizeof(eu_bad) / sizeof(eu_bad[0]); i++)
			bad |= strncmp(eu_bad[i].in, prefixes[p], 2) == 0;
		ck_assert_msg(good && bad, "%s lacks an example", prefixes[p]);
	}
}
END_TEST

START_TEST(unknown_types_are_named)
{
	char out[TAXID_MAX], err[200];

	ck_assert_int_eq(taxid_validate("xx", "123", out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown tax id type 'xx'");
	ck_assert_int_eq(taxid_validate("EU_VAT", "DE136695976", out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown tax id type 'EU_VAT'");
	ck_assert_int_eq(taxid_validate(NULL, "1", out, sizeof(out), err, sizeof(err)), -1);
	ck_assert(taxid_type_known("eu_vat"));
	ck_assert(taxid_type_known("de_stn"));
	ck_assert(taxid_type_known("other"));
	ck_assert(!taxid_type_known("xx"));
}
END_TEST

START_TEST(unchecked_types_get_bounds_only)
{
	char out[TAXID_MAX], err[200];
	char longv[80];

	ck_assert_int_eq(taxid_validate("other", "  VAT  12 34\t", out, sizeof(out), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(out, "VAT 12 34");
	ck_assert_int_eq(taxid_validate("de_stn", "12/345/67890", out, sizeof(out), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(out, "12/345/67890");
	ck_assert_int_eq(taxid_validate("other", "N\xc3\xba" "mero 7", out, sizeof(out), err,
	    sizeof(err)), 0);
	ck_assert_int_eq(taxid_validate("other", "a\x01" "b", out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert(strstr(err, "control character") != NULL);
	ck_assert_int_eq(taxid_validate("other", "a\xc2\x85" "b", out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_int_eq(taxid_validate("other", "a\xff", out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert(strstr(err, "UTF-8") != NULL);
	ck_assert_int_eq(taxid_validate("other", "   ", out, sizeof(out), err, sizeof(err)), -1);
	ck_assert(strstr(err, "empty") != NULL);
	memset(longv, 'A', 65);
	longv[65] = '\0';
	ck_assert_int_eq(taxid_validate("other", longv, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert(strstr(err, "64 bytes") != NULL);
	longv[64] = '\0';
	ck_assert_int_eq(taxid_validate("other", longv, out, sizeof(out), err, sizeof(err)), 0);
}
END_TEST

START_TEST(countries_of_ids)
{
	char cc[3];

	ck_assert_str_eq(taxid_country("eu_vat", "DE136695976", cc), "DE");
	ck_assert_str_eq(taxid_country("eu_vat", "EL094259216", cc), "GR");
	ck_assert_str_eq(taxid_country("eu_vat", "XI980780684", cc), "GB");
	ck_assert_str_eq(taxid_country("gb_vat", "GB980780684", cc), "GB");
	ck_assert_str_eq(taxid_country("ch_vat", "CHE-107.787.577 IVA", cc), "CH");
	ck_assert_str_eq(taxid_country("au_abn", "83914571673", cc), "AU");
	ck_assert_str_eq(taxid_country("no_voec", "VOEC1234567", cc), "NO");
	ck_assert_ptr_null(taxid_country("other", "123", cc));
	ck_assert_ptr_null(taxid_country("eu_oss_vat", "EU372000041", cc));
	ck_assert_ptr_null(taxid_country("eu_vat", "ZZ123", cc));
	ck_assert_ptr_null(taxid_country("xx", "123", cc));
}
END_TEST

START_TEST(reverse_charge_helpers)
{
	static const char *members[] = { "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES",
	    "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT",
	    "RO", "SE", "SI", "SK" };
	char cc[3] = "AA";
	int n = 0;

	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		ck_assert_msg(taxid_eu_member(members[i]), "%s", members[i]);
	for (cc[0] = 'A'; cc[0] <= 'Z'; cc[0]++)
		for (cc[1] = 'A'; cc[1] <= 'Z'; cc[1]++)
			n += taxid_eu_member(cc);
	ck_assert_int_eq(n, 27);
	ck_assert(!taxid_eu_member("GB"));
	ck_assert(!taxid_eu_member("XI"));
	ck_assert(!taxid_eu_member("EL"));
	ck_assert(!taxid_eu_member("de"));
	ck_assert(!taxid_eu_member(NULL));
	ck_assert(taxid_is_eu_vat("eu_vat", "DE136695976"));
	ck_assert(taxid_is_eu_vat("eu_vat", "EL094259216"));
	ck_assert(!taxid_is_eu_vat("eu_vat", "XI980780684"));
	ck_assert(!taxid_is_eu_vat("gb_vat", "GB980780684"));
	ck_assert(!taxid_is_eu_vat("eu_oss_vat", "EU372000041"));
}
END_TEST

START_TEST(small_output_buffer_is_an_error)
{
	char out[6] = "junk", err[200];

	ck_assert_int_eq(taxid_validate("eu_vat", "DE136695976", out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_str_eq(out, "");
	ck_assert(strstr(err, "no room") != NULL);
}
END_TEST

START_TEST(random_input_never_breaks_the_contract)
{
	static const char *types[] = { "eu_vat", "gb_vat", "ch_vat", "ch_uid", "no_vat",
	    "au_abn", "ca_bn", "ca_gst_hst", "ca_qst", "us_ein", "in_gst", "br_cnpj", "br_cpf",
	    "jp_cn", "jp_trn", "nz_gst", "sg_uen", "sg_gst", "za_vat", "mx_rfc", "kr_brn",
	    "th_vat", "tw_vat", "il_vat", "ru_inn", "sa_vat", "ae_trn", "es_cif", "hr_oib",
	    "is_vat", "eu_oss_vat", "other", "de_stn" };
	static const char *pieces[] = { "0", "1", "5", "7", "9", "A", "B", "E", "L", "U", "Z",
	    "GB", "DE", "XI", "EL", "NL", "CHE", "MVA", "RT", "T", " ", "-", ".", "/", ",",
	    "\xc3\x91", "\xc3", "\xff", "&", "+", "*", "!", "\t", "MWST" };
	unsigned long x = 12345;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		char in[200] = "", out[TAXID_MAX], again[TAXID_MAX], err[200];
		const char *type;
		int k;

		x = x * 6364136223846793005UL + 1442695040888963407UL;
		type = types[(x >> 33) % (sizeof(types) / sizeof(types[0]))];
		k = (int)((x >> 20) % 20);
		for (int i = 0; i < k; i++) {
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			strcat(in, pieces[(x >> 33) % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		err[0] = '\0';
		if (taxid_validate(type, in, out, sizeof(out), err, sizeof(err)) == 0) {
			accepted++;
			ck_assert(out[0] != '\0');
			ck_assert_msg(taxid_validate(type, out, again, sizeof(again), err,
			    sizeof(err)) == 0, "%s '%s' -> '%s' -> %s", type, in, out, err);
			ck_assert_str_eq(again, out);
		} else {
			ck_assert_str_eq(out, "");
			ck_assert(err[0] != '\0');
		}
	}
	ck_assert(accepted > 0);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("taxid");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, eu_vat_published_examples_pass);
	tcase_add_test(tc, eu_vat_wrong_check_digits_lengths_and_prefixes_fail);
	tcase_add_test(tc, other_types_published_examples_pass);
	tcase_add_test(tc, other_types_wrong_numbers_fail);
	tcase_add_test(tc, every_state_has_a_good_and_a_bad_example);
	tcase_add_test(tc, unknown_types_are_named);
	tcase_add_test(tc, unchecked_types_get_bounds_only);
	tcase_add_test(tc, countries_of_ids);
	tcase_add_test(tc, reverse_charge_helpers);
	tcase_add_test(tc, small_output_buffer_is_an_error);
	tcase_add_test(tc, random_input_never_breaks_the_contract);
	suite_add_tcase(s, tc);
	return s;
}
