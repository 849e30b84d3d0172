package scaler

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestNewJob(t *testing.T) {
	sj := &kedav1.ScaledJob{
		ObjectMeta: metav1.ObjectMeta{Name: "work", Namespace: "ns", UID: "u1", Generation: 3,
			Labels:      map[string]string{"team": "a", "secret-ish": "x"},
			Annotations: map[string]string{kedav1.AnnotationJobExcludedLabels: "secret-ish", "note": "n", lastApplied: "{}"}},
		Spec: kedav1.ScaledJobSpec{JobTargetRef: &batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}}},
	}
	job := newJob(sj)
	if job.GenerateName != "work-" || job.Namespace != "ns" {
		t.Fatalf("name %q namespace %q", job.GenerateName, job.Namespace)
	}
	for k, v := range map[string]string{kedav1.LabelScaledJobName: "work", "app.kubernetes.io/name": "work", "app.kubernetes.io/part-of": "work", "team": "a"} {
		if job.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, job.Labels[k], v)
		}
	}
	if _, ok := job.Labels["secret-ish"]; ok {
		t.Error("excluded label copied")
	}
	if job.Annotations[kedav1.AnnotationScaledJobGeneration] != "3" || job.Annotations["note"] != "n" {
		t.Errorf("annotations %v", job.Annotations)
	}
	if _, ok := job.Annotations[lastApplied]; ok {
		t.Error("last-applied-configuration copied")
	}
	if job.Spec.Template.Labels[kedav1.LabelScaledJobName] != "work" || job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("template %+v", job.Spec.Template)
	}
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.UID != "u1" || ref.Kind != "ScaledJob" || ref.APIVersion != "keda.sh/v1alpha1" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner %+v", ref)
	}
	if sj.Spec.JobTargetRef.Template.Labels != nil {
		t.Error("the ScaledJob's template was changed")
	}
	sj.Spec.JobTargetRef.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if newJob(sj).Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Error("restartPolicy overridden")
	}
}

func TestJobPending(t *testing.T) {
	pod := func(phase corev1.PodPhase, conds ...corev1.PodConditionType) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: phase}}
		for _, c := range conds {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
		}
		return p
	}
	cases := []struct {
		name    string
		pods    []*corev1.Pod
		conds   []string
		pending bool
	}{
		{name: "no pod yet", pending: true},
		{name: "pod pending", pods: []*corev1.Pod{pod(corev1.PodPending)}, pending: true},
		{name: "pod running", pods: []*corev1.Pod{pod(corev1.PodPending), pod(corev1.PodRunning)}},
		{name: "pod succeeded", pods: []*corev1.Pod{pod(corev1.PodSucceeded)}},
		{name: "pod failed is pending", pods: []*corev1.Pod{pod(corev1.PodFailed)}, pending: true},
		{name: "conditions: running without them is pending", pods: []*corev1.Pod{pod(corev1.PodRunning, "PodScheduled")}, conds: []string{"PodScheduled", "Ready"}, pending: true},
		{name: "conditions: all True on one pod", pods: []*corev1.Pod{pod(corev1.PodPending, "Ready", "PodScheduled")}, conds: []string{"PodScheduled", "Ready"}},
		{name: "conditions: split over two pods is pending", pods: []*corev1.Pod{pod(corev1.PodPending, "Ready"), pod(corev1.PodPending, "PodScheduled")}, conds: []string{"PodScheduled", "Ready"}, pending: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := jobPending(tc.pods, tc.conds); got != tc.pending {
				t.Fatalf("jobPending = %v, want %v", got, tc.pending)
			}
		})
	}
}

func TestBeyondHistoryAndOutdated(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	job := func(name string, typ batchv1.JobConditionType, at int, gen string) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
		if gen != "" {
			j.Annotations[kedav1.AnnotationScaledJobGeneration] = gen
		}
		if typ != "" {
			tm := metav1.NewTime(t0.Add(time.Duration(at) * time.Second))
			j.Status.Conditions = []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: tm}}
			if typ == batchv1.JobComplete {
				j.Status.CompletionTime = &tm
			}
		}
		return j
	}
	jobs := []*batchv1.Job{
		job("ok3", batchv1.JobComplete, 3, "2"), job("ok1", batchv1.JobComplete, 1, "2"), job("ok2", batchv1.JobComplete, 2, "1"),
		job("bad2", batchv1.JobFailed, 2, "2"), job("bad1", batchv1.JobFailed, 1, ""), job("run", "", 0, "1"),
	}
	var names []string
	for _, j := range beyondHistory(jobs, 1, 1) {
		names = append(names, j.Name)
	}
	if got := names; len(got) != 3 || got[0] != "ok1" || got[1] != "ok2" || got[2] != "bad1" {
		t.Fatalf("beyondHistory(1, 1) = %v, want [ok1 ok2 bad1]", got)
	}
	if got := beyondHistory(jobs, 100, 100); len(got) != 0 {
		t.Fatalf("beyondHistory(100, 100) = %d jobs", len(got))
	}
	names = nil
	for _, j := range outdated(jobs, 2) {
		names = append(names, j.Name)
	}
	if len(names) != 3 || names[0] != "ok2" || names[1] != "bad1" || names[2] != "run" {
		t.Fatalf("outdated(2) = %v, want [ok2 bad1 run]", names)
	}
}
