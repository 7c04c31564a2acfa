/* bare.c: the yardstick for bench/run: a bare libfcgi + libpq program doing what portald's
 * read endpoint does at minimum (look up the API key, then the customer, answer JSON), with
 * no validation, logging or error envelope. Not part of Portald.
 * Usage: bare SOCKET CONNINFO WORKERS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

int
main(int argc, char **argv)
{
	int sock, workers;

	if (argc != 4)
		return 2;
	workers = atoi(argv[3]);
	FCGX_Init();
	umask(0);
	sock = FCGX_OpenSocket(argv[1], 1024);
	for (int i = 1; i < workers; i++)
		if (fork() == 0)
			break;
	PGconn *c = PQconnectdb(argv[2]);
	PQclear(PQprepare(c, "k", "SELECT site_id, encode(secret_hash,'hex') FROM api_keys "
	    "WHERE id = $1", 1, NULL));
	PQclear(PQprepare(c, "c", "SELECT id, email, name, created_at FROM customers "
	    "WHERE site_id = $1 AND id = $2", 2, NULL));
	FCGX_Request r;
	FCGX_InitRequest(&r, sock, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		const char *auth = FCGX_GetParam("HTTP_AUTHORIZATION", r.envp);
		const char *uri = FCGX_GetParam("REQUEST_URI", r.envp);
		char kid[17] = "";
		if (auth && strlen(auth) > 31)
			memcpy(kid, auth + 15, 16);
		const char *p1[1] = { kid };
		PGresult *k = PQexecPrepared(c, "k", 1, p1, NULL, NULL, 0);
		if (PQntuples(k) == 1) {
			const char *slash = strrchr(uri, '/');
			const char *p2[2] = { PQgetvalue(k, 0, 0), slash ? slash + 1 : "" };
			PGresult *row = PQexecPrepared(c, "c", 2, p2, NULL, NULL, 0);
			char body[512];
			int n = PQntuples(row) == 1 ? snprintf(body, sizeof(body),
			    "{\"id\":\"%s\",\"object\":\"customer\",\"email\":\"%s\",\"name\":\"%s\","
			    "\"created_at\":%s}", PQgetvalue(row, 0, 0), PQgetvalue(row, 0, 1),
			    PQgetvalue(row, 0, 2), PQgetvalue(row, 0, 3)) : 0;
			char head[128];
			int h = snprintf(head, sizeof(head), "Status: %d\r\nContent-Type: "
			    "application/json\r\nContent-Length: %d\r\n\r\n", n ? 200 : 404, n);
			FCGX_PutStr(head, h, r.out);
			FCGX_PutStr(body, n, r.out);
			PQclear(row);
		} else
			FCGX_PutS("Status: 401\r\nContent-Length: 0\r\n\r\n", r.out);
		PQclear(k);
		FCGX_Finish_r(&r);
	}
	return 0;
}
