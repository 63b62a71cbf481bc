package main

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// histSubBits sets the histogram's precision: every power of two is split into 2^histSubBits
// buckets of equal width, so a bucket is at most 1/128 (0.8 %) of the values it holds wide.
const histSubBits = 7

// histogram counts durations in log-linear buckets, so that a run of a million webhooks keeps a
// few hundred counters instead of a million latencies. Values below 2^(histSubBits+1) ns are
// exact; above, a percentile is the upper bound of its bucket (clamped to the largest value
// seen), at most 0.8 % above the exact nearest-rank value. Sparse (a map), because a run's
// latencies fill a few hundred of the thousands of possible buckets, and the birth scenario keeps
// one histogram per second of the run. Not safe for concurrent use.
type histogram struct {
	counts   map[int]uint64
	n        uint64
	min, max time.Duration
}

func newHistogram() *histogram { return &histogram{counts: map[int]uint64{}} }

// bucketOf maps a non-negative value to its bucket index; the index order is the value order.
func bucketOf(v int64) int {
	const sub = 1 << histSubBits
	if v < 2*sub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (histSubBits + 1)
	return shift*sub + int(v>>shift)
}

// bucketTop is the largest value of bucket idx.
func bucketTop(idx int) int64 {
	const sub = 1 << histSubBits
	if idx < 2*sub {
		return int64(idx)
	}
	shift := idx/sub - 1
	lead := int64(idx - shift*sub) // in [sub, 2*sub)
	return (lead+1)<<shift - 1
}

// add records one duration; negative ones count as zero.
func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.counts[bucketOf(int64(d))]++
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	for k, c := range o.counts {
		h.counts[k] += c
	}
}

// count is the number of values recorded.
func (h *histogram) count() int { return int(h.n) }

// percentile is the nearest-rank p-th percentile (0 < p <= 100), as percentile does for a sorted
// slice, to the bucket's precision; 0 when empty. p100 is the exact maximum.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(max(1, min(float64(h.n), math.Ceil(p/100*float64(h.n)))))
	keys := make([]int, 0, len(h.counts))
	for k := range h.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var seen uint64
	for _, k := range keys {
		seen += h.counts[k]
		if seen >= rank {
			return min(max(time.Duration(bucketTop(k)), h.min), h.max)
		}
	}
	return h.max
}
