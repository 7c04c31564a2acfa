# stacklib.sh: start and stop the local stack (PostgreSQL, portald, nginx) on 127.0.0.1.
# Sourced by tools/stack, tests/integration, tests/valgrind and bench/. Inputs (environment):
#   STACK_ROOT   the checkout            STACK_STATE  directory for all run-time state
#   STACK_BIN    directory of portald and portalctl (default $STACK_ROOT/build/local/src)
#   STACK_HTTP_PORT, STACK_PG_PORT       STACK_WORKERS (default 4)
#   STACK_PG_OPTS extra postgres -c options   STACK_ACCESS_LOG (path or "off")
#   STACK_SMTP_PORT the loopback SMTP server's port (tools/smtpd.py; chosen when unset);
#                 it keeps every message portald sends in $STACK_STATE/mailbox
# Every process it starts has a pid file under STACK_STATE; stack_down stops exactly those.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

stack_log() { printf 'stack: %s\n' "$*" >&2; }
stack_die() { stack_log "$*"; exit 1; }

# Runs a command as the database's user: postgres refuses to run as root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		# From /: the postgres user may not be able to enter the current directory.
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# True when user $1 can enter every directory down to $2.
user_can_reach() {
	if [ "$(id -u)" != 0 ]; then return 0; fi
	runuser -u "$1" -- test -x "$2" 2>/dev/null
}

stack_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stack_conninfo() {
	printf 'host=%s port=%s dbname=portald user=postgres' "$STACK_STATE/pg/run" "$STACK_PG_PORT"
}

stack_pg_up() {
	local data=$STACK_STATE/pg/data run=$STACK_STATE/pg/run
	[ -x "$PG_BIN/initdb" ] || stack_die "PostgreSQL server binaries not found (apt-get install postgresql)"
	mkdir -p "$data" "$run"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$STACK_STATE/pg" "$data" "$run"
		chmod 700 "$data"
		user_can_reach postgres "$data" ||
			stack_die "the postgres user cannot reach $STACK_STATE (a parent directory is not traversable); set STACK_STATE elsewhere"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
			--locale=C.UTF-8 >"$STACK_STATE/pg/initdb.log" 2>&1 ||
			{ cat "$STACK_STATE/pg/initdb.log" >&2; stack_die "initdb failed"; }
	fi
	if as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		return 0
	fi
	as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$STACK_STATE/pg/postgres.log" -w -t 60 \
		-o "-p $STACK_PG_PORT -k $run -c listen_addresses=127.0.0.1 ${STACK_PG_OPTS:-}" \
		start >/dev/null || { tail -n 20 "$STACK_STATE/pg/postgres.log" >&2; stack_die "PostgreSQL did not start"; }
	as_pg "$PG_BIN/psql" -h "$run" -p "$STACK_PG_PORT" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'portald'" | grep -q 1 ||
		as_pg "$PG_BIN/createdb" -h "$run" -p "$STACK_PG_PORT" -U postgres portald
}

