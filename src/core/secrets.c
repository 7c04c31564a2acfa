/* secrets.c: loads the secrets file (inih), seals and opens values with AES-256-GCM under
 * the server key, and derives purpose-bound HMAC keys from it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/crypto.h"
#include "core/secrets.h"

#define SEAL_NONCE_LEN	12
#define SEAL_TAG_LEN	16
#define SEAL_PREFIX	"v1."

struct load_ctx {
	struct secrets	*s;
	bool		 have_current;
	char		 err[200];
};

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each key is named by a short hash of itself, so a sealed text says which key opens it
 * and no list of ids has to be kept in step with the keys. */
static void
key_set(struct secrets_key *k, const unsigned char raw[SECRETS_KEY_LEN])
{
	unsigned char mac[CRYPTO_SHA256_LEN];

	memcpy(k->key, raw, SECRETS_KEY_LEN);
	crypto_hmac_sha256(raw, SECRETS_KEY_LEN, "portald key id v1", 17, mac);
	crypto_hex(mac, SECRETS_KEY_ID_LEN / 2, k->id);
}

/* Standard base64 of exactly 32 bytes: 43 characters and one '='. */
static int
key_decode(const char *text, size_t len, unsigned char raw[SECRETS_KEY_LEN])
{
	unsigned char out[SECRETS_KEY_LEN + 3];

	if (len != SECRETS_KEY_B64_LEN || text[43] != '=')
		return -1;
	for (size_t i = 0; i < 43; i++)
		if (text[i] == '\0' || strchr(b64_chars, text[i]) == NULL)
			return -1;
	if (EVP_DecodeBlock(out, (const unsigned char *)text, SECRETS_KEY_B64_LEN) !=
	    SECRETS_KEY_LEN + 1)
		return -1;
	memcpy(raw, out, SECRETS_KEY_LEN);
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

static int
add_key(struct load_ctx *ctx, const char *text, size_t len, bool current)
{
	struct secrets *s = ctx->s;
	unsigned char raw[SECRETS_KEY_LEN];

	if (key_decode(text, len, raw) != 0) {
		snprintf(ctx->err, sizeof(ctx->err), "a server key must be the base64 text of "
		    "32 bytes (make one with 'portalctl secrets generate')");
		return -1;
	}
	if (s->nkeys == SECRETS_MAX_KEYS) {
		snprintf(ctx->err, sizeof(ctx->err), "at most %d server keys", SECRETS_MAX_KEYS);
		OPENSSL_cleanse(raw, sizeof(raw));
		return -1;
	}
	if (current) {
		/* The current key goes first, whichever line came first. */
		memmove(&s->keys[1], &s->keys[0], sizeof(s->keys[0]) * (size_t)s->nkeys);
		key_set(&s->keys[0], raw);
	} else
		key_set(&s->keys[s->nkeys], raw);
	s->nkeys++;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int
copy_password(struct load_ctx *ctx, char *dst, const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n >= SECRETS_PASSWORD_MAX) {
		snprintf(ctx->err, sizeof(ctx->err), "a password must be 1 to %d bytes",
		    SECRETS_PASSWORD_MAX - 1);
		return -1;
	}
	memcpy(dst, value, n + 1);
	return 0;
}

/* inih callback: 0 stops the parse with ctx->err saying why. */
static int
load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	int rc;

#define IS(sec, key) (strcmp(section, sec) == 0 && strcmp(name, key) == 0)
	if (IS("keys", "server_key")) {
		if (ctx->have_current) {
			snprintf(ctx->err, sizeof(ctx->err), "server_key is given twice");
			return 0;
		}
		rc = add_key(ctx, value, strlen(value), true);
		ctx->have_current = true;
	} else if (IS("keys", "previous_server_keys")) {
		const char *p = value;

		rc = 0;
		while (rc == 0 && *p != '\0') {
			size_t n = strcspn(p, ",");
			const char *b = p, *e = p + n;

			while (b < e && (*b == ' ' || *b == '\t'))
				b++;
			while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e > b)
				rc = add_key(ctx, b, (size_t)(e - b), false);
			p += n;
			if (*p == ',')
				p++;
		}
	} else if (IS("database", "password"))
		rc = copy_password(ctx, ctx->s->db_password, value);
	else if (IS("mail", "smtp_password"))
		rc = copy_password(ctx, ctx->s->smtp_password, value);
	else {
		snprintf(ctx->err, sizeof(ctx->err), "unknown setting [%s] %s", section, name);
		return 0;
	}
#undef IS
	return rc == 0;
}

