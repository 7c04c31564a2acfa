/* fuzz.h: what every libFuzzer target here shares: the entry point's prototype, a
 * NUL-terminated copy of the input, and a check that aborts (so the run fails and keeps
 * the input) when a property the parser promises does not hold. */
#ifndef PORTALD_FUZZ_H
#define PORTALD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this are not interesting for line- and header-sized parsers. */
#define FUZZ_MAX_INPUT	(1 << 16)

static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz: property failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

#endif
