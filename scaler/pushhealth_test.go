package scaler

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
)

func TestPushHealthReasons(t *testing.T) {
	ws := []watched{{index: 0, typ: "webhook"}, {index: 1, typ: "redis"}}
	subscribed := store.Push{Healthy: true, Reason: kedav1.ReasonSubscribed, Message: "subscribed"}
	tracking := store.Push{Healthy: true, Reason: kedav1.ReasonTracking, Message: "server-assisted client tracking on 127.0.0.1:6379"}
	off := store.Push{Reason: kedav1.ReasonNotificationsDisabled, Message: "notifications off"}
	for _, tc := range []struct {
		name   string
		pushes [2]store.Push
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{"all subscribed", [2]store.Push{subscribed, subscribed}, metav1.ConditionTrue, kedav1.ReasonSubscribed, "Every trigger"},
		{"one tracked", [2]store.Push{subscribed, tracking}, metav1.ConditionTrue, kedav1.ReasonTracking, "trigger 1 (redis) through server-assisted client tracking"},
		{"unhealthy wins over tracked", [2]store.Push{off, tracking}, metav1.ConditionFalse, kedav1.ReasonNotificationsDisabled, "trigger 0 (webhook) is polled"},
		{"unknown while one has not said", [2]store.Push{tracking, {}}, metav1.ConditionUnknown, "Connecting", "Waiting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := map[int]store.Entry{0: {Push: tc.pushes[0]}, 1: {Push: tc.pushes[1]}}
			c := pushHealth(ws, entries)
			if c.Status != tc.status || c.Reason != tc.reason || !strings.Contains(c.Message, tc.msg) {
				t.Errorf("pushHealth = %s %s %q; want %s %s containing %q", c.Status, c.Reason, c.Message, tc.status, tc.reason, tc.msg)
			}
		})
	}
}
