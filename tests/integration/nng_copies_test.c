/*
 * Payload copies on the send path: a message from baton_nng_msg_alloc()
 * (and every baton_nng_send) takes its envelope in the head room it
 * reserved, with no copy of the payload, on NNG 1.5 as on 1.8; the tag
 * that says so never reaches NNG; messages of unknown origin still go out
 * intact (on NNG before 1.8.0 with the one counted copy).
 */
#include <baton/baton.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdlib.h>
#include <string.h>

#include "nng_int.h"
#include "nngutil.h"
#include "testutil.h"

static bool insert_is_safe(void)
{
	char *end;
	long major = strtol(nng_version(), &end, 10);
	long minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
	return major > 1 || (major == 1 && minor >= 8);
}

static void init(baton_sampler s)
{
	tu_init_memory(s, 256);
}

static nng_msg *filled(size_t len)
{
	nng_msg *m;
	cr_assert_eq(baton_nng_msg_alloc(&m, len), 0);
	cr_assert_eq(nng_msg_len(m), len);
	for (size_t i = 0; i < len; i++)
		((uint8_t *)nng_msg_body(m))[i] = (uint8_t)(i * 7 + 1);
	return m;
}

static void assert_payload(nng_msg *m, size_t len)
{
	cr_assert_eq(nng_msg_len(m), len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(((uint8_t *)nng_msg_body(m))[i], (uint8_t)(i * 7 + 1),
		             "byte %zu", i);
}

/* Seals m and checks the envelope went in front of the body without moving it. */
static void assert_sealed_in_place(nng_msg *m, size_t len)
{
	uint8_t *before = nng_msg_body(m);
	uint64_t copies = bt_nng_payload_copies();
	baton_span sp;
	cr_assert_eq(baton_nng_msg_seal(m, NULL, &sp), 0);
	baton_span_end(sp);
	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(nng_msg_body(m), nng_msg_len(m), &h), BATON_OK);
	cr_assert_eq((uint8_t *)nng_msg_body(m), before - h.length,
	             "the payload moved: the envelope was not put in the head room");
	cr_assert_eq(bt_nng_payload_copies(), copies, "the payload was copied");
	cr_assert_eq(nng_msg_header_len(m), 0, "the tag would reach NNG");
	cr_assert_eq(baton_nng_msg_unseal(m), 0);
	assert_payload(m, len);
}

Test(nng_copies, unsampled_send_of_an_allocated_message_copies_no_payload)
{
	init(baton_sampler_always_off());
	nng_msg *m = filled(64);
	cr_assert_eq(nng_msg_header_len(m), 16);
	assert_sealed_in_place(m, 64);
	nng_msg_free(m);
	baton_fini(1000);
}

Test(nng_copies, sampled_send_of_an_allocated_message_copies_no_payload)
{
	init(baton_sampler_always_on());
	/* Sizes on both sides of NNG's own power-of-two rule. */
	size_t sizes[] = {1, 64, 1024, 4096, 100000};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		nng_msg *m = filled(sizes[k]);
		assert_sealed_in_place(m, sizes[k]);
		nng_msg_free(m);
	}
	baton_fini(1000);
}

/* NNG gives a body under 1 KiB 32 bytes of tail room: appends that fit keep the body. */
Test(nng_copies, empty_message_filled_within_its_capacity_keeps_its_room)
{
	init(baton_sampler_always_on());
	nng_msg *m;
	cr_assert_eq(baton_nng_msg_alloc(&m, 0), 0);
	for (size_t i = 0; i < 20; i++) {
		uint8_t b = (uint8_t)(i * 7 + 1);
		cr_assert_eq(nng_msg_append(m, &b, 1), 0);
	}
	assert_sealed_in_place(m, 20);
	nng_msg_free(m);
	baton_fini(1000);
}

Test(nng_copies, sendmsg_and_send_over_a_socket_copy_no_payload)
{
	init(baton_sampler_always_on());
	nng_socket rx, tx;
	nu_connect("inproc", nng_pull0_open, nng_push0_open, &rx, &tx, NULL, 0);
	uint64_t copies = bt_nng_payload_copies();
	for (int i = 0; i < 50; i++) {
		nng_msg *m = filled(200);
		cr_assert_eq(baton_nng_sendmsg(tx, m, 0, NULL), 0);
		uint8_t data[300];
		for (size_t j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)(j * 7 + 1);
		cr_assert_eq(baton_nng_send(tx, data, sizeof(data), 0, NULL), 0);
		size_t lens[2] = {200, 300};
		for (int k = 0; k < 2; k++) {
			baton_nng_recv_info info;
			cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
			cr_assert_eq(info.envelope, BATON_OK);
			cr_assert_eq(nng_msg_header_len(m), 0,
			             "the tag reached the peer");
			assert_payload(m, lens[k]);
			baton_span_end(info.span);
			nng_msg_free(m);
		}
	}
	cr_assert_eq(bt_nng_payload_copies(), copies, "%llu payload copies",
	             (unsigned long long)(bt_nng_payload_copies() - copies));
	nng_close(rx);
	nng_close(tx);
	baton_fini(1000);
}

