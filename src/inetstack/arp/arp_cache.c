/* ARP cache (RFC 826, RFC 1122 section 2.3.2): entries, their timers, and the packets parked on them. */
#include <errno.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../../runtime/log.h"
#include "../eth/eth.h"
#include "../inet_tx.h"
#include "../../net/prot/arp.h"
#include "../../net/prot/ethernet.h"
#include "arp_priv.h"

static inline uint32_t bucket_of(uint32_t ip) { return (ip * 2654435761u) >> 24; /* 256 buckets */ }

struct arp_entry *arp_find(struct arp *a, uint32_t ip)
{
	for (int32_t i = a->buckets[bucket_of(ip)]; i >= 0; i = a->entries[i].hnext)
		if (a->entries[i].ip == ip)
			return &a->entries[i];
	return NULL;
}

int arp_lookup(const struct inet *in, uint32_t ip, uint8_t *mac)
{
	const struct arp_entry *e = arp_find((struct arp *)&in->arp, ip);
	if (!e || e->state < ARP_REACHABLE)
		return -ENOENT;
	memcpy(mac, e->mac, 6);
	return 0;
}

static inline bool unresolved(uint8_t state) { return state == ARP_INCOMPLETE || state == ARP_FAILED; }

/* When e was last sent through: a send outside a poll only flagged it (arp_output), so it counts as now. */
static inline uint64_t last_use(const struct arp_entry *e, uint64_t now) { return e->touched ? now : e->used; }

/* Every state change goes here: it keeps the count of unresolved entries. */
static void set_state(struct arp *a, struct arp_entry *e, enum arp_state state)
{
	a->nunres += (uint32_t)unresolved((uint8_t)state) - (uint32_t)unresolved(e->state);
	e->state = (uint8_t)state;
}

static void drop_parked(struct inet *in, struct arp_entry *e)
{
	struct arp *a = &in->arp;
	for (int32_t i = e->qhead, next; i >= 0; i = next) {
		next = a->pend[i].next;
		pkt_free(in, &a->pend[i].pkt);
		a->pend[i].next = a->pend_free;
		a->pend_free = i;
		a->pend_used--;
		if (e->weak)
			INET_DROP(in->st.neigh.arp_drop_reply_unresolved, "arp reply-unresolved");
		else
			INET_DROP(in->st.arp.drop_queue_timeout, "arp queue-timeout");
	}
	e->qhead = e->qtail = -1;
	e->qlen = 0;
}

void arp_entry_free(struct inet *in, struct arp_entry *e)
{
	struct arp *a = &in->arp;
	timer_cancel(&in->rt->timers, &e->timer);
	drop_parked(in, e);
	int32_t idx = (int32_t)(e - a->entries);
	for (int32_t *link = &a->buckets[bucket_of(e->ip)]; *link >= 0; link = &a->entries[*link].hnext) {
		if (*link == idx) {
			*link = e->hnext;
			break;
		}
	}
	if (a->last == e)
		a->last = NULL;
	set_state(a, e, ARP_FREE);
	e->hnext = -1;
}

static void arp_timer(struct timer *t, void *arg);

/* Arms e's timer `ns` from now; an entry whose timer cannot be armed would live forever, so it goes. */
static bool arm(struct inet *in, struct arp_entry *e, uint64_t ns)
{
	if (timer_arm(&in->rt->timers, &e->timer, clock_now() + ns, arp_timer, e) == 0)
		return true;
	log_warn("inetstack: ARP timer not armed: entry dropped");
	arp_entry_free(in, e);
	return false;
}

/*
 * The slot a new entry for `state` takes: a free one, else a victim. An
 * unresolved entry never pushes out a resolved entry in use (sent through
 * within ARP_IN_USE_NS) nor a static one; at ARP_UNRES_MAX unresolved entries
 * it replaces one of them: a weak one first (only a reply wanted it), else a
 * FAILED one, else the oldest; below the cap it takes the least recently used
 * resolved entry not in use, else an unresolved one as above. A resolved one
 * (learnt from a request for us) takes an unresolved entry, else the least
 * recently used resolved entry not in use.
 */
static struct arp_entry *slot_for(struct inet *in, enum arp_state state)
{
	struct arp *a = &in->arp;
	uint64_t now = inet_now(in);
	bool unres_full = unresolved((uint8_t)state) && a->nunres >= ARP_UNRES_MAX;
	struct arp_entry *fr = NULL, *uv = NULL, *rv = NULL;
	for (int i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *c = &a->entries[i];
		if (c->state == ARP_FREE) {
			if (!fr)
				fr = c;
		} else if (unresolved(c->state)) {
			/* Rank: weak < FAILED < INCOMPLETE, then oldest. */
			int rc = c->weak ? 0 : c->state == ARP_FAILED ? 1 : 2;
			int ru = uv ? (uv->weak ? 0 : uv->state == ARP_FAILED ? 1 : 2) : 3;
			if (rc < ru || (rc == ru && c->used < uv->used))
				uv = c;
		} else if (c->state == ARP_REACHABLE) {
			uint64_t u = last_use(c, now);
			if (!(u && now - u < ARP_IN_USE_NS) && (!rv || u < last_use(rv, now)))
				rv = c;
		}
	}
	if (fr && !unres_full)
		return fr;
	if (uv && (unres_full || !unresolved((uint8_t)state))) {
		in->st.neigh.arp_unres_evicted++;
		arp_entry_free(in, uv);
		return uv;
	}
	if (rv && !unres_full) {
		in->st.neigh.arp_evicted++;
		arp_entry_free(in, rv);
		return rv;
	}
	if (uv) { /* below the cap, but every other entry is resolved and in use: the oldest unresolved one */
		in->st.neigh.arp_unres_evicted++;
		arp_entry_free(in, uv);
		return uv;
	}
	return NULL;
}

