// Package admission serves a validating admission webhook for
// keda.sh/v1alpha1 ScaledObjects and ScaledJobs. It refuses at apply time
// what the controller would otherwise report as Ready=False
// ScaledObjectCheckFailed (ScaledJobCheckFailed): the checks of
// ScaledObject.Validate (ScaledJob.Validate), the ones KEDA's admission
// webhook makes without looking anything up. Checks that need the cluster (one
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
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// ScaledObjectPath and ScaledJobPath are where the webhook is served
// (KEDA's paths). The handler checks whichever kind it is sent.
const (
	ScaledObjectPath = "/validate-keda-sh-v1alpha1-scaledobject"
	ScaledJobPath    = "/validate-keda-sh-v1alpha1-scaledjob"
)

// maxBody bounds an AdmissionReview (the apiserver limits objects to a few
// MiB; a ScaledObject is far smaller).
const maxBody = 3 << 20

// Handler answers AdmissionReviews of ScaledObjects and ScaledJobs. It is safe for
// concurrent use.
type Handler struct {
	// Logger receives one line per refused object (never its contents).
	Logger *slog.Logger
	// Reviewed, when set, is called for each create or update that is
	// checked, with the object's kind, namespace and the action ("create",
	// "update"), before the check's outcome is known.
	Reviewed func(kind, namespace, action string)
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
// and ScaledJobs are checked; anything else is allowed.
func (h Handler) review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allowed := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Kind.Group != kedav1.SchemeGroupVersion.Group || req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allowed
	}
	var obj interface {
		metav1.Object
		Validate() error
	}
	switch req.Kind.Kind {
	case kedav1.KindScaledObject:
		obj = &kedav1.ScaledObject{}
	case kedav1.KindScaledJob:
		obj = &kedav1.ScaledJob{}
	default:
		return allowed
	}
	if err := json.Unmarshal(req.Object.Raw, obj); err != nil {
		return denied(fmt.Sprintf("%s cannot be decoded: %v", req.Kind.Kind, err))
	}
	if obj.GetDeletionTimestamp() != nil {
		return allowed // removing the finalizer of an invalid object must work
	}
	if h.Reviewed != nil {
		h.Reviewed(req.Kind.Kind, req.Namespace, strings.ToLower(string(req.Operation)))
	}
	if err := obj.Validate(); err != nil {
		if h.Logger != nil {
			h.Logger.Info(req.Kind.Kind+" refused", "namespace", req.Namespace, "name", req.Name, "err", err)
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