int
secrets_load(struct secrets *s, const char *path, char *err, size_t errlen)
{
	struct load_ctx ctx = { .s = s, .have_current = false, .err = "" };
	struct stat st;
	FILE *f;
	int fd, rc;

	memset(s, 0, sizeof(*s));
	/* Open first, then look at what was opened: the checks apply to the file read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "the secrets file %s is missing; create it with "
			    "'[keys]' and the line 'portalctl secrets generate' prints (mode 0640, "
			    "owner root, group of the user portald runs as)", path);
		else
			snprintf(err, errlen, "the secrets file %s cannot be opened: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the secrets file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 0007) != 0) {
		snprintf(err, errlen, "the secrets file %s is readable by others (mode %04o); "
		    "make it 0640 (chmod 0640 %s)", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "the secrets file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	rc = ini_parse_file(f, load_handler, &ctx);
	fclose(f);
	if (rc != 0) {
		snprintf(err, errlen, "the secrets file %s is malformed at line %d: %s", path, rc,
		    ctx.err[0] ? ctx.err : "syntax error");
		secrets_wipe(s);
		return -1;
	}
	if (!ctx.have_current) {
		snprintf(err, errlen, "the secrets file %s has no [keys] server_key", path);
		secrets_wipe(s);
		return -1;
	}
	s->loaded = true;
	return 0;
}

void
secrets_wipe(struct secrets *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, sizeof(*s));
	s->loaded = false;
	s->nkeys = 0;
}

/* Subkeys: HMAC(server key, purpose). A sealing key never doubles as a derivation key. */
static void
subkey(const struct secrets_key *k, const char *purpose, const char *label,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	struct buf info;

	buf_init(&info);
	buf_puts(&info, purpose);
	buf_append(&info, "", 1);	/* the NUL keeps "a"+"bc" apart from "ab"+"c" */
	if (label != NULL)
		buf_puts(&info, label);
	crypto_hmac_sha256(k->key, SECRETS_KEY_LEN, info.data, info.len, out);
	buf_free(&info);
}

static int
gcm(bool enc, const unsigned char key[32], const unsigned char *nonce, const char *aad,
    const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	int len = 0, ok;

	if (cx == NULL || n > INT32_MAX)
		return EVP_CIPHER_CTX_free(cx), -1;
	ok = EVP_CipherInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
	    EVP_CipherInit_ex(cx, NULL, NULL, key, nonce, enc) == 1 &&
	    EVP_CipherUpdate(cx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
	    (n == 0 || EVP_CipherUpdate(cx, out, &len, in, (int)n) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) == 1;
	/* Decrypting, this is where the tag is checked: any change fails here. */
	ok = ok && EVP_CipherFinal_ex(cx, out + len, &len) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(cx);
	return ok ? 0 : -1;
}

int
secrets_seal(const struct secrets *s, const void *plain, size_t n, const char *context,
    struct buf *out)
{
	unsigned char key[CRYPTO_SHA256_LEN], *blob;
	size_t blen = SEAL_NONCE_LEN + n + SEAL_TAG_LEN;
	char *text;
	int rc = -1;

	if (s == NULL || !s->loaded || s->nkeys == 0 || n > 16 * 1024 * 1024)
		return -1;
	blob = OPENSSL_malloc(blen);
	text = OPENSSL_malloc(blen * 4 / 3 + 4);
	if (blob == NULL || text == NULL)
		goto done;
	if (crypto_random_bytes(blob, SEAL_NONCE_LEN) != 0)
		goto done;
	subkey(&s->keys[0], "portald seal v1", NULL, key);
	if (gcm(true, key, blob, context ? context : "", plain, n, blob + SEAL_NONCE_LEN,
	    blob + SEAL_NONCE_LEN + n) != 0)
		goto done;
	if (crypto_b64url(blob, blen, text, blen * 4 / 3 + 4) == 0)
		goto done;
	buf_puts(out, SEAL_PREFIX);
	buf_puts(out, s->keys[0].id);
	buf_putc(out, '.');
	buf_puts(out, text);
	rc = 0;
done:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_free(blob);
	OPENSSL_free(text);
	return rc;
}

int
secrets_open(const struct secrets *s, const char *text, const char *context, struct buf *out)
{
	const struct secrets_key *k = NULL;
	unsigned char key[CRYPTO_SHA256_LEN], *blob = NULL, *plain = NULL;
	const char *b64;
	size_t tlen, plen = 0;
	long blen;
	int rc = -1;

	if (s == NULL || !s->loaded || text == NULL || strncmp(text, SEAL_PREFIX, 3) != 0)
		return -1;
	text += 3;
	if (strlen(text) < SECRETS_KEY_ID_LEN + 1 || text[SECRETS_KEY_ID_LEN] != '.')
		return -1;
	for (int i = 0; i < s->nkeys; i++)
		if (memcmp(s->keys[i].id, text, SECRETS_KEY_ID_LEN) == 0)
			k = &s->keys[i];
	if (k == NULL)
		return -1;
	b64 = text + SECRETS_KEY_ID_LEN + 1;
	tlen = strlen(b64);
	blob = OPENSSL_malloc(tlen + 1);
	if (blob == NULL)
		goto done;
	blen = crypto_b64url_decode(b64, tlen, blob, tlen + 1);
	if (blen < SEAL_NONCE_LEN + SEAL_TAG_LEN)
		goto done;
	plen = (size_t)blen + 1;
	plain = OPENSSL_malloc(plen);
	if (plain == NULL)
		goto done;
	subkey(k, "portald seal v1", NULL, key);
	blen -= SEAL_NONCE_LEN + SEAL_TAG_LEN;
	if (gcm(false, key, blob, context ? context : "", blob + SEAL_NONCE_LEN, (size_t)blen,
	    plain, blob + SEAL_NONCE_LEN + blen) != 0)
		goto done;
	buf_append(out, plain, (size_t)blen);
	rc = 0;
done:
	OPENSSL_cleanse(key, sizeof(key));
	if (plain != NULL)
		OPENSSL_clear_free(plain, plen);
	OPENSSL_free(blob);
	return rc;
}

int
secrets_derive(const struct secrets *s, const char *label, const void *msg, size_t n,
    unsigned char out[32])
{
	unsigned char key[CRYPTO_SHA256_LEN];

	if (s == NULL || !s->loaded || s->nkeys == 0 || label == NULL)
		return -1;
	subkey(&s->keys[0], "portald derive v1", label, key);
	crypto_hmac_sha256(key, sizeof(key), msg, n, out);
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

int
secrets_new_key(char out[SECRETS_KEY_B64_LEN + 1])
{
	unsigned char raw[SECRETS_KEY_LEN];

	out[0] = '\0';
	if (crypto_random_bytes(raw, sizeof(raw)) != 0)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}
