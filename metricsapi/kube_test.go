package metricsapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	// hpaUser is the user the fake kube-apiserver authorizes; everyone else
	// is denied.
	hpaUser = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
	// hpaToken is the bearer token the fake TokenReview maps to hpaUser.
	hpaToken = "hpa-token"
	// adminToken is the credential of the kubeconfig given to the server.
	adminToken = "admin-token"
	// frontProxyName is the aggregator's client certificate CN, as kubeadm
	// names it, and the only allowed requestheader name.
	frontProxyName = "front-proxy-client"
)

// fakeKube is the part of a kube-apiserver that delegated authentication and
// authorization use: the extension-apiserver-authentication ConfigMap (get,
// list, watch), TokenReviews and SubjectAccessReviews. It stands for the
// aggregator too: frontProxy is the client certificate the aggregator
// presents with X-Remote-* headers.
type fakeKube struct {
	kubeconfig string
	frontProxy tls.Certificate
	close      func() // stops the fake and closes its connections

	mu      sync.Mutex
	reviews []authorizationv1.SubjectAccessReviewSpec
	unknown []string // requests the fake does not serve
}

func newFakeKube(t *testing.T) *fakeKube {
	t.Helper()
	_, _, clusterCA := newCA(t, "kubernetes")
	frontProxyCA, frontProxyKey, frontProxyCAPEM := newCA(t, "front-proxy-ca")
	k := &fakeKube{frontProxy: newLeafCert(t, frontProxyCA, frontProxyKey, frontProxyName)}
	// TLS, as client-go sends a kubeconfig's credentials over TLS only.
	srv := httptest.NewTLSServer(k.handler(clusterCA, frontProxyCAPEM))
	k.close = srv.Close
	t.Cleanup(srv.Close)

	k.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: fake
  context:
    cluster: fake
    user: admin
current-context: fake
`, srv.URL, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})), adminToken)
	if err := os.WriteFile(k.kubeconfig, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *fakeKube) handler(clusterCA, frontProxyCA []byte) http.Handler {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "extension-apiserver-authentication", ResourceVersion: "1"},
		Data: map[string]string{
			"client-ca-file":                     string(clusterCA),
			"requestheader-client-ca-file":       string(frontProxyCA),
			"requestheader-allowed-names":        `["` + frontProxyName + `"]`,
			"requestheader-username-headers":     `["X-Remote-User"]`,
			"requestheader-group-headers":        `["X-Remote-Group"]`,
			"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, cm)
	})
	mux.HandleFunc("GET /api/v1/namespaces/kube-system/configmaps", func(w http.ResponseWriter, r *http.Request) {
		if query := r.URL.Query(); query.Get("watch") == "true" {
			// A streaming list (client-go's WatchListClient) wants the
			// object, then a bookmark ending the initial events. Nothing ever
			// changes after that: hold the watch until the client leaves.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			if query.Get("sendInitialEvents") == "true" {
				bookmark := &corev1.ConfigMap{
					TypeMeta: cm.TypeMeta,
					ObjectMeta: metav1.ObjectMeta{
						ResourceVersion: cm.ResourceVersion,
						Annotations:     map[string]string{metav1.InitialEventsAnnotationKey: "true"},
					},
				}
				writeEvent(w, "ADDED", cm)
				writeEvent(w, "BOOKMARK", bookmark)
			}
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		writeJSON(w, &corev1.ConfigMapList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"},
			ListMeta: metav1.ListMeta{ResourceVersion: "1"},
			Items:    []corev1.ConfigMap{*cm},
		})
	})
	mux.HandleFunc("POST /apis/authentication.k8s.io/v1/tokenreviews", func(w http.ResponseWriter, r *http.Request) {
		var review authenticationv1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if review.Spec.Token == hpaToken {
			review.Status = authenticationv1.TokenReviewStatus{
				Authenticated: true,
				User:          authenticationv1.UserInfo{Username: hpaUser, Groups: []string{"system:serviceaccounts"}},
			}
		}
		writeJSON(w, &review)
	})
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/subjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		var review authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		k.mu.Lock()
		k.reviews = append(k.reviews, review.Spec)
		k.mu.Unlock()
		review.Status.Allowed = review.Spec.User == hpaUser
		writeJSON(w, &review)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.unknown = append(k.unknown, r.Method+" "+r.URL.String())
		k.mu.Unlock()
		http.NotFound(w, r)
	})
	// Every client of the server must use the kubeconfig's credentials.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+adminToken {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// reviewed tells whether a SubjectAccessReview asked about user and the
// namespace, verb, group, version and resource of attrs.
func (k *fakeKube) reviewed(user string, attrs authorizationv1.ResourceAttributes) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.reviews {
		got := r.ResourceAttributes
		if r.User == user && got != nil && got.Namespace == attrs.Namespace && got.Verb == attrs.Verb &&
			got.Group == attrs.Group && got.Version == attrs.Version && got.Resource == attrs.Resource {
			return true
		}
	}
	return false
}

// writeEvent writes one watch event.
func writeEvent(w http.ResponseWriter, eventType string, object any) {
	raw, err := json.Marshal(object)
	if err != nil {
		panic(err)
	}
	_ = json.NewEncoder(w).Encode(metav1.WatchEvent{Type: eventType, Object: runtime.RawExtension{Raw: raw}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// newCA returns a self-signed CA certificate and its key.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// newLeafCert returns a certificate for name signed by ca, for client
// authentication or, with ips, for serving.
func newLeafCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, ips ...net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageClientAuth
	if len(ips) > 0 {
		usage = x509.ExtKeyUsageServerAuth
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
