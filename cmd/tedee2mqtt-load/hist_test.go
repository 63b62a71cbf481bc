package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Buckets are ordered, contiguous, and every value lies within its bucket, which is at most
// 1/128 of its values wide.
func TestHistogramBuckets(t *testing.T) {
	prevTop := int64(-1)
	for idx := 0; idx < 40*128; idx++ {
		top := bucketTop(idx)
		if top <= prevTop {
			t.Fatalf("bucket %d top %d not above bucket %d's %d", idx, top, idx-1, prevTop)
		}
		low := prevTop + 1
		if bucketOf(low) != idx || bucketOf(top) != idx {
			t.Fatalf("bucket %d holds [%d, %d] but bucketOf gives %d and %d", idx, low, top, bucketOf(low), bucketOf(top))
		}
		if width := top - low + 1; low >= 256 && float64(width) > float64(low)/128 {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/128 of its values", idx, low, top)
		}
		prevTop = top
	}
}

// The histogram's percentiles are the exact nearest-rank ones to its precision: never below,
// at most 1/128 above.
func TestHistogramPercentilesMatchExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 100, 10000} {
		h := newHistogram()
		var exact []time.Duration
		for range n {
			// Mostly around a millisecond, with a long tail, as latencies are.
			d := time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
			if rng.IntN(100) == 0 {
				d *= 100
			}
			h.add(d)
			exact = append(exact, d)
		}
		slices.Sort(exact)
		if h.count() != n || h.max != exact[n-1] || h.min != exact[0] {
			t.Fatalf("n %d: count %d min %v max %v, want %d %v %v", n, h.count(), h.min, h.max, n, exact[0], exact[n-1])
		}
		for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
			want, got := percentile(exact, p), h.percentile(p)
			if got < want || float64(got-want) > float64(want)/128+1 {
				t.Errorf("n %d p%v: %v, exact %v", n, p, got, want)
			}
		}
	}
	if got := newHistogram().percentile(99); got != 0 {
		t.Errorf("empty p99 = %v", got)
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b, all := newHistogram(), newHistogram(), newHistogram()
	for i := 1; i <= 300; i++ {
		d := time.Duration(i) * time.Microsecond
		all.add(d)
		if i%3 == 0 {
			a.add(d)
		} else {
			b.add(d)
		}
	}
	a.merge(b)
	a.merge(nil)
	for _, p := range []float64{10, 50, 99, 100} {
		if a.percentile(p) != all.percentile(p) {
			t.Errorf("p%v merged %v, whole %v", p, a.percentile(p), all.percentile(p))
		}
	}
	if a.count() != 300 || a.min != time.Microsecond || a.max != 300*time.Microsecond {
		t.Errorf("merged count %d min %v max %v", a.count(), a.min, a.max)
	}
}

// A run's memory does not grow with the webhooks sent: the histogram of a million latencies
// holds a few hundred buckets.
func TestHistogramStaysSmall(t *testing.T) {
	h := newHistogram()
	for i := range 1_000_000 {
		h.add(time.Duration(500_000 + i%5_000_000)) // 0.5 ms to 5.5 ms
	}
	if len(h.counts) > 1000 {
		t.Errorf("%d buckets for latencies within one decade", len(h.counts))
	}
}
