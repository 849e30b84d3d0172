package scaler

import (
	"maps"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// newJob returns the Job a ScaledJob creates, as KEDA builds it: named
// <scaledjob>-<random>, labelled app.kubernetes.io/{name,part-of,managed-by}
// and scaledjob.keda.sh/name plus the ScaledJob's own labels (but those
// listed in scaledjob.keda.sh/job-excluded-labels), annotated with the
// ScaledJob's generation and its own annotations, its spec jobTargetRef
// (its Pods labelled scaledjob.keda.sh/name too, restartPolicy OnFailure
// when unset), controlled by the ScaledJob.
func newJob(sj *kedav1.ScaledJob) *batchv1.Job {
	labels := map[string]string{
		"app.kubernetes.io/name":       sj.Name,
		"app.kubernetes.io/part-of":    sj.Name,
		"app.kubernetes.io/managed-by": "pushscale",
		kedav1.LabelScaledJobName:      sj.Name,
	}
	excluded := map[string]bool{}
	for l := range strings.SplitSeq(sj.Annotations[kedav1.AnnotationJobExcludedLabels], ",") {
		excluded[strings.TrimSpace(l)] = true
	}
	for k, v := range sj.Labels {
		if !excluded[k] {
			labels[k] = v
		}
	}
	annotations := map[string]string{kedav1.AnnotationScaledJobGeneration: strconv.FormatInt(sj.Generation, 10)}
	maps.Copy(annotations, sj.Annotations)
	delete(annotations, lastApplied)

	spec := sj.Spec.JobTargetRef.DeepCopy()
	if spec.Template.Labels == nil {
		spec.Template.Labels = map[string]string{}
	}
	spec.Template.Labels[kedav1.LabelScaledJobName] = sj.Name
	if spec.Template.Spec.RestartPolicy == "" {
		// The API's default (Always) is not allowed for Jobs.
		spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	}
	yes := true
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: sj.Name + "-",
			Namespace:    sj.Namespace,
			Labels:       labels,
			Annotations:  annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: kedav1.SchemeGroupVersion.String(), Kind: kedav1.KindScaledJob,
				Name: sj.Name, UID: sj.UID, Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: *spec,
	}
}

// jobFinished returns the Job's Complete or Failed condition type when one
// is True, else "".
func jobFinishedAs(job *batchv1.Job) batchv1.JobConditionType {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

func jobFinished(job *batchv1.Job) bool { return jobFinishedAs(job) != "" }

// jobPending reports whether a running Job is pending, as KEDA counts it:
// without pendingPodConditions, none of its Pods is Running or Succeeded;
// with them, none of its Pods has every listed condition True.
func jobPending(pods []*corev1.Pod, conditions []string) bool {
	for _, p := range pods {
		if len(conditions) == 0 {
			if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
				return false
			}
			continue
		}
		met := 0
		for _, want := range conditions {
			for _, pc := range p.Status.Conditions {
				if string(pc.Type) == want && pc.Status == corev1.ConditionTrue {
					met++
					break
				}
			}
		}
		if met == len(conditions) {
			return false
		}
	}
	return true
}

// finishedAt is when a finished Job finished: its completionTime, else
// its Complete or Failed condition's transition, else its creation.
func finishedAt(job *batchv1.Job) metav1.Time {
	if job.Status.CompletionTime != nil {
		return *job.Status.CompletionTime
	}
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime
		}
	}
	return job.CreationTimestamp
}

// beyondHistory returns the finished Jobs to delete: the oldest succeeded
// ones beyond successful, the oldest failed ones beyond failed (KEDA's
// history limits, applied each loop).
func beyondHistory(jobs []*batchv1.Job, successful, failed int32) []*batchv1.Job {
	var done, bad []*batchv1.Job
	for _, job := range jobs {
		switch jobFinishedAs(job) {
		case batchv1.JobComplete:
			done = append(done, job)
		case batchv1.JobFailed:
			bad = append(bad, job)
		}
	}
	oldest := func(list []*batchv1.Job, keep int32) []*batchv1.Job {
		if len(list) <= int(keep) {
			return nil
		}
		sort.SliceStable(list, func(a, b int) bool {
			ta, tb := finishedAt(list[a]), finishedAt(list[b])
			return ta.Before(&tb) || ta.Equal(&tb) && list[a].Name < list[b].Name
		})
		return list[:len(list)-int(keep)]
	}
	return append(oldest(done, successful), oldest(bad, failed)...)
}

// outdated returns the Jobs a default rollout deletes: those made from
// another generation of the ScaledJob (or without the annotation).
func outdated(jobs []*batchv1.Job, generation int64) []*batchv1.Job {
	gen := strconv.FormatInt(generation, 10)
	var out []*batchv1.Job
	for _, job := range jobs {
		if g, ok := job.Annotations[kedav1.AnnotationScaledJobGeneration]; !ok || g != gen {
			out = append(out, job)
		}
	}
	return out
}
