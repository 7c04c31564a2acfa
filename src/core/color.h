/* color.h: brand colours: "#rrggbb", WCAG 2 relative luminance and contrast, and the
 * palette pages draw with, so that no colour a merchant picks breaks WCAG AA. */
#ifndef PORTALD_COLOR_H
#define PORTALD_COLOR_H

#include <stdbool.h>

#define COLOR_AA	4.5	/* WCAG 2 AA contrast for normal text */

struct rgb {
	unsigned char	r, g, b;
};

/* "#rrggbb" in either case; -1 on anything else. */
int	color_parse(const char *s, struct rgb *out);
void	color_format(struct rgb c, char out[8]);	/* lower case */
double	color_luminance(struct rgb c);			/* 0 (black) .. 1 (white) */
double	color_contrast(struct rgb a, struct rgb b);	/* 1 .. 21 */

/* What a page paints with a brand colour. Every pair meets COLOR_AA. */
struct color_palette {
	char	brand[8];	/* as the merchant gave it */
	char	fill[8];	/* header and button background: the brand colour, darkened or
				 * lightened only when neither text colour reaches AA on it */
	char	on_fill[8];	/* text on fill: white or near-black */
	char	ink[8];		/* the brand colour as text (links) on the page background */
	bool	adjusted;	/* fill differs from brand */
};

/* Fills p for brand ("#rrggbb"); a malformed brand gets the default palette. */
void	color_palette(const char *brand, struct color_palette *p);

#define COLOR_DEFAULT_BRAND	"#1f4fd1"
#define COLOR_WHITE		"#ffffff"
#define COLOR_DARK		"#14171a"	/* near-black text */
#define COLOR_PAGE		"#f5f6f8"	/* the page background links sit on */

#endif
