/* The sender's SACK scoreboard (RFC 6675 section 3) and its IsLost, SetPipe and NextSeg (section 4). */
#include "tcp_sack.h"

#include <string.h>

void tcp_sb_reset(struct tcp_scoreboard *sb, tcp_seq snd_una)
{
	sb->n = 0;
	sb->sacked_bytes = 0;
	sb->high_rxt = snd_una;
	sb->rescue_rxt = snd_una;
}

static void sb_remove(struct tcp_scoreboard *sb, uint32_t i, uint32_t count)
{
	memmove(&sb->blk[i], &sb->blk[i + count], (sb->n - i - count) * sizeof(sb->blk[0]));
	sb->n -= count;
}

/*
 * Adds [s, e) to the sorted ranges, merging every range it overlaps or
 * touches (ranges stay maximal, so equal scoreboards compare equal). Returns
 * the bytes it newly covered.
 */
static uint32_t sb_add(struct tcp_scoreboard *sb, tcp_seq s, tcp_seq e)
{
	uint32_t i = 0;
	while (i < sb->n && SEQ_LT(sb->blk[i].end, s))
		i++;
	uint32_t j = i, covered = 0;
	tcp_seq ms = s, me = e;
	for (; j < sb->n && SEQ_LEQ(sb->blk[j].start, e); j++) {
		tcp_seq os = SEQ_MAX(sb->blk[j].start, s), oe = SEQ_MIN(sb->blk[j].end, e);
		if (SEQ_LT(os, oe))
			covered += oe - os;
		ms = SEQ_MIN(ms, sb->blk[j].start);
		me = SEQ_MAX(me, sb->blk[j].end);
	}
	uint32_t fresh = (e - s) - covered;
	if (j > i) { /* merge into blk[i], dropping the others it absorbed */
		sb->blk[i].start = ms;
		sb->blk[i].end = me;
		sb_remove(sb, i + 1, j - i - 1);
	} else {
		if (sb->n == TCP_SB_MAX) {
			/*
			 * Full: keep the lowest ranges, which NextSeg needs first; the
			 * peer repeats the higher ones (RFC 2018 section 4) once these
			 * are acknowledged and room frees up.
			 */
			if (i == sb->n)
				return 0;
			sb->n--;
			sb->sacked_bytes -= sb->blk[sb->n].end - sb->blk[sb->n].start;
		}
		memmove(&sb->blk[i + 1], &sb->blk[i], (sb->n - i) * sizeof(sb->blk[0]));
		sb->blk[i].start = s;
		sb->blk[i].end = e;
		sb->n++;
	}
	sb->sacked_bytes += fresh;
	return fresh;
}

uint32_t tcp_sb_update(struct tcp_scoreboard *sb, tcp_seq snd_una, tcp_seq snd_max, const struct tcp_sack_block *b,
		       uint32_t n)
{
	uint32_t fresh = 0;
	for (uint32_t k = 0; k < n; k++) {
		tcp_seq s = b[k].start, e = b[k].end;
		/*
		 * RFC 2018 section 3 and RFC 6675 section 5: an empty or inverted
		 * block, one past what was sent, or a D-SACK block wholly below
		 * SND.UNA (RFC 2883) says nothing about data in flight.
		 */
		if (SEQ_GEQ(s, e) || SEQ_GT(e, snd_max) || SEQ_LEQ(e, snd_una))
			continue;
		if (SEQ_LT(s, snd_una))
			s = snd_una;
		fresh += sb_add(sb, s, e);
	}
	return fresh;
}

void tcp_sb_ack(struct tcp_scoreboard *sb, tcp_seq snd_una)
{
	uint32_t gone = 0;
	while (gone < sb->n && SEQ_LEQ(sb->blk[gone].end, snd_una)) {
		sb->sacked_bytes -= sb->blk[gone].end - sb->blk[gone].start;
		gone++;
	}
	sb_remove(sb, 0, gone);
	if (sb->n && SEQ_LT(sb->blk[0].start, snd_una)) {
		sb->sacked_bytes -= snd_una - sb->blk[0].start;
		sb->blk[0].start = snd_una;
	}
	if (SEQ_LT(sb->high_rxt, snd_una))
		sb->high_rxt = snd_una;
}

