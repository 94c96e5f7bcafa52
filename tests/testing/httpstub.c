#include "httpstub.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct tu_httpstub {
	int lfd;
	int wake[2]; /* stop pipe */
	char base[64];
	SSL_CTX *tls; /* NULL: plain HTTP */
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	int status;
	char *body;
	size_t body_len;
	int requests;
	int tls_failures;
	char target[1024];
};

/* Reads the request head (up to the blank line); false on EOF, error or stop. */
static bool read_head(tu_httpstub *s, int fd, SSL *ssl, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
		if ((ssl == NULL || SSL_pending(ssl) == 0) &&
		    (poll(p, 2, 5000) <= 0 || (p[1].revents & POLLIN)))
			return false;
		ssize_t r = ssl != NULL ? SSL_read(ssl, buf + n, (int)(cap - 1 - n))
		                        : read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			return false;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			return true;
	}
	return false;
}

static void write_all(int fd, SSL *ssl, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = ssl != NULL ? SSL_write(ssl, p, (int)n) : write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void *serve(void *arg)
{
	tu_httpstub *s = arg;
	for (;;) {
		struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
			break;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		SSL *ssl = NULL;
		if (s->tls != NULL) {
			/* A client that stalls the handshake cannot hold the stub. */
			struct timeval tv = {5, 0};
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			ssl = SSL_new(s->tls);
			if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
			    SSL_accept(ssl) != 1) {
				pthread_mutex_lock(&s->mtx);
				s->tls_failures++;
				pthread_mutex_unlock(&s->mtx);
				SSL_free(ssl);
				ERR_clear_error();
				/* Let the client read the alert before the close. */
				shutdown(fd, SHUT_WR);
				char junk[4096];
				struct pollfd d = {fd, POLLIN, 0};
				while (poll(&d, 1, 1000) > 0 &&
				       read(fd, junk, sizeof(junk)) > 0)
					;
				close(fd);
				continue;
			}
		}
		char head[8192];
		if (!read_head(s, fd, ssl, head, sizeof(head))) {
			SSL_free(ssl);
			ERR_clear_error();
			close(fd);
			continue;
		}
		pthread_mutex_lock(&s->mtx);
		s->requests++;
		char *sp1 = strchr(head, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (sp1 && sp2 && (size_t)(sp2 - sp1 - 1) < sizeof(s->target)) {
			memcpy(s->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
			s->target[sp2 - sp1 - 1] = '\0';
		}
		int status = s->status;
		size_t len = s->body_len;
		char *body = malloc(len + 1);
		memcpy(body, s->body ? s->body : "", len);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->mtx);
		if (status == 0) {
			/* Hang: hold the connection until the client leaves or we stop.
			 */
			struct pollfd h[2] = {{fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
			char junk[256];
			while (poll(h, 2, -1) > 0 && !(h[1].revents & POLLIN)) {
				if (read(fd, junk, sizeof(junk)) <= 0)
					break;
			}
		} else {
			char hdr[256];
			int hn =
			    snprintf(hdr, sizeof(hdr),
			             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			             status, len);
			write_all(fd, ssl, hdr, (size_t)hn);
			write_all(fd, ssl, body, len);
		}
		free(body);
		if (ssl != NULL)
			SSL_shutdown(ssl);
		SSL_free(ssl);
		ERR_clear_error();
		close(fd);
	}
	return NULL;
}

tu_httpstub *tu_httpstub_start(void)
{
	return tu_httpstub_start_tls(NULL, NULL, NULL, false);
}

tu_httpstub *tu_httpstub_start_tls(const char *ca, const char *cert, const char *key,
                                   bool require_client_cert)
{
	tu_httpstub *s = calloc(1, sizeof(*s));
	if (s == NULL || pipe(s->wake) != 0)
		abort();
	if (cert != NULL) {
		signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write() */
		s->tls = SSL_CTX_new(TLS_server_method());
		if (s->tls == NULL ||
		    SSL_CTX_use_certificate_chain_file(s->tls, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(s->tls, key, SSL_FILETYPE_PEM) != 1 ||
		    (ca != NULL && SSL_CTX_load_verify_locations(s->tls, ca, NULL) != 1))
			abort();
		SSL_CTX_set_session_id_context(s->tls, (const unsigned char *)"tu", 2);
		if (require_client_cert)
			SSL_CTX_set_verify(
			    s->tls, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			    NULL);
	}
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
		abort();
	snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%u",
	         s->tls != NULL ? "https" : "http", ntohs(a.sin_port));
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->status = 200;
	if (pthread_create(&s->thread, NULL, serve, s) != 0)
		abort();
	return s;
}

const char *tu_httpstub_base(tu_httpstub *s)
{
	return s->base;
}

void tu_httpstub_set_bytes(tu_httpstub *s, int status, const char *body, size_t len)
{
	char *copy = malloc(len + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, body, len);
	pthread_mutex_lock(&s->mtx);
	free(s->body);
	s->body = copy;
	s->body_len = len;
	s->status = status;
	pthread_mutex_unlock(&s->mtx);
}

void tu_httpstub_set(tu_httpstub *s, int status, const char *body)
{
	tu_httpstub_set_bytes(s, status, body ? body : "", body ? strlen(body) : 0);
}

int tu_httpstub_requests(tu_httpstub *s)
{
	pthread_mutex_lock(&s->mtx);
	int n = s->requests;
	pthread_mutex_unlock(&s->mtx);
	return n;
}

int tu_httpstub_wait_requests(tu_httpstub *s, int n, int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mtx);
	while (s->requests < n && pthread_cond_timedwait(&s->cond, &s->mtx, &ts) == 0)
		;
	int got = s->requests;
	pthread_mutex_unlock(&s->mtx);
	return got;
}

void tu_httpstub_last_target(tu_httpstub *s, char *buf, size_t cap)
{
	pthread_mutex_lock(&s->mtx);
	snprintf(buf, cap, "%s", s->target);
	pthread_mutex_unlock(&s->mtx);
}

void tu_httpstub_stop(tu_httpstub *s)
{
	if (s == NULL)
		return;
	ssize_t w = write(s->wake[1], "x", 1);
	(void)w;
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cond);
	SSL_CTX_free(s->tls);
	free(s->body);
	free(s);
}

int tu_httpstub_tls_failures(tu_httpstub *s)
{
	pthread_mutex_lock(&s->mtx);
	int n = s->tls_failures;
	pthread_mutex_unlock(&s->mtx);
	return n;
}
