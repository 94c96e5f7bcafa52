/* OTLP/HTTP test receiver: one thread per connection, HTTP/1.1 keep-alive. */
#include "otlp_receiver.h"

#include "otlp_trace.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#define TU_MAX_CONNS 64
#define TU_MAX_NAMES 64
#define TU_HDR_CAP   (64 * 1024)
#define TU_BODY_CAP  ((size_t)80 << 20)

struct tu_conn {
	tu_otlp_receiver *r;
	int fd;
	SSL *ssl; /* NULL: plain HTTP */
	pthread_t th;
	bool used;
};

struct tu_otlp_receiver {
	int lfd;
	char url[64];
	SSL_CTX *tls; /* NULL: plain HTTP */
	pthread_t accept_th;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool stopping;
	tu_otlp_mode mode;
	int mode_count;
	bool only_accepted;
	bool light;  /* tu_otlp_light_decode */
	int walking; /* requests answered early and not counted yet */
	tu_otlp_counts c;
	struct {
		char name[64];
		uint64_t n;
	} names[TU_MAX_NAMES];
	int nnames;
	uint8_t *last_body;
	size_t last_len;
	char last_hdrs[TU_HDR_CAP];
	struct tu_conn conns[TU_MAX_CONNS];
};

/* recv() on the connection, through TLS when it has it. */
static ssize_t tu_recv(struct tu_conn *cn, void *p, size_t n)
{
	if (cn->ssl == NULL)
		return recv(cn->fd, p, n, 0);
	int k = SSL_read(cn->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	return k > 0 ? k : -1;
}

static bool tu_write_all(struct tu_conn *cn, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w =
		    cn->ssl != NULL
		        ? SSL_write(cn->ssl, s, n > INT32_MAX ? INT32_MAX : (int)n)
		        : send(cn->fd, s, n, MSG_NOSIGNAL);
		if (cn->ssl != NULL && w <= 0)
			return false;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* Finds header name in a raw header block; copies its trimmed value. */
static bool tu_find_header(const char *hdrs, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(hdrs, "\r\n");
	while (p != NULL && p[2] != '\0' && p[2] != '\r') {
		const char *line = p + 2;
		const char *end = strstr(line, "\r\n");
		if (end == NULL)
			break;
		if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vl = (size_t)(end - v);
			if (cap > 0) {
				size_t k = vl < cap - 1 ? vl : cap - 1;
				memcpy(out, v, k);
				out[k] = '\0';
			}
			return true;
		}
		p = end;
	}
	return false;
}

static uint8_t *tu_gunzip(const uint8_t *in, size_t n, size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return NULL;
	size_t cap = n * 4 + 1024, len = 0;
	uint8_t *out = malloc(cap);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	int rc = Z_OK;
	while (rc != Z_STREAM_END) {
		if (len == cap) {
			if (cap >= TU_BODY_CAP)
				break;
			cap *= 2;
			out = realloc(out, cap);
		}
		zs.next_out = out + len;
		zs.avail_out = (uInt)(cap - len);
		rc = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
		if (rc != Z_OK && rc != Z_STREAM_END)
			break;
	}
	inflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	*out_len = len;
	return out;
}

static void tu_count_name(tu_otlp_receiver *r, const char *name)
{
	for (int i = 0; i < r->nnames; i++) {
		if (strcmp(r->names[i].name, name) == 0) {
			r->names[i].n++;
			return;
		}
	}
	if (r->nnames < TU_MAX_NAMES) {
		snprintf(r->names[r->nnames].name, sizeof(r->names[0].name), "%s", name);
		r->names[r->nnames++].n = 1;
	}
}

/*
 * A bump allocator for protobuf-c's unpacking: a request's messages are
 * carved from blocks that are kept and rewound for the next request, so
 * decoding does not call malloc and free once per field. One per
 * connection thread.
 */
struct tu_arena_blk {
	struct tu_arena_blk *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};
struct tu_arena {
	struct tu_arena_blk *head, *cur;
};

static void *tu_arena_alloc(void *arg, size_t n)
{
	struct tu_arena *a = arg;
	n = (n + 15) & ~(size_t)15;
	struct tu_arena_blk *b = a->cur;
	while (b != NULL && b->cap - b->used < n)
		b = b->next;
	if (b == NULL) {
		size_t cap = n > ((size_t)1 << 20) ? n : (size_t)1 << 20;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	a->cur = b;
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static void tu_arena_free(void *arg, void *p)
{
	(void)arg;
	(void)p; /* everything goes at once, in tu_arena_rewind */
}

static void tu_arena_rewind(struct tu_arena *a)
{
	for (struct tu_arena_blk *b = a->head; b != NULL; b = b->next)
		b->used = 0;
	a->cur = a->head;
}

static void tu_arena_fini(struct tu_arena *a)
{
	while (a->head != NULL) {
		struct tu_arena_blk *b = a->head;
		a->head = b->next;
		free(b);
	}
	a->cur = NULL;
}

/*
 * Decodes a body (without the lock: decoding is the costly part) and
 * returns the request, NULL when it does not decode. The request lives
 * until the arena is rewound.
 */
static Btotlp__ExportTraceServiceRequest *tu_unpack(struct tu_arena *a,
                                                    const uint8_t *body, size_t n)
{
	ProtobufCAllocator al = {tu_arena_alloc, tu_arena_free, a};
	tu_arena_rewind(a);
	return btotlp__export_trace_service_request__unpack(&al, n, body);
}

/* ---- the light decoder: the wire format walked, nothing unpacked ---- */

/* Reads a varint at *p (< end); false when it runs off the end or is too long. */
static inline bool tu_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	if (__builtin_expect(*p < end && **p < 0x80, 1)) {
		*v = *(*p)++;
		return true;
	}
	uint64_t x = 0;
	for (int sh = 0; sh < 64; sh += 7) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << sh;
		if ((b & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

/*
 * Reads one field at *p: its number, wire type and, for a length-delimited
 * one, its bytes [*q, *q + *len). False when the field is not well framed.
 */
static inline bool tu_pb_field(const uint8_t **p, const uint8_t *end, uint32_t *num,
                               const uint8_t **q, size_t *len)
{
	uint64_t tag, v;
	if (!tu_pb_varint(p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return false;
	*num = (uint32_t)(tag >> 3);
	*q = NULL;
	*len = 0;
	switch (tag & 7) {
	case 0:
		return tu_pb_varint(p, end, &v);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	case 2:
		if (!tu_pb_varint(p, end, &v) || v > (uint64_t)(end - *p))
			return false;
		*q = *p;
		*len = (size_t)v;
		*p += v;
		return true;
	default:
		return false;
	}
}

/*
 * Counts the spans of an ExportTraceServiceRequest: every field of the
 * request, of its ResourceSpans and ScopeSpans must be well framed, each
 * Span must fit in its ScopeSpans, and each must carry a 16-byte trace_id,
 * an 8-byte span_id and a name among its well-framed fields (what follows
 * them is skipped by the span's length). Returns the spans, or -1 when the
 * body is not such a request.
 */
static int64_t tu_light_count(const uint8_t *b, size_t n)
{
	const uint8_t *p = b, *end = b + n, *q;
	size_t len;
	uint32_t f;
	int64_t spans = 0;
	while (p < end) {
		if (!tu_pb_field(&p, end, &f, &q, &len))
			return -1;
		if (f != 1 || q == NULL)
			continue;
		const uint8_t *rp = q, *rend = q + len;
		while (rp < rend) {
			if (!tu_pb_field(&rp, rend, &f, &q, &len))
				return -1;
			if (f != 2 || q == NULL)
				continue;
			const uint8_t *sp = q, *send = q + len;
			while (sp < send) {
				if (!tu_pb_field(&sp, send, &f, &q, &len))
					return -1;
				if (f != 2 || q == NULL)
					continue;
				const uint8_t *xp = q, *xend = q + len;
				bool tid = false, sid = false, nm = false;
				/* The rest of a span, once its ids and name are seen,
				 * is skipped by its length. */
				while (xp < xend && !(tid && sid && nm)) {
					if (!tu_pb_field(&xp, xend, &f, &q, &len))
						return -1;
					if (f == 1)
						tid = q != NULL && len == 16;
					else if (f == 2)
						sid = q != NULL && len == 8;
					else if (f == 5)
						nm = q != NULL;
				}
				if (!tid || !sid || !nm)
					return -1;
				spans++;
			}
		}
	}
	return spans;
}

/* Called with mtx held: counts a decoded request, when count adds its spans. */
static void tu_count(tu_otlp_receiver *r, const Btotlp__ExportTraceServiceRequest *req,
                     bool count)
{
	if (req == NULL) {
		r->c.bad_bodies++;
		return;
	}
	for (size_t i = 0; count && i < req->n_resource_spans; i++) {
		Btotlp__ResourceSpans *rs = req->resource_spans[i];
		for (size_t j = 0; j < rs->n_scope_spans; j++) {
			Btotlp__ScopeSpans *ss = rs->scope_spans[j];
			for (size_t k = 0; k < ss->n_spans; k++) {
				r->c.spans++;
				tu_count_name(r, ss->spans[k]->name);
			}
		}
	}
}

static size_t tu_partial_body(uint8_t *buf, size_t cap, const char *text)
{
	Btotlp__ExportTracePartialSuccess ps = BTOTLP__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	Btotlp__ExportTraceServiceResponse resp =
	    BTOTLP__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	ps.rejected_spans = 1;
	ps.error_message = (char *)text;
	resp.partial_success = &ps;
	if (btotlp__export_trace_service_response__get_packed_size(&resp) > cap)
		return 0;
	return btotlp__export_trace_service_response__pack(&resp, buf);
}

/* Reads one request; returns false when the connection is done. */
static bool tu_serve_one(struct tu_conn *cn, char *hdr, uint8_t **bodyp,
                         struct tu_arena *ar)
{
	tu_otlp_receiver *r = cn->r;
	size_t hl = 0;
	char *end = NULL;
	while (end == NULL) {
		if (hl + 1 >= TU_HDR_CAP)
			return false;
		/* A few KB at a time: the body after the header is read
		 * straight into its own buffer, not copied over from here. */
		size_t want = TU_HDR_CAP - 1 - hl < 4096 ? TU_HDR_CAP - 1 - hl : 4096;
		ssize_t n = tu_recv(cn, hdr + hl, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		hl += (size_t)n;
		hdr[hl] = '\0';
		end = strstr(hdr, "\r\n\r\n");
	}
	size_t head = (size_t)(end - hdr) + 4;
	char v[64];
	size_t clen = 0;
	if (tu_find_header(hdr, "Content-Length", v, sizeof(v)))
		clen = strtoull(v, NULL, 10);
	if (clen > TU_BODY_CAP)
		return false;
	uint8_t *body = malloc(clen + 1);
	size_t have = hl - head;
	if (have > clen)
		have = clen; /* pipelining is not used by the exporter */
	memcpy(body, hdr + head, have);
	while (have < clen) {
		ssize_t n = tu_recv(cn, body + have, clen - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(body);
			return false;
		}
		have += (size_t)n;
	}
	hdr[head] = '\0';
	*bodyp = body;

	bool gz = tu_find_header(hdr, "Content-Encoding", v, sizeof(v)) &&
	          strcasecmp(v, "gzip") == 0;
	uint8_t *plain = body;
	size_t plen = clen;
	if (gz) {
		plain = tu_gunzip(body, clen, &plen);
		if (plain == NULL)
			plen = 0;
	}

	static const char ok200[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
	    "Content-Length: 0\r\n\r\n";
	pthread_mutex_lock(&r->mtx);
	bool light = r->light;
	/*
	 * The light decoder answers a request it accepts before walking it,
	 * as a collector that queues what it gets does: the exporter goes on
	 * with its next batch while this one is counted. tu_otlp_get_counts
	 * waits for the walks under way.
	 */
	bool early = light && r->mode_count == 0;
	if (early)
		r->walking++;
	pthread_mutex_unlock(&r->mtx);
	if (early && !tu_write_all(cn, ok200, sizeof(ok200) - 1)) {
		pthread_mutex_lock(&r->mtx);
		r->walking--;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mtx);
		return false;
	}
	Btotlp__ExportTraceServiceRequest *req = NULL;
	int64_t nlight = -1;
	if (plain != NULL && light)
		nlight = tu_light_count(plain, plen);
	else if (plain != NULL)
		req = tu_unpack(ar, plain, plen);
	pthread_mutex_lock(&r->mtx);
	tu_otlp_mode mode = TU_OTLP_OK;
	if (!early && r->mode_count != 0) {
		mode = r->mode;
		if (r->mode_count > 0)
			r->mode_count--;
	}
	r->c.requests++;
	if (gz)
		r->c.gzip_requests++;
	if (clen > r->c.max_body)
		r->c.max_body = clen;
	memcpy(r->last_hdrs, hdr, head + 1);
	free(r->last_body);
	r->last_body = NULL;
	r->last_len = 0;
	if (plain != NULL && light) {
		/* The light decoder keeps no copy of the body. */
	} else if (plain != NULL) {
		r->last_body = malloc(plen + 1);
		memcpy(r->last_body, plain, plen);
		r->last_len = plen;
	} else {
		r->c.bad_bodies++;
	}
	bool ok = mode == TU_OTLP_OK || mode == TU_OTLP_PARTIAL ||
	          mode == TU_OTLP_PARTIAL_HOSTILE;
	if (plain != NULL && light) {
		if (nlight < 0)
			r->c.bad_bodies++;
		else if (ok || !r->only_accepted)
			r->c.spans += (uint64_t)nlight;
	} else if (plain != NULL) {
		tu_count(r, req, ok || !r->only_accepted);
	}
	if (ok)
		r->c.accepted++;
	if (early)
		r->walking--;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
	if (gz)
		free(plain);

	char out[512];
	uint8_t pb[128];
	size_t pbn = 0;
	int n = 0;
	switch (mode) {
	case TU_OTLP_OK:
		if (early)
			return true; /* answered already */
		n = snprintf(out, sizeof(out), "%s", ok200);
		break;
	case TU_OTLP_PARTIAL:
	case TU_OTLP_PARTIAL_HOSTILE:
		pbn = tu_partial_body(pb, sizeof(pb),
		                      mode == TU_OTLP_PARTIAL ? "too old"
		                                              : TU_OTLP_HOSTILE_TEXT);
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
		             "Content-Length: %zu\r\n\r\n",
		             pbn);
		break;
	case TU_OTLP_503:
		n = snprintf(
		    out, sizeof(out),
		    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
		break;
	case TU_OTLP_429_SECONDS:
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
		             "Content-Length: 0\r\n\r\n");
		break;
	case TU_OTLP_429_DATE: {
		char date[64];
		time_t t = time(NULL) + 1;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 429 Too Many Requests\r\nRetry-After: %s\r\n"
		             "Content-Length: 0\r\n\r\n",
		             date);
		break;
	}
	case TU_OTLP_429_ZERO:
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\n"
		             "Content-Length: 0\r\n\r\n");
		break;
	case TU_OTLP_429_PAST: {
		char date[64];
		time_t t = time(NULL) - 3600;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 429 Too Many Requests\r\nRetry-After: %s\r\n"
		             "Content-Length: 0\r\n\r\n",
		             date);
		break;
	}
	case TU_OTLP_400:
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
		             "Content-Length: 11\r\n\r\nbad request");
		break;
	case TU_OTLP_DROP:
		return false;
	case TU_OTLP_HANG:
		pthread_mutex_lock(&r->mtx);
		while (!r->stopping)
			pthread_cond_wait(&r->cv, &r->mtx);
		pthread_mutex_unlock(&r->mtx);
		return false;
	}
	if (!tu_write_all(cn, out, (size_t)n))
		return false;
	if (pbn > 0 && !tu_write_all(cn, pb, pbn))
		return false;
	return true;
}

static void *tu_conn_main(void *arg)
{
	struct tu_conn *cn = arg;
	tu_otlp_receiver *r = cn->r;
	if (r->tls != NULL) {
		cn->ssl = SSL_new(r->tls);
		if (cn->ssl == NULL || SSL_set_fd(cn->ssl, cn->fd) != 1 ||
		    SSL_accept(cn->ssl) != 1) {
			pthread_mutex_lock(&r->mtx);
			r->c.tls_failures++;
			pthread_mutex_unlock(&r->mtx);
			ERR_clear_error();
			/*
			 * Let the client read the alert: closing with its last
			 * handshake bytes unread would send a reset that loses it.
			 */
			shutdown(cn->fd, SHUT_WR);
			char junk[4096];
			struct pollfd pfd = {cn->fd, POLLIN, 0};
			while (poll(&pfd, 1, 1000) > 0 &&
			       recv(cn->fd, junk, sizeof(junk), 0) > 0)
				;
			shutdown(cn->fd, SHUT_RDWR);
			return NULL;
		}
	}
	char *hdr = malloc(TU_HDR_CAP);
	struct tu_arena ar = {NULL, NULL};
	for (;;) {
		uint8_t *body = NULL;
		bool more = tu_serve_one(cn, hdr, &body, &ar);
		free(body);
		if (!more)
			break;
	}
	tu_arena_fini(&ar);
	free(hdr);
	if (cn->ssl != NULL)
		SSL_shutdown(cn->ssl);
	ERR_clear_error();
	shutdown(cn->fd, SHUT_RDWR);
	return NULL;
}

static void *tu_accept_main(void *arg)
{
	tu_otlp_receiver *r = arg;
	for (;;) {
		struct pollfd pfd = {r->lfd, POLLIN, 0};
		int pr = poll(&pfd, 1, 50);
		pthread_mutex_lock(&r->mtx);
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->mtx);
		if (stop)
			break;
		if (pr <= 0)
			continue;
		int fd = accept(r->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&r->mtx);
		struct tu_conn *cn = NULL;
		for (int i = 0; i < TU_MAX_CONNS; i++) {
			if (!r->conns[i].used) {
				cn = &r->conns[i];
				break;
			}
		}
		if (cn != NULL) {
			cn->used = true;
			cn->fd = fd;
			cn->r = r;
			r->c.connections++;
			if (pthread_create(&cn->th, NULL, tu_conn_main, cn) != 0) {
				cn->used = false;
				close(fd);
			}
		} else {
			close(fd);
		}
		pthread_mutex_unlock(&r->mtx);
	}
	return NULL;
}

tu_otlp_receiver *tu_otlp_start(void)
{
	return tu_otlp_start_tls(NULL, NULL, NULL, false);
}

tu_otlp_receiver *tu_otlp_start_tls(const char *ca, const char *cert, const char *key,
                                    bool require_client_cert)
{
	SSL_CTX *tls = NULL;
	if (cert != NULL) {
		tls = SSL_CTX_new(TLS_server_method());
		if (tls == NULL || SSL_CTX_use_certificate_chain_file(tls, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1 ||
		    (ca != NULL && SSL_CTX_load_verify_locations(tls, ca, NULL) != 1)) {
			SSL_CTX_free(tls);
			return NULL;
		}
		/* OpenSSL writes with write(): a peer gone must not kill the test. */
		signal(SIGPIPE, SIG_IGN);
		/* Clients may resume a session (curl does on a retry). */
		SSL_CTX_set_session_id_context(tls, (const unsigned char *)"tu", 2);
		if (require_client_cert)
			SSL_CTX_set_verify(
			    tls, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	tu_otlp_receiver *r = calloc(1, sizeof(*r));
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(r->lfd, 64) != 0 ||
	    getsockname(r->lfd, (struct sockaddr *)&a, &al) != 0) {
		if (r->lfd >= 0)
			close(r->lfd);
		SSL_CTX_free(tls);
		free(r);
		return NULL;
	}
	r->tls = tls;
	snprintf(r->url, sizeof(r->url), "%s://127.0.0.1:%d/v1/traces",
	         tls != NULL ? "https" : "http", ntohs(a.sin_port));
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->only_accepted = true;
	if (pthread_create(&r->accept_th, NULL, tu_accept_main, r) != 0) {
		close(r->lfd);
		SSL_CTX_free(tls);
		free(r);
		return NULL;
	}
	return r;
}

void tu_otlp_stop(tu_otlp_receiver *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mtx);
	r->stopping = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
	pthread_join(r->accept_th, NULL);
	for (int i = 0; i < TU_MAX_CONNS; i++) {
		if (r->conns[i].used) {
			shutdown(r->conns[i].fd, SHUT_RDWR);
			pthread_join(r->conns[i].th, NULL);
			SSL_free(r->conns[i].ssl);
			close(r->conns[i].fd);
		}
	}
	close(r->lfd);
	SSL_CTX_free(r->tls);
	free(r->last_body);
	pthread_mutex_destroy(&r->mtx);
	pthread_cond_destroy(&r->cv);
	free(r);
}

const char *tu_otlp_url(tu_otlp_receiver *r)
{
	return r->url;
}

void tu_otlp_set_mode(tu_otlp_receiver *r, tu_otlp_mode mode, int count)
{
	pthread_mutex_lock(&r->mtx);
	r->mode = mode;
	r->mode_count = count;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mtx);
}

void tu_otlp_count_only_accepted(tu_otlp_receiver *r, bool on)
{
	pthread_mutex_lock(&r->mtx);
	r->only_accepted = on;
	pthread_mutex_unlock(&r->mtx);
}

void tu_otlp_light_decode(tu_otlp_receiver *r, bool on)
{
	pthread_mutex_lock(&r->mtx);
	r->light = on;
	pthread_mutex_unlock(&r->mtx);
}

tu_otlp_counts tu_otlp_get_counts(tu_otlp_receiver *r)
{
	pthread_mutex_lock(&r->mtx);
	while (r->walking > 0)
		pthread_cond_wait(&r->cv, &r->mtx);
	tu_otlp_counts c = r->c;
	pthread_mutex_unlock(&r->mtx);
	return c;
}

uint64_t tu_otlp_spans_named(tu_otlp_receiver *r, const char *name)
{
	uint64_t n = 0;
	pthread_mutex_lock(&r->mtx);
	for (int i = 0; i < r->nnames; i++) {
		if (strcmp(r->names[i].name, name) == 0)
			n = r->names[i].n;
	}
	pthread_mutex_unlock(&r->mtx);
	return n;
}

uint64_t tu_otlp_wait_spans(tu_otlp_receiver *r, uint64_t n, int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mtx);
	while (r->c.spans < n) {
		if (pthread_cond_timedwait(&r->cv, &r->mtx, &ts) != 0)
			break;
	}
	uint64_t got = r->c.spans;
	pthread_mutex_unlock(&r->mtx);
	return got;
}

size_t tu_otlp_last_body(tu_otlp_receiver *r, uint8_t *buf, size_t cap)
{
	pthread_mutex_lock(&r->mtx);
	size_t n = r->last_len;
	if (r->last_body != NULL)
		memcpy(buf, r->last_body, n < cap ? n : cap);
	pthread_mutex_unlock(&r->mtx);
	return n;
}

bool tu_otlp_last_header(tu_otlp_receiver *r, const char *name, char *buf, size_t cap)
{
	pthread_mutex_lock(&r->mtx);
	bool ok = tu_find_header(r->last_hdrs, name, buf, cap);
	pthread_mutex_unlock(&r->mtx);
	return ok;
}

bool tu_otlp_last_path(tu_otlp_receiver *r, char *buf, size_t cap)
{
	bool ok = false;
	pthread_mutex_lock(&r->mtx);
	const char *sp = strchr(r->last_hdrs, ' ');
	const char *sp2 = sp != NULL ? strchr(sp + 1, ' ') : NULL;
	if (sp2 != NULL && cap > 0) {
		size_t n = (size_t)(sp2 - sp - 1);
		if (n >= cap)
			n = cap - 1;
		memcpy(buf, sp + 1, n);
		buf[n] = '\0';
		ok = true;
	}
	pthread_mutex_unlock(&r->mtx);
	return ok;
}