stack_pg_stop() {
	local data=$STACK_STATE/pg/data
	[ -f "$data/postmaster.pid" ] || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

stack_pg_start() {
	local run=$STACK_STATE/pg/run
	as_pg "$PG_BIN/pg_ctl" -D "$STACK_STATE/pg/data" -l "$STACK_STATE/pg/postgres.log" -w -t 60 \
		-o "-p $STACK_PG_PORT -k $run -c listen_addresses=127.0.0.1 ${STACK_PG_OPTS:-}" \
		start >/dev/null
}

# The stack's secrets file: a fresh server key, mode 0640, owned by the user portald runs
# as (whoever runs the stack). Kept across restarts so sealed data stays readable.
stack_write_secrets() {
	local bin=${STACK_BIN:-$STACK_ROOT/build/local/src} f=$STACK_STATE/secrets
	[ -s "$f" ] && return 0
	(
		umask 027
		{ echo "; secrets for the local stack (written by tools/stacklib.sh)"
		  echo "[keys]"
		  "$bin/portalctl" secrets generate
		} >"$f.tmp"
	) || stack_die "cannot write the secrets file"
	chmod 0640 "$f.tmp"
	mv "$f.tmp" "$f"
}

stack_write_config() {
	mkdir -p "$STACK_STATE/run"
	chmod 755 "$STACK_STATE/run"
	stack_write_secrets
	cat >"$STACK_STATE/portald.conf" <<EOC
; portald.conf for the local stack (written by tools/stacklib.sh)
[database]
conninfo = $(stack_conninfo)
connect_timeout = 2

[server]
socket = $STACK_STATE/run/portald.sock
; private directory: nginx's worker user must be able to connect
socket_mode = 0666
workers = ${STACK_WORKERS:-4}
max_body = ${STACK_MAX_BODY:-1048576}
public_url = http://127.0.0.1:$STACK_HTTP_PORT
log_level = ${STACK_LOG_LEVEL:-info}

[security]
key_rotation_grace = 86400
secrets_file = $STACK_STATE/secrets

[webhooks]
; the local stack and the tests deliver to receivers on 127.0.0.1
allow_private_targets = ${STACK_WEBHOOK_PRIVATE:-true}
EOC
	if [ -n "${STACK_SMTP_PORT:-}" ]; then
		cat >>"$STACK_STATE/portald.conf" <<EOC

[mail]
; tools/smtpd.py on loopback: every message lands in $STACK_STATE/mailbox
relay = smtp://127.0.0.1:$STACK_SMTP_PORT
starttls = none
from_address = billing@portald.test
from_name = Portald
connect_timeout = 5
timeout = 20
EOC
	fi
}

# The loopback SMTP server (tools/smtpd.py) that stands in for a relay.
stack_smtpd_up() {
	local pidf=$STACK_STATE/smtpd.pid log=$STACK_STATE/smtpd.log
	STACK_SMTP_PORT=${STACK_SMTP_PORT:-$(stack_free_port)}
	export STACK_SMTP_PORT
	mkdir -p "$STACK_STATE/mailbox"
	if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		return 0
	fi
	/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null ||
		stack_die "python3-aiosmtpd is missing (tools/deps installs it)"
	: >"$log"
	"$STACK_ROOT/tools/smtpd.py" --host 127.0.0.1 --port "$STACK_SMTP_PORT" \
		--maildir "$STACK_STATE/mailbox" >>"$log" 2>&1 &
	echo $! >"$pidf"
	for _ in $(seq 1 100); do
		grep -q '^SMTPD_PORT=' "$log" && return 0
		kill -0 "$(cat "$pidf")" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	stack_die "the SMTP server did not start on port $STACK_SMTP_PORT"
}

stack_smtpd_stop() {
	local pidf=$STACK_STATE/smtpd.pid pid
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidf"
}

stack_portalctl() {
	"${STACK_BIN:-$STACK_ROOT/build/local/src}/portalctl" --config "$STACK_STATE/portald.conf" "$@"
}

stack_portald_up() {
	local bin=${STACK_BIN:-$STACK_ROOT/build/local/src}
	if [ -f "$STACK_STATE/portald.pid" ] && kill -0 "$(cat "$STACK_STATE/portald.pid")" 2>/dev/null; then
		return 0
	fi
	stack_portalctl migrate >/dev/null || stack_die "migrations failed"
	"$bin/portald" --config "$STACK_STATE/portald.conf" >>"$STACK_STATE/portald.log" 2>&1 &
	echo $! >"$STACK_STATE/portald.pid"
	for _ in $(seq 1 100); do
		[ -S "$STACK_STATE/run/portald.sock" ] && return 0
		kill -0 "$(cat "$STACK_STATE/portald.pid")" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$STACK_STATE/portald.log" >&2
	stack_die "portald did not start"
}

stack_portald_stop() {
	local pidf=$STACK_STATE/portald.pid pid
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidf"
}

stack_nginx_up() {
	local ndir=$STACK_STATE/nginx static=$STACK_ROOT/static user_line=""
	mkdir -p "$ndir/tmp"
	if [ "$(id -u)" = 0 ]; then
		user_line="user www-data;"
		user_can_reach www-data "$STACK_STATE/run" ||
			stack_die "www-data cannot reach $STACK_STATE/run; set STACK_STATE elsewhere"
		# nginx's workers read static files as www-data: copy them where it can.
		if ! runuser -u www-data -- test -r "$static/portal.css" 2>/dev/null; then
			rm -rf "$STACK_STATE/static"
			cp -r "$static" "$STACK_STATE/static"
			chmod -R a+rX "$STACK_STATE/static"
			static=$STACK_STATE/static
		fi
	fi
	cp "$STACK_ROOT/nginx/portald-fastcgi.conf" "$ndir/portald-fastcgi.conf"
	sed -e "s|@LISTEN@|127.0.0.1:$STACK_HTTP_PORT|" \
	    -e "s|@STATIC_DIR@|$static|" \
	    -e "s|@NGINX_DIR@|$ndir|" \
	    -e "s|@SOCKET@|$STACK_STATE/run/portald.sock|" \
	    -e "s|@ACCESS_LOG@|${STACK_ACCESS_LOG:-$ndir/access.log portald}|" \
	    "$STACK_ROOT/nginx/portald-site.conf.in" >"$ndir/portald-site.conf"
	sed -e "s|@STATE@|$STACK_STATE|g" -e "s|@USER_LINE@|$user_line|" \
	    "$STACK_ROOT/nginx/nginx-local.conf.in" >"$ndir/nginx.conf"
	if [ -f "$ndir/nginx.pid" ] && kill -0 "$(cat "$ndir/nginx.pid")" 2>/dev/null; then
		nginx -c "$ndir/nginx.conf" -e "$ndir/error.log" -s reload
		return 0
	fi
	nginx -t -q -c "$ndir/nginx.conf" -e "$ndir/error.log" || stack_die "nginx configuration is invalid"
	nginx -c "$ndir/nginx.conf" -e "$ndir/error.log" || stack_die "nginx did not start"
}

stack_nginx_stop() {
	local ndir=$STACK_STATE/nginx pid
	[ -f "$ndir/nginx.pid" ] || return 0
	pid=$(cat "$ndir/nginx.pid")
	kill -QUIT "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$ndir/nginx.pid"
}

stack_wait_healthy() {
	for _ in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$STACK_HTTP_PORT/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	stack_die "the stack did not become healthy on port $STACK_HTTP_PORT"
}

stack_up_all() {
	stack_pg_up
	stack_smtpd_up
	stack_write_config
	stack_portald_up
	stack_nginx_up
	stack_wait_healthy
}

stack_down_all() {
	stack_nginx_stop
	stack_portald_stop
	stack_smtpd_stop
	stack_pg_stop
}