/* A free entry for ip, linked in its bucket (see slot_for for who gives way when the cache is full). */
struct arp_entry *arp_entry_new(struct inet *in, uint32_t ip, enum arp_state state)
{
	struct arp *a = &in->arp;
	struct arp_entry *e = slot_for(in, state);
	if (!e) {
		INET_DROP(in->st.arp.drop_cache_full, "arp cache-full");
		return NULL;
	}
	memset(e->mac, 0, sizeof(e->mac));
	e->ip = ip;
	set_state(a, e, state);
	e->tries = 0;
	e->weak = 0;
	e->stale = 0;
	e->touched = 0;
	e->used = unresolved((uint8_t)state) ? inet_now(in) : 0;
	e->qhead = e->qtail = -1;
	e->qlen = 0;
	e->in = in;
	uint32_t b = bucket_of(ip);
	e->hnext = a->buckets[b];
	a->buckets[b] = (int32_t)(e - a->entries);
	return e;
}

/* e's address is known: the entry lives for the TTL and its parked packets leave, in order. */
void arp_entry_resolved(struct inet *in, struct arp_entry *e, const uint8_t *mac)
{
	struct arp *a = &in->arp;
	memcpy(e->mac, mac, 6);
	if (unresolved(e->state))
		e->used = e->qhead >= 0 ? inet_now(in) : 0; /* its parked packets leave now; none: LRU's oldest */
	set_state(a, e, ARP_REACHABLE);
	e->tries = 0;
	e->weak = 0;
	e->stale = 0;
	if (a->ttl_ns) {
		if (!arm(in, e, a->ttl_ns))
			return;
	} else {
		timer_cancel(&in->rt->timers, &e->timer);
	}
	for (int32_t i = e->qhead, next; i >= 0; i = next) {
		next = a->pend[i].next;
		struct pkt p = a->pend[i].pkt;
		a->pend[i].next = a->pend_free;
		a->pend_free = i;
		a->pend_used--;
		in->st.arp.flushed++;
		eth_output(in, &p, e->mac, ETH_TYPE_IPV4);
	}
	e->qhead = e->qtail = -1;
	e->qlen = 0;
	if (!in->in_poll)
		inet_tx_flush(in);
}

bool arp_request_budget(struct inet *in, bool reply)
{
	struct arp *a = &in->arp;
	const uint64_t cost = NSEC_PER_SEC / ARP_REQ_RATE, cap = cost * ARP_REQ_BURST;
	uint64_t now = inet_now(in);
	if (now > a->credit_at) {
		a->credit_ns += now - a->credit_at;
		if (a->credit_ns > cap)
			a->credit_ns = cap;
		a->credit_at = now;
	}
	if (a->credit_ns < cost + (reply ? cap / 2 : 0)) {
		INET_DROP(in->st.neigh.arp_ratelimited, "arp ratelimited");
		return false;
	}
	a->credit_ns -= cost;
	return true;
}

/* One request for e, to eth_dst, within the total budget. */
static void request(struct inet *in, struct arp_entry *e, const uint8_t *eth_dst)
{
	if (arp_request_budget(in, e->weak))
		arp_send(in, ARP_OP_REQUEST, NULL, e->ip, eth_dst);
}

/* Gives up resolving e: its packets go, and it stays FAILED for ARP_FAILED_HOLD_NS (no request meanwhile). */
static void failed(struct inet *in, struct arp_entry *e)
{
	in->st.arp.timeouts++;
	drop_parked(in, e);
	set_state(&in->arp, e, ARP_FAILED);
	e->weak = 0;
	arm(in, e, ARP_FAILED_HOLD_NS);
}

/*
 * INCOMPLETE: send the next request, or give up after arp_request_retries
 * (ARP_REPLY_TRIES for a weak entry; RFC 1122 2.3.2.1: bounded
 * retransmission) and drop what was parked. REACHABLE: the TTL ran out; an
 * entry sent through during it goes stale (still used, probed on the next
 * send), else it goes; a probed one that got no answer goes. FAILED: the hold
 * is over.
 */
