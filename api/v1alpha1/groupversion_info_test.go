package v1alpha1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

func TestAddToScheme(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{
		"ScaledObject", "ScaledObjectList", "ScaledJob", "ScaledJobList",
		"TriggerAuthentication", "TriggerAuthenticationList",
		"ClusterTriggerAuthentication", "ClusterTriggerAuthenticationList",
	} {
		t.Run(kind, func(t *testing.T) {
			gvk := v1alpha1.SchemeGroupVersion.WithKind(kind)
			if !scheme.Recognizes(gvk) {
				t.Fatalf("%v not registered", gvk)
			}
		})
	}
	expect(t, "group version", v1alpha1.SchemeGroupVersion.String(), "keda.sh/v1alpha1")
	expect(t, "Resource", v1alpha1.Resource("scaledobjects").String(), "scaledobjects.keda.sh")
	expect(t, "Kind", v1alpha1.Kind("ScaledJob").String(), "ScaledJob.keda.sh")
}

func TestDeepCopyIsIndependent(t *testing.T) {
	so := &v1alpha1.ScaledObject{Spec: v1alpha1.ScaledObjectSpec{
		MinReplicaCount: ptr.To[int32](1),
		Triggers:        []v1alpha1.ScaleTrigger{{Type: "redis", Metadata: map[string]string{"listName": "a"}}},
	}}
	so.Status.Conditions = v1alpha1.InitConditions()
	cp := so.DeepCopyObject().(*v1alpha1.ScaledObject)
	*cp.Spec.MinReplicaCount = 5
	cp.Spec.Triggers[0].Metadata["listName"] = "b"
	cp.Status.Conditions[0].Reason = "changed"
	expect(t, "minReplicaCount", *so.Spec.MinReplicaCount, int32(1))
	expect(t, "metadata", so.Spec.Triggers[0].Metadata["listName"], "a")
	expect(t, "condition", so.Status.Conditions[0].Reason, "")
}
