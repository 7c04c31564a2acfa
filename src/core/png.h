/* png.h: checks an uploaded PNG without decoding it, and copies it without its metadata. */
#ifndef PORTALD_PNG_H
#define PORTALD_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct png_info {
	uint32_t	width, height;
	int		bit_depth, color_type;
};

/* Checks the signature, that IHDR comes first with valid fields and a side of 1 to
 * max_side pixels, every chunk's length and CRC, that there is image data, and that IEND
 * ends the file. Animated PNGs and unknown critical chunks are refused. On success out
 * receives the image with only the chunks that draw it (IHDR, PLTE, tRNS, colour space,
 * pHYs, IDAT, IEND): text, time and Exif metadata are dropped. Returns 0, or -1 with err
 * filled with a sentence the uploader can act on. */
int	png_clean(const unsigned char *p, size_t n, uint32_t max_side, struct png_info *info,
	    struct buf *out, char *err, size_t errlen);

/* The CRC-32 of PNG chunks (ISO 3309), for tests that build PNGs. */
uint32_t png_crc(const unsigned char *p, size_t n, uint32_t crc);

#endif
