// Package kafkatest runs an in-process Kafka cluster (franz-go's kfake,
// which speaks the real wire protocol) on free loopback ports, for the
// kafka source's tests, the end-to-end tests and the benchmarks, with the
// few producer and group operations they need and an outage switch.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Options configure a cluster.
type Options struct {
	// Brokers is the number of broker nodes; default 1.
	Brokers int
	// Topics are created with Partitions partitions each (default 1).
	Topics     []string
	Partitions int32
	// User and Password, when set, turn on SASL with this SCRAM-SHA-256
	// user (a superuser).
	User, Password string
}

// Cluster is a running fake cluster. Its methods are safe for concurrent
// use and fail the test on errors.
type Cluster struct {
	c    *kfake.Cluster
	tb   testing.TB
	opts Options

	down     atomic.Bool  // requests other than produce are refused
	requests atomic.Int64 // requests seen, produce excepted
	byKey    sync.Map     // int16 → *atomic.Int64
	mu       sync.Mutex
	client   *kgo.Client
}

// Start starts a cluster that stops when tb ends.
func Start(tb testing.TB, o Options) *Cluster {
	tb.Helper()
	c, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	c.tb = tb
	tb.Cleanup(c.Close)
	return c
}

// New starts a cluster outside a test (benchmarks); Close stops it. Its
// methods panic instead of failing a test.
func New(o Options) (*Cluster, error) {
	if o.Brokers <= 0 {
		o.Brokers = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	kopts := []kfake.Opt{kfake.NumBrokers(o.Brokers), kfake.DefaultNumPartitions(int(o.Partitions))}
	if len(o.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(o.Partitions, o.Topics...))
	}
	if o.User != "" {
		kopts = append(kopts, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", o.User, o.Password))
	}
	kc, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	c := &Cluster{c: kc, opts: o}
	kc.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		key := req.Key()
		if key == int16(kmsg.Produce) || key == int16(kmsg.InitProducerID) {
			return nil, nil, false
		}
		c.requests.Add(1)
		n, _ := c.byKey.LoadOrStore(key, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if c.down.Load() {
			return nil, errors.New("kafkatest: outage"), true // closes the connection
		}
		return nil, nil, false
	})
	return c, nil
}

// Addr is the first broker's address, for bootstrapServers.
func (c *Cluster) Addr() string { return c.c.ListenAddrs()[0] }

// Addrs are every broker's address.
func (c *Cluster) Addrs() []string { return c.c.ListenAddrs() }

// Close stops the cluster.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
	c.mu.Unlock()
	c.c.Close()
}

// Requests returns the requests the cluster has served to clients other
// than producers, in all and by API key name.
func (c *Cluster) Requests() (int64, map[string]int64) {
	by := map[string]int64{}
	c.byKey.Range(func(k, v any) bool {
		by[kmsg.NameForKey(k.(int16))] = v.(*atomic.Int64).Load()
		return true
	})
	return c.requests.Load(), by
}

// SetDown starts (true) or ends an outage: while it lasts every request but
// Produce closes its connection, so clients lose their fetches and reads;
// producers created earlier (Client) keep producing.
func (c *Cluster) SetDown(down bool) { c.down.Store(down) }

// Client is a producing client, created on first use.
func (c *Cluster) Client() *kgo.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		opts := []kgo.Opt{kgo.SeedBrokers(c.Addrs()...), kgo.ProducerLinger(0), kgo.DisableIdempotentWrite(),
			kgo.RecordPartitioner(kgo.ManualPartitioner())}
		if c.opts.User != "" {
			opts = append(opts, kgo.SASL(scram.Auth{User: c.opts.User, Pass: c.opts.Password}.AsSha256Mechanism()))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			c.fail(err)
		}
		c.client = cl
	}
	return c.client
}

// Produce writes n records to topic's partition and returns when they are
// acknowledged.
func (c *Cluster) Produce(topic string, partition int32, n int) {
	cl := c.Client()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(strconv.Itoa(i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.fail(err)
	}
}

// Commit sets group's committed offset of topic's partition, as a consumer
// of the group would.
func (c *Cluster) Commit(group, topic string, partition int32, offset int64) {
	var o kadm.Offsets
	o.AddOffset(topic, partition, offset, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(c.Client()).CommitOffsets(ctx, group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		c.fail(err)
	}
}

// End returns the log-end offset of topic's partition.
func (c *Cluster) End(topic string, partition int32) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lo, err := kadm.NewClient(c.Client()).ListEndOffsets(ctx, topic)
	if err != nil {
		c.fail(err)
	}
	o, _ := lo.Lookup(topic, partition)
	return o.Offset
}

// CreateTopic creates topic with partitions partitions.
func (c *Cluster) CreateTopic(topic string, partitions int32) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(c.Client()).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		c.fail(err)
	}
}

// AddPartitions grows topic by n partitions.
func (c *Cluster) AddPartitions(topic string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(c.Client()).CreatePartitions(ctx, n, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		c.fail(err)
	}
}

func (c *Cluster) fail(err error) {
	if c.tb != nil {
		c.tb.Helper()
		c.tb.Fatalf("kafkatest: %v", err)
	}
	panic(fmt.Sprintf("kafkatest: %v", err))
}
