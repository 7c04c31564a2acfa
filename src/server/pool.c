/* pool.c: the master process. Forks the workers, respawns one that dies (with backoff,
 * so a crash loop does not spin), replaces them all on SIGHUP, and on SIGTERM lets
 * in-flight requests finish before it exits. Signals are blocked except while waiting
 * in pselect(), so none is lost between a check and the wait. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "db/db.h"
#include "server/pool.h"
#include "jobs/jobs.h"
#include "server/worker.h"

#define POOL_MAX		256
#define STOP_GRACE_SECONDS	30

struct slot {
	pid_t	pid;		/* 0 = empty */
	int	generation;
	double	started;	/* monotonic seconds */
	double	respawn_at;	/* when an empty current-generation slot may be refilled */
};

static volatile sig_atomic_t got_term, got_hup, got_chld;

static void on_term(int s) { (void)s; got_term = 1; }
static void on_hup(int s) { (void)s; got_hup = 1; }
static void on_chld(int s) { (void)s; got_chld = 1; }

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t jobs_stop;
static void on_jobs_term(int s) { (void)s; jobs_stop = 1; }

/* The job runner: a child like the workers, without the socket. */
static pid_t
spawn_jobs(const struct config *cfg, struct listener *l, const sigset_t *orig)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_jobs_term;
		sigaction(SIGTERM, &sa, NULL);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
		sigprocmask(SIG_SETMASK, orig, NULL);
		if (l->fd > 2)
			close(l->fd);
		_exit(jobs_run(cfg, &jobs_stop));
	}
	return pid;
}

static pid_t
spawn(const struct config *cfg, struct listener *l, const sigset_t *orig)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
		sigprocmask(SIG_SETMASK, orig, NULL);
		_exit(worker_run(cfg, l->fd));
	}
	return pid;
}

static void
describe_exit(pid_t pid, int status, char *out, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(out, n, "worker %d killed by signal %d", (int)pid, WTERMSIG(status));
	else
		snprintf(out, n, "worker %d exited with status %d", (int)pid, WEXITSTATUS(status));
}

