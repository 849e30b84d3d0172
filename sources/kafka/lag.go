package kafka

import (
	"math"
	"slices"
)

// This file is KEDA's arithmetic (kafka_scaler.go getTotalLag and
// getLagForPartition) as pure functions of what one read learned.

// tp is one topic partition.
type tp struct {
	topic string
	part  int32
}

// offsets is what a read learned of one partition: the group's committed
// offset (-1 when it has none) and the log-end offset.
type offsets struct {
	committed int64
	end       int64
}

// lagResult is a read's outcome under KEDA's rules.
type lagResult struct {
	// lag is the value KEDA serves to the HPA: persistent lag left out
	// (excludePersistentLag) and capped (allowIdleConsumers,
	// limitToPartitionsWithLag, ensureEvenDistributionOfPartitions).
	lag int64
	// withPersistent is the uncapped sum with persistent lag, which
	// KEDA compares with activationLagThreshold.
	withPersistent int64
	// partitions and withLag count the partitions read and those with
	// lag > 0.
	partitions, withLag int64
}

// computeLag applies KEDA's rules to the partitions of one read. prev holds
// the committed offsets of the previous read (excludePersistentLag only);
// computeLag updates it as KEDA does.
//
//   - A partition with no committed offset counts 1 under offsetResetPolicy
//     latest and its log-end offset under earliest; 0 either way with
//     scaleToZeroOnInvalidOffset. It is never persistent.
//   - Otherwise it counts log-end − committed. With excludePersistentLag a
//     partition whose committed offset equals the previous read's counts 0
//     in lag (not in withPersistent); the first read of a partition and a
//     moved offset count in full.
//   - Unless allowIdleConsumers (and neither limitToPartitionsWithLag nor
//     ensureEvenDistributionOfPartitions is set), lag/lagThreshold is
//     capped at the partition count (at the partitions with lag > 0 with
//     limitToPartitionsWithLag): lag becomes cap × lagThreshold.
//   - ensureEvenDistributionOfPartitions first replaces lag by f ×
//     lagThreshold, f the least factor of the partition count with f ×
//     lagThreshold ≥ lag (the partition count when none is).
func computeLag(c Config, parts map[tp]offsets, prev map[tp]int64) lagResult {
	var r lagResult
	for p, o := range parts {
		lag, with := partitionLag(c, p, o, prev)
		r.lag += lag
		r.withPersistent += with
		if lag > 0 {
			r.withLag++
		}
		r.partitions++
	}
	if !c.AllowIdleConsumers || c.LimitToPartitionsWithLag || c.EnsureEvenDistributionOfPartitions {
		bound := r.partitions
		if c.EnsureEvenDistributionOfPartitions {
			r.lag = evenFactor(r.lag, r.partitions, c.LagThreshold) * c.LagThreshold
		}
		if c.LimitToPartitionsWithLag {
			bound = r.withLag
		}
		if r.lag/c.LagThreshold > bound {
			r.lag = bound * c.LagThreshold
		}
	}
	return r
}

// partitionLag is KEDA's getLagForPartition: (lag, lag with persistent).
func partitionLag(c Config, p tp, o offsets, prev map[tp]int64) (int64, int64) {
	if o.committed < 0 {
		switch {
		case c.ScaleToZeroOnInvalidOffset:
			return 0, 0
		case c.OffsetResetPolicy == Earliest:
			return o.end, o.end
		default:
			return 1, 1
		}
	}
	lag := o.end - o.committed
	if c.ExcludePersistentLag {
		if before, seen := prev[p]; seen && before == o.committed {
			return 0, lag
		}
		prev[p] = o.committed
	}
	return lag, lag
}

// evenFactor is the least factor f of partitions with f × threshold ≥ lag,
// or partitions when there is none.
func evenFactor(lag, partitions, threshold int64) int64 {
	var fs []int64
	for i := int64(1); i*i <= partitions; i++ {
		if partitions%i == 0 {
			fs = append(fs, i, partitions/i)
		}
	}
	slices.Sort(fs)
	for _, f := range fs {
		if f*threshold >= lag {
			return f
		}
	}
	return partitions
}

// served is the value recorded for r given activationLagThreshold act.
// KEDA decides activity on withPersistent (> act) and serves lag; the store
// holds one number, from which the scaler decides activity as value > act.
// When the two disagree (excludePersistentLag with only persistent lag left,
// or ensureEvenDistributionOfPartitions rounding a small lag up to one
// replica's worth) the served value is moved to the nearest value on KEDA's
// side of act: act + 0.001 (the metrics API's resolution) when KEDA is
// active, act when it is not. Everywhere else it is lag.
func served(r lagResult, act int64) float64 {
	active := r.withPersistent > act
	switch {
	case active && r.lag <= act:
		return float64(act) + 0.001
	case !active && r.lag > act:
		return float64(act)
	default:
		return float64(r.lag)
	}
}

// activeValue reports whether the scaler takes value v as active: the
// Scheduler's rule (value > activation).
func activeValue(v float64, act int64) bool { return v > float64(act) && !math.IsNaN(v) }
