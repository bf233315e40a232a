"""rapidfuzz's `fuzz.ratio`, bit for bit, over Arrow string buffers, compiled with numba.

The blocking prefilter scores hundreds of millions of (award name, recipient name) pairs per
full run. Through rapidfuzz, each `cdist` call first converts every Python string of a block
while holding the GIL, so two threads were barely faster than one, and the index had to keep a
Python string per posting (11 M of them). These kernels read the UTF-8 bytes of the
(memory-mapped) Arrow arrays directly, in threads that never hold the GIL.

`fuzz.ratio(a, b)` is the Indel similarity `100 * (1 - (len(a) + len(b) - 2 * LCS) / (len(a) +
len(b)))`. The LCS comes from Hyyrö's bit-parallel algorithm: several queries share a 64-bit
word, and sixteen words go over each recipient name's bytes at once, as one vector (`_lcs_vector`).
Which pairs are kept is then decided a round of sixteen queries at a time, one per word
(`_lanes_kept`): a vector popcount of each query's unmatched bits, compared with a table of how
many a name of that length allows.
`ratio_with_cutoff` follows rapidfuzz's `_normalized_similarity` step by step (its 1e-5
imprecision, the ceil of the distance cut-off, the comparisons in the normalised domain); a pair
counts as kept the way `cdist(..., dtype=np.uint8)` keeps it: rounded half away from zero, not 0.
Since that depends only on the two lengths and the distance, each cut-off becomes one table: the
largest distance kept per length sum. Strings these kernels cannot score exactly (a query over
64 bytes, a byte outside ASCII, where bytes are not code points) come back `UNDECIDED`, for
rapidfuzz to score. `tests/properties/test_pair_scores.py` checks them against rapidfuzz.

numba rather than a C extension: no compiler is needed where the wheel is installed; the
kernels compile on first use and are cached on disk.
"""

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

UNDECIDED = 255  # a verdict: rapidfuzz must score the pair (kept pairs carry 1 + their LCS, at most 65)
EMPTY, INEXACT = -1, -2  # a query's word: none needed (""), or none possible (rapidfuzz must score it)
WORD_BITS = 64
LANES = 16  # 64-bit words run over a name's bytes at once, as one vector
IMPRECISION = 0.00001  # rapidfuzz's NormSim_to_NormDist
MEMBER_TILE = 512  # recipient names (about 11 KB of bytes) scored by every query group while in cache
ROUNDS = 16  # queries one 64-bit word holds at most: the r-th query of every word of a chain is one round


@njit(cache=True, nogil=True)
def ratio_with_cutoff(lcs: int, lensum: int, score_cutoff: float) -> float:
    """`fuzz.ratio` of two strings from their LCS and summed length, as rapidfuzz computes it
    with `score_cutoff` (0.0 when below it)."""
    cutoff = score_cutoff / 100.0
    dist_cutoff = min(1.0, 1.0 - cutoff + IMPRECISION)
    dist = lensum - 2 * lcs
    if dist > np.ceil(lensum * dist_cutoff):
        return 0.0
    norm_dist = dist / lensum if lensum != 0 else 0.0
    if norm_dist > dist_cutoff:
        norm_dist = 1.0
    norm_sim = 1.0 - norm_dist
    return norm_sim * 100.0 if norm_sim >= cutoff else 0.0


