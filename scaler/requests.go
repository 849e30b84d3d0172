package scaler

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// checkResourceRequests is KEDA's admission check for cpu and memory
// triggers on a Deployment or StatefulSet: every container the trigger
// measures (the one metadata containerName names, else all) must request
// the resource, or limit it (a limit is the request when none is set), or
// get a default from a LimitRange of the namespace; utilization is a share
// of the request, so without one the HPA cannot compute it. Other kinds
// are not checked, as in KEDA. The error is KEDA's message.
func (c *Controller) checkResourceRequests(ctx context.Context, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, template podTemplateFunc) error {
	if gvkr.Group != "apps" || gvkr.Kind != "Deployment" && gvkr.Kind != "StatefulSet" {
		return nil
	}
	var triggers []kedav1.ScaleTrigger
	for _, tr := range so.Spec.Triggers {
		if isResourceTrigger(tr.Type) {
			triggers = append(triggers, tr)
		}
	}
	if len(triggers) == 0 {
		return nil
	}
	tmpl, err := template()
	if errors.Is(err, errTargetNotFound) {
		return nil // reading its replicas says so; a target created later is checked on the next reconcile
	}
	if err != nil || tmpl == nil {
		return err
	}
	var defaults map[corev1.ResourceName]bool // from LimitRanges, listed once when needed
	for _, tr := range triggers {
		res := corev1.ResourceName(tr.Type)
		only := tr.Metadata["containerName"]
		for _, ctr := range tmpl.Spec.Containers {
			if only != "" && ctr.Name != only || declares(ctr.Resources, res) {
				continue
			}
			if defaults == nil {
				if defaults, err = c.limitRangeDefaults(ctx, so.Namespace); err != nil {
					return err
				}
			}
			if !defaults[res] {
				return fmt.Errorf("the scaledobject has a %s trigger but the container %s doesn't have the %s request defined", tr.Type, ctr.Name, tr.Type)
			}
		}
	}
	return nil
}

// declares reports whether r requests or limits res (non-zero).
func declares(r corev1.ResourceRequirements, res corev1.ResourceName) bool {
	for _, l := range []corev1.ResourceList{r.Requests, r.Limits} {
		if q, ok := l[res]; ok && !q.IsZero() {
			return true
		}
	}
	return false
}

// limitRangeDefaults returns the resources that LimitRanges of ns give
// containers a default request or limit for.
func (c *Controller) limitRangeDefaults(ctx context.Context, ns string) (map[corev1.ResourceName]bool, error) {
	list, err := c.kube.CoreV1().LimitRanges(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list LimitRanges of %s for default resource requests: %w", ns, err)
	}
	out := map[corev1.ResourceName]bool{}
	for _, lr := range list.Items {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			for _, l := range []corev1.ResourceList{item.Default, item.DefaultRequest} {
				for name, q := range l {
					if !q.IsZero() {
						out[name] = true
					}
				}
			}
		}
	}
	return out, nil
}
