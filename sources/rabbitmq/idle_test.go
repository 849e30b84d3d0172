package rabbitmq

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

func churn(t *testing.T) (declared, channels int64) {
	t.Helper()
	var o struct {
		Churn struct {
			QueueDeclared  int64 `json:"queue_declared"`
			ChannelCreated int64 `json:"channel_created"`
		} `json:"churn_rates"`
	}
	body, err := srv.API("GET", "/api/overview", nil)
	if err == nil {
		err = json.Unmarshal(body, &o)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.Churn.QueueDeclared, o.Churn.ChannelCreated
}

// TestIdleCostsNothing: idle triggers on shadow queues make no request to
// the broker.
func TestIdleCostsNothing(t *testing.T) {
	needBroker(t)
	e := newEnv(t, false, Options{})
	for _, q := range []string{"idle-1", "idle-2", "idle-3"} {
		declare(t, srv, q, "idle-ex", q)
		k := key(q)
		e.Watch(trigger(k, srv, q, time.Second, nil))
		e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscribed)
	}
	waitShadowConsumers(t, "idle-ex", 3)
	// The management API's counters lag behind the broker: wait until they
	// stop moving with the setup's declares.
	d0, c0 := churn(t)
	for deadline := time.Now().Add(30 * time.Second); ; {
		time.Sleep(2 * time.Second)
		d, c := churn(t)
		if d == d0 && c == c0 && d > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker's counters still move: %d queue.declare, %d channel.open", d, c)
		}
		d0, c0 = d, c
	}
	n0 := e.Sink.Len()
	time.Sleep(5 * time.Second)
	if calls := e.Sink.Calls()[n0:]; len(calls) > 0 {
		t.Errorf("sink calls while idle: %v", calls)
	}
	d1, c1 := churn(t)
	if d1 != d0 || c1 != c0 {
		t.Errorf("while idle: %d queue.declare, %d channel.open (%d→%d, %d→%d)", d1-d0, c1-c0, d0, d1, c0, c1)
	}
}
