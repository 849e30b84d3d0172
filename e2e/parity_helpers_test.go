package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// holdFor is how long a test watches for something that must NOT happen:
// several HPA sync periods (1 s in the test control plane) and cooldowns.
const holdFor = 6 * time.Second

// patchScaledObject applies a JSON merge patch to ScaledObject ns/name.
func patchScaledObject(t *testing.T, ns, name string, patch any) {
	t.Helper()
	body, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dyn().Resource(resources["ScaledObject"]).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, body, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch ScaledObject %s: %v", name, err)
	}
}

// annotate sets (value) or removes (nil) annotations of ScaledObject ns/name.
func annotate(t *testing.T, ns, name string, annotations map[string]*string) {
	t.Helper()
	patchScaledObject(t, ns, name, map[string]any{"metadata": map[string]any{"annotations": annotations}})
}

func str(s string) *string { return &s }

// getHPA returns HPA ns/name, or nil when there is none.
func getHPA(t *testing.T, ns, name string) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	h, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get HPA %s: %v", name, err)
	}
	return h
}

// waitHPA waits until HPA ns/name exists and ok accepts it, and returns it.
func waitHPA(t *testing.T, ns, name, what string, ok func(*autoscalingv2.HorizontalPodAutoscaler) bool) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	var h *autoscalingv2.HorizontalPodAutoscaler
	eventually(t, shortWait, "HPA "+name+" "+what, func() (bool, error) {
		h = getHPA(t, ns, name)
		if h == nil {
			return false, fmt.Errorf("no HPA %s", name)
		}
		return ok == nil || ok(h), fmt.Errorf("spec %+v, owners %+v", h.Spec, h.OwnerReferences)
	})
	return h
}

// waitNoHPA waits until HPA ns/name is gone.
func waitNoHPA(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, shortWait, "HPA "+name+" to be gone", func() (bool, error) {
		return getHPA(t, ns, name) == nil, fmt.Errorf("HPA %s exists", name)
	})
}

// waitCondition waits until condition typ of ScaledObject ns/name has
// status and reason (any reason when reason is "") and returns it.
func waitCondition(t *testing.T, ns, name string, typ kedav1.ConditionType, status metav1.ConditionStatus, reason string) kedav1.Condition {
	t.Helper()
	var c kedav1.Condition
	eventually(t, shortWait, fmt.Sprintf("%s %s=%s %s", name, typ, status, reason), func() (bool, error) {
		c = condition(t, ns, name, typ)
		return c.Status == status && (reason == "" || c.Reason == reason), fmt.Errorf("%s: %+v", typ, c)
	})
	return c
}

// holdReplicas watches Deployment ns/name for holdFor and fails t if its
// replicas ever differ from want: the bounded watch of something that must
// not happen.
func holdReplicas(t *testing.T, ns, name string, want int32) {
	t.Helper()
	deadline := time.Now().Add(holdFor)
	for time.Now().Before(deadline) {
		if got := replicas(t, ns, name); got != want {
			t.Fatalf("deployment %s went to %d replicas, want it held at %d", name, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEvent waits for an Event on ScaledObject ns/name with reason and a
// message containing text, and returns its message.
func waitEvent(t *testing.T, ns, name, reason, text string) string {
	t.Helper()
	var msg string
	eventually(t, shortWait, fmt.Sprintf("a %s event on %s with %q", reason, name, text), func() (bool, error) {
		list, err := env.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name == name && e.Reason == reason && strings.Contains(e.Message, text) {
				msg = e.Message
				return true, nil
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, fmt.Errorf("events: %v", seen)
	})
	return msg
}

// gatewayGauge reads the sample of metric name with exactly these labels
// (in the exposition's order) from the gateway's /metrics; false when absent.
func gatewayGauge(t *testing.T, name, labels string) (float64, bool) {
	t.Helper()
	return gatewaySample(t, name+"{"+labels+"} ")
}

// gatewaySample returns the value of the first line of the gateway's
// /metrics that starts with prefix (a name, its labels and the space).
func gatewaySample(t *testing.T, prefix string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(gw.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f, true
		}
	}
	return 0, false
}

// waitGauge waits until gatewayGauge reports want.
func waitGauge(t *testing.T, name, labels string, want float64) {
	t.Helper()
	eventually(t, shortWait, fmt.Sprintf("%s{%s} = %v", name, labels, want), func() (bool, error) {
		v, ok := gatewayGauge(t, name, labels)
		return ok && v == want, fmt.Errorf("%v (present %v)", v, ok)
	})
}

// createDeployment creates Deployment ns/name with replicas replicas.
func createDeployment(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, name, replicas), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// scaleDeployment sets the replicas of Deployment ns/name as a user would.
func scaleDeployment(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	if _, err := env.kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func selectPolicy(r *autoscalingv2.HPAScalingRules) autoscalingv2.ScalingPolicySelect {
	if r == nil || r.SelectPolicy == nil {
		return ""
	}
	return *r.SelectPolicy
}

func deref32(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}
