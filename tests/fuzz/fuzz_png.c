/* fuzz_png.c: uploaded logos. png_clean reads a merchant's bytes without decoding them; what
 * it accepts must be a PNG it would accept again, unchanged (the copy is already clean),
 * within the size it promised. */
#include "fuzz.h"

#include "core/png.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct png_info info, again;
	struct buf clean, twice;
	char err[200];

	if (size > FUZZ_MAX_INPUT)
		return 0;
	buf_init(&clean);
	buf_init(&twice);
	if (png_clean(data, size, 1024, &info, &clean, err, sizeof(err)) == 0) {
		FUZZ_CHECK(info.width >= 1 && info.width <= 1024);
		FUZZ_CHECK(info.height >= 1 && info.height <= 1024);
		FUZZ_CHECK(clean.len <= size);
		FUZZ_CHECK(png_clean((const unsigned char *)clean.data, clean.len, 1024, &again,
		    &twice, err, sizeof(err)) == 0);
		FUZZ_CHECK(twice.len == clean.len && memcmp(twice.data, clean.data,
		    clean.len) == 0);
	} else
		FUZZ_CHECK(err[0] != '\0');
	buf_free(&clean);
	buf_free(&twice);
	return 0;
}
