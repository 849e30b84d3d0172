package natsjetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/pushscale/pushscale/store"
)

// monitor is a monitoring endpoint: its resources are polled through
// /jsz, exactly as KEDA reads them (num_pending + num_ack_pending of the
// consumer, found by account id or name, stream and consumer name). It has
// no push path: every resource reports PushHealthy=False NotSupported.
type monitor struct {
	s    *Source
	id   string // the /jsz URL without query
	http *http.Client
}

func newMonitor(s *Source, id string) *monitor {
	return &monitor{s: s, id: id, http: &http.Client{Timeout: s.opts.Timeout}}
}

// Run reports that nothing is pushed, then waits.
func (m *monitor) Run(ctx context.Context) {
	m.s.Deps.Scheduler.SetPush(m.id, "", store.Push{Reason: ReasonNotSupported,
		Message: "no natsClientURL: the consumer is read from the monitoring endpoint every pollingInterval, as KEDA does"})
	<-ctx.Done()
}

// Close closes idle connections.
func (m *monitor) Close() { m.http.CloseIdleConnections() }

// Add and Remove have nothing to do: the Scheduler polls.
func (m *monitor) Add(*resource)    {}
func (m *monitor) Remove(*resource) {}

// jsz is the part of the monitoring endpoint's /jsz answer that is read.
type jsz struct {
	Accounts []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Streams []struct {
			Name      string `json:"name"`
			Consumers []struct {
				Name          string `json:"name"`
				NumPending    int64  `json:"num_pending"`
				NumAckPending int64  `json:"num_ack_pending"`
			} `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

func (m *monitor) read(ctx context.Context, r *resource) (float64, error) {
	q := url.Values{"acc": {r.accountID}, "consumers": {"true"}, "config": {"true"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.id+"?"+q.Encode(), nil)
	if err != nil {
		return 0, fmt.Errorf("nats-jetstream: monitoring endpoint: %w", err)
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("nats-jetstream: monitoring endpoint: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("nats-jetstream: monitoring endpoint %s: %s", m.id, resp.Status)
	}
	var body jsz
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMonitoringBody)).Decode(&body); err != nil {
		return 0, fmt.Errorf("nats-jetstream: monitoring endpoint %s: decoding /jsz: %w", m.id, err)
	}
	streamFound := false
	for _, a := range body.Accounts {
		if a.ID != r.accountID && a.Name != r.account {
			continue
		}
		for _, st := range a.Streams {
			if st.Name != r.stream {
				continue
			}
			streamFound = true
			for _, c := range st.Consumers {
				if c.Name == r.consumer {
					return float64(c.NumPending + c.NumAckPending), nil
				}
			}
		}
	}
	if !streamFound {
		return 0, fmt.Errorf("nats-jetstream: stream %q not found in account %q", r.stream, r.accountID)
	}
	return 0, fmt.Errorf("nats-jetstream: consumer %q not found in stream %q", r.consumer, r.stream)
}