int
pool_run(struct config *cfg, const char *config_path, struct listener *l)
{
	static struct slot slots[POOL_MAX * 2];
	struct sigaction sa;
	sigset_t block, orig;
	int generation = 1, nslots = POOL_MAX * 2;
	int crash_streak = 0;
	double stop_deadline = 0, jobs_respawn_at = 0;
	pid_t jobs_pid = 0;

	memset(&sa, 0, sizeof(sa));
	/* No SA_RESTART: a signal must end the wait, not resume it. */
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &orig);

	log_info("master %d: starting %d workers", (int)getpid(), cfg->workers);
	for (int i = 0; i < cfg->workers; i++) {
		slots[i].generation = generation;
		slots[i].respawn_at = 0;
	}
	for (;;) {
		double t = now_mono(), next_wake = t + 60;
		int live = 0;

		/* Reap every child that has exited. */
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == jobs_pid) {
				char why[96];

				describe_exit(pid, status, why, sizeof(why));
				log_warn("job runner: %s", why + 7);
				jobs_pid = 0;
				jobs_respawn_at = t + 1;
				continue;
			}
			for (int i = 0; i < nslots; i++) {
				char why[96];

				if (slots[i].pid != pid)
					continue;
				describe_exit(pid, status, why, sizeof(why));
				if (slots[i].generation == generation && !got_term && !stop_deadline) {
					/* Died young: back off, doubling up to 10 s. */
					if (t - slots[i].started < 2.0)
						crash_streak++;
					else
						crash_streak = 0;
					double delay = crash_streak == 0 ? 0 :
					    0.1 * (double)(1 << (crash_streak < 7 ? crash_streak : 7));
					if (delay > 10)
						delay = 10;
					slots[i].respawn_at = t + delay;
					log_warn("%s; respawning in %.1fs", why, delay);
				} else {
					log_info("%s", why);
					slots[i].generation = 0;
				}
				slots[i].pid = 0;
			}
		}
		got_chld = 0;

		if (got_term && stop_deadline == 0) {
			log_info("master: stopping; in-flight requests may finish");
			stop_deadline = t + STOP_GRACE_SECONDS;
			for (int i = 0; i < nslots; i++)
				if (slots[i].pid > 0)
					kill(slots[i].pid, SIGTERM);
			if (jobs_pid > 0)
				kill(jobs_pid, SIGTERM);
		}
		if (got_hup && stop_deadline == 0) {
			struct config next;
			char err[512];

			got_hup = 0;
			config_defaults(&next);
			if (config_load(&next, config_path, err, sizeof(err)) != 0) {
				secrets_wipe(&next.secrets);
				log_error("reload: %s; keeping the running configuration", err);
			} else {
				enum log_level lv;

				if (strcmp(next.socket_path, cfg->socket_path) != 0)
					log_warn("reload: a new socket path takes a restart; keeping %s",
					    cfg->socket_path);
				snprintf(next.socket_path, sizeof(next.socket_path), "%s",
				    cfg->socket_path);
				if (next.workers > POOL_MAX)
					next.workers = POOL_MAX;
				*cfg = next;
				secrets_wipe(&next.secrets);
				db_set_password(cfg->secrets.db_password);
				if (log_parse_level(cfg->log_level, &lv) == 0)
					log_set_level(lv);
				/* Old workers finish what they are doing and leave; new ones,
				 * forked from the new configuration, take over at once. */
				for (int i = 0; i < nslots; i++) {
					if (slots[i].pid > 0 && slots[i].generation == generation)
						kill(slots[i].pid, SIGTERM);
					if (slots[i].pid == 0)
						slots[i].generation = 0;
				}
				generation++;
				crash_streak = 0;
				if (jobs_pid > 0)
					kill(jobs_pid, SIGTERM);	/* respawned with the new config */
				for (int i = 0, made = 0; i < nslots && made < cfg->workers; i++) {
					if (slots[i].pid == 0 && slots[i].generation == 0) {
						slots[i].generation = generation;
						slots[i].respawn_at = 0;
						made++;
					}
				}
				log_info("reload: configuration re-read, %d new workers", cfg->workers);
			}
		}

		/* Fill empty current-generation slots whose backoff is over. */
		for (int i = 0; i < nslots; i++) {
			if (slots[i].pid > 0) {
				live++;
				continue;
			}
			if (stop_deadline || slots[i].generation != generation)
				continue;
			if (slots[i].respawn_at > t) {
				if (slots[i].respawn_at < next_wake)
					next_wake = slots[i].respawn_at;
				continue;
			}
			pid_t pid = spawn(cfg, l, &orig);
			if (pid > 0) {
				slots[i].pid = pid;
				slots[i].started = t;
				live++;
			} else {
				slots[i].respawn_at = t + 1;
				if (t + 1 < next_wake)
					next_wake = t + 1;
			}
		}

		if (!stop_deadline && cfg->jobs_enabled && jobs_pid == 0) {
			if (jobs_respawn_at <= t)
				jobs_pid = spawn_jobs(cfg, l, &orig);
			else if (jobs_respawn_at < next_wake)
				next_wake = jobs_respawn_at;
			if (jobs_pid < 0)
				jobs_pid = 0;
		}
		if (jobs_pid > 0)
			live++;
		if (stop_deadline) {
			if (live == 0)
				break;
			if (t >= stop_deadline) {
				log_warn("master: workers did not stop in %ds; killing them",
				    STOP_GRACE_SECONDS);
				for (int i = 0; i < nslots; i++)
					if (slots[i].pid > 0)
						kill(slots[i].pid, SIGKILL);
				if (jobs_pid > 0)
					kill(jobs_pid, SIGKILL);
				stop_deadline = t + 5;
			}
			if (stop_deadline < next_wake)
				next_wake = stop_deadline;
		}

		if (got_chld || got_hup || (got_term && !stop_deadline))
			continue;
		{
			double wait = next_wake - now_mono();
			struct timespec ts;

			if (wait < 0.01)
				wait = 0.01;
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			/* Signals are unblocked only inside the wait. */
			pselect(0, NULL, NULL, NULL, &ts, &orig);
		}
	}
	log_info("master: all workers stopped");
	listen_close(l);
	return 0;
}