bool tcp_sb_is_sacked(const struct tcp_scoreboard *sb, tcp_seq seq)
{
	for (uint32_t i = 0; i < sb->n && SEQ_LEQ(sb->blk[i].start, seq); i++)
		if (SEQ_LT(seq, sb->blk[i].end))
			return true;
	return false;
}

tcp_seq tcp_sb_high_sacked(const struct tcp_scoreboard *sb, tcp_seq snd_una)
{
	return sb->n ? sb->blk[sb->n - 1].end : snd_una;
}

/* RFC 6675 section 4 IsLost's test, given what is SACKed above the sequence number. */
static bool lost_above(uint32_t ranges, uint64_t bytes, uint32_t mss)
{
	return ranges >= TCP_DUPTHRESH || bytes > (uint64_t)(TCP_DUPTHRESH - 1) * mss;
}

bool tcp_sb_is_lost(const struct tcp_scoreboard *sb, tcp_seq seq, uint32_t mss)
{
	/* Octets "with sequence numbers greater than SeqNum": from seq + 1 on. */
	tcp_seq above = seq + 1;
	uint32_t ranges = 0;
	uint64_t bytes = 0;
	for (uint32_t i = sb->n; i-- > 0 && SEQ_GT(sb->blk[i].end, above);) {
		ranges++;
		bytes += sb->blk[i].end - SEQ_MAX(sb->blk[i].start, above);
		if (lost_above(ranges, bytes, mss))
			return true;
	}
	return false;
}

/*
 * Every octet of one hole (the gap below blk[i]) has the same ranges above
 * it, blk[i..n), so IsLost is the same for the whole hole and one test per
 * hole is the RFC's per-octet definition exactly. Walking from the top keeps
 * the counts as running sums: O(n) for SetPipe and NextSeg.
 */
uint32_t tcp_sb_pipe(const struct tcp_scoreboard *sb, tcp_seq snd_una, tcp_seq snd_max, uint32_t mss)
{
	uint32_t pipe = 0, ranges = 0;
	uint64_t bytes = 0;
	tcp_seq hole_end = snd_max;
	for (uint32_t i = sb->n + 1; i-- > 0;) {
		tcp_seq hole_start = i ? sb->blk[i - 1].end : snd_una;
		hole_start = SEQ_MAX(hole_start, snd_una);
		tcp_seq he = SEQ_MIN(hole_end, snd_max);
		if (SEQ_LT(hole_start, he)) {
			/* RFC 6675 section 4 SetPipe (a): not lost, so still in flight. */
			if (!lost_above(ranges, bytes, mss))
				pipe += he - hole_start;
			/* (b): retransmitted (below HighRxt), so a copy is in flight too. */
			tcp_seq re = SEQ_MIN(he, sb->high_rxt);
			if (SEQ_LT(hole_start, re))
				pipe += re - hole_start;
		}
		if (i) {
			ranges++;
			bytes += sb->blk[i - 1].end - sb->blk[i - 1].start;
			hole_end = sb->blk[i - 1].start;
		}
	}
	return pipe;
}

bool tcp_sb_next_seg(const struct tcp_scoreboard *sb, tcp_seq snd_una, tcp_seq snd_max, uint32_t mss,
		     bool rule1_only, tcp_seq *seq, uint32_t *len)
{
	/* (1.a): at or above HighRxt, which marks one past the last retransmitted octet. */
	tcp_seq from = SEQ_MAX(sb->high_rxt, snd_una);
	/* (1.b): below the highest SACKed octet, so only holes under some range qualify. */
	for (uint32_t i = 0; i < sb->n; i++) {
		tcp_seq hs = SEQ_MAX(i ? sb->blk[i - 1].end : snd_una, from);
		tcp_seq he = SEQ_MIN(sb->blk[i].start, snd_max);
		if (!SEQ_LT(hs, he))
			continue;
		/* (1.c) IsLost; IsLost only weakens going up, so if this hole fails it, every later one does. */
		if (rule1_only) {
			uint64_t bytes = 0;
			for (uint32_t k = i; k < sb->n; k++)
				bytes += sb->blk[k].end - sb->blk[k].start;
			if (!lost_above(sb->n - i, bytes, mss))
				return false;
		}
		/* Rule 3 drops (1.c): the first unSACKed hole below the highest SACK will do. */
		*seq = hs;
		*len = he - hs < mss ? he - hs : mss;
		return true;
	}
	return false;
}
