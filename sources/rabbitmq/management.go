package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
	"github.com/pushscale/pushscale/store"
)

// mgmtClient is a client of the management HTTP API: the reads of protocol
// http, and the bindings a shadow queue copies.
type mgmtClient struct {
	base       *url.URL // without credentials
	user, pass string
	client     *http.Client
}

// errNotFound is a 404 of the management API.
var errNotFound = errors.New("not found")

// errQueueMissing marks the error of a queue that does not exist (its
// vhost does).
var errQueueMissing = errors.New("not found in vhost")

func newMgmtClient(s *Source, c Config) (*mgmtClient, error) {
	base, _ := c.managementBase()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.TLS || c.UnsafeSSL {
		cfg, err := clienttls.Config(Type, c.tlsParams())
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	user, pass := c.httpCredentials()
	return &mgmtClient{base: base, user: user, pass: pass, client: &http.Client{Transport: tr, Timeout: 0}}, nil
}

// get decodes the JSON answer to GET path?query into out. Errors name the
// management API's address, never a credential.
func (m *mgmtClient) get(ctx context.Context, path, query string, out any) error {
	u := *m.base
	u.RawPath = m.base.EscapedPath() + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("rabbitmq: management API request: %w", err)
	}
	if m.user != "" {
		req.SetBasicAuth(m.user, m.pass)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("rabbitmq: management API %s: %w", m.base.Host, scrub(errors.Unwrap(err), m.pass))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("rabbitmq: username and password: refused by the management API at %s (%s)", m.base.Host, resp.Status)
	case http.StatusNotFound:
		return errNotFound
	default:
		return fmt.Errorf("rabbitmq: management API %s: %s", m.base.Host, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAPIBody)).Decode(out); err != nil {
		return fmt.Errorf("rabbitmq: management API %s: decoding %s: %w", m.base.Host, path, err)
	}
	return nil
}

// notFound explains a 404 for a queue: the vhost or the queue is missing.
func (m *mgmtClient) notFound(ctx context.Context, vhost, queue string) error {
	var v struct{}
	if err := m.get(ctx, "/api/vhosts/"+vhost, "", &v); errors.Is(err, errNotFound) {
		name, _ := url.PathUnescape(vhost)
		return fmt.Errorf("rabbitmq: vhostName %q: not found", name)
	}
	name, _ := url.PathUnescape(vhost)
	return fmt.Errorf("rabbitmq: queueName %q: %w %q", queue, errQueueMissing, name)
}

// queueInfo is what the management API says of a queue.
type queueInfo struct {
	Messages      float64 `json:"messages"`
	MessagesReady float64 `json:"messages_ready"`
	Stats         struct {
		Publish struct {
			Rate float64 `json:"rate"`
		} `json:"publish_details"`
		DeliverGet struct {
			Rate float64 `json:"rate"`
		} `json:"deliver_get_details"`
	} `json:"message_stats"`
}

func (q queueInfo) publishRate() float64 { return q.Stats.Publish.Rate }
func (q queueInfo) deliverRate() float64 { return q.Stats.DeliverGet.Rate }

// queue reads c's queue, or with useRegex the queues matching it combined
// by c's operation, as KEDA does.
func (m *mgmtClient) queue(ctx context.Context, c Config) (queueInfo, error) {
	_, vhost := c.managementBase()
	var q queueInfo
	if !c.UseRegex {
		err := m.get(ctx, "/api/queues/"+vhost+"/"+url.PathEscape(c.QueueName), "", &q)
		if errors.Is(err, errNotFound) {
			return q, m.notFound(ctx, vhost, c.QueueName)
		}
		return q, err
	}
	var page struct {
		Items     []queueInfo `json:"items"`
		PageCount int         `json:"page_count"`
	}
	query := "page=1&use_regex=true&pagination=false&name=" + url.QueryEscape(c.QueueName) + "&page_size=" + strconv.FormatInt(c.PageSize, 10)
	if err := m.get(ctx, "/api/queues/"+vhost, query, &page); err != nil {
		if errors.Is(err, errNotFound) {
			return q, m.notFound(ctx, vhost, c.QueueName)
		}
		return q, err
	}
	if page.PageCount > 1 {
		return q, fmt.Errorf("rabbitmq: queueName %q: matches more queues than pageSize %d", c.QueueName, c.PageSize)
	}
	return combine(page.Items, c.Operation), nil
}

// combine applies operation (sum, avg, max) to every count and rate of qs.
func combine(qs []queueInfo, operation string) queueInfo {
	var out queueInfo
	if len(qs) == 0 {
		return out
	}
	apply := func(get func(*queueInfo) *float64) {
		acc := get(&out)
		for i := range qs {
			v := *get(&qs[i])
			if operation == "max" {
				*acc = max(*acc, v)
			} else {
				*acc += v
			}
		}
		if operation == "avg" {
			*acc /= float64(len(qs))
		}
	}
	apply(func(q *queueInfo) *float64 { return &q.Messages })
	apply(func(q *queueInfo) *float64 { return &q.MessagesReady })
	apply(func(q *queueInfo) *float64 { return &q.Stats.Publish.Rate })
	apply(func(q *queueInfo) *float64 { return &q.Stats.DeliverGet.Rate })
	if operation == "avg" {
		// KEDA divides the counts as integers.
		out.Messages = float64(int64(out.Messages))
		out.MessagesReady = float64(int64(out.MessagesReady))
	}
	return out
}

