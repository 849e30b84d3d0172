package main

import (
	"math"
	"slices"
	"time"
)

// Summary describes a sample of durations. Times are in milliseconds so the
// JSON report reads without unit conversions.
type Summary struct {
	N      int     `json:"n"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// summarize returns the summary of d; it sorts d in place. An empty sample
// gives the zero Summary.
func summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return Summary{
		N:      len(d),
		MinMs:  ms(d[0]),
		MeanMs: ms(sum / time.Duration(len(d))),
		P50Ms:  ms(percentile(d, 50)),
		P90Ms:  ms(percentile(d, 90)),
		P99Ms:  ms(percentile(d, 99)),
		MaxMs:  ms(d[len(d)-1]),
	}
}

// percentile returns the nearest-rank p-th percentile of sorted: the
// smallest value with at least p% of the sample at or below it. It never
// interpolates, so it is always an observed value (p99 of 100 samples is
// the 99th smallest).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// bucket is one cumulative bucket of a Prometheus histogram.
type bucket struct {
	UpperBound float64 // seconds; +Inf for the last
	Count      float64 // observations ≤ UpperBound
}

// histogram is a Prometheus histogram as scraped: cumulative buckets in
// ascending order of bound, the last one +Inf.
type histogram struct {
	Buckets []bucket
	Count   float64
	Sum     float64
}

// sub returns h minus an earlier scrape of the same histogram, bucket by
// bucket: the observations made between the two scrapes. Buckets missing
// from earlier count as 0.
func (h histogram) sub(earlier histogram) histogram {
	out := histogram{Count: h.Count - earlier.Count, Sum: h.Sum - earlier.Sum}
	for _, b := range h.Buckets {
		prev := 0.0
		for _, e := range earlier.Buckets {
			if e.UpperBound == b.UpperBound {
				prev = e.Count
			}
		}
		out.Buckets = append(out.Buckets, bucket{UpperBound: b.UpperBound, Count: b.Count - prev})
	}
	return out
}

// quantile estimates the q-quantile (0..1) as PromQL's histogram_quantile
// does: linear interpolation within the bucket that holds it, the lower
// bound of the first bucket being 0; a quantile in the +Inf bucket answers
// the highest finite bound. NaN without observations.
func (h histogram) quantile(q float64) float64 {
	if len(h.Buckets) == 0 {
		return math.NaN()
	}
	total := h.Buckets[len(h.Buckets)-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range h.Buckets {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				if i == 0 {
					return math.NaN()
				}
				return h.Buckets[i-1].UpperBound
			}
			inBucket := b.Count - below
			if inBucket <= 0 {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/inBucket
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower
}

// fractionAtMost returns the share of observations in buckets with bound
// ≤ le (exact only when le is a bucket bound). NaN without observations.
func (h histogram) fractionAtMost(le float64) float64 {
	if len(h.Buckets) == 0 || h.Buckets[len(h.Buckets)-1].Count <= 0 {
		return math.NaN()
	}
	n := 0.0
	for _, b := range h.Buckets {
		if b.UpperBound <= le {
			n = b.Count
		}
	}
	return n / h.Buckets[len(h.Buckets)-1].Count
}
