// Package admission serves a validating admission webhook for
// keda.sh/v1alpha1 ScaledObjects. It refuses at apply time what the
// controller would otherwise report as Ready=False ScaledObjectCheckFailed:
// the checks of ScaledObject.Validate, the ones KEDA's admission webhook
// makes without looking anything up. Checks that need the cluster (one
// ScaledObject per target, HPA ownership, container requests) stay with
// the controller, which reports them on the object.
//
// Install it with failurePolicy Ignore, as KEDA does: when the gateway is
// down, objects are still admitted and the controller checks them.
package admission

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// ScaledObjectPath is where the webhook is served (KEDA's path).
const ScaledObjectPath = "/validate-keda-sh-v1alpha1-scaledobject"

// maxBody bounds an AdmissionReview (the apiserver limits objects to a few
// MiB; a ScaledObject is far smaller).
const maxBody = 3 << 20

// Handler answers AdmissionReviews of ScaledObjects. It is safe for
// concurrent use.
type Handler struct {
	// Logger receives one line per refused object (never its contents).
	Logger *slog.Logger
}

// ServeHTTP decodes an admission.k8s.io/v1 AdmissionReview and answers it.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "admission: body unreadable or too large", http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, "admission: not an AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	resp := h.review(review.Request)
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
	if out.APIVersion == "" {
		out.APIVersion, out.Kind = admissionv1.SchemeGroupVersion.String(), "AdmissionReview"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// review decides one request: only creates and updates of ScaledObjects
// are checked; anything else is allowed.
func (h Handler) review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allowed := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Kind.Group != kedav1.SchemeGroupVersion.Group || req.Kind.Kind != "ScaledObject" ||
		req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allowed
	}
	var so kedav1.ScaledObject
	if err := json.Unmarshal(req.Object.Raw, &so); err != nil {
		return denied(fmt.Sprintf("ScaledObject cannot be decoded: %v", err))
	}
	if so.DeletionTimestamp != nil {
		return allowed // removing the finalizer of an invalid object must work
	}
	if err := so.Validate(); err != nil {
		if h.Logger != nil {
			h.Logger.Info("ScaledObject refused", "namespace", req.Namespace, "scaledObject", req.Name, "err", err)
		}
		return denied(err.Error())
	}
	return allowed
}

func denied(msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: msg,
	}}
}