static void arp_timer(struct timer *t, void *arg)
{
	(void)t;
	struct arp_entry *e = arg;
	struct inet *in = e->in;
	struct arp *a = &in->arp;
	uint32_t max = e->weak ? ARP_REPLY_TRIES : a->retries;
	if (e->state == ARP_INCOMPLETE) {
		if (e->tries >= max) {
			failed(in, e);
			return;
		}
		e->tries++;
		request(in, e, eth_broadcast);
		if (arm(in, e, a->retry_ns) && !in->in_poll)
			inet_tx_flush(in);
		return;
	}
	if (e->state == ARP_REACHABLE && e->tries && e->tries < a->retries) {
		e->tries++;
		in->st.neigh.arp_probes++;
		request(in, e, e->mac);
		if (arm(in, e, a->retry_ns) && !in->in_poll)
			inet_tx_flush(in);
		return;
	}
	if (e->state == ARP_REACHABLE && !e->tries) {
		uint64_t now = inet_now(in);
		e->used = last_use(e, now);
		e->touched = 0;
		if (!e->stale && e->used && now - e->used < a->ttl_ns) {
			e->stale = 1;
			arm(in, e, a->ttl_ns);
			return;
		}
	}
	if (e->state == ARP_REACHABLE && e->tries)
		in->st.arp.timeouts++;
	arp_entry_free(in, e);
}

void arp_probe(struct inet *in, struct arp_entry *e)
{
	e->stale = 0;
	e->tries = 1;
	in->st.neigh.arp_probes++;
	request(in, e, e->mac);
	arm(in, e, in->arp.retry_ns);
}

/* Parks p on an INCOMPLETE entry; consumes p. */
int arp_park(struct inet *in, struct arp_entry *e, struct pkt *p)
{
	struct arp *a = &in->arp;
	if (e->weak && e->qlen >= 1) {
		/* A reply's retransmission while its first copy waits: one is enough. */
		INET_DROP(in->st.neigh.arp_drop_reply_unresolved, "arp reply-unresolved");
		pkt_free(in, p);
		return -EHOSTUNREACH;
	}
	if (e->qlen >= ARP_PENDING_PER_ENTRY || a->pend_free < 0) {
		INET_DROP(in->st.arp.drop_queue_full, "arp queue-full");
		pkt_free(in, p);
		return -ENOBUFS;
	}
	/* The packet outlives its push: the application may reuse its buffer. */
	if (inet_pkt_own(in, p) < 0) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		pkt_free(in, p);
		return -ENOBUFS;
	}
	int32_t i = a->pend_free;
	a->pend_free = a->pend[i].next;
	a->pend_used++;
	a->pend[i].pkt = *p;
	a->pend[i].next = -1;
	if (e->qtail >= 0)
		a->pend[e->qtail].next = i;
	else
		e->qhead = i;
	e->qtail = i;
	e->qlen++;
	in->st.arp.queued++;
	return 0;
}

/* Starts resolving e: first request now (paid: its budget already taken), retries from its timer. */
void arp_start(struct inet *in, struct arp_entry *e, bool paid)
{
	e->tries = 1;
	if (paid)
		arp_send(in, ARP_OP_REQUEST, NULL, e->ip, eth_broadcast);
	else
		request(in, e, eth_broadcast);
	arm(in, e, in->arp.retry_ns);
}

void arp_init(struct inet *in, const struct demi_config *cfg)
{
	struct arp *a = &in->arp;
	for (int i = 0; i < ARP_BUCKETS; i++)
		a->buckets[i] = -1;
	for (int i = 0; i < ARP_ENTRIES; i++) {
		a->entries[i].hnext = -1;
		a->entries[i].qhead = a->entries[i].qtail = -1;
	}
	for (int i = 0; i < ARP_PENDING_MAX; i++)
		a->pend[i].next = i + 1 < ARP_PENDING_MAX ? i + 1 : -1;
	a->pend_free = 0;
	a->ttl_ns = cfg->arp_cache_ttl_s * NSEC_PER_SEC;
	a->retry_ns = (cfg->arp_request_timeout_ms ? cfg->arp_request_timeout_ms : 1) * NSEC_PER_MSEC;
	a->retries = cfg->arp_request_retries ? cfg->arp_request_retries : 1;
	a->credit_ns = NSEC_PER_SEC / ARP_REQ_RATE * ARP_REQ_BURST; /* a full bucket */
	a->credit_at = clock_now();
	for (int i = 0; i < cfg->arp_table_len; i++) {
		uint32_t ip = cfg->arp_table[i].ip.s_addr;
		struct arp_entry *e = arp_find(a, ip);
		if (!e)
			e = arp_entry_new(in, ip, ARP_STATIC);
		if (!e)
			break;
		set_state(a, e, ARP_STATIC);
		memcpy(e->mac, cfg->arp_table[i].mac, 6);
	}
}

void arp_fini(struct inet *in)
{
	for (int i = 0; i < ARP_ENTRIES; i++)
		if (in->arp.entries[i].state != ARP_FREE)
			arp_entry_free(in, &in->arp.entries[i]);
}
