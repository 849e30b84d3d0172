package kafka

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// The PushHealthy reasons this source reports (Redis's words).
const (
	ReasonSubscribed       = "Subscribed"
	ReasonSubscriptionLost = "SubscriptionLost"
	ReasonDisabledByConfig = "DisabledByConfig"
)

// Run is the endpoint's push path. A poller takes what the parked fetches
// return and hints the resources of every partition where records landed
// (additive: a new high watermark). The loop keeps the client's partitions
// in line with the resources: a partition is fetched while some resource
// counts it and is idle, from the log-end offset its latest read saw;
// paused while every resource that counts it is active (those are read
// every pollingInterval, and nothing is downloaded under load); dropped
// when none counts it. It also checks the watched topics' partition counts
// every Options.MetadataInterval and hints the resources of a topic that
// grew, and reports push health: Subscribed once a fetch is answered,
// SubscriptionLost when fetching or dialling fails (franz-go reconnects
// with backoff), and Reconnected after the first answer that follows. It
// returns when ctx is done, after the poller has stopped.
func (e *endpoint) Run(ctx context.Context) {
	sched := e.s.Deps.Scheduler
	if e.pushOff {
		sched.SetPush(e.id, "", store.Push{Reason: ReasonDisabledByConfig,
			Message: "push is disabled for kafka triggers: read every pollingInterval"})
		<-ctx.Done()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { e.poll(ctx) })
	defer wg.Wait()

	tick := e.s.Deps.Clock.NewTicker(e.s.opts.MetadataInterval)
	defer tick.Stop()
	st := partitionState{fetched: make(map[tp]bool), paused: make(map[tp]bool)}
	reported, lost := false, false
	for {
		n := e.reconcile(&st)
		e.mu.Lock()
		f := e.fetch
		e.fetch.changed = false
		e.mu.Unlock()
		if f.changed {
			switch {
			case f.ok && (!reported || lost):
				sched.SetPush(e.id, "", e.pushOf(f, n))
				if lost {
					sched.Reconnected(e.id) // what landed meanwhile
				}
				reported, lost = true, false
			case !f.ok && !lost && f.err != nil:
				sched.SetPush(e.id, "", e.pushOf(f, n))
				e.log.Info("kafka push path lost", "error", e.describe("", f.err).Error())
				reported, lost = true, true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.poke:
		case <-tick.C():
			e.checkPartitions(ctx)
		}
	}
}

// partitionState is what the loop has asked of the client.
type partitionState struct {
	fetched map[tp]bool // added to the client
	paused  map[tp]bool // paused in the client
}

// reconcile brings the client's partitions in line with the resources'
// latest reads and returns how many partitions are fetched or paused.
func (e *endpoint) reconcile(st *partitionState) int {
	want := make(map[tp]bool) // partition → fetch it (some resource idle)
	e.mu.Lock()
	for _, r := range e.resources {
		for p := range r.parts {
			want[p] = want[p] || !r.active
		}
	}
	ends := make(map[tp]int64, len(want))
	for p := range want {
		ends[p] = e.ends[p]
	}
	for p := range e.ends {
		if _, ok := want[p]; !ok {
			delete(e.ends, p)
		}
	}
	e.mu.Unlock()

	add := map[string]map[int32]kgo.Offset{}
	pause, resume, drop := map[string][]int32{}, map[string][]int32{}, map[string][]int32{}
	seek := map[string]map[int32]kgo.EpochOffset{}
	for p, fetch := range want {
		switch {
		case !st.fetched[p]:
			if !fetch {
				pause[p.topic] = append(pause[p.topic], p.part)
				st.paused[p] = true
			}
			if add[p.topic] == nil {
				add[p.topic] = map[int32]kgo.Offset{}
			}
			add[p.topic][p.part] = kgo.NewOffset().At(ends[p])
			st.fetched[p] = true
		case fetch && st.paused[p]:
			// Idle again: skip what was consumed meanwhile, fetch from the
			// end the read that found it idle saw.
			if seek[p.topic] == nil {
				seek[p.topic] = map[int32]kgo.EpochOffset{}
			}
			seek[p.topic][p.part] = kgo.EpochOffset{Epoch: -1, Offset: ends[p]}
			resume[p.topic] = append(resume[p.topic], p.part)
			delete(st.paused, p)
		case !fetch && !st.paused[p]:
			pause[p.topic] = append(pause[p.topic], p.part)
			st.paused[p] = true
		}
	}
	for p := range st.fetched {
		if _, ok := want[p]; !ok {
			drop[p.topic] = append(drop[p.topic], p.part)
			delete(st.fetched, p)
			if st.paused[p] {
				resume[p.topic] = append(resume[p.topic], p.part) // clears the client's paused set
				delete(st.paused, p)
			}
		}
	}
	if len(pause) > 0 {
		e.cl.PauseFetchPartitions(pause)
	}
	if len(add) > 0 {
		e.cl.AddConsumePartitions(add)
	}
	if len(drop) > 0 {
		e.cl.RemoveConsumePartitions(drop)
	}
	if len(seek) > 0 {
		e.cl.SetOffsets(seek)
	}
	if len(resume) > 0 {
		e.cl.ResumeFetchPartitions(resume)
	}
	return len(st.fetched)
}

// poll takes the fetches' answers until ctx is done: every partition with
// records hints its resources (additive), errors go to the health report.
func (e *endpoint) poll(ctx context.Context) {
	sched := e.s.Deps.Scheduler
	for {
		fs := e.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		landed := map[tp]bool{}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.Err == nil && len(p.Records) > 0 {
				landed[tp{p.Topic, p.Partition}] = true
			}
		})
		// A partition's own error (a topic deleted, a leader moving) is
		// the reads' to report for its triggers; only a failure of the
		// fetch itself is a lost push path. Taking partition errors as
		// losses made every later answer a "reconnect", a read of every
		// resource on the endpoint, as often as fetches return.
		fs.EachError(func(_ string, _ int32, err error) {
			var ke *kerr.Error
			if !errors.As(err, &ke) {
				e.setFetch(err)
			}
		})
		if len(landed) == 0 {
			continue
		}
		for _, id := range e.resourcesOf(landed) {
			sched.Hint(id, true)
		}
	}
}

