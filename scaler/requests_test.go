package scaler

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestCheckResourceRequests: KEDA's check that the containers a cpu or
// memory trigger measures declare the resource, with its message.
func TestCheckResourceRequests(t *testing.T) {
	ctr := func(name string, req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	cpu := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	mem := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	limitRange := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "defaults"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, DefaultRequest: mem}}}}
	gvkr := kedav1.GroupVersionKindResource{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments"}
	for _, tc := range []struct {
		name       string
		containers []corev1.Container
		triggers   []kedav1.ScaleTrigger
		objs       []runtime.Object
		gvkr       kedav1.GroupVersionKindResource
		want       string // "" for no error
	}{
		{name: "requests declared", containers: []corev1.Container{ctr("app", cpu, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "cpu"}}},
		{name: "a limit counts", containers: []corev1.Container{ctr("app", nil, cpu)},
			triggers: []kedav1.ScaleTrigger{{Type: "cpu"}}},
		{name: "a container without the request", containers: []corev1.Container{ctr("app", mem, nil), ctr("sidecar", nil, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "memory"}},
			want:     "the scaledobject has a memory trigger but the container sidecar doesn't have the memory request defined"},
		{name: "containerName checks only that container", containers: []corev1.Container{ctr("app", cpu, nil), ctr("sidecar", nil, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "cpu", Metadata: map[string]string{"containerName": "app"}}}},
		{name: "LimitRange default", containers: []corev1.Container{ctr("app", nil, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "memory"}}, objs: []runtime.Object{limitRange}},
		{name: "LimitRange default of another resource", containers: []corev1.Container{ctr("app", nil, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "cpu"}}, objs: []runtime.Object{limitRange},
			want: "the scaledobject has a cpu trigger but the container app doesn't have the cpu request defined"},
		{name: "other kinds are not checked", containers: []corev1.Container{ctr("app", nil, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "cpu"}}, gvkr: kedav1.GroupVersionKindResource{Group: "example.com", Version: "v1", Kind: "Thing", Resource: "things"}},
		{name: "no cpu or memory trigger", containers: []corev1.Container{ctr("app", nil, nil)},
			triggers: []kedav1.ScaleTrigger{{Type: "webhook"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
				Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: tc.containers}}}}
			scheme := runtime.NewScheme()
			if err := appsv1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			c := &Controller{dyn: dynamicfake.NewSimpleDynamicClient(scheme, dep), kube: kubefake.NewClientset(tc.objs...)}
			so := &kedav1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "so"},
				Spec: kedav1.ScaledObjectSpec{ScaleTargetRef: &kedav1.ScaleTarget{Name: "web"}, Triggers: tc.triggers}}
			g := gvkr
			if tc.gvkr.Kind != "" {
				g = tc.gvkr
			}
			err := c.checkResourceRequests(context.Background(), so, g, c.podTemplate(context.Background(), so, g))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPodTemplateReadOnce: one reconcile's checks share one read of the
// scale target.
func TestPodTemplateReadOnce(t *testing.T) {
	dep := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}}}
	scheme := runtime.NewScheme()
	if err := appsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dyn := dynamicfake.NewSimpleDynamicClient(scheme, dep)
	c := &Controller{dyn: dyn}
	so := &kedav1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "so"},
		Spec: kedav1.ScaledObjectSpec{ScaleTargetRef: &kedav1.ScaleTarget{Name: "web"}}}
	template := c.podTemplate(context.Background(), so, kedav1.GroupVersionKindResource{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments"})
	for range 3 {
		tmpl, err := template()
		if err != nil || tmpl == nil || tmpl.Spec.Containers[0].Name != "app" {
			t.Fatalf("template %+v, %v", tmpl, err)
		}
	}
	if n := len(dyn.Actions()); n != 1 {
		t.Fatalf("%d reads of the scale target, want 1", n)
	}
}