@njit(cache=True, nogil=True)
def kept_distances(score_cutoff: float, max_lensum: int) -> np.ndarray:
    """Per length sum 0..max_lensum, the largest Indel distance `cdist(..., score_cutoff=...,
    dtype=np.uint8)` keeps (a nonzero score); -1 when none is kept."""
    out = np.full(max_lensum + 1, -1, dtype=np.int64)
    for lensum in range(max_lensum + 1):
        for dist in range(lensum % 2, lensum + 1, 2):  # lensum - 2 * lcs has lensum's parity
            if np.floor(ratio_with_cutoff((lensum - dist) // 2, lensum, score_cutoff) + 0.5) >= 1.0:
                out[lensum] = dist
    return out


@njit(cache=True, nogil=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True)
def _pack(
    q_offsets: np.ndarray,
    q_data: np.ndarray,
    queries: np.ndarray,
    pm: np.ndarray,
    keep: np.ndarray,
    word: np.ndarray,
    shift: np.ndarray,
    length: np.ndarray,
) -> int:
    """Pack the queries into 64-bit words, up to `ROUNDS` per word, each above a guard bit: pm[c, w]
    gets word w's match mask of byte c, keep[w] the bits that are not guards. word[i] is query i's
    word, or EMPTY / INEXACT (over 64 bytes or outside ASCII). Returns the number of words."""
    words = 0
    used = WORD_BITS
    in_word = 0
    for i in range(len(queries)):
        lo, hi = q_offsets[queries[i]], q_offsets[queries[i] + 1]
        length[i] = hi - lo
        word[i] = EMPTY if hi == lo else INEXACT
        if hi == lo or hi - lo > WORD_BITS:
            continue
        ascii_only = True
        for j in range(lo, hi):
            ascii_only &= q_data[j] < 128
        if not ascii_only:
            continue
        start = used + 1 if used > 0 else 0  # a guard bit between two queries stops the carries
        if start + hi - lo > WORD_BITS or in_word == ROUNDS:
            pm[:, words] = 0
            keep[words] = ~np.uint64(0)
            words += 1
            start, in_word = 0, 0
        elif used > 0:
            keep[words - 1] &= ~(np.uint64(1) << np.uint64(used))
        in_word += 1
        for j in range(lo, hi):
            pm[q_data[j], words - 1] |= np.uint64(1) << np.uint64(start + j - lo)
        word[i], shift[i], used = words - 1, start, start + hi - lo
    return words


def _lcs_vector_ir(typingctx: Any, pm: Any, w0: Any, keep: Any, data: Any, lo: Any, hi: Any, s: Any) -> Any:
    """Run data[lo:hi] through words w0..w0+LANES-1 at once (Hyyrö's bit-parallel LCS, one
    vector of LANES 64-bit words); s[k] is word w0+k's final state. False, s untouched, at a
    byte outside ASCII. pm is byte-major: pm[c, w0:w0 + LANES], the words' masks of byte c, lie
    side by side, so each byte costs one vector load. Written as LLVM IR because numba leaves
    LLVM's SLP vectoriser off, and this loop is most of a full run's time. Unchecked reads:
    keep and pm must have LANES words from w0 on (kept_pairs allocates LANES spare ones)."""
    words_c = [isinstance(a, types.Array) and a.dtype == types.uint64 and a.layout == "C" for a in (pm, keep, s)]
    bytes_1d = isinstance(data, types.Array) and data.dtype == types.uint8 and data.ndim == 1
    int64s = all(x == types.int64 for x in (w0, lo, hi))
    if not (all(words_c) and pm.ndim == 2 and bytes_1d and int64s):
        return None  # only the layouts kept_pairs allocates are read as vectors
    sig = types.boolean(pm, w0, keep, data, lo, hi, s)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> ir.Value:
        pm_a = context.make_array(signature.args[0])(context, builder, args[0])
        keep_a = context.make_array(signature.args[2])(context, builder, args[2])
        data_a = context.make_array(signature.args[3])(context, builder, args[3])
        s_a = context.make_array(signature.args[6])(context, builder, args[6])
        w0_v, lo_v, hi_v = args[1], args[4], args[5]
        i64 = ir.IntType(64)
        vec = ir.VectorType(i64, LANES)
        vec_ptr = vec.as_pointer()
        row = builder.extract_value(pm_a.strides, 0)  # bytes per row of pm
        pm_bytes = builder.bitcast(pm_a.data, ir.IntType(8).as_pointer())
        keep_ptr = builder.bitcast(builder.gep(keep_a.data, [w0_v]), vec_ptr)
        kv = builder.load(keep_ptr, align=8)
        entry = builder.block
        head = builder.append_basic_block("lcs.head")
        body = builder.append_basic_block("lcs.body")
        step = builder.append_basic_block("lcs.step")
        done = builder.append_basic_block("lcs.done")
        fail = builder.append_basic_block("lcs.fail")
        out = builder.append_basic_block("lcs.out")
        builder.branch(head)
        builder.position_at_end(head)
        i = builder.phi(i64)
        sv = builder.phi(vec)
        i.add_incoming(lo_v, entry)
        sv.add_incoming(kv, entry)
        builder.cbranch(builder.icmp_signed("<", i, hi_v), body, done)
        builder.position_at_end(body)
        c = builder.zext(builder.load(builder.gep(data_a.data, [i])), i64)
        builder.cbranch(builder.icmp_unsigned(">=", c, ir.Constant(i64, 128)), fail, step)
        builder.position_at_end(step)
        at = builder.add(builder.mul(c, row), builder.mul(w0_v, ir.Constant(i64, 8)))
        pmv = builder.load(builder.bitcast(builder.gep(pm_bytes, [at]), vec_ptr), align=8)
        u = builder.and_(sv, pmv)
        nxt = builder.and_(builder.or_(builder.add(sv, u), builder.sub(sv, u)), kv)
        i.add_incoming(builder.add(i, ir.Constant(i64, 1)), step)
        sv.add_incoming(nxt, step)
        builder.branch(head)
        builder.position_at_end(done)
        builder.store(sv, builder.bitcast(s_a.data, vec_ptr), align=8)
        builder.branch(out)
        builder.position_at_end(fail)
        builder.branch(out)
        builder.position_at_end(out)
        result = builder.phi(ir.IntType(1))
        result.add_incoming(ir.Constant(ir.IntType(1), 1), done)
        result.add_incoming(ir.Constant(ir.IntType(1), 0), fail)
        return result

    return sig, codegen


_lcs_vector: Any = intrinsic(_lcs_vector_ir)  # (pm, w0, keep, data, lo, hi, s) -> bool, inside njit code


def _lanes_kept_ir(typingctx: Any, s: Any, masks: Any, mask_at: Any, allow: Any, allow_at: Any) -> Any:
    """One round of a chain's queries, one per lane, decided at once: bit k is set when the
    query in lane k misses at most allow[allow_at + k] of its bytes, popcount(s[k] & masks[mask_at
    + k]), that is, when its pair is kept. Vector and, popcount and compare, where the scalar test
    of each pair (shift, mask, popcount, length sum, table) was 40 % of the prefilter's time."""
    words_c = all(isinstance(a, types.Array) and a.dtype == types.uint64 and a.layout == "C" for a in (s, masks))
    bytes_c = isinstance(allow, types.Array) and allow.dtype == types.int8 and allow.layout == "C"
    if not (words_c and bytes_c and mask_at == types.int64 and allow_at == types.int64):
        return None
    sig = types.int64(s, masks, mask_at, allow, allow_at)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> ir.Value:
        s_a = context.make_array(signature.args[0])(context, builder, args[0])
        masks_a = context.make_array(signature.args[1])(context, builder, args[1])
        allow_a = context.make_array(signature.args[3])(context, builder, args[3])
        i64 = ir.IntType(64)
        words, small = ir.VectorType(i64, LANES), ir.VectorType(ir.IntType(8), LANES)
        state = builder.load(builder.bitcast(s_a.data, words.as_pointer()), align=8)
        mask = builder.load(builder.bitcast(builder.gep(masks_a.data, [args[2]]), words.as_pointer()), align=8)
        most = builder.load(builder.bitcast(builder.gep(allow_a.data, [args[4]]), small.as_pointer()), align=1)
        popcount = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(words, [words]), f"llvm.ctpop.v{LANES}i64"
        )
        missed = builder.call(popcount, [builder.and_(state, mask)])
        kept = builder.icmp_signed("<=", missed, builder.sext(most, words))
        return builder.zext(builder.bitcast(kept, ir.IntType(LANES)), i64)

    return sig, codegen


_lanes_kept: Any = intrinsic(_lanes_kept_ir)  # (s, masks, mask_at, allow, allow_at) -> lane bits, inside njit code


def _prefetch_ir(typingctx: Any, data: Any, at: Any) -> Any:
    """Ask for the cache line of data[at] without waiting for it (`llvm.prefetch`, for reading,
    into every cache level): unlike a load, it retires at once, so many misses are in flight."""
    if not (isinstance(data, types.Array) and data.dtype == types.uint8 and at == types.int64):
        return None
    sig = types.void(data, at)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> None:
        data_a = context.make_array(signature.args[0])(context, builder, args[0])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        # Named by llvmlite for its kind of pointer ("p0i8" typed, as older LLVMs want; LLVM 15+ upgrades it).
        prefetch = builder.module.declare_intrinsic(
            "llvm.prefetch", [i8p], ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        )
        address = builder.bitcast(builder.gep(data_a.data, [args[1]]), i8p)
        builder.call(prefetch, [address, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])

    return sig, codegen


_prefetch: Any = intrinsic(_prefetch_ir)  # (data, at), inside njit code


@njit(cache=True, nogil=True, inline="always")
def _shortest_reachable(m: int, limit: np.ndarray) -> int:
    """The shortest name length a query of m bytes can be kept with (distance >= length gap)."""
    for length in range(m + 1):
        if m - length <= limit[m + length]:
            return length
    return m


@njit(cache=True, nogil=True, inline="always")
def _longest_reachable(m: int, limit: np.ndarray) -> int:
    """The longest name length a query of m bytes can be kept with; the table's end if no end."""
    for length in range(len(limit) - 1 - m, m - 1, -1):
        if length - m <= limit[m + length]:
            return length
    return m


@njit(cache=True, nogil=True)
def _chains(
    word: np.ndarray,
    length: np.ndarray,
    queries: int,
    words: int,
    limit: np.ndarray,
    ascii_names: bool,
    no_limit: int,
    chain_q: np.ndarray,
    chain_len: np.ndarray,
) -> int:
    """Split the packed queries into chains of LANES words: chain c scores queries
    chain_q[c]:chain_q[c + 1] (those in no word go with the first), and only names whose length
    is within chain_len[c] (every length unless `ascii_names`, where bytes are characters)."""
    chains = max((words + LANES - 1) // LANES, 1)
    i = 0
    for c in range(chains):
        chain_q[c] = i
        shortest, longest = (no_limit, -1) if ascii_names else (0, no_limit)
        while i < queries and word[i] < (c + 1) * LANES:
            if word[i] == INEXACT:
                shortest, longest = 0, no_limit
            else:
                shortest = min(shortest, _shortest_reachable(length[i], limit))
                longest = max(longest, _longest_reachable(length[i], limit))
            i += 1
        chain_len[c, 0], chain_len[c, 1] = shortest, longest
    chain_q[chains] = i
    return chains


@njit(cache=True, nogil=True)
def _lane_tables(
    word: np.ndarray,
    shift: np.ndarray,
    length: np.ndarray,
    chains: int,
    chain_q: np.ndarray,
    chain_len: np.ndarray,
    limit: np.ndarray,
    chain_rounds: np.ndarray,
    by_lanes: np.ndarray,
    table_lo: np.ndarray,
    slot_mask: np.ndarray,
    slot_query: np.ndarray,
    allow: np.ndarray,
) -> tuple[int, int]:
    """Lay each chain's queries out by round and lane for `_lanes_kept`: the r-th query of the
    chain's word k is slot (r, k), with its bits in the word (slot_mask) and its id (slot_query,
    -1 for none); allow holds, per name length L from table_lo[c] and slot, how many of the
    query's bytes may go unmatched for the pair to be kept (-1: none may). by_lanes[c] is False
    for a chain with a query in no word (empty, or for rapidfuzz): it keeps the pair-by-pair
    test. Returns the rounds and name lengths each chain's part of the arrays is laid out for."""
    name_longest = len(limit) - 1 - WORD_BITS
    in_lane = np.zeros(LANES, dtype=np.int64)
    rounds, span = 1, 1
    for c in range(chains):
        in_lane[:] = 0
        by_lanes[c] = True
        for i in range(chain_q[c], chain_q[c + 1]):
            if word[i] < 0:
                by_lanes[c] = False
            else:
                in_lane[word[i] - c * LANES] += 1
        chain_rounds[c] = in_lane.max()
        rounds = max(rounds, chain_rounds[c])
        table_lo[c] = chain_len[c, 0]
        span = max(span, min(chain_len[c, 1], name_longest) - chain_len[c, 0] + 1)
    for c in range(chains):
        if not by_lanes[c]:
            continue
        slots = c * rounds * LANES
        slot_mask[slots : slots + rounds * LANES] = 0
        slot_query[slots : slots + rounds * LANES] = -1
        in_lane[:] = 0
        for i in range(chain_q[c], chain_q[c + 1]):
            lane = word[i] - c * LANES
            at = slots + in_lane[lane] * LANES + lane
            in_lane[lane] += 1
            bits = ~np.uint64(0)
            if length[i] < WORD_BITS:
                bits = (np.uint64(1) << np.uint64(length[i])) - np.uint64(1)
            slot_mask[at], slot_query[at] = bits << np.uint64(shift[i]), i
        for name_len in range(table_lo[c], min(chain_len[c, 1], name_longest) + 1):
            row = (c * span + name_len - table_lo[c]) * rounds * LANES
            for slot in range(chain_rounds[c] * LANES):  # the chain's later rounds are never read
                i = slot_query[slots + slot]
                most = -1
                if i >= 0:  # kept: lensum - 2 * (length - missed) <= limit[lensum]
                    most = max((limit[length[i] + name_len] - name_len + length[i]) // 2, -1)
                allow[row + slot] = most
    return rounds, span


@njit(cache=True, nogil=True)
def kept_pairs(
    q_offsets: np.ndarray,
    q_data: np.ndarray,
    n_offsets: np.ndarray,
    n_data: np.ndarray,
    block_queries: np.ndarray,
    query_starts: np.ndarray,
    members: np.ndarray,
    member_lo: np.ndarray,
    member_hi: np.ndarray,
    kept: np.ndarray,
    block_kept: np.ndarray,
    ascii_names: bool,
    first: int,
    stop: int,
    out_query: np.ndarray,
    out_name: np.ndarray,
    out_verdict: np.ndarray,
    out_block: np.ndarray,
) -> int:
    """For blocks first..stop-1, every query of the block against every member; the pairs
    `fuzz.ratio` with the block's cut-off keeps go to the `out_` arrays (query id, name id,
    verdict, block), in no set order, and their number is returned: -1 when they do not fit
    (about 1 % of the pairs are kept at full scale). A verdict is 1 + the LCS, or `UNDECIDED`
    where rapidfuzz must say (a query over 64 bytes, or a query or name outside ASCII; such pairs
    are all listed).

    Block b's queries are `block_queries[query_starts[b]:query_starts[b + 1]]` (ids into the q_
    strings), its members `members[member_lo[b]:member_hi[b]]` (ids into the n_ strings); its
    cut-off is the table `kept[block_kept[b]]` of `kept_distances`. `ascii_names` says every n_
    string is ASCII, so that byte lengths are lengths and names no query can reach are skipped."""
    most = 1
    for b in range(first, stop):
        most = max(most, query_starts[b + 1] - query_starts[b])
    pm = np.zeros((128, most + LANES), dtype=np.uint64)  # byte-major; the last chain reads LANES words
    keep = np.zeros(most + LANES, dtype=np.uint64)
    word = np.zeros(most, dtype=np.int64)
    shift = np.zeros(most, dtype=np.int64)
    length = np.zeros(most, dtype=np.int64)
    s = np.zeros(LANES, dtype=np.uint64)
    chain_q = np.zeros(most + 2, dtype=np.int64)
    chain_len = np.zeros((most + 1, 2), dtype=np.int64)
    most_chains = (most + LANES - 1) // LANES + 1
    chain_rounds = np.zeros(most_chains, dtype=np.int64)
    by_lanes = np.zeros(most_chains, dtype=np.bool_)
    table_lo = np.zeros(most_chains, dtype=np.int64)
    slot_mask = np.zeros(most_chains * ROUNDS * LANES, dtype=np.uint64)
    slot_query = np.zeros(most_chains * ROUNDS * LANES, dtype=np.int64)
    allow = np.empty(most_chains * (kept.shape[1] - WORD_BITS) * ROUNDS * LANES, dtype=np.int8)
    count = 0
    for b in range(first, stop):
        limit = kept[block_kept[b]]
        width = member_hi[b] - member_lo[b]
        nq = query_starts[b + 1] - query_starts[b]
        queries = block_queries[query_starts[b] : query_starts[b + 1]]
        words = _pack(q_offsets, q_data, queries, pm, keep, word, shift, length)
        chains = _chains(word, length, nq, words, limit, ascii_names, n_data.size, chain_q, chain_len)
        rounds, span = _lane_tables(
            word, shift, length, chains, chain_q, chain_len, limit,
            chain_rounds, by_lanes, table_lo, slot_mask, slot_query, allow,
        )  # fmt: skip
        # Members in tiles that stay in cache while every chain of words passes over them.
        for t0 in range(0, width, MEMBER_TILE):
            t1 = min(width, t0 + MEMBER_TILE)
            # Prefetch the tile's names (the lines of their first and last bytes) first: the
            # requests retire at once, so the tile's cache misses overlap; a load, inside the bit
            # loops below or in a touching loop, stalls on its own. One batch: 0.70 s, not 0.94.
            for j in range(t0, t1):
                n = members[member_lo[b] + j]
                if n_offsets[n + 1] > n_offsets[n]:
                    _prefetch(n_data, np.int64(n_offsets[n]))
                    _prefetch(n_data, np.int64(n_offsets[n + 1] - 1))
            for c in range(chains):
                w0 = c * LANES
                for j in range(t0, t1):
                    n = members[member_lo[b] + j]
                    n_lo, n_hi = n_offsets[n], n_offsets[n + 1]
                    if n_hi - n_lo < chain_len[c, 0] or n_hi - n_lo > chain_len[c, 1]:
                        continue
                    ascii_name = _lcs_vector(pm, w0, keep, n_data, np.int64(n_lo), np.int64(n_hi), s)
                    if ascii_name and by_lanes[c]:
                        slots = c * rounds * LANES
                        row = (c * span + n_hi - n_lo - table_lo[c]) * rounds * LANES
                        for r in range(chain_rounds[c]):
                            lanes = _lanes_kept(s, slot_mask, slots + r * LANES, allow, row + r * LANES)
                            lane = 0
                            while lanes != 0:
                                if lanes & 1:
                                    at = slots + r * LANES + lane
                                    i = slot_query[at]
                                    if count == len(out_query):
                                        return -1
                                    out_query[count], out_name[count] = queries[i], n
                                    out_verdict[count] = 1 + length[i] - _popcount(s[lane] & slot_mask[at])
                                    out_block[count] = b
                                    count += 1
                                lanes >>= 1
                                lane += 1
                        continue
                    for i in range(chain_q[c], chain_q[c + 1]):
                        verdict = UNDECIDED
                        if word[i] != INEXACT and ascii_name:
                            lcs = 0
                            if word[i] >= 0:
                                bits = ~np.uint64(0)
                                if length[i] < WORD_BITS:
                                    bits = (np.uint64(1) << np.uint64(length[i])) - np.uint64(1)
                                lcs = length[i] - _popcount((s[word[i] - w0] >> np.uint64(shift[i])) & bits)
                            lensum = length[i] + n_hi - n_lo
                            if lensum - 2 * lcs > limit[lensum]:
                                continue
                            verdict = 1 + lcs
                        if count == len(out_query):
                            return -1
                        out_query[count], out_name[count] = queries[i], n
                        out_verdict[count], out_block[count] = verdict, b
                        count += 1
    return count


@njit(cache=True, nogil=True, inline="always")
def _is_space(c: int) -> bool:
    """rapidfuzz's whitespace for one-byte characters."""
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


@njit(cache=True, nogil=True)
def _words(data: np.ndarray, lo: int, hi: int, starts: np.ndarray, stops: np.ndarray) -> int:
    """Split data[lo:hi] into distinct words, as rapidfuzz's `sorted_split` and `dedupe` do for
    a string whose words are already sorted; -1 when the string is not such a string (a byte
    outside ASCII, whitespace other than spaces, or words out of order)."""
    count = 0
    i = lo
    while i < hi:
        c = data[i]
        if c >= 128 or (c != 32 and _is_space(c)):
            return -1
        if c == 32:
            i += 1
            continue
        j = i
        while j < hi and data[j] != 32:
            if data[j] >= 128 or _is_space(data[j]):
                return -1
            j += 1
        if count > 0:
            order = _compare(data, starts[count - 1], stops[count - 1], data, i, j)
            if order > 0:
                return -1
            if order == 0:  # a repeated word counts once
                i = j
                continue
        starts[count], stops[count] = i, j
        count += 1
        i = j
    return count


@njit(cache=True, nogil=True, inline="always")
def _compare(a: np.ndarray, a_lo: int, a_hi: int, b: np.ndarray, b_lo: int, b_hi: int) -> int:
    """-1, 0 or 1 as a[a_lo:a_hi] sorts before, equal to or after b[b_lo:b_hi] (bytewise)."""
    n = min(a_hi - a_lo, b_hi - b_lo)
    for k in range(n):
        if a[a_lo + k] != b[b_lo + k]:
            return -1 if a[a_lo + k] < b[b_lo + k] else 1
    if a_hi - a_lo == b_hi - b_lo:
        return 0
    return -1 if a_hi - a_lo < b_hi - b_lo else 1


@njit(cache=True, nogil=True, inline="always")
def _joined_length(starts: np.ndarray, stops: np.ndarray, words: np.ndarray, count: int) -> int:
    """The length of words[:count] joined by single spaces."""
    total = max(count - 1, 0)
    for w in range(count):
        total += stops[words[w]] - starts[words[w]]
    return total


@njit(cache=True, nogil=True, inline="always")
def _joined_lcs(
    a: np.ndarray, a_starts: np.ndarray, a_stops: np.ndarray, a_words: np.ndarray, a_count: int, a_len: int,
    b: np.ndarray, b_starts: np.ndarray, b_stops: np.ndarray, b_words: np.ndarray, b_count: int,
    pm: np.ndarray,
) -> int:  # fmt: skip
    """The LCS of a's words a_words[:a_count] joined by single spaces (a_len <= 64 bytes, the
    pattern) and the same for b; `pm` (128 match masks) is all zero before and after."""
    bit = 0
    for w in range(a_count):
        if w > 0:
            pm[32] |= np.uint64(1) << np.uint64(bit)
            bit += 1
        for k in range(a_starts[a_words[w]], a_stops[a_words[w]]):
            pm[a[k]] |= np.uint64(1) << np.uint64(bit)
            bit += 1
    s = ~np.uint64(0)
    for w in range(b_count):
        if w > 0:
            u = s & pm[32]
            s = (s + u) | (s - u)
        for k in range(b_starts[b_words[w]], b_stops[b_words[w]]):
            u = s & pm[b[k]]
            s = (s + u) | (s - u)
    for w in range(a_count):  # leave pm all zero for the next pattern
        for k in range(a_starts[a_words[w]], a_stops[a_words[w]]):
            pm[a[k]] = 0
    pm[32] = 0
    mask = ~np.uint64(0) if a_len == WORD_BITS else (np.uint64(1) << np.uint64(a_len)) - np.uint64(1)
    return a_len - _popcount(s & mask)


@njit(cache=True, nogil=True, inline="always")
def _norm_distance(dist: int, lensum: int) -> float:
    """rapidfuzz's `fuzz_detail::norm_distance` (without a cut-off)."""
    return 100.0 - 100.0 * dist / lensum if lensum > 0 else 100.0


@njit(cache=True, nogil=True)
def token_set_ratios(
    q_offsets: np.ndarray,
    q_data: np.ndarray,
    n_offsets: np.ndarray,
    n_data: np.ndarray,
    queries: np.ndarray,
    names: np.ndarray,
    longest: int,
) -> np.ndarray:
    """`fuzz.token_set_ratio` of each (queries[i], names[i]), both strings with their words in
    sorted order, as rapidfuzz computes it without a cut-off; NaN where rapidfuzz must say.
    `longest`: no string is longer (in bytes), so none has more words than longest + 1."""
    out = np.empty(len(queries), dtype=np.float64)
    longest += 1
    a_starts, a_stops = np.zeros(longest, np.int64), np.zeros(longest, np.int64)
    b_starts, b_stops = np.zeros(longest, np.int64), np.zeros(longest, np.int64)
    common, a_only, b_only = np.zeros(longest, np.int64), np.zeros(longest, np.int64), np.zeros(longest, np.int64)
    pm = np.zeros(128, dtype=np.uint64)
    for i in range(len(queries)):
        q, n = queries[i], names[i]
        a_count = _words(q_data, q_offsets[q], q_offsets[q + 1], a_starts, a_stops)
        b_count = _words(n_data, n_offsets[n], n_offsets[n + 1], b_starts, b_stops)
        if a_count < 0 or b_count < 0:
            out[i] = np.nan
            continue
        if a_count == 0 or b_count == 0:
            out[i] = 0.0
            continue
        # Both word lists are sorted and distinct: one merge splits them into shared and own words.
        x = y = n_common = n_a = n_b = 0
        while x < a_count or y < b_count:
            if y == b_count:
                order = -1
            elif x == a_count:
                order = 1
            else:
                order = _compare(q_data, a_starts[x], a_stops[x], n_data, b_starts[y], b_stops[y])
            if order == 0:
                common[n_common] = x
                n_common += 1
                x += 1
                y += 1
            elif order < 0:
                a_only[n_a] = x
                n_a += 1
                x += 1
            else:
                b_only[n_b] = y
                n_b += 1
                y += 1
        if n_common > 0 and (n_a == 0 or n_b == 0):
            out[i] = 100.0
            continue
        ab_len = _joined_length(a_starts, a_stops, a_only, n_a)
        ba_len = _joined_length(b_starts, b_stops, b_only, n_b)
        sect_len = _joined_length(a_starts, a_stops, common, n_common)
        if ab_len <= WORD_BITS:  # the LCS is symmetric: the shorter side is the bit pattern
            lcs = _joined_lcs(
                q_data, a_starts, a_stops, a_only, n_a, ab_len, n_data, b_starts, b_stops, b_only, n_b, pm
            )
        elif ba_len <= WORD_BITS:
            lcs = _joined_lcs(
                n_data, b_starts, b_stops, b_only, n_b, ba_len, q_data, a_starts, a_stops, a_only, n_a, pm
            )
        else:
            out[i] = np.nan
            continue
        has_sect = 1 if sect_len > 0 else 0
        sect_ab_len = sect_len + has_sect + ab_len
        sect_ba_len = sect_len + has_sect + ba_len
        result = _norm_distance(ab_len + ba_len - 2 * lcs, sect_ab_len + sect_ba_len)
        if sect_len > 0:
            result = max(result, _norm_distance(has_sect + ab_len, sect_len + sect_ab_len))
            result = max(result, _norm_distance(has_sect + ba_len, sect_len + sect_ba_len))
        out[i] = result
    return out