// resourcesOf returns the resources counting any of the partitions.
func (e *endpoint) resourcesOf(ps map[tp]bool) []sources.ResourceID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []sources.ResourceID
	for _, r := range e.resources {
		for p := range ps {
			if r.parts[p] {
				out = append(out, r.id)
				break
			}
		}
	}
	return out
}

// checkPartitions reads the partition counts of the topics the resources
// read and hints every resource whose topic has more partitions than its
// last read saw (or that exists now and did not then), so that the read
// that follows counts them and the loop starts fetching them.
func (e *endpoint) checkPartitions(ctx context.Context) {
	e.mu.Lock()
	topics := map[string]bool{}
	for _, r := range e.resources {
		if r.cfg.Topic != "" {
			topics[r.cfg.Topic] = true
		}
	}
	e.mu.Unlock()
	if len(topics) == 0 {
		return
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := e.adm.Metadata(ctx, names...)
	if err != nil {
		return // the reads report what is wrong
	}
	var grown []sources.ResourceID
	e.mu.Lock()
	for _, r := range e.resources {
		td, ok := md.Topics[r.cfg.Topic]
		if r.cfg.Topic == "" || !ok || td.Err != nil {
			continue
		}
		if len(td.Partitions) > r.counts[r.cfg.Topic] {
			grown = append(grown, r.id)
		}
	}
	e.mu.Unlock()
	for _, id := range grown {
		e.s.Deps.Scheduler.Hint(id, false)
	}
}
