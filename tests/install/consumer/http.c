/* baton::http from an installed baton, in a program that calls libcurl itself. */
#include <baton/http.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	baton_span_context ctx;
	memset(&ctx, 0, sizeof(ctx));
	memset(ctx.trace_id, 0xab, sizeof(ctx.trace_id));
	memset(ctx.span_id, 0xcd, sizeof(ctx.span_id));
	ctx.trace_flags = BATON_FLAG_SAMPLED;
	ctx.state = BATON_CTX_VALID;
	struct curl_slist *headers = curl_slist_append(NULL, "accept: */*");
	if (headers == NULL || baton_http_inject_slist(&ctx, &headers) != BATON_OK)
		return 1;
	int found = 0;
	for (struct curl_slist *h = headers; h != NULL; h = h->next)
		found |= strncmp(h->data, "traceparent: 00-abab", 20) == 0;
	curl_slist_free_all(headers);
	if (!found)
		return 1;
	printf("baton %s http ok\n", baton_version());
	return 0;
}
