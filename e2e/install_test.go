package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/e2e/kubelet"
)

// The install tests apply what a user applies (the kustomize bases, the
// overlays, the chart's renders) to a control plane of their own: the
// APIService they install would clash with the shared one.

const installNamespace = "pushscale-system"

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// installCluster is a control plane of one test, with the kubelet stand-in.
type installCluster struct {
	cp      *controlplane.ControlPlane
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	kubelet *kubelet.StandIn
}

func newInstallCluster(t *testing.T) *installCluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := controlplane.Start(ctx, controlplane.Options{Logf: t.Logf})
	if err != nil {
		cancel()
		t.Fatalf("a control plane of the test's own: %v", err)
	}
	c := &installCluster{cp: cp, kube: kubernetes.NewForConfigOrDie(cp.RESTConfig()), dyn: dynamic.NewForConfigOrDie(cp.RESTConfig())}
	c.kubelet = kubelet.New(c.kube)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.kubelet.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			cp.Logs(os.Stderr, 30)
		}
		cp.Stop()
	})
	if err := c.kubelet.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// kubectl runs the control plane's kubectl with stdin.
func (c *installCluster) kubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(c.cp.Binaries.Kubectl, append([]string{"--kubeconfig", c.cp.Kubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kustomize renders a kustomization directory as the user's kubectl does.
func (c *installCluster) kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return decodeObjects(t, []byte(c.kubectl(t, nil, "kustomize", dir)))
}

// decodeObjects splits a multi-document YAML stream into objects.
func decodeObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("decode: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// encodeObjects writes objects as one multi-document YAML stream.
func encodeObjects(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes()
}

// applyServerSide applies objs with server-side apply (server-side
// validation: unknown or malformed fields are errors).
func (c *installCluster) applyServerSide(t *testing.T, objs []*unstructured.Unstructured, dryRun bool) string {
	t.Helper()
	args := []string{"apply", "--server-side", "--force-conflicts", "--validate=strict", "-f", "-"}
	if dryRun {
		args = append(args, "--dry-run=server")
	}
	return c.kubectl(t, encodeObjects(t, objs), args...)
}

// pointAtLoopback makes the rendered Services the apiserver calls reach a
// gateway on this host: with no kubelet, a Service has no endpoints, so
// each becomes an ExternalName Service for localhost on the gateway's port
// (ExternalName has no port mapping: the port is the gateway's), and the
// APIService and webhook configuration name that port.
func pointAtLoopback(t *testing.T, objs []*unstructured.Unstructured, metricsAPIPort, admissionPort int) {
	t.Helper()
	ports := map[string]int{"pushscale-metrics-api": metricsAPIPort, "pushscale-admission": admissionPort}
	seen := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "Service":
			port, ok := ports[o.GetName()]
			if !ok {
				continue
			}
			seen++
			must(t, unstructured.SetNestedField(o.Object, "ExternalName", "spec", "type"))
			must(t, unstructured.SetNestedField(o.Object, "localhost", "spec", "externalName"))
			unstructured.RemoveNestedField(o.Object, "spec", "selector")
			must(t, unstructured.SetNestedSlice(o.Object, []any{map[string]any{"name": "https", "port": int64(port), "targetPort": int64(port)}}, "spec", "ports"))
		case "APIService":
			seen++
			must(t, unstructured.SetNestedField(o.Object, int64(metricsAPIPort), "spec", "service", "port"))
		case "ValidatingWebhookConfiguration":
			seen++
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			for _, h := range hooks {
				must(t, unstructured.SetNestedField(h.(map[string]any), int64(admissionPort), "clientConfig", "service", "port"))
			}
			must(t, unstructured.SetNestedSlice(o.Object, hooks, "webhooks"))
		}
	}
	if seen != 4 {
		t.Fatalf("the render has %d of the 2 Services, the APIService and the webhook configuration the apiserver calls", seen)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serviceAccountKubeconfig writes a kubeconfig holding a token of the
// manifests' ServiceAccount (TokenRequest), so the gateway runs with only
// the identity and RBAC the install gives it.
func (c *installCluster) serviceAccountKubeconfig(t *testing.T, ns, name string) string {
	t.Helper()
	tr, err := c.kube.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	admin := c.cp.RESTConfig()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["install"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["install"] = &clientcmdapi.Context{Cluster: "install", AuthInfo: name}
	cfg.CurrentContext = "install"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// installedGateway is the gateway binary (built as the Dockerfile builds
// it) run with the Deployment's own arguments and environment, the
// addresses moved to loopback ports, and the manifests' ServiceAccount as
// its only identity.
type installedGateway struct {
	*gatewayProcess
	admissionPort int
}

// startInstalledGateway runs the binary with container's args and env:
// each listen address (":8080" and the like) becomes 127.0.0.1 with the
// port of ports (webhook, metrics, metrics API, admission), in that
// order), and extra flags follow.
func startInstalledGateway(t *testing.T, binary string, container corev1.Container, ports []int, extra ...string) *installedGateway {
	t.Helper()
	addrs := map[string]int{"--webhook-addr": ports[0], "--metrics-addr": ports[1], "--metrics-api-addr": ports[2], "--admission-addr": ports[3]}
	var args []string
	for _, a := range container.Args {
		name, _, _ := strings.Cut(a, "=")
		if port, ok := addrs[name]; ok {
			a = fmt.Sprintf("%s=127.0.0.1:%d", name, port)
			delete(addrs, name)
		}
		args = append(args, a)
	}
	if len(addrs) != 0 {
		t.Fatalf("the Deployment does not set %v", addrs)
	}
	args = append(args, extra...)
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range container.Env {
		switch {
		case e.Value != "":
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, e.Name+"="+installNamespace)
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env = append(env, e.Name+"=pushscale-install-test")
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			env = append(env, e.Name+"=127.0.0.1") // its listeners are moved to loopback
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			limit := container.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
			env = append(env, fmt.Sprintf("%s=%d", e.Name, limit.Value()))
		default:
			t.Fatalf("env %s: a source this test does not resolve", e.Name)
		}
	}
	return &installedGateway{
		gatewayProcess: startGatewayProcess(t, "gateway", binary, args, env, ports[0], ports[1], ports[2]),
		admissionPort:  ports[3],
	}
}

// servedCertificate returns the leaf certificate served on 127.0.0.1:port.
func servedCertificate(port int) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true}) // #nosec G402 -- only reads the served certificate
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func parseCertificate(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block in the certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apiServiceAvailable reports the Available condition of the APIService.
func (c *installCluster) apiServiceAvailable(ctx context.Context, name string) (bool, string, error) {
	u, err := c.dyn.Resource(apiServiceGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, cond := range conds {
		m := cond.(map[string]any)
		if m["type"] == "Available" {
			return m["status"] == "True", fmt.Sprintf("%v: %v", m["reason"], m["message"]), nil
		}
	}
	return false, "no Available condition", nil
}

// podSecurityAdmits creates a Pod with spec in ns as a server-side dry
// run: the namespace's Pod Security admission decides.
func (c *installCluster) podSecurityAdmits(ctx context.Context, ns string, spec corev1.PodSpec) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "pod-security-", Namespace: ns}, Spec: spec}
	_, err := c.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return err
}
