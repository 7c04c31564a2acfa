/* check_log.c: deferred request lines (written together, in order, on time) and lines
 * dropped and counted when stderr cannot take them, never a blocked caller. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "core/log.h"

static int pipefd[2];

/* stderr becomes the write end of a fresh pipe; returns what has arrived so far. */
static void
capture(void)
{
	ck_assert_int_eq(pipe(pipefd), 0);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	ck_assert_int_eq(dup2(pipefd[1], STDERR_FILENO), STDERR_FILENO);
}

static const char *
captured(void)
{
	static char text[65536];
	ssize_t n = read(pipefd[0], text, sizeof(text) - 1);

	text[n > 0 ? n : 0] = '\0';
	return text;
}

static int
count(const char *hay, const char *needle)
{
	int k = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		k++;
	return k;
}

START_TEST(request_lines_wait_for_a_flush)
{
	capture();
	log_defer_start();
	log_request("GET /a 200");
	log_request("GET /b 200");
	ck_assert_str_eq(captured(), "");
	ck_assert_int_gt(log_flush_due_ms(), 0);
	log_flush();
	const char *t = captured();
	ck_assert_int_eq(count(t, "\n"), 2);
	ck_assert_ptr_nonnull(strstr(t, "level=info"));
	ck_assert(strstr(t, "GET /a") < strstr(t, "GET /b"));
	ck_assert_int_eq(log_flush_due_ms(), -1);
}
END_TEST

START_TEST(other_lines_go_out_at_once_after_the_deferred_ones)
{
	capture();
	log_defer_start();
	log_request("GET /first 200");
	log_warn("something odd");
	const char *t = captured();
	ck_assert_ptr_nonnull(strstr(t, "GET /first"));
	ck_assert_ptr_nonnull(strstr(t, "level=warn"));
	ck_assert(strstr(t, "GET /first") < strstr(t, "something odd"));
}
END_TEST

START_TEST(deferred_lines_are_due_after_the_interval)
{
	struct timespec ts = { 0, (LOG_FLUSH_MS + 20) * 1000000L };

	capture();
	log_defer_start();
	log_request("GET /late 200");
	log_tick();
	ck_assert_str_eq(captured(), "");
	nanosleep(&ts, NULL);
	ck_assert_int_eq(log_flush_due_ms(), 0);
	log_tick();
	ck_assert_ptr_nonnull(strstr(captured(), "GET /late"));
}
END_TEST

START_TEST(a_full_buffer_is_written_without_waiting)
{
	char pad[200];

	capture();
	log_defer_start();
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < LOG_FLUSH_BYTES / 200 + 10; i++)
		log_request("GET /%d %s", i, pad);
	ck_assert_ptr_nonnull(strstr(captured(), "GET /0 "));
}
END_TEST

START_TEST(a_full_disk_drops_lines_and_the_next_line_counts_them)
{
	int full = open("/dev/full", O_WRONLY);

	ck_assert_int_ge(full, 0);
	dup2(full, STDERR_FILENO);
	log_defer_start();
	for (int i = 0; i < 5; i++)
		log_request("GET /lost 200");
	log_flush();
	ck_assert_uint_eq(log_dropped_total(), 5);
	capture();
	log_request("GET /kept 200");
	log_flush();
	const char *t = captured();
	ck_assert_ptr_nonnull(strstr(t, "log: 5 lines dropped (No space left on device)"));
	ck_assert_ptr_nonnull(strstr(t, "GET /kept"));
	ck_assert_int_eq(count(t, "GET /lost"), 0);
}
END_TEST

START_TEST(a_full_pipe_never_blocks_the_caller)
{
	struct timespec t0, t1;
	char pad[1000];

	capture();
	/* Nobody reads: fill the pipe, then log a lot more. */
	log_defer_start();	/* makes the pipe non-blocking */
	memset(pad, 'y', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2000; i++)
		log_request("GET /%d %s", i, pad);
	log_flush();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 3);
	ck_assert_uint_gt(log_dropped_total(), 0);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, request_lines_wait_for_a_flush);
	tcase_add_test(tc, other_lines_go_out_at_once_after_the_deferred_ones);
	tcase_add_test(tc, deferred_lines_are_due_after_the_interval);
	tcase_add_test(tc, a_full_buffer_is_written_without_waiting);
	tcase_add_test(tc, a_full_disk_drops_lines_and_the_next_line_counts_them);
	tcase_add_test(tc, a_full_pipe_never_blocks_the_caller);
	suite_add_tcase(s, tc);
	return s;
}
