package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// read is r's authoritative read, KEDA's getTotalLag: the group's
// committed offsets (OffsetFetch) and the log-end offsets of the topic's
// partitions (Metadata, then ListOffsets per leader), run side by side; for
// every topic the group has committed, the offsets first, then the topics
// they name. The result goes through KEDA's rules (computeLag) and is told
// to the push path.
func (e *endpoint) read(ctx context.Context, r *resource) (float64, error) {
	c := r.cfg
	var committed kadm.OffsetResponses
	var ends kadm.ListedOffsets
	var errC, errE error
	if c.Topic == "" {
		if committed, errC = e.fetchOffsets(ctx, c.ConsumerGroup); errC != nil {
			return 0, e.describe("consumerGroup", errC)
		}
		topics := make([]string, 0, len(committed))
		for t := range committed {
			topics = append(topics, t)
		}
		if len(topics) == 0 {
			// No committed topic: nothing to count (KEDA would describe
			// no topic and find no partition).
			e.noteRead(r, nil, nil, false)
			return 0, nil
		}
		slices.Sort(topics)
		ends, errE = e.adm.ListEndOffsets(ctx, topics...)
	} else {
		done := make(chan struct{})
		go func() {
			defer close(done)
			committed, errC = e.fetchOffsets(ctx, c.ConsumerGroup)
		}()
		ends, errE = e.adm.ListEndOffsets(ctx, c.Topic)
		<-done
	}
	if errC != nil {
		return 0, e.describe("consumerGroup", errC)
	}
	if errE != nil {
		return 0, e.describe("topic", errE)
	}
	parts, counts, err := collect(c, committed, ends)
	if err != nil {
		return 0, err
	}
	res := computeLag(c, parts, r.prev)
	v := served(res, c.ActivationLagThreshold)
	e.noteRead(r, parts, counts, activeValue(v, c.ActivationLagThreshold))
	return v, nil
}

// fetchOffsets is the group's committed offsets; none for a group the
// cluster does not know (it has never committed).
func (e *endpoint) fetchOffsets(ctx context.Context, group string) (kadm.OffsetResponses, error) {
	o, err := e.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	return o, err
}

// describe is describe for a read's error on e: a connection the cluster
// closed while it was being set up under SASL is taken for refused
// credentials (some brokers close instead of answering
// SASL_AUTHENTICATION_FAILED).
func (e *endpoint) describe(field string, err error) error {
	if e.cfg.SASL != SASLNone && errors.Is(err, io.EOF) && e.initEOF.Load() {
		return errors.New("kafka: sasl, username and password: the cluster closed the connection while authenticating: are the credentials right?")
	}
	return describe(e.cfg, field, err)
}

// collect pairs the committed and log-end offsets of the partitions that
// count (partitionLimitation), and counts each topic's partitions.
func collect(c Config, committed kadm.OffsetResponses, ends kadm.ListedOffsets) (map[tp]offsets, map[string]int, error) {
	parts := make(map[tp]offsets)
	counts := make(map[string]int)
	for topic, ps := range ends {
		for p, lo := range ps {
			if lo.Err != nil {
				return nil, nil, describe(c, topic, lo.Err)
			}
			counts[topic]++
			if c.PartitionLimitation != nil && !slices.Contains(c.PartitionLimitation, p) {
				continue
			}
			o := offsets{committed: -1, end: lo.Offset}
			if cr, ok := committed.Lookup(topic, p); ok {
				if cr.Err != nil {
					return nil, nil, describe(c, "consumerGroup", cr.Err)
				}
				o.committed = cr.At
			}
			parts[tp{topic, p}] = o
		}
		if c.Topic != "" && len(parts) == 0 {
			return nil, nil, fmt.Errorf("kafka: topic %q: no partition to read (partitionLimitation leaves none)", topic)
		}
	}
	return parts, counts, nil
}

// describe turns a client error into one that names the field at fault and
// holds no secret. field is "consumerGroup" or "topic" for errors of the
// group or topic, a topic's name for errors of that topic, "" for errors of
// the connection.
func describe(c Config, field string, err error) error {
	var ke *kerr.Error
	var ne net.Error
	var oe *net.OpError
	topic := c.Topic
	if field != "" && field != "consumerGroup" && field != "topic" {
		topic, field = field, "topic"
	}
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("kafka: sasl, username and password: the cluster refused the credentials (%s)", kerr.SaslAuthenticationFailed.Message)
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return errors.New("kafka: sasl: the cluster does not accept this mechanism")
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("kafka: consumerGroup %q: not authorized (GROUP_AUTHORIZATION_FAILED)", c.ConsumerGroup)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("kafka: topic %q: not authorized (TOPIC_AUTHORIZATION_FAILED)", topic)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("kafka: topic %q: does not exist", topic)
	case errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.NotCoordinator), errors.Is(err, kerr.CoordinatorLoadInProgress):
		return fmt.Errorf("kafka: consumerGroup %q: its coordinator is not available (%w)", c.ConsumerGroup, err)
	case errors.Is(err, kgo.ErrClientClosed):
		return errEndpointClosed
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("kafka: bootstrapServers %s: the cluster closed the connection", c.servers)
	case errors.As(err, &oe), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("kafka: bootstrapServers %s: unreachable: %s", c.servers, connErr(c, err))
	case errors.As(err, &ke):
		if field == "" {
			return fmt.Errorf("kafka: %s (%s)", ke.Message, ke.Description)
		}
		return fmt.Errorf("kafka: %s: %s (%s)", field, ke.Message, ke.Description)
	}
	return fmt.Errorf("kafka: %w", err)
}

// connErr is a connection error's text when the brokers' addresses may be
// shown (they came from the trigger's metadata), its kind otherwise.
func connErr(c Config, err error) string {
	if c.servers != "(from the environment)" {
		return err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	return "cannot connect"
}

// errEndpointClosed is a read's error when the endpoint has been stopped.
var errEndpointClosed = errors.New("kafka: endpoint closed")

func itoa(n int) string { return strconv.Itoa(n) }