// modeValue is the metric value of c's mode for q, KEDA's formulas.
func modeValue(c Config, q queueInfo) float64 {
	messages := q.Messages
	if c.ExcludeUnacknowledged {
		messages = q.MessagesReady
	}
	pub, del := q.publishRate(), q.deliverRate()
	switch c.Mode {
	case ModeMessageRate:
		return pub
	case ModeDeliverGetRate:
		return del
	case ModePublishedToDeliveredRatio:
		switch {
		case pub > 0 && del == 0:
			return c.ActivationValue
		case pub > 0:
			return pub / del
		}
		return 0
	case ModeExpectedQueueConsumptionTime:
		switch {
		case messages == 0:
			return 0
		case del == 0:
			return c.ActivationValue
		}
		return (pub-del)/del + messages/del
	}
	return messages
}

// modeActivity is KEDA's activity of c's modes that look at more than the
// value: MessageRate is also active with messages above activationValue,
// PublishedToDeliveredRatio while something is published and nothing
// delivered, ExpectedQueueConsumptionTime while messages wait and nothing
// is delivered. decided is false for the modes active when value >
// activationValue.
func modeActivity(c Config, q queueInfo, value float64) (active, decided bool) {
	messages := q.Messages
	if c.ExcludeUnacknowledged {
		messages = q.MessagesReady
	}
	pub, del, act := q.publishRate(), q.deliverRate(), c.ActivationValue
	switch c.Mode {
	case ModeMessageRate:
		return value > act || messages > act, true
	case ModePublishedToDeliveredRatio:
		return value > act || pub > 0 && del == 0, true
	case ModeExpectedQueueConsumptionTime:
		return value > act || del == 0 && messages > 0, true
	}
	return false, false
}

// management is an endpoint of protocol http: the management API, read
// every pollingInterval as KEDA reads it. It has no push path.
type management struct {
	s   *Source
	id  string
	api *mgmtClient
}

func newManagement(s *Source, id string, c Config) (*management, error) {
	api, err := newMgmtClient(s, c)
	if err != nil {
		return nil, err
	}
	return &management{s: s, id: id, api: api}, nil
}

// Run reports the push health of every trigger on the endpoint.
func (m *management) Run(ctx context.Context) {
	p := store.Push{Reason: v1alpha1.ReasonNotSupported, Message: "protocol http reads the management API, which pushes nothing (and the gateway has no AMQP address to tap a queue with): " + m.s.pollMessage()}
	if m.s.Deps.PushDisabled(Type) {
		p = store.Push{Reason: v1alpha1.ReasonDisabledByConfig, Message: "push disabled for rabbitmq (--disable-push): " + m.s.pollMessage()}
	}
	m.s.Deps.Scheduler.SetPush(m.id, "", p)
	<-ctx.Done()
}

func (m *management) Close()             { m.api.client.CloseIdleConnections() }
func (m *management) Add(*resource)      {}
func (m *management) Remove(*resource)   {}
func (m *management) readDone(*resource) {}

func (m *management) read(ctx context.Context, r *resource) (float64, error) {
	timeout := r.c.Timeout
	if timeout <= 0 {
		timeout = m.s.opts.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q, err := m.api.queue(ctx, r.c)
	if err != nil {
		return 0, err
	}
	v := modeValue(r.c, q)
	if active, decided := modeActivity(r.c, q, v); decided {
		sources.ReportActive(ctx, active)
	}
	return v, nil
}

// bindings returns the bindings of queue in vhost (escaped) that a shadow
// queue can copy: every one but the default exchange's.
func (m *mgmtClient) bindings(ctx context.Context, vhost, queue string) ([]Binding, error) {
	var list []struct {
		Source          string         `json:"source"`
		RoutingKey      string         `json:"routing_key"`
		DestinationType string         `json:"destination_type"`
		Arguments       map[string]any `json:"arguments"`
	}
	err := m.get(ctx, "/api/queues/"+vhost+"/"+url.PathEscape(queue)+"/bindings", "", &list)
	if errors.Is(err, errNotFound) {
		return nil, m.notFound(ctx, vhost, queue)
	}
	if err != nil {
		return nil, err
	}
	var out []Binding
	for _, b := range list {
		if b.Source == "" || b.DestinationType != "queue" {
			continue
		}
		var args amqp.Table
		if len(b.Arguments) > 0 {
			args = amqp.Table{}
			for k, v := range b.Arguments {
				args[k] = tableValue(v)
			}
		}
		out = append(out, Binding{Exchange: b.Source, RoutingKey: b.RoutingKey, Args: args})
	}
	return out, nil
}

// tableValue turns a JSON value into an AMQP table value (numbers that are
// whole become int64, as the broker stored them).
func tableValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	case map[string]any:
		t := amqp.Table{}
		for k, e := range x {
			t[k] = tableValue(e)
		}
		return t
	case []any:
		for i := range x {
			x[i] = tableValue(x[i])
		}
	}
	return v
}

// scrub removes secret from err's text (nil stays nil).
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "xxxxx"))
}

// pollMessage says how often a trigger without push is read.
func (s *Source) pollMessage() string {
	if s.opts.IdlePollInterval > 0 {
		return "polled every pollingInterval, at most " + s.opts.IdlePollInterval.String() + " (--rabbitmq-idle-poll-interval)"
	}
	return "polled every pollingInterval"
}
