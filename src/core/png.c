/* png.c: walks a PNG's chunks (PNG spec, 2nd edition, section 5) checking each one; the
 * image data is never inflated, so a hostile file costs one linear pass. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/png.h"

static const unsigned char signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

uint32_t
png_crc(const unsigned char *p, size_t n, uint32_t crc)
{
	static uint32_t table[256];
	static bool ready;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = true;
	}
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Chunks that change how the image looks; everything else ancillary is metadata. */
static bool
kept(const char *type)
{
	static const char *const keep[] = { "IHDR", "PLTE", "tRNS", "gAMA", "cHRM", "sRGB",
	    "iCCP", "sBIT", "pHYs", "IDAT", "IEND", NULL };

	for (int i = 0; keep[i] != NULL; i++)
		if (memcmp(type, keep[i], 4) == 0)
			return true;
	return false;
}

/* Bit depths the PNG spec allows for each colour type. */
static bool
depth_ok(int color_type, int depth)
{
	switch (color_type) {
	case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
	case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
	case 2: case 4: case 6: return depth == 8 || depth == 16;
	default: return false;
	}
}

int
png_clean(const unsigned char *p, size_t n, uint32_t max_side, struct png_info *info,
    struct buf *out, char *err, size_t errlen)
{
	size_t off = 8;
	bool seen_ihdr = false, seen_idat = false, seen_plte = false, ended = false;
	bool idat_done = false;

	memset(info, 0, sizeof(*info));
	buf_reset(out);
	if (n < 8 || memcmp(p, signature, 8) != 0) {
		snprintf(err, errlen, "The file is not a PNG image (its signature is missing).");
		return -1;
	}
	buf_append(out, p, 8);
	while (!ended) {
		uint32_t len;
		char type[5];
		const unsigned char *data;

		if (n - off < 12) {
			snprintf(err, errlen, "The PNG image is cut short.");
			return -1;
		}
		len = be32(p + off);
		memcpy(type, p + off + 4, 4);
		type[4] = '\0';
		if (len > 0x7fffffffu || len > n - off - 12) {
			snprintf(err, errlen, "The PNG image is cut short or a chunk is damaged.");
			return -1;
		}
		for (int i = 0; i < 4; i++)
			if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z'))) {
				snprintf(err, errlen, "The PNG image has a damaged chunk.");
				return -1;
			}
		data = p + off + 8;
		if (png_crc(p + off + 4, len + 4, 0) != be32(data + len)) {
			snprintf(err, errlen, "The PNG image is damaged (a %s chunk fails its "
			    "checksum).", type);
			return -1;
		}
		if (!seen_ihdr && strcmp(type, "IHDR") != 0) {
			snprintf(err, errlen, "The PNG image does not start with its header (IHDR).");
			return -1;
		}
		if (strcmp(type, "IHDR") == 0) {
			if (seen_ihdr || len != 13) {
				snprintf(err, errlen, "The PNG image has a malformed header (IHDR).");
				return -1;
			}
			seen_ihdr = true;
			info->width = be32(data);
			info->height = be32(data + 4);
			info->bit_depth = data[8];
			info->color_type = data[9];
			if (!depth_ok(data[9], data[8]) || data[10] != 0 || data[11] != 0 ||
			    data[12] > 1) {
				snprintf(err, errlen, "The PNG image has a malformed header (IHDR).");
				return -1;
			}
			if (info->width == 0 || info->height == 0 || info->width > max_side ||
			    info->height > max_side) {
				snprintf(err, errlen, "The image is %ux%u pixels; a logo may be at "
				    "most %ux%u.", (unsigned)info->width, (unsigned)info->height,
				    (unsigned)max_side, (unsigned)max_side);
				return -1;
			}
		} else if (strcmp(type, "PLTE") == 0) {
			if (seen_plte || seen_idat || len == 0 || len % 3 != 0 || len > 768) {
				snprintf(err, errlen, "The PNG image has a malformed palette.");
				return -1;
			}
			seen_plte = true;
		} else if (strcmp(type, "IDAT") == 0) {
			if (idat_done) {
				snprintf(err, errlen, "The PNG image's data is not in one piece.");
				return -1;
			}
			seen_idat = true;
		} else if (strcmp(type, "IEND") == 0) {
			if (len != 0) {
				snprintf(err, errlen, "The PNG image has a malformed end.");
				return -1;
			}
			ended = true;
		} else if (strcmp(type, "acTL") == 0 || strcmp(type, "fcTL") == 0 ||
		    strcmp(type, "fdAT") == 0) {
			snprintf(err, errlen, "Animated PNG images are not accepted as a logo.");
			return -1;
		} else if (type[0] >= 'A' && type[0] <= 'Z') {
			snprintf(err, errlen, "The PNG image has an unknown critical chunk (%s).",
			    type);
			return -1;
		}
		if (seen_idat && strcmp(type, "IDAT") != 0)
			idat_done = true;
		if (kept(type))
			buf_append(out, p + off, (size_t)len + 12);
		off += (size_t)len + 12;
	}
	if (!seen_idat) {
		snprintf(err, errlen, "The PNG image has no image data.");
		return -1;
	}
	if (info->color_type == 3 && !seen_plte) {
		snprintf(err, errlen, "The PNG image uses a palette but has none.");
		return -1;
	}
	if (off != n) {
		snprintf(err, errlen, "The PNG image has data after its end.");
		return -1;
	}
	return 0;
}