Test(nng_copies, failed_send_gives_the_message_back_with_its_tag)
{
	init(baton_sampler_always_on());
	nng_socket tx; /* no peer: a non-blocking send cannot go */
	cr_assert_eq(nng_push0_open(&tx), 0);
	nng_msg *m = filled(32);
	uint8_t *body = nng_msg_body(m);
	cr_assert_eq(baton_nng_sendmsg(tx, m, NNG_FLAG_NONBLOCK, NULL), NNG_EAGAIN);
	cr_assert_eq((uint8_t *)nng_msg_body(m), body);
	assert_payload(m, 32);
	cr_assert_eq(nng_msg_header_len(m), 16);
	/* ...so the next send is still in place. */
	assert_sealed_in_place(m, 32);
	baton_nng_msg_untag(m);
	cr_assert_eq(nng_msg_header_len(m), 0);
	baton_nng_msg_untag(m); /* no tag: nothing */
	baton_nng_msg_untag(NULL);
	cr_assert_eq(nng_msg_header_len(m), 0);
	nng_msg_free(m);
	nng_close(tx);
	baton_fini(1000);
}

Test(nng_copies, empty_message_sent_and_refused_does_not_claim_room_it_lost)
{
	init(baton_sampler_always_on());
	nng_socket tx;
	cr_assert_eq(nng_push0_open(&tx), 0);
	nng_msg *m;
	cr_assert_eq(baton_nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(baton_nng_sendmsg(tx, m, NNG_FLAG_NONBLOCK, NULL), NNG_EAGAIN);
	cr_assert_eq(nng_msg_len(m), 0);
	/* NNG's trim of a whole body leaves the pointer at the envelope: a tag
	 * put back there would vouch for room that is gone. */
	if (nng_msg_header_len(m) == 16) {
		uint8_t *before = nng_msg_body(m);
		baton_span sp;
		cr_assert_eq(baton_nng_msg_seal(m, NULL, &sp), 0);
		baton_span_end(sp);
		baton_envelope_header h;
		cr_assert_eq(baton_envelope_peek(nng_msg_body(m), nng_msg_len(m), &h),
		             BATON_OK);
		cr_assert_eq((uint8_t *)nng_msg_body(m), before - h.length);
	}
	nng_msg_free(m);
	nng_close(tx);
	baton_fini(1000);
}

/* A body that moved (grown past its capacity) lost its room: it is sent correctly. */
Test(nng_copies, moved_body_falls_back_to_the_copy_and_stays_intact)
{
	init(baton_sampler_always_on());
	nng_msg *m = filled(8);
	uint8_t big[8192];
	memset(big, 0xAB, sizeof(big));
	cr_assert_eq(nng_msg_append(m, big, sizeof(big)), 0);
	uint64_t copies = bt_nng_payload_copies();
	baton_span sp;
	cr_assert_eq(baton_nng_msg_seal(m, NULL, &sp), 0);
	baton_span_end(sp);
	cr_assert_eq(bt_nng_payload_copies(), copies + (insert_is_safe() ? 0 : 1));
	cr_assert_eq(baton_nng_msg_unseal(m), 0);
	cr_assert_eq(nng_msg_len(m), 8 + sizeof(big));
	cr_assert_eq(((uint8_t *)nng_msg_body(m))[8 + 100], 0xAB);
	nng_msg_free(m);
	baton_fini(1000);
}

/* A header that copies the tag's magic but not its check is a peer's, not ours. */
Test(nng_copies, forged_tag_is_not_trusted)
{
	init(baton_sampler_always_on());
	nng_msg *real = filled(16), *m;
	cr_assert_eq(nng_msg_alloc(&m, 16), 0);
	memcpy(nng_msg_body(m), nng_msg_body(real), 16);
	/* The real tag's bytes: right magic and room, another body's address. */
	cr_assert_eq(nng_msg_header_append(m, nng_msg_header(real), 16), 0);
	uint64_t copies = bt_nng_payload_copies();
	baton_span sp;
	cr_assert_eq(baton_nng_msg_seal(m, NULL, &sp), 0);
	baton_span_end(sp);
	cr_assert_eq(bt_nng_payload_copies(), copies + (insert_is_safe() ? 0 : 1));
	cr_assert_eq(nng_msg_header_len(m), 16, "a header that is not ours was touched");
	cr_assert_eq(baton_nng_msg_unseal(m), 0);
	assert_payload(m, 16);
	nng_msg_free(m);
	nng_msg_free(real);
	baton_fini(1000);
}

/* Messages of unknown origin: on NNG before 1.8.0, one counted copy each. */
Test(nng_copies, foreign_message_is_counted_when_copied)
{
	init(baton_sampler_always_off());
	nng_msg *m;
	cr_assert_eq(nng_msg_alloc(&m, 64), 0);
	uint64_t copies = bt_nng_payload_copies();
	baton_span sp;
	cr_assert_eq(baton_nng_msg_seal(m, NULL, &sp), 0);
	baton_span_end(sp);
	cr_assert_eq(bt_nng_payload_copies(), copies + (insert_is_safe() ? 0 : 1));
	nng_msg_free(m);
	cr_assert_eq(baton_nng_msg_alloc(NULL, 1), NNG_EINVAL);
	baton_fini(1000);
}
