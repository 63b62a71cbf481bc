package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank method: the
// smallest value such that at least p % of the values are less than or equal to it. It is always
// one of the measured values, never an interpolation. Empty input gives 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// spread summarises repeated measurements of one figure.
type spread struct {
	Median, Min, Max float64
	N                int
}

// summarize returns the median (the mean of the middle two for an even count), minimum and maximum
// of xs, ignoring NaNs (a figure a run could not measure).
func summarize(xs []float64) spread {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return spread{Median: med, Min: v[0], Max: v[n-1], N: n}
}
