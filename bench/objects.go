package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// createWorkers bounds the concurrent creates of the bench's client.
const createWorkers = 32

// soSpec is what differs between the ScaledObjects of the measurements.
type soSpec struct {
	stream      string
	target      string // targetValue
	activation  string // activationTargetValue; "" for KEDA's default 0
	cooldown    int32  // cooldownPeriod, seconds
	maxReplicas int32
	authRef     string // TriggerAuthentication name; "" for none
	open        bool   // allowUnauthenticated: a stream without authentication
	// redis, when set, makes the trigger KEDA's `type: redis` on a list
	// instead of a webhook stream (stream, target and activation unused).
	redis *redisList
	// kafka, when set, makes the trigger `type: kafka` with this metadata.
	kafka map[string]string
	// nats, when set, makes the trigger KEDA's `type: nats-jetstream`.
	nats *natsConsumer
	// rabbitmq, when set, makes the trigger `type: rabbitmq` with this
	// metadata.
	rabbitmq map[string]string
	// external, when set, makes the trigger of type externalType
	// (external or external-push) with this metadata.
	external     map[string]string
	externalType string
	// postgresql, when set, makes the trigger `type: postgresql` with this
	// metadata.
	postgresql map[string]string
	// etcd, when set, makes the trigger `type: etcd` with this metadata.
	etcd map[string]string
	// pollingInterval in seconds; 0 leaves KEDA's default (30).
	pollingInterval int32
}

// natsConsumer is the metadata of a `type: nats-jetstream` trigger with
// pushscale's natsClientURL.
type natsConsumer struct {
	monitoring, clientURL, stream, consumer string
}

// redisList is the metadata of a `type: redis` trigger.
type redisList struct {
	address    string
	listName   string
	listLength string
}

// idleSpec is a ScaledObject that never activates: the HPA controller sees
// its Deployment at 0 and leaves it alone (scaling disabled), so neither
// the HPA nor the gateway's activator touches anything while events pour in.
func idleSpec(stream, authRef string) soSpec {
	return soSpec{stream: stream, target: "1e12", activation: "1e12", cooldown: 86400, maxReplicas: 1, authRef: authRef}
}

// deployment returns a Deployment at 0 replicas whose Pods never run (the
// control plane has no nodes).
func deployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.invalid/pushscale/bench:1",
				}}},
			},
		},
	}
}

// scaledObject returns a ScaledObject named name scaling the Deployment of
// the same name on one webhook trigger (or one redis trigger, s.redis).
func scaledObject(ns, name string, s soSpec) *kedav1.ScaledObject {
	md := map[string]string{"stream": s.stream, "targetValue": s.target}
	if s.activation != "" {
		md["activationTargetValue"] = s.activation
	}
	if s.open {
		md["allowUnauthenticated"] = "true"
	}
	tr := kedav1.ScaleTrigger{Type: "webhook", Metadata: md}
	if r := s.redis; r != nil {
		tr = kedav1.ScaleTrigger{Type: "redis", Metadata: map[string]string{
			"address": r.address, "listName": r.listName, "listLength": r.listLength,
		}}
	}
	if s.kafka != nil {
		tr = kedav1.ScaleTrigger{Type: "kafka", Metadata: s.kafka}
	}
	if s.rabbitmq != nil {
		tr = kedav1.ScaleTrigger{Type: "rabbitmq", Metadata: s.rabbitmq}
	}
	if s.external != nil {
		tr = kedav1.ScaleTrigger{Type: s.externalType, Metadata: s.external}
	}
	if s.etcd != nil {
		tr = kedav1.ScaleTrigger{Type: "etcd", Metadata: s.etcd}
	}
	if s.postgresql != nil {
		tr = kedav1.ScaleTrigger{Type: "postgresql", Metadata: s.postgresql}
	}
	if n := s.nats; n != nil {
		tr = kedav1.ScaleTrigger{Type: "nats-jetstream", Metadata: map[string]string{
			"natsServerMonitoringEndpoint": n.monitoring, "account": "$G", "stream": n.stream, "consumer": n.consumer,
			"lagThreshold": "1", "natsClientURL": n.clientURL,
		}}
	}
	if s.authRef != "" {
		tr.AuthenticationRef = &kedav1.AuthenticationRef{Name: s.authRef}
	}
	var polling *int32
	if s.pollingInterval > 0 {
		polling = ptr.To(s.pollingInterval)
	}
	return &kedav1.ScaledObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1.SchemeGroupVersion.String(), Kind: "ScaledObject"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kedav1.ScaledObjectSpec{
			ScaleTargetRef:  &kedav1.ScaleTarget{Name: name},
			MinReplicaCount: ptr.To[int32](0),
			MaxReplicaCount: ptr.To(s.maxReplicas),
			CooldownPeriod:  ptr.To(s.cooldown),
			PollingInterval: polling,
			Triggers:        []kedav1.ScaleTrigger{tr},
		},
	}
}

