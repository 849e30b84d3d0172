package kafka

import "testing"

// rules is a Config with KEDA's defaults, changed by fn.
func rules(fn func(c *Config)) Config {
	c := Config{LagThreshold: 10, OffsetResetPolicy: Latest, FullMetadata: true}
	if fn != nil {
		fn(&c)
	}
	return c
}

// parts builds a single-topic read: committed/end pairs by partition.
func parts(pairs ...[2]int64) map[tp]offsets {
	m := make(map[tp]offsets)
	for i, p := range pairs {
		m[tp{"t", int32(i)}] = offsets{committed: p[0], end: p[1]}
	}
	return m
}

func TestComputeLag(t *testing.T) {
	for _, tc := range []struct {
		name           string
		c              Config
		parts          map[tp]offsets
		lag, withPers  int64
		partitions, wl int64
	}{
		{"sum of end minus committed", rules(nil), parts([2]int64{3, 5}, [2]int64{0, 4}), 6, 6, 2, 2},
		{"no lag", rules(nil), parts([2]int64{5, 5}), 0, 0, 1, 0},
		{"no commit, latest: 1", rules(nil), parts([2]int64{-1, 100}), 1, 1, 1, 1},
		{"no commit, earliest: log-end offset", rules(func(c *Config) { c.OffsetResetPolicy = Earliest }), parts([2]int64{-1, 7}), 7, 7, 1, 1},
		{"no commit, latest, scaleToZeroOnInvalidOffset: 0", rules(func(c *Config) { c.ScaleToZeroOnInvalidOffset = true }), parts([2]int64{-1, 100}), 0, 0, 1, 0},
		{"no commit, earliest, scaleToZeroOnInvalidOffset: 0", rules(func(c *Config) { c.OffsetResetPolicy = Earliest; c.ScaleToZeroOnInvalidOffset = true }), parts([2]int64{-1, 100}), 0, 0, 1, 0},
		{"capped at partitions × lagThreshold", rules(nil), parts([2]int64{0, 100}, [2]int64{0, 100}), 20, 200, 2, 2},
		{"allowIdleConsumers: uncapped", rules(func(c *Config) { c.AllowIdleConsumers = true }), parts([2]int64{0, 100}, [2]int64{0, 100}), 200, 200, 2, 2},
		{"under the cap: unchanged", rules(nil), parts([2]int64{0, 15}, [2]int64{0, 4}), 19, 19, 2, 2},
		// KEDA compares lag/lagThreshold (integer division) with the bound.
		{"cap uses integer division", rules(nil), parts([2]int64{0, 29}, [2]int64{0, 0}), 29, 29, 2, 1},
		{"limitToPartitionsWithLag: capped at partitions with lag", rules(func(c *Config) { c.LimitToPartitionsWithLag = true }),
			parts([2]int64{0, 100}, [2]int64{5, 5}, [2]int64{5, 5}), 10, 100, 3, 1},
		{"limitToPartitionsWithLag: no lag caps at 0", rules(func(c *Config) { c.LimitToPartitionsWithLag = true }), parts([2]int64{5, 5}), 0, 0, 1, 0},
		{"ensureEven: 10 partitions, lag 30 → 5 replicas", rules(func(c *Config) { c.EnsureEvenDistributionOfPartitions = true }),
			tenParts(3), 50, 30, 10, 10},
		{"ensureEven: lag above every factor → partitions", rules(func(c *Config) { c.EnsureEvenDistributionOfPartitions = true; c.AllowIdleConsumers = true }),
			tenParts(20), 100, 200, 10, 10},
		{"ensureEven: zero lag is one replica's worth", rules(func(c *Config) { c.EnsureEvenDistributionOfPartitions = true }), parts([2]int64{5, 5}), 10, 0, 1, 0},
		{"two topics counted together", rules(nil), map[tp]offsets{{"a", 0}: {1, 3}, {"b", 0}: {0, 4}}, 6, 6, 2, 2},
		{"committed past the end counts negative, as KEDA", rules(nil), parts([2]int64{10, 5}), -5, -5, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := computeLag(tc.c, tc.parts, map[tp]int64{})
			if r.lag != tc.lag || r.withPersistent != tc.withPers || r.partitions != tc.partitions || r.withLag != tc.wl {
				t.Errorf("computeLag = %+v, want lag %d withPersistent %d partitions %d withLag %d", r, tc.lag, tc.withPers, tc.partitions, tc.wl)
			}
		})
	}
}

func tenParts(lagEach int64) map[tp]offsets {
	m := make(map[tp]offsets)
	for i := range 10 {
		m[tp{"t", int32(i)}] = offsets{committed: 0, end: lagEach}
	}
	return m
}

func TestExcludePersistentLag(t *testing.T) {
	c := rules(func(c *Config) { c.ExcludePersistentLag = true })
	prev := map[tp]int64{}
	steps := []struct {
		name          string
		committed     int64
		end           int64
		lag, withPers int64
	}{
		{"first read counts", 2, 12, 10, 10},
		{"offset unchanged: persistent, left out", 2, 15, 0, 13},
		{"offset moved: counts again", 4, 15, 11, 11},
		{"unchanged again", 4, 16, 0, 12},
		{"no commit is never persistent", -1, 16, 1, 1},
	}
	for _, s := range steps {
		r := computeLag(c, parts([2]int64{s.committed, s.end}), prev)
		if r.lag != s.lag || r.withPersistent != s.withPers {
			t.Errorf("%s: lag %d withPersistent %d, want %d %d", s.name, r.lag, r.withPersistent, s.lag, s.withPers)
		}
	}
}

// KEDA's own cases for getNextFactorThatBalancesConsumersToTopicPartitions.
func TestEvenFactor(t *testing.T) {
	for _, tc := range []struct{ lag, partitions, threshold, want int64 }{
		{10, 100, 10, 1}, {20, 100, 10, 2}, {40, 100, 10, 4}, {50, 100, 10, 5},
		{99, 100, 10, 10}, {100, 100, 10, 10}, {101, 100, 10, 20}, {5000, 100, 10, 100}, {0, 0, 10, 0},
	} {
		if got := evenFactor(tc.lag, tc.partitions, tc.threshold); got != tc.want {
			t.Errorf("evenFactor(%d, %d, %d) = %d, want %d", tc.lag, tc.partitions, tc.threshold, got, tc.want)
		}
	}
}

func TestServedKeepsKEDAsActivity(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    lagResult
		act  int64
		want float64
	}{
		{"plain lag", lagResult{lag: 7, withPersistent: 7}, 0, 7},
		{"idle", lagResult{}, 0, 0},
		{"below activation", lagResult{lag: 3, withPersistent: 3}, 5, 3},
		{"only persistent lag: active in KEDA, served just above activation", lagResult{lag: 0, withPersistent: 4}, 0, 0.001},
		{"only persistent lag under activation: idle", lagResult{lag: 0, withPersistent: 4}, 5, 0},
		{"ensureEven rounding zero lag up: idle in KEDA, served at activation", lagResult{lag: 10, withPersistent: 0}, 0, 0},
		{"ensureEven rounding above activation, active: unchanged", lagResult{lag: 10, withPersistent: 3}, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := served(tc.r, tc.act)
			if got != tc.want {
				t.Errorf("served = %v, want %v", got, tc.want)
			}
			if activeValue(got, tc.act) != (tc.r.withPersistent > tc.act) {
				t.Errorf("served %v gives activity %t, KEDA's is %t", got, activeValue(got, tc.act), tc.r.withPersistent > tc.act)
			}
		})
	}
}
