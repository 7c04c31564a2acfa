/* color.c: WCAG 2 luminance and contrast, and the brand palette. Colours move toward
 * black or white in small sRGB steps until the pair they form reaches AA. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/color.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int
color_parse(const char *s, struct rgb *out)
{
	int v[6];

	if (s == NULL || s[0] != '#' || strlen(s) != 7)
		return -1;
	for (int i = 0; i < 6; i++)
		if ((v[i] = hexval(s[i + 1])) < 0)
			return -1;
	out->r = (unsigned char)(v[0] << 4 | v[1]);
	out->g = (unsigned char)(v[2] << 4 | v[3]);
	out->b = (unsigned char)(v[4] << 4 | v[5]);
	return 0;
}

void
color_format(struct rgb c, char out[8])
{
	snprintf(out, 8, "#%02x%02x%02x", c.r, c.g, c.b);
}

static double
channel(unsigned char v)
{
	double c = v / 255.0;

	return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

double
color_luminance(struct rgb c)
{
	return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
}

double
color_contrast(struct rgb a, struct rgb b)
{
	double la = color_luminance(a), lb = color_luminance(b);

	return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

/* c moved toward target by t (0..1), in sRGB. */
static struct rgb
mix(struct rgb c, struct rgb target, double t)
{
	struct rgb o;

	o.r = (unsigned char)lround(c.r + (target.r - c.r) * t);
	o.g = (unsigned char)lround(c.g + (target.g - c.g) * t);
	o.b = (unsigned char)lround(c.b + (target.b - c.b) * t);
	return o;
}

/* The smallest step (in 1/100) toward target after which c reaches AA against other;
 * 101 when even the target does not. */
static int
steps_to_aa(struct rgb c, struct rgb target, struct rgb other, struct rgb *out)
{
	for (int i = 0; i <= 100; i++) {
		struct rgb m = mix(c, target, i / 100.0);

		if (color_contrast(m, other) >= COLOR_AA) {
			*out = m;
			return i;
		}
	}
	return 101;
}

void
color_palette(const char *brand, struct color_palette *p)
{
	struct rgb b, white, dark, black, page, darker, lighter, ink;
	int d, l;

	if (color_parse(brand, &b) != 0)
		(void)color_parse(COLOR_DEFAULT_BRAND, &b);
	(void)color_parse(COLOR_WHITE, &white);
	(void)color_parse(COLOR_DARK, &dark);
	(void)color_parse("#000000", &black);
	(void)color_parse(COLOR_PAGE, &page);
	color_format(b, p->brand);
	p->adjusted = false;
	if (color_contrast(b, white) >= COLOR_AA) {
		color_format(b, p->fill);
		snprintf(p->on_fill, sizeof(p->on_fill), COLOR_WHITE);
	} else if (color_contrast(b, dark) >= COLOR_AA) {
		color_format(b, p->fill);
		snprintf(p->on_fill, sizeof(p->on_fill), COLOR_DARK);
	} else {
		/* Mid-tones: neither text colour reads on it. Change the colour as little as
		 * possible: darken it under white text, or lighten it under near-black. */
		d = steps_to_aa(b, black, white, &darker);
		l = steps_to_aa(b, white, dark, &lighter);
		p->adjusted = true;
		if (d <= l) {
			color_format(darker, p->fill);
			snprintf(p->on_fill, sizeof(p->on_fill), COLOR_WHITE);
		} else {
			color_format(lighter, p->fill);
			snprintf(p->on_fill, sizeof(p->on_fill), COLOR_DARK);
		}
	}
	/* Links in the brand colour on the page: darken until they read on it (against the
	 * light grey page, so white cards are fine too). Black always does. */
	if (steps_to_aa(b, black, page, &ink) > 100)
		ink = black;
	color_format(ink, p->ink);
}