// createDeployments creates one Deployment per name, createWorkers at a time.
func (e *env) createDeployments(ctx context.Context, ns string, names []string) error {
	return forEach(ctx, len(names), func(ctx context.Context, i int) error {
		_, err := e.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, names[i]), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create deployment %s/%s: %w", ns, names[i], err)
		}
		return nil
	})
}

// createScaledObjects creates one ScaledObject per name, with spec(i),
// createWorkers at a time.
func (e *env) createScaledObjects(ctx context.Context, ns string, names []string, spec func(i int) soSpec) error {
	return forEach(ctx, len(names), func(ctx context.Context, i int) error {
		err := e.keda.Post().Namespace(ns).Resource("scaledobjects").
			Body(scaledObject(ns, names[i], spec(i))).Do(ctx).Error()
		if err != nil {
			return fmt.Errorf("create ScaledObject %s/%s: %w", ns, names[i], err)
		}
		return nil
	})
}

// hookAuth is the TriggerAuthentication of the bench's webhook streams.
const hookAuth = "hook"

// ensureHookAuth creates TriggerAuthentication hookAuth (and its Secret)
// holding e.token in ns.
func (e *env) ensureHookAuth(ctx context.Context, ns string) error {
	return e.createTokenAuth(ctx, ns, hookAuth, e.token)
}

// createTokenAuth creates a Secret holding token and a TriggerAuthentication
// name mapping the webhook parameter "token" to it.
func (e *env) createTokenAuth(ctx context.Context, ns, name, token string) error {
	return e.createSecretAuth(ctx, ns, name, "token", token)
}

// createSecretAuth creates a Secret name holding value under key param, and
// a TriggerAuthentication name mapping the trigger parameter param to it
// (secretTargetRef), as KEDA's manifests do.
func (e *env) createSecretAuth(ctx context.Context, ns, name, param, value string) error {
	_, err := e.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		StringData: map[string]string{param: value},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create secret %s/%s: %w", ns, name, err)
	}
	ta := &kedav1.TriggerAuthentication{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1.SchemeGroupVersion.String(), Kind: "TriggerAuthentication"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kedav1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1.AuthTargetRef{
			{Parameter: param, Name: name, Key: param},
		}},
	}
	if err := e.keda.Post().Namespace(ns).Resource("triggerauthentications").Body(ta).Do(ctx).Error(); err != nil {
		return fmt.Errorf("create TriggerAuthentication %s/%s: %w", ns, name, err)
	}
	return nil
}

// settleDeployments waits, at most timeout, until the deployment
// controller has seen every one of the n Deployments of ns
// (status.observedGeneration current), so that its work on them does not
// overlap what is measured next. This harness's kube-controller-manager
// has a client rate limit (controllerManagerQPS), so 1,000 new Deployments
// take it a while. It returns how many were seen and how long it waited;
// not settling in time is not an error (the caller says so), only ctx is.
func (e *env) settleDeployments(ctx context.Context, ns string, n int, timeout time.Duration) (int, time.Duration, error) {
	start := time.Now()
	seen := 0
	for {
		list, err := e.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			seen = 0
			for _, d := range list.Items {
				if d.Status.ObservedGeneration >= d.Generation {
					seen++
				}
			}
			if seen >= n {
				return seen, time.Since(start), nil
			}
		}
		if time.Since(start) >= timeout {
			progress("%d of %d Deployments in %s seen by the deployment controller after %s; going on", seen, n, ns, timeout)
			return seen, time.Since(start), nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return seen, time.Since(start), err
		}
	}
}

// forEach calls fn for 0..n-1, createWorkers at a time, and returns the
// first error (the others are cancelled through ctx).
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(createWorkers)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// names returns prefix-0 … prefix-(n-1).
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}
