package main

import (
	"math"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1) // 1ms … 100ms
	}
	ten := []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9), ms(1000)}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p99 of 1..100", hundred, 99, ms(99)},
		{"p100 is the max", hundred, 100, ms(100)},
		{"p1 of 1..100", hundred, 1, ms(1)},
		{"tiny p is the min", hundred, 0.001, ms(1)},
		{"p0 is clamped to the min", hundred, 0, ms(1)},
		// Nearest rank never interpolates: with 10 values, p99 needs 9.9 of them, so the 10th.
		{"p99 of 10 values is the outlier", ten, 99, ms(1000)},
		{"p90 of 10 values is the 9th", ten, 90, ms(9)},
		{"p50 of 10 values is the 5th", ten, 50, ms(5)},
		{"p50.1 of 10 values is the 6th", ten, 50.1, ms(6)},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p=%g) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want spread
	}{
		{[]float64{3, 1, 2}, spread{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 3, 2}, spread{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{[]float64{5}, spread{Median: 5, Min: 5, Max: 5, N: 1}},
		{[]float64{math.NaN(), 8, 6}, spread{Median: 7, Min: 6, Max: 8, N: 2}},
	} {
		if got := summarize(tc.xs); got != tc.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.xs, got, tc.want)
		}
	}
	if got := summarize([]float64{math.NaN()}); !math.IsNaN(got.Median) || got.N != 0 {
		t.Errorf("summarize(NaN) = %+v, want NaN with N 0", got)
	}
}
