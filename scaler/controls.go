package scaler

import (
	"fmt"
	"strconv"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// controls are the annotations of a ScaledObject that steer its scaling
// (keda.md 1.3).
type controls struct {
	// paused: autoscaling.keda.sh/paused (any value not parsing as false)
	// or paused-replicas: no scaling, no HPA, replicas frozen.
	paused bool
	// pausedReplicas: autoscaling.keda.sh/paused-replicas; the target is
	// scaled to it once, then frozen.
	pausedReplicas *int32
	// pauseScaleIn, pauseScaleOut: paused-scale-in and paused-scale-out.
	pauseScaleIn, pauseScaleOut bool
	// forceActivation: force-activation.
	forceActivation bool
}

// anyPause reports whether any of the four pause annotations is in effect:
// the Paused condition is then True.
func (c controls) anyPause() bool {
	return c.paused || c.pauseScaleIn || c.pauseScaleOut
}

// parseControls reads the annotations. paused-replicas must be a whole
// number of at least 0; it pauses whatever autoscaling.keda.sh/paused
// says, as in KEDA.
func parseControls(ann map[string]string) (controls, error) {
	c := controls{
		paused:          kedav1.AnnotationTrue(ann, kedav1.AnnotationPaused),
		pauseScaleIn:    kedav1.AnnotationTrue(ann, kedav1.AnnotationPausedScaleIn),
		pauseScaleOut:   kedav1.AnnotationTrue(ann, kedav1.AnnotationPausedScaleOut),
		forceActivation: kedav1.AnnotationTrue(ann, kedav1.AnnotationForceActivation),
	}
	if v, ok := ann[kedav1.AnnotationPausedReplicas]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return controls{}, fmt.Errorf("annotation %s %q: must be a whole number of replicas, 0 or more", kedav1.AnnotationPausedReplicas, v)
		}
		c.paused, c.pausedReplicas = true, ptr(int32(n))
	}
	return c, nil
}
